// The matchmaking module (docs/modules/matchmaking.md): the pool's rule alone (windows that
// widen, exact properties, sizes, parties whole, timeouts, 10,000 tickets in one interval),
// then over real memcached, SQLite and PostgreSQL: parties (create, invite, accept, size cap,
// promote, kick, leave), two players matched into one match exactly once (also by two owners
// racing on the same tickets), a party disconnecting mid-queue, a restarted owner rebuilding
// its pool, typed errors, and clients through a real server whose closed session leaves.
#define BOOST_TEST_MODULE matchmaking
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <functional>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <set>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>

#include "ember/app/config.hpp"
#include "ember/app/module_options.hpp"
#include "ember/modules/matchmaking/detail/ember_matchmaking_client.hpp"
#include "ember/modules/matchmaking/matchmaking.hpp"
#include "ember/net/client.hpp"
#include "ember/net/server.hpp"
#include "support/data_env.hpp"
#include "support/error_of.hpp"
#include "support/run.hpp"
#include "support/test_players.hpp"

namespace ember_matchmaking {
std::ostream& operator<<(std::ostream& os, const match& m) { return os << fmt::format("{}", m); }
std::ostream& operator<<(std::ostream& os, const ticket_ended& t) { return os << fmt::format("{}", t); }
}  // namespace ember_matchmaking

namespace mm = ember::modules::matchmaking;
namespace em = ember_matchmaking;
using namespace std::chrono_literals;
using ember::test::error_of;
using ember::test::run;
using ember::test::wait_until;

namespace {

constexpr std::int64_t t0 = 1767225600000;  // 2026-01-01 00:00 UTC

int code(em::error e) { return static_cast<int>(e); }

std::vector<em::string_property> in(std::string region) {
  return std::vector<em::string_property>(1, em::string_property("region", std::move(region)));
}
std::vector<em::number_property> rated(double r) {
  return std::vector<em::number_property>(1, em::number_property("rating", r));
}
std::vector<em::string_property> no_strings() { return {}; }
std::vector<em::number_property> no_numbers() { return {}; }

// Lists as arguments: a braced list inside a coroutine trips g++ 12 ("array used as
// initializer"), so the tests spell user lists with list(...).
template <class... T>
std::vector<std::uint64_t> list(T... v) {
  std::vector<std::uint64_t> out;
  (out.push_back(static_cast<std::uint64_t>(v)), ...);
  return out;
}

em::ticket make_ticket(std::string id, std::vector<std::uint64_t> members, std::string region, double rating,
                       std::int64_t created) {
  return em::ticket(std::move(id), "duel", members.front(), "", members, in(std::move(region)), rated(rating), created);
}

mm::mode duel() { return mm::options::parse_mode("duel min=2 max=2 exact=region range=rating:100:50:1000 timeout_ms=60000"); }

mm::options game_options() {
  mm::options o;
  o.modes.push_back(duel());
  // teams: full matches of 4 at once, 2 once the anchor waited 10 s
  o.modes.push_back(mm::options::parse_mode("team min=2 max=4 multiple=2 fill_wait_ms=10000 timeout_ms=30000"));
  o.max_party = 3;
  o.max_invites = 2;
  return o;
}

std::vector<std::uint64_t> users_of(const em::match& m) {
  std::vector<std::uint64_t> out;
  for (const auto& x : m.members) out.push_back(x.user);
  std::sort(out.begin(), out.end());
  return out;
}

/// A process's matchmaking: a data_env node, a service on it with the test's clock, started.
struct mm_node {
  mm_node(ember::test::data_env& e, asio::io_context& io, std::int64_t& now, const std::string& journal = "node.journal",
          mm::options o = game_options(), std::function<bool(const std::string&)> owns = {})
      : node(e, io, journal), service(node.store, bus, pushes, std::move(o)) {
    service.on().clock = [&now] { return now; };
    service.on().owns = std::move(owns);
    node.open();
    run(io, service.start());
  }
  ember::test::data_env::node node;
  ember::modules::event_bus bus;
  ember::test::test_players pushes;
  mm::service service;
};

constexpr std::uint64_t ann = 11, bob = 22, cid = 33, dan = 44, eve = 55;

}  // namespace

// ---------------------------------------------------------------------------------------------
// The pool's rule (no data layer)

BOOST_AUTO_TEST_CASE(modes_are_parsed_and_bad_ones_or_a_typo_in_config_json_refused) {
  const auto m = mm::options::parse_mode("ranked min=2 max=6 multiple=2 exact=region,map range=rating:50:10.5:400 "
                                         "range=ping:20:0:20 timeout_ms=90000 fill_wait_ms=5000");
  BOOST_TEST(m.id == "ranked");
  BOOST_TEST(m.min == 2u);
  BOOST_TEST(m.max == 6u);
  BOOST_TEST(m.multiple == 2u);
  BOOST_TEST((m.exact == std::vector<std::string>{"region", "map"}));
  BOOST_TEST_REQUIRE(m.ranges.size() == 2u);
  BOOST_TEST(m.ranges[0].widen_per_s == 10.5);
  BOOST_TEST(m.ranges[0].window(4'000) == 92.0);
  BOOST_TEST(m.ranges[0].window(1'000'000) == 400.0);  // capped at max
  BOOST_TEST(m.timeout_ms == 90000);
  BOOST_TEST(m.fill_wait_ms == 5000);
  const auto refused = [](const char* spec, const char* says) {
    try {
      mm::options::parse_mode(spec);
    } catch (const std::invalid_argument& e) {
      BOOST_TEST_MESSAGE(e.what());
      return std::string(e.what()).find(says) != std::string::npos;
    }
    return false;
  };
  BOOST_TEST(refused("duel min=x", "mode 'duel': min: 'x' is not a number"));
  BOOST_TEST(refused("duel max=0", "not a whole number in 1..1000"));
  BOOST_TEST(refused("duel range=rating:1:2", "expected NAME:INITIAL:WIDEN_PER_S:MAX"));
  BOOST_TEST(refused("duel range=rating:100:1:50", "MAX is below INITIAL"));
  BOOST_TEST(refused("duel colour=red", "unknown key"));
  BOOST_TEST(refused("duel nonsense", "expected KEY=VALUE"));
  BOOST_TEST(refused("", "a mode needs an id"));
  // the service refuses what parses but cannot work
  asio::io_context io;
  ember::test::data_env e(false);
  ember::test::data_env::node n(e, io);
  ember::modules::event_bus bus;
  ember::test::test_players pushes;
  const auto service_refuses = [&](std::vector<const char*> specs, const char* says) {
    mm::options o;
    for (auto s : specs) o.modes.push_back(mm::options::parse_mode(s));
    try {
      mm::service s(n.store, bus, pushes, o);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what()).find(says) != std::string::npos;
    }
    return false;
  };
  BOOST_TEST(service_refuses({"a min=3 max=2"}, "min must be 1..max"));
  BOOST_TEST(service_refuses({"a min=3 max=3 multiple=2"}, "no size in min..max is a multiple"));
  BOOST_TEST(service_refuses({"a exact=x range=x:1:1:1"}, "a property is named twice"));
  BOOST_TEST(service_refuses({"a", "a"}, "defined twice"));

  auto config = ember::app::parse_config(R"({"servers": {"game1": {"type": "game"}},
    "modules": {"matchmaking": {"server": "game", "modes": ["duel min=2 max=2 exact=region"],
                                "max_party": 5, "interval_ms": 250}}})", "config.json");
  BOOST_REQUIRE(config.has_value());
  ember::app::module_options o(*config, "matchmaking");
  const auto opts = mm::options::read(o);
  BOOST_TEST_REQUIRE(opts.modes.size() == 1u);
  BOOST_TEST(opts.modes[0].exact.front() == "region");
  BOOST_TEST(opts.max_party == 5u);
  BOOST_TEST(opts.interval.count() == 250);
  BOOST_TEST(opts.max_invites == 8u);  // not given: the default
  auto bad = ember::app::parse_config(R"({"servers": {"game1": {"type": "game"}},
    "modules": {"matchmaking": {"server": "game", "modes": ["duel sideways=1"]}}})", "config.json");
  ember::app::module_options b(*bad, "matchmaking");
  BOOST_CHECK_EXCEPTION(mm::options::read(b), std::invalid_argument, [](const std::invalid_argument& e) {
    return std::string(e.what()).find("modules.matchmaking.modes: mode 'duel': sideways: unknown key") != std::string::npos;
  });
  auto typo = ember::app::parse_config(R"({"servers": {"game1": {"type": "game"}},
    "modules": {"matchmaking": {"server": "game", "max_partys": 3}}})", "config.json");
  ember::app::module_options t(*typo, "matchmaking");
  BOOST_CHECK_EXCEPTION(mm::options::read(t), std::invalid_argument, [](const std::invalid_argument& e) {
    return std::string(e.what()).find("modules.matchmaking.max_partys: unknown key") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(a_rating_window_widens_with_waiting_until_two_tickets_meet) {
  mm::pool p(duel());
  BOOST_TEST(p.add(make_ticket("a", list(ann), "eu", 1000, t0)));
  BOOST_TEST(p.add(make_ticket("b", list(bob), "eu", 1180, t0)));
  BOOST_TEST(!p.add(make_ticket("b", list(bob), "eu", 1180, t0)));  // an id once
  BOOST_TEST(p.match(t0).empty());          // windows 100: 180 apart is too far
  BOOST_TEST(p.match(t0 + 1'000).empty());  // 150
  auto groups = p.match(t0 + 1'600);        // 180: both windows reach
  BOOST_TEST_REQUIRE(groups.size() == 1u);
  BOOST_TEST(groups[0][0].id == "a");  // the anchor (the oldest) first
  BOOST_TEST(groups[0][1].id == "b");
  BOOST_TEST(p.size() == 0u);
  // mutual: a newcomer's narrow window holds back an old ticket's wide one
  p.add(make_ticket("old", list(cid), "eu", 1000, t0));
  p.add(make_ticket("new", list(dan), "eu", 1300, t0 + 20'000));
  BOOST_TEST(p.match(t0 + 20'000).empty());  // old's window 1000, new's 100
  BOOST_TEST(p.match(t0 + 24'000).size() == 1u);  // new's window 300
}

BOOST_AUTO_TEST_CASE(exact_properties_never_meet_and_the_closest_rating_is_chosen) {
  mm::pool p(duel());
  p.add(make_ticket("eu1", list(1), "eu", 1000, t0));
  p.add(make_ticket("us1", list(2), "us", 1000, t0 + 1));
  p.add(make_ticket("eu-far", list(3), "eu", 1090, t0 + 2));
  p.add(make_ticket("eu-near", list(4), "eu", 1020, t0 + 3));
  auto groups = p.match(t0 + 10);
  BOOST_TEST_REQUIRE(groups.size() == 1u);
  BOOST_TEST(groups[0][0].id == "eu1");
  BOOST_TEST(groups[0][1].id == "eu-near");
  BOOST_TEST(p.contains("us1"));  // alone in its region
  BOOST_TEST(p.contains("eu-far"));
}

BOOST_AUTO_TEST_CASE(sizes_are_min_to_max_in_multiples_and_parties_stay_whole) {
  mm::pool p(mm::options::parse_mode("team min=2 max=4 multiple=2 fill_wait_ms=10000"));
  auto solo = [](std::string id, std::uint64_t u, std::int64_t at) {
    return em::ticket(std::move(id), "team", u, "", list(u), no_strings(), no_numbers(), at);
  };
  p.add(em::ticket("trio", "team", 1, "p1", list(1, 2, 3), no_strings(), no_numbers(), t0));
  p.add(solo("s4", 4, t0 + 1));
  BOOST_TEST(p.match(t0 + 5).size() == 1u);  // 3 + 1 = 4: full
  BOOST_TEST(p.size() == 0u);
  p.add(em::ticket("trio", "team", 1, "p1", list(1, 2, 3), no_strings(), no_numbers(), t0));
  p.add(solo("s5", 5, t0 + 1));
  p.add(solo("s6", 6, t0 + 2));
  auto g = p.match(t0 + 5);  // trio + s5 = 4; s6 stays (a party is never split)
  BOOST_TEST_REQUIRE(g.size() == 1u);
  BOOST_TEST(g[0].size() == 2u);
  BOOST_TEST(p.contains("s6"));
  p.add(solo("s7", 7, t0 + 3));
  p.add(solo("s8", 8, t0 + 4));
  BOOST_TEST(p.match(t0 + 5).empty());  // 3 players: not full, and fill_wait not over
  g = p.match(t0 + 10'002);              // the anchor waited: 2 of the 3 (a multiple of 2)
  BOOST_TEST_REQUIRE(g.size() == 1u);
  BOOST_TEST(g[0].size() == 2u);
  BOOST_TEST(g[0][0].id == "s6");
  BOOST_TEST(p.size() == 1u);
}

BOOST_AUTO_TEST_CASE(tickets_expire_after_the_mode_s_timeout_oldest_first) {
  mm::pool p(duel());
  p.add(make_ticket("a", list(1), "eu", 1000, t0));
  p.add(make_ticket("b", list(2), "us", 1000, t0 + 5));
  BOOST_TEST(p.expire(t0 + 59'999).empty());
  auto gone = p.expire(t0 + 60'000);
  BOOST_TEST_REQUIRE(gone.size() == 1u);
  BOOST_TEST(gone[0].id == "a");
  BOOST_TEST(p.remove("b").has_value());
  BOOST_TEST(!p.remove("b").has_value());
}

// Issue 19's figure: 10,000 waiting tickets matched within one interval. The rule is checked on
// every match (regions equal, each rating spread within every member's window, every ticket
// used once); the time is printed, not asserted (a loaded CI machine says nothing of the code).
BOOST_AUTO_TEST_CASE(ten_thousand_waiting_tickets_are_matched_in_one_interval_by_the_rule) {
  const auto m = mm::options::parse_mode("duel min=2 max=4 exact=region range=rating:50:25:500");
  mm::pool p(m);
  std::mt19937_64 rng(19);
  const char* regions[] = {"eu", "us", "asia", "sa"};
  std::map<std::string, std::int64_t> created;
  for (int i = 0; i < 10'000; ++i) {
    const auto at = t0 + static_cast<std::int64_t>(rng() % 20'000);
    const auto id = "t" + std::to_string(i);
    const auto u = static_cast<std::uint64_t>(i + 1);
    std::vector<std::uint64_t> members{u};
    if (i % 10 == 0) members.push_back(u + 100'000);  // some parties of two
    p.add(em::ticket(id, "duel", u, "", members, in(regions[rng() % 4]),
                     rated(1000 + static_cast<double>(rng() % 2000)), at));
    created[id] = at;
  }
  const auto now = t0 + 20'000;
  const auto started = std::chrono::steady_clock::now();
  const auto cpu_started = std::clock();
  const auto groups = p.match(now);
  const auto took = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  const auto cpu = 1000.0 * static_cast<double>(std::clock() - cpu_started) / CLOCKS_PER_SEC;
  std::set<std::string> used;
  std::size_t players = 0;
  for (const auto& g : groups) {
    std::uint32_t n = 0;
    double lo = 1e9, hi = -1e9, narrowest = 1e9;
    for (const auto& t : g) {
      BOOST_TEST(used.insert(t.id).second);
      BOOST_TEST(t.strings[0].value == g[0].strings[0].value);
      lo = std::min(lo, t.numbers[0].value);
      hi = std::max(hi, t.numbers[0].value);
      narrowest = std::min(narrowest, m.ranges[0].window(now - created[t.id]));
      n += static_cast<std::uint32_t>(t.members.size());
    }
    BOOST_TEST((n >= 2 && n <= 4));
    BOOST_TEST(hi - lo <= narrowest);
    players += n;
  }
  BOOST_TEST(used.size() + p.size() == 10'000u);
  BOOST_TEST(groups.size() > 1000u);
  std::printf("matchmaking: 10,000 waiting tickets -> %zu matches (%zu players), %zu left, in %.1f ms (%.1f ms of CPU)\n",
              groups.size(), players, p.size(), took, cpu);
}

BOOST_AUTO_TEST_CASE(the_owner_of_a_pool_is_the_same_whatever_the_order_and_moves_only_from_a_lost_instance) {
  std::vector<std::string> three{"game1", "game2", "game3"}, reversed{"game3", "game2", "game1"};
  std::map<std::string, std::string> before;
  for (int i = 0; i < 200; ++i) {
    const auto mode = "mode" + std::to_string(i);
    before[mode] = mm::pool_owner(mode, three);
    BOOST_TEST(before[mode] == mm::pool_owner(mode, reversed));
  }
  std::set<std::string> owners;
  for (const auto& [mode, owner] : before) owners.insert(owner);
  BOOST_TEST(owners.size() == 3u);  // every instance owns some
  std::vector<std::string> two{"game1", "game3"};
  for (const auto& [mode, owner] : before)
    if (owner != "game2") BOOST_TEST(mm::pool_owner(mode, two) == owner);
  BOOST_TEST(mm::pool_owner("duel", std::vector<std::string>{}).empty());
}

// ---------------------------------------------------------------------------------------------
// Parties

EMBER_ON_BOTH_DATABASES(a_party_is_created_invited_joined_capped_promoted_kicked_and_left) {
  asio::io_context io;
  std::int64_t now = t0;
  mm_node n(e, io, now);
  auto& s = n.service;
  run(io, [&]() -> asio::awaitable<void> {
    auto p = co_await s.create_party(ann);
    BOOST_TEST(p.leader == ann);
    BOOST_TEST(p.members == list(ann));
    BOOST_TEST(p.max_size == 3u);
    BOOST_TEST(co_await error_of([&] { return s.create_party(ann); }) == code(em::error::in_party));
    BOOST_TEST(co_await error_of([&] { return s.accept(bob, p.id); }) == code(em::error::not_invited));
    co_await s.invite(ann, bob);
    co_await s.invite(ann, bob);  // one invitation
    BOOST_TEST(n.pushes.to<em::party_invited>(bob).size() == 1u);
    BOOST_TEST(n.pushes.to<em::party_invited>(bob)[0].from == ann);
    BOOST_TEST(co_await error_of([&] { return s.invite(bob, cid); }) == code(em::error::no_party));
    p = co_await s.accept(bob, p.id);
    BOOST_TEST(p.members == list(ann, bob));
    BOOST_TEST(p.invited.empty());
    BOOST_TEST((co_await s.accept(bob, p.id)).members == list(ann, bob));  // a retry: joined already
    BOOST_TEST(n.pushes.to<em::party_changed>(ann).back().party->members == list(ann, bob));
    BOOST_TEST(co_await error_of([&] { return s.invite(bob, cid); }) == code(em::error::not_leader));
    co_await s.invite(ann, cid);
    co_await s.invite(ann, dan);
    BOOST_TEST(co_await error_of([&] { return s.invite(ann, eve); }) == code(em::error::party_full));  // 2 invitations
    co_await s.accept(cid, p.id);
    BOOST_TEST(co_await error_of([&] { return s.accept(dan, p.id); }) == code(em::error::party_full));  // 3 members
    BOOST_TEST(co_await error_of([&] { return s.create_party(cid); }) == code(em::error::in_party));
    // dan, refused, makes his own party; then may not join another
    auto other = co_await s.create_party(eve);
    co_await s.invite(eve, dan);
    co_await s.accept(dan, other.id);
    BOOST_TEST(co_await error_of([&] { return s.accept(dan, p.id); }) == code(em::error::in_party));

    p = co_await s.promote(ann, bob);
    BOOST_TEST(p.leader == bob);
    BOOST_TEST(p.members == list(bob, ann, cid));  // the leader first
    BOOST_TEST(co_await error_of([&] { return s.kick(ann, cid); }) == code(em::error::not_leader));
    BOOST_TEST(co_await error_of([&] { return s.promote(bob, eve); }) == code(em::error::not_member));
    p = co_await s.kick(bob, cid);
    BOOST_TEST(p.members == list(bob, ann));
    BOOST_TEST(!(co_await s.party_of(cid)).has_value());
    BOOST_TEST(!n.pushes.to<em::party_changed>(cid).back().party.has_value());  // cid hears it is out
    co_await s.invite(bob, dan);
    p = co_await s.kick(bob, dan);  // withdraws the invitation
    BOOST_TEST(p.invited.empty());
    // the leader leaves: the next member leads; the last one ends the party
    BOOST_TEST(co_await s.leave_party(bob));
    p = *(co_await s.party_of(ann));
    BOOST_TEST(p.leader == ann);
    BOOST_TEST(p.members == list(ann));
    BOOST_TEST(co_await s.leave_party(ann));
    BOOST_TEST(!(co_await s.leave_party(ann)));
    BOOST_TEST(!(co_await s.party_of(ann)).has_value());
    BOOST_TEST(co_await error_of([&] { return s.accept(cid, p.id); }) == code(em::error::not_invited));
    co_await s.create_party(ann);  // free to start again
    co_await n.node.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM matchmaking_party") == 2);  // eve's and ann's new one
}

// ---------------------------------------------------------------------------------------------
// Matching, exactly once

EMBER_ON_BOTH_DATABASES(two_players_are_matched_into_one_match_exactly_once) {
  asio::io_context io;
  std::int64_t now = t0;
  mm_node n(e, io, now);
  auto& s = n.service;
  std::vector<em::match_made> events;
  auto sub = n.bus.subscribe<em::match_made>([&](const em::match_made& m) { events.push_back(m); });
  s.on().host = [](const em::match& m) -> asio::awaitable<std::string> { co_return "game" + std::to_string(m.members.size()); };
  run(io, [&]() -> asio::awaitable<void> {
    auto a = co_await s.queue(ann, "duel", in("eu"), rated(1500));
    BOOST_TEST(a.members == list(ann));
    BOOST_TEST(a.created_ms == t0);
    co_await s.queue(bob, "duel", in("eu"), rated(1550));
    BOOST_TEST(s.waiting("duel") == 2u);
    BOOST_TEST(co_await error_of([&] { return s.queue(ann, "duel", in("eu"), rated(1500)); }) ==
               code(em::error::already_queued));
    BOOST_TEST((co_await s.status_of(ann)).ticket->id == a.id);
    now += 1'000;
    auto made = co_await s.tick();
    BOOST_TEST_REQUIRE(made.size() == 1u);
    BOOST_TEST(users_of(made[0]) == list(ann, bob));
    BOOST_TEST(made[0].server == "game2");  // the host hook's choice
    BOOST_TEST(s.waiting("duel") == 0u);
    BOOST_TEST((co_await s.tick()).empty());  // nothing twice
    for (auto u : {ann, bob}) {
      const auto got = n.pushes.to<em::matched>(u);
      BOOST_TEST_REQUIRE(got.size() == 1u);
      BOOST_TEST(got[0].match == made[0]);
      const auto st = co_await s.status_of(u);
      BOOST_TEST(!st.ticket.has_value());
      BOOST_TEST_REQUIRE(st.match.has_value());
      BOOST_TEST(st.match->id == made[0].id);
    }
    BOOST_TEST(!(co_await s.unqueue(ann)));  // matched: nothing to cancel
    // matched players may queue again
    co_await s.queue(ann, "duel", in("eu"), rated(1500));
    co_await n.node.store.stop();
  }());
  BOOST_TEST(events.size() == 1u);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM matchmaking_match") == 1);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM matchmaking_ticket") == 1);  // ann's new one only
}

// Two processes that both think they own the pool (a handover caught in the middle), both
// holding the same tickets: the tickets' rows decide, so one match is stored and pushed.
EMBER_ON_BOTH_DATABASES(two_owners_racing_on_the_same_tickets_make_one_match) {
  asio::io_context io;
  std::int64_t now = t0;
  mm_node one(e, io, now, "one.journal");
  run(io, [&]() -> asio::awaitable<void> {
    for (std::uint64_t u = 1; u <= 20; ++u) co_await one.service.queue(u, "duel", in("eu"), rated(1000));
    co_await one.node.store.flush_all();  // in the database for the second's start()
  }());
  mm_node two(e, io, now, "two.journal");  // rebuilds the same 20 tickets
  BOOST_TEST(two.service.waiting("duel") == 20u);
  // Both tick at once, interval after interval: the two pools group the same tickets
  // differently (their own arrival orders), so a match lost to the other owner puts its other
  // tickets back for the next interval.
  std::vector<em::match> a, b;
  run(io, [&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    for (int round = 0; round < 10 && a.size() + b.size() < 10; ++round) {
      int done = 0;
      asio::co_spawn(ex, [&]() -> asio::awaitable<void> {
        for (auto& m : co_await one.service.tick()) a.push_back(m);
        ++done;
      }, asio::detached);
      asio::co_spawn(ex, [&]() -> asio::awaitable<void> {
        for (auto& m : co_await two.service.tick()) b.push_back(m);
        ++done;
      }, asio::detached);
      BOOST_REQUIRE(co_await wait_until([&] { return done == 2; }, 60s));
    }
    co_await one.node.store.stop();
    co_await two.node.store.stop();
  }(), 120s);
  BOOST_TEST_MESSAGE("first owner made " << a.size() << " matches, the second " << b.size());
  std::map<std::uint64_t, int> matched;
  for (const auto* side : {&a, &b})
    for (const auto& m : *side)
      for (auto u : users_of(m)) ++matched[u];
  BOOST_TEST(matched.size() == 20u);  // every player, by one owner or the other
  for (const auto& [u, times] : matched) {
    BOOST_TEST(times == 1);  // ...once
    BOOST_TEST(one.pushes.to<em::matched>(u).size() + two.pushes.to<em::matched>(u).size() == 1u);
  }
  BOOST_TEST(a.size() + b.size() == 10u);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM matchmaking_match") == 10);
}

// A pool moves from one owner to another (docs/modules/matchmaking.md, "Ownership and
// restarts"): the old owner drops it (its rows written back), the new one adopts it and finds
// every waiting ticket, those queued there meanwhile kept; each player is matched once, by the
// new owner only.
EMBER_ON_BOTH_DATABASES(a_pool_that_moves_to_another_owner_keeps_its_tickets_and_each_is_matched_once) {
  asio::io_context io;
  std::int64_t now = t0;
  bool one_owns = true, two_owns = false;
  mm_node one(e, io, now, "one.journal", game_options(), [&](const std::string&) { return one_owns; });
  mm_node two(e, io, now, "two.journal", game_options(), [&](const std::string&) { return two_owns; });
  one.node.store.start(io.get_executor());  // write-back and the writers' marks, as in a server
  two.node.store.start(io.get_executor());
  std::vector<em::match> by_one, by_two;
  run(io, [&]() -> asio::awaitable<void> {
    for (std::uint64_t u = 1; u <= 9; ++u) co_await one.service.queue(u, "duel", in("eu"), rated(1000 + 10 * double(u)));
    // Not the owner: refused, nothing stored.
    BOOST_TEST(co_await error_of([&] { return two.service.queue(10, "duel", in("eu"), rated(1000)); }) ==
               code(em::error::not_owner));
    // The move: the registry makes one let go before two is granted.
    one_owns = false;
    co_await one.service.drop("duel");
    BOOST_TEST(one.service.waiting("duel") == 0u);
    two_owns = true;
    co_await two.service.queue(10, "duel", in("eu"), rated(1000));  // queued while two takes it over
    co_await two.service.adopt("duel");
    BOOST_TEST(two.service.waiting("duel") == 10u);  // 9 rebuilt, the 10th kept
    for (auto& m : co_await one.service.tick()) by_one.push_back(m);
    for (auto& m : co_await two.service.tick()) by_two.push_back(m);
    co_await one.node.store.stop();
    co_await two.node.store.stop();
  }(), 120s);
  BOOST_TEST(by_one.empty());  // the old owner matches nothing of the pool it let go
  std::map<std::uint64_t, int> matched;
  for (const auto& m : by_two)
    for (auto u : users_of(m)) ++matched[u];
  BOOST_TEST(matched.size() == 10u);
  for (const auto& [u, times] : matched) {
    BOOST_TEST(times == 1);
    BOOST_TEST(two.pushes.to<em::matched>(u).size() == 1u);
    BOOST_TEST(one.pushes.to<em::matched>(u).empty());
  }
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM matchmaking_match") == 5);
}

// ---------------------------------------------------------------------------------------------
// Parties in the queue, disconnects

EMBER_ON_BOTH_DATABASES(a_party_queues_as_one_ticket_and_a_member_disconnecting_mid_queue_ends_it) {
  asio::io_context io;
  std::int64_t now = t0;
  mm_node n(e, io, now);
  auto& s = n.service;
  run(io, [&]() -> asio::awaitable<void> {
    auto p = co_await s.create_party(ann);
    co_await s.invite(ann, bob);
    co_await s.accept(bob, p.id);
    BOOST_TEST(co_await error_of([&] { return s.queue(bob, "team", no_strings(), no_numbers()); }) ==
               code(em::error::not_leader));
    auto t = co_await s.queue(ann, "team", no_strings(), no_numbers());
    BOOST_TEST(t.members == list(ann, bob));
    BOOST_TEST(t.party == p.id);
    BOOST_TEST((co_await s.party_of(bob))->ticket == t.id);
    BOOST_TEST((co_await s.status_of(bob)).ticket->id == t.id);  // every member sees it
    BOOST_TEST(co_await error_of([&] { return s.queue(bob, "duel", in("eu"), rated(1)); }) ==
               code(em::error::not_leader));
    co_await s.invite(ann, cid);  // an invitation changes no member: it stays queued
    BOOST_TEST(co_await error_of([&] { return s.accept(cid, p.id); }) == code(em::error::party_queued));
    // bob's session closes mid-queue: the party's ticket ends for both, bob leaves the party
    co_await s.disconnected(bob);
    BOOST_TEST(s.waiting("team") == 0u);
    for (auto u : {ann, bob}) {
      const auto ended = n.pushes.to<em::ticket_ended>(u);
      BOOST_TEST_REQUIRE(ended.size() == 1u);
      BOOST_TEST((ended[0] == em::ticket_ended(t.id, em::end_reason::disconnected)));
      BOOST_TEST(!(co_await s.status_of(u)).ticket.has_value());
    }
    p = *(co_await s.party_of(ann));
    BOOST_TEST(p.members == list(ann));
    BOOST_TEST(p.ticket.empty());
    BOOST_TEST(!(co_await s.party_of(bob)).has_value());
    // ann, alone in her party now, queues again with cid and dan and is matched without bob
    co_await s.accept(cid, p.id);
    co_await s.queue(ann, "team", no_strings(), no_numbers());
    co_await s.queue(dan, "team", no_strings(), no_numbers());
    co_await s.queue(eve, "team", no_strings(), no_numbers());
    auto made = co_await s.tick();
    BOOST_TEST_REQUIRE(made.size() == 1u);
    BOOST_TEST(users_of(made[0]) == list(ann, cid, dan, eve));
    BOOST_TEST(n.pushes.to<em::matched>(bob).empty());
    BOOST_TEST((co_await s.party_of(ann))->ticket.empty());  // matched: the party may queue again
    co_await n.node.store.stop();
  }());
}

EMBER_ON_BOTH_DATABASES(a_party_that_loses_a_member_leaves_the_queue_and_is_never_matched) {
  asio::io_context io;
  std::int64_t now = t0;
  mm_node n(e, io, now);
  auto& s = n.service;
  run(io, [&]() -> asio::awaitable<void> {
    auto p = co_await s.create_party(ann);
    co_await s.invite(ann, bob);
    co_await s.accept(bob, p.id);
    auto t = co_await s.queue(ann, "team", no_strings(), no_numbers());
    co_await s.queue(cid, "team", no_strings(), no_numbers());
    co_await s.queue(dan, "team", no_strings(), no_numbers());
    co_await s.kick(ann, bob);
    BOOST_TEST((n.pushes.to<em::ticket_ended>(ann).back() == em::ticket_ended(t.id, em::end_reason::party_changed)));
    BOOST_TEST((n.pushes.to<em::ticket_ended>(bob).back() == em::ticket_ended(t.id, em::end_reason::party_changed)));
    now += 10'000;  // fill_wait over: a match of 2 will do
    auto made = co_await s.tick();
    BOOST_TEST_REQUIRE(made.size() == 1u);
    BOOST_TEST(users_of(made[0]) == list(cid, dan));  // the party's ticket is gone
    BOOST_TEST(n.pushes.to<em::matched>(ann).empty());
    co_await n.node.store.stop();
  }());
}

EMBER_ON_BOTH_DATABASES(unqueue_and_the_timeout_end_a_ticket_and_it_is_never_matched) {
  asio::io_context io;
  std::int64_t now = t0;
  mm_node n(e, io, now);
  auto& s = n.service;
  run(io, [&]() -> asio::awaitable<void> {
    auto a = co_await s.queue(ann, "duel", in("eu"), rated(1000));
    BOOST_TEST(co_await s.unqueue(ann));
    BOOST_TEST(!(co_await s.unqueue(ann)));
    BOOST_TEST((n.pushes.to<em::ticket_ended>(ann).back() == em::ticket_ended(a.id, em::end_reason::cancelled)));
    co_await s.queue(bob, "duel", in("eu"), rated(1000));
    BOOST_TEST((co_await s.tick()).empty());  // ann is not there to meet
    auto c = co_await s.queue(cid, "duel", in("us"), rated(1000));
    now += 60'000;  // bob's and cid's tickets time out
    BOOST_TEST((co_await s.tick()).empty());
    BOOST_TEST(s.waiting("duel") == 0u);
    BOOST_TEST((n.pushes.to<em::ticket_ended>(cid).back() == em::ticket_ended(c.id, em::end_reason::expired)));
    BOOST_TEST(!(co_await s.status_of(bob)).ticket.has_value());
    co_await s.queue(ann, "duel", in("eu"), rated(1000));  // free to queue again
    co_await n.node.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM matchmaking_ticket") == 1);
}

EMBER_ON_BOTH_DATABASES(a_ticket_no_owner_ends_holds_nobody_back_past_its_timeout) {
  asio::io_context io;
  std::int64_t now = t0;
  {
    mm_node owner(e, io, now, "owner.journal");
    run(io, [&]() -> asio::awaitable<void> {
      co_await owner.service.queue(ann, "duel", in("eu"), rated(1000));
      co_await owner.node.store.stop();  // the duel pool's owner goes, and nobody takes over
    }());
  }
  mm_node other(e, io, now, "other.journal", game_options(), [](const std::string& mode) { return mode == "team"; });
  BOOST_TEST(other.service.waiting("duel") == 0u);  // not its pool
  run(io, [&]() -> asio::awaitable<void> {
    auto& s = other.service;
    BOOST_TEST((co_await s.status_of(ann)).ticket.has_value());
    BOOST_TEST(co_await error_of([&] { return s.queue(ann, "team", no_strings(), no_numbers()); }) ==
               code(em::error::already_queued));
    now += 60'000;  // the duel mode's timeout
    BOOST_TEST(!(co_await s.status_of(ann)).ticket.has_value());
    auto t = co_await s.queue(ann, "team", no_strings(), no_numbers());
    BOOST_TEST((co_await s.status_of(ann)).ticket->id == t.id);
    co_await other.node.store.stop();
  }());
}

// ---------------------------------------------------------------------------------------------
// A restarted owner

EMBER_ON_BOTH_DATABASES(a_restarted_owner_rebuilds_its_pool_from_the_written_through_tickets) {
  asio::io_context io;
  std::int64_t now = t0;
  std::string kept;
  {
    mm_node n(e, io, now);
    run(io, [&]() -> asio::awaitable<void> {
      kept = (co_await n.service.queue(ann, "duel", in("eu"), rated(1000))).id;
      co_await n.service.queue(bob, "duel", in("us"), rated(1000));
      co_await n.service.queue(cid, "duel", in("asia"), rated(1000));
      co_await n.service.unqueue(cid);
      co_await n.node.store.stop();
    }());
  }
  {
    // started again (another journal: a clean stop wrote everything back)
    mm_node again(e, io, now, "again.journal");
    BOOST_TEST(again.service.waiting("duel") == 2u);
    run(io, [&]() -> asio::awaitable<void> {
      BOOST_TEST((co_await again.service.status_of(ann)).ticket->id == kept);
      co_await again.service.queue(dan, "duel", in("eu"), rated(1050));
      now += 10;
      auto made = co_await again.service.tick();
      BOOST_TEST_REQUIRE(made.size() == 1u);
      BOOST_TEST(users_of(made[0]) == list(ann, dan));
      // crash: acknowledged but never written back, only in memcached and the journal
      co_await again.service.queue(eve, "duel", in("us"), rated(1000));
    }());
  }
  mm_node third(e, io, now, "again.journal");  // the same process: its journal replays
  BOOST_TEST(third.service.waiting("duel") == 2u);  // bob's, and eve's from the journal
  run(io, [&]() -> asio::awaitable<void> {
    now += 10;
    auto made = co_await third.service.tick();
    BOOST_TEST_REQUIRE(made.size() == 1u);
    BOOST_TEST(users_of(made[0]) == list(bob, eve));
    co_await third.node.store.stop();
  }());
}

// ---------------------------------------------------------------------------------------------
// Bad input, caps, hooks

EMBER_ON_BOTH_DATABASES(bad_input_and_caps_get_typed_errors_and_change_nothing) {
  asio::io_context io;
  std::int64_t now = t0;
  auto o = game_options();
  o.max_tickets = 2;
  o.max_value = 8;
  mm_node n(e, io, now, "node.journal", o);
  auto& s = n.service;
  run(io, [&]() -> asio::awaitable<void> {
    const auto refused = [&](std::vector<em::string_property> st, std::vector<em::number_property> nu) {
      return error_of([&s, st, nu] { return s.queue(ann, "duel", st, nu); });
    };
    BOOST_TEST(co_await error_of([&] { return s.queue(ann, "chess", in("eu"), rated(1)); }) == code(em::error::unknown_mode));
    BOOST_TEST(co_await refused(no_strings(), rated(1)) == code(em::error::bad_properties));  // missing
    auto two = in("eu");
    two.emplace_back("region", "us");
    BOOST_TEST(co_await refused(two, rated(1)) == code(em::error::bad_properties));  // repeated
    BOOST_TEST(co_await refused(std::vector<em::string_property>(1, em::string_property("map", "x")), rated(1)) ==
               code(em::error::bad_properties));  // unknown
    BOOST_TEST(co_await refused(in("europe-west"), rated(1)) == code(em::error::bad_properties));  // too long
    BOOST_TEST(co_await refused(in("\xff"), rated(1)) == code(em::error::bad_properties));          // not UTF-8
    BOOST_TEST(co_await refused(in(""), rated(1)) == code(em::error::bad_properties));
    BOOST_TEST(co_await refused(in("eu"), rated(std::nan(""))) == code(em::error::bad_properties));
    BOOST_TEST(co_await refused(in("eu"), rated(std::numeric_limits<double>::infinity())) == code(em::error::bad_properties));
    BOOST_TEST(co_await error_of([&] { return s.queue(0, "duel", in("eu"), rated(1)); }) == code(em::error::not_signed_in));
    BOOST_TEST(co_await error_of([&] { return s.create_party(std::uint64_t{1} << 63); }) == code(em::error::not_signed_in));
    BOOST_TEST(co_await error_of([&] { return s.accept(bob, std::string(100, 'p')); }) == code(em::error::not_invited));
    BOOST_TEST(s.waiting("duel") == 0u);
    // a party of three in a mode of two
    auto p = co_await s.create_party(ann);
    co_await s.invite(ann, bob);
    co_await s.invite(ann, cid);
    co_await s.accept(bob, p.id);
    co_await s.accept(cid, p.id);
    BOOST_TEST(co_await error_of([&] { return s.queue(ann, "duel", in("eu"), rated(1)); }) == code(em::error::party_too_big));
    // a member queued alone holds the party back
    co_await s.leave_party(cid);
    co_await s.queue(cid, "duel", in("eu"), rated(1));
    co_await s.invite(ann, cid);
    co_await s.accept(cid, p.id);
    co_await s.kick(ann, bob);
    BOOST_TEST(co_await error_of([&] { return s.queue(ann, "duel", in("eu"), rated(1)); }) == code(em::error::already_queued));
    // the pool's cap
    co_await s.queue(dan, "duel", in("sa"), rated(1));
    BOOST_TEST(co_await error_of([&] { return s.queue(eve, "duel", in("eu"), rated(1)); }) == code(em::error::queue_full));
    BOOST_TEST(s.waiting("duel") == 2u);
    // a mode this process does not own
    s.on().owns = [](const std::string& mode) { return mode != "team"; };
    BOOST_TEST(co_await error_of([&] { return s.queue(eve, "team", no_strings(), no_numbers()); }) == code(em::error::not_owner));
    co_await n.node.store.stop();
  }());
}

EMBER_ON_BOTH_DATABASES(a_host_hook_that_refuses_leaves_the_tickets_for_the_next_interval) {
  asio::io_context io;
  std::int64_t now = t0;
  mm_node n(e, io, now);
  auto& s = n.service;
  bool full = true;
  std::vector<std::string> hosted;
  s.on().host = [&](const em::match&) -> asio::awaitable<std::string> {
    if (full) throw std::runtime_error("every game server is full");
    co_return "game7";
  };
  s.on().on_matched = [&](const em::match& m) { hosted.push_back(m.server); };
  run(io, [&]() -> asio::awaitable<void> {
    co_await s.queue(ann, "duel", in("eu"), rated(1000));
    co_await s.queue(bob, "duel", in("eu"), rated(1000));
    BOOST_TEST((co_await s.tick()).empty());
    BOOST_TEST(s.waiting("duel") == 2u);
    BOOST_TEST(n.pushes.to<em::matched>(ann).empty());
    full = false;
    auto made = co_await s.tick();
    BOOST_TEST_REQUIRE(made.size() == 1u);
    BOOST_TEST(made[0].server == "game7");
    BOOST_TEST(n.pushes.to<em::matched>(bob).at(0).match.server == "game7");
    co_await n.node.store.stop();
  }());
  BOOST_TEST(hosted == std::vector<std::string>(1, "game7"));
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM matchmaking_match") == 1);
}

EMBER_ON_BOTH_DATABASES(run_matches_every_interval_until_stopped) {
  asio::io_context io;
  std::int64_t now = t0;
  auto o = game_options();
  o.interval = 20ms;
  mm_node n(e, io, now, "node.journal", o);
  auto& s = n.service;
  run(io, [&]() -> asio::awaitable<void> {
    bool ran = false;
    asio::co_spawn(co_await asio::this_coro::executor, s.run(), [&](std::exception_ptr) { ran = true; });
    co_await s.queue(ann, "duel", in("eu"), rated(1000));
    co_await s.queue(bob, "duel", in("eu"), rated(1000));
    BOOST_REQUIRE(co_await wait_until([&] { return n.pushes.to<em::matched>(bob).size() == 1; }));
    BOOST_TEST(n.pushes.to<em::matched>(ann).size() == 1u);
    s.stop();
    BOOST_REQUIRE(co_await wait_until([&] { return ran; }));
    co_await s.queue(cid, "duel", in("eu"), rated(1000));
    co_await s.queue(dan, "duel", in("eu"), rated(1000));
    co_await ember::test::sleep(100ms);  // stopped: no interval matches them
    BOOST_TEST(s.waiting("duel") == 2u);
    co_await n.node.store.stop();
  }());
}

// ---------------------------------------------------------------------------------------------
// Through a real server

namespace {

/// The test's sign-in (command 1, body: the user id in decimal): binds the session.
struct sign_in {
  static constexpr std::uint16_t id = 1;
  static asio::awaitable<void> run(ember::net::request_info info, std::uint64_t user) {
    info.owner->bind_user(user);
    info.out->reply_body(info, ember::net::body_writer::encoded({}));
    co_return;
  }
  static asio::awaitable<void> start(void*, const ember::net::request_info& info, ember::bytes_view body,
                                     std::error_code& ec) {
    std::uint64_t user = 0;
    const auto* text = reinterpret_cast<const char*>(body.data());
    if (std::from_chars(text, text + body.size(), user).ec != std::errc()) {
      ec = ember::make_error_code(ember::errc::malformed_body);
      return {};
    }
    return run(info, user);
  }
  ember::net::command_entry entry() {
    ember::net::command_entry e;
    e.id = id;
    e.name = "sign_in";
    e.handler = this;
    e.start = &start;
    return e;
  }
};

asio::awaitable<ember::net::client> signed_in(asio::io_context& io, ember::net::server& srv, std::uint64_t user) {
  ember::net::client c(io.get_executor());
  auto ec = co_await c.connect("127.0.0.1", srv.port());
  BOOST_REQUIRE_MESSAGE(!ec, ec.message());
  const auto text = std::to_string(user);
  auto r = co_await c.call_raw(sign_in::id, ember::as_bytes(std::string_view(text)));
  BOOST_REQUIRE(r);
  co_return c;
}

}  // namespace

EMBER_ON_BOTH_DATABASES(clients_party_queue_and_get_the_match_pushed_and_a_closed_session_leaves) {
  asio::io_context io;
  std::int64_t now = t0;
  mm_node n(e, io, now);
  auto& s = n.service;
  s.on().host = [](const em::match&) -> asio::awaitable<std::string> { co_return "game1"; };
  mm::handler commands(s);
  sign_in login;
  ember::net::dispatch_table t;
  em::register_commands(t, commands);
  t.add_entry(login.entry());
  ember::net::server_options so;
  so.name = "matchmaking";
  ember::net::server srv(io, so, std::move(t));
  n.pushes.server = &srv;
  srv.on_session_closed([&](ember::net::session& session) {
    if (auto u = session.user()) asio::co_spawn(io, s.disconnected(*u), asio::detached);
  });
  srv.start();
  run(io, [&]() -> asio::awaitable<void> {
    ember::net::client anon(io.get_executor());
    BOOST_REQUIRE(!(co_await anon.connect("127.0.0.1", srv.port())));
    auto r0 = co_await em::client_stub(anon).create_party({});
    BOOST_TEST_REQUIRE(!r0);
    BOOST_TEST(r0.error().status == code(em::error::not_signed_in));

    auto a = co_await signed_in(io, srv, ann);
    auto b = co_await signed_in(io, srv, bob);
    auto c = co_await signed_in(io, srv, cid);
    em::client_stub as(a), bs(b), cs(c);
    std::vector<em::match> a_got, b_got, c_got;
    std::vector<em::party_invited> b_invites;
    std::vector<em::ticket_ended> a_ended;
    as.on_matched([&](const em::matched& m) { a_got.push_back(m.match); });
    bs.on_matched([&](const em::matched& m) { b_got.push_back(m.match); });
    cs.on_matched([&](const em::matched& m) { c_got.push_back(m.match); });
    bs.on_party_invited([&](const em::party_invited& i) { b_invites.push_back(i); });
    as.on_ticket_ended([&](const em::ticket_ended& x) { a_ended.push_back(x); });

    auto party = co_await as.create_party({});
    BOOST_TEST_REQUIRE(!!party);
    BOOST_TEST_REQUIRE(!!(co_await as.invite(em::invite_request(bob))));
    BOOST_REQUIRE(co_await wait_until([&] { return b_invites.size() == 1; }));
    auto joined = co_await bs.accept(em::accept_request(b_invites[0].party));
    BOOST_TEST_REQUIRE(!!joined);
    BOOST_TEST(joined->party.members == list(ann, bob));
    const em::queue_request team("team", no_strings(), no_numbers());
    auto refused = co_await bs.queue(team);
    BOOST_TEST_REQUIRE(!refused);
    BOOST_TEST(refused.error().status == code(em::error::not_leader));
    auto queued = co_await as.queue(team);
    BOOST_TEST_REQUIRE(!!queued);
    BOOST_TEST(queued->ticket.members == list(ann, bob));
    auto st = co_await bs.queue_status({});
    BOOST_TEST_REQUIRE(!!st);
    BOOST_TEST(st->ticket->id == queued->ticket.id);
    BOOST_TEST_REQUIRE(!!(co_await cs.queue(em::queue_request("team", no_strings(), no_numbers()))));
    BOOST_TEST(s.waiting("team") == 2u);
    // cid's session closes mid-queue: his ticket leaves the pool (the server's closed hook)
    c.close();
    BOOST_REQUIRE(co_await wait_until([&] { return s.waiting("team") == 1; }));
    BOOST_TEST((co_await s.tick()).empty());  // the party's 2 of 4: not full, and fill_wait is not over
    auto d = co_await signed_in(io, srv, dan);
    auto e2 = co_await signed_in(io, srv, eve);
    em::client_stub ds(d), es(e2);
    std::vector<em::match> d_got;
    ds.on_matched([&](const em::matched& m) { d_got.push_back(m.match); });
    BOOST_TEST_REQUIRE(!!(co_await ds.queue(em::queue_request("team", no_strings(), no_numbers()))));
    BOOST_TEST_REQUIRE(!!(co_await es.queue(em::queue_request("team", no_strings(), no_numbers()))));
    auto made = co_await s.tick();
    BOOST_TEST_REQUIRE(made.size() == 1u);
    BOOST_REQUIRE(co_await wait_until([&] { return a_got.size() == 1 && b_got.size() == 1 && d_got.size() == 1; }));
    BOOST_TEST(a_got[0] == made[0]);
    BOOST_TEST(users_of(a_got[0]) == list(ann, bob, dan, eve));
    BOOST_TEST(a_got[0].server == "game1");
    BOOST_TEST(c_got.empty());
    BOOST_TEST(a_ended.empty());
    auto after = co_await as.queue_status({});
    BOOST_TEST_REQUIRE(!!after);
    BOOST_TEST(!after->ticket.has_value());
    BOOST_TEST(after->match->id == made[0].id);
    auto left = co_await bs.leave_party({});
    BOOST_TEST_REQUIRE(!!left);
    BOOST_TEST(left->left);
    auto mine = co_await as.my_party({});
    BOOST_TEST(mine->party->members == list(ann));
    a.close();
    b.close();
    d.close();
    e2.close();
    anon.close();
    co_await srv.stop(1s);
    co_await n.node.store.stop();
  }(), 60s);
}
