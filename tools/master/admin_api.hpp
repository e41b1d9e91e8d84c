// ember-master's admin API: HTTP on the master's `webport` (127.0.0.1 unless the config says
// otherwise), every request carrying `Authorization: Bearer <token>` from the config.
//
//   GET  /status                       every server: its own status (over its link) + process
//   POST /reload[?server=NAME][&data=1] reload logic (or game data) on one server or all
//   POST /stop[?server=NAME]            stop one server, or the whole cluster in order
//   POST /drain?server=NAME[&stop=1]    drain a game server (its players move to the others of
//                                      its type), then optionally stop it; its status's "drain"
//                                      says "draining", then "drained"
//   POST /restart?server=NAME           stop the server and start it again (a new build of its
//                                      program, for a rolling upgrade: tools/rolling-upgrade.sh)
//   GET  /players?user=ID              which linked servers hold the user's client session or
//                                      own the player
//   POST /kick?user=ID[&server=NAME]    ends the user's client session (body: the reason, text)
//   POST /log-level?level=L[&server=NAME] sets the log threshold (debug, info, warn, error) of
//                                      one server or all, at once, until a restart
//   POST /ban?user=ID[&minutes=N][&server=NAME] bans the account (body: the reason, text) for
//                                      N minutes (none or 0: until unbanned) through the first
//                                      linked server that hosts the accounts module (or NAME)
//   GET  /metrics                      the master's own Prometheus metrics, unauthenticated
//                                      (as scrapers expect; it tells no secret and changes nothing)
//   GET  /, /console/NAME              the web console's files (console/, embedded), also
//                                      unauthenticated: the page holds no secret and signs in
//                                      against the endpoints above
//
// Answers are JSON (but /metrics and the console); errors are {"error": "..."} with 400, 401,
// 404 or 502. HTTP is parsed by Debian's libhttp-parser (ember/detail/http.hpp); one request per
// connection. Actions (POSTs) and refused tokens are logged — method, path and query, status,
// peer — never a header, so the token never reaches the log.
#pragma once

#include <charconv>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <sodium.h>

#include "ember/app/admin.hpp"
#include "ember/cluster/root.hpp"
#include "ember/codec/json_writer.hpp"
#include "ember/codec/text.hpp"
#include "ember/detail/http.hpp"
#include "ember/detail/prometheus.hpp"
#include "ember/log.hpp"
#include "ember/spawn.hpp"
#include "console_assets.hpp"

namespace ember::master {

using detail::http_request;
using detail::parse_http;
using detail::query_value;

/// The admin API over the master's root of server links.
class admin_api {
 public:
  /// Extra facts the supervisor knows about a server's process (a JSON object, or "").
  using process_info_fn = std::function<std::string(const std::string& name)>;
  /// Stops one server, or all of them in order when `name` is empty.
  using stop_fn = std::function<void(const std::string& name)>;
  /// Restarts one server (false: no such process of the master's).
  using restart_fn = std::function<bool(const std::string& name)>;
  /// Writes the master's metric families for `GET /metrics`.
  using metrics_fn = std::function<void(detail::prometheus_writer&)>;

  admin_api(asio::any_io_executor ex, cluster::root& servers, std::string host, std::uint16_t port,
            std::string token, std::vector<std::string> names, process_info_fn info, stop_fn stop)
      : ex_(ex), servers_(servers), acceptor_(ex), token_(std::move(token)),
        names_(std::move(names)), info_(std::move(info)), stop_(std::move(stop)) {
    asio::ip::tcp::endpoint ep(asio::ip::make_address(host), port);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    ember::spawn(ex_, accept_loop(), "admin API accept loop");
  }
  ~admin_api() {
    std::error_code ignored;
    acceptor_.close(ignored);
  }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

  /// Serves `GET /metrics` with what `f` writes (404 until set).
  void set_metrics(metrics_fn f) { metrics_ = std::move(f); }
  /// Serves `POST /restart` with `f` (404 until set).
  void set_restart(restart_fn f) { restart_ = std::move(f); }

 private:
  // Not an aggregate: g++ 12 destroys aggregate temporaries in co_await / co_return
  // expressions twice.
  struct answer {
    answer(int s, std::string b, std::string_view type = "application/json",
           std::string_view extra = api_headers)
        : status(s), body(std::move(b)), content_type(type), headers(extra) {}
    int status;
    std::string body;
    std::string_view content_type;
    std::string_view headers;  ///< extra header lines, each ending in CRLF
  };

  // JSON answers are never cached (they carry the cluster's state); the console's page may
  // run no script but its own, talk to no other origin, and not be framed.
  static constexpr std::string_view api_headers =
      "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n";
  static constexpr std::string_view console_headers =
      "Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n"
      "Referrer-Policy: no-referrer\r\n"
      "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "
      "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
      "frame-ancestors 'none'\r\n";

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::experimental::as_tuple(asio::use_awaitable));
      if (ec == asio::error::operation_aborted) co_return;
      if (ec) continue;
      ember::spawn(ex_, serve(std::move(socket)), "admin API request");
    }
  }

  asio::awaitable<void> serve(asio::ip::tcp::socket socket) {
    std::string text;
    http_request req;
    std::string error;
    char chunk[4096];
    asio::steady_timer deadline(ex_, std::chrono::seconds(10));
    deadline.async_wait([&socket](std::error_code ec) {
      if (!ec) socket.close();
    });
    for (;;) {
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(chunk),
                                                     asio::experimental::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      text.append(chunk, n);
      if (text.size() > 64 * 1024) {
        error = "request too large";
        break;
      }
      req = {};
      if (parse_http(text, req, error)) break;
    }
    answer a(400, error_json(error));
    if (error.empty()) a = co_await route(req);
    deadline.cancel();
    log_access(socket, req, a.status);
    auto out = detail::http_response(a.status, a.content_type, a.body);
    out.insert(out.find("\r\n\r\n") + 2, a.headers);
    co_await asio::async_write(socket, asio::buffer(out), asio::experimental::as_tuple(asio::use_awaitable));
    std::error_code ignored;
    socket.shutdown(asio::socket_base::shutdown_both, ignored);
  }

  static std::string error_json(std::string_view message) {
    buffer out;
    codec::json_writer w(out);
    w.begin_object();
    w.key("error"), w.value_string(message);
    w.end_object();
    return std::string(reinterpret_cast<const char*>(out.data()), out.size());
  }

  // An audit line for every action and every refused token; the GETs the console polls
  // with are not logged (one every 1.5 s per open page). The request line is logged, never
  // a header: the token travels in a header only.
  void log_access(const asio::ip::tcp::socket& socket, const http_request& req, int status) const {
    if (req.method == "GET" && status != 401) return;
    std::error_code ec;
    const auto peer = socket.remote_endpoint(ec);
    if (req.method.empty()) {
      log::warn("admin API: a malformed request from {}: {}", ec ? std::string("?") : peer.address().to_string(), status);
      return;
    }
    const auto target = req.path + (req.query.empty() ? "" : "?" + req.query);
    if (status == 401)
      log::warn("admin API: {} {} from {} refused: bad or missing token", req.method, target,
                ec ? std::string("?") : peer.address().to_string());
    else
      log::info("admin API: {} {} from {}: {}", req.method, target,
                ec ? std::string("?") : peer.address().to_string(), status);
  }

  /// Compares in constant time (of the token's length too: both sides are hashed first).
  bool authorized(const http_request& req) const {
    constexpr std::string_view scheme = "Bearer ";
    const auto h = req.header("authorization");
    if (!h.starts_with(scheme)) return false;
    const auto given = h.substr(scheme.size());
    unsigned char a[crypto_generichash_BYTES], b[crypto_generichash_BYTES];
    crypto_generichash(a, sizeof a, reinterpret_cast<const unsigned char*>(given.data()), given.size(), nullptr, 0);
    crypto_generichash(b, sizeof b, reinterpret_cast<const unsigned char*>(token_.data()), token_.size(), nullptr, 0);
    return sodium_memcmp(a, b, sizeof a) == 0;
  }

  /// The console's file for `path`, or null: `/`, `/console` and `/console/` are its page.
  static const console::asset* console_file(std::string_view path) {
    if (path == "/" || path == "/console" || path == "/console/") path = "/console/index.html";
    if (!path.starts_with("/console/")) return nullptr;
    path.remove_prefix(9);
    for (const auto& a : console::assets)
      if (a.name == path) return &a;
    return nullptr;
  }

  asio::awaitable<answer> route(const http_request& req) {
    if (req.method == "GET" && req.path == "/metrics" && metrics_) {
      std::string text;
      detail::prometheus_writer w(text);
      metrics_(w);
      co_return answer{200, std::move(text), detail::prometheus_writer::content_type};
    }
    if (req.method == "GET")
      if (const auto* file = console_file(req.path))
        co_return answer{200, std::string(file->body), file->content_type, console_headers};
    if (!authorized(req))
      co_return answer{401, error_json("bad or missing token: send Authorization: Bearer <master.token>")};
    const auto server = query_value(req.query, "server");
    const auto names = known();
    if (!server.empty() && std::find(names.begin(), names.end(), server) == names.end()) {
      std::string all;
      for (auto& n : names) all += (all.empty() ? "" : ", ") + n;
      co_return answer{404, error_json(fmt::format("no server named '{}' (servers: {})", server, all))};
    }
    if (req.method == "GET" && req.path == "/status") co_return co_await status();
    if (req.method == "POST" && req.path == "/reload")
      co_return co_await reload(server, query_value(req.query, "data") == "1");
    if (req.method == "POST" && req.path == "/stop") {
      if (!server.empty() && std::find(names_.begin(), names_.end(), server) == names_.end()) {
        // Started by hand, not by this master: asked over its link.
        if (auto l = servers_.find(server))
          co_await l->call(std::uint16_t(app::admin_call::stop), net::body_writer::encoded(bytes_view{}),
                           std::chrono::seconds(2));
      } else {
        stop_(server);
      }
      co_return answer{200, server.empty() ? R"({"stopping":"all"})" : fmt::format(R"({{"stopping":"{}"}})", server)};
    }
    if (req.method == "POST" && req.path == "/drain")
      co_return co_await drain(server, query_value(req.query, "stop") == "1");
    if (req.method == "POST" && req.path == "/restart" && restart_) {
      if (server.empty()) co_return answer{400, error_json("server: which server to restart (one at a time)")};
      if (!restart_(server))
        co_return answer{409, error_json("'" + server + "' is not a server this master runs, or the master is stopping")};
      co_return answer{200, fmt::format(R"({{"restarting":"{}"}})", server)};
    }
    if (req.method == "GET" && req.path == "/players") co_return co_await players(query_value(req.query, "user"));
    if (req.method == "POST" && req.path == "/kick")
      co_return co_await kick(query_value(req.query, "user"), server, req.body);
    if (req.method == "POST" && req.path == "/ban")
      co_return co_await ban(query_value(req.query, "user"), query_value(req.query, "minutes"), server, req.body);
    if (req.method == "POST" && req.path == "/log-level")
      co_return co_await set_log_level(query_value(req.query, "level"), server);
    co_return answer{404, error_json("unknown endpoint " + req.method + " " + req.path +
                                     " (GET /status, POST /reload, POST /stop, POST /drain, POST /restart, "
                                     "GET /players, POST /kick, POST /ban, POST /log-level)")};
  }

  /// A user id of the query: decimal digits that fit 64 bits; "" if it is not one.
  static std::string user_id(const std::string& text) {
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    return !text.empty() && ec == std::errc() && end == text.data() + text.size() ? std::to_string(v) : "";
  }

  /// `{"name":NAME, ...the fields of `object`}` (a JSON object a server answered).
  static std::string named(const std::string& name, std::string_view object) {
    if (object.size() < 2 || object.front() != '{') return fmt::format(R"({{"name":"{}"}})", name);
    return fmt::format(R"({{"name":"{}"{}{})", name, object.size() > 2 ? "," : "", object.substr(1));
  }

  // Every linked server is asked (a client-facing one holds the session, a backend may own
  // the player); one that does not answer is listed with its error.
  asio::awaitable<answer> players(const std::string& user_text) {
    const auto user = user_id(user_text);
    if (user.empty()) co_return answer{400, error_json("user: a user id (decimal digits) is required")};
    std::string out = fmt::format(R"({{"user":{},"servers":[)", user);
    bool first = true;
    for (const auto& name : known()) {
      auto l = servers_.find(name);
      if (!l || !l->is_open()) continue;
      auto r = co_await l->call(std::uint16_t(app::admin_call::find_player), net::body_writer::encoded(as_bytes(user)),
                                std::chrono::seconds(2));
      const auto result = r ? std::string(reinterpret_cast<const char*>(r->data()), r->size())
                            : error_json(r.error().message);
      out += (first ? "" : ",") + named(name, result);
      first = false;
    }
    co_return answer{200, out + "]}"};
  }

  // A kick's or a ban's reason: it reaches the player and the log.
  static bool one_line_reason(const std::string& reason) {
    return reason.size() <= 256 && codec::valid_utf8(reason) && reason.find('\n') == std::string::npos;
  }

  asio::awaitable<answer> kick(const std::string& user_text, const std::string& server, const std::string& reason) {
    const auto user = user_id(user_text);
    if (user.empty()) co_return answer{400, error_json("user: a user id (decimal digits) is required")};
    if (!one_line_reason(reason))
      co_return answer{400, error_json("the reason (the body) is one line of UTF-8 text, at most 256 bytes")};
    const auto body = user + "\n" + (reason.empty() ? std::string("kicked by an operator") : reason);
    std::string out = R"({"results":[)";
    bool first = true, any = false;
    for (const auto& name : known()) {
      if (!server.empty() && name != server) continue;
      auto l = servers_.find(name);
      if (!l || !l->is_open()) {
        if (!server.empty()) co_return answer{502, error_json("server '" + name + "' is not linked to the master")};
        continue;
      }
      auto r = co_await l->call(std::uint16_t(app::admin_call::kick), net::body_writer::encoded(as_bytes(body)),
                                std::chrono::seconds(2));
      const auto result = r ? std::string(reinterpret_cast<const char*>(r->data()), r->size())
                            : error_json(r.error().message);
      // Without a server named, only the servers that held the session are listed.
      const bool kicked = result.find(R"("ok":true)") != std::string::npos;
      any = any || kicked;
      if (!server.empty() || kicked) {
        out += fmt::format(R"({}{{"name":"{}","result":{}}})", first ? "" : ",", name, result);
        first = false;
      }
    }
    if (!any && server.empty())
      co_return answer{404, error_json("no linked server holds a session of user " + user)};
    co_return answer{any ? 200 : 404, out + "]}"};
  }

  // A ban is the accounts module's (ember/app/admin.hpp, admin_call::ban): its rows are the
  // cluster's, so one server that hosts the module bans once for all; the others say they host
  // none and the next is asked. The reason travels in the body, so it stays out of the log's
  // request lines.
  asio::awaitable<answer> ban(const std::string& user_text, const std::string& minutes_text,
                              const std::string& server, const std::string& reason) {
    const auto user = user_id(user_text);
    if (user.empty() || user == "0") co_return answer{400, error_json("user: an account id (decimal digits, not 0) is required")};
    std::uint64_t minutes = 0;
    if (!minutes_text.empty()) {
      auto [end, ec] = std::from_chars(minutes_text.data(), minutes_text.data() + minutes_text.size(), minutes);
      if (ec != std::errc() || end != minutes_text.data() + minutes_text.size() || minutes > max_ban_minutes)
        co_return answer{400, error_json(fmt::format("minutes: a number of minutes up to {} (none or 0: until unbanned)",
                                                     max_ban_minutes))};
    }
    if (!one_line_reason(reason))
      co_return answer{400, error_json("the reason (the body) is one line of UTF-8 text, at most 256 bytes")};
    using namespace std::chrono;
    const std::int64_t until_ms =
        minutes == 0 ? 0
                     : duration_cast<milliseconds>(system_clock::now().time_since_epoch() + std::chrono::minutes(minutes)).count();
    const auto body = fmt::format("{}\n{}\n{}", user, until_ms, reason.empty() ? std::string("banned by an operator") : reason);
    for (const auto& name : known()) {
      if (!server.empty() && name != server) continue;
      auto l = servers_.find(name);
      if (!l || !l->is_open()) {
        if (!server.empty()) co_return answer{502, error_json("server '" + name + "' is not linked to the master")};
        continue;
      }
      auto r = co_await l->call(std::uint16_t(app::admin_call::ban), net::body_writer::encoded(as_bytes(body)),
                                std::chrono::seconds(10));
      if (!r) {
        if (!server.empty()) co_return answer{502, error_json(r.error().message)};
        continue;
      }
      const std::string result(reinterpret_cast<const char*>(r->data()), r->size());
      if (result.find(R"("ok":true)") != std::string::npos) co_return answer{200, named(name, result)};
      // A server with the module refused (no such account, a bad reason): that is the answer.
      if (result.find(R"("accounts":true)") != std::string::npos || !server.empty())
        co_return answer{409, named(name, result)};
    }
    co_return answer{404, error_json("no linked server hosts the accounts module")};
  }
  /// The longest timed ban (ten years): longer is "until unbanned" (no minutes).
  static constexpr std::uint64_t max_ban_minutes = 10ull * 366 * 24 * 60;

  // One server drains (ember/app/admin.hpp, admin_call::drain): it answers at once; its
  // status follows the drain. A server that cannot drain (not a backend) says why: 409.
  asio::awaitable<answer> drain(const std::string& server, bool then_stop) {
    if (server.empty()) co_return answer{400, error_json("server: which server to drain (one at a time)")};
    auto l = servers_.find(server);
    if (!l || !l->is_open()) co_return answer{502, error_json("server '" + server + "' is not linked to the master")};
    const std::byte flags[] = {std::byte(then_stop ? 1 : 0)};
    auto r = co_await l->call(std::uint16_t(app::admin_call::drain), net::body_writer::encoded(bytes_view(flags)),
                              std::chrono::seconds(2));
    if (!r) co_return answer{502, error_json(r.error().message)};
    std::string result(reinterpret_cast<const char*>(r->data()), r->size());
    const bool ok = result.find(R"("ok":true)") != std::string::npos;
    co_return answer{ok ? 200 : 409, named(server, result)};
  }

  // Every linked server named (or all), each answering with its threshold now; a server not
  // linked is listed with its error when named, skipped otherwise (it starts at its config's).
  asio::awaitable<answer> set_log_level(const std::string& level_text, const std::string& server) {
    log::level lv{};
    if (!log::parse_level(level_text, lv))
      co_return answer{400, error_json(fmt::format(
                                "level: expected debug, info, warn or error, got '{}'", level_text))};
    std::string out = R"({"results":[)";
    bool any_failed = false, first = true;
    for (const auto& name : known()) {
      if (!server.empty() && name != server) continue;
      auto l = servers_.find(name);
      if (!l || !l->is_open()) {
        if (!server.empty()) co_return answer{502, error_json("server '" + name + "' is not linked to the master")};
        continue;
      }
      auto r = co_await l->call(std::uint16_t(app::admin_call::set_log_level),
                                net::body_writer::encoded(as_bytes(level_text)), std::chrono::seconds(2));
      const auto result = r ? std::string(reinterpret_cast<const char*>(r->data()), r->size())
                            : error_json(r.error().message);
      any_failed = any_failed || result.find(R"("ok":true)") == std::string::npos;
      out += fmt::format(R"({}{{"name":"{}","result":{}}})", first ? "" : ",", name, result);
      first = false;
    }
    co_return answer{any_failed ? 502 : 200, out + "]}"};
  }

  // One server's status: what it says over its link, and what the supervisor knows.
  asio::awaitable<std::string> status_of(const std::string& name) {
    std::string own = "null";
    if (auto l = servers_.find(name); l && l->is_open()) {
      const bytes_view empty;
      auto r = co_await l->call(std::uint16_t(app::admin_call::status), net::body_writer::encoded(empty),
                                std::chrono::seconds(2));
      if (r) own.assign(reinterpret_cast<const char*>(r->data()), r->size());
    }
    const auto proc = info_ ? info_(name) : std::string();
    co_return fmt::format(R"({{"name":"{}","linked":{},"server":{},"process":{}}})", name,
                          servers_.find(name) != nullptr, own, proc.empty() ? "null" : proc);
  }

  /// The servers the master runs, then those that registered by themselves (started by hand,
  /// e.g. with `--master HOST:PORT` on another machine).
  std::vector<std::string> known() const {
    auto out = names_;
    for (const auto& l : servers_.children())
      if (std::find(out.begin(), out.end(), l->peer().name) == out.end()) out.push_back(l->peer().name);
    return out;
  }

  asio::awaitable<answer> status() {
    std::string out = R"({"servers":[)";
    const auto names = known();
    for (std::size_t i = 0; i < names.size(); ++i)
      out += (i ? "," : "") + co_await status_of(names[i]);
    co_return answer{200, out + "]}"};
  }

  asio::awaitable<answer> reload(const std::string& server, bool data) {
    std::string out = R"({"results":[)";
    bool any_failed = false;
    bool first = true;
    for (const auto& name : known()) {
      if (!server.empty() && name != server) continue;
      auto l = servers_.find(name);
      if (!l) {
        if (!server.empty()) co_return answer{502, error_json("server '" + name + "' is not linked to the master")};
        continue;
      }
      const std::byte what[] = {std::byte(data ? 2 : 1)};
      const bytes_view what_bytes(what);
      auto r = co_await l->call(std::uint16_t(app::admin_call::reload),
                                net::body_writer::encoded(what_bytes), std::chrono::seconds(10));
      std::string result = r ? std::string(reinterpret_cast<const char*>(r->data()), r->size())
                             : error_json(r.error().message);
      any_failed = any_failed || !r || result.find(R"("ok":true)") == std::string::npos;
      out += fmt::format(R"({}{{"name":"{}","result":{}}})", first ? "" : ",", name, result);
      first = false;
    }
    co_return answer{any_failed ? 502 : 200, out + "]}"};
  }

  asio::any_io_executor ex_;
  cluster::root& servers_;
  asio::ip::tcp::acceptor acceptor_;
  std::string token_;
  std::vector<std::string> names_;
  process_info_fn info_;
  stop_fn stop_;
  metrics_fn metrics_;
  restart_fn restart_;
};

}  // namespace ember::master
