// The inventory module (docs/modules/inventory.md) over real memcached, SQLite and PostgreSQL:
// every rule of the issue, two processes changing the same bags at once, a grant composed with
// a wallet change in one transaction (as mail does), and the client commands through a real
// server and client.
#define BOOST_TEST_MODULE inventory
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <fstream>
#include <thread>

#include <asio/detached.hpp>

#include "ember/modules/inventory/detail/ember_inventory_client.hpp"
#include "ember/modules/inventory/inventory.hpp"
#include "ember/modules/wallet/wallet.hpp"
#include "ember/net/client.hpp"
#include "ember/net/server.hpp"
#include "support/data_env.hpp"
#include "support/error_of.hpp"
#include "support/test_players.hpp"
#include "support/run.hpp"

namespace inv = ember::modules::inventory;
namespace ei = ember_inventory;
using namespace std::chrono_literals;
using kind = ei::change_kind;

using ember::test::error_of;

namespace {

/// The game data: item types in a JSON file, loaded as a game would.
std::filesystem::path write_types(const std::filesystem::path& dir) {
  const auto file = dir / "item_types.json";
  if (std::filesystem::exists(file)) return file;  // written by the first node (the setup's)
  std::ofstream(file) << R"([
  {"id": "potion", "stack_limit": 20},
  {"id": "sword", "stack_limit": 1},
  {"id": "arrow", "stack_limit": 99}
])";
  return file;
}

inv::options small_bag() {
  inv::options o;
  o.slots = 5;
  o.max_slots = 8;
  return o;
}

struct inventory_node {
  inventory_node(ember::test::data_env& e, asio::io_context& io, const std::string& journal = "node.journal",
                 bool open = true)
      : node(e, io, journal), types(write_types(e.dir)), service(node.store, bus, players, types, small_bag()) {
    BOOST_REQUIRE(types.reload());
    if (open) node.open();
  }
  ember::test::data_env::node node;
  ember::modules::event_bus bus;
  ember::test::test_players players;
  ember::app::data_slot<inv::item_types> types;
  inv::service service;
};

int code(ei::error e) { return static_cast<int>(e); }

// Lists as one argument (a braced list inside a co_await expression trips g++ 12).
std::vector<ei::grant_item> grants(ei::grant_item a) { return {a}; }
std::vector<ei::grant_item> grants(ei::grant_item a, ei::grant_item b) { return {a, b}; }
std::vector<ei::take_item> takes(ei::take_item a) { return {a}; }
std::vector<ei::move_item> moves(ei::move_item a) { return {a}; }
std::vector<ei::move_item> moves(ei::move_item a, ei::move_item b) { return {a, b}; }

std::uint32_t count_of(const std::vector<ei::item>& items, const std::string& type) {
  std::uint32_t n = 0;
  for (const auto& i : items)
    if (i.type == type) n += i.count;
  return n;
}

}  // namespace

EMBER_ON_BOTH_DATABASES(grants_stack_up_to_each_types_limit_then_take_free_slots) {
  asio::io_context io;
  inventory_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    auto r = co_await n.service.grant("g1", 1, grants({"potion", 25}, {"sword", 2}));
    BOOST_TEST(r.applied);
    auto bag = co_await n.service.list(1);
    BOOST_TEST(bag.capacity == 5u);
    BOOST_TEST_REQUIRE(bag.items.size() == 4u);  // potions 20 + 5, two swords
    BOOST_TEST(bag.items[0].type == "potion");
    BOOST_TEST(bag.items[0].count == 20u);
    BOOST_TEST(bag.items[1].count == 5u);
    BOOST_TEST(bag.items[2].type == "sword");
    for (std::uint32_t i = 0; i < 4; ++i) BOOST_TEST(bag.items[i].slot == i);
    BOOST_TEST(bag.items[0].id != bag.items[1].id);
    co_await n.service.grant("g2", 1, grants({"potion", 10}));  // tops up the stack of 5
    bag = co_await n.service.list(1);
    BOOST_TEST(bag.items.size() == 4u);
    BOOST_TEST(bag.items[1].count == 15u);
    // a bound or expiring potion is another kind: its own stack
    co_await n.service.grant("g3", 1, grants({"potion", 1, true, 0}));
    bag = co_await n.service.list(1);
    BOOST_TEST(bag.items.size() == 5u);
    BOOST_TEST(bag.items[4].bound);
    co_await n.node.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT SUM(count) FROM inventory_item WHERE owner = 1") == 38);
}

EMBER_ON_BOTH_DATABASES(the_capacity_is_checked_before_anything_is_added) {
  asio::io_context io;
  inventory_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    co_await n.service.grant("a", 2, grants({"sword", 4}));
    // 5 potions would fit, the 2 swords would not: nothing is added
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> {
      co_await n.service.grant("b", 2, grants({"potion", 5}, {"sword", 2}));
    }) == code(ei::error::inventory_full));
    auto bag = co_await n.service.list(2);
    BOOST_TEST(bag.items.size() == 4u);
    BOOST_TEST(count_of(bag.items, "potion") == 0u);
    // more slots for this player (the options cap them)
    co_await n.service.set_extra_slots(2, 2);
    BOOST_TEST((co_await n.service.list(2)).capacity == 7u);
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.service.set_extra_slots(2, 4); }) ==
               code(ei::error::too_many));
    auto r = co_await n.service.grant("b", 2, grants({"potion", 5}, {"sword", 2}));  // the same op id: now it fits
    BOOST_TEST(r.applied);
    BOOST_TEST((co_await n.service.list(2)).items.size() == 7u);
    BOOST_TEST((co_await n.service.list(3)).capacity == 5u);  // others keep theirs
    co_await n.node.store.stop();
  }());
}

EMBER_ON_BOTH_DATABASES(a_retried_operation_applies_once_and_the_log_keeps_its_changes) {
  asio::io_context io;
  inventory_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    auto first = co_await n.service.grant("mail:5", 4, grants({"arrow", 150}));
    auto again = co_await n.service.grant("mail:5", 4, grants({"arrow", 150}));
    BOOST_TEST(first.applied);
    BOOST_TEST(!again.applied);
    BOOST_TEST(again.changes.size() == first.changes.size());
    BOOST_TEST(count_of((co_await n.service.list(4)).items, "arrow") == 150u);
    std::vector<ei::op_result> results(4);
    int finished = 0;
    for (auto& r : results)
      asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        try {
          r = co_await n.service.consume("use:1", 4, takes({"arrow", 100}));
        } catch (const std::exception& x) {
          BOOST_TEST_MESSAGE("consume failed: " << x.what());
        }
        ++finished;
      }, asio::detached);
    BOOST_TEST(co_await ember::test::wait_until([&] { return finished == 4; }, 20s));
    BOOST_TEST(std::count_if(results.begin(), results.end(), [](auto& r) { return r.applied; }) == 1);
    BOOST_TEST(count_of((co_await n.service.list(4)).items, "arrow") == 50u);
    auto log = co_await n.service.log("mail:5");
    BOOST_TEST_REQUIRE(log.has_value());
    BOOST_TEST_REQUIRE(log->changes.size() == 2u);  // 99 + 51
    BOOST_TEST((log->changes[0].kind == kind::granted));
    BOOST_TEST(log->changes[0].delta + log->changes[1].delta == 150);
    BOOST_TEST(!(co_await n.service.log("never")).has_value());
    co_await n.node.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM inventory_op WHERE applied = " + std::string("1")) == 2);
}

EMBER_ON_BOTH_DATABASES(split_merge_move_sort_and_discard_rearrange_the_bag) {
  asio::io_context io;
  inventory_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    co_await n.service.grant("g", 1, grants({"potion", 12}, {"sword", 1}));
    auto bag = co_await n.service.list(1);
    const auto potion = bag.items[0].id, sword = bag.items[1].id;
    auto s = co_await n.service.split("s", 1, potion, 5);
    BOOST_TEST_REQUIRE(s.changes.size() == 2u);
    const auto part = s.changes[1].item;
    BOOST_TEST(s.changes[1].count == 5u);
    BOOST_TEST(s.changes[1].slot == 2u);
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.service.split("s2", 1, potion, 7); }) ==
               code(ei::error::bad_count));
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.service.merge("m0", 1, sword, potion); }) ==
               code(ei::error::cannot_merge));
    co_await n.service.move("mv", 1, part, 4);
    co_await n.service.move("mv2", 1, sword, 4);  // swaps with the part
    bag = co_await n.service.list(1);
    BOOST_TEST(bag.items.back().id == sword);
    BOOST_TEST(bag.items.back().slot == 4u);
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.service.move("mv3", 1, sword, 5); }) ==
               code(ei::error::bad_slot));
    co_await n.service.sort("sort", 1);
    bag = co_await n.service.list(1);
    BOOST_TEST_REQUIRE(bag.items.size() == 3u);
    BOOST_TEST(bag.items[0].type == "potion");
    BOOST_TEST(bag.items[0].count == 7u);  // fuller stack first
    BOOST_TEST(bag.items[1].slot == 1u);
    BOOST_TEST(bag.items[2].type == "sword");
    BOOST_TEST(bag.items[2].slot == 2u);
    auto m = co_await n.service.merge("m", 1, part, potion);
    BOOST_TEST((m.changes.back().kind == kind::merged));
    bag = co_await n.service.list(1);
    BOOST_TEST(bag.items.size() == 2u);
    BOOST_TEST(bag.items[0].count == 12u);
    co_await n.service.discard("d", 1, potion, 2);
    co_await n.service.discard("d2", 1, sword, 0);
    bag = co_await n.service.list(1);
    BOOST_TEST_REQUIRE(bag.items.size() == 1u);
    BOOST_TEST(bag.items[0].count == 10u);
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.service.discard("d3", 1, sword, 0); }) ==
               code(ei::error::item_not_found));
    co_await n.node.store.stop();
  }());
  // the rows of items gone are deleted once the operation is stored
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM inventory_item WHERE owner = 0") == 0);
}

EMBER_ON_BOTH_DATABASES(locked_items_cannot_be_moved_consumed_split_merged_discarded_or_traded) {
  asio::io_context io;
  inventory_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    co_await n.service.grant("g", 1, grants({"potion", 30}));
    auto bag = co_await n.service.list(1);
    const auto a = bag.items[0].id, b = bag.items[1].id;
    co_await n.service.set_locked("l", 1, a, true);
    BOOST_TEST((co_await n.service.list(1)).items[0].locked);
    const auto locked = code(ei::error::item_locked);
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.service.move("1", 1, a, 3); }) == locked);
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.service.split("2", 1, a, 1); }) == locked);
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.service.merge("3", 1, b, a); }) == locked);
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.service.discard("4", 1, a, 0); }) == locked);
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.service.transfer("5", 1, 2, moves({a, 0})); }) == locked);
    // consuming skips the locked stack: 10 unlocked potions, not 30
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.service.consume("6", 1, takes({"potion", 11})); }) ==
               code(ei::error::not_enough_items));
    co_await n.service.consume("7", 1, takes({"potion", 10}));
    bag = co_await n.service.list(1);
    BOOST_TEST_REQUIRE(bag.items.size() == 1u);
    BOOST_TEST(bag.items[0].count == 20u);
    co_await n.service.set_locked("u", 1, a, false);
    co_await n.service.move("8", 1, a, 3);
    BOOST_TEST((co_await n.service.list(1)).items[0].slot == 3u);
    co_await n.node.store.stop();
  }());
}

EMBER_ON_BOTH_DATABASES(bound_items_cannot_be_traded_and_others_change_hands_together) {
  asio::io_context io;
  inventory_node n(e, io);
  std::vector<ei::item_transferred> heard;
  auto sub = n.bus.subscribe<ei::item_transferred>([&](const ei::item_transferred& t) { heard.push_back(t); });
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    co_await n.service.grant("g", 1, grants({"sword", 1, true, 0}, {"potion", 8}));
    co_await n.service.grant("g2", 1, grants({"sword", 1}));
    auto bag = co_await n.service.list(1);
    const auto bound = bag.items[0].id, potion = bag.items[1].id, sword = bag.items[2].id;
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> {
      co_await n.service.transfer("t1", 1, 2, moves({sword, 0}, {bound, 0}));
    }) == code(ei::error::item_bound));
    BOOST_TEST((co_await n.service.list(1)).items.size() == 3u);  // not even the sword moved
    BOOST_TEST((co_await n.service.list(2)).items.empty());
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.service.transfer("t0", 1, 1, moves({sword, 0})); }) ==
               code(ei::error::bad_transfer));
    auto r = co_await n.service.transfer("t2", 1, 2, moves({sword, 0}, {potion, 3}));
    BOOST_TEST(r.applied);
    auto mine = co_await n.service.list(1), theirs = co_await n.service.list(2);
    BOOST_TEST(mine.items.size() == 2u);
    BOOST_TEST(count_of(mine.items, "potion") == 5u);
    BOOST_TEST_REQUIRE(theirs.items.size() == 2u);
    BOOST_TEST(theirs.items[0].id == sword);  // a whole instance keeps its id
    BOOST_TEST(count_of(theirs.items, "potion") == 3u);
    BOOST_TEST(!(co_await n.service.transfer("t2", 1, 2, moves({sword, 0}, {potion, 3}))).applied);
    co_await n.node.store.stop();
  }());
  BOOST_TEST_REQUIRE(heard.size() == 2u);
  BOOST_TEST(heard[0].from == 1u);
  BOOST_TEST(heard[0].to == 2u);
}

EMBER_ON_BOTH_DATABASES(expired_items_are_gone_at_once_and_their_rows_removed_on_the_next_change) {
  asio::io_context io;
  inventory_node n(e, io);
  std::vector<ei::item_consumed> heard;
  auto sub = n.bus.subscribe<ei::item_consumed>([&](const ei::item_consumed& c) { heard.push_back(c); });
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    const auto soon = static_cast<std::int64_t>(ember::data::unix_ms()) + 1500;  // outlives the checks before the sleep
    co_await n.service.grant("g", 1, grants({"potion", 3, false, soon}, {"sword", 4}));
    BOOST_TEST((co_await n.service.list(1)).items.size() == 5u);
    const auto expiring = (co_await n.service.list(1)).items[0].id;
    co_await ember::test::sleep(1600ms);
    auto bag = co_await n.service.list(1);
    BOOST_TEST(bag.items.size() == 4u);  // gone, though its row is still there
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.service.discard("d", 1, expiring, 0); }) ==
               code(ei::error::item_not_found));
    // its slot is free: the next change takes it, and removes the expired row
    auto r = co_await n.service.grant("g2", 1, grants({"sword", 1}));
    BOOST_TEST((r.changes[0].kind == kind::expired));
    BOOST_TEST((co_await n.service.list(1)).items.size() == 5u);
    co_await ember::test::sleep(100ms);
    co_await n.node.store.stop();
  }());
  BOOST_TEST_REQUIRE(heard.size() == 1u);
  BOOST_TEST((heard[0].kind == kind::expired));
  BOOST_TEST(heard[0].count == 3u);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM inventory_item WHERE type = 'potion'") == 0);
}

EMBER_ON_BOTH_DATABASES(consuming_takes_the_soonest_expiring_stacks_first_or_nothing) {
  asio::io_context io;
  inventory_node n(e, io);
  std::vector<ei::item_consumed> heard;
  auto sub = n.bus.subscribe<ei::item_consumed>([&](const ei::item_consumed& c) { heard.push_back(c); });
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    const auto later = static_cast<std::int64_t>(ember::data::unix_ms()) + 3'600'000;
    co_await n.service.grant("g", 1, grants({"potion", 4}, {"potion", 4, false, later}));
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.service.consume("c0", 1, takes({"potion", 9})); }) ==
               code(ei::error::not_enough_items));
    co_await n.service.consume("c1", 1, takes({"potion", 5}));
    auto bag = co_await n.service.list(1);
    BOOST_TEST_REQUIRE(bag.items.size() == 1u);
    BOOST_TEST(bag.items[0].expires_at_ms == 0);  // the expiring stack went first
    BOOST_TEST(bag.items[0].count == 3u);
    co_await n.node.store.stop();
  }());
  BOOST_TEST(heard.size() == 2u);
}

EMBER_ON_BOTH_DATABASES(bad_input_is_refused_with_typed_errors) {
  asio::io_context io;
  inventory_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    auto grant = [&](std::string op, std::vector<ei::grant_item> g) {
      return error_of([&, op, g]() -> asio::awaitable<void> { co_await n.service.grant(op, 1, g); });
    };
    BOOST_TEST(co_await grant("x", grants({"dragon", 1})) == code(ei::error::unknown_item_type));
    BOOST_TEST(co_await grant("x", grants({"potion", 0})) == code(ei::error::bad_count));
    BOOST_TEST(co_await grant("x", grants({"potion", 2'000'000})) == code(ei::error::bad_count));
    BOOST_TEST(co_await grant("x", {}) == code(ei::error::too_many));
    BOOST_TEST(co_await grant("x", std::vector<ei::grant_item>(33, ei::grant_item{"potion", 1})) == code(ei::error::too_many));
    BOOST_TEST(co_await grant("", grants({"potion", 1})) == code(ei::error::bad_text));
    BOOST_TEST(co_await grant(std::string(97, 'o'), grants({"potion", 1})) == code(ei::error::bad_text));
    BOOST_TEST(co_await grant("\xc0\x80", grants({"potion", 1})) == code(ei::error::bad_text));
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.service.split("y", 1, 424242, 1); }) ==
               code(ei::error::item_not_found));
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.service.consume("y", 1, takes({"dragon", 1})); }) ==
               code(ei::error::unknown_item_type));
    BOOST_TEST((co_await n.service.list(1)).items.empty());
    co_await n.node.store.stop();
  }());
}

EMBER_ON_BOTH_DATABASES(a_grant_and_a_wallet_change_store_in_one_transaction_or_neither) {
  asio::io_context io;
  inventory_node n(e, io, "node.journal", false);
  ember::modules::wallet::service wallet(n.node.store, n.bus, n.players);  // its tables too
  n.node.open();
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    ei::op_result items;
    ember_wallet::change_result gold;
    auto claim = [&](std::int64_t price) -> asio::awaitable<void> {
      std::vector<ember_wallet::change> pay{{7, "gold", price}};
      co_await ember::data::transact_retrying(n.node.store, [&](ember::data::change_set& tx) -> asio::awaitable<void> {
        co_await wallet.stage(tx, "shop:1", pay, "shop", gold);
        co_await n.service.stage_grant(tx, "shop:1", 7, grants({"sword", 1}), items);
      });
    };
    // too little gold: no sword either
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await claim(-5); }) ==
               static_cast<int>(ember_wallet::error::insufficient_funds));
    BOOST_TEST((co_await n.service.list(7)).items.empty());
    const std::vector<ember_wallet::change> seed(1, ember_wallet::change{7, "gold", 10});
    co_await wallet.change("seed", seed, "");
    co_await claim(-5);
    BOOST_TEST(items.applied);
    BOOST_TEST(gold.applied);
    BOOST_TEST((co_await n.service.list(7)).items.size() == 1u);
    BOOST_TEST(co_await wallet.balance(7, "gold") == 5);
    co_await claim(-5);  // a retry: once
    BOOST_TEST(!items.applied);
    BOOST_TEST((co_await n.service.list(7)).items.size() == 1u);
    BOOST_TEST(co_await wallet.balance(7, "gold") == 5);
    co_await n.node.store.stop();
  }());
}

EMBER_ON_BOTH_DATABASES(two_processes_changing_the_same_bags_apply_each_operation_once_and_keep_slots_apart) {
  {
    asio::io_context io;
    inventory_node setup(e, io, "setup.journal");  // creates the tables
    ember::test::run(io, setup.node.store.stop());
  }
  auto worker = [&](std::string name, std::atomic<int>& failed) {
    asio::io_context io;
    inventory_node n(e, io, name + ".journal");
    ember::test::run(io, [&]() -> asio::awaitable<void> {
      for (int i = 0; i < 25; ++i) {
        try {
          // shared ops (both processes run them) and each its own
          co_await n.service.grant("shared:" + std::to_string(i), 1, grants({"arrow", 2}));
          co_await n.service.grant(name + ':' + std::to_string(i), 1, grants({"potion", 1}));
          if (i % 5 == 4) {
            auto bag = co_await n.service.list(1);
            std::vector<ei::move_item> give;
            for (auto& it : bag.items)
              if (it.type == "potion" && give.empty()) give.push_back({it.id, 1});
            co_await n.service.transfer("give:" + std::to_string(i), 1, 2, give);
          }
        } catch (const ember::game_error& g) {
          if (g.code() != code(ei::error::item_not_found)) ++failed;  // a stale pick of the other
          BOOST_TEST_MESSAGE("refused: " << g.what());
        } catch (const std::exception& x) {
          ++failed;
          BOOST_TEST_MESSAGE("failed: " << x.what());
        }
      }
      co_await n.node.store.stop();
    }(), 300s);
  };
  std::atomic<int> failed{0};
  std::thread a([&] { worker("a", failed); });
  std::thread b([&] { worker("b", failed); });
  a.join();
  b.join();
  BOOST_TEST(failed == 0);
  const std::string live = " FROM inventory_item WHERE owner > 0";
  BOOST_TEST(e.scalar("SELECT SUM(count)" + live + " AND type = 'arrow'") == 25 * 2);
  const auto gives = e.scalar("SELECT COUNT(*) FROM inventory_op WHERE op LIKE 'give:%' AND applied = " +
                              std::string("1"));
  BOOST_TEST(gives == 5);
  BOOST_TEST(e.scalar("SELECT SUM(count)" + live + " AND type = 'potion'") == 2 * 25);
  BOOST_TEST(e.scalar("SELECT SUM(count)" + live + " AND type = 'potion' AND owner = 2") == 5);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM (SELECT owner, slot" + live + " GROUP BY owner, slot HAVING COUNT(*) > 1) x") == 0);
  BOOST_TEST(e.scalar("SELECT MAX(slot)" + live) < 5);
}

// --- the client commands through a real server and client

namespace {

struct signing_handler final : ei::inventory_handler {
  explicit signing_handler(inv::handler& h) : real(h) {}
  inv::handler& real;
  std::uint64_t next_user = 0;
  void sign_in(ember::net::session& s) {
    if (!s.user() && next_user) s.bind_user(std::exchange(next_user, 0));
  }
  asio::awaitable<ei::list_items_reply> list_items(ember::net::session& s, const ei::list_items_request& r) override {
    sign_in(s);
    co_return co_await real.list_items(s, r);
  }
  asio::awaitable<ei::split_reply> split(ember::net::session& s, const ei::split_request& r) override {
    co_return co_await real.split(s, r);
  }
  asio::awaitable<ei::merge_reply> merge(ember::net::session& s, const ei::merge_request& r) override {
    co_return co_await real.merge(s, r);
  }
  asio::awaitable<ei::move_reply> move(ember::net::session& s, const ei::move_request& r) override {
    co_return co_await real.move(s, r);
  }
  asio::awaitable<ei::sort_reply> sort(ember::net::session& s, const ei::sort_request& r) override {
    co_return co_await real.sort(s, r);
  }
  asio::awaitable<ei::discard_reply> discard(ember::net::session& s, const ei::discard_request& r) override {
    co_return co_await real.discard(s, r);
  }
};

}  // namespace

EMBER_ON_BOTH_DATABASES(clients_rearrange_their_own_bag_and_bad_requests_get_typed_errors) {
  asio::io_context io;
  inventory_node n(e, io);
  inv::handler commands(n.service);
  signing_handler h(commands);
  ember::net::dispatch_table t;
  ei::register_commands(t, h);
  ember::net::server_options so;
  so.name = "inventory";
  ember::net::server srv(io, so, std::move(t));
  srv.start();
  n.players.server = &srv;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    ember::net::client anon(io.get_executor());
    BOOST_REQUIRE(!(co_await anon.connect("127.0.0.1", srv.port())));
    auto r0 = co_await ei::client_stub(anon).split({"x", 1, 1});
    BOOST_TEST_REQUIRE(!r0);
    BOOST_TEST(r0.error().status == code(ei::error::not_signed_in));

    ember::net::client c(io.get_executor());
    BOOST_REQUIRE(!(co_await c.connect("127.0.0.1", srv.port())));
    ei::client_stub stub(c);
    std::vector<ei::items_changed> pushed;
    stub.on_items_changed([&](const ei::items_changed& p) { pushed.push_back(p); });
    h.next_user = 51;
    BOOST_TEST_REQUIRE(!!(co_await stub.list_items({})));
    co_await n.service.grant("gift", 51, grants({"potion", 9}));
    BOOST_TEST(co_await ember::test::wait_until([&] { return pushed.size() == 1; }));
    auto bag = co_await stub.list_items({});
    BOOST_TEST_REQUIRE(bag->items.size() == 1u);
    const auto potion = bag->items[0].id;
    auto s1 = co_await stub.split({"op-1", potion, 4});
    BOOST_TEST_REQUIRE(!!s1);
    BOOST_TEST(s1->result.applied);
    auto s2 = co_await stub.split({"op-1", potion, 4});  // a retried request: once
    BOOST_TEST_REQUIRE(!!s2);
    BOOST_TEST(!s2->result.applied);
    BOOST_TEST((co_await stub.list_items({}))->items.size() == 2u);
    auto bad = co_await stub.split({std::string(65, 'x'), potion, 1});
    BOOST_TEST_REQUIRE(!bad);
    BOOST_TEST(bad.error().status == code(ei::error::bad_text));
    auto bad2 = co_await stub.move({"op-2", 999999, 1});
    BOOST_TEST(bad2.error().status == code(ei::error::item_not_found));
    auto bad3 = co_await stub.move({"op-3", potion, 77});
    BOOST_TEST(bad3.error().status == code(ei::error::bad_slot));
    auto bad4 = co_await stub.discard({"a\x01", potion, 1});
    BOOST_TEST(bad4.error().status == code(ei::error::bad_text));
    auto bad5 = co_await stub.discard({"\xff", potion, 1});  // not UTF-8: the codec refuses it first
    BOOST_TEST(!bad5);
    BOOST_TEST(!!(co_await stub.move({"op-4", potion, 3})));
    BOOST_TEST(!!(co_await stub.sort(ei::sort_request{"op-5"})));
    BOOST_TEST(!!(co_await stub.discard({"op-6", potion, 1})));
    auto end = co_await stub.list_items({});
    BOOST_TEST_REQUIRE(!!end);
    BOOST_TEST(count_of(end->items, "potion") == 8u);
    // another player's op id namespace is its own: the same id applies for them
    co_await n.service.grant("gift2", 52, grants({"potion", 9}));
    const auto theirs = (co_await n.service.list(52)).items[0].id;
    auto other = co_await n.service.split("c:52:op-1", 52, theirs, 4);
    BOOST_TEST(other.applied);
    c.close();
    anon.close();
    co_await srv.stop(1s);
    co_await n.node.store.stop();
  }(), 60s);
}
