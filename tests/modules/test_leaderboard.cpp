// The leaderboard module (docs/modules/leaderboard.md) over real memcached, SQLite and
// PostgreSQL: the operators and a write's override, ascending and descending boards, ties,
// paging boundaries with cursors, around / own rank / among players / friends, reset periods on
// a clock the test moves with past periods readable, ranks rebuilt from the database after a
// restart (clean, and from the journal after a stop that wrote nothing back), authoritative
// boards, typed errors, and the client commands through a real server and client.
#define BOOST_TEST_MODULE leaderboard
#include <boost/test/unit_test.hpp>

#include <limits>
#include <map>
#include <memory>
#include <random>
#include <sstream>

#include <signal.h>

#include <thread>

#include <asio/executor_work_guard.hpp>

#include "ember/app/module_options.hpp"
#include "ember/cluster/ownership.hpp"
#include "ember/cluster/root.hpp"
#include "ember/modules/leaderboard/detail/ember_leaderboard_client.hpp"
#include "ember/modules/leaderboard/leaderboard.hpp"
#include "ember/net/client.hpp"
#include "ember/net/server.hpp"
#include "support/data_env.hpp"
#include "support/error_of.hpp"
#include "support/process.hpp"
#include "support/run.hpp"

namespace ember_leaderboard {
std::ostream& operator<<(std::ostream& os, const record& r) { return os << fmt::format("{}", r); }
}  // namespace ember_leaderboard

namespace lb = ember::modules::leaderboard;
namespace el = ember_leaderboard;
using namespace std::chrono_literals;
using ember::test::error_of;

namespace {

constexpr std::int64_t minute = 60'000, hour = 60 * minute, day = 24 * hour;
constexpr std::int64_t jan_1 = 1767225600000;  // 2026-01-01 00:00 UTC, a Thursday
constexpr std::int64_t jan_5 = 1767571200000;  // 2026-01-05 00:00 UTC, a Monday

lb::options game_options() {
  lb::options o;
  for (const char* spec : {"high desc best metadata=32", "low asc best", "total desc incr", "down desc decr",
                           "last desc set", "daily desc best reset=0 0 * * *", "weekly desc best reset=0 0 * * 1",
                           "monthly desc incr reset=0 0 1 * *", "server desc best authoritative"})
    o.boards.push_back(lb::options::parse_board(spec));
  o.max_page = 10;
  o.max_players = 5;
  o.past_periods = 3;
  return o;
}

/// A process's leaderboards: a data_env node, a service on it with the test's clock, started.
struct lb_node {
  lb_node(ember::test::data_env& e, asio::io_context& io, std::int64_t& now, const std::string& journal = "node.journal")
      : node(e, io, journal), service(node.store, bus, game_options(), [&now] { return now; }) {
    node.open();
    ember::test::run(io, service.start());
  }
  ember::test::data_env::node node;
  ember::modules::event_bus bus;
  lb::service service;
};

int code(el::error e) { return static_cast<int>(e); }

lb::write_request w(std::int64_t score, std::int64_t subscore = 0, el::write_operator op = el::write_operator::board,
                    std::string op_id = {}, std::string metadata = {}) {
  return lb::write_request{score, subscore, std::move(metadata), op, std::move(op_id)};
}

std::vector<std::uint64_t> owners(const std::vector<el::record>& rs) {
  std::vector<std::uint64_t> out;
  for (const auto& r : rs) out.push_back(r.owner);
  return out;
}
std::vector<std::uint64_t> ranks(const std::vector<el::record>& rs) {
  std::vector<std::uint64_t> out;
  for (const auto& r : rs) out.push_back(r.rank);
  return out;
}
// Lists as function arguments: a braced list inside a coroutine trips g++ 12 ("array used as
// initializer"), so the tests spell owner lists with list(...).
template <class... T>
std::vector<std::uint64_t> list(T... v) {
  std::vector<std::uint64_t> out;
  (out.push_back(static_cast<std::uint64_t>(v)), ...);
  return out;
}

/// Every record of a period, walking the pages by cursor.
asio::awaitable<std::vector<el::record>> everything(lb::service& s, std::string board, std::int64_t period, std::uint32_t limit) {
  std::vector<el::record> out;
  std::optional<el::record_cursor> at;
  for (int guard = 0; guard < 100'000; ++guard) {
    auto p = co_await s.top(board, period, limit, at);
    out.insert(out.end(), p.records.begin(), p.records.end());
    if (!p.next) break;
    at = p.next;
  }
  co_return out;
}

}  // namespace

// --- the schedule

BOOST_AUTO_TEST_CASE(cron_schedules_give_daily_weekly_and_monthly_periods_and_refuse_bad_fields) {
  auto daily = lb::cron_schedule::parse("0 0 * * *");
  BOOST_TEST_REQUIRE(daily.has_value());
  BOOST_TEST(daily->last_at_or_before(jan_5 + 10 * hour) == jan_5);
  BOOST_TEST(daily->last_at_or_before(jan_5) == jan_5);  // a firing starts its own period
  BOOST_TEST(daily->last_at_or_before(jan_5 - 1) == jan_5 - day);
  BOOST_TEST(daily->next_after(jan_5) == jan_5 + day);
  auto weekly = lb::cron_schedule::parse("0 0 * * 1");
  BOOST_TEST(weekly->last_at_or_before(jan_1) == jan_5 - 7 * day);  // Monday 29 December
  BOOST_TEST(weekly->last_at_or_before(jan_5 + 6 * day + 23 * hour) == jan_5);
  BOOST_TEST(weekly->next_after(jan_5) == jan_5 + 7 * day);
  auto sunday7 = lb::cron_schedule::parse("30 6 * * 7");  // 7 is Sunday, as 0
  BOOST_TEST(sunday7->next_after(jan_1) == jan_1 + 3 * day + 6 * hour + 30 * minute);
  auto monthly = lb::cron_schedule::parse("0 0 1 * *");
  BOOST_TEST(monthly->last_at_or_before(jan_5) == jan_1);
  BOOST_TEST(monthly->next_after(jan_1) == jan_1 + 31 * day);
  auto lists = lb::cron_schedule::parse("0,30 8-9 * * *");
  BOOST_TEST(lists->next_after(jan_1) == jan_1 + 8 * hour);
  BOOST_TEST(lists->next_after(jan_1 + 8 * hour) == jan_1 + 8 * hour + 30 * minute);
  BOOST_TEST(lists->next_after(jan_1 + 9 * hour + 30 * minute) == jan_1 + day + 8 * hour);
  auto steps = lb::cron_schedule::parse("*/15 * * * *");
  BOOST_TEST(steps->last_at_or_before(jan_1 + 44 * minute) == jan_1 + 30 * minute);
  // day of month and day of week both restricted: either (cron's rule)
  auto either = lb::cron_schedule::parse("0 0 2 * 1");
  BOOST_TEST(either->next_after(jan_1) == jan_1 + day);       // Friday the 2nd
  BOOST_TEST(either->next_after(jan_1 + day) == jan_5);       // Monday the 5th
  auto leap = lb::cron_schedule::parse("0 0 29 2 *");         // every 29 February
  BOOST_TEST(leap->next_after(jan_1) > jan_1 + 2 * 365 * day);
  for (const char* bad : {"", "0 0 * *", "0 0 * * * *", "60 0 * * *", "0 24 * * *", "0 0 0 * *", "0 0 * 13 *",
                          "0 0 * * 8", "a b c d e", "*/0 * * * *", "1,,2 * * * *", "5-1 * * * *", "0 0 31 2 *",
                          "-1 * * * *", "1, * * * *"}) {
    std::string why;
    BOOST_TEST(!lb::cron_schedule::parse(bad, &why).has_value(), bad);
    BOOST_TEST(!why.empty(), bad);
  }
}

BOOST_AUTO_TEST_CASE(board_definitions_are_parsed_and_bad_ones_refused) {
  auto b = lb::options::parse_board("races asc set authoritative metadata=64 reset=0 0 * * 1");
  BOOST_TEST(b.id == "races");
  BOOST_TEST((b.order == el::sort_order::ascending));
  BOOST_TEST((b.op == el::write_operator::set));
  BOOST_TEST(b.authoritative);
  BOOST_TEST(b.max_metadata == 64u);
  BOOST_TEST(b.reset == "0 0 * * 1");
  for (const char* bad : {"", "a:b desc", "x sideways", "x metadata=", "x metadata=200000", "x reset="})
    BOOST_CHECK_THROW(lb::options::parse_board(bad), std::invalid_argument);
  lb::options o;
  o.boards.push_back(lb::options::parse_board("x reset=0 0 31 2 *"));
  asio::io_context io;
  ember::test::data_env e(false);
  ember::test::data_env::node n(e, io);
  ember::modules::event_bus bus;
  BOOST_CHECK_THROW(lb::service(n.store, bus, o), std::invalid_argument);
  o.boards = {lb::options::parse_board("x"), lb::options::parse_board("x asc")};
  BOOST_CHECK_THROW(lb::service(n.store, bus, o), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(a_board_assigned_at_once_ranks_as_one_built_record_by_record) {
  std::mt19937_64 rng(3);
  for (auto order : {lb::sort_order::descending, lb::sort_order::ascending}) {
    lb::rank_index one_by_one(order, 8), at_once(order, 8);
    std::vector<lb::rank_key> keys;
    for (std::uint64_t o = 1; o <= 1000; ++o)
      keys.push_back({static_cast<std::int64_t>(rng() % 50), static_cast<std::int64_t>(rng() % 3), rng() % 5, o});
    for (const auto& k : keys) one_by_one.set(k);
    at_once.assign(keys);
    BOOST_TEST(at_once.size() == 1000u);
    for (std::uint64_t first = 1; first <= 1000; first += 37) {
      auto a = one_by_one.page(first, 50), b = at_once.page(first, 50);
      BOOST_TEST_REQUIRE(a.size() == b.size());
      for (std::size_t i = 0; i < a.size(); ++i) BOOST_TEST((a[i].key == b[i].key && a[i].rank == b[i].rank));
    }
    for (std::uint64_t o = 1; o <= 1000; o += 13) BOOST_TEST(at_once.rank(o) == one_by_one.rank(o));
    at_once.set({1000, 0, 0, 5});  // and it goes on as usual after
    BOOST_TEST(at_once.rank(5) == (order == lb::sort_order::descending ? 1u : 1000u));
  }
}

// --- writes

EMBER_ON_BOTH_DATABASES(each_operator_applies_and_a_write_may_override_the_boards) {
  asio::io_context io;
  std::int64_t now = jan_5;
  lb_node n(e, io, now);
  int events = 0;
  auto sub = n.bus.subscribe<el::score_written>([&](const el::score_written&) { ++events; });
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    auto& s = n.service;
    // best, descending: only a higher score replaces
    BOOST_TEST((co_await s.write("high", 1, w(10))).score == 10);
    BOOST_TEST((co_await s.write("high", 1, w(5))).score == 10);
    BOOST_TEST((co_await s.write("high", 1, w(10, 1))).subscore == 1);  // same score, better subscore
    BOOST_TEST((co_await s.write("high", 1, w(20))).score == 20);
    auto over = co_await s.write("high", 1, w(3, 0, el::write_operator::set));  // override: set
    BOOST_TEST(over.score == 3);
    BOOST_TEST(over.rank == 1u);
    // best, ascending: only a lower score replaces
    BOOST_TEST((co_await s.write("low", 1, w(10))).score == 10);
    BOOST_TEST((co_await s.write("low", 1, w(20))).score == 10);
    BOOST_TEST((co_await s.write("low", 1, w(5))).score == 5);
    // incr, with a decr override
    BOOST_TEST((co_await s.write("total", 1, w(10, 1))).score == 10);
    auto inc = co_await s.write("total", 1, w(5, 2));
    BOOST_TEST(inc.score == 15);
    BOOST_TEST(inc.subscore == 3);
    BOOST_TEST((co_await s.write("total", 1, w(3, 0, el::write_operator::decr))).score == 12);
    // decr from no record: from zero
    BOOST_TEST((co_await s.write("down", 1, w(4))).score == -4);
    BOOST_TEST((co_await s.write("down", 1, w(1))).score == -5);
    // set
    BOOST_TEST((co_await s.write("last", 1, w(9))).score == 9);
    BOOST_TEST((co_await s.write("last", 1, w(2))).score == 2);
    // overflow refused, the record unchanged
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> {
      co_await s.write("total", 1, w(std::numeric_limits<std::int64_t>::max()));
    }) == code(el::error::score_overflow));
    BOOST_TEST((co_await s.rank("total", 0, 1))->score == 12);
    co_await n.node.store.stop();
  }());
  BOOST_TEST(events == 13);  // one per write that changed a record
  BOOST_TEST(e.scalar("SELECT score FROM leaderboard_record WHERE id = 'high:0:1'") == 3);
  BOOST_TEST(e.scalar("SELECT score FROM leaderboard_record WHERE id = 'low:0:1'") == 5);
  BOOST_TEST(e.scalar("SELECT score FROM leaderboard_record WHERE id = 'total:0:1'") == 12);
  BOOST_TEST(e.scalar("SELECT subscore FROM leaderboard_record WHERE id = 'total:0:1'") == 3);
  BOOST_TEST(e.scalar("SELECT score FROM leaderboard_record WHERE id = 'down:0:1'") == -5);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM leaderboard_board") == 9);
}

EMBER_ON_BOTH_DATABASES(ties_rank_by_subscore_then_by_who_reached_the_score_first) {
  asio::io_context io;
  std::int64_t now = jan_5;
  lb_node n(e, io, now);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    auto& s = n.service;
    now += 1000;
    co_await s.write("high", 1, w(50, 1));
    now += 1000;
    co_await s.write("high", 2, w(50, 2));
    now += 1000;
    co_await s.write("high", 3, w(50, 2));
    now += 1000;
    co_await s.write("high", 4, w(50, 2));
    auto p = co_await s.top("high", 0, 10);
    BOOST_TEST(owners(p.records) == list(2, 3, 4, 1), boost::test_tools::per_element());
    BOOST_TEST(ranks(p.records) == list(1, 2, 3, 4), boost::test_tools::per_element());
    BOOST_TEST(p.records[0].updated_ms == jan_5 + 2000);
    // a write that does not improve keeps the record's time; a set to the same score does too
    now += 1000;
    co_await s.write("high", 2, w(50, 2));
    co_await s.write("high", 2, w(50, 2, el::write_operator::set));
    BOOST_TEST((co_await s.rank("high", 0, 2))->rank == 1u);
    // reaching the tie later ranks below those that reached it first
    co_await s.write("high", 1, w(50, 2));
    BOOST_TEST((co_await s.rank("high", 0, 1))->rank == 4u);
    BOOST_TEST((co_await s.rank("high", 0, 1))->updated_ms == now);
    // ascending: the lower subscore first
    co_await s.write("low", 1, w(7, 3));
    co_await s.write("low", 2, w(7, 1));
    BOOST_TEST(owners((co_await s.top("low", 0, 10)).records) == list(2, 1), boost::test_tools::per_element());
    co_await n.node.store.stop();
  }());
}

EMBER_ON_BOTH_DATABASES(an_operation_id_applies_once_and_metadata_is_kept_per_record) {
  asio::io_context io;
  std::int64_t now = jan_5;
  lb_node n(e, io, now);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    auto& s = n.service;
    BOOST_TEST((co_await s.write("total", 1, w(5, 0, el::write_operator::board, "race:1"))).score == 5);
    BOOST_TEST((co_await s.write("total", 1, w(5, 0, el::write_operator::board, "race:1"))).score == 5);  // retried
    BOOST_TEST((co_await s.write("total", 1, w(5, 0, el::write_operator::board, "race:2"))).score == 10);
    BOOST_TEST((co_await s.write("total", 1, w(5))).score == 15);  // no id: every write counts
    auto r = co_await s.write("high", 7, w(3, 0, el::write_operator::board, "", "{\"car\":\"red\"}"));
    BOOST_TEST(r.metadata == "{\"car\":\"red\"}");
    BOOST_TEST((co_await s.rank("high", 0, 7))->metadata == "{\"car\":\"red\"}");
    BOOST_TEST((co_await s.top("high", 0, 1)).records.at(0).metadata == "{\"car\":\"red\"}");
    // a write that does not improve a best record changes nothing, its metadata neither
    BOOST_TEST((co_await s.write("high", 7, w(2, 0, el::write_operator::board, "", "x"))).metadata == "{\"car\":\"red\"}");
    co_await n.node.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT score FROM leaderboard_record WHERE id = 'total:0:1'") == 15);
}

// --- reading

EMBER_ON_BOTH_DATABASES(pages_have_correct_ranks_across_ties_cursors_and_the_last_item) {
  asio::io_context io;
  std::int64_t now = jan_5;
  lb_node n(e, io, now);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    auto& s = n.service;
    // an empty board
    auto none = co_await s.top("last", 0, 3);
    BOOST_TEST(none.records.empty());
    BOOST_TEST(!none.next);
    BOOST_TEST(none.total == 0u);
    BOOST_TEST((co_await s.around("last", 0, 1, 3)).records.empty());
    BOOST_TEST(!(co_await s.rank("last", 0, 1)));
    // 7 records; owners 2, 3, 4 tie at 90 across the first page's end
    for (std::uint64_t o = 1; o <= 7; ++o) {
      now += 10;
      co_await s.write("last", o, w(o == 1 ? 100 : o <= 4 ? 90 : 130 - static_cast<std::int64_t>(o) * 10));
    }
    auto p1 = co_await s.top("last", 0, 3);
    BOOST_TEST(owners(p1.records) == list(1, 2, 3), boost::test_tools::per_element());
    BOOST_TEST(ranks(p1.records) == list(1, 2, 3), boost::test_tools::per_element());
    BOOST_TEST(p1.total == 7u);
    BOOST_TEST_REQUIRE(p1.next.has_value());
    auto p2 = co_await s.top("last", 0, 3, p1.next);
    BOOST_TEST(owners(p2.records) == list(4, 5, 6), boost::test_tools::per_element());
    BOOST_TEST(ranks(p2.records) == list(4, 5, 6), boost::test_tools::per_element());
    BOOST_TEST_REQUIRE(p2.next.has_value());
    auto p3 = co_await s.top("last", 0, 3, p2.next);
    BOOST_TEST(owners(p3.records) == list(7), boost::test_tools::per_element());
    BOOST_TEST(p3.records.at(0).rank == 7u);
    BOOST_TEST(!p3.next);  // the last page says so
    // a cursor at the last record: an empty page, no cursor
    auto past_end = co_await s.top("last", 0, 3, el::record_cursor(60, 0, p3.records[0].updated_ms, 7));
    BOOST_TEST(past_end.records.empty());
    BOOST_TEST(!past_end.next);
    // a page that ends exactly on the last record has no next cursor
    BOOST_TEST(co_await s.remove("last", 7));
    BOOST_TEST(!(co_await s.remove("last", 7)));
    auto q2 = co_await s.top("last", 0, 3, p1.next);
    BOOST_TEST(owners(q2.records) == list(4, 5, 6), boost::test_tools::per_element());
    BOOST_TEST(!q2.next);
    auto whole = co_await s.top("last", 0, 6);
    BOOST_TEST(whole.records.size() == 6u);
    BOOST_TEST(!whole.next);
    // someone climbs above while a reader pages: the cursor neither repeats nor skips, and the
    // ranks are the board's as it is now
    co_await s.write("last", 8, w(200));
    auto moved = co_await s.top("last", 0, 3, p1.next);
    BOOST_TEST(owners(moved.records) == list(4, 5, 6), boost::test_tools::per_element());
    BOOST_TEST(ranks(moved.records) == list(5, 6, 7), boost::test_tools::per_element());
    // around a player: centred, shifted at the ends
    BOOST_TEST(owners((co_await s.around("last", 0, 4, 3)).records) == list(3, 4, 5), boost::test_tools::per_element());
    BOOST_TEST(owners((co_await s.around("last", 0, 8, 3)).records) == list(8, 1, 2), boost::test_tools::per_element());
    BOOST_TEST(ranks((co_await s.around("last", 0, 6, 3)).records) == list(5, 6, 7), boost::test_tools::per_element());
    // a limit of 0 or over the page is a full page
    BOOST_TEST((co_await s.top("last", 0, 0)).records.size() == 7u);
    BOOST_TEST((co_await s.top("last", 0, 1000)).records.size() == 7u);
    // own rank
    auto mine = co_await s.rank("last", 0, 3);
    BOOST_TEST_REQUIRE(mine.has_value());
    BOOST_TEST(mine->rank == 4u);
    BOOST_TEST(mine->score == 90);
    co_await n.node.store.stop();
  }());
}

EMBER_ON_BOTH_DATABASES(among_players_and_friends_in_rank_order_with_whole_board_ranks) {
  asio::io_context io;
  std::int64_t now = jan_5;
  lb_node n(e, io, now);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    auto& s = n.service;
    for (std::uint64_t o = 1; o <= 9; ++o) co_await s.write("high", o, w(static_cast<std::int64_t>(o * 10)));
    auto some = co_await s.players("high", 0, list(3, 8, 42, 3, 5));
    BOOST_TEST(owners(some) == list(8, 5, 3), boost::test_tools::per_element());
    BOOST_TEST(ranks(some) == list(2, 5, 7), boost::test_tools::per_element());
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> {
      co_await s.players("high", 0, list(1, 2, 3, 4, 5, 6));
    }) == code(el::error::bad_limit));
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await s.friends("high", 0, 1); }) ==
               code(el::error::no_friends));
    s.set_friends([](std::uint64_t who) -> asio::awaitable<std::vector<std::uint64_t>> {
      co_return who == 1 ? list(9, 4, 77) : list();
    });
    auto mine = co_await s.friends("high", 0, 1);
    BOOST_TEST(owners(mine) == list(9, 4, 1), boost::test_tools::per_element());
    BOOST_TEST(ranks(mine) == list(1, 6, 9), boost::test_tools::per_element());
    co_await n.node.store.stop();
  }());
}

// --- periods

EMBER_ON_BOTH_DATABASES(a_board_resets_on_its_schedule_and_past_periods_stay_readable) {
  asio::io_context io;
  std::int64_t now = jan_5 + 10 * hour;  // Monday 10:00
  {
    lb_node n(e, io, now);
    ember::test::run(io, [&]() -> asio::awaitable<void> {
      auto& s = n.service;
      BOOST_TEST(s.current_period("daily") == jan_5);
      BOOST_TEST(s.current_period("weekly") == jan_5);
      BOOST_TEST(s.current_period("monthly") == jan_1);
      BOOST_TEST(s.current_period("high") == 0);
      co_await s.write("daily", 1, w(50));
      co_await s.write("daily", 2, w(60));
      co_await s.write("monthly", 1, w(5));
      now += day;  // Tuesday 10:00: a new day, the same week and month
      BOOST_TEST(s.current_period("daily") == jan_5 + day);
      BOOST_TEST(s.current_period("weekly") == jan_5);
      auto fresh = co_await s.top("daily", 0, 10);
      BOOST_TEST(fresh.records.empty());
      BOOST_TEST(fresh.period == jan_5 + day);
      co_await s.write("daily", 1, w(10));
      BOOST_TEST((co_await s.rank("daily", 0, 1))->score == 10);
      co_await s.write("monthly", 1, w(5));
      BOOST_TEST((co_await s.rank("monthly", 0, 1))->score == 10);  // incr within the month
      // yesterday, from memory
      auto y = co_await s.top("daily", jan_5, 10);
      BOOST_TEST(owners(y.records) == list(2, 1), boost::test_tools::per_element());
      BOOST_TEST(y.period == jan_5);
      BOOST_TEST((co_await s.rank("daily", jan_5, 1))->score == 50);
      // a time that is no period start, the future, a board without resets, too far back
      std::vector<std::int64_t> bads;
      bads.push_back(jan_5 + hour);
      bads.push_back(jan_5 + 2 * day);
      bads.push_back(jan_5 - 3 * day);
      bads.push_back(-5);
      bads.push_back(std::numeric_limits<std::int64_t>::min());
      bads.push_back(std::numeric_limits<std::int64_t>::max());
      for (const std::int64_t bad : bads)
        BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await s.top("daily", bad, 10); }) ==
                   code(el::error::bad_period));
      BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await s.top("high", jan_5, 10); }) ==
                 code(el::error::bad_period));
      // an older period (3 back is the limit here) reads from the database: empty
      auto old = co_await s.top("daily", jan_5 - 2 * day, 10);
      BOOST_TEST(old.records.empty());
      co_await n.node.store.stop();
    }());
  }
  // a restart: the current period and yesterday's come back from the database
  lb_node again(e, io, now, "node2.journal");
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    auto& s = again.service;
    BOOST_TEST(owners((co_await s.top("daily", 0, 10)).records) == list(1), boost::test_tools::per_element());
    auto y = co_await s.top("daily", jan_5, 10);
    BOOST_TEST(owners(y.records) == list(2, 1), boost::test_tools::per_element());
    BOOST_TEST(ranks(y.records) == list(1, 2), boost::test_tools::per_element());
    BOOST_TEST((co_await s.rank("monthly", 0, 1))->score == 10);
    now = jan_1 + 31 * day + hour;  // February: the month's incr starts again
    BOOST_TEST((co_await s.write("monthly", 1, w(1))).score == 1);
    BOOST_TEST((co_await s.rank("monthly", jan_1, 1))->score == 10);
    co_await again.node.store.stop();
  }());
}

// --- the database is the truth

EMBER_ON_BOTH_DATABASES(a_restart_rebuilds_the_same_ranks_from_the_database) {
  asio::io_context io;
  std::int64_t now = jan_5;
  std::vector<el::record> before_high, before_low;
  std::mt19937_64 rng(7);
  {
    lb_node n(e, io, now);
    ember::test::run(io, [&]() -> asio::awaitable<void> {
      for (int i = 0; i < 400; ++i) {
        now += static_cast<std::int64_t>(rng() % 3);  // many equal times: ties down to the owner
        const auto o = rng() % 150 + 1;
        const auto sc = static_cast<std::int64_t>(rng() % 40);
        co_await n.service.write("high", o, w(sc, static_cast<std::int64_t>(rng() % 3), el::write_operator::board, "",
                                              "m" + std::to_string(i)));
        co_await n.service.write("low", o, w(sc));
        if (i % 50 == 0) co_await n.service.remove("high", rng() % 150 + 1);
      }
      before_high = co_await everything(n.service, "high", 0, 7);
      before_low = co_await everything(n.service, "low", 0, 10);
      co_await n.node.store.stop();
    }(), 120s);
  }
  BOOST_TEST(before_high.size() > 100u);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM leaderboard_record WHERE board = 'high'") ==
             static_cast<std::int64_t>(before_high.size()));
  lb_node again(e, io, now, "node2.journal");
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    auto after_high = co_await everything(again.service, "high", 0, 9);
    auto after_low = co_await everything(again.service, "low", 0, 10);
    BOOST_TEST(after_high == before_high, boost::test_tools::per_element());
    BOOST_TEST(after_low == before_low, boost::test_tools::per_element());
    co_await again.node.store.stop();
  }(), 120s);
}

EMBER_ON_BOTH_DATABASES(acknowledged_writes_not_yet_written_back_come_back_from_the_journal) {
  asio::io_context io;
  std::int64_t now = jan_5;
  {
    // written and acknowledged, then the process goes without writing back (no stop()): the
    // rows are only in memcached and the journal
    lb_node n(e, io, now, "crash.journal");
    ember::test::run(io, [&]() -> asio::awaitable<void> {
      for (std::uint64_t o = 1; o <= 20; ++o) co_await n.service.write("high", o, w(static_cast<std::int64_t>(o)));
    }());
  }
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM leaderboard_record") < 20);
  lb_node again(e, io, now, "crash.journal");  // the same process again: its journal replays
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    auto all = co_await everything(again.service, "high", 0, 10);
    BOOST_TEST_REQUIRE(all.size() == 20u);
    BOOST_TEST(all.front().owner == 20u);
    BOOST_TEST(all.back().rank == 20u);
    co_await again.node.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM leaderboard_record") == 20);
}

#ifdef EMBER_LEADERBOARD_WORKER
// The board's owner, a real process, killed with SIGKILL while it writes; started again, it
// rebuilds the board from the database after writing back what its journal replayed.
EMBER_ON_BOTH_DATABASES(an_owner_killed_with_kill_9_under_writes_loses_no_acknowledged_score) {
  auto worker = [&](const char* mode) {
    std::vector<std::string> argv{EMBER_LEADERBOARD_WORKER, e.mc.address(), e.connection, (e.dir / "owner.journal").string(),
                                  mode};
    return ember::test::child_process(argv, e.dir / (std::string(mode) + ".log"));
  };
  std::map<std::uint64_t, std::int64_t> acked;
  std::int64_t last = 0;
  {
    auto w = worker("write");
    BOOST_TEST_REQUIRE(ember::test::wait_for_text(w.log(), "ack ", 120s, 400), ember::test::read_text(w.log()));
    w.kill_now();
    std::istringstream in(ember::test::read_text(w.log()));
    std::string word;
    std::uint64_t owner = 0;
    std::int64_t score = 0;
    while (in >> word) {
      if (word != "ack" || !(in >> owner >> score)) continue;
      acked[owner] = score;
      last = std::max(last, score);
    }
  }
  BOOST_TEST_REQUIRE(acked.size() == 50u);
  const auto in_flight_owner = static_cast<std::uint64_t>((last + 1) % 50 + 1);  // the write the kill cut
  auto l = worker("list");
  BOOST_TEST_REQUIRE(l.wait_exit(120s) == 0, ember::test::read_text(l.log()));
  std::istringstream in(ember::test::read_text(l.log()));
  std::string word;
  std::uint64_t owner = 0, rank = 0, expected_rank = 1;
  std::int64_t score = 0, previous = std::numeric_limits<std::int64_t>::max();
  std::size_t records = 0;
  while (in >> word) {
    if (word != "rec" || !(in >> owner >> score >> rank)) continue;
    ++records;
    const bool as_acked = acked.count(owner) && score == acked[owner];
    const bool the_cut_write = owner == in_flight_owner && score == last + 1;
    BOOST_TEST((as_acked || the_cut_write), "owner " << owner << " score " << score << " acked " << acked[owner]);
    BOOST_TEST(rank == expected_rank++);
    BOOST_TEST(score <= previous);
    previous = score;
  }
  BOOST_TEST(records == 50u);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM leaderboard_record WHERE board = 'kills'") == 50);
}

namespace {

// What one owner process printed (leaderboard_worker.cpp, mode `own`), in order.
struct owner_log {
  struct ack {
    std::uint64_t owner;
    std::int64_t score;
    long long at;
  };
  std::vector<long long> owned_at, released_at;  // each tenure's grant and (if it ended) release
  std::vector<ack> acks;
  std::vector<std::pair<std::uint64_t, std::int64_t>> took;  // the board as a takeover found it
  std::vector<std::uint64_t> took_ranks;
  std::vector<std::pair<std::uint64_t, std::int64_t>> listed;
};

owner_log read_owner_log(const std::filesystem::path& file) {
  owner_log out;
  std::istringstream in(ember::test::read_text(file));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream l(line);
    std::string word, name;
    l >> word;
    std::uint64_t owner = 0, rank = 0;
    std::int64_t score = 0;
    long long at = 0;
    if (word == "owner" && l >> name >> at) out.owned_at.push_back(at);
    else if (word == "released" && l >> name >> at) out.released_at.push_back(at);
    else if (word == "ack" && l >> owner >> score >> at) out.acks.push_back({owner, score, at});
    else if (word == "took" && l >> owner >> score >> rank) {
      out.took.emplace_back(owner, score);
      out.took_ranks.push_back(rank);
    } else if (word == "rec" && l >> owner >> score >> rank) out.listed.emplace_back(owner, score);
  }
  return out;
}

long long monotonic_now_ns() {
  return static_cast<long long>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    std::chrono::steady_clock::now().time_since_epoch())
                                    .count());
}

}  // namespace

// Two owner processes of one board (the lobbies of a cluster) and the owner registry (a
// cluster's gate) here: the board moves from a to b (a stops and writes back before b reads
// it), then b is killed with SIGKILL under writes; a takes the board over after b's lease,
// once b's journal was written back (a master runs b again), and finds every score b
// acknowledged. The two never hold the board at once.
EMBER_ON_BOTH_DATABASES(a_board_s_owner_killed_with_kill_9_is_taken_over_by_another_and_loses_no_acknowledged_score) {
  asio::io_context rio;
  ember::cluster::root_options ro;
  ro.name = "gate";
  ro.secret = "leaderboard suite secret";
  ember::cluster::root gate(rio.get_executor(), ro);
  ember::cluster::owner_registry registry(rio.get_executor(), gate, {}, 1s, 2s);
  gate.start();
  const auto port = gate.port();
  auto busy = asio::make_work_guard(rio);
  std::thread registry_thread([&] { rio.run(); });
  struct joiner {
    asio::io_context& io;
    std::thread& t;
    ~joiner() {
      io.stop();
      t.join();
    }
  } join_registry{rio, registry_thread};

  auto run = [&](std::vector<std::string> args, const std::string& log) {
    std::vector<std::string> argv{EMBER_LEADERBOARD_WORKER, e.mc.address(), e.connection};
    argv.insert(argv.end(), args.begin(), args.end());
    return ember::test::child_process(argv, e.dir / log);
  };
  const auto journal_a = (e.dir / "a.journal").string(), journal_b = (e.dir / "b.journal").string();
  // One after the other: the first makes the tables.
  auto a = run({journal_a, "own", "a", std::to_string(port), "0"}, "a.log");
  BOOST_TEST_REQUIRE(ember::test::wait_for_text(a.log(), "ready a", 120s), ember::test::read_text(a.log()));
  auto b = run({journal_b, "own", "b", std::to_string(port), "1000000"}, "b.log");
  BOOST_TEST_REQUIRE(ember::test::wait_for_text(b.log(), "ready b", 120s), ember::test::read_text(b.log()));

  a.signal(SIGUSR1);  // a owns the board and writes
  BOOST_TEST_REQUIRE(ember::test::wait_for_text(a.log(), "ack ", 120s, 200), ember::test::read_text(a.log()));
  b.signal(SIGUSR1);  // b acquires it: the registry makes a let go first
  BOOST_TEST_REQUIRE(ember::test::wait_for_text(b.log(), "ack ", 120s, 300), ember::test::read_text(b.log()));
  BOOST_TEST_REQUIRE(ember::test::wait_for_text(a.log(), "released a", 10s), ember::test::read_text(a.log()));
  const auto killed_at = monotonic_now_ns();
  b.kill_now();  // under writes: its last ones are in memcached and its journal only
  a.signal(SIGUSR1);  // refused while b's lease runs, then granted; a waits for b's journal
  auto recovered = run({journal_b, "recover"}, "b-recover.log");
  BOOST_TEST_REQUIRE(recovered.wait_exit(120s) == 0, ember::test::read_text(recovered.log()));
  BOOST_TEST_REQUIRE(ember::test::wait_for_text(a.log(), "took all", 120s), ember::test::read_text(a.log()));
  const auto acks_before = read_owner_log(a.log()).acks.size();
  BOOST_TEST_REQUIRE(ember::test::wait_for_text(a.log(), "ack ", 120s, acks_before + 100), ember::test::read_text(a.log()));
  a.signal(SIGUSR2);  // lists the board, writes back, exits
  BOOST_TEST_REQUIRE(a.wait_exit(120s) == 0, ember::test::read_text(a.log()));

  const auto la = read_owner_log(a.log()), lb_ = read_owner_log(b.log());
  BOOST_TEST_REQUIRE(la.owned_at.size() == 2u);
  BOOST_TEST_REQUIRE(la.released_at.size() == 1u);
  BOOST_TEST_REQUIRE(lb_.owned_at.size() == 1u);
  // One owner at a time: a let go before b was granted; a was granted again only after b died.
  BOOST_TEST(la.released_at[0] < lb_.owned_at[0]);
  BOOST_TEST(la.owned_at[1] > killed_at);
  for (const auto& k : la.acks) {
    const bool first_tenure = k.at < la.released_at[0];
    BOOST_TEST((first_tenure || k.at > la.owned_at[1]), "a acked at " << k.at << " outside its tenures");
  }
  for (const auto& k : lb_.acks) BOOST_TEST((k.at > lb_.owned_at[0] && k.at < killed_at));

  // The takeover found every score acknowledged before it, in rank order: a's, then b's.
  std::map<std::uint64_t, std::int64_t> acked;
  for (const auto& k : la.acks)
    if (k.at < la.released_at[0]) acked[k.owner] = k.score;
  std::int64_t last_b = 0;
  for (const auto& k : lb_.acks) {
    acked[k.owner] = k.score;
    last_b = k.score;
  }
  const auto cut_owner = static_cast<std::uint64_t>((last_b - 1'000'000 + 1) % 50 + 1);  // b's write the kill cut
  BOOST_TEST_REQUIRE(la.took.size() == 50u);
  for (std::size_t i = 0; i < la.took.size(); ++i) {
    const auto [owner, score] = la.took[i];
    const bool as_acked = score == acked[owner];
    const bool the_cut_write = owner == cut_owner && score == last_b + 1;
    BOOST_TEST((as_acked || the_cut_write), "owner " << owner << " found " << score << ", acked " << acked[owner]);
    BOOST_TEST(la.took_ranks[i] == i + 1);
    if (i > 0) BOOST_TEST(score <= la.took[i - 1].second);
  }
  // After a's writes, its ranks are the database's.
  BOOST_TEST_REQUIRE(la.listed.size() == 50u);
  for (std::size_t i = 0; i < la.listed.size(); ++i) {
    const auto [owner, score] = la.listed[i];
    BOOST_TEST(e.scalar("SELECT score FROM leaderboard_record WHERE board = 'kills' AND owner = " + std::to_string(owner)) ==
               score);
    if (i > 0) BOOST_TEST(score <= la.listed[i - 1].second);
  }
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM leaderboard_record WHERE board = 'kills'") == 50);
}
#endif

// --- refusals

EMBER_ON_BOTH_DATABASES(bad_input_and_authoritative_boards_get_typed_errors) {
  asio::io_context io;
  std::int64_t now = jan_5;
  lb_node n(e, io, now);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    auto& s = n.service;
    auto err = [&](auto op) { return error_of(op); };
    BOOST_TEST(co_await err([&]() -> asio::awaitable<void> { co_await s.write("nope", 1, w(1)); }) ==
               code(el::error::unknown_board));
    BOOST_TEST(co_await err([&]() -> asio::awaitable<void> { co_await s.top("nope", 0, 1); }) ==
               code(el::error::unknown_board));
    BOOST_TEST(co_await err([&]() -> asio::awaitable<void> {
      co_await s.write("high", 1, w(1, 0, el::write_operator::board, "", std::string(33, 'x')));
    }) == code(el::error::bad_metadata));
    BOOST_TEST(co_await err([&]() -> asio::awaitable<void> {
      co_await s.write("high", 1, w(1, 0, el::write_operator::board, "", "a\x01"));
    }) == code(el::error::bad_metadata));
    BOOST_TEST(co_await err([&]() -> asio::awaitable<void> {
      co_await s.write("high", 1, w(1, 0, el::write_operator::board, "", "\xff\xfe"));
    }) == code(el::error::bad_metadata));
    BOOST_TEST(co_await err([&]() -> asio::awaitable<void> {
      co_await s.write("high", 1, w(1, 0, el::write_operator::board, std::string(65, 'o')));
    }) == code(el::error::bad_op_id));
    BOOST_TEST(co_await err([&]() -> asio::awaitable<void> {
      co_await s.write("high", 1, w(1, 0, static_cast<el::write_operator>(9)));
    }) == code(el::error::bad_operator));
    // authoritative: the server writes, a client may not write or delete
    BOOST_TEST((co_await s.write("server", 1, w(5))).score == 5);
    BOOST_TEST(co_await err([&]() -> asio::awaitable<void> { co_await s.write("server", 1, w(9), true); }) ==
               code(el::error::authoritative));
    BOOST_TEST(co_await err([&]() -> asio::awaitable<void> { co_await s.remove("server", 1, true); }) ==
               code(el::error::authoritative));
    BOOST_TEST((co_await s.rank("server", 0, 1))->score == 5);
    BOOST_TEST(s.size("high") == 0u);  // nothing refused was stored
    co_await n.node.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM leaderboard_record") == 1);
}

// --- the client commands through a real server and client

namespace {

/// The commands, with a sign-in step for the test: the next request of a session not signed
/// in binds it to `next_user` (once).
struct signing_handler final : el::leaderboard_handler {
  explicit signing_handler(lb::handler& h) : real(h) {}
  lb::handler& real;
  std::uint64_t next_user = 0;
  void sign_in(ember::net::session& s) {
    if (!s.user() && next_user) s.bind_user(std::exchange(next_user, 0));
  }
  asio::awaitable<el::write_score_reply> write_score(ember::net::session& s, const el::write_score_request& r) override {
    sign_in(s);
    co_return co_await real.write_score(s, r);
  }
  asio::awaitable<el::list_top_reply> list_top(ember::net::session& s, const el::list_top_request& r) override {
    sign_in(s);
    co_return co_await real.list_top(s, r);
  }
  asio::awaitable<el::list_around_reply> list_around(ember::net::session& s, const el::list_around_request& r) override {
    sign_in(s);
    co_return co_await real.list_around(s, r);
  }
  asio::awaitable<el::my_rank_reply> my_rank(ember::net::session& s, const el::my_rank_request& r) override {
    sign_in(s);
    co_return co_await real.my_rank(s, r);
  }
  asio::awaitable<el::list_players_reply> list_players(ember::net::session& s, const el::list_players_request& r) override {
    sign_in(s);
    co_return co_await real.list_players(s, r);
  }
  asio::awaitable<el::list_friends_reply> list_friends(ember::net::session& s, const el::list_friends_request& r) override {
    sign_in(s);
    co_return co_await real.list_friends(s, r);
  }
  asio::awaitable<el::delete_score_reply> delete_score(ember::net::session& s, const el::delete_score_request& r) override {
    sign_in(s);
    co_return co_await real.delete_score(s, r);
  }
};

el::write_score_request ws(std::string board, std::int64_t score, std::string metadata = {}) {
  el::write_score_request r;
  r.board = std::move(board);
  r.score = score;
  r.metadata = std::move(metadata);
  return r;
}

}  // namespace

EMBER_ON_BOTH_DATABASES(clients_write_page_and_rank_through_a_real_server) {
  asio::io_context io;
  std::int64_t now = jan_5;
  lb_node n(e, io, now);
  n.service.set_friends([](std::uint64_t) -> asio::awaitable<std::vector<std::uint64_t>> {
    co_return list(3);
  });
  lb::handler commands(n.service);
  signing_handler h(commands);
  ember::net::dispatch_table t;
  el::register_commands(t, h);
  ember::net::server_options so;
  so.name = "leaderboard";
  ember::net::server srv(io, so, std::move(t));
  srv.start();
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    for (std::uint64_t o = 1; o <= 5; ++o) co_await n.service.write("high", o, w(static_cast<std::int64_t>(o)));
    ember::net::client anon(io.get_executor());
    BOOST_REQUIRE(!(co_await anon.connect("127.0.0.1", srv.port())));
    auto r0 = co_await el::client_stub(anon).write_score(ws("high", 1));
    BOOST_TEST_REQUIRE(!r0);
    BOOST_TEST(r0.error().status == code(el::error::not_signed_in));

    ember::net::client c(io.get_executor());
    BOOST_REQUIRE(!(co_await c.connect("127.0.0.1", srv.port())));
    el::client_stub stub(c);
    h.next_user = 41;
    auto r1 = co_await stub.write_score(ws("high", 3, "{\"lvl\":2}"));
    BOOST_TEST_REQUIRE(!!r1);
    BOOST_TEST(r1->record.owner == 41u);
    BOOST_TEST(r1->record.rank == 4u);  // 5, 4, 3, then 41: a tie at the same time ranks by owner
    el::list_top_request top;
    top.board = "high";
    top.limit = 2;
    auto p1 = co_await stub.list_top(top);
    BOOST_TEST_REQUIRE(!!p1);
    BOOST_TEST(owners(p1->records) == list(5, 4), boost::test_tools::per_element());
    BOOST_TEST(p1->total == 6u);
    BOOST_TEST_REQUIRE(p1->next_cursor.has_value());
    top.cursor = p1->next_cursor;
    auto p2 = co_await stub.list_top(top);
    BOOST_TEST(owners(p2->records) == list(3, 41), boost::test_tools::per_element());
    BOOST_TEST(ranks(p2->records) == list(3, 4), boost::test_tools::per_element());
    BOOST_TEST(p2->records[1].metadata == "{\"lvl\":2}");
    auto mine = co_await stub.my_rank({"high", 0});
    BOOST_TEST_REQUIRE(!!mine);
    BOOST_TEST_REQUIRE(mine->record.has_value());
    BOOST_TEST(mine->record->rank == 4u);
    BOOST_TEST(mine->total == 6u);
    auto around = co_await stub.list_around({"high", 0, 3});
    BOOST_TEST(owners(around->records) == list(3, 41, 2), boost::test_tools::per_element());
    auto some = co_await stub.list_players({"high", 0, list(1, 41)});
    BOOST_TEST(owners(some->records) == list(41, 1), boost::test_tools::per_element());
    auto friends = co_await stub.list_friends({"high", 0});
    BOOST_TEST(owners(friends->records) == list(3, 41), boost::test_tools::per_element());
    // refusals are error replies; the session goes on
    auto auth = co_await stub.write_score(ws("server", 1));
    BOOST_TEST_REQUIRE(!auth);
    BOOST_TEST(auth.error().status == code(el::error::authoritative));
    auto unknown = co_await stub.write_score(ws("nope", 1));
    BOOST_TEST(unknown.error().status == code(el::error::unknown_board));
    auto meta = co_await stub.write_score(ws("high", 1, std::string(40, 'm')));
    BOOST_TEST(meta.error().status == code(el::error::bad_metadata));
    top.limit = 11;  // over max_page
    auto big = co_await stub.list_top(top);
    BOOST_TEST(big.error().status == code(el::error::bad_limit));
    auto period = co_await stub.my_rank({"high", 12345});
    BOOST_TEST(period.error().status == code(el::error::bad_period));
    auto gone = co_await stub.delete_score(el::delete_score_request(std::string("high")));
    BOOST_TEST_REQUIRE(!!gone);
    BOOST_TEST(gone->deleted);
    auto after = co_await stub.my_rank({"high", 0});
    BOOST_TEST_REQUIRE(!!after);
    BOOST_TEST(!after->record.has_value());
    BOOST_TEST(after->total == 5u);
    c.close();
    anon.close();
    co_await srv.stop(1s);
    co_await n.node.store.stop();
  }());
}

BOOST_AUTO_TEST_CASE(config_json_defines_the_boards_and_limits_and_a_bad_board_or_typo_stops_the_start) {
  auto config = ember::app::parse_config(R"({"servers": {"game1": {"type": "game"}},
    "modules": {"leaderboard": {"server": "game", "boards": ["weekly desc best reset=0 0 * * 1",
                                                            "races asc set authoritative metadata=64"],
                                "max_page": 50, "past_periods": 2}}})", "config.json");
  BOOST_REQUIRE(config.has_value());
  ember::app::module_options o(*config, "leaderboard");
  const auto opts = lb::options::read(o);
  BOOST_TEST_REQUIRE(opts.boards.size() == 2u);
  BOOST_TEST(opts.boards[0].reset == "0 0 * * 1");
  BOOST_TEST(opts.boards[1].authoritative);
  BOOST_TEST(opts.boards[1].max_metadata == 64u);
  BOOST_TEST(opts.max_page == 50u);
  BOOST_TEST(opts.past_periods == 2u);
  BOOST_TEST(opts.max_players == 200u);  // not given: the default

  auto bad = ember::app::parse_config(R"({"servers": {"game1": {"type": "game"}},
    "modules": {"leaderboard": {"server": "game", "boards": ["x sideways"]}}})", "config.json");
  ember::app::module_options b(*bad, "leaderboard");
  BOOST_CHECK_EXCEPTION(lb::options::read(b), std::invalid_argument, [](const std::invalid_argument& e) {
    return std::string(e.what()).find("modules.leaderboard.boards: board 'x': unknown word 'sideways'") != std::string::npos;
  });
  auto typo = ember::app::parse_config(R"({"servers": {"game1": {"type": "game"}},
    "modules": {"leaderboard": {"server": "game", "max_pages": 20}}})", "config.json");
  ember::app::module_options t(*typo, "leaderboard");
  BOOST_CHECK_EXCEPTION(lb::options::read(t), std::invalid_argument, [](const std::invalid_argument& e) {
    return std::string(e.what()).find("modules.leaderboard.max_pages: unknown key") != std::string::npos;
  });
}
