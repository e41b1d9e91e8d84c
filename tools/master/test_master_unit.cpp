// ember-master without processes: log writes that never block on a slow or gone reader
// (include/ember/log.hpp), the restart policy, the start and stop order, and how a child's
// output is cut into lines.
#define BOOST_TEST_MODULE ember-master unit
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/read.hpp>
#include <simdjson.h>

#include "ember/log.hpp"
#include "admin_api.hpp"
#include "policy.hpp"
#include "prometheus_sd.hpp"
#include "supervisor.hpp"

using namespace std::chrono_literals;
namespace lg = ember::log;

namespace {

/// Points standard error at `fd` for the life of the object (the logger looks at it again),
/// then puts the test's own back.
struct stderr_to {
  int saved = ::dup(STDERR_FILENO);
  explicit stderr_to(int fd) {
    ::dup2(fd, STDERR_FILENO);
    reset_logger();
  }
  ~stderr_to() {
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    reset_logger();
  }
  static void reset_logger() {
    auto& s = lg::detail::global();
    s.out = lg::detail::sink::unknown;
    s.dropped = 0;
    s.cut = false;
  }
};

/// Everything readable on `fd` now, without waiting.
std::string drain(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  std::string all;
  char buf[65536];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) all.append(buf, static_cast<std::size_t>(n));
  return all;
}

std::size_t lines_in(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

/// Logs `n` lines of about 150 bytes; the longest single call, in microseconds.
long fill(int n) {
  const std::string pad(100, 'x');
  long slowest = 0;
  for (int i = 0; i < n; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    lg::info("line {} {}", i, pad);
    slowest = std::max<long>(slowest, std::chrono::duration_cast<std::chrono::microseconds>(
                                          std::chrono::steady_clock::now() - t0).count());
  }
  return slowest;
}

/// What a reader that woke up finds: the lines written, then the report and the next line.
void check_drops_reported(int reader, int logged) {
  const auto got = drain(reader);
  const auto dropped = lg::dropped_lines();
  BOOST_TEST_MESSAGE(lines_in(got) << " lines written, " << dropped << " dropped");
  BOOST_TEST(dropped > 0u);
  BOOST_TEST(lines_in(got) + dropped == static_cast<std::size_t>(logged));
  lg::info("the reader is back");
  const auto after = drain(reader);
  BOOST_TEST(lines_in(after) == 2u, after);
  BOOST_TEST(after.find(fmt::format("warn  {} log lines dropped (log reader too slow)\n", dropped)) <
             after.find("the reader is back"), after);
  BOOST_TEST(lg::dropped_lines() == 0u);
  lg::info("and once only");
  const auto third = drain(reader);
  BOOST_TEST(third.find("dropped") == std::string::npos, third);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(log_writes)

BOOST_AUTO_TEST_CASE(a_pipe_nobody_reads_drops_lines_and_reports_them_when_drained) {
  int p[2];
  BOOST_REQUIRE(::pipe(p) == 0);
  {
    stderr_to redirect(p[1]);
    const auto t0 = std::chrono::steady_clock::now();
    const long slowest_us = fill(5000);  // ~750 KB into a 64 KiB pipe
    const auto took = std::chrono::steady_clock::now() - t0;
    BOOST_TEST_MESSAGE("5000 lines logged in "
                       << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                       << " ms; slowest call " << slowest_us << " us");
    BOOST_TEST((took < 2s));
    BOOST_TEST(slowest_us < 100'000);
    // O_NONBLOCK went on the logger's own description: other holders of the pipe (here the
    // test's p[1]; a server's stdout) still block as before.
    BOOST_TEST((::fcntl(STDERR_FILENO, F_GETFL) & O_NONBLOCK) != 0);
    BOOST_TEST((::fcntl(p[1], F_GETFL) & O_NONBLOCK) == 0);
    check_drops_reported(p[0], 5000);

    // No reader at all (the master died): EPIPE, counted like a drop; SIGPIPE is ignored by
    // servers, as here.
    auto old = std::signal(SIGPIPE, SIG_IGN);
    ::close(p[0]);
    lg::info("nobody reads this");
    lg::info("nor this");
    BOOST_TEST(lg::dropped_lines() == 2u);
    std::signal(SIGPIPE, old);
  }
  ::close(p[1]);
}

BOOST_AUTO_TEST_CASE(a_socket_nobody_reads_drops_lines_without_changing_its_flags) {
  int sv[2];
  BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  {
    stderr_to redirect(sv[0]);
    const auto t0 = std::chrono::steady_clock::now();
    fill(20000);  // more than a socket's buffers take
    BOOST_TEST((std::chrono::steady_clock::now() - t0 < 3s));
    BOOST_TEST((::fcntl(STDERR_FILENO, F_GETFL) & O_NONBLOCK) == 0);  // MSG_DONTWAIT per send
    check_drops_reported(sv[1], 20000);
    ::close(sv[1]);
    lg::info("nobody reads this");  // EPIPE, and no SIGPIPE (MSG_NOSIGNAL)
    BOOST_TEST(lg::dropped_lines() == 1u);
  }
  ::close(sv[0]);
}

BOOST_AUTO_TEST_CASE(a_file_is_written_as_before) {
  FILE* f = std::tmpfile();
  BOOST_REQUIRE(f);
  {
    stderr_to redirect(::fileno(f));
    fill(100);
    BOOST_TEST((::fcntl(STDERR_FILENO, F_GETFL) & O_NONBLOCK) == 0);
    BOOST_TEST(lg::dropped_lines() == 0u);
  }
  ::lseek(::fileno(f), 0, SEEK_SET);
  std::string all;
  char buf[4096];
  for (ssize_t n; (n = ::read(::fileno(f), buf, sizeof buf)) > 0;) all.append(buf, static_cast<std::size_t>(n));
  BOOST_TEST(lines_in(all) == 100u);
  std::fclose(f);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(policy)

using ember::master::clock;
using ember::master::crash_record;

BOOST_AUTO_TEST_CASE(restarts_back_off_and_the_master_gives_up_at_the_fifth_crash_in_the_window) {
  ember::master::policy p;  // 100 ms doubling to 5 s; 5 crashes in 30 s
  crash_record r;
  const auto t = clock::now();
  std::vector<long> delays;
  for (int i = 0; i < 4; ++i) delays.push_back(r.crashed(t + i * 1s, p).value().count());
  BOOST_TEST(delays == (std::vector<long>{100, 200, 400, 800}), boost::test_tools::per_element());
  BOOST_TEST(!r.crashed(t + 4s, p).has_value());
  BOOST_TEST(r.recent() == 5u);
}

BOOST_AUTO_TEST_CASE(crashes_older_than_the_window_are_forgotten_and_the_delay_is_capped) {
  ember::master::policy p;
  crash_record r;
  const auto t = clock::now();
  for (int i = 0; i < 4; ++i) BOOST_REQUIRE(r.crashed(t + i * 1s, p).has_value());
  // 40 s later the earlier crashes are out of the window: a fresh start at 100 ms.
  BOOST_TEST(r.crashed(t + 40s, p).value().count() == 100);
  BOOST_TEST(r.recent() == 1u);
  p.max_crashes = 100;
  crash_record many;
  std::optional<ember::master::milliseconds> last;
  for (int i = 0; i < 20; ++i) last = many.crashed(t + i * 10ms, p);
  BOOST_TEST(last.value().count() == 5000);
}

BOOST_AUTO_TEST_CASE(exit_statuses_read_as_codes_and_signals) {
  BOOST_TEST(ember::master::describe_status(W_EXITCODE(1, 0)) == "code 1");
  BOOST_TEST(ember::master::describe_status(W_EXITCODE(0, 0)) == "code 0");
  BOOST_TEST(ember::master::describe_status(SIGSEGV) == "signal 11 (SIGSEGV)");
  BOOST_TEST(ember::master::describe_status(SIGKILL) == "signal 9 (SIGKILL)");
}

BOOST_AUTO_TEST_CASE(roots_start_first_and_servers_after_the_roots_they_join) {
  // File order puts the games first; they join gate and the nets, the nets join gate.
  auto c = ember::app::parse_config(R"({
  "secret": "a-secret-long-enough",
  "servers": {
    "game1": { "type": "game", "remoteport": [{ "rootname": "gate" }, { "rootname": "net1" }] },
    "net1": { "type": "net", "netport": 24001, "rootport": 24002, "remoteport": [{ "rootname": "gate" }] },
    "solo": {},
    "gate": { "rootport": 24000 },
    "game2": { "type": "game", "remoteport": [{ "rootname": "gate" }] }
  }
})", "order.json");
  BOOST_REQUIRE_MESSAGE(c.has_value(), (c ? "" : c.error().what()));
  std::vector<std::string> names;
  for (const auto* s : ember::master::start_order(*c, {})) names.push_back(s->name);
  BOOST_TEST(names == (std::vector<std::string>{"gate", "solo", "net1", "game2", "game1"}),
             boost::test_tools::per_element());
  names.clear();
  for (const auto* s : ember::master::start_order(*c, {"game1", "gate"})) names.push_back(s->name);
  BOOST_TEST(names == (std::vector<std::string>{"gate", "game1"}), boost::test_tools::per_element());

  using ember::master::role;
  BOOST_TEST((ember::master::role_of(*c->find("net1")) == role::client_facing));
  BOOST_TEST((ember::master::role_of(*c->find("game1")) == role::backend));
  BOOST_TEST((ember::master::role_of(*c->find("solo")) == role::backend));
  BOOST_TEST((ember::master::role_of(*c->find("gate")) == role::root));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(output_lines)

struct collected {
  std::vector<std::string> lines;
  std::vector<bool> continued;
  auto sink() {
    return [this](std::string_view text, bool more) {
      lines.emplace_back(text);
      continued.push_back(more);
    };
  }
};

BOOST_AUTO_TEST_CASE(lines_are_cut_at_newlines_across_reads) {
  ember::master::line_splitter split(16);
  collected out;
  split.feed("first li", out.sink());
  BOOST_TEST(out.lines.empty());
  split.feed("ne\nsecond\n\nthi", out.sink());
  split.feed("rd", out.sink());
  split.finish(out.sink());
  BOOST_TEST(out.lines == (std::vector<std::string>{"first line", "second", "", "third"}),
             boost::test_tools::per_element());
  BOOST_TEST(std::count(out.continued.begin(), out.continued.end(), true) == 0);
}

// With defaults.log.format json the master's stdout is one JSON object per line: its own lines
// under "master", a server's JSON line as it is, any other child line wrapped.
BOOST_AUTO_TEST_CASE(with_the_json_format_the_master_prints_only_json_lines) {
  int fds[2];
  BOOST_REQUIRE(::pipe(fds) == 0);
  const int saved = ::dup(STDOUT_FILENO);
  lg::set_format(lg::format::json);
  ::dup2(fds[1], STDOUT_FILENO);
  const std::string server_line =
      R"({"ts":"2026-12-06T23:45:01.123456Z","level":"info","server":"game1","msg":"hi"})";
  ember::master::say(lg::level::warn, "game1 crashed: code {}", 1);
  ember::master::print_line("game1", server_line, false);
  ember::master::print_line("memcached:11211", "plain \"text\"\t\xff", false);
  ember::master::print_line("game1", "the rest of a cut line}", true);
  ::dup2(saved, STDOUT_FILENO);
  ::close(saved);
  ::close(fds[1]);
  lg::set_format(lg::format::plain);
  const auto all = drain(fds[0]);
  ::close(fds[0]);
  std::vector<std::string> lines;
  for (std::size_t start = 0, nl; (nl = all.find('\n', start)) != std::string::npos; start = nl + 1)
    lines.push_back(all.substr(start, nl - start));
  BOOST_REQUIRE(lines.size() == 4u);
  simdjson::dom::parser parser;
  for (const auto& l : lines) {
    simdjson::dom::element doc;
    BOOST_TEST(!parser.parse(l).get(doc), l);
  }
  BOOST_TEST(lines[0].find(R"("level":"warn","server":"master","msg":"game1 crashed: code 1"})") != std::string::npos,
             lines[0]);
  BOOST_TEST(lines[1] == server_line);
  BOOST_TEST(lines[2].find(R"("server":"memcached:11211","msg":"plain \"text\"\t\ufffd"})") != std::string::npos,
             lines[2]);
  BOOST_TEST(lines[3].find(R"("server":"game1","msg":"the rest of a cut line}"})") != std::string::npos, lines[3]);
}

BOOST_AUTO_TEST_CASE(a_line_longer_than_the_bound_is_split_into_pieces) {
  ember::master::line_splitter split(4);
  collected out;
  split.feed("abcdefghij\n", out.sink());
  split.feed("wxyz", out.sink());  // exactly the bound, its newline in the next read
  split.feed("\nend\n", out.sink());
  BOOST_TEST(out.lines == (std::vector<std::string>{"abcd", "efgh", "ij", "wxyz", "end"}),
             boost::test_tools::per_element());
  BOOST_TEST(out.continued == (std::vector<bool>{false, true, true, false, false}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(the_prometheus_file_sd_lists_every_server_with_a_metricsport_labelled_by_name_and_type) {
  auto c = ember::app::parse_config(R"({"servers": {
    "gate": {"netport": 17200, "metricsport": 17300},
    "game1": {"type": "game", "host": "10.0.0.5", "metricsport": {"port": 17301, "host": "0.0.0.0"}},
    "db": {},
    "chat": {"metricsport": {"port": 17302, "host": "::1"}}}})", "sd.json");
  BOOST_REQUIRE_MESSAGE(c.has_value(), (c ? std::string() : c.error().what()));
  BOOST_TEST(ember::master::prometheus_sd_json(*c) ==
             R"([{"targets":["127.0.0.1:17300"],"labels":{"server":"gate","type":"gate"}},)"
             R"({"targets":["10.0.0.5:17301"],"labels":{"server":"game1","type":"game"}},)"
             R"({"targets":["[::1]:17302"],"labels":{"server":"chat","type":"chat"}}])"
             "\n");
  // The servers the master runs now: only those, still in file order.
  const std::vector<std::string> serving{"chat", "gate", "db"};
  BOOST_TEST(ember::master::prometheus_sd_json(*c, &serving) ==
             R"([{"targets":["127.0.0.1:17300"],"labels":{"server":"gate","type":"gate"}},)"
             R"({"targets":["[::1]:17302"],"labels":{"server":"chat","type":"chat"}}])"
             "\n");
  const std::vector<std::string> none;
  BOOST_TEST(ember::master::prometheus_sd_json(*c, &none) == "[]\n");
}

// ember-master's own metrics: servers by state and restarts, from a supervisor that ran real
// processes (/bin/true: each exits on its own with code 0), served unauthenticated at
// GET /metrics on the admin port while every other endpoint still wants the token.
BOOST_AUTO_TEST_CASE(the_master_serves_its_metrics_without_the_token_and_counts_servers_by_state) {
  const int port = 26000 + getpid() % 1000;
  auto c = ember::app::parse_config(R"({"servers": {"a": {}, "b": {}}})", "m.json");
  BOOST_REQUIRE(c.has_value());
  asio::io_context io(1);
  ember::master::options o;
  o.config_file = "m.json";
  o.program = "/bin/true";
  ember::master::supervisor sup(io, *c, o);
  // What the master would write to its file_sd file: both, then fewer as each exits.
  std::vector<std::vector<std::string>> told;
  sup.on_serving_changed([&](const std::vector<std::string>& serving) { told.push_back(serving); });
  BOOST_TEST(sup.serving() == (std::vector<std::string>{"a", "b"}));
  sup.start();
  io.run_for(std::chrono::seconds(30));  // returns when both have exited
  BOOST_REQUIRE(told.size() == 2u);
  BOOST_TEST(told[0].size() == 1u);  // one exited first (either)
  BOOST_TEST(told[1].empty());
  std::string text;
  ember::detail::prometheus_writer w(text);
  sup.write_metrics(w);
  BOOST_TEST(text.find("ember_master_servers{state=\"exited\"} 2\n") != std::string::npos, text);
  BOOST_TEST(text.find("ember_master_servers{state=\"running\"} 0\n") != std::string::npos, text);
  BOOST_TEST(text.find("ember_master_restarts_total{server=\"a\"} 0\n") != std::string::npos, text);
  BOOST_TEST(text.find("ember_master_server_up{server=\"b\"} 0\n") != std::string::npos, text);

  io.restart();
  ember::cluster::root links(io.get_executor(), {"master", "a-secret-of-the-unit-test", "127.0.0.1",
                                                 static_cast<std::uint16_t>(port), {}});
  ember::master::admin_api api(io.get_executor(), links, "127.0.0.1", static_cast<std::uint16_t>(port + 1),
                               "t0ken-of-the-unit-test", {"a", "b"}, {}, {});
  api.set_metrics([&](ember::detail::prometheus_writer& pw) { sup.write_metrics(pw); });
  auto get = [&](const std::string& path) {
    std::string answer;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      asio::ip::tcp::socket s(io);
      co_await s.async_connect({asio::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(port + 1)},
                               asio::use_awaitable);
      const std::string req = "GET " + path + " HTTP/1.0\r\n\r\n";
      co_await asio::async_write(s, asio::buffer(req), asio::use_awaitable);
      auto [ec, n] = co_await asio::async_read(s, asio::dynamic_buffer(answer),
                                               asio::experimental::as_tuple(asio::use_awaitable));
      (void)ec, (void)n;
      io.stop();
    }, asio::detached);
    io.restart();
    io.run_for(std::chrono::seconds(10));
    return answer;
  };
  const auto metrics = get("/metrics");
  BOOST_TEST(metrics.rfind("HTTP/1.1 200 OK", 0) == 0, metrics);
  BOOST_TEST(metrics.find("Content-Type: text/plain; version=0.0.4") != std::string::npos, metrics);
  BOOST_TEST(metrics.find("ember_master_servers{state=\"exited\"} 2\n") != std::string::npos, metrics);
  BOOST_TEST(get("/status").rfind("HTTP/1.1 401", 0) == 0);
}

// The console's files and the endpoints it added, without a browser (test_console has one):
// the page needs no token and carries its Content-Security-Policy; the token is compared
// whole (a prefix or a longer string is refused); /players, /kick and /ban check their input.
BOOST_AUTO_TEST_CASE(the_console_is_served_without_the_token_and_its_endpoints_check_their_input) {
  const int port = 27000 + getpid() % 1000;
  asio::io_context io(1);
  ember::cluster::root links(io.get_executor(), {"master", "a-secret-of-the-unit-test", "127.0.0.1",
                                                 static_cast<std::uint16_t>(port), {}});
  const std::string token = "t0ken-of-the-unit-test";
  ember::master::admin_api api(io.get_executor(), links, "127.0.0.1", static_cast<std::uint16_t>(port + 1),
                               token, {"a"}, {}, {});
  auto ask = [&](const std::string& request) {
    std::string answer;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      asio::ip::tcp::socket s(io);
      co_await s.async_connect({asio::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(port + 1)},
                               asio::use_awaitable);
      co_await asio::async_write(s, asio::buffer(request), asio::use_awaitable);
      auto [ec, n] = co_await asio::async_read(s, asio::dynamic_buffer(answer),
                                               asio::experimental::as_tuple(asio::use_awaitable));
      (void)ec, (void)n;
      io.stop();
    }, asio::detached);
    io.restart();
    io.run_for(std::chrono::seconds(10));
    return answer;
  };
  auto call = [&](const std::string& method, const std::string& target, const std::string& bearer,
                  const std::string& body = "") {
    return ask(method + " " + target + " HTTP/1.0\r\nAuthorization: Bearer " + bearer +
               "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  };
  const auto page = ask("GET / HTTP/1.0\r\n\r\n");
  BOOST_TEST(page.rfind("HTTP/1.1 200 OK", 0) == 0, page);
  BOOST_TEST(page.find("Content-Type: text/html; charset=utf-8") != std::string::npos, page);
  BOOST_TEST(page.find("Content-Security-Policy: default-src 'none'; script-src 'self';") != std::string::npos, page);
  BOOST_TEST(page.find("<title>ember console</title>") != std::string::npos, page);
  const auto js = ask("GET /console/console.js HTTP/1.0\r\n\r\n");
  BOOST_TEST(js.rfind("HTTP/1.1 200 OK", 0) == 0);
  BOOST_TEST(js.find("Content-Type: text/javascript") != std::string::npos);
  BOOST_TEST(js.find("sessionStorage") != std::string::npos);
  BOOST_TEST(ask("GET /console/nothing.js HTTP/1.0\r\n\r\n").rfind("HTTP/1.1 401", 0) == 0);
  BOOST_TEST(ask("POST / HTTP/1.0\r\n\r\n").rfind("HTTP/1.1 401", 0) == 0);

  const auto ok = call("GET", "/status", token);
  BOOST_TEST(ok.rfind("HTTP/1.1 200 OK", 0) == 0, ok);
  BOOST_TEST(ok.find("Cache-Control: no-store") != std::string::npos, ok);
  BOOST_TEST(call("GET", "/status", token.substr(0, token.size() - 1)).rfind("HTTP/1.1 401", 0) == 0);
  BOOST_TEST(call("GET", "/status", token + "x").rfind("HTTP/1.1 401", 0) == 0);
  BOOST_TEST(call("GET", "/status", "").rfind("HTTP/1.1 401", 0) == 0);

  BOOST_TEST(call("GET", "/players?user=abc", token).rfind("HTTP/1.1 400", 0) == 0);
  BOOST_TEST(call("GET", "/players", token).rfind("HTTP/1.1 400", 0) == 0);
  BOOST_TEST(call("GET", "/players?user=99999999999999999999999", token).rfind("HTTP/1.1 400", 0) == 0);
  const auto none = call("GET", "/players?user=42", token);
  BOOST_TEST(none.rfind("HTTP/1.1 200 OK", 0) == 0, none);
  BOOST_TEST(none.find(R"({"user":42,"servers":[]})") != std::string::npos, none);
  const auto nobody = call("POST", "/kick?user=42", token, "cheating");
  BOOST_TEST(nobody.rfind("HTTP/1.1 404", 0) == 0, nobody);
  BOOST_TEST(nobody.find("no linked server holds a session of user 42") != std::string::npos, nobody);
  BOOST_TEST(call("POST", "/kick?user=42", token, std::string(257, 'x')).rfind("HTTP/1.1 400", 0) == 0);
  BOOST_TEST(call("POST", "/kick?user=42", token, "two\nlines").rfind("HTTP/1.1 400", 0) == 0);
  BOOST_TEST(call("POST", "/kick?user=42", token, "\xff\xfe").rfind("HTTP/1.1 400", 0) == 0);
  BOOST_TEST(call("POST", "/kick?user=42&server=a", token, "").rfind("HTTP/1.1 502", 0) == 0);

  // /ban: an account id, minutes (a number up to ten years, or none), one short line of UTF-8.
  const auto no_accounts = call("POST", "/ban?user=42&minutes=30", token, "cheating");
  BOOST_TEST(no_accounts.rfind("HTTP/1.1 404", 0) == 0, no_accounts);
  BOOST_TEST(no_accounts.find("no linked server hosts the accounts module") != std::string::npos, no_accounts);
  BOOST_TEST(call("POST", "/ban", token, "").rfind("HTTP/1.1 400", 0) == 0);
  BOOST_TEST(call("POST", "/ban?user=0", token, "").rfind("HTTP/1.1 400", 0) == 0);
  BOOST_TEST(call("POST", "/ban?user=42&minutes=soon", token, "").rfind("HTTP/1.1 400", 0) == 0);
  BOOST_TEST(call("POST", "/ban?user=42&minutes=99999999", token, "").rfind("HTTP/1.1 400", 0) == 0);
  BOOST_TEST(call("POST", "/ban?user=42", token, std::string(257, 'x')).rfind("HTTP/1.1 400", 0) == 0);
  BOOST_TEST(call("POST", "/ban?user=42", token, "two\nlines").rfind("HTTP/1.1 400", 0) == 0);
  BOOST_TEST(call("POST", "/ban?user=42", token, "\xff\xfe").rfind("HTTP/1.1 400", 0) == 0);
  BOOST_TEST(call("POST", "/ban?user=42&server=a", token, "").rfind("HTTP/1.1 502", 0) == 0);
}
