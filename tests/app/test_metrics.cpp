// A server's metrics and health endpoint (ember/app/metrics.hpp, config.json's `metricsport`):
// the text format as ember writes it, a real server's /metrics after a client's requests (its
// counts, checked by Debian's `promtool check metrics`), /healthz and /readyz as the server
// links to its root, and a real Prometheus scraping it.
#define BOOST_TEST_MODULE metrics
#include "ember/app/metrics.hpp"

#include <boost/test/unit_test.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <vector>
#include <regex>
#include <string>

#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "ember/app/host.hpp"
#include "ember/cluster/link.hpp"
#include "ember/cluster/node.hpp"
#include "ember/detail/histogram.hpp"
#include "ember/detail/prometheus.hpp"
#include "ember/net/client.hpp"
#include "nettest_client.hpp"
#include "nettest_server.hpp"
#include "prometheus_sd.hpp"
#include "support/http.hpp"
#include "support/process.hpp"
#include "support/echo_handler.hpp"
#include "support/run.hpp"

using namespace ember;
using ember::net::session;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

using handler = ember::test::echo_handler;  // echo answers, raise_error fails

using test::http_get;

// The value of the sample line `series` (name and labels exactly as written), or -1.
double value_of(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::strtod(text.c_str() + at + series.size() + 2, nullptr);
}

// Scrapes the /metrics of `port` until the sample `series` reads `want` (every 10 ms, 10 s at
// most); the last scrape.
asio::awaitable<test::http_answer> scrape_until(std::uint16_t port, const std::string& series, double want) {
  auto m = co_await http_get(port, "/metrics");
  for (int i = 0; i < 1000 && value_of("\n" + m.body, series) != want; ++i) {
    asio::steady_timer t(co_await asio::this_coro::executor, 10ms);
    co_await t.async_wait(asio::use_awaitable);
    m = co_await http_get(port, "/metrics");
  }
  co_return m;
}

// promtool's verdict on `text` (exit code and output), or nothing when promtool is absent.
std::optional<std::pair<int, std::string>> promtool_check(const std::string& text) {
  if (::access("/usr/bin/promtool", X_OK) != 0) return std::nullopt;
  const auto dir = fs::temp_directory_path() / fmt::format("ember-metrics-{}", ::getpid());
  fs::create_directories(dir);
  {
    std::ofstream(dir / "metrics.txt") << text;
  }
  const auto cmd = fmt::format("/usr/bin/promtool check metrics < {0}/metrics.txt > {0}/promtool.txt 2>&1",
                               dir.string());
  const int rc = std::system(cmd.c_str());
  auto verdict = std::pair{WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, test::read_text(dir / "promtool.txt")};
  fs::remove_all(dir);
  return verdict;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_writer_escapes_labels_and_help_and_prints_numbers_exactly) {
  std::string out;
  detail::prometheus_writer w(out);
  w.family("ember_x_total", "counter", "A help text with a \\ and a\nnewline.");
  w.sample("ember_x_total", {{"command", "a\"b\\c\nd"}, {"k", "v"}}, std::uint64_t{18446744073709551615u});
  w.family("ember_g", "gauge", "Gauge.");
  w.sample("ember_g", {}, 0.25);
  w.sample("ember_g", {{"k", "inf"}}, std::numeric_limits<double>::infinity());
  w.sample("ember_g", {{"k", "-inf"}}, -std::numeric_limits<double>::infinity());
  w.sample("ember_g", {{"k", "small"}}, 1e-7);
  w.sample("ember_g", {{"k", "int"}}, -3);
  BOOST_TEST(out ==
             "# HELP ember_x_total A help text with a \\\\ and a\\nnewline.\n"
             "# TYPE ember_x_total counter\n"
             "ember_x_total{command=\"a\\\"b\\\\c\\nd\",k=\"v\"} 18446744073709551615\n"
             "# HELP ember_g Gauge.\n"
             "# TYPE ember_g gauge\n"
             "ember_g 0.25\n"
             "ember_g{k=\"inf\"} +Inf\n"
             "ember_g{k=\"-inf\"} -Inf\n"
             "ember_g{k=\"small\"} 1e-07\n"
             "ember_g{k=\"int\"} -3\n");
  BOOST_TEST(detail::prometheus_writer::format_number(std::numeric_limits<double>::quiet_NaN()) == "NaN");
}

BOOST_AUTO_TEST_CASE(a_histogram_is_written_as_cumulative_buckets_then_sum_and_count) {
  std::string out;
  detail::prometheus_writer w(out);
  const double bounds[] = {0.001, 0.5, 2};
  const std::uint64_t cumulative[] = {1, 3, 3};
  w.family("ember_h_seconds", "histogram", "H.");
  w.histogram("ember_h_seconds", {{"command", "c"}}, bounds, cumulative, 3.5, 4);
  w.histogram("ember_h_seconds", {}, bounds, cumulative, 0, 3);
  BOOST_TEST(out ==
             "# HELP ember_h_seconds H.\n"
             "# TYPE ember_h_seconds histogram\n"
             "ember_h_seconds_bucket{command=\"c\",le=\"0.001\"} 1\n"
             "ember_h_seconds_bucket{command=\"c\",le=\"0.5\"} 3\n"
             "ember_h_seconds_bucket{command=\"c\",le=\"2\"} 3\n"
             "ember_h_seconds_bucket{command=\"c\",le=\"+Inf\"} 4\n"
             "ember_h_seconds_sum{command=\"c\"} 3.5\n"
             "ember_h_seconds_count{command=\"c\"} 4\n"
             "ember_h_seconds_bucket{le=\"0.001\"} 1\n"
             "ember_h_seconds_bucket{le=\"0.5\"} 3\n"
             "ember_h_seconds_bucket{le=\"2\"} 3\n"
             "ember_h_seconds_bucket{le=\"+Inf\"} 3\n"
             "ember_h_seconds_sum 0\n"
             "ember_h_seconds_count 3\n");
}

BOOST_AUTO_TEST_CASE(a_log_linear_histogram_counts_samples_at_most_each_bound_and_keeps_their_sum) {
  detail::log_linear_histogram<7, 40> h;
  for (std::uint64_t v : {5u, 1000u, 1000u, 250'000u, 3'000'000'000u}) h.record(v);
  const std::uint64_t bounds[] = {4, 5, 999, 1000, 200'000, 260'000, 1'000'000'000, 20'000'000'000};
  std::vector<std::uint64_t> out(std::size(bounds));
  h.cumulative_counts(bounds, out);
  const std::vector<std::uint64_t> want = {0, 1, 1, 3, 3, 4, 4, 5};
  BOOST_TEST(out == want, boost::test_tools::per_element());
  BOOST_TEST(h.sum() == 3'000'252'005u);
  BOOST_TEST(h.count() == 5u);
}

// One process holds the cluster: "hub" (a root) and "solo" (clients, metrics, joins hub).
struct cluster_fixture {
  int base = 25000 + static_cast<int>(::getpid() % 500) * 5;
  std::uint16_t client_port = static_cast<std::uint16_t>(base);
  std::uint16_t metrics_port = static_cast<std::uint16_t>(base + 1);
  std::uint16_t hub_port = static_cast<std::uint16_t>(base + 2);
  std::uint16_t websocket_port = static_cast<std::uint16_t>(base + 4);
  app::cluster_config config = parse();
  asio::io_context io;
  handler logic;

  app::cluster_config parse() {
    const auto text = fmt::format(R"({{
  "secret": "a-secret-of-the-metrics-test",
  "servers": {{
    "hub": {{ "rootport": {} }},
    "solo": {{ "type": "game", "netport": {{ "port": {}, "websocket": {} }}, "metricsport": {},
              "remoteport": [{{ "rootname": "hub" }}] }}
  }}
}})", hub_port, client_port, websocket_port, metrics_port);
    auto c = app::parse_config(text, "metrics.json");
    BOOST_REQUIRE_MESSAGE(c.has_value(), (c ? std::string() : c.error().what()));
    return *c;
  }

  void start(app::host& h) {
    net::dispatch_table table;
    nettest::register_commands(table, logic);
    h.start(std::move(table), nettest::command_list);
  }

  // A client's requests: 3 echoes, an overlapping echo, a refusal (failed), 2 pushes asked
  // for and a broadcast to everyone (the client itself): 3 pushes in all.
  asio::awaitable<void> make_requests() {
    net::client c(io.get_executor());
    BOOST_REQUIRE(!co_await c.connect("127.0.0.1", client_port));
    nettest::client_stub stub(c);
    for (std::uint32_t i = 0; i < 3; ++i) BOOST_REQUIRE(co_await stub.echo({i, "hi", 0}));
    BOOST_REQUIRE(co_await stub.echo_overlapping({1, "hi", 0}));
    BOOST_REQUIRE(!co_await stub.raise_error({false, 0}));
    BOOST_REQUIRE(co_await stub.push_me({2, 0}));
    BOOST_REQUIRE(co_await stub.broadcast({"", "to everyone"}));
    c.close();
  }
};

BOOST_FIXTURE_TEST_CASE(a_server_answers_healthz_and_readyz_once_linked_and_metrics_that_count_its_requests,
                        cluster_fixture) {
  app::host solo(io, config, "solo");
  start(solo);
  BOOST_REQUIRE(solo.metrics_port() == metrics_port);
  std::optional<app::host> hub;
  test::run(io, [&]() -> asio::awaitable<void> {
    const auto health = co_await http_get(metrics_port, "/healthz");
    BOOST_TEST(health.status == 200);
    BOOST_TEST(health.body == "ok\n");
    // Its root is not up: alive, not ready, and it says why.
    const auto early = co_await http_get(metrics_port, "/readyz");
    BOOST_TEST(early.status == 503);
    BOOST_TEST(early.body == "not ready: not linked to root 'hub'\n");
    BOOST_TEST(value_of("\n" + (co_await http_get(metrics_port, "/metrics")).body, "ember_link_up{root=\"hub\"}") == 0);

    hub.emplace(io, config, "hub");
    start(*hub);
    int status = 0;
    for (int i = 0; i < 2500 && status != 200; ++i) {  // until the link is up (a backoff away)
      status = (co_await http_get(metrics_port, "/readyz")).status;
      if (status != 200) {
        asio::steady_timer t(io, 10ms);
        co_await t.async_wait(asio::use_awaitable);
      }
    }
    BOOST_REQUIRE(status == 200);
    BOOST_TEST((co_await http_get(metrics_port, "/readyz")).body == "ready\n");

    co_await make_requests();
    // A connection to the WebSocket listener (its upgrade not sent: a session all the same),
    // counted apart from the client port's; until the server has accepted it (10 s at most).
    asio::ip::tcp::socket browser(io);
    browser.connect({asio::ip::make_address("127.0.0.1"), websocket_port});
    const auto m = co_await scrape_until(metrics_port, "ember_sessions{listener=\"websocket\"}", 1);
    BOOST_TEST(m.status == 200);
    BOOST_TEST(m.head.find("Content-Type: text/plain; version=0.0.4") != std::string::npos, m.head);
    const auto text = "\n" + m.body;
    BOOST_TEST_MESSAGE(m.body);
    BOOST_TEST(value_of(text, "ember_requests_total{command=\"echo\",status=\"ok\"}") == 3);
    BOOST_TEST(value_of(text, "ember_requests_total{command=\"echo_overlapping\",status=\"ok\"}") == 1);
    BOOST_TEST(value_of(text, "ember_requests_total{command=\"raise_error\",status=\"ok\"}") == 0);
    BOOST_TEST(value_of(text, "ember_requests_total{command=\"raise_error\",status=\"1001\"}") == 1);  // refused
    // Every command of the schema has its series from the start, at 0 until asked.
    BOOST_TEST(value_of(text, "ember_requests_total{command=\"join\",status=\"ok\"}") == 0);
    BOOST_TEST(value_of(text, "ember_request_duration_seconds_count{command=\"join\"}") == 0);
    BOOST_TEST(value_of(text, "ember_request_failures_total{command=\"echo\"}") == 0);
    BOOST_TEST(value_of(text, "ember_request_failures_total{command=\"raise_error\"}") == 1);
    BOOST_TEST(value_of(text, "ember_request_duration_seconds_count{command=\"echo\"}") == 3);
    BOOST_TEST(value_of(text, "ember_request_duration_seconds_bucket{command=\"echo\",le=\"+Inf\"}") == 3);
    BOOST_TEST(value_of(text, "ember_request_duration_seconds_bucket{command=\"echo\",le=\"10\"}") == 3);
    BOOST_TEST(value_of(text, "ember_request_duration_seconds_sum{command=\"echo\"}") > 0);
    BOOST_TEST(value_of(text, "ember_client_requests_total") == 7);
    BOOST_TEST(value_of(text, "ember_pushes_total") == 3);
    BOOST_TEST(value_of(text, "ember_broadcasts_total") == 1);
    BOOST_TEST(value_of(text, "ember_client_write_queue_bytes") >= 0);
    // The overload budget (limits.overload), untouched by a few requests.
    BOOST_TEST(value_of(text, "ember_overload_budget_bytes") == 1 << 30);
    BOOST_TEST(value_of(text, "ember_client_buffered_bytes{kind=\"output\"}") >= 0);
    BOOST_TEST(value_of(text, "ember_client_buffered_bytes{kind=\"input\"}") >= 0);
    BOOST_TEST(value_of(text, "ember_client_buffered_bytes_peak") > 0);  // replies went out
    BOOST_TEST(value_of(text, "ember_overloaded") == 0);
    BOOST_TEST(value_of(text, "ember_requests_refused_overloaded_total") == 0);
    BOOST_TEST(value_of(text, "ember_sessions_shed_total") == 0);
    BOOST_TEST(value_of(text, "ember_client_request_failures_total") == 1);
    // Sessions and connections by listener: the native client port and the WebSocket one.
    BOOST_TEST(value_of(text, "ember_connections_accepted_total{listener=\"tcp\"}") == 1);
    BOOST_TEST(value_of(text, "ember_connections_accepted_total{listener=\"websocket\"}") == 1);
    BOOST_TEST(value_of(text, "ember_connections_refused_total{listener=\"tcp\"}") == 0);
    BOOST_TEST(value_of(text, "ember_connections_refused_total{listener=\"websocket\"}") == 0);
    BOOST_TEST(value_of(text, "ember_connections_closed_total{listener=\"websocket\"}") == 0);
    BOOST_TEST(value_of(text, "ember_sessions{listener=\"websocket\"}") == 1);
    BOOST_TEST(value_of(text, "ember_sessions{listener=\"tcp\"}") >= 0);  // the client's, closing
    BOOST_TEST(text.find("\nember_sessions ") == std::string::npos);  // no unlabelled sample
    browser.close();
    BOOST_TEST(value_of(text, "ember_link_up{root=\"hub\"}") == 1);
    BOOST_TEST(value_of(text, "ember_ready") == 1);
    BOOST_TEST(value_of(text, "ember_server_info{server=\"solo\",type=\"game\"}") == 1);
    BOOST_TEST(value_of(text, "process_resident_memory_bytes") > 0);
    BOOST_TEST(value_of(text, "process_open_fds") > 3);
    BOOST_TEST(value_of(text, "process_start_time_seconds") > 1.7e9);
    BOOST_TEST(value_of(text, "process_cpu_seconds_total") >= 0);
    // The latency buckets are cumulative: never fewer at a larger bound.
    const std::regex bucket("ember_request_duration_seconds_bucket\\{command=\"echo\",le=\"[^\"]+\"\\} (\\d+)");
    double last = 0;
    int buckets = 0;
    for (std::sregex_iterator it(m.body.begin(), m.body.end(), bucket), end; it != end; ++it, ++buckets) {
      const double v = std::stod((*it)[1]);
      BOOST_TEST(v >= last);
      last = v;
    }
    BOOST_TEST(buckets == 17);  // 16 bounds and +Inf

    if (auto verdict = promtool_check(m.body)) {
      BOOST_TEST(verdict->first == 0, "promtool check metrics: " << verdict->second);
    } else {
      BOOST_TEST_MESSAGE("SKIPPED: promtool check metrics (/usr/bin/promtool is absent: apt-get install prometheus)");
    }

    // Calls over the link to the hub, by result; a counter of the game's own.
    auto& widgets = solo.counter("ember_test_widgets_total", "Widgets made by the test.");
    widgets += 2;
    BOOST_TEST(&solo.counter("ember_test_widgets_total", "again") == &widgets);  // one counter per name
    const auto link = solo.node("hub")->current();
    BOOST_REQUIRE(link);
    BOOST_TEST((co_await link->call<nettest::cmd::echo>({7, "over the link", 0})).has_value());
    BOOST_TEST(!(co_await link->call<nettest::cmd::raise_error>({false, 0})).has_value());
    const auto after = "\n" + (co_await http_get(metrics_port, "/metrics")).body;
    BOOST_TEST(value_of(after, "ember_link_calls_total{result=\"ok\"}") == 1);
    BOOST_TEST(value_of(after, "ember_link_calls_total{result=\"error\"}") == 1);
    BOOST_TEST(value_of(after, "ember_link_calls_total{result=\"timeout\"}") == 0);
    BOOST_TEST(value_of(after, "ember_link_write_queue_bytes") >= 0);
    BOOST_TEST(value_of(after, "ember_test_widgets_total") == 2);
    // The WebSocket connection closed above, counted on its listener (10 s at most).
    const auto closed =
        "\n" + (co_await scrape_until(metrics_port, "ember_connections_closed_total{listener=\"websocket\"}", 1)).body;
    BOOST_TEST(value_of(closed, "ember_connections_closed_total{listener=\"websocket\"}") == 1);
    BOOST_TEST(value_of(closed, "ember_sessions{listener=\"websocket\"}") == 0);
    BOOST_TEST(after.find("# HELP ember_test_widgets_total Widgets made by the test.\n# TYPE ember_test_widgets_total counter\n") != std::string::npos);
    if (auto verdict = promtool_check(after.substr(1)))
      BOOST_TEST(verdict->first == 0, "promtool check metrics: " << verdict->second);
    // The hub served those calls: counted there by status.
    std::string hub_text;
    ember::detail::prometheus_writer hw(hub_text);
    hub->write_metrics(hw);
    hub_text = "\n" + hub_text;
    BOOST_TEST(value_of(hub_text, "ember_requests_total{command=\"echo\",status=\"ok\"}") == 1);
    BOOST_TEST(value_of(hub_text, "ember_requests_total{command=\"raise_error\",status=\"1001\"}") == 1);
    // A counter's name is checked: Prometheus' syntax, `_total`, not one the host writes.
    BOOST_CHECK_THROW(solo.counter("widgets", "no _total"), std::invalid_argument);
    BOOST_CHECK_THROW(solo.counter("9_widgets_total", "starts with a digit"), std::invalid_argument);
    BOOST_CHECK_THROW(solo.counter("ember widgets_total", "a space"), std::invalid_argument);
    BOOST_CHECK_THROW(solo.counter("ember_pushes_total", "the host's"), std::invalid_argument);

    BOOST_TEST((co_await http_get(metrics_port, "/nope")).status == 404);
    BOOST_TEST((co_await http_get(metrics_port, "/metrics", "POST")).status == 405);
    co_await solo.stop(100ms);
    const auto stopping = co_await http_get(metrics_port, "/readyz");
    BOOST_TEST(stopping.status == 503);
    BOOST_TEST(stopping.body == "not ready: stopping\n");
    co_await hub->stop(100ms);
  }(), 60s);
}

BOOST_FIXTURE_TEST_CASE(a_metricsport_in_use_is_refused_when_the_server_starts, cluster_fixture) {
  asio::ip::tcp::acceptor taken(io, {asio::ip::make_address("127.0.0.1"), metrics_port});
  app::host solo(io, config, "solo");
  BOOST_CHECK_THROW(solo.serve_metrics(), std::system_error);
}

// The real thing: Debian's Prometheus, pointed at the server through the file_sd file
// ember-master writes, scrapes it every second; a query gives back the client's counts.
BOOST_FIXTURE_TEST_CASE(a_real_prometheus_scrapes_the_server_and_a_query_returns_the_clients_request_counts,
                        cluster_fixture) {
  if (::access("/usr/bin/prometheus", X_OK) != 0) {
    BOOST_TEST_MESSAGE("SKIPPED: /usr/bin/prometheus is absent (apt-get install prometheus)");
    return;
  }
  const auto dir = fs::temp_directory_path() / fmt::format("ember-prometheus-{}", ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    std::ofstream(dir / "targets.json") << master::prometheus_sd_json(config);
    std::ofstream(dir / "prometheus.yml")
        << "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
           "scrape_configs:\n"
           "  - job_name: ember\n"
           "    scrape_interval: 1s\n"
           "    file_sd_configs: [{files: ['" << (dir / "targets.json").string() << "'], refresh_interval: 1s}]\n";
  }
  const auto prom_port = static_cast<std::uint16_t>(base + 3);
  app::host hub(io, config, "hub");
  app::host solo(io, config, "solo");
  start(hub);
  start(solo);
  test::child_process prometheus(
      {"/usr/bin/prometheus", "--config.file=" + (dir / "prometheus.yml").string(),
       "--storage.tsdb.path=" + (dir / "data").string(),
       fmt::format("--web.listen-address=127.0.0.1:{}", prom_port)},
      dir / "prometheus.log");
  test::run(io, [&]() -> asio::awaitable<void> {
    co_await make_requests();
    // Until a scrape after the requests is stored (each loop is 100 ms: 90 s at most).
    const std::string query = "/api/v1/query?query=ember_requests_total%7Bcommand%3D%22echo%22%7D";
    std::string answer;
    bool seen = false;
    for (int i = 0; i < 900 && !seen; ++i) {
      answer = (co_await http_get(prom_port, query)).body;
      seen = answer.find(R"("value":[)") != std::string::npos;
      if (!seen) {
        asio::steady_timer t(io, 100ms);
        co_await t.async_wait(asio::use_awaitable);
      }
    }
    BOOST_TEST_MESSAGE(answer);
    BOOST_REQUIRE_MESSAGE(seen, "Prometheus never stored a scrape; its log:\n" << test::read_text(dir / "prometheus.log"));
    BOOST_TEST(answer.find(R"("status":"success")") != std::string::npos, answer);
    BOOST_TEST(answer.find(R"("job":"ember")") != std::string::npos, answer);
    BOOST_TEST(answer.find(R"("server":"solo")") != std::string::npos, answer);  // file_sd's label
    BOOST_TEST(answer.find(R"(,"3"]}])") != std::string::npos, answer);
    // The failures, summed over commands by Prometheus.
    const auto failed = (co_await http_get(
        prom_port, "/api/v1/query?query=sum(ember_request_failures_total)")).body;
    BOOST_TEST(failed.find(R"(,"1"]}])") != std::string::npos, failed);
    co_await solo.stop(100ms);
    co_await hub.stop(100ms);
  }(), 120s);
  prometheus.signal(SIGTERM);
  BOOST_TEST(prometheus.wait_exit(30s) == 0);
  fs::remove_all(dir);
}
