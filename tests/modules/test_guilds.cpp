// The guilds module (docs/modules/guilds.md) over real memcached, SQLite and PostgreSQL: names
// unique whatever their case (also when two processes create them at once), open and closed
// guilds with requests, roles and permissions, kick and ban, the member cap (never passed by
// joins racing from two processes), a leader who hands over before leaving, donations through
// the wallet once per operation id within a daily limit, level and funds, the chat module's
// channel for members only, the pushes and events — and the client commands through a real
// server and client.
#define BOOST_TEST_MODULE guilds
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <thread>

#include <asio/detached.hpp>

#include "ember/app/module_options.hpp"
#include "ember/modules/chat/detail/ember_chat_client.hpp"
#include "ember/modules/guilds/detail/ember_guilds_client.hpp"
#include "ember/modules/guilds/guilds.hpp"
#include "ember/net/client.hpp"
#include "ember/net/server.hpp"
#include "support/data_env.hpp"
#include "support/error_of.hpp"
#include "support/run.hpp"
#include "support/test_players.hpp"

namespace gd = ember::modules::guilds;
namespace eg = ember_guilds;
namespace ch = ember::modules::chat;
using namespace std::chrono_literals;
using ember::test::error_of;

namespace {

constexpr std::int64_t monday = 1'796'637'600'000;  // 2026-12-07 10:00 UTC
constexpr std::int64_t day = 24 * 3'600'000;

int code(eg::error e) { return static_cast<int>(e); }

/// The chat's broadcasts: recorded, and handed to a server's sessions once the test sets it.
struct recording_fanout final : ch::fanout {
  void broadcast_body(std::string_view group, std::uint16_t push_id, const ember::net::body_writer& body) override {
    groups.emplace_back(group);
    if (server) server->broadcast_body(group, push_id, body);
  }
  std::vector<std::string> groups;
  ember::net::server* server = nullptr;
};

/// Small limits, so that every one is reached: 3 seats at level 1 and one more per level, a
/// level per 100 donated, 2 waiting requests, 2 bans, 150 gold a day per member.
gd::options small() {
  gd::options o;
  o.max_members = 3;
  o.members_per_level = 1;
  o.xp_per_level = 100;
  o.max_requests = 2;
  o.max_bans = 2;
  o.daily_donation_limit = 150;
  return o;
}

/// A process of the game: the wallet, the chat and the guilds on one store, with a clock the
/// test sets, pushes and events recorded.
struct guild_node {
  guild_node(ember::test::data_env& e, asio::io_context& io, const std::string& journal = "node.journal",
             gd::options o = small())
      : node(e, io, journal), wallet(node.store, bus, players, wallet_options()),
        chat(node.store, bus, players, fanout, chat_options(), chat_hooks()),
        guilds(node.store, bus, players, wallet, chat, std::move(o)) {
    guilds.on().clock = [this] { return clock.load(); };
    node.open();
    subs.push_back(bus.subscribe<eg::guild_joined>([this](const eg::guild_joined& j) { joined.push_back(j); }));
    subs.push_back(bus.subscribe<eg::guild_left>([this](const eg::guild_left& l) { left.push_back(l); }));
    subs.push_back(bus.subscribe<eg::guild_donated>([this](const eg::guild_donated& d) { donated.push_back(d); }));
    subs.push_back(bus.subscribe<eg::guild_created>([this](const eg::guild_created&) { ++created; }));
    subs.push_back(bus.subscribe<eg::guild_disbanded>([this](const eg::guild_disbanded&) { ++disbanded; }));
    subs.push_back(bus.subscribe<eg::guild_role_changed>([this](const eg::guild_role_changed& r) { roles.push_back(r); }));
  }
  static ember::modules::wallet::options wallet_options() {
    ember::modules::wallet::options o;
    o.currencies = {{"gold", 0}};
    return o;
  }
  static ch::options chat_options() {
    ch::options o;
    o.burst = 1000;
    o.lines_per_second = 1000;
    return o;
  }
  ch::hooks chat_hooks() {
    ch::hooks h;
    h.may_join_group = [this](std::uint64_t user, std::uint64_t group) { return guilds.admits(user, group); };
    return h;
  }
  asio::awaitable<void> give_gold(std::uint64_t player, std::int64_t amount) {
    std::vector<ember_wallet::change> c(1, ember_wallet::change(player, "gold", amount));
    co_await wallet.change("seed:" + std::to_string(player) + ':' + std::to_string(++seeds), c, "seed");
  }
  /// The guild_event pushes `player` got, as (change, player concerned).
  std::vector<std::pair<eg::guild_change, std::uint64_t>> heard(std::uint64_t player) const {
    std::vector<std::pair<eg::guild_change, std::uint64_t>> out;
    for (const auto& p : players.to<eg::guild_event>(player)) out.emplace_back(p.change, p.player);
    return out;
  }

  ember::test::data_env::node node;
  ember::modules::event_bus bus;
  ember::test::test_players players;
  recording_fanout fanout;
  ember::modules::wallet::service wallet;
  ch::service chat;
  gd::service guilds;
  std::atomic<std::int64_t> clock{monday};
  int seeds = 0, created = 0, disbanded = 0;
  std::vector<eg::guild_joined> joined;
  std::vector<eg::guild_left> left;
  std::vector<eg::guild_donated> donated;
  std::vector<eg::guild_role_changed> roles;
  std::vector<ember::modules::subscription> subs;
};

using change = eg::guild_change;

}  // namespace

// --- pure rules

BOOST_AUTO_TEST_CASE(names_fold_to_small_letters_in_latin_greek_and_cyrillic) {
  BOOST_TEST(gd::fold_name("DraGons") == "dragons");
  BOOST_TEST(gd::fold_name("ÉCOLE") == "école");
  BOOST_TEST(gd::fold_name("ΩMEGA") == "ωmega");
  BOOST_TEST(gd::fold_name("ДРУЖИНА") == "дружина");
  BOOST_TEST(gd::fold_name("ЁЖ") == "ёж");
  BOOST_TEST(gd::fold_name("龍 1") == "龍 1");  // no case: itself
  BOOST_TEST(gd::fold_name("×") == "×");        // the multiplication sign is no letter
}

BOOST_AUTO_TEST_CASE(the_level_follows_the_xp_and_the_cap_the_level) {
  const auto o = small();
  BOOST_TEST(o.level_of(0) == 1);
  BOOST_TEST(o.level_of(99) == 1);
  BOOST_TEST(o.level_of(100) == 2);
  BOOST_TEST(o.level_of(1'000'000) == 20);  // max_level
  BOOST_TEST(o.cap(1) == 3u);
  BOOST_TEST(o.cap(3) == 5u);
}

BOOST_AUTO_TEST_CASE(config_json_sets_the_limits_and_permissions_and_a_bad_one_stops_the_start) {
  auto config = ember::app::parse_config(R"({"servers": {"game1": {"type": "game"}},
    "modules": {"guilds": {"server": "game", "max_members": 30, "officer_permissions": ["accept", "ban"],
                           "member_permissions": ["announce"], "daily_donation_limit": 500}}})", "config.json");
  BOOST_REQUIRE(config.has_value());
  ember::app::module_options o(*config, "guilds");
  const auto opts = gd::options::read(o);
  BOOST_TEST(opts.max_members == 30u);
  BOOST_TEST(opts.officer_permissions == (gd::permission::accept | gd::permission::ban));
  BOOST_TEST(opts.member_permissions == gd::permission::announce);
  BOOST_TEST(opts.daily_donation_limit == 500);
  BOOST_TEST(opts.max_requests == 50u);  // not given: the default

  auto bad = ember::app::parse_config(R"({"servers": {"game1": {"type": "game"}},
    "modules": {"guilds": {"server": "game", "officer_permissions": ["fly"]}}})", "config.json");
  ember::app::module_options b(*bad, "guilds");
  BOOST_CHECK_EXCEPTION(gd::options::read(b), std::invalid_argument, [](const std::invalid_argument& e) {
    return std::string(e.what()).find("modules.guilds.officer_permissions: unknown permission 'fly'") != std::string::npos;
  });
  auto typo = ember::app::parse_config(R"({"servers": {"game1": {"type": "game"}},
    "modules": {"guilds": {"server": "game", "max_member": 20}}})", "config.json");
  ember::app::module_options t(*typo, "guilds");
  BOOST_CHECK_EXCEPTION(gd::options::read(t), std::invalid_argument, [](const std::invalid_argument& e) {
    return std::string(e.what()).find("modules.guilds.max_member: unknown key") != std::string::npos;
  });
}

// --- names

EMBER_ON_BOTH_DATABASES(names_are_unique_whatever_their_case_and_a_player_is_in_one_guild) {
  asio::io_context io;
  guild_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    auto g = co_await n.guilds.create(1, "Dragons", true);
    BOOST_TEST(g.id > 0u);
    BOOST_TEST(g.name == "Dragons");
    BOOST_TEST(g.leader == 1u);
    BOOST_TEST(g.members == 1u);
    BOOST_TEST(g.max_members == 3u);
    BOOST_TEST(g.level == 1u);
    BOOST_TEST(g.channel == "group:" + std::to_string(g.id));
    BOOST_TEST(co_await n.guilds.guild_of(1) == g.id);
    const auto create = [&](std::uint64_t p, std::string name) {
      return error_of([&n, p, name] { return n.guilds.create(p, name, true); });
    };
    BOOST_TEST(co_await create(2, "DRAGONS") == code(eg::error::name_taken));
    BOOST_TEST(co_await create(2, "dragons") == code(eg::error::name_taken));
    BOOST_TEST(co_await create(2, "ΩMEGA") == 0);
    BOOST_TEST(co_await create(3, "ωmega") == code(eg::error::name_taken));
    BOOST_TEST(co_await create(1, "Another") == code(eg::error::already_in_guild));
    // bad names: empty, short, long, spaces at the ends, control characters, not UTF-8
    for (const auto& bad : std::vector<std::string>{"", "ab", std::string(25, 'x'), " Lead", "Trail ", "a\x01" "bc", "\xff\xfe\xfd"})
      BOOST_TEST(co_await create(3, bad) == code(eg::error::bad_name));
    BOOST_TEST((co_await n.guilds.find("dRaGoNs")).id == g.id);
    BOOST_TEST(co_await error_of([&] { return n.guilds.find("nobody"); }) == code(eg::error::no_guild));
    BOOST_TEST(co_await error_of([&] { return n.guilds.info(999'999); }) == code(eg::error::no_guild));
    BOOST_TEST(co_await error_of([&] { return n.guilds.info(0); }) == code(eg::error::no_guild));
    co_await n.node.store.stop();
  }());
  BOOST_TEST(n.created == 2);
  // the placeholders of the creations that lost are gone
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM guild") == 2);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM guild_name WHERE guild <> 0") == 2);
}

EMBER_ON_BOTH_DATABASES(two_processes_racing_names_that_differ_in_case_and_joins_for_the_last_seats_pass_no_rule) {
  std::uint64_t keep = 0;
  {
    asio::io_context io;
    guild_node setup(e, io, "setup.journal");
    ember::test::run(io, [&]() -> asio::awaitable<void> {
      keep = (co_await setup.guilds.create(100, "Keep", true)).id;  // 2 seats left
      co_await setup.node.store.stop();
    }());
  }
  std::atomic<int> joined{0}, full{0}, created{0}, taken{0}, failed{0};
  auto process = [&](std::string name, std::uint64_t first, std::string guild_name) {
    asio::io_context io;
    guild_node n(e, io, name + ".journal");
    ember::test::run(io, [&]() -> asio::awaitable<void> {
      int finished = 0;
      for (std::uint64_t p = first; p < first + 4; ++p)  // four joins at once per process
        asio::co_spawn(io, [&, p]() -> asio::awaitable<void> {
          const auto c = co_await error_of([&] { return n.guilds.join(p, keep); });
          if (c == 0) ++joined;
          else if (c == code(eg::error::guild_full)) ++full;
          else ++failed;
          ++finished;
        }, asio::detached);
      asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        const auto c = co_await error_of([&] { return n.guilds.create(first + 1000, guild_name, false); });
        if (c == 0) ++created;
        else if (c == code(eg::error::name_taken)) ++taken;
        else ++failed;
        ++finished;
      }, asio::detached);
      BOOST_TEST(co_await ember::test::wait_until([&] { return finished == 5; }, 100s));
      co_await n.node.store.stop();
    }(), 120s);
  };
  std::thread a([&] { process("a", 101, "Race"); });
  std::thread b([&] { process("b", 201, "RACE"); });
  a.join();
  b.join();
  BOOST_TEST(failed == 0);
  BOOST_TEST(joined == 2);
  BOOST_TEST(full == 6);
  BOOST_TEST(created == 1);
  BOOST_TEST(taken == 1);
  BOOST_TEST(e.scalar("SELECT members FROM guild WHERE id = " + std::to_string(keep)) == 3);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM guild_player WHERE guild = " + std::to_string(keep)) == 3);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM guild_name WHERE name_key = 'race' AND guild <> 0") == 1);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM guild") == 2);
}

// --- membership

EMBER_ON_BOTH_DATABASES(closed_guilds_take_requests_that_officers_accept_or_refuse) {
  asio::io_context io;
  guild_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    const auto g = (co_await n.guilds.create(1, "Hall", false)).id;
    BOOST_TEST(!co_await n.guilds.join(2, g));  // asked
    BOOST_TEST(!co_await n.guilds.join(2, g));  // asked again: nothing changes
    BOOST_TEST(!co_await n.guilds.join(3, g));
    BOOST_TEST(co_await error_of([&] { return n.guilds.join(4, g); }) == code(eg::error::too_many_requests));
    auto asked = co_await n.guilds.requests(1);
    BOOST_TEST_REQUIRE(asked.size() == 2u);
    BOOST_TEST(asked[0].player == 2u);
    BOOST_TEST(n.heard(1).size() == 2u);  // the leader heard both requests
    BOOST_TEST((n.heard(1)[0] == std::pair{change::requested, std::uint64_t{2}}));
    BOOST_TEST(co_await n.guilds.guild_of(2) == 0u);

    co_await n.guilds.accept(1, 2);
    BOOST_TEST(co_await n.guilds.guild_of(2) == g);
    BOOST_TEST((n.heard(2).back() == std::pair{change::joined, std::uint64_t{2}}));
    BOOST_TEST_REQUIRE(n.joined.size() == 1u);
    BOOST_TEST(n.joined[0].by == 1u);
    // a member may not handle requests (no permission), nor may a non-member
    BOOST_TEST(co_await error_of([&] { return n.guilds.accept(2, 3); }) == code(eg::error::not_allowed));
    BOOST_TEST(co_await error_of([&] { return n.guilds.requests(2); }) == code(eg::error::not_allowed));
    BOOST_TEST(co_await error_of([&] { return n.guilds.accept(9, 3); }) == code(eg::error::not_member));
    // an officer may (the default officer permissions include accept)
    co_await n.guilds.promote(1, 2);
    co_await n.guilds.refuse(2, 3);
    BOOST_TEST(co_await error_of([&] { return n.guilds.refuse(2, 3); }) == code(eg::error::no_request));
    BOOST_TEST(co_await error_of([&] { return n.guilds.accept(2, 7); }) == code(eg::error::no_request));
    // a player who asked, then founded a guild: the request is dropped, not accepted
    BOOST_TEST(!co_await n.guilds.join(4, g));
    co_await n.guilds.create(4, "Elsewhere", true);
    BOOST_TEST(co_await error_of([&] { return n.guilds.accept(1, 4); }) == code(eg::error::already_in_guild));
    BOOST_TEST((co_await n.guilds.requests(1)).empty());
    // the cap holds for accepted requests too (3 seats: 1, 2 and 5)
    BOOST_TEST(!co_await n.guilds.join(5, g));
    BOOST_TEST(!co_await n.guilds.join(6, g));
    co_await n.guilds.accept(2, 5);
    BOOST_TEST(co_await error_of([&] { return n.guilds.accept(2, 6); }) == code(eg::error::guild_full));
    BOOST_TEST((co_await n.guilds.requests(1)).size() == 1u);  // still waiting for a seat
    // opening needs the settings permission (the leader's, not an officer's by default)
    BOOST_TEST(co_await error_of([&] { return n.guilds.set_open(2, true); }) == code(eg::error::not_allowed));
    co_await n.guilds.set_open(1, true);
    BOOST_TEST((co_await n.guilds.info(g)).open);
    BOOST_TEST(co_await error_of([&] { return n.guilds.join(7, g); }) == code(eg::error::guild_full));
    co_await n.node.store.stop();
  }());
}

EMBER_ON_BOTH_DATABASES(roles_rank_who_may_kick_ban_promote_and_demote_and_members_hear_it) {
  asio::io_context io;
  auto o = small();
  o.max_members = 6;
  guild_node n(e, io, "node.journal", o);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    const auto g = (co_await n.guilds.create(1, "Ranks", true)).id;
    for (std::uint64_t p : {2, 3, 4}) BOOST_TEST(co_await n.guilds.join(p, g));
    BOOST_TEST((n.heard(1).back() == std::pair{change::joined, std::uint64_t{4}}));
    co_await n.guilds.promote(1, 2);
    for (std::uint64_t p : {1, 2, 3, 4}) BOOST_TEST((n.heard(p).back() == std::pair{change::promoted, std::uint64_t{2}}));
    BOOST_TEST_REQUIRE(n.roles.size() == 1u);
    BOOST_TEST((n.roles[0].role == eg::guild_role::officer));
    BOOST_TEST(co_await error_of([&] { return n.guilds.promote(1, 2); }) == code(eg::error::bad_role));
    BOOST_TEST(co_await error_of([&] { return n.guilds.promote(3, 4); }) == code(eg::error::not_allowed));
    BOOST_TEST(co_await error_of([&] { return n.guilds.promote(2, 4); }) == code(eg::error::not_allowed));
    auto members = co_await n.guilds.members(g);  // by rank, then seniority
    BOOST_TEST_REQUIRE(members.size() == 4u);
    BOOST_TEST(members[0].player == 1u);
    BOOST_TEST(members[1].player == 2u);
    BOOST_TEST(members[2].player == 3u);

    // kick: an officer kicks a member, never the leader or another officer; members may not
    co_await n.guilds.kick(2, 3);
    BOOST_TEST(co_await n.guilds.guild_of(3) == 0u);
    BOOST_TEST((n.heard(3).back() == std::pair{change::kicked, std::uint64_t{3}}));
    BOOST_TEST((n.heard(4).back() == std::pair{change::kicked, std::uint64_t{3}}));
    BOOST_TEST_REQUIRE(n.left.size() == 1u);
    BOOST_TEST((n.left[0].how == change::kicked));
    BOOST_TEST(n.left[0].by == 2u);
    BOOST_TEST(co_await error_of([&] { return n.guilds.kick(2, 1); }) == code(eg::error::outranked));
    BOOST_TEST(co_await error_of([&] { return n.guilds.kick(2, 2); }) == code(eg::error::self));
    BOOST_TEST(co_await error_of([&] { return n.guilds.kick(4, 2); }) == code(eg::error::not_allowed));
    BOOST_TEST(co_await error_of([&] { return n.guilds.kick(2, 3); }) == code(eg::error::not_in_your_guild));
    BOOST_TEST(co_await n.guilds.join(3, g));  // a kick is no ban

    // ban: the leader's (officers lack it by default); a banned player may not join or ask
    BOOST_TEST(co_await error_of([&] { return n.guilds.ban(2, 3); }) == code(eg::error::not_allowed));
    co_await n.guilds.ban(1, 3);
    BOOST_TEST(co_await n.guilds.guild_of(3) == 0u);
    BOOST_TEST((n.heard(3).back() == std::pair{change::banned, std::uint64_t{3}}));
    BOOST_TEST(co_await error_of([&] { return n.guilds.join(3, g); }) == code(eg::error::banned));
    co_await n.guilds.ban(1, 8);  // a non-member: 2 bans, the list's cap
    BOOST_TEST(co_await error_of([&] { return n.guilds.ban(1, 9); }) == code(eg::error::ban_list_full));
    co_await n.guilds.unban(1, 3);
    BOOST_TEST(co_await n.guilds.join(3, g));

    // demote: the leader demotes an officer; an officer never another officer
    co_await n.guilds.promote(1, 4);
    BOOST_TEST(co_await error_of([&] { return n.guilds.demote(2, 4); }) == code(eg::error::not_allowed));
    co_await n.guilds.demote(1, 4);
    BOOST_TEST((n.heard(4).back() == std::pair{change::demoted, std::uint64_t{4}}));
    BOOST_TEST(co_await error_of([&] { return n.guilds.demote(1, 4); }) == code(eg::error::bad_role));
    // the announcement: the leader's and officers' (announce), pushed to every member
    co_await n.guilds.announce_text(2, "raid at 20:00\nbring potions");
    BOOST_TEST((co_await n.guilds.info(g)).announcement == "raid at 20:00\nbring potions");
    const auto last = n.players.to<eg::guild_event>(4).back();
    BOOST_TEST((last.change == change::announcement));
    BOOST_TEST(last.text == "raid at 20:00\nbring potions");
    BOOST_TEST(co_await error_of([&] { return n.guilds.announce_text(4, "mine"); }) == code(eg::error::not_allowed));
    BOOST_TEST(co_await error_of([&] { return n.guilds.announce_text(1, std::string(501, 'a')); }) ==
               code(eg::error::bad_text));
    BOOST_TEST(co_await error_of([&] { return n.guilds.announce_text(1, "bell\x07"); }) == code(eg::error::bad_text));
    co_await n.node.store.stop();
  }());
}

EMBER_ON_BOTH_DATABASES(a_leader_hands_over_before_leaving_and_the_last_member_leaving_disbands_the_guild) {
  asio::io_context io;
  guild_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    const auto g = (co_await n.guilds.create(1, "Crown", true)).id;
    BOOST_TEST(co_await n.guilds.join(2, g));
    BOOST_TEST(co_await error_of([&] { return n.guilds.leave(1); }) == code(eg::error::leader_must_hand_over));
    BOOST_TEST(co_await error_of([&] { return n.guilds.transfer(2, 1); }) == code(eg::error::not_allowed));
    BOOST_TEST(co_await error_of([&] { return n.guilds.transfer(1, 5); }) == code(eg::error::not_in_your_guild));
    co_await n.guilds.transfer(1, 2);
    BOOST_TEST((co_await n.guilds.info(g)).leader == 2u);
    BOOST_TEST((n.heard(1).back() == std::pair{change::leader_changed, std::uint64_t{2}}));
    auto members = co_await n.guilds.members(g);
    BOOST_TEST((members.at(0).role == eg::guild_role::leader));
    BOOST_TEST(members.at(0).player == 2u);
    BOOST_TEST((members.at(1).role == eg::guild_role::officer));
    co_await n.guilds.leave(1);
    BOOST_TEST(co_await n.guilds.guild_of(1) == 0u);
    BOOST_TEST((n.heard(2).back() == std::pair{change::left, std::uint64_t{1}}));
    BOOST_TEST(co_await error_of([&] { return n.guilds.leave(1); }) == code(eg::error::not_member));
    co_await n.guilds.leave(2);  // alone: the guild ends and its name is free
    BOOST_TEST(n.disbanded == 1);
    BOOST_TEST((n.heard(2).back() == std::pair{change::disbanded, std::uint64_t{2}}));
    BOOST_TEST(co_await error_of([&] { return n.guilds.info(g); }) == code(eg::error::no_guild));
    BOOST_TEST(co_await error_of([&] { return n.guilds.find("crown"); }) == code(eg::error::no_guild));
    BOOST_TEST(co_await error_of([&] { return n.guilds.join(3, g); }) == code(eg::error::no_guild));
    const auto again = co_await n.guilds.create(3, "CROWN", true);
    BOOST_TEST(again.id != g);
    BOOST_TEST((co_await n.guilds.find("Crown")).id == again.id);
    co_await n.node.store.stop();
  }());
  BOOST_TEST_REQUIRE(n.left.size() == 2u);
  BOOST_TEST((n.left[0].how == change::left));
  BOOST_TEST((n.left[1].how == change::disbanded));
}

// --- funds

EMBER_ON_BOTH_DATABASES(donations_move_wallet_currency_once_per_operation_id_within_a_daily_limit) {
  asio::io_context io;
  guild_node n(e, io);
  std::uint64_t g = 0;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    g = (co_await n.guilds.create(1, "Bank", true)).id;
    BOOST_TEST(co_await n.guilds.join(2, g));
    co_await n.give_gold(2, 1000);
    // six sessions at once, one operation id: one donation
    std::vector<eg::donation_result> results(6);
    int finished = 0;
    for (auto& r : results)
      asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        r = co_await n.guilds.donate(2, "d1", 60);
        ++finished;
      }, asio::detached);
    BOOST_TEST(co_await ember::test::wait_until([&] { return finished == 6; }, 30s));
    BOOST_TEST(std::count_if(results.begin(), results.end(), [](auto& r) { return r.applied; }) == 1);
    for (const auto& r : results) BOOST_TEST(r.funds == 60);
    BOOST_TEST(co_await n.wallet.balance(2, "gold") == 940);
    auto d2 = co_await n.guilds.donate(2, "d2", 90);  // 150 today: the limit
    BOOST_TEST(d2.applied);
    BOOST_TEST(d2.contributed == 150);
    BOOST_TEST(d2.donated_today == 150);
    BOOST_TEST(d2.level == 2u);  // 150 xp: level 2, one more seat
    const auto info = co_await n.guilds.info(g);
    BOOST_TEST(info.funds == 150);
    BOOST_TEST(info.xp == 150);
    BOOST_TEST(info.max_members == 4u);
    BOOST_TEST(co_await error_of([&] { return n.guilds.donate(2, "d3", 1); }) == code(eg::error::donation_limit));
    BOOST_TEST(co_await error_of([&] { return n.guilds.donate(2, "big", 151); }) == code(eg::error::donation_limit));
    n.clock += day;  // a new day
    BOOST_TEST((co_await n.guilds.donate(2, "d3", 100)).donated_today == 100);
    BOOST_TEST(co_await n.wallet.balance(2, "gold") == 750);
    // too little gold: nothing changes, and the operation id stays free
    BOOST_TEST(co_await n.guilds.join(3, g));
    BOOST_TEST(co_await error_of([&] { return n.guilds.donate(3, "x", 10); }) == code(eg::error::insufficient_funds));
    BOOST_TEST((co_await n.guilds.info(g)).funds == 250);
    co_await n.give_gold(3, 10);
    BOOST_TEST((co_await n.guilds.donate(3, "x", 10)).applied);
    // bad input, non-members
    BOOST_TEST(co_await error_of([&] { return n.guilds.donate(3, "y", 0); }) == code(eg::error::bad_amount));
    BOOST_TEST(co_await error_of([&] { return n.guilds.donate(3, "y", -5); }) == code(eg::error::bad_amount));
    BOOST_TEST(co_await error_of([&] { return n.guilds.donate(3, std::string(33, 'y'), 1); }) == code(eg::error::bad_text));
    BOOST_TEST(co_await error_of([&] { return n.guilds.donate(9, "y", 1); }) == code(eg::error::not_member));
    // a retry after leaving still gets the first result, and nothing moves
    co_await n.guilds.leave(2);
    auto retry = co_await n.guilds.donate(2, "d1", 60);
    BOOST_TEST(!retry.applied);
    BOOST_TEST(retry.funds == 60);
    BOOST_TEST(co_await n.wallet.balance(2, "gold") == 750);
    // the game spends funds once per operation
    BOOST_TEST(co_await n.guilds.spend(g, "hall", 200) == 60);
    BOOST_TEST(co_await n.guilds.spend(g, "hall", 200) == 60);
    BOOST_TEST(co_await error_of([&] { return n.guilds.spend(g, "tower", 61); }) == code(eg::error::insufficient_funds));
    BOOST_TEST((co_await n.guilds.info(g)).funds == 60);
    BOOST_TEST((co_await n.guilds.members(g)).at(0).contributed == 0);  // the leader gave nothing
    co_await n.node.store.stop();
  }());
  BOOST_TEST(n.donated.size() == 4u);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM wallet_ledger WHERE op LIKE 'guilds:d:%'") == 4);
  BOOST_TEST(e.scalar("SELECT funds FROM guild WHERE id = " + std::to_string(g)) == 60);
  BOOST_TEST(e.scalar("SELECT xp FROM guild WHERE id = " + std::to_string(g)) == 260);
}

// --- chat

EMBER_ON_BOTH_DATABASES(the_guild_channel_is_a_chat_channel_for_its_members_only) {
  asio::io_context io;
  guild_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    const auto g = (co_await n.guilds.create(1, "Talk", true)).id;
    const auto channel = "group:" + std::to_string(g);
    BOOST_TEST(co_await n.guilds.join(2, g));
    auto [opened, last] = co_await n.guilds.open_chat(2);
    BOOST_TEST(opened == channel);
    BOOST_TEST(last == 0u);
    auto line = co_await n.guilds.say(2, "hello guild", "");
    BOOST_TEST(line.seq == 1u);
    BOOST_TEST(line.channel == channel);
    BOOST_TEST(n.fanout.groups.back() == "chat:" + channel);
    BOOST_TEST((co_await n.guilds.say(1, "welcome", "op-1")).seq == 2u);
    BOOST_TEST((co_await n.guilds.say(1, "welcome", "op-1")).seq == 2u);  // said once
    auto [page, next] = co_await n.guilds.chat_history(1, 0, false, 0);  // newest first
    BOOST_TEST_REQUIRE(page.size() == 2u);
    BOOST_TEST(page[0].text == "welcome");
    BOOST_TEST(page[1].text == "hello guild");
    BOOST_TEST(next == 0u);
    BOOST_TEST((co_await n.guilds.chat_history(1, 1, true, 0)).first.at(0).seq == 2u);  // newer than 1
    // outsiders: neither through the guilds nor through the chat's own commands
    BOOST_TEST(co_await error_of([&] { return n.guilds.say(3, "hi", ""); }) == code(eg::error::not_member));
    BOOST_TEST(co_await error_of([&] { return n.guilds.open_chat(3); }) == code(eg::error::not_member));
    BOOST_TEST(co_await error_of([&] { return n.guilds.chat_history(3, 0, false, 0); }) == code(eg::error::not_member));
    BOOST_TEST(co_await error_of([&] { return n.chat.history(2, channel, 0, false, 0); }) ==
               static_cast<int>(ember_chat::error::not_allowed));
    BOOST_TEST(co_await error_of([&] { return n.chat.join(3, channel); }) ==
               static_cast<int>(ember_chat::error::not_allowed));
    BOOST_TEST(co_await error_of([&] { return n.chat.send(2, channel, "around the guild", ""); }) ==
               static_cast<int>(ember_chat::error::not_allowed));
    // a member who leaves leaves the channel
    co_await n.guilds.leave(2);
    BOOST_TEST(co_await error_of([&] { return n.guilds.say(2, "still here?", ""); }) == code(eg::error::not_member));
    BOOST_TEST(!n.guilds.admits(1, g));  // nothing admitted once the calls ended
    co_await n.node.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM chat_member WHERE channel LIKE 'group:%'") == 1);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM chat_message WHERE channel LIKE 'group:%'") == 2);
}

// --- the client commands through a real server and client

namespace {

/// A test-only sign-in: binds the session to the player id it is sent (a game uses the accounts
/// module; the guilds need only a bound user).
struct sign_in {
  static constexpr std::uint16_t id = 59998;
  static constexpr std::string_view name = "sign_in";
  static constexpr bool ordered = true;
  static constexpr bool internal = false;
  using request = eg::find_guild_request;  // a message with one string: the player id
  using reply = eg::leave_guild_reply;
};
struct sign_in_handler {
  asio::awaitable<eg::leave_guild_reply> sign(ember::net::session& s, const eg::find_guild_request& r) {
    s.bind_user(std::stoull(r.name));
    co_return eg::leave_guild_reply{};
  }
};

struct guild_server {
  guild_server(asio::io_context& io, guild_node& n) : commands(n.guilds), srv(io, options(), table()) {
    srv.start();
    n.players.server = &srv;
    n.fanout.server = &srv;
  }
  static ember::net::server_options options() {
    ember::net::server_options so;
    so.name = "guilds";
    return so;
  }
  ember::net::dispatch_table table() {
    ember::net::dispatch_table t;
    eg::register_commands(t, commands);
    t.add<sign_in, &sign_in_handler::sign>(signer);
    return t;
  }
  asio::awaitable<std::unique_ptr<ember::net::client>> client(std::uint64_t user) {
    auto c = std::make_unique<ember::net::client>(co_await asio::this_coro::executor);
    BOOST_REQUIRE(!(co_await c->connect("127.0.0.1", srv.port())));
    if (user) (co_await c->call<sign_in>(eg::find_guild_request(std::to_string(user)))).value();
    co_return c;
  }
  gd::handler commands;
  sign_in_handler signer;
  ember::net::server srv;
};

}  // namespace

EMBER_ON_BOTH_DATABASES(clients_create_join_chat_and_hear_the_guild_and_bad_requests_leave_the_session_usable) {
  asio::io_context io;
  guild_node n(e, io);
  guild_server s(io, n);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    auto anon = co_await s.client(0);
    auto r0 = co_await eg::client_stub(*anon).create_guild({"Nobody", true});
    BOOST_TEST_REQUIRE(!r0);
    BOOST_TEST(r0.error().status == code(eg::error::not_signed_in));

    auto alice_c = co_await s.client(41);
    auto bob_c = co_await s.client(42);
    eg::client_stub alice(*alice_c), bob(*bob_c);
    std::vector<eg::guild_event> alice_heard, bob_heard;
    std::vector<ember_chat::chat_line> alice_lines;
    alice.on_guild_event([&](const eg::guild_event& ev) { alice_heard.push_back(ev); });
    bob.on_guild_event([&](const eg::guild_event& ev) { bob_heard.push_back(ev); });
    ember_chat::client_stub(*alice_c).on_line_said([&](const ember_chat::line_said& l) { alice_lines.push_back(l.line); });

    auto made = co_await alice.create_guild({"Wolves", true});
    BOOST_TEST_REQUIRE(!!made);
    const auto g = made->guild.id;
    auto taken = co_await bob.create_guild({"WOLVES", true});
    BOOST_TEST(taken.error().status == code(eg::error::name_taken));
    auto found = co_await bob.find_guild(eg::find_guild_request("wolves"));
    BOOST_TEST_REQUIRE(!!found);
    BOOST_TEST(found->guild.id == g);
    auto joined = co_await bob.join_guild(eg::join_guild_request(g));
    BOOST_TEST_REQUIRE(!!joined);
    BOOST_TEST(joined->joined);
    BOOST_TEST(co_await ember::test::wait_until([&] { return alice_heard.size() == 1; }));
    BOOST_TEST((alice_heard[0].change == change::joined));
    BOOST_TEST(alice_heard[0].player == 42u);
    auto mine = co_await bob.get_guild(eg::get_guild_request(0));
    BOOST_TEST_REQUIRE(!!mine);
    BOOST_TEST(mine->guild.members == 2u);
    auto listed = co_await alice.list_members(eg::list_members_request(0));
    BOOST_TEST_REQUIRE(!!listed);
    BOOST_TEST(listed->members.size() == 2u);

    BOOST_TEST(!!(co_await alice.set_announcement(eg::set_announcement_request("welcome"))));
    BOOST_TEST(co_await ember::test::wait_until([&] { return !bob_heard.empty() && bob_heard.back().text == "welcome"; }));
    // the chat: alice opens the channel on her session, bob's line reaches it
    auto opened = co_await alice.open_chat({});
    BOOST_TEST_REQUIRE(!!opened);
    BOOST_TEST(opened->channel == "group:" + std::to_string(g));
    auto said = co_await bob.say({"hi all", "b-1"});
    BOOST_TEST_REQUIRE(!!said);
    BOOST_TEST(said->seq == 1u);
    BOOST_TEST(co_await ember::test::wait_until([&] { return alice_lines.size() == 1; }));
    BOOST_TEST(alice_lines.at(0).text == "hi all");
    BOOST_TEST(alice_lines.at(0).from == 42u);
    auto history = co_await alice.chat_history({0, false, 10});
    BOOST_TEST_REQUIRE(!!history);
    BOOST_TEST_REQUIRE(history->lines.size() == 1u);
    BOOST_TEST(history->lines[0].text == "hi all");
    BOOST_TEST(history->lines[0].from == 42u);

    // bad requests: typed errors, the sessions go on
    auto bad0 = co_await bob.kick(eg::kick_request(41));
    BOOST_TEST(bad0.error().status == code(eg::error::not_allowed));
    auto bad1 = co_await bob.leave_guild({});
    BOOST_TEST(!!bad1);
    auto bad2 = co_await bob.donate({"d", 10});
    BOOST_TEST(bad2.error().status == code(eg::error::not_member));
    auto bad3 = co_await alice.leave_guild({});
    BOOST_TEST(!!bad3);  // alone: disbanded
    auto bad4 = co_await alice.get_guild(eg::get_guild_request(g));
    BOOST_TEST(bad4.error().status == code(eg::error::no_guild));
    auto bad5 = co_await alice.create_guild({"x\x01yz", true});
    BOOST_TEST(bad5.error().status == code(eg::error::bad_name));
    auto after = co_await alice.create_guild({"Wolves", false});  // the name is free again
    BOOST_TEST_REQUIRE(!!after);
    BOOST_TEST(!after->guild.open);
    anon->close();
    alice_c->close();
    bob_c->close();
    co_await s.srv.stop(1s);
    co_await n.node.store.stop();
  }());
}
