// ember-cli: the admin API of ember-master from a terminal.
//
//   ember-cli --config config.json status
//   ember-cli --config config.json reload [--data] [SERVER]
//   ember-cli --config config.json stop [SERVER]
//   ember-cli --config config.json log-level LEVEL [SERVER]
//   ember-cli --config config.json drain SERVER [--stop] [--wait SECONDS]
//   ember-cli --config config.json restart SERVER
//   ember-cli --config config.json ban ACCOUNT [--minutes N] [--reason TEXT] [--server SERVER]
//
// The master's address and token come from the config's `master` (or --host, --port, --token).
// Exit status: 0 on success, 1 when the master refused or a server failed, 2 on bad usage.
#include <http_parser.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include "ember/app/config.hpp"
#include "ember/log.hpp"

namespace {

struct response {
  int status = 0;
  std::string body;
};

// One request, one connection (the master closes it after answering). Blocking is right here.
bool request(const std::string& host, std::uint16_t port, const std::string& method,
             const std::string& target, const std::string& token, response& out, std::string& error,
             const std::string& body = {}) {
  try {
    asio::io_context io;
    asio::ip::tcp::socket s(io);
    asio::connect(s, asio::ip::tcp::resolver(io).resolve(host, std::to_string(port)));
    const auto req = fmt::format("{} {} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n"
                                 "Content-Type: text/plain; charset=utf-8\r\n"
                                 "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
                                 method, target, host, token, body.size(), body);
    asio::write(s, asio::buffer(req));
    std::string text;
    std::error_code ec;
    asio::read(s, asio::dynamic_buffer(text), ec);
    if (ec && ec != asio::error::eof) {
      error = ec.message();
      return false;
    }
    http_parser_settings settings{};
    settings.on_body = [](http_parser* p, const char* at, size_t n) {
      static_cast<response*>(p->data)->body.append(at, n);
      return 0;
    };
    http_parser parser;
    http_parser_init(&parser, HTTP_RESPONSE);
    parser.data = &out;
    http_parser_execute(&parser, &settings, text.data(), text.size());
    http_parser_execute(&parser, &settings, nullptr, 0);  // end of the stream ends the body
    if (HTTP_PARSER_ERRNO(&parser) != HPE_OK) {
      error = std::string("bad answer: ") + http_errno_description(HTTP_PARSER_ERRNO(&parser));
      return false;
    }
    out.status = static_cast<int>(parser.status_code);
    return true;
  } catch (const std::exception& e) {
    error = e.what();
    return false;
  }
}

std::string field(simdjson::dom::element e, const char* key) {
  auto v = e[key];
  if (v.error()) return "-";
  if (v.is_string()) return std::string(std::string_view(v.get_string().value()));
  if (v.is_bool()) return v.get_bool().value() ? "yes" : "no";
  if (v.is_uint64()) return std::to_string(v.get_uint64().value());
  if (v.is_int64()) return std::to_string(v.get_int64().value());
  if (v.is_null()) return "-";
  return simdjson::minify(v.value());
}

// One line per command and server: what the server counted since it started (a gateway's
// forwarded commands marked "(fwd)", timed from the client's request to the reply).
void print_commands(simdjson::dom::array servers) {
  bool header = false;
  for (simdjson::dom::element s : servers) {
    simdjson::dom::array commands;
    if (s["server"]["commands"].get_array().get(commands)) continue;
    for (simdjson::dom::element c : commands) {
      if (!header) {
        std::printf("\n%-10s %-24s %10s %8s %10s %10s\n", "server", "command", "count", "failed",
                    "p50 ms", "p99 ms");
        header = true;
      }
      std::string name = field(c, "name");
      if (name == "-") name = "#" + field(c, "id");
      bool forwarded = false;
      if (!c["forwarded"].get_bool().get(forwarded) && forwarded) name += " (fwd)";
      auto ms = [&](const char* key) {
        std::uint64_t us = 0;
        return c[key].get_uint64().get(us) ? std::string("-") : fmt::format("{:.3f}", double(us) / 1000);
      };
      std::printf("%-10s %-24s %10s %8s %10s %10s\n", field(s, "name").c_str(), name.c_str(),
                  field(c, "count").c_str(), field(c, "failed").c_str(), ms("p50_us").c_str(),
                  ms("p99_us").c_str());
    }
  }
}

void print_status(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc) || doc["servers"].error()) {
    std::printf("%s\n", body.c_str());
    return;
  }
  std::printf("%-10s %-6s %-8s %-8s %10s %9s %10s %9s  %s\n", "server", "type", "linked", "pid",
              "uptime s", "sessions", "requests", "restarts", "module");
  simdjson::dom::array servers = doc["servers"].get_array().value();
  for (simdjson::dom::element s : servers) {
    auto own = s["server"];
    auto proc = s["process"];
    const bool has_own = !own.error() && own.is_object();
    const bool has_proc = !proc.error() && proc.is_object();
    const std::string uptime =
        has_own ? std::to_string(own.value()["uptime_ms"].get_uint64().value_unsafe() / 1000) : "-";
    std::printf("%-10s %-6s %-8s %-8s %10s %9s %10s %9s  %s\n", field(s, "name").c_str(),
                has_own ? field(own.value(), "type").c_str() : "-", field(s, "linked").c_str(),
                has_own ? field(own.value(), "pid").c_str() : has_proc ? field(proc.value(), "pid").c_str() : "-",
                uptime.c_str(), has_own ? field(own.value(), "sessions").c_str() : "-",
                has_own ? field(own.value(), "requests").c_str() : "-",
                has_proc ? field(proc.value(), "restarts").c_str() : "-",
                has_own ? field(own.value(), "module").c_str() : "-");
  }
  print_commands(servers);
}

// What the status answer says of `server`: its own "drain" field, or "gone" once it is not
// linked (it stopped), "" when it says nothing.
std::string drain_state(const std::string& body, const std::string& server) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array servers;
  if (parser.parse(body).get(doc) || doc["servers"].get_array().get(servers)) return {};
  for (simdjson::dom::element s : servers) {
    if (field(s, "name") != server) continue;
    if (field(s, "linked") != "yes") return "gone";
    auto own = s["server"];
    return own.error() || !own.is_object() ? std::string() : field(own.value(), "drain");
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ember-cli: status, reload, stop, drain, restart, log levels and bans through ember-master's admin API"};
  std::string config_file, url_host = "127.0.0.1", token;
  int port = 0;
  app.add_option("-c,--config", config_file, "config.json: the master's address and token");
  app.add_option("--host", url_host, "the master's admin address (default: the config's)");
  app.add_option("--port", port, "the master's admin port (default: the config's webport)");
  app.add_option("--token", token, "the admin token (default: the config's master.token)");
  app.require_subcommand(1);
  auto* status = app.add_subcommand("status", "every server: linked, pid, uptime, sessions, requests, restarts, module; "
                                              "then per command: count, failed, p50/p99 latency");
  bool data = false;
  std::string server;
  auto* reload = app.add_subcommand("reload", "reload the handler module (or --data) on SERVER or all");
  reload->add_flag("--data", data, "reload game data instead of logic");
  reload->add_option("server", server, "one server (default: all)");
  auto* stop = app.add_subcommand("stop", "stop SERVER, or the whole cluster in order");
  stop->add_option("server", server, "one server (default: all)");
  std::string level;
  auto* log_level = app.add_subcommand("log-level", "set the log level of SERVER or all, at once (until a restart)");
  log_level->add_option("level", level, "debug, info, warn or error")->required();
  log_level->add_option("server", server, "one server (default: all)");
  bool then_stop = false;
  int wait_s = 0;
  auto* drain = app.add_subcommand("drain", "drain game server SERVER: no new players; its players move to the "
                                            "others of its type (saved first); --stop: then it stops");
  drain->add_option("server", server, "the server to drain")->required();
  drain->add_flag("--stop", then_stop, "stop it once drained");
  drain->add_option("--wait", wait_s, "wait up to SECONDS until it is drained (or stopped, with --stop)");
  auto* restart = app.add_subcommand("restart", "stop SERVER and start it again (its program as installed now)");
  restart->add_option("server", server, "the server to restart")->required();
  std::uint64_t account = 0, minutes = 0;
  std::string reason;
  auto* ban = app.add_subcommand("ban", "ban ACCOUNT (a player's user id) through the accounts module: its "
                                        "tokens are revoked and sign-ins refused until the ban ends");
  ban->add_option("account", account, "the account id")->required()->check(CLI::PositiveNumber);
  ban->add_option("--minutes", minutes, "how long (default: until unbanned)");
  ban->add_option("--reason", reason, "why, shown to the player (one line, at most 256 bytes)");
  ban->add_option("--server", server, "the server that bans (default: the first that hosts accounts)");
  CLI11_PARSE(app, argc, argv);
  if (ember::log::level lv{}; log_level->parsed() && !ember::log::parse_level(level, lv)) {
    std::fprintf(stderr, "log-level: expected debug, info, warn or error, got '%s'\n", level.c_str());
    return 2;
  }

  if (!config_file.empty()) {
    auto cfg = ember::app::load_config(config_file);
    if (!cfg) {
      std::fprintf(stderr, "%s\n", cfg.error().what().c_str());
      return 2;
    }
    if (!cfg->master) {
      std::fprintf(stderr, "%s: the config has no \"master\" section\n", config_file.c_str());
      return 2;
    }
    if (app.count("--host") == 0) url_host = cfg->master->host;
    if (port == 0) port = cfg->master->webport;
    if (token.empty()) token = cfg->master->token;
  }
  if (port <= 0 || port > 65535 || token.empty()) {
    std::fprintf(stderr, "give --config config.json (or --port and --token)\n");
    return 2;
  }
  std::string method = "GET", target = "/status";
  if (reload->parsed()) {
    method = "POST";
    target = "/reload" + std::string(server.empty() && !data ? "" : "?") +
             (server.empty() ? "" : "server=" + server) + (data ? std::string(server.empty() ? "" : "&") + "data=1" : "");
  } else if (stop->parsed()) {
    method = "POST";
    target = "/stop" + (server.empty() ? std::string() : "?server=" + server);
  } else if (drain->parsed()) {
    method = "POST";
    target = "/drain?server=" + server + (then_stop ? "&stop=1" : "");
  } else if (restart->parsed()) {
    method = "POST";
    target = "/restart?server=" + server;
  } else if (ban->parsed()) {
    method = "POST";
    target = "/ban?user=" + std::to_string(account) + (minutes ? "&minutes=" + std::to_string(minutes) : "") +
             (server.empty() ? std::string() : "&server=" + server);
  } else if (log_level->parsed()) {
    method = "POST";
    target = "/log-level?level=" + level + (server.empty() ? std::string() : "&server=" + server);
  }
  response r;
  std::string error;
  if (!request(url_host, static_cast<std::uint16_t>(port), method, target, token, r, error,
               ban->parsed() ? reason : std::string())) {
    std::fprintf(stderr, "cannot reach the master at %s:%d: %s (is ember-master running?)\n",
                 url_host.c_str(), port, error.c_str());
    return 1;
  }
  if (r.status != 200) {
    std::fprintf(stderr, "the master answered %d: %s\n", r.status, r.body.c_str());
    return 1;
  }
  if (drain->parsed() && wait_s > 0) {
    // The drain runs on the server; the master's status follows it.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(wait_s);
    std::string state;
    while (std::chrono::steady_clock::now() < until) {
      response st;
      if (request(url_host, static_cast<std::uint16_t>(port), "GET", "/status", token, st, error) && st.status == 200)
        state = drain_state(st.body, server);
      if (state == (then_stop ? "gone" : "drained") || (!then_stop && state == "gone")) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (state != "drained" && state != "gone") {
      std::fprintf(stderr, "%s is not drained after %d s (it says: %s)\n", server.c_str(), wait_s,
                   state.empty() ? "nothing" : state.c_str());
      return 1;
    }
    std::printf("%s %s\n", server.c_str(), state == "gone" ? "drained and stopped" : "drained");
    return 0;
  }
  if (status->parsed())
    print_status(r.body);
  else
    std::printf("%s\n", r.body.c_str());
  return 0;
}
