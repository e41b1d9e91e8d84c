// The tournaments module (docs/modules/tournaments.md) over real memcached, SQLite and
// PostgreSQL: start and end, the window of a period, joining, the size cap (also under joins
// racing for the last places), rewards by rank mailed once per period — also when a grant dies
// part-way and runs again, or when a mail is refused and the next run sends it — and the client
// commands through a real server and client.
#define BOOST_TEST_MODULE tournaments
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <fstream>

#include <asio/co_spawn.hpp>

#include "ember/app/module_options.hpp"
#include "ember/modules/tournaments/detail/ember_tournaments_client.hpp"
#include "ember/modules/tournaments/tournaments.hpp"
#include "ember/net/client.hpp"
#include "ember/net/server.hpp"
#include "support/data_env.hpp"
#include "support/error_of.hpp"
#include "support/process.hpp"
#include "support/run.hpp"
#include "support/test_players.hpp"

namespace tn = ember::modules::tournaments;
namespace et = ember_tournaments;
namespace lb = ember::modules::leaderboard;
namespace em = ember_mail;
using namespace std::chrono_literals;
using ember::test::error_of;

namespace {

constexpr std::int64_t hour = 3'600'000, day = 24 * hour;
constexpr std::int64_t jan_5 = 1767571200000;  // 2026-01-05 00:00 UTC, a Monday

lb::options board_options() {
  lb::options o;
  for (const char* spec : {"weekend_b desc best authoritative reset=0 0 * * 1", "club_b desc best authoritative reset=0 0 * * 1",
                           "later_b desc best authoritative reset=0 0 * * 1", "server_b desc best authoritative reset=0 0 * * 1",
                           "solo_b desc incr authoritative", "plain desc best"})
    o.boards.push_back(lb::options::parse_board(spec));
  o.max_page = 2;  // the grant walks several pages
  return o;
}

std::string at(std::int64_t ms) { return std::to_string(ms); }

tn::options tournament_options() {
  tn::options o;
  // Saturday only (5 days after Monday's reset, for 1 day), two weeks from 5 January.
  o.tournaments.push_back(tn::options::parse("weekend board=weekend_b start=" + at(jan_5) + " end=" + at(jan_5 + 14 * day) +
                                             " open=" + at(5 * day) + "+" + at(day) +
                                             " reward=1:$gold*500,trophy*1 reward=2-3:$gold*100 reward=4-10:$gold*10"));
  o.tournaments.push_back(tn::options::parse("club board=club_b join max=3"));
  o.tournaments.push_back(tn::options::parse("later board=later_b start=" + at(jan_5 + 7 * day)));
  o.tournaments.push_back(tn::options::parse("server board=server_b authoritative reward=1:trophy*1"));
  o.tournaments.push_back(tn::options::parse("solo board=solo_b max=2"));
  o.max_page = 10;
  return o;
}

std::filesystem::path write_types(const std::filesystem::path& dir) {
  const auto file = dir / "item_types.json";
  if (!std::filesystem::exists(file))
    std::ofstream(file) << R"([{"id": "trophy", "stack_limit": 1}])";
  return file;
}

ember::modules::wallet::options wallet_options() {
  ember::modules::wallet::options o;
  o.currencies = {{"gold", 0}};
  return o;
}

ember::modules::mail::options mail_options() {
  ember::modules::mail::options o;
  o.max_inbox = 3;
  return o;
}

/// A process of the game: wallet, inventory, mail, leaderboard and tournaments on one store,
/// with the test's clock.
struct game_node {
  game_node(ember::test::data_env& e, asio::io_context& io, std::int64_t& now, tn::options o = tournament_options())
      : node(e, io), types(write_types(e.dir)), wallet(node.store, bus, players, wallet_options()),
        inventory(node.store, bus, players, types), mail(node.store, bus, players, wallet, inventory, mail_options()),
        boards(node.store, bus, board_options(), [&now] { return now; }),
        cups(node.store, bus, boards, mail, std::move(o), [&now] { return now; }) {
    BOOST_REQUIRE(types.reload());
    node.open();
    ember::test::run(io, boards.start());
  }
  /// `player`'s mails (at most the inbox).
  asio::awaitable<std::vector<em::mail>> mails(std::uint64_t player) {
    co_return (co_await mail.list(player, "", 0, false)).mails;
  }
  ember::test::data_env::node node;
  ember::modules::event_bus bus;
  ember::test::test_players players;
  ember::app::data_slot<ember::modules::inventory::item_types> types;
  ember::modules::wallet::service wallet;
  ember::modules::inventory::service inventory;
  ember::modules::mail::service mail;
  lb::service boards;
  tn::service cups;
};

int code(et::error e) { return static_cast<int>(e); }

lb::write_request score(std::int64_t s) { return lb::write_request{s, 0, {}, ember_leaderboard::write_operator::board, {}}; }

std::int64_t gold_of(const em::mail& m) {
  std::int64_t n = 0;
  for (const auto& c : m.attachments.currencies)
    if (c.currency == "gold") n += c.amount;
  return n;
}
std::uint32_t trophies_of(const em::mail& m) {
  std::uint32_t n = 0;
  for (const auto& i : m.attachments.items)
    if (i.type == "trophy") n += i.count;
  return n;
}

}  // namespace

// --- definitions

BOOST_AUTO_TEST_CASE(config_json_defines_the_tournaments_and_a_bad_definition_stops_the_start) {
  auto config = ember::app::parse_config(R"({"servers": {"game1": {"type": "game"}},
    "modules": {"tournaments": {"server": "game", "max_page": 50, "tournaments": [
      "cup board=weekly start=1000 end=5000 open=10+20 join max=64 reward=1:$gold*500,trophy*1 reward=2-10:$gold*5",
      "open board=daily authoritative"]}}})", "config.json");
  BOOST_REQUIRE(config.has_value());
  ember::app::module_options o(*config, "tournaments");
  const auto opts = tn::options::read(o);
  BOOST_TEST_REQUIRE(opts.tournaments.size() == 2u);
  const auto& cup = opts.tournaments[0];
  BOOST_TEST(cup.board == "weekly");
  BOOST_TEST(cup.start_ms == 1000);
  BOOST_TEST(cup.end_ms == 5000);
  BOOST_TEST(cup.open_after_ms == 10);
  BOOST_TEST(cup.open_for_ms == 20);
  BOOST_TEST(cup.join_required);
  BOOST_TEST(cup.max_size == 64u);
  BOOST_TEST_REQUIRE(cup.rewards.size() == 2u);
  BOOST_TEST(cup.rewards[0].first_rank == 1u);
  BOOST_TEST(cup.rewards[0].currencies[0].amount == 500);
  BOOST_TEST(cup.rewards[0].items[0].type == "trophy");
  BOOST_TEST(cup.rewards[1].last_rank == 10u);
  BOOST_TEST(opts.tournaments[1].authoritative);
  BOOST_TEST(opts.max_page == 50u);

  for (const char* bad : {"x", "x board=b sideways", "x board=b reward=0:$gold*1", "x board=b reward=3-2:$gold*1",
                          "x board=b reward=1:gold", "x board=b reward=1:$gold*0", "x board=b start=9 end=5",
                          "x board=b open=5", "bad:id board=b", "x board=b max=-1"})
    BOOST_CHECK_THROW(tn::options::parse(bad), std::invalid_argument);
  auto typo = ember::app::parse_config(R"({"servers": {"game1": {"type": "game"}},
    "modules": {"tournaments": {"server": "game", "tournaments": ["x board=b sideways"]}}})", "config.json");
  ember::app::module_options t(*typo, "tournaments");
  BOOST_CHECK_EXCEPTION(tn::options::read(t), std::invalid_argument, [](const std::invalid_argument& e) {
    return std::string(e.what()).find("modules.tournaments.tournaments: tournament 'x': unknown word 'sideways'") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(a_tournament_on_a_missing_shared_or_client_writable_board_or_with_bad_rewards_is_refused) {
  ember::test::data_env e(false);
  asio::io_context io;
  std::int64_t now = jan_5;
  for (const char* bad : {"x board=nope", "x board=plain", "x board=solo_b open=1+1",
                          "x board=weekend_b reward=1-5:$gold*1 reward=5:$gold*1", "x board=weekend_b reward=1-5000:$gold*1",
                          "x board=weekend_b reward=1:$gold*9999999999999"}) {
    tn::options o;
    o.tournaments.push_back(tn::options::parse(bad));
    BOOST_CHECK_THROW([&] { game_node g(e, io, now, o); }(), std::invalid_argument);
  }
  tn::options twice;  // one board, one tournament: their scores would mix
  twice.tournaments.push_back(tn::options::parse("a board=weekend_b"));
  twice.tournaments.push_back(tn::options::parse("b board=weekend_b"));
  BOOST_CHECK_THROW([&] { game_node g(e, io, now, twice); }(), std::invalid_argument);
}

// --- scores, windows, joining, size

EMBER_ON_BOTH_DATABASES(scores_are_taken_only_between_start_and_end_and_inside_the_window_of_a_period) {
  asio::io_context io;
  std::int64_t now = jan_5 + hour;  // Monday: the weekend tournament's window is Saturday
  game_node n(e, io, now);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    BOOST_TEST(co_await error_of(n.cups.write("weekend", 1, score(10))) == code(et::error::not_open));
    const auto [period, w] = n.cups.current("weekend");
    BOOST_TEST(period == jan_5);
    BOOST_TEST(w.opens_ms == jan_5 + 5 * day);
    BOOST_TEST(w.closes_ms == jan_5 + 6 * day);
    now = jan_5 + 5 * day;  // Saturday 00:00: open
    auto r = co_await n.cups.write("weekend", 1, score(10));
    BOOST_TEST(r.rank == 1u);
    BOOST_TEST(r.score == 10);
    now = jan_5 + 6 * day - 1;
    BOOST_TEST((co_await n.cups.write("weekend", 2, score(20))).rank == 1u);
    now = jan_5 + 6 * day;  // Sunday: closed
    BOOST_TEST(co_await error_of(n.cups.write("weekend", 3, score(30))) == code(et::error::not_open));
    BOOST_TEST((co_await n.cups.top("weekend", jan_5, 10)).total == 2u);  // what was refused was not stored
    // before its start, a tournament takes neither scores nor joins
    BOOST_TEST(co_await error_of(n.cups.write("later", 1, score(1))) == code(et::error::not_open));
    BOOST_TEST(co_await error_of(n.cups.join("later", 1)) == code(et::error::not_open));
    now = jan_5 + 7 * day;
    BOOST_TEST((co_await n.cups.write("later", 1, score(1))).rank == 1u);
    now = jan_5 + 12 * day;  // the second Saturday: open again, in a new period
    BOOST_TEST((co_await n.cups.write("weekend", 3, score(5))).rank == 1u);
    BOOST_TEST((co_await n.cups.top("weekend", 0, 10)).total == 1u);
    now = jan_5 + 19 * day;  // a Saturday after the end
    BOOST_TEST(co_await error_of(n.cups.write("weekend", 3, score(50))) == code(et::error::not_open));
    BOOST_TEST(co_await error_of(n.cups.join("weekend", 3)) == code(et::error::not_open));
    BOOST_TEST(co_await error_of(n.cups.write("nope", 1, score(1))) == code(et::error::unknown_tournament));
    auto listed = co_await n.cups.list(0);  // an ended tournament is no longer listed
    BOOST_TEST(std::none_of(listed.begin(), listed.end(), [](const auto& t) { return t.id == "weekend"; }));
    co_await n.node.store.stop();
  }());
}

EMBER_ON_BOTH_DATABASES(a_tournament_that_requires_joining_refuses_scores_until_the_player_joins) {
  asio::io_context io;
  std::int64_t now = jan_5 + hour;
  game_node n(e, io, now);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    BOOST_TEST(co_await error_of(n.cups.write("club", 1, score(10))) == code(et::error::not_joined));
    auto j = co_await n.cups.join("club", 1);
    BOOST_TEST(j.first);
    BOOST_TEST(j.second == 1u);
    auto again = co_await n.cups.join("club", 1);  // joining twice changes nothing
    BOOST_TEST(!again.first);
    BOOST_TEST(again.second == 1u);
    BOOST_TEST((co_await n.cups.write("club", 1, score(10))).score == 10);
    // a new period: joined again first
    now = jan_5 + 7 * day + hour;
    BOOST_TEST(co_await error_of(n.cups.write("club", 1, score(10))) == code(et::error::not_joined));
    auto list = co_await n.cups.list(1);
    const auto club = std::find_if(list.begin(), list.end(), [](const auto& t) { return t.id == "club"; });
    BOOST_TEST_REQUIRE((club != list.end()));
    BOOST_TEST(!club->joined);
    BOOST_TEST(club->size == 0u);
    BOOST_TEST(club->join_required);
    BOOST_TEST(club->max_size == 3u);
    co_await n.cups.join("club", 1);
    list = co_await n.cups.list(1);
    const auto club2 = std::find_if(list.begin(), list.end(), [](const auto& t) { return t.id == "club"; });
    BOOST_TEST(club2->joined);
    BOOST_TEST(club2->size == 1u);
    BOOST_TEST(club2->open);
    co_await n.node.store.stop();
  }());
}

EMBER_ON_BOTH_DATABASES(max_size_caps_a_period_also_against_joins_racing_for_the_last_places) {
  asio::io_context io;
  std::int64_t now = jan_5 + hour;
  game_node n(e, io, now);
  // Ten players join at once for three places.
  std::vector<int> outcome;  // 1 joined, 0 full, -1 anything else
  for (std::uint64_t p = 1; p <= 10; ++p)
    asio::co_spawn(io, n.cups.join("club", p), [&outcome](std::exception_ptr ex, std::pair<bool, std::uint32_t> r) {
      if (!ex) {
        outcome.push_back(r.first ? 1 : -1);
        return;
      }
      try {
        std::rethrow_exception(ex);
      } catch (const ember::game_error& g) {
        outcome.push_back(g.code() == code(et::error::tournament_full) ? 0 : -1);
      } catch (...) {
        outcome.push_back(-1);
      }
    });
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 3000 && outcome.size() < 10; ++i) co_await ember::test::sleep(10ms);
  }());
  BOOST_TEST_REQUIRE(outcome.size() == 10u);
  BOOST_TEST(std::count(outcome.begin(), outcome.end(), 1) == 3);
  BOOST_TEST(std::count(outcome.begin(), outcome.end(), 0) == 7);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    auto list = co_await n.cups.list(0);
    const auto club = std::find_if(list.begin(), list.end(), [](const auto& t) { return t.id == "club"; });
    BOOST_TEST(club->size == 3u);
    // without joining required, a first score joins, within the cap
    BOOST_TEST((co_await n.cups.write("solo", 1, score(1))).score == 1);
    BOOST_TEST((co_await n.cups.write("solo", 2, score(1))).score == 1);
    BOOST_TEST(co_await error_of(n.cups.write("solo", 3, score(1))) == code(et::error::tournament_full));
    BOOST_TEST((co_await n.cups.write("solo", 1, score(4))).score == 5);  // a member writes on
    auto top = co_await n.cups.top("solo", 0, 10);
    BOOST_TEST(top.total == 2u);
    co_await n.node.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM tournament_member WHERE state = 1 AND tournament = 'club'") == 3);
  BOOST_TEST(e.scalar("SELECT size FROM tournament_period WHERE tournament = 'club'") == 3);
}

// --- rewards

EMBER_ON_BOTH_DATABASES(rewards_are_mailed_by_rank_once_the_window_closes_and_a_second_grant_mails_nothing) {
  asio::io_context io;
  std::int64_t now = jan_5 + 5 * day;
  game_node n(e, io, now);
  std::vector<et::reward_granted> heard;
  auto sub = n.bus.subscribe<et::reward_granted>([&](const et::reward_granted& g) { heard.push_back(g); });
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    for (std::uint64_t p = 1; p <= 12; ++p) co_await n.cups.write("weekend", p, score(static_cast<std::int64_t>(p) * 10));
    BOOST_TEST(co_await error_of(n.cups.grant("weekend", jan_5)) == code(et::error::not_ended));
    now = jan_5 + 6 * day;  // Sunday: the window closed, the period goes on
    auto g = co_await n.cups.grant("weekend", jan_5);
    BOOST_TEST(g.mailed == 10u);  // ranks 1..10 (players 12..3); 11 and 12 none
    BOOST_TEST(g.already == 0u);
    BOOST_TEST(g.complete);
    auto first = co_await n.mails(12);
    BOOST_TEST_REQUIRE(first.size() == 1u);
    BOOST_TEST(gold_of(first[0]) == 500);
    BOOST_TEST(trophies_of(first[0]) == 1u);
    BOOST_TEST(first[0].body == "weekend: rank 1");
    for (std::uint64_t p = 10; p <= 11; ++p) {
      auto m = co_await n.mails(p);
      BOOST_TEST_REQUIRE(m.size() == 1u);
      BOOST_TEST(gold_of(m[0]) == 100);
      BOOST_TEST(trophies_of(m[0]) == 0u);
    }
    BOOST_TEST(gold_of((co_await n.mails(3))[0]) == 10);
    BOOST_TEST((co_await n.mails(2)).empty());
    BOOST_TEST((co_await n.mails(1)).empty());
    // the reward is claimed through the mail, once
    auto claimed = co_await n.mail.claim(12, first[0].id);
    BOOST_TEST(claimed.applied);
    auto again = co_await n.cups.grant("weekend", jan_5);
    BOOST_TEST(again.mailed == 0u);
    BOOST_TEST(again.complete);
    BOOST_TEST((co_await n.mails(12)).size() == 1u);
    // the owner's routine: the next Monday, grant_due finds the period granted
    now = jan_5 + 7 * day;
    auto due = co_await n.cups.grant_due();
    const auto weekend = std::find_if(due.begin(), due.end(), [](const auto& r) { return r.tournament == "weekend"; });
    BOOST_TEST_REQUIRE((weekend != due.end()));
    BOOST_TEST(weekend->period == jan_5);
    BOOST_TEST(weekend->mailed == 0u);
    BOOST_TEST(weekend->complete);
    co_await n.node.store.stop();
  }());
  BOOST_TEST(heard.size() == 10u);
  BOOST_TEST(heard[0].owner == 12u);
  BOOST_TEST(heard[0].rank == 1u);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM tournament_grant WHERE state = 1") == 10);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM mail_message WHERE state = 1") == 10);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM tournament_period WHERE tournament = 'weekend' AND granted_ms > 0") == 1);
}

EMBER_ON_BOTH_DATABASES(a_grant_that_dies_part_way_and_runs_again_mails_every_reward_exactly_once) {
  asio::io_context io;
  std::int64_t now = jan_5 + 5 * day;
  game_node n(e, io, now);
  std::vector<et::reward_granted> heard;
  auto sub = n.bus.subscribe<et::reward_granted>([&](const et::reward_granted& g) { heard.push_back(g); });
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    for (std::uint64_t p = 1; p <= 6; ++p) co_await n.cups.write("weekend", p, score(static_cast<std::int64_t>(p)));
    now = jan_5 + 7 * day;  // the next period: the grant of the last one
    // The process "dies" at the third reward, its mail staged, just before the commit.
    n.cups.on().before_grant_commit = [](std::uint64_t, std::uint64_t rank) {
      if (rank == 3) throw std::runtime_error("killed");
    };
    BOOST_TEST(co_await error_of(n.cups.grant("weekend", jan_5)) == -1);
    BOOST_TEST((co_await n.mails(6)).size() == 1u);  // ranks 1 and 2 were mailed
    BOOST_TEST((co_await n.mails(5)).size() == 1u);
    BOOST_TEST((co_await n.mails(4)).empty());       // rank 3: nothing of it stored
    BOOST_TEST(heard.size() == 2u);
    // Again, dying at the fifth this time, then a run that completes.
    n.cups.on().before_grant_commit = [](std::uint64_t, std::uint64_t rank) {
      if (rank == 5) throw std::runtime_error("killed");
    };
    BOOST_TEST(co_await error_of(n.cups.grant("weekend", jan_5)) == -1);
    n.cups.on().before_grant_commit = nullptr;
    auto g = co_await n.cups.grant("weekend", jan_5);
    BOOST_TEST(g.mailed == 2u);   // ranks 5 and 6
    BOOST_TEST(g.already == 4u);  // ranks 1..4 from the runs that died
    BOOST_TEST(g.complete);
    for (std::uint64_t p = 1; p <= 6; ++p) BOOST_TEST((co_await n.mails(p)).size() == 1u, "player " << p);
    // A run after the period is marked reads only the mark.
    auto last = co_await n.cups.grant("weekend", jan_5);
    BOOST_TEST(last.mailed + last.already == 0u);
    BOOST_TEST(last.complete);
    co_await n.node.store.stop();
  }());
  BOOST_TEST(heard.size() == 6u);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM tournament_grant WHERE state = 1") == 6);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM mail_message WHERE state = 1") == 6);
}

namespace {

/// The owner process (tournament_worker.cpp) at `now`: `write` or `grant`, killed at `stop_rank`.
ember::test::child_process owner_process(ember::test::data_env& e, const std::string& journal, std::int64_t now,
                                         const std::string& mode, std::uint64_t stop_rank = 0) {
  std::vector<std::string> argv{EMBER_TOURNAMENT_WORKER, e.mc.address(), e.connection, (e.dir / journal).string(),
                                write_types(e.dir).string(), std::to_string(now), mode};
  if (stop_rank != 0) argv.push_back(std::to_string(stop_rank));
  return ember::test::child_process(argv, e.dir / (journal + "." + mode + std::to_string(stop_rank) + ".log"));
}

}  // namespace

EMBER_ON_BOTH_DATABASES(an_owner_killed_with_kill_9_inside_a_grant_and_started_again_mails_every_reward_exactly_once) {
  {
    auto w = owner_process(e, "owner.journal", jan_5 + 5 * day, "write");
    BOOST_TEST_REQUIRE(w.wait_exit(120s) == 0, ember::test::read_text(w.log()));
  }
  {
    // The next Monday: the grant of the weekend's period, killed inside the third reward's
    // transaction (its mail staged and its rows locked in memcached).
    auto w = owner_process(e, "owner.journal", jan_5 + 7 * day, "grant", 3);
    BOOST_TEST_REQUIRE(ember::test::wait_for_text(w.log(), "staged", 120s), ember::test::read_text(w.log()));
    w.kill_now();
  }
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM tournament_grant WHERE state = 1") == 2);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM mail_message WHERE state = 1") == 2);
  {
    // Started again (its journal replayed): the locks of the dead transaction pass with their
    // lease, and the grant mails the four rewards left.
    auto w = owner_process(e, "owner.journal", jan_5 + 7 * day, "grant");
    BOOST_TEST_REQUIRE(w.wait_exit(120s) == 0, ember::test::read_text(w.log()));
    BOOST_TEST(ember::test::count_in(w.log(), "granted mailed=4 already=2 complete=1") == 1u, ember::test::read_text(w.log()));
  }
  {
    auto w = owner_process(e, "owner.journal", jan_5 + 7 * day, "grant");
    BOOST_TEST_REQUIRE(w.wait_exit(120s) == 0, ember::test::read_text(w.log()));
    BOOST_TEST(ember::test::count_in(w.log(), "granted mailed=0 already=0 complete=1") == 1u, ember::test::read_text(w.log()));
  }
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM tournament_grant WHERE state = 1") == 6);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM mail_message WHERE state = 1") == 6);
  BOOST_TEST(e.scalar("SELECT COUNT(DISTINCT player) FROM mail_message WHERE state = 1") == 6);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM mail_message WHERE state = 1 AND player = 6 AND subject = 'Tournament reward'") == 1);
}


EMBER_ON_BOTH_DATABASES(a_reward_the_mail_refuses_stays_pending_and_the_next_run_mails_it) {
  asio::io_context io;
  std::int64_t now = jan_5 + 5 * day;
  game_node n(e, io, now);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    co_await n.cups.write("weekend", 1, score(100));
    co_await n.cups.write("weekend", 2, score(50));
    for (int i = 0; i < 3; ++i) co_await n.mail.send_system(1, "Hello", "filler");  // player 1's inbox is full
    now = jan_5 + 6 * day;
    auto g = co_await n.cups.grant("weekend", jan_5);
    BOOST_TEST(g.mailed == 1u);
    BOOST_TEST(g.pending == 1u);
    BOOST_TEST(!g.complete);
    auto box = co_await n.mails(1);
    std::vector<std::int64_t> ids;
    for (const auto& m : box) ids.push_back(m.id);
    co_await n.mail.remove(1, ids, false);
    auto again = co_await n.cups.grant("weekend", jan_5);
    BOOST_TEST(again.mailed == 1u);
    BOOST_TEST(again.already == 1u);
    BOOST_TEST(again.complete);
    auto mine = co_await n.mails(1);
    BOOST_TEST_REQUIRE(mine.size() == 1u);
    BOOST_TEST(gold_of(mine[0]) == 500);
    BOOST_TEST((co_await n.mails(2)).size() == 1u);
    co_await n.node.store.stop();
  }());
}

// --- the client commands through a real server and client

namespace {

/// The commands, with a sign-in step for the test: the next request of a session not signed
/// in binds it to `next_user` (once).
struct signing_handler final : et::tournaments_handler {
  explicit signing_handler(tn::handler& h) : real(h) {}
  tn::handler& real;
  std::uint64_t next_user = 0;
  void sign_in(ember::net::session& s) {
    if (!s.user() && next_user) s.bind_user(std::exchange(next_user, 0));
  }
  asio::awaitable<et::list_tournaments_reply> list_tournaments(ember::net::session& s, const et::list_tournaments_request& r) override {
    sign_in(s);
    co_return co_await real.list_tournaments(s, r);
  }
  asio::awaitable<et::join_tournament_reply> join_tournament(ember::net::session& s, const et::join_tournament_request& r) override {
    sign_in(s);
    co_return co_await real.join_tournament(s, r);
  }
  asio::awaitable<et::write_tournament_score_reply> write_tournament_score(ember::net::session& s,
                                                                          const et::write_tournament_score_request& r) override {
    sign_in(s);
    co_return co_await real.write_tournament_score(s, r);
  }
  asio::awaitable<et::list_tournament_top_reply> list_tournament_top(ember::net::session& s,
                                                                    const et::list_tournament_top_request& r) override {
    sign_in(s);
    co_return co_await real.list_tournament_top(s, r);
  }
};

et::write_tournament_score_request ws(std::string tournament, std::int64_t s, std::string op_id = {}) {
  et::write_tournament_score_request r;
  r.tournament = std::move(tournament);
  r.score = s;
  r.op_id = std::move(op_id);
  return r;
}

}  // namespace

EMBER_ON_BOTH_DATABASES(clients_list_join_write_and_page_through_a_real_server) {
  asio::io_context io;
  std::int64_t now = jan_5 + hour;
  game_node n(e, io, now);
  tn::handler commands(n.cups);
  signing_handler h(commands);
  ember::net::dispatch_table t;
  et::register_commands(t, h);
  ember::net::server_options so;
  so.name = "tournaments";
  ember::net::server srv(io, so, std::move(t));
  srv.start();
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    ember::net::client anon(io.get_executor());
    BOOST_REQUIRE(!(co_await anon.connect("127.0.0.1", srv.port())));
    auto r0 = co_await et::client_stub(anon).list_tournaments({});
    BOOST_TEST_REQUIRE(!r0);
    BOOST_TEST(r0.error().status == code(et::error::not_signed_in));

    ember::net::client c(io.get_executor());
    BOOST_REQUIRE(!(co_await c.connect("127.0.0.1", srv.port())));
    et::client_stub stub(c);
    h.next_user = 7;
    auto all = co_await stub.list_tournaments({});
    BOOST_TEST_REQUIRE(!!all);
    BOOST_TEST(all->tournaments.size() == 5u);  // "later" starts next week, listed already
    auto refused = co_await stub.write_tournament_score(ws("club", 10));
    BOOST_TEST(refused.error().status == code(et::error::not_joined));
    auto joined = co_await stub.join_tournament(et::join_tournament_request(std::string("club")));
    BOOST_TEST_REQUIRE(!!joined);
    BOOST_TEST(joined->joined);
    BOOST_TEST(joined->size == 1u);
    auto wrote = co_await stub.write_tournament_score(ws("club", 10, "op-1"));
    BOOST_TEST_REQUIRE(!!wrote);
    BOOST_TEST(wrote->record.owner == 7u);
    BOOST_TEST(wrote->record.rank == 1u);
    auto server_only = co_await stub.write_tournament_score(ws("server", 10));
    BOOST_TEST(server_only.error().status == code(et::error::authoritative));
    auto closed = co_await stub.write_tournament_score(ws("weekend", 10));
    BOOST_TEST(closed.error().status == code(et::error::not_open));
    for (std::uint64_t p = 1; p <= 2; ++p) {
      co_await n.cups.join("club", p);
      co_await n.cups.write("club", p, score(static_cast<std::int64_t>(p) * 100));
    }
    et::list_tournament_top_request top;
    top.tournament = "club";
    top.limit = 2;
    auto p1 = co_await stub.list_tournament_top(top);
    BOOST_TEST_REQUIRE(!!p1);
    BOOST_TEST(p1->total == 3u);
    BOOST_TEST_REQUIRE(p1->records.size() == 2u);
    BOOST_TEST(p1->records[0].owner == 2u);
    BOOST_TEST_REQUIRE(p1->mine.has_value());
    BOOST_TEST(p1->mine->rank == 3u);
    BOOST_TEST_REQUIRE(p1->next_cursor.has_value());
    top.cursor = p1->next_cursor;
    auto p2 = co_await stub.list_tournament_top(top);
    BOOST_TEST_REQUIRE(p2->records.size() == 1u);
    BOOST_TEST(p2->records[0].owner == 7u);
    BOOST_TEST(!p2->next_cursor.has_value());
    top.limit = 11;  // over max_page
    auto big = co_await stub.list_tournament_top(top);
    BOOST_TEST(big.error().status == code(et::error::bad_limit));
    c.close();
    anon.close();
    co_await srv.stop(1s);
    co_await n.node.store.stop();
  }());
}
