// The quests module (docs/modules/quests.md) over real memcached, SQLite and PostgreSQL: every
// rule of the issue — quests in reloadable game data (a file over its caps, a missing or
// looping prerequisite refused), counters fed by the events other modules publish (real shop
// purchases, friendships, chat lines, completed quests), filters, prerequisites, daily and
// weekly resets at midnight of the game's time zone (a clock the test moves), every event
// counted once even when heard twice or relayed to a second process, rewards granted through
// the wallet and the inventory once per player, quest and period (raced), progress pushed —
// and the client commands through a real server and client.
#define BOOST_TEST_MODULE quests
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <fstream>
#include <thread>

#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <fmt/format.h>

#include "ember/app/module_options.hpp"
#include "ember/modules/quests/detail/ember_quests_client.hpp"
#include "ember/modules/quests/quests.hpp"
#include "ember/modules/quests/sources.hpp"
#include "ember/modules/shop/shop.hpp"
#include "ember/net/client.hpp"
#include "ember/net/server.hpp"
#include "support/data_env.hpp"
#include "support/error_of.hpp"
#include "support/run.hpp"
#include "support/test_players.hpp"

namespace qs = ember::modules::quests;
namespace eq = ember_quests;
namespace inv = ember::modules::inventory;
namespace periods = ember::modules::detail;
using namespace std::chrono_literals;

using ember::test::error_of;

namespace {

/// Monday 2026-12-07 10:00 UTC: 12:00 in the game's time zone (UTC+2) of these tests.
constexpr std::int64_t monday = 1'796'637'600'000;
constexpr std::int64_t hour = 3'600'000, day = 24 * hour;
constexpr std::int64_t midnight = monday + 12 * hour;  // Tuesday 00:00 local

// The quests (game data): "buy_potions" counts purchases of one product; "weekly_buyer" any
// purchase, weekly; "daily_chat" lines in room:world, daily; "marathon" any line; friends:
// "first_friend", then "five_friends" (which needs it); "chatterbox" (hidden) counts days the
// daily chat was completed; "bad_*": rewards the wallet or the inventory does not know; the
// longest quest id (its operation id must fit the wallet's).
constexpr const char* quests_json = R"([
  {"id": "buy_potions", "counts": "shop.purchase", "filter": "potion_pack", "target": 2,
   "currencies": [{"currency": "gems", "amount": 10}]},
  {"id": "weekly_buyer", "counts": "shop.purchase", "target": 3, "reset": "weekly",
   "items": [{"type": "potion", "count": 2}]},
  {"id": "daily_chat", "counts": "chat.line", "filter": "room:world", "target": 3, "reset": "daily",
   "currencies": [{"currency": "gold", "amount": 5}]},
  {"id": "marathon", "counts": "chat.line", "target": 100},
  {"id": "first_friend", "counts": "friends.made", "target": 1, "items": [{"type": "sword", "count": 1}]},
  {"id": "five_friends", "counts": "friends.made", "target": 5, "prerequisites": ["first_friend"],
   "currencies": [{"currency": "gems", "amount": 50}]},
  {"id": "chatterbox", "counts": "quests.completed", "filter": "daily_chat", "target": 2, "hidden": true,
   "currencies": [{"currency": "gems", "amount": 1}]},
  {"id": "bad_currency", "counts": "test.bad", "target": 1, "currencies": [{"currency": "silver", "amount": 1}]},
  {"id": "bad_item", "counts": "test.bad", "target": 1, "items": [{"type": "shield", "count": 1}]},
  {"id": "a_quest_id_of_28_code_points", "counts": "test.long", "target": 1, "reset": "daily",
   "currencies": [{"currency": "gold", "amount": 1}]}
])";

constexpr const char* catalogue_json = R"([
  {"id": "potion_pack", "prices": [{"currency": "gold", "amount": 10}], "items": [{"type": "potion", "count": 1}]},
  {"id": "daily_chest", "prices": [{"currency": "gold", "amount": 10}], "items": [{"type": "potion", "count": 1}]}
])";

std::filesystem::path write_file(const std::filesystem::path& file, const char* text) {
  if (!std::filesystem::exists(file)) std::ofstream(file) << text;
  return file;
}

ember::modules::wallet::options wallet_options() {
  ember::modules::wallet::options o;
  o.currencies = {{"gold", 0}, {"gems", 1000}};
  return o;
}

inv::options small_bag() {
  inv::options o;
  o.slots = 3;
  o.max_slots = 3;
  return o;
}

qs::options quest_options() {
  qs::options o;
  o.utc_offset_minutes = 120;
  o.page = 4;
  return o;
}

/// A process of the game: the wallet, the inventory, the shop and the quests on one store,
/// with a clock the test sets; the quests count ember's own events.
struct quest_node {
  quest_node(ember::test::data_env& e, asio::io_context& io, const std::string& journal = "node.journal")
      : node(e, io, journal), types(write_file(e.dir / "item_types.json",
                                               R"([{"id": "potion", "stack_limit": 20}, {"id": "sword", "stack_limit": 1}])")),
        products(write_file(e.dir / "shop.json", catalogue_json)), book(write_file(e.dir / "quests.json", quests_json)),
        wallet(node.store, bus, players, wallet_options()), inventory(node.store, bus, players, types, small_bag()),
        shop(node.store, bus, wallet, inventory, products),
        quests(io.get_executor(), node.store, bus, players, wallet, inventory, book, quest_options()) {
    shop.on().clock = [this] { return clock.load(); };
    quests.on().clock = [this] { return clock.load(); };
    quests.on().on_counted = [this](const std::string& source, const qs::tally&, bool applied) {
      if (source == "chat.line") ++(applied ? counted : duplicates);
    };
    quests.count<ember_shop::product_purchased>("shop.purchase", qs::sources::purchases);
    quests.count<ember_chat::chat_line>("chat.line", qs::sources::chat_lines);
    quests.count<ember_friends::friend_added>("friends.made", qs::sources::friendships);
    quests.count<eq::quest_completed>("quests.completed", qs::sources::completions);
    BOOST_REQUIRE(types.reload());
    BOOST_REQUIRE(products.reload());
    BOOST_REQUIRE(book.reload());
    node.open();
  }
  /// Waits until every event heard so far is counted.
  asio::awaitable<void> settle() {
    BOOST_TEST(co_await ember::test::wait_until([this] { return quests.counting() == 0; }, 30s));
  }
  asio::awaitable<eq::quest_status> status(std::uint64_t player, const std::string& quest) {
    std::string cursor;
    for (int pages = 0; pages < 10; ++pages) {
      auto page = co_await quests.list(player, cursor, 0);
      for (const auto& s : page.quests)
        if (s.quest == quest) co_return s;
      if (page.next_cursor.empty()) break;
      cursor = page.next_cursor;
    }
    co_return eq::quest_status{};  // not listed (hidden)
  }
  /// Counts one tally of `source` directly.
  asio::awaitable<bool> tally(std::string source, std::uint64_t player, std::string filter, std::string event_id) {
    qs::tally t{player, std::move(filter), 1, std::move(event_id)};
    co_return co_await quests.record(std::move(source), t);
  }
  void say(std::uint64_t player, const std::string& channel) {
    bus.publish(ember_chat::chat_line(channel, ++lines, player, "hello", static_cast<std::uint64_t>(clock.load())));
  }
  asio::awaitable<void> give_gold(std::uint64_t player, std::int64_t amount) {
    std::vector<ember_wallet::change> c(1, ember_wallet::change(player, "gold", amount));
    co_await wallet.change("seed:" + std::to_string(player) + ':' + std::to_string(++seeds), c, "seed");
  }
  asio::awaitable<std::uint32_t> items(std::uint64_t player, std::string type) {
    std::uint32_t n = 0;
    for (const auto& i : (co_await inventory.list(player)).items)
      if (i.type == type) n += i.count;
    co_return n;
  }
  ember::test::data_env::node node;
  ember::modules::event_bus bus;
  ember::test::test_players players;
  ember::app::data_slot<inv::item_types> types;
  ember::app::data_slot<ember::modules::shop::catalogue> products;
  ember::app::data_slot<qs::quest_book> book;
  ember::modules::wallet::service wallet;
  inv::service inventory;
  ember::modules::shop::service shop;
  qs::service quests;
  std::atomic<std::int64_t> clock{monday};
  int counted = 0, duplicates = 0, seeds = 0;
  std::uint64_t lines = 0;
};

int code(eq::error e) { return static_cast<int>(e); }

/// What the quest book says of `json` ("" when it is accepted).
std::string refusal(const std::string& json) {
  auto b = qs::quest_book::parse(json, "quests.json");
  return b ? std::string() : b.error().what();
}

}  // namespace

// --- pure rules: the definitions and the periods

BOOST_AUTO_TEST_CASE(the_quest_book_refuses_a_file_over_its_caps_or_with_broken_prerequisites) {
  BOOST_TEST(refusal(quests_json) == "");
  auto book = qs::quest_book::parse(quests_json, "quests.json");
  BOOST_TEST_REQUIRE(!!book);
  BOOST_TEST((*book)->size() == 10u);
  BOOST_TEST((*book)->counting("shop.purchase").size() == 2u);
  BOOST_TEST((*book)->counting("nothing").empty());
  const auto has = [](const std::string& s, const std::string& part) {
    BOOST_TEST_MESSAGE(s);
    return s.find(part) != std::string::npos;
  };
  BOOST_TEST(has(refusal(R"([{"id": "a", "counts": "x", "target": 0}])"), "'target' must be at least 1"));
  BOOST_TEST(has(refusal(R"([{"id": "a", "counts": "", "target": 1}])"), "'counts'"));
  BOOST_TEST(has(refusal(R"([{"id": "", "counts": "x", "target": 1}])"), "its id"));
  BOOST_TEST(has(refusal(R"([{"id": "a_quest_id_of_29_code_points_", "counts": "x", "target": 1}])"), "over 28 code points"));
  BOOST_TEST(has(refusal(R"([{"id": "a", "counts": "x", "target": 1, "prerequisites": ["b"]}])"),
                 "prerequisite 'b' is not another quest"));
  BOOST_TEST(has(refusal(R"([{"id": "a", "counts": "x", "target": 1, "prerequisites": ["a"]}])"), "prerequisite 'a'"));
  BOOST_TEST(has(refusal(R"([{"id": "a", "counts": "x", "target": 1, "prerequisites": ["c"]},
                            {"id": "b", "counts": "x", "target": 1, "prerequisites": ["a"]},
                            {"id": "c", "counts": "x", "target": 1, "prerequisites": ["b"]}])"),
                 "loop back"));
  BOOST_TEST(has(refusal(R"([{"id": "a", "counts": "x", "target": 1, "currencies": [{"currency": "gold", "amount": -1}]}])"),
                 "amount above 0"));
  BOOST_TEST(has(refusal(R"([{"id": "a", "counts": "x", "target": 1, "items": [{"type": "potion", "count": 0}]}])"),
                 "count above 0"));
  BOOST_TEST(has(refusal(R"([{"id": "a", "counts": "x", "target": 1}, {"id": "a", "counts": "y", "target": 1}])"),
                 "used twice"));
  BOOST_TEST(has(refusal(R"([{"id": "a", "counts": "x", "target": 1, "reset": "monthly"}])"), "row [0]"));
  const auto many = [](std::size_t n, bool one_source) {
    std::string s = "[";
    for (std::size_t i = 0; i < n; ++i)
      s += fmt::format(R"({}{{"id": "q{}", "counts": "{}", "target": 1}})", i ? "," : "", i,
                       one_source ? std::string("x") : fmt::format("s{}", i));
    return s + "]";
  };
  BOOST_TEST(refusal(many(qs::quest_book::max_quests, false)) == "");
  BOOST_TEST(has(refusal(many(qs::quest_book::max_quests + 1, false)), "a file holds at most 1000"));
  BOOST_TEST(refusal(many(qs::quest_book::max_per_source, true)) == "");
  BOOST_TEST(has(refusal(many(qs::quest_book::max_per_source + 1, true)), "more than 64 quests count 'x'"));
}

BOOST_AUTO_TEST_CASE(periods_start_at_midnight_of_the_time_zone_and_weeks_on_their_first_day) {
  using periods::period_kind;
  BOOST_TEST(periods::period_of(period_kind::daily, midnight - 1, 120, 1) + 1 ==
             periods::period_of(period_kind::daily, midnight, 120, 1));
  BOOST_TEST(periods::period_end(period_kind::daily, monday, 120, 1) == midnight);
  BOOST_TEST(periods::period_of(period_kind::daily, midnight - 1, 0, 1) == periods::period_of(period_kind::daily, midnight, 0, 1));
  const auto next_monday = monday + 7 * day - 12 * hour;
  BOOST_TEST(periods::period_of(period_kind::weekly, next_monday - 1, 120, 1) + 1 ==
             periods::period_of(period_kind::weekly, next_monday, 120, 1));
  BOOST_TEST(periods::period_end(period_kind::weekly, monday, 120, 1) == next_monday);
  BOOST_TEST(periods::period_end(period_kind::weekly, monday, 120, 0) == next_monday - day);  // weeks from Sunday
  BOOST_TEST(periods::local_day(-1, 0) == -1);
  BOOST_TEST(periods::period_of(period_kind::never, monday, 120, 1) == 0);
  BOOST_TEST(periods::period_end(period_kind::never, monday, 120, 1) == 0);
}

// --- counting

EMBER_ON_BOTH_DATABASES(events_count_for_the_quests_that_name_their_source_and_filter_and_progress_is_pushed) {
  asio::io_context io;
  quest_node n(e, io);
  std::vector<eq::quest_completed> completed;
  auto sub = n.bus.subscribe<eq::quest_completed>([&](const eq::quest_completed& c) { completed.push_back(c); });
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    co_await n.give_gold(1, 100);
    co_await n.shop.buy(1, "b1", "potion_pack");  // real purchases of the shop, counted from its event
    co_await n.shop.buy(1, "b2", "daily_chest");
    co_await n.settle();
    auto potions = co_await n.status(1, "buy_potions");
    BOOST_TEST(potions.progress == 1u);  // the chest is another product: filtered out
    BOOST_TEST(!potions.completed);
    BOOST_TEST((co_await n.status(1, "weekly_buyer")).progress == 2u);  // no filter: both
    co_await n.shop.buy(1, "b3", "potion_pack");
    co_await n.shop.buy(1, "b4", "potion_pack");  // past the target: stays at the target
    co_await n.settle();
    potions = co_await n.status(1, "buy_potions");
    BOOST_TEST(potions.progress == 2u);
    BOOST_TEST(potions.completed);
    BOOST_TEST(!potions.claimed);
    BOOST_TEST(potions.resets_at_ms == 0);  // an achievement: never resets
    BOOST_TEST((co_await n.status(1, "weekly_buyer")).completed);
    BOOST_TEST((co_await n.status(2, "buy_potions")).progress == 0u);  // another player's own
    co_await n.node.store.stop();
  }());
  // pushed to the player as it went: buy_potions 1, then 2 (completed); weekly_buyer 1, 2, 3
  const auto pushes = n.players.to<eq::quest_progressed>(1);
  std::vector<std::uint32_t> potions;
  for (const auto& p : pushes)
    if (p.status.quest == "buy_potions") potions.push_back(p.status.progress);
  BOOST_TEST(potions == (std::vector<std::uint32_t>{1, 2}));
  BOOST_TEST(pushes.size() == 5u);
  BOOST_TEST(pushes.back().status.completed);
  BOOST_TEST_REQUIRE(completed.size() == 2u);  // once each
  BOOST_TEST(completed[0].quest == "buy_potions");  // in the data's order
  BOOST_TEST(completed[0].period == 0);
  BOOST_TEST(completed[1].quest == "weekly_buyer");
  BOOST_TEST(e.scalar("SELECT progress FROM quest_progress WHERE id = '1:buy_potions'") == 2);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM quest_event WHERE player = 1 AND counted = 1") == 4);
}

EMBER_ON_BOTH_DATABASES(an_event_heard_twice_or_relayed_to_a_second_process_counts_once) {
  asio::io_context io;
  quest_node a(e, io, "a.journal");
  quest_node b(e, io, "b.journal");
  // the host's relay: what a publishes reaches b's subscribers (its binary encoding, later)
  a.bus.set_relay([&](std::string_view type, std::string_view bytes) {
    asio::post(io, [&b, type = std::string(type), bytes = std::string(bytes)] { b.bus.deliver(type, bytes); });
  });
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 5; ++i) {
      const ember_chat::chat_line line("room:world", 100 + i, 3, "hi", static_cast<std::uint64_t>(monday + i));
      a.bus.publish(line);
      a.bus.publish(line);  // heard twice (a replay): each copy also reaches b
    }
    BOOST_TEST(co_await ember::test::wait_until([&] { return a.counted + a.duplicates + b.counted + b.duplicates == 20; }, 60s));
    co_await a.settle();
    co_await b.settle();
    BOOST_TEST(a.counted + b.counted == 5);  // 5 lines, each heard 4 times (twice here, twice there)
    BOOST_TEST(a.duplicates + b.duplicates == 15);
    BOOST_TEST((co_await a.status(3, "marathon")).progress == 5u);
    BOOST_TEST((co_await b.status(3, "marathon")).progress == 5u);
    BOOST_TEST((co_await a.status(3, "daily_chat")).progress == 3u);
    // six calls at once with one tally, three on each process: one counts
    std::atomic<int> yes{0}, finished{0};
    const qs::tally t{4, "", 1, "game:boss-kill-77"};
    for (int i = 0; i < 6; ++i)
      asio::co_spawn(io, [&, i]() -> asio::awaitable<void> {
        if (co_await (i % 2 ? a : b).quests.record("chat.line", t)) ++yes;
        ++finished;
      }, asio::detached);
    BOOST_TEST(co_await ember::test::wait_until([&] { return finished == 6; }, 60s));
    BOOST_TEST(yes == 1);
    BOOST_TEST((co_await a.status(4, "marathon")).progress == 1u);
    co_await a.node.store.stop();
    co_await b.node.store.stop();
  }(), 120s);
  BOOST_TEST(e.scalar("SELECT progress FROM quest_progress WHERE id = '3:marathon'") == 5);
  // the 5 lines, and daily_chat's completion (counted by the hidden chatterbox)
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM quest_event WHERE player = 3") == 6);
}

EMBER_ON_BOTH_DATABASES(two_processes_hearing_the_same_events_at_once_count_each_once) {
  {  // the tables made once, as a deployment's first start does
    asio::io_context io;
    quest_node setup(e, io, "setup.journal");
    ember::test::run(io, setup.node.store.stop());
  }
  // each process hears every line (as the cluster's relay makes it), on its own thread
  constexpr int lines = 20;
  std::atomic<int> counted{0}, failed{0};
  auto process = [&](std::string journal) {
    asio::io_context io;
    quest_node n(e, io, journal);
    ember::test::run(io, [&]() -> asio::awaitable<void> {
      for (int i = 1; i <= lines; ++i)
        n.bus.publish(ember_chat::chat_line("room:x", static_cast<std::uint64_t>(i), 17, "hi", static_cast<std::uint64_t>(monday)));
      BOOST_TEST(co_await ember::test::wait_until([&] { return n.quests.counting() == 0; }, 100s));
      counted += n.counted;
      if (n.counted + n.duplicates != lines) ++failed;  // a count that failed is logged, not counted
      co_await n.node.store.stop();
    }(), 120s);
  };
  std::thread a([&] { process("a.journal"); });
  std::thread b([&] { process("b.journal"); });
  a.join();
  b.join();
  BOOST_TEST(failed == 0);
  BOOST_TEST(counted == lines);
  BOOST_TEST(e.scalar("SELECT progress FROM quest_progress WHERE id = '17:marathon'") == lines);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM quest_event WHERE player = 17") == lines);
}

EMBER_ON_BOTH_DATABASES(a_quest_counts_only_events_after_its_prerequisites_are_completed) {
  asio::io_context io;
  quest_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    BOOST_TEST((co_await n.status(5, "five_friends")).locked);
    BOOST_TEST(!(co_await n.status(5, "first_friend")).locked);
    // an invite sent is not a friendship; an accepted one counts for both players
    n.bus.publish(ember_friends::friend_added(5, 10, ember_friends::friend_state::invite_sent));
    n.bus.publish(ember_friends::friend_added(10, 5, ember_friends::friend_state::friend_));
    co_await n.settle();
    BOOST_TEST((co_await n.status(5, "first_friend")).completed);
    BOOST_TEST((co_await n.status(10, "first_friend")).completed);
    auto five = co_await n.status(5, "five_friends");
    BOOST_TEST(!five.locked);
    BOOST_TEST(five.progress == 0u);  // the first friendship came before the quest opened
    BOOST_TEST(co_await error_of([&] { return n.quests.claim(5, "five_friends"); }) == code(eq::error::not_completed));
    for (std::uint64_t other = 11; other < 16; ++other)
      n.bus.publish(ember_friends::friend_added(5, other, ember_friends::friend_state::friend_));
    n.bus.publish(ember_friends::friend_added(11, 5, ember_friends::friend_state::friend_));  // the same pair again
    co_await n.settle();
    five = co_await n.status(5, "five_friends");
    BOOST_TEST(five.progress == 5u);
    BOOST_TEST(five.completed);
    BOOST_TEST((co_await n.quests.claim(5, "five_friends")).applied);
    BOOST_TEST(co_await n.wallet.balance(5, "gems") == 50);
    co_await n.node.store.stop();
  }());
}

// --- resets

EMBER_ON_BOTH_DATABASES(daily_and_weekly_quests_start_again_at_midnight_of_the_time_zone_and_unclaimed_rewards_lapse) {
  asio::io_context io;
  quest_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    const auto chat = [&](int lines) -> asio::awaitable<void> {
      for (int i = 0; i < lines; ++i) n.say(6, "room:world");
      co_await n.settle();
    };
    co_await chat(1);
    n.say(6, "room:trade");  // another channel: filtered out of daily_chat
    co_await chat(2);
    auto today = co_await n.status(6, "daily_chat");
    BOOST_TEST(today.completed);
    BOOST_TEST(today.resets_at_ms == midnight);
    auto first = co_await n.quests.claim(6, "daily_chat");
    BOOST_TEST(first.applied);
    BOOST_TEST(co_await n.wallet.balance(6, "gold") == 5);
    n.clock = midnight - 1;  // Monday 23:59:59.999 local: the same day, claimed once
    co_await chat(1);
    BOOST_TEST((co_await n.status(6, "daily_chat")).progress == 3u);
    BOOST_TEST(!(co_await n.quests.claim(6, "daily_chat")).applied);
    n.clock = midnight;  // Tuesday: progress starts again
    auto tuesday = co_await n.status(6, "daily_chat");
    BOOST_TEST(tuesday.progress == 0u);
    BOOST_TEST(!tuesday.completed);
    BOOST_TEST(!tuesday.claimed);
    BOOST_TEST(tuesday.resets_at_ms == midnight + day);
    BOOST_TEST(co_await error_of([&] { return n.quests.claim(6, "daily_chat"); }) == code(eq::error::not_completed));
    co_await chat(3);  // completed on Tuesday, not claimed...
    BOOST_TEST((co_await n.status(6, "daily_chat")).completed);
    // ...two days of daily_chat completed: the hidden "chatterbox" counted them and shows now
    auto box = co_await n.status(6, "chatterbox");
    BOOST_TEST(box.quest == "chatterbox");
    BOOST_TEST(box.completed);
    n.clock = midnight + day;  // Wednesday: Tuesday's reward lapsed
    BOOST_TEST(co_await error_of([&] { return n.quests.claim(6, "daily_chat"); }) == code(eq::error::not_completed));
    BOOST_TEST(co_await n.wallet.balance(6, "gold") == 5);
    BOOST_TEST((co_await n.status(6, "marathon")).progress == 8u);  // never resets
    // weekly: from Monday 00:00 local; Sunday 23:59:59.999 is still the week
    n.clock = monday;
    for (int i = 0; i < 3; ++i) co_await n.tally("shop.purchase", 6, "x", "w" + std::to_string(i));
    BOOST_TEST((co_await n.quests.claim(6, "weekly_buyer")).applied);
    BOOST_TEST(co_await n.items(6, "potion") == 2u);
    const auto next_monday = monday + 7 * day - 12 * hour;
    n.clock = next_monday - 1;
    BOOST_TEST((co_await n.status(6, "weekly_buyer")).claimed);
    co_await n.tally("shop.purchase", 6, "x", "w3");
    BOOST_TEST((co_await n.status(6, "weekly_buyer")).progress == 3u);
    n.clock = next_monday;
    for (int i = 4; i < 7; ++i) co_await n.tally("shop.purchase", 6, "x", "w" + std::to_string(i));
    auto again = co_await n.quests.claim(6, "weekly_buyer");
    BOOST_TEST(again.applied);
    BOOST_TEST(again.period == periods::period_of(periods::period_kind::weekly, next_monday, 120, 1));
    BOOST_TEST(co_await n.items(6, "potion") == 4u);
    co_await n.node.store.stop();
  }());
  // one row per quest, not per period; one ledger entry per claimed period
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM quest_progress WHERE player = 6") == 4);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM wallet_ledger WHERE player = 6 AND op LIKE 'quests:%'") == 1);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM inventory_op WHERE op LIKE 'quests:6:weekly_buyer:%'") == 2);
}

// --- rewards

EMBER_ON_BOTH_DATABASES(a_reward_is_granted_once_per_period_even_when_claims_race) {
  asio::io_context io;
  quest_node n(e, io);
  std::vector<eq::reward_claimed> heard;
  auto sub = n.bus.subscribe<eq::reward_claimed>([&](const eq::reward_claimed& c) { heard.push_back(c); });
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 2; ++i) co_await n.tally("shop.purchase", 7, "potion_pack", std::to_string(i));
    std::vector<eq::claim_result> results(6);
    int finished = 0, failed = 0;
    for (auto& r : results)  // six sessions claim at once
      asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        try {
          r = co_await n.quests.claim(7, "buy_potions");
        } catch (const std::exception& x) {
          ++failed;
          BOOST_TEST_MESSAGE("claim failed: " << x.what());
        }
        ++finished;
      }, asio::detached);
    BOOST_TEST(co_await ember::test::wait_until([&] { return finished == 6; }, 30s));
    BOOST_TEST(failed == 0);
    BOOST_TEST(std::count_if(results.begin(), results.end(), [](auto& r) { return r.applied; }) == 1);
    for (const auto& r : results) BOOST_TEST(r.currencies.at(0).amount == 10);
    n.clock += 30 * day;  // an achievement's period never ends: still claimed
    BOOST_TEST(!(co_await n.quests.claim(7, "buy_potions")).applied);
    BOOST_TEST(co_await n.wallet.balance(7, "gems") == 10);
    BOOST_TEST((co_await n.status(7, "buy_potions")).claimed);
    co_await n.node.store.stop();
  }());
  BOOST_TEST_REQUIRE(heard.size() == 1u);
  BOOST_TEST(heard[0].op == "quests:7:buy_potions:0");
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM wallet_ledger WHERE op = 'quests:7:buy_potions:0'") == 1);
  BOOST_TEST(n.players.to<eq::quest_progressed>(7).back().status.claimed);
}

EMBER_ON_BOTH_DATABASES(a_claim_refused_for_room_or_bad_rewards_changes_nothing_and_can_be_made_later) {
  asio::io_context io;
  quest_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    n.bus.publish(ember_friends::friend_added(8, 9, ember_friends::friend_state::friend_));
    co_await n.tally("test.bad", 8, "", "bad-1");
    co_await n.settle();
    std::vector<ember_inventory::grant_item> swords(1, ember_inventory::grant_item("sword", 3));
    co_await n.inventory.grant("fill", 8, swords);  // three slots of swords: the bag is full
    BOOST_TEST(co_await error_of([&] { return n.quests.claim(8, "first_friend"); }) == code(eq::error::no_room));
    BOOST_TEST(!(co_await n.status(8, "first_friend")).claimed);
    co_await n.inventory.discard("free-a-slot", 8, (co_await n.inventory.list(8)).items.back().id, 0);
    BOOST_TEST((co_await n.quests.claim(8, "first_friend")).applied);
    BOOST_TEST(co_await n.items(8, "sword") == 3u);
    BOOST_TEST(co_await error_of([&] { return n.quests.claim(8, "bad_currency"); }) == code(eq::error::bad_quest));
    BOOST_TEST(co_await error_of([&] { return n.quests.claim(8, "bad_item"); }) == code(eq::error::bad_quest));
    BOOST_TEST(!(co_await n.status(8, "bad_item")).claimed);
    // the longest quest id, the largest player id, a daily period: the operation id fits
    constexpr std::uint64_t last = INT64_MAX;
    co_await n.tally("test.long", last, "", "long-1");
    BOOST_TEST((co_await n.quests.claim(last, "a_quest_id_of_28_code_points")).applied);
    BOOST_TEST(co_await n.wallet.balance(last, "gold") == 1);
    co_await n.node.store.stop();
  }());
}

// --- the definitions are game data

EMBER_ON_BOTH_DATABASES(definitions_reload_without_a_restart_and_a_bad_file_keeps_the_ones_in_use) {
  asio::io_context io;
  quest_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    n.say(12, "room:world");
    co_await n.settle();
    std::ofstream(e.dir / "quests.json") << R"([{"id": "marathon", "counts": "chat.line", "target": 2},
      {"id": "new_one", "counts": "chat.line", "filter": "room:trade", "target": 1}])";
    BOOST_TEST_REQUIRE(!!n.book.reload());
    n.say(12, "room:trade");
    co_await n.settle();
    BOOST_TEST((co_await n.status(12, "marathon")).completed);  // its progress kept, its new target reached
    BOOST_TEST((co_await n.status(12, "new_one")).completed);
    BOOST_TEST(co_await error_of([&] { return n.quests.claim(12, "daily_chat"); }) == code(eq::error::unknown_quest));
    std::ofstream(e.dir / "quests.json") << R"([{"id": "a", "counts": "chat.line", "target": 1, "prerequisites": ["a"]}])";
    BOOST_TEST(!n.book.reload());  // refused, naming the quest
    BOOST_TEST(n.book.current()->size() == 2u);
    BOOST_TEST((co_await n.quests.list(12, "", 0)).quests.size() == 2u);
    co_await n.node.store.stop();
  }());
}

EMBER_ON_BOTH_DATABASES(the_list_pages_in_the_data_order_and_shows_hidden_quests_once_completed) {
  asio::io_context io;
  quest_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    auto first = co_await n.quests.list(13, "", 0);
    BOOST_TEST_REQUIRE(first.quests.size() == 4u);  // the page of the options
    BOOST_TEST(first.quests[0].quest == "buy_potions");
    BOOST_TEST(first.quests[0].target == 2u);
    BOOST_TEST(first.quests[1].resets_at_ms == monday + 7 * day - 12 * hour);
    BOOST_TEST(first.next_cursor == "marathon");
    auto second = co_await n.quests.list(13, first.next_cursor, 10);
    BOOST_TEST_REQUIRE(second.quests.size() == 4u);  // chatterbox (hidden) left out
    BOOST_TEST(second.quests[0].quest == "first_friend");
    BOOST_TEST(second.quests[1].locked);
    BOOST_TEST(second.quests[2].quest == "bad_currency");
    BOOST_TEST(second.next_cursor == "bad_item");
    auto last = co_await n.quests.list(13, second.next_cursor, 0);
    BOOST_TEST_REQUIRE(last.quests.size() == 1u);
    BOOST_TEST(last.quests[0].quest == "a_quest_id_of_28_code_points");
    BOOST_TEST(last.next_cursor == "");
    BOOST_TEST((co_await n.quests.list(13, "", 2)).next_cursor == "weekly_buyer");
    BOOST_TEST(co_await error_of([&] { return n.quests.list(13, "nope", 0); }) == code(eq::error::bad_cursor));
    co_await n.node.store.stop();
  }());
}

// --- bad input

EMBER_ON_BOTH_DATABASES(bad_input_is_refused_with_typed_errors_and_counts_nothing) {
  asio::io_context io;
  quest_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    const auto claim = [&](std::string quest) { return error_of([&n, quest] { return n.quests.claim(14, quest); }); };
    BOOST_TEST(co_await claim("") == code(eq::error::bad_text));
    BOOST_TEST(co_await claim(std::string(29, 'q')) == code(eq::error::bad_text));
    BOOST_TEST(co_await claim("\xff\xfe") == code(eq::error::bad_text));
    BOOST_TEST(co_await claim("tab\there") == code(eq::error::bad_text));
    BOOST_TEST(co_await claim("no_such") == code(eq::error::unknown_quest));
    BOOST_TEST(co_await claim("marathon") == code(eq::error::not_completed));
    BOOST_TEST(co_await error_of([&] { return n.quests.claim(0, "marathon"); }) == code(eq::error::not_signed_in));
    const auto record = [&](std::uint64_t player, std::string filter, std::string id) {
      return error_of([&n, player, filter, id] { return n.tally("chat.line", player, filter, id); });
    };
    BOOST_TEST(co_await record(14, "", "") == code(eq::error::bad_text));
    BOOST_TEST(co_await record(14, "", std::string(257, 'e')) == code(eq::error::bad_text));
    BOOST_TEST(co_await record(14, std::string(129, 'f'), "e") == code(eq::error::bad_text));
    BOOST_TEST(co_await record(0, "", "e") == code(eq::error::not_signed_in));
    BOOST_TEST(!(co_await n.tally("no.such.source", 14, "", "e")));
    BOOST_TEST(co_await error_of([&] { return n.quests.list(14, std::string(29, 'c'), 0); }) == code(eq::error::bad_cursor));
    BOOST_TEST((co_await n.status(14, "marathon")).progress == 0u);
    co_await n.node.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM quest_event WHERE player = 14") == 0);
}

// --- the client commands through a real server and client

namespace {

/// The quests' commands, with a sign-in step for the test: the next request of a session not
/// signed in binds it to `next_user` (once).
struct signing_handler final : eq::quests_handler {
  explicit signing_handler(qs::handler& h) : real(h) {}
  qs::handler& real;
  std::uint64_t next_user = 0;
  void sign_in(ember::net::session& s) {
    if (!s.user() && next_user) s.bind_user(std::exchange(next_user, 0));
  }
  asio::awaitable<eq::list_quests_reply> list_quests(ember::net::session& s, const eq::list_quests_request& r) override {
    sign_in(s);
    co_return co_await real.list_quests(s, r);
  }
  asio::awaitable<eq::claim_reply> claim(ember::net::session& s, const eq::claim_request& r) override {
    sign_in(s);
    co_return co_await real.claim(s, r);
  }
};

}  // namespace

EMBER_ON_BOTH_DATABASES(clients_list_and_claim_hear_their_progress_and_bad_requests_leave_the_session_usable) {
  asio::io_context io;
  quest_node n(e, io);
  qs::handler commands(n.quests);
  signing_handler h(commands);
  ember::net::dispatch_table table;
  eq::register_commands(table, h);
  ember::net::server_options so;
  so.name = "quests";
  ember::net::server srv(io, so, std::move(table));
  srv.start();
  n.players.server = &srv;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    ember::net::client anon(io.get_executor());
    BOOST_REQUIRE(!(co_await anon.connect("127.0.0.1", srv.port())));
    auto r0 = co_await eq::client_stub(anon).claim(eq::claim_request("marathon"));
    BOOST_TEST_REQUIRE(!r0);
    BOOST_TEST(r0.error().status == code(eq::error::not_signed_in));

    ember::net::client alice(io.get_executor());
    BOOST_REQUIRE(!(co_await alice.connect("127.0.0.1", srv.port())));
    eq::client_stub a(alice);
    std::vector<eq::quest_progressed> pushed;
    a.on_quest_progressed([&](const eq::quest_progressed& p) { pushed.push_back(p); });
    h.next_user = 15;
    auto page = co_await a.list_quests({"", 2});
    BOOST_TEST_REQUIRE(!!page);
    BOOST_TEST(page->quests.size() == 2u);
    n.bus.publish(ember_friends::friend_added(15, 16, ember_friends::friend_state::friend_));
    BOOST_TEST(co_await ember::test::wait_until([&] { return pushed.size() == 1; }));
    BOOST_TEST(pushed[0].status.quest == "first_friend");
    BOOST_TEST(pushed[0].status.completed);
    auto claimed = co_await a.claim(eq::claim_request("first_friend"));
    BOOST_TEST_REQUIRE(!!claimed);
    BOOST_TEST(claimed->result.applied);
    BOOST_TEST(claimed->result.items.at(0).type == "sword");
    BOOST_TEST(co_await ember::test::wait_until([&] { return pushed.size() == 2; }));
    BOOST_TEST(pushed[1].status.claimed);
    auto retried = co_await a.claim(eq::claim_request("first_friend"));
    BOOST_TEST_REQUIRE(!!retried);
    BOOST_TEST(!retried->result.applied);
    // bad requests: typed errors, the session goes on
    auto bad0 = co_await a.claim(eq::claim_request(std::string(29, 'x')));
    BOOST_TEST(bad0.error().status == code(eq::error::bad_text));
    auto bad1 = co_await a.claim(eq::claim_request("nothing"));
    BOOST_TEST(bad1.error().status == code(eq::error::unknown_quest));
    auto bad2 = co_await a.claim(eq::claim_request("five_friends"));
    BOOST_TEST(bad2.error().status == code(eq::error::not_completed));
    auto bad3 = co_await a.list_quests({"nothing", 0});
    BOOST_TEST(bad3.error().status == code(eq::error::bad_cursor));
    auto not_utf8 = co_await a.claim(eq::claim_request("\xff"));  // the codec refuses it before the handler
    BOOST_TEST(not_utf8.error().status == static_cast<int>(ember::status::bad_request));
    auto after = co_await a.list_quests({"marathon", 1});
    BOOST_TEST_REQUIRE(!!after);
    BOOST_TEST(after->quests.at(0).quest == "first_friend");
    BOOST_TEST(after->quests.at(0).claimed);
    anon.close();
    alice.close();
    co_await srv.stop(1s);
    co_await n.node.store.stop();
  }(), 60s);
  BOOST_TEST(e.scalar("SELECT SUM(count) FROM inventory_item WHERE owner = 15") == 1);
}

BOOST_AUTO_TEST_CASE(config_json_sets_the_time_zone_and_limits_and_a_typo_stops_the_start) {
  auto config = ember::app::parse_config(R"({"servers": {"game1": {"type": "game"}},
    "modules": {"quests": {"server": "game", "utc_offset_minutes": 540, "week_starts": 0, "page": 20}}})",
                                         "config.json");
  BOOST_REQUIRE(config.has_value());
  ember::app::module_options o(*config, "quests");
  const auto opts = qs::options::read(o);
  BOOST_TEST(opts.utc_offset_minutes == 540);
  BOOST_TEST(opts.week_starts == 0u);
  BOOST_TEST(opts.page == 20u);
  BOOST_TEST(opts.max_event_id == 256u);  // not given: the default

  auto typo = ember::app::parse_config(R"({"servers": {"game1": {"type": "game"}},
    "modules": {"quests": {"server": "game", "time_zone": "Europe/Paris"}}})", "config.json");
  ember::app::module_options t(*typo, "quests");
  BOOST_CHECK_EXCEPTION(qs::options::read(t), std::invalid_argument, [](const std::invalid_argument& e) {
    return std::string(e.what()).find("modules.quests.time_zone: unknown key") != std::string::npos;
  });
  auto far = ember::app::parse_config(R"({"servers": {"game1": {"type": "game"}},
    "modules": {"quests": {"server": "game", "utc_offset_minutes": 900}}})", "config.json");
  ember::app::module_options f(*far, "quests");
  BOOST_CHECK_THROW(qs::options::read(f), std::invalid_argument);
}
