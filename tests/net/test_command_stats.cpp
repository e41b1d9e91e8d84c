// command_stats (ember/net/command_stats.hpp): counts, failures and latency percentiles per
// command, and the histogram under it (ember/detail/histogram.hpp), with known inputs.
#include "ember/net/command_stats.hpp"

#define BOOST_TEST_MODULE ember::net::command_stats
#include <boost/test/unit_test.hpp>

#include <array>
#include <chrono>
#include <string>

#include "ember/net/dispatch.hpp"

using namespace std::chrono_literals;
using ember::net::command_stats;

namespace {

// A histogram value is its bucket's upper edge: at most 1/64 above the true one.
bool within_error(std::uint64_t got, std::uint64_t want) {
  return got >= want && double(got) <= double(want) * (1.0 + 1.0 / 64) + 1;
}

std::string json_of(const ember::net::command_stats& s, std::span<const ember::command_info> names = {},
                    std::string_view gateway_type = {}) {
  ember::buffer out;
  ember::codec::json_writer w(out);
  s.write_json(w, names, gateway_type);
  return std::string(reinterpret_cast<const char*>(out.data()), out.size());
}

}  // namespace

BOOST_AUTO_TEST_CASE(requests_and_failures_are_counted_per_command) {
  ember::net::command_stats s;
  BOOST_TEST(s.find(7) == nullptr);
  for (int i = 0; i < 100; ++i) s.record(7, 10us, 0);
  for (int i = 0; i < 5; ++i) s.record(7, 20us, 1003);
  s.record(3, 1ms, 7);
  s.record(65535, 1us, 0);
  BOOST_REQUIRE(s.find(7) != nullptr);
  BOOST_TEST(s.find(7)->count == 105u);
  BOOST_TEST(s.find(7)->failed == 5u);
  BOOST_TEST(s.find(3)->count == 1u);
  BOOST_TEST(s.find(3)->failed == 1u);
  BOOST_TEST(s.size() == 3u);
  const auto all = s.summaries();
  BOOST_REQUIRE(all.size() == 3u);
  BOOST_TEST(all[0].id == 3u);  // by id
  BOOST_TEST(all[1].id == 7u);
  BOOST_TEST(all[2].id == 65535u);
  BOOST_TEST(all[0].max_us == 1000u);
  BOOST_TEST(all[1].p50_us == 10u);
  BOOST_TEST(all[1].max_us == 20u);
  s.clear();
  BOOST_TEST(s.size() == 0u);
}

BOOST_AUTO_TEST_CASE(percentiles_are_within_the_histograms_error) {
  ember::net::command_stats s;
  // 1..1000 us, shuffled a little: the order does not matter.
  for (int i = 1; i <= 1000; ++i) s.record(1, std::chrono::microseconds((i * 337) % 1000 + 1), 0);
  const auto e = s.find(1);
  BOOST_REQUIRE(e);
  const auto& h = e->latency;
  BOOST_TEST(h.count() == 1000u);
  BOOST_TEST(h.max() == 1'000'000u);
  BOOST_TEST(within_error(h.quantile(0.5), 500'000), h.quantile(0.5));
  BOOST_TEST(within_error(h.quantile(0.9), 900'000), h.quantile(0.9));
  BOOST_TEST(within_error(h.quantile(0.99), 990'000), h.quantile(0.99));
  BOOST_TEST(h.quantile(1.0) == 1'000'000u);
  const auto sum = s.summaries().at(0);
  BOOST_TEST(within_error(sum.p50_us, 500), sum.p50_us);
  BOOST_TEST(within_error(sum.p90_us, 900), sum.p90_us);
  BOOST_TEST(within_error(sum.p99_us, 990), sum.p99_us);
  BOOST_TEST(sum.max_us == 1000u);
  // Sub-microsecond latencies read as 1: a request never reads as taking no time.
  ember::net::command_stats fast;
  fast.record(2, 300ns, 0);
  BOOST_TEST(fast.summaries().at(0).p50_us == 1u);
  BOOST_TEST(fast.summaries().at(0).max_us == 1u);
}

BOOST_AUTO_TEST_CASE(the_histogram_is_exact_for_small_values_and_clamps_huge_ones) {
  ember::detail::log_linear_histogram<7, 40> h;
  for (std::uint64_t v = 0; v < 128; ++v) h.record(v);  // below 2^7: one bucket per value
  BOOST_TEST(h.quantile(0.5) == 63u);
  BOOST_TEST(h.quantile(1.0) == 127u);
  const std::uint64_t huge = std::uint64_t{1} << 50;  // past 2^40: the top bucket, max exact
  h.record(huge);
  BOOST_TEST(h.count() == 129u);
  BOOST_TEST(h.max() == huge);
  BOOST_TEST(h.quantile(1.0) == huge);
  ember::detail::histogram wide;  // ember-bench's: every 64-bit value
  wide.record(~std::uint64_t{0});
  wide.record(1000);
  BOOST_TEST(wide.quantile(1.0) == ~std::uint64_t{0});
  BOOST_TEST(within_error(wide.quantile(0.5), 1000));
  wide.merge(wide);
  BOOST_TEST(wide.count() == 4u);
  wide.reset();
  BOOST_TEST(wide.count() == 0u);
  BOOST_TEST(wide.quantile(0.5) == 0u);
  static_assert(sizeof(ember::net::command_stats::histogram) < 19 * 1024);
}

BOOST_AUTO_TEST_CASE(the_json_names_commands_and_marks_forwarded_ones) {
  ember::net::command_stats s;
  s.record(101, 2ms, 0);
  s.record(101, 4ms, 1000);
  s.record(102, 1ms, 0);
  s.record(999, 1ms, 0);
  const std::array<ember::command_info, 3> names{{{101, "login", "game", true, false},
                                                  {102, "status", "net", true, false},
                                                  {103, "save", "db", true, true}}};
  const auto text = json_of(s, names, "net");
  BOOST_TEST(text.starts_with(R"([{"id":101,"name":"login","forwarded":true,"count":2,"failed":1,"p50_us":)"), text);
  BOOST_TEST(text.find(R"({"id":102,"name":"status","forwarded":false,"count":1,"failed":0,)") != std::string::npos, text);
  BOOST_TEST(text.find(R"({"id":999,"name":null,"forwarded":false,"count":1,"failed":0,"p50_us":1000,"p90_us":1000,"p99_us":1000,"max_us":1000}])") != std::string::npos, text);
  // Not a gateway: nothing is forwarded.
  BOOST_TEST(json_of(s, names).find(R"("forwarded":true)") == std::string::npos);
  BOOST_TEST(json_of(ember::net::command_stats{}) == "[]");
}

// Many records over a few commands: each command counts its share, and its failures.
BOOST_AUTO_TEST_CASE(two_million_records_over_eight_commands_are_each_counted) {
  ember::net::command_stats s;
  const int n = 2'000'000;
  for (int i = 0; i < n; ++i)
    s.record(static_cast<std::uint16_t>(100 + i % 8), std::chrono::nanoseconds(1000 + i % 5000),
             i % 97 == 0 ? std::uint16_t{1000} : std::uint16_t{0});
  std::uint64_t count = 0, failed = 0;
  for (std::uint16_t id = 100; id < 108; ++id) {
    BOOST_TEST(s.find(id)->count == std::uint64_t(n / 8));
    count += s.find(id)->count;
    failed += s.find(id)->failed;
  }
  BOOST_TEST(count == std::uint64_t(n));
  BOOST_TEST(failed == std::uint64_t((n + 96) / 97));
}

// A registered command has its slot before its first request: recording adds no entry, and a
// scrape shows it at 0 (Prometheus' rates start from there).
BOOST_AUTO_TEST_CASE(a_dispatch_table_makes_each_commands_slot_when_it_is_registered) {
  auto s = std::make_shared<command_stats>();
  ember::net::dispatch_table t;
  ember::net::command_entry e;
  e.id = 10;
  e.name = "first";
  t.add_entry(e);
  t.set_stats(s);
  e.id = 11;  // after the stats: made when added
  e.name = "second";
  t.add_entry(e);
  BOOST_TEST(s->slots() == 2u);
  BOOST_TEST(s->size() == 0u);  // none counted yet
  BOOST_TEST(s->find(10) == nullptr);
  s->record(11, 1ms, 0);
  BOOST_TEST(s->slots() == 2u);
  BOOST_TEST(s->find(11)->count == 1u);
  std::string text;
  ember::detail::prometheus_writer w(text);
  s->write_prometheus(w);
  BOOST_TEST(text.find("ember_requests_total{command=\"id_10\",status=\"ok\"} 0\n") != std::string::npos, text);
  BOOST_TEST(text.find("ember_requests_total{command=\"id_11\",status=\"ok\"} 1\n") != std::string::npos, text);
}

// Requests are counted by the status their error frame carried: ember's statuses by name, a
// game's by code, and past `status_slots` distinct ones, as "other".
BOOST_AUTO_TEST_CASE(failures_are_counted_by_status_and_distinct_statuses_are_bounded) {
  command_stats s;
  s.record(5, 1ms, 0);
  s.record(5, 1ms, 0);
  s.record(5, 1ms, static_cast<std::uint16_t>(ember::status::timeout));
  s.record(5, 1ms, 1003);
  s.record(5, 1ms, 1003);
  const auto* e = s.find(5);
  BOOST_REQUIRE(e);
  BOOST_TEST(e->with_status(0) == 2u);
  BOOST_TEST(e->with_status(7) == 1u);
  BOOST_TEST(e->with_status(1003) == 2u);
  BOOST_TEST(e->failed == 3u);
  std::string text;
  ember::detail::prometheus_writer w(text);
  const std::array<ember::command_info, 1> names{{{5, "buy", "game", true, false}}};
  s.write_prometheus(w, names);
  BOOST_TEST(text.find("ember_requests_total{command=\"buy\",status=\"ok\"} 2\n"
                       "ember_requests_total{command=\"buy\",status=\"timeout\"} 1\n"
                       "ember_requests_total{command=\"buy\",status=\"1003\"} 2\n") != std::string::npos, text);
  for (std::uint16_t code = 2000; code < 2000 + 2 * command_stats::status_slots; ++code) s.record(5, 1ms, code);
  BOOST_TEST(e->statuses == command_stats::status_slots);
  BOOST_TEST(e->other_failed == command_stats::status_slots + 2);  // 2 slots were taken before
  std::string again;
  ember::detail::prometheus_writer w2(again);
  s.write_prometheus(w2, names);
  BOOST_TEST(again.find("ember_requests_total{command=\"buy\",status=\"other\"} 10\n") != std::string::npos, again);
}
