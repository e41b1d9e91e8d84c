// The shop module (docs/modules/shop.md) over real memcached, SQLite and PostgreSQL: every rule
// of the issue — a purchase debits the wallet and grants items in one change, once per purchase
// id (retried, raced in one process and from two processes), per-player limits that reset
// daily and weekly in the shop's time zone (never over the limit under two racing processes),
// sales between two instants, a catalogue from reloadable game data, store receipts checked by
// a verifier the game writes (here: Ed25519 signatures of a test store), recorded once and
// refused when replayed — and the client commands through a real server and client.
#define BOOST_TEST_MODULE shop
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <fstream>
#include <thread>

#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>
#include <sodium.h>

#include "ember/app/module_options.hpp"
#include "ember/modules/shop/detail/ember_shop_client.hpp"
#include "ember/modules/shop/shop.hpp"
#include "ember/modules/wallet/detail/ember_wallet_client.hpp"
#include "ember/net/client.hpp"
#include "ember/net/server.hpp"
#include "support/data_env.hpp"
#include "support/error_of.hpp"
#include "support/run.hpp"
#include "support/test_players.hpp"

namespace sh = ember::modules::shop;
namespace es = ember_shop;
namespace inv = ember::modules::inventory;
using namespace std::chrono_literals;

using ember::test::error_of;

namespace {

/// Monday 2026-12-07 10:00 UTC: 12:00 in the shop's time zone (UTC+2) of these tests.
constexpr std::int64_t monday = 1'796'637'600'000;
constexpr std::int64_t hour = 3'600'000, day = 24 * hour;

// The catalogue (game data). "potion_pack": 30 gold for 3 potions and 5 gems; "daily_chest":
// 2 a day; "weekly_sword": 1 a week; "starter": once ever; "gem_pack": store only; "sale_pack":
// a sale at its own price, then a 25% discount; "hidden_pack": granted by receipts, not listed;
// "bad_*": data the shop refuses (an unknown currency or item type, a sale at a negative price).
constexpr const char* catalogue_json = R"([
  {"id": "potion_pack", "prices": [{"currency": "gold", "amount": 30}],
   "items": [{"type": "potion", "count": 3}], "currencies": [{"currency": "gems", "amount": 5}]},
  {"id": "daily_chest", "prices": [{"currency": "gold", "amount": 10}],
   "items": [{"type": "potion", "count": 1}], "limit": 2, "reset": "daily"},
  {"id": "weekly_sword", "prices": [{"currency": "gold", "amount": 5}],
   "items": [{"type": "sword", "count": 1}], "limit": 1, "reset": "weekly"},
  {"id": "starter", "prices": [{"currency": "gold", "amount": 1}],
   "currencies": [{"currency": "gems", "amount": 1}], "limit": 1, "reset": "never"},
  {"id": "gem_pack", "currencies": [{"currency": "gems", "amount": 100}]},
  {"id": "sale_pack", "prices": [{"currency": "gold", "amount": 99}, {"currency": "gems", "amount": 10}],
   "items": [{"type": "potion", "count": 1}],
   "sales": [{"starts_ms": 1796641200000, "ends_ms": 1796644800000, "prices": [{"currency": "gold", "amount": 50}]},
             {"starts_ms": 1796648400000, "ends_ms": 1796652000000, "discount_percent": 25}]},
  {"id": "hidden_pack", "items": [{"type": "sword", "count": 1}], "hidden": true},
  {"id": "bad_currency", "prices": [{"currency": "silver", "amount": 1}], "items": [{"type": "potion", "count": 1}]},
  {"id": "bad_item", "prices": [{"currency": "gold", "amount": 1}], "items": [{"type": "shield", "count": 1}]},
  {"id": "bad_sale", "prices": [{"currency": "gold", "amount": 5}], "items": [{"type": "potion", "count": 1}],
   "sales": [{"starts_ms": 0, "ends_ms": 4000000000000, "prices": [{"currency": "gold", "amount": -5}]}]}
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

sh::options shop_options() {
  sh::options o;
  o.utc_offset_minutes = 120;
  o.page = 4;
  return o;
}

/// A test app store: it signs receipts "TRANSACTION|PRODUCT|SIGNATURE" (Ed25519, hex), and the
/// game's verifier checks the signature with its public key, on a timer as a network call.
struct test_store {
  test_store() {
    BOOST_REQUIRE(sodium_init() >= 0);
    crypto_sign_keypair(pk, sk);
  }
  std::string receipt(const std::string& transaction, const std::string& product) const {
    const auto msg = transaction + '|' + product;
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), sk);
    char hex[2 * crypto_sign_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, sig, sizeof sig);
    return msg + '|' + hex;
  }
  std::function<asio::awaitable<es::verdict>(std::uint64_t, const es::receipt&)> verifier() {
    return [this](std::uint64_t, const es::receipt& r) -> asio::awaitable<es::verdict> {
      ++verified;
      asio::steady_timer t(co_await asio::this_coro::executor, 2ms);
      co_await t.async_wait(asio::use_awaitable);
      es::verdict v;
      const auto a = r.data.find('|'), b = r.data.rfind('|');
      if (r.store != "test" || a == std::string::npos || a == b) co_return v;
      unsigned char sig[crypto_sign_BYTES];
      const auto hex = r.data.substr(b + 1);
      if (sodium_hex2bin(sig, sizeof sig, hex.data(), hex.size(), nullptr, nullptr, nullptr) != 0) co_return v;
      const auto msg = r.data.substr(0, b);
      if (crypto_sign_verify_detached(sig, reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), pk) != 0)
        co_return v;
      v.valid = true;
      v.transaction_id = r.data.substr(0, a);
      v.product = r.data.substr(a + 1, b - a - 1);
      co_return v;
    };
  }
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  std::atomic<int> verified{0};
};

/// A process of the game: the wallet, the inventory and the shop on one store, with a clock
/// the test sets.
struct shop_node {
  shop_node(ember::test::data_env& e, asio::io_context& io, const std::string& journal = "node.journal",
            test_store* store = nullptr)
      : node(e, io, journal), types(write_file(e.dir / "item_types.json",
                                               R"([{"id": "potion", "stack_limit": 20}, {"id": "sword", "stack_limit": 1}])")),
        products(write_file(e.dir / "shop.json", catalogue_json)),
        wallet(node.store, bus, players, wallet_options()), inventory(node.store, bus, players, types, small_bag()),
        shop(node.store, bus, wallet, inventory, products, shop_options()) {
    if (store) shop.on().verify = store->verifier();
    shop.on().clock = [this] { return clock.load(); };
    BOOST_REQUIRE(types.reload());
    BOOST_REQUIRE(products.reload());
    node.open();
  }
  asio::awaitable<std::uint32_t> items(std::uint64_t player, std::string type) {
    std::uint32_t n = 0;
    for (const auto& i : (co_await inventory.list(player)).items)
      if (i.type == type) n += i.count;
    co_return n;
  }
  asio::awaitable<void> give_gold(std::uint64_t player, std::int64_t amount) {
    std::vector<ember_wallet::change> c(1, ember_wallet::change(player, "gold", amount));
    co_await wallet.change("seed:" + std::to_string(player) + ':' + std::to_string(++seeds), c, "seed");
  }
  ember::test::data_env::node node;
  ember::modules::event_bus bus;
  ember::test::test_players players;
  ember::app::data_slot<inv::item_types> types;
  ember::app::data_slot<sh::catalogue> products;
  ember::modules::wallet::service wallet;
  inv::service inventory;
  sh::service shop;
  std::atomic<std::int64_t> clock{monday};
  int seeds = 0;
};

int code(es::error e) { return static_cast<int>(e); }

}  // namespace

// --- pure rules: prices and periods

BOOST_AUTO_TEST_CASE(periods_and_reset_instants_follow_the_time_zone_and_the_week_start) {
  using es::reset;
  // UTC+2: Monday 21:59:59.999 UTC is still Monday locally; 22:00 UTC is Tuesday
  const auto midnight = monday + 12 * hour;
  BOOST_TEST(sh::period_of(reset::daily, midnight - 1, 120, 1) + 1 == sh::period_of(reset::daily, midnight, 120, 1));
  BOOST_TEST(sh::resets_at(reset::daily, monday, 120, 1) == midnight);
  BOOST_TEST(sh::resets_at(reset::daily, midnight, 120, 1) == midnight + day);
  // UTC: the same instant is one day
  BOOST_TEST(sh::period_of(reset::daily, midnight - 1, 0, 1) == sh::period_of(reset::daily, midnight, 0, 1));
  // weeks begin on Monday 00:00 local: Sunday evening is the week before
  const auto next_monday = monday + 7 * day - 12 * hour;
  BOOST_TEST(sh::period_of(reset::weekly, next_monday - 1, 120, 1) + 1 == sh::period_of(reset::weekly, next_monday, 120, 1));
  BOOST_TEST(sh::period_of(reset::weekly, monday - 12 * hour, 120, 1) == sh::period_of(reset::weekly, monday, 120, 1));
  BOOST_TEST(sh::resets_at(reset::weekly, monday, 120, 1) == next_monday);
  // a week starting on Sunday: Sunday 00:00 local
  BOOST_TEST(sh::resets_at(reset::weekly, monday, 120, 0) == next_monday - day);
  // negative offsets and instants before the epoch round down
  BOOST_TEST(sh::local_day(-1, 0) == -1);
  BOOST_TEST(sh::local_day(0, -60) == -1);
  BOOST_TEST(sh::period_of(reset::never, monday, 120, 1) == 0);
  BOOST_TEST(sh::resets_at(reset::never, monday, 120, 1) == 0);
}

BOOST_AUTO_TEST_CASE(a_sale_sets_the_price_from_its_start_until_its_end_and_a_discount_rounds_the_discount_down) {
  es::product p("p", std::vector<es::price>{{"gold", 99}, {"gems", 3}});
  p.sales.emplace_back(100, 200, std::vector<es::price>{{"gold", 50}});
  p.sales.emplace_back(300, 400, std::vector<es::price>{}, 25);
  p.sales.emplace_back(500, 600, std::vector<es::price>{}, 100);
  BOOST_TEST(sh::price_at(p, 99)[0].amount == 99);
  BOOST_TEST(sh::price_at(p, 100).size() == 1u);
  BOOST_TEST(sh::price_at(p, 100)[0].amount == 50);
  BOOST_TEST(sh::price_at(p, 199)[0].amount == 50);
  BOOST_TEST(sh::price_at(p, 200)[0].amount == 99);
  BOOST_TEST(sh::price_at(p, 300)[0].amount == 75);  // 99 less 24 (24.75 rounded down)
  BOOST_TEST(sh::price_at(p, 300)[1].amount == 3);   // 3 less 0 (0.75 rounded down)
  BOOST_TEST(sh::price_at(p, 500).empty());          // 100%: free
  BOOST_TEST(sh::running_sale(p, 400) == nullptr);
  es::product big("big", std::vector<es::price>{{"gold", INT64_MAX}});
  big.sales.emplace_back(0, 10, std::vector<es::price>{}, 50);
  BOOST_TEST(sh::price_at(big, 5)[0].amount == INT64_MAX - INT64_MAX / 2);  // no overflow
}

// --- purchases

EMBER_ON_BOTH_DATABASES(a_purchase_debits_the_wallet_and_grants_items_and_currencies_in_one_change) {
  asio::io_context io;
  shop_node n(e, io);
  std::vector<es::product_purchased> heard;
  auto sub = n.bus.subscribe<es::product_purchased>([&](const es::product_purchased& p) { heard.push_back(p); });
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    co_await n.give_gold(1, 100);
    auto r = co_await n.shop.buy(1, "tap-1", "potion_pack");
    BOOST_TEST(r.applied);
    BOOST_TEST(r.product == "potion_pack");
    BOOST_TEST_REQUIRE(r.paid.size() == 1u);
    BOOST_TEST(r.paid[0].amount == 30);
    BOOST_TEST(r.at_ms == monday);
    BOOST_TEST(co_await n.wallet.balance(1, "gold") == 70);
    BOOST_TEST(co_await n.wallet.balance(1, "gems") == 5);
    BOOST_TEST(co_await n.items(1, "potion") == 3u);
    co_await n.node.store.stop();
  }());
  BOOST_TEST_REQUIRE(heard.size() == 1u);
  BOOST_TEST(heard[0].player == 1u);
  BOOST_TEST(heard[0].purchase == "tap-1");
  BOOST_TEST(heard[0].store == "");
  // one change: the ledger rows, the items and the purchase row carry the purchase's op id
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM wallet_ledger WHERE op = 'shop:1:tap-1'") == 2);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM inventory_op WHERE op = 'shop:1:tap-1'") == 1);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM shop_purchase WHERE id = '1:tap-1' AND applied = 1") == 1);
}

EMBER_ON_BOTH_DATABASES(a_retried_purchase_id_applies_once_and_returns_the_first_result) {
  asio::io_context io;
  shop_node n(e, io);
  int events = 0;
  auto sub = n.bus.subscribe<es::product_purchased>([&](const es::product_purchased&) { ++events; });
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    co_await n.give_gold(2, 100);
    std::vector<es::purchase_result> results(6);
    int finished = 0;
    for (auto& r : results)  // six sessions at once, one purchase id
      asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        r = co_await n.shop.buy(2, "tap-1", "potion_pack");
        ++finished;
      }, asio::detached);
    BOOST_TEST(co_await ember::test::wait_until([&] { return finished == 6; }, 30s));
    BOOST_TEST(std::count_if(results.begin(), results.end(), [](auto& r) { return r.applied; }) == 1);
    for (const auto& r : results) BOOST_TEST(r.paid.at(0).amount == 30);
    // a retry later, even naming another product, gets the first result
    n.clock += hour;
    auto again = co_await n.shop.buy(2, "tap-1", "starter");
    BOOST_TEST(!again.applied);
    BOOST_TEST(again.product == "potion_pack");
    BOOST_TEST(again.at_ms == monday);
    // purchase ids are each player's own
    co_await n.give_gold(3, 30);
    BOOST_TEST((co_await n.shop.buy(3, "tap-1", "potion_pack")).applied);
    BOOST_TEST(co_await n.wallet.balance(2, "gold") == 70);
    BOOST_TEST(co_await n.items(2, "potion") == 3u);
    co_await n.node.store.stop();
  }());
  BOOST_TEST(events == 2);
}

EMBER_ON_BOTH_DATABASES(a_refused_purchase_changes_nothing_and_its_id_stays_free) {
  asio::io_context io;
  shop_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    co_await n.give_gold(4, 20);
    BOOST_TEST(co_await error_of([&] { return n.shop.buy(4, "p1", "potion_pack"); }) == code(es::error::insufficient_funds));
    BOOST_TEST(co_await n.wallet.balance(4, "gold") == 20);
    BOOST_TEST(co_await n.wallet.balance(4, "gems") == 0);
    BOOST_TEST(co_await n.items(4, "potion") == 0u);
    co_await n.give_gold(4, 100);
    BOOST_TEST((co_await n.shop.buy(4, "p1", "potion_pack")).applied);  // the same id, now funded
    // a full bag (3 slots): the sword of the week needs a fourth slot
    BOOST_TEST((co_await n.shop.buy(4, "s1", "weekly_sword")).applied);
    std::vector<ember_inventory::grant_item> sword(1, ember_inventory::grant_item("sword", 1));
    co_await n.inventory.grant("fill", 4, sword);  // the third and last slot
    n.clock += 7 * day;
    const auto gold = co_await n.wallet.balance(4, "gold");
    BOOST_TEST(co_await error_of([&] { return n.shop.buy(4, "s2", "weekly_sword"); }) == code(es::error::no_room));
    BOOST_TEST(co_await n.wallet.balance(4, "gold") == gold);
    // the refused purchase did not count against the week's limit: room made, it applies
    co_await n.inventory.discard("free-a-slot", 4, (co_await n.inventory.list(4)).items.back().id, 0);
    BOOST_TEST((co_await n.shop.buy(4, "s2", "weekly_sword")).applied);
    co_await n.node.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM wallet_ledger WHERE player = 4 AND op LIKE 'shop:%'") == 4);
}

EMBER_ON_BOTH_DATABASES(a_purchase_limit_counts_per_player_and_resets_daily_and_weekly_in_the_shops_time_zone) {
  asio::io_context io;
  shop_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    co_await n.give_gold(5, 1000);
    co_await n.give_gold(6, 1000);
    const auto buy = [&](std::uint64_t player, std::string id, std::string product) {
      return error_of([&n, player, id, product] { return n.shop.buy(player, id, product); });
    };
    // daily: 2 a day; the day ends at midnight UTC+2 (22:00 UTC)
    BOOST_TEST(co_await buy(5, "d1", "daily_chest") == 0);
    BOOST_TEST(co_await buy(5, "d2", "daily_chest") == 0);
    BOOST_TEST(co_await buy(5, "d3", "daily_chest") == code(es::error::limit_reached));
    BOOST_TEST(co_await buy(6, "d1", "daily_chest") == 0);  // another player's own count
    n.clock = monday + 12 * hour - 1;
    BOOST_TEST(co_await buy(5, "d4", "daily_chest") == code(es::error::limit_reached));
    n.clock = monday + 12 * hour;
    BOOST_TEST(co_await buy(5, "d5", "daily_chest") == 0);
    BOOST_TEST(co_await buy(5, "d6", "daily_chest") == 0);
    BOOST_TEST(co_await buy(5, "d7", "daily_chest") == code(es::error::limit_reached));
    // weekly: once a week, from Monday 00:00 UTC+2
    n.clock = monday;
    BOOST_TEST(co_await buy(5, "w1", "weekly_sword") == 0);
    n.clock = monday + 7 * day - 12 * hour - 1;  // Sunday 23:59:59.999 local
    BOOST_TEST(co_await buy(5, "w2", "weekly_sword") == code(es::error::limit_reached));
    n.clock = monday + 7 * day - 12 * hour;
    BOOST_TEST(co_await buy(5, "w3", "weekly_sword") == 0);
    // never: once, a year later still
    BOOST_TEST(co_await buy(5, "n1", "starter") == 0);
    n.clock = monday + 400 * day;
    BOOST_TEST(co_await buy(5, "n2", "starter") == code(es::error::limit_reached));
    co_await n.node.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT bought FROM shop_limit WHERE id = '5:daily_chest'") == 2);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM shop_limit WHERE player = 5") == 3);  // a row per limited product, not per period
}

EMBER_ON_BOTH_DATABASES(a_sale_price_applies_to_purchases_between_its_two_instants) {
  asio::io_context io;
  shop_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    co_await n.give_gold(7, 1000);
    std::vector<ember_wallet::change> gems(1, ember_wallet::change(7, "gems", 100));
    co_await n.wallet.change("gems:7", gems, "seed");
    n.clock = monday + hour - 1;  // the sale at 50 gold starts at 11:00 UTC
    BOOST_TEST((co_await n.shop.buy(7, "s1", "sale_pack")).paid.size() == 2u);
    n.clock = monday + hour;
    auto on_sale = co_await n.shop.buy(7, "s2", "sale_pack");
    BOOST_TEST_REQUIRE(on_sale.paid.size() == 1u);
    BOOST_TEST(on_sale.paid[0].amount == 50);
    n.clock = monday + 2 * hour;  // ended
    BOOST_TEST((co_await n.shop.buy(7, "s3", "sale_pack")).paid.at(0).amount == 99);
    n.clock = monday + 3 * hour;  // 25% off
    auto discounted = co_await n.shop.buy(7, "s4", "sale_pack");
    BOOST_TEST(discounted.paid.at(0).amount == 75);
    BOOST_TEST(discounted.paid.at(1).amount == 8);  // 10 less 2 (2.5 rounded down)
    BOOST_TEST(co_await n.wallet.balance(7, "gold") == 1000 - 99 - 50 - 99 - 75);
    BOOST_TEST(co_await n.wallet.balance(7, "gems") == 100 - 10 - 10 - 8);
    co_await n.node.store.stop();
  }());
}

EMBER_ON_BOTH_DATABASES(the_catalogue_pages_in_the_data_order_with_prices_now_and_what_is_left_of_limits) {
  asio::io_context io;
  shop_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    co_await n.give_gold(8, 100);
    co_await n.shop.buy(8, "d1", "daily_chest");
    n.clock = monday + hour;  // the sale runs
    auto first = co_await n.shop.offers(8, "", 0);
    BOOST_TEST_REQUIRE(first.offers.size() == 4u);  // the page of the options
    BOOST_TEST(first.offers[0].product == "potion_pack");
    BOOST_TEST(first.offers[1].limit == 2u);
    BOOST_TEST(first.offers[1].left == 1u);
    BOOST_TEST(first.offers[1].resets_at_ms == monday + 12 * hour);
    BOOST_TEST(first.offers[2].left == 1u);
    BOOST_TEST(first.next_cursor == "starter");
    auto second = co_await n.shop.offers(8, first.next_cursor, 10);
    BOOST_TEST_REQUIRE(second.offers.size() == 4u);  // hidden_pack left out
    BOOST_TEST(second.offers[0].product == "gem_pack");
    BOOST_TEST(second.offers[1].product == "sale_pack");
    BOOST_TEST(second.offers[1].on_sale);
    BOOST_TEST(second.offers[1].sale_ends_ms == monday + 2 * hour);
    BOOST_TEST(second.offers[1].prices.at(0).amount == 50);
    BOOST_TEST(second.next_cursor == "bad_item");
    auto last = co_await n.shop.offers(8, second.next_cursor, 0);
    BOOST_TEST_REQUIRE(last.offers.size() == 1u);
    BOOST_TEST(last.offers[0].product == "bad_sale");
    BOOST_TEST(last.next_cursor == "");
    // another player's counts are their own; the next day the chest is back to 2
    BOOST_TEST((co_await n.shop.offers(9, "", 2)).offers[1].left == 2u);
    n.clock = monday + day;
    BOOST_TEST((co_await n.shop.offers(8, "", 2)).offers[1].left == 2u);
    BOOST_TEST(co_await error_of([&] { return n.shop.offers(8, "nope", 0); }) == code(es::error::bad_cursor));
    BOOST_TEST(co_await error_of([&] { return n.shop.offers(8, "hidden_pack", 0); }) == code(es::error::bad_cursor));
    co_await n.node.store.stop();
  }());
}

EMBER_ON_BOTH_DATABASES(the_catalogue_is_game_data_reloaded_without_a_restart_and_a_bad_file_keeps_the_old) {
  asio::io_context io;
  shop_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    co_await n.give_gold(10, 100);
    std::ofstream(e.dir / "shop.json") << R"([{"id": "potion_pack", "prices": [{"currency": "gold", "amount": 7}],
      "items": [{"type": "potion", "count": 1}]}])";
    BOOST_TEST_REQUIRE(!!n.products.reload());
    BOOST_TEST((co_await n.shop.buy(10, "r1", "potion_pack")).paid.at(0).amount == 7);
    BOOST_TEST(co_await error_of([&] { return n.shop.buy(10, "r2", "daily_chest"); }) == code(es::error::unknown_product));
    std::ofstream(e.dir / "shop.json") << R"([{"id": "potion_pack", "prices": 12}])";
    BOOST_TEST(!n.products.reload());  // refused, naming the file and line
    BOOST_TEST((co_await n.shop.buy(10, "r3", "potion_pack")).paid.at(0).amount == 7);
    co_await n.node.store.stop();
  }());
}

// --- store receipts

EMBER_ON_BOTH_DATABASES(a_verified_receipt_grants_its_product_once_and_a_replay_is_refused) {
  test_store store;
  asio::io_context io;
  shop_node n(e, io, "node.journal", &store);
  std::vector<es::product_purchased> heard;
  auto sub = n.bus.subscribe<es::product_purchased>([&](const es::product_purchased& p) { heard.push_back(p); });
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    const es::receipt gems{"test", store.receipt("GPA.1000-0001", "gem_pack")};
    auto r = co_await n.shop.redeem(11, gems);
    BOOST_TEST(r.applied);
    BOOST_TEST(r.product == "gem_pack");
    BOOST_TEST(r.paid.empty());
    BOOST_TEST(co_await n.wallet.balance(11, "gems") == 100);
    // the same receipt again, by the player or anyone: refused, nothing granted
    BOOST_TEST(co_await error_of([&] { return n.shop.redeem(11, gems); }) == code(es::error::receipt_used));
    BOOST_TEST(co_await error_of([&] { return n.shop.redeem(12, gems); }) == code(es::error::receipt_used));
    // a hidden product (not listed, granted by its receipts) with items
    BOOST_TEST((co_await n.shop.redeem(11, es::receipt{"test", store.receipt("GPA.1000-0002", "hidden_pack")})).applied);
    BOOST_TEST(co_await n.items(11, "sword") == 1u);
    // forged, from another store, unknown product, no verifier
    auto forged = store.receipt("GPA.1000-0003", "gem_pack");
    forged[2] = forged[2] == '1' ? '2' : '1';
    BOOST_TEST(co_await error_of([&] { return n.shop.redeem(11, es::receipt{"test", forged}); }) ==
               code(es::error::receipt_invalid));
    BOOST_TEST(co_await error_of([&] { return n.shop.redeem(11, es::receipt{"other", store.receipt("x", "gem_pack")}); }) ==
               code(es::error::receipt_invalid));
    BOOST_TEST(co_await error_of([&] { return n.shop.redeem(11, es::receipt{"test", store.receipt("GPA.9", "nothing")}); }) ==
               code(es::error::unknown_product));
    // four devices redeem one new receipt at once: one grant, three refusals
    const es::receipt raced{"test", store.receipt("GPA.1000-0004", "gem_pack")};
    int granted = 0, used = 0, finished = 0;
    for (int i = 0; i < 4; ++i)
      asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        const auto c = co_await error_of([&] { return n.shop.redeem(13, raced); });
        if (c == 0) ++granted;
        if (c == code(es::error::receipt_used)) ++used;
        ++finished;
      }, asio::detached);
    BOOST_TEST(co_await ember::test::wait_until([&] { return finished == 4; }, 30s));
    BOOST_TEST(granted == 1);
    BOOST_TEST(used == 3);
    BOOST_TEST(co_await n.wallet.balance(13, "gems") == 100);
    n.shop.on().verify = nullptr;
    BOOST_TEST(co_await error_of([&] { return n.shop.redeem(11, gems); }) == code(es::error::no_verifier));
    co_await n.node.store.stop();
  }());
  BOOST_TEST(heard.size() == 3u);
  BOOST_TEST(heard.at(0).store == "test");
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM shop_receipt WHERE player <> 0") == 3);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM shop_receipt WHERE transaction_id = 'GPA.1000-0001' AND player = 11") == 1);
}

// --- two processes

EMBER_ON_BOTH_DATABASES(two_processes_racing_the_same_purchase_id_apply_it_once) {
  {
    asio::io_context io;
    shop_node setup(e, io, "setup.journal");
    ember::test::run(io, [&]() -> asio::awaitable<void> {
      co_await setup.give_gold(20, 300);
      co_await setup.node.store.stop();
    }());
  }
  std::atomic<int> applied{0}, failed{0};
  auto process = [&](std::string journal) {
    asio::io_context io;
    shop_node n(e, io, journal);
    ember::test::run(io, [&]() -> asio::awaitable<void> {
      for (int i = 0; i < 4; ++i) try {
          for (int k = 0; k < 3; ++k)  // each id three times from each process
            if ((co_await n.shop.buy(20, "tap-" + std::to_string(i), "potion_pack")).applied) ++applied;
        } catch (const std::exception& x) {
          ++failed;
          BOOST_TEST_MESSAGE("purchase failed: " << x.what());
        }
      co_await n.node.store.stop();
    }(), 120s);
  };
  std::thread a([&] { process("a.journal"); });
  std::thread b([&] { process("b.journal"); });
  a.join();
  b.join();
  BOOST_TEST(failed == 0);
  BOOST_TEST(applied == 4);
  BOOST_TEST(e.scalar("SELECT amount FROM wallet_balance WHERE id = '20:gold'") == 300 - 4 * 30);
  BOOST_TEST(e.scalar("SELECT amount FROM wallet_balance WHERE id = '20:gems'") == 4 * 5);
  BOOST_TEST(e.scalar("SELECT SUM(count) FROM inventory_item WHERE owner = 20") == 4 * 3);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM shop_purchase WHERE player = 20 AND applied = 1") == 4);
}

EMBER_ON_BOTH_DATABASES(two_processes_racing_for_the_same_limited_item_never_go_over_the_limit) {
  {
    asio::io_context io;
    shop_node setup(e, io, "setup.journal");
    ember::test::run(io, [&]() -> asio::awaitable<void> {
      co_await setup.give_gold(21, 1000);
      co_await setup.node.store.stop();
    }());
  }
  std::atomic<int> applied{0}, at_limit{0}, failed{0};
  auto process = [&](std::string name) {
    asio::io_context io;
    shop_node n(e, io, name + ".journal");
    ember::test::run(io, [&]() -> asio::awaitable<void> {
      int finished = 0;
      for (int i = 0; i < 5; ++i)  // five purchases at once per process, each its own id
        asio::co_spawn(io, [&, i]() -> asio::awaitable<void> {
          const auto c = co_await error_of([&] { return n.shop.buy(21, name + std::to_string(i), "daily_chest"); });
          if (c == 0) ++applied;
          else if (c == code(es::error::limit_reached)) ++at_limit;
          else ++failed;
          ++finished;
        }, asio::detached);
      BOOST_TEST(co_await ember::test::wait_until([&] { return finished == 5; }, 100s));
      co_await n.node.store.stop();
    }(), 120s);
  };
  std::thread a([&] { process("a"); });
  std::thread b([&] { process("b"); });
  a.join();
  b.join();
  BOOST_TEST(failed == 0);
  BOOST_TEST(applied == 2);
  BOOST_TEST(at_limit == 8);
  BOOST_TEST(e.scalar("SELECT bought FROM shop_limit WHERE id = '21:daily_chest'") == 2);
  BOOST_TEST(e.scalar("SELECT amount FROM wallet_balance WHERE id = '21:gold'") == 1000 - 2 * 10);
  BOOST_TEST(e.scalar("SELECT SUM(count) FROM inventory_item WHERE owner = 21") == 2);
}

// --- bad input

EMBER_ON_BOTH_DATABASES(bad_input_is_refused_with_typed_errors_and_changes_nothing) {
  asio::io_context io;
  shop_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    co_await n.give_gold(30, 100);
    const auto buy = [&](std::string id, std::string product) {
      return error_of([&n, id, product] { return n.shop.buy(30, id, product); });
    };
    BOOST_TEST(co_await buy(std::string(33, 'x'), "potion_pack") == code(es::error::bad_text));
    BOOST_TEST(co_await buy("", "potion_pack") == code(es::error::bad_text));
    BOOST_TEST(co_await buy("\xff\xfe", "potion_pack") == code(es::error::bad_text));
    BOOST_TEST(co_await buy("tab\there", "potion_pack") == code(es::error::bad_text));
    BOOST_TEST(co_await buy("ok", std::string(300, 'p')) == code(es::error::bad_text));
    BOOST_TEST(co_await buy("ok", "no_such") == code(es::error::unknown_product));
    BOOST_TEST(co_await buy("ok", "gem_pack") == code(es::error::not_for_sale));
    BOOST_TEST(co_await buy("ok", "hidden_pack") == code(es::error::not_for_sale));
    BOOST_TEST(co_await buy("ok", "bad_currency") == code(es::error::bad_product));
    BOOST_TEST(co_await buy("ok", "bad_item") == code(es::error::bad_product));
    BOOST_TEST(co_await buy("ok", "bad_sale") == code(es::error::bad_product));  // a sale may not pay the player
    BOOST_TEST(co_await error_of([&] { return n.shop.redeem(30, es::receipt{"", "x"}); }) == code(es::error::bad_text));
    BOOST_TEST(co_await error_of([&] { return n.shop.redeem(30, es::receipt{"test", std::string(16'385, 'r')}); }) ==
               code(es::error::bad_text));
    BOOST_TEST(co_await error_of([&] { return n.shop.redeem(30, es::receipt{"test", "r"}); }) == code(es::error::no_verifier));
    BOOST_TEST(co_await n.wallet.balance(30, "gold") == 100);
    BOOST_TEST(co_await n.items(30, "potion") == 0u);
    BOOST_TEST((co_await n.shop.buy(30, "ok", "potion_pack")).applied);  // "ok" was never used
    co_await n.node.store.stop();
  }());
}

// --- the client commands through a real server and client

namespace {

/// The shop's commands, with a sign-in step for the test: the next request of a session not
/// signed in binds it to `next_user` (once).
struct signing_handler final : es::shop_handler {
  explicit signing_handler(sh::handler& h) : real(h) {}
  sh::handler& real;
  std::uint64_t next_user = 0;
  void sign_in(ember::net::session& s) {
    if (!s.user() && next_user) s.bind_user(std::exchange(next_user, 0));
  }
  asio::awaitable<es::catalogue_reply> catalogue(ember::net::session& s, const es::catalogue_request& r) override {
    sign_in(s);
    co_return co_await real.catalogue(s, r);
  }
  asio::awaitable<es::buy_reply> buy(ember::net::session& s, const es::buy_request& r) override {
    sign_in(s);
    co_return co_await real.buy(s, r);
  }
  asio::awaitable<es::redeem_receipt_reply> redeem_receipt(ember::net::session& s,
                                                           const es::redeem_receipt_request& r) override {
    sign_in(s);
    co_return co_await real.redeem_receipt(s, r);
  }
};

struct shop_server {
  shop_server(asio::io_context& io, shop_node& n) : commands(n.shop), h(commands), srv(io, options(), table()) {
    srv.start();
    n.players.server = &srv;
  }
  static ember::net::server_options options() {
    ember::net::server_options so;
    so.name = "shop";
    return so;
  }
  ember::net::dispatch_table table() {
    ember::net::dispatch_table t;
    es::register_commands(t, h);
    return t;
  }
  /// A client signed in as `user` (its first request, a catalogue page, binds it).
  asio::awaitable<std::unique_ptr<ember::net::client>> signed_in(asio::io_context& io, std::uint64_t user) {
    auto c = std::make_unique<ember::net::client>(io.get_executor());
    BOOST_REQUIRE(!(co_await c->connect("127.0.0.1", srv.port())));
    h.next_user = user;
    BOOST_REQUIRE(!!(co_await es::client_stub(*c).catalogue({"", 0})));
    co_return c;
  }
  sh::handler commands;
  signing_handler h;
  ember::net::server srv;
};

}  // namespace

EMBER_ON_BOTH_DATABASES(clients_browse_buy_and_redeem_and_bad_requests_leave_the_session_usable) {
  test_store store;
  asio::io_context io;
  shop_node n(e, io, "node.journal", &store);
  shop_server s(io, n);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    ember::net::client anon(io.get_executor());
    BOOST_REQUIRE(!(co_await anon.connect("127.0.0.1", s.srv.port())));
    auto r0 = co_await es::client_stub(anon).buy({"x", "potion_pack"});
    BOOST_TEST_REQUIRE(!r0);
    BOOST_TEST(r0.error().status == code(es::error::not_signed_in));

    co_await n.give_gold(41, 100);
    auto alice = co_await s.signed_in(io, 41);
    auto bob = co_await s.signed_in(io, 42);
    es::client_stub a(*alice), b(*bob);
    std::vector<ember_wallet::balance_changed> pushed;
    ember_wallet::client_stub(*alice).on_balance_changed([&](const ember_wallet::balance_changed& p) { pushed.push_back(p); });
    auto page = co_await a.catalogue({"", 2});
    BOOST_TEST_REQUIRE(!!page);
    BOOST_TEST(page->offers.size() == 2u);
    BOOST_TEST(page->next_cursor == "daily_chest");
    auto bought = co_await a.buy({"tap-1", "potion_pack"});
    BOOST_TEST_REQUIRE(!!bought);
    BOOST_TEST(bought->result.applied);
    BOOST_TEST(co_await ember::test::wait_until([&] { return pushed.size() == 2; }));  // gold and gems
    auto retried = co_await a.buy({"tap-1", "potion_pack"});
    BOOST_TEST_REQUIRE(!!retried);
    BOOST_TEST(!retried->result.applied);
    auto redeemed = co_await b.redeem_receipt(es::redeem_receipt_request(es::receipt{"test", store.receipt("T-1", "gem_pack")}));
    BOOST_TEST_REQUIRE(!!redeemed);
    BOOST_TEST(redeemed->result.applied);
    // bad requests: typed errors, the session goes on
    auto bad0 = co_await a.buy({std::string(33, 'x'), "potion_pack"});
    BOOST_TEST(bad0.error().status == code(es::error::bad_text));
    auto bad1 = co_await a.buy({"ctrl\x01", "potion_pack"});
    BOOST_TEST(bad1.error().status == code(es::error::bad_text));
    auto not_utf8 = co_await a.buy({"\xff", "potion_pack"});  // the codec refuses it before the handler
    BOOST_TEST(not_utf8.error().status == static_cast<int>(ember::status::bad_request));
    auto bad2 = co_await a.buy({"t2", "nothing"});
    BOOST_TEST(bad2.error().status == code(es::error::unknown_product));
    auto bad3 = co_await a.catalogue({"nothing", 0});
    BOOST_TEST(bad3.error().status == code(es::error::bad_cursor));
    auto bad4 = co_await b.buy({"t3", "potion_pack"});  // bob has no gold
    BOOST_TEST(bad4.error().status == code(es::error::insufficient_funds));
    auto bad5 = co_await b.redeem_receipt(es::redeem_receipt_request(es::receipt{"test", store.receipt("T-1", "gem_pack")}));
    BOOST_TEST(bad5.error().status == code(es::error::receipt_used));
    auto bad6 = co_await a.buy({"t4", "daily_chest"});
    BOOST_TEST(!!bad6);
    BOOST_TEST(!!(co_await a.buy({"t5", "daily_chest"})));
    auto bad7 = co_await a.buy({"t6", "daily_chest"});
    BOOST_TEST(bad7.error().status == code(es::error::limit_reached));
    auto after = co_await a.catalogue({"", 2});  // alice's session still works
    BOOST_TEST_REQUIRE(!!after);
    BOOST_TEST(after->offers[1].left == 0u);
    BOOST_TEST((co_await b.catalogue({"", 2}))->offers[1].left == 2u);  // bob's counts are his own
    auto still = co_await es::client_stub(anon).catalogue({"", 0});  // still not signed in, unaffected
    BOOST_TEST(still.error().status == code(es::error::not_signed_in));
    anon.close();
    alice->close();
    bob->close();
    co_await s.srv.stop(1s);
    co_await n.node.store.stop();
  }(), 60s);
  BOOST_TEST(e.scalar("SELECT amount FROM wallet_balance WHERE id = '42:gems'") == 100);
}

BOOST_AUTO_TEST_CASE(config_json_sets_the_shops_time_zone_and_limits_and_a_typo_stops_the_start) {
  auto config = ember::app::parse_config(R"({"servers": {"game1": {"type": "game"}},
    "modules": {"shop": {"server": "game", "utc_offset_minutes": -300, "week_starts": 0, "page": 20}}})",
                                         "config.json");
  BOOST_REQUIRE(config.has_value());
  ember::app::module_options o(*config, "shop");
  const auto opts = sh::options::read(o);
  BOOST_TEST(opts.utc_offset_minutes == -300);
  BOOST_TEST(opts.week_starts == 0u);
  BOOST_TEST(opts.page == 20u);
  BOOST_TEST(opts.max_purchase_id == 32u);  // not given: the default

  auto typo = ember::app::parse_config(R"({"servers": {"game1": {"type": "game"}},
    "modules": {"shop": {"server": "game", "utc_offset": 60}}})", "config.json");
  ember::app::module_options t(*typo, "shop");
  BOOST_CHECK_EXCEPTION(sh::options::read(t), std::invalid_argument, [](const std::invalid_argument& e) {
    return std::string(e.what()).find("modules.shop.utc_offset: unknown key") != std::string::npos;
  });
  auto far = ember::app::parse_config(R"({"servers": {"game1": {"type": "game"}},
    "modules": {"shop": {"server": "game", "utc_offset_minutes": 900}}})", "config.json");
  ember::app::module_options f(*far, "shop");
  BOOST_CHECK_THROW(sh::options::read(f), std::invalid_argument);
}

// --- transient failures (issue 22): memcached or the database out of reach for a moment

namespace {

/// Every string of column 0 that `sql` returns, read with a plain query.
std::vector<std::string> strings(ember::test::data_env& e, const std::string& sql) {
  asio::io_context io;
  ember::data::database db(e.connection);
  return ember::test::run(io, db.run([sql](ember::data::odbc::connection& c) {
    std::vector<std::string> out;
    auto cur = c.prepare(sql).query();
    while (cur.next()) out.push_back(cur.get<std::optional<std::string>>(0).value_or(""));
    return out;
  }));
}

/// What the clients were told of their purchases.
struct told {
  int ok = 0, unavailable = 0, outcome_unknown = 0, other = 0;
  std::vector<std::string> others;  // "status: message" of anything else
};

/// After recovery the database holds exactly the purchases the client was told succeeded, plus
/// at most those whose outcome it was told is unknown — counted as applied purchase rows, gold
/// spent and potions owned — and no item row outside a bag: every row reserved for a player's
/// next stack (owner -P) is listed in its bag.
void check_database_holds_what_the_client_was_told(ember::test::data_env& e, std::uint64_t player, const told& t,
                                                   std::int64_t gold_before) {
  const auto id = std::to_string(player);
  const auto applied = e.scalar("SELECT COUNT(*) FROM shop_purchase WHERE applied = 1 AND player = " + id);
  BOOST_TEST(applied >= t.ok);
  BOOST_TEST(applied <= t.ok + t.outcome_unknown);
  BOOST_TEST(e.scalar("SELECT amount FROM wallet_balance WHERE id = '" + id + ":gold'") == gold_before - 30 * applied);
  BOOST_TEST(e.scalar("SELECT COALESCE(SUM(count), 0) FROM inventory_item WHERE owner = " + id) == 3 * applied);
  const auto listed = strings(e, "SELECT reserved FROM inventory_bag WHERE player = " + id);
  BOOST_TEST_REQUIRE(listed.size() == 1u);
  for (const auto& row : strings(e, "SELECT CAST(id AS VARCHAR(24)) FROM inventory_item WHERE owner = -" + id)) {
    const auto ids = "," + listed.front() + ",";
    BOOST_TEST_MESSAGE("reserved row " << row << " of player " << id << "; bag lists '" << listed.front() << "'");
    BOOST_TEST(ids.find("," + row + ",") != std::string::npos);
  }
}

}  // namespace

// memcached is killed (SIGKILL, by its PID) while four clients buy, and started again, empty,
// 50 ms later.
// Reads that meet the outage are retried until it is over; purchases that fail reach the
// client as `unavailable` (not run) or `outcome_unknown` (may have been stored), never
// `internal_error`; and the database then holds exactly what the clients were told.
EMBER_ON_BOTH_DATABASES(memcached_killed_during_purchases_fails_them_as_retry_statuses_and_leaves_no_phantom_rows) {
  constexpr int players = 4, buys = 18;  // 3 slots of 20 potions: 20 packs fit
  constexpr std::int64_t gold = 1000;
  asio::io_context io;
  shop_node n(e, io);
  shop_server s(io, n);
  std::atomic<int> answered{0};
  std::atomic<bool> killed{false}, back{false};
  std::vector<told> results(players);
  int reads_during_outage = 0, reads_failed = 0, reads_failed_otherwise = 0;
  // The thread that starts memcached must outlive it: memcached_server asks the kernel to kill
  // memcached when its parent *thread* ends (PR_SET_PDEATHSIG).
  struct joined {  // a failed check does not leave the thread running
    std::thread t;
    std::atomic<bool> done{false};
    ~joined() {
      done = true;
      if (t.joinable()) t.join();
    }
  } killer;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    std::vector<std::unique_ptr<ember::net::client>> clients;
    for (int p = 0; p < players; ++p) {
      co_await n.give_gold(100 + p, gold);
      clients.push_back(co_await s.signed_in(io, 100 + p));
    }
    // The kill comes once a quarter of the purchases are answered; the restart 200 ms later.
    killer.t = std::thread([&] {
      for (int i = 0; i < 3000 && answered < players * buys / 4; ++i) std::this_thread::sleep_for(1ms);
      e.mc.stop();
      ember::log::info("test: memcached killed");
      killed = true;
      std::this_thread::sleep_for(50ms);
      e.mc.start();
      ember::log::info("test: memcached accepts again");
      back = true;
      while (!killer.done) std::this_thread::sleep_for(5ms);
    });
    int running = players;
    for (int p = 0; p < players; ++p) {
      asio::co_spawn(io, [&, p]() -> asio::awaitable<void> {
        es::client_stub stub(*clients[p]);
        ember::net::call_options o;
        o.timeout = 20s;  // a row locked by a transaction caught half-way waits out its 5 s lease
        for (int b = 0; b < buys; ++b) {
          auto r = co_await stub.buy({"buy-" + std::to_string(b), "potion_pack"}, o);
          auto& t = results[p];
          if (r) ++t.ok;
          else if (r.error().status == static_cast<int>(ember::status::unavailable)) ++t.unavailable;
          else if (r.error().status == static_cast<int>(ember::status::outcome_unknown)) ++t.outcome_unknown;
          else {
            ++t.other;
            t.others.push_back(std::to_string(r.error().status) + ": " + r.error().message);
          }
          ++answered;
          asio::steady_timer pace(io, 30ms);  // a stream that spans the outage and goes on after it
          co_await pace.async_wait(asio::use_awaitable);
        }
        --running;
      }, asio::detached);
    }
    // Reads that start while memcached is dead wait for it (store_options::read_retry).
    BOOST_TEST_REQUIRE(co_await ember::test::wait_until([&] { return killed.load(); }, 10s));
    const auto retries_before = n.node.store.counters().read_retries;
    while (!back && reads_during_outage < 1000) {
      ++reads_during_outage;
      try {
        (void)co_await n.inventory.list(100);
        (void)co_await n.wallet.balance(101, "gold");
      } catch (const std::system_error& x) {
        // Spent read_retry: then it says "retry", as the purchases do.
        ++reads_failed;
        if (ember::status_of(x.code()) != ember::status::unavailable) ++reads_failed_otherwise;
        ember::log::warn("test: a read during the outage failed: {}", x.what());
      }
    }
    BOOST_TEST(n.node.store.counters().read_retries > retries_before);
    BOOST_TEST_REQUIRE(co_await ember::test::wait_until([&] { return running == 0; }, 60s));
    // After recovery every player buys again, and that works.
    for (int p = 0; p < players; ++p) {
        es::client_stub stub(*clients[p]);
      ember::net::call_options o;
      o.timeout = 20s;
      o.retries = 10;  // `unavailable` says "not run, retry": libmemcached tries the server again within a second
      auto r = co_await stub.buy({"after", "potion_pack"}, o);
      BOOST_REQUIRE_MESSAGE(!!r, "a purchase after recovery: " << (r ? std::string() : r.error().message));
      ++results[p].ok;
    }
    for (auto& c : clients) c->close();
    co_await s.srv.stop(1s);
    co_await n.node.store.stop();
  }(), 120s);
  killer.done = true;
  if (killer.t.joinable()) killer.t.join();
  BOOST_TEST(reads_during_outage > 0);
  BOOST_TEST_MESSAGE(reads_during_outage << " reads during the outage, " << reads_failed << " failed");
  BOOST_TEST(reads_failed < reads_during_outage);  // the first ones waited for memcached's return
  BOOST_TEST(reads_failed_otherwise == 0);
  int failed = 0;
  for (int p = 0; p < players; ++p) {
    const auto& t = results[p];
    BOOST_TEST_MESSAGE("player " << p << ": " << t.ok << " bought, " << t.unavailable << " unavailable, "
                                 << t.outcome_unknown << " outcome unknown");
    for (const auto& o : t.others) BOOST_TEST_MESSAGE("  other status " << o);
    BOOST_TEST(t.other == 0);
    failed += t.unavailable + t.outcome_unknown;
    check_database_holds_what_the_client_was_told(e, 100 + p, t, gold);
  }
  BOOST_TEST_MESSAGE(failed << " purchases failed during the outage");
  BOOST_TEST(failed > 0, "no purchase met the outage: the test showed nothing");
}

// PostgreSQL stopped (pg_ctl, fast) while the rows are missing from memcached (restarted
// empty): reads fail as `unavailable` once read_retry is spent, a purchase as `unavailable`
// (not run); when the database is back, everything acknowledged is there and buying works.
BOOST_AUTO_TEST_CASE(the_database_down_while_rows_are_missing_from_memcached_gives_unavailable_and_loses_nothing) {
  ember::test::data_env e(true);
  auto& pg = ember::test::shared_postgres();
  struct started_again {  // whatever happens here, the tests after it find PostgreSQL running
    ember::test::postgres& pg;
    ~started_again() {
      try {
        if (!pg.running()) pg.start();
      } catch (const std::exception& x) {
        BOOST_TEST_MESSAGE("PostgreSQL did not start again: " << x.what());
      }
    }
  } guard{pg};
  asio::io_context io;
  shop_node n(e, io);
  shop_server s(io, n);
  told t;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    co_await n.give_gold(200, 1000);
    auto c = co_await s.signed_in(io, 200);
    es::client_stub stub(*c);
    for (int b = 0; b < 3; ++b) {
      BOOST_TEST_REQUIRE(!!(co_await stub.buy({"before-" + std::to_string(b), "potion_pack"})));
      ++t.ok;
    }
    (void)co_await n.node.store.flush_all();  // purchases commit to the database; the rest is written now
    e.mc.restart();  // every row is now only in the database
    pg.stop();
    const auto retries_before = n.node.store.counters().read_retries;
    std::error_code read_error;
    try {
      (void)co_await n.wallet.balance(200, "gold");
    } catch (const std::system_error& x) {
      read_error = x.code();
    }
    BOOST_CHECK_MESSAGE(ember::status_of(read_error) == ember::status::unavailable, "a read: " << read_error.message());
    BOOST_TEST(n.node.store.counters().read_retries > retries_before);
    auto page = co_await stub.catalogue({"", 0});  // reads the player's limits
    BOOST_TEST_REQUIRE(!page);
    BOOST_CHECK_MESSAGE(page.error().status == static_cast<int>(ember::status::unavailable),
                        "catalogue: " << page.error().status << " " << page.error().message);
    auto refused = co_await stub.buy({"while-down", "potion_pack"});
    BOOST_TEST_REQUIRE(!refused);
    BOOST_CHECK_MESSAGE(refused.error().status == static_cast<int>(ember::status::unavailable),
                        "buy: " << refused.error().status << " " << refused.error().message);
    pg.start();
    BOOST_TEST(co_await n.wallet.balance(200, "gold") == 1000 - 3 * 30);
    BOOST_TEST_REQUIRE(!!(co_await stub.buy({"after", "potion_pack"})));
    ++t.ok;
    c->close();
    co_await s.srv.stop(1s);
    co_await n.node.store.stop();
  }(), 120s);
  check_database_holds_what_the_client_was_told(e, 200, t, 1000);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM shop_purchase WHERE id = '200:while-down' AND applied = 1") == 0);
}

// The deterministic case of the rule: memcached dies after a purchase's rows are locked and
// before its database commit (the shop's before_commit hook kills it). The commit succeeds,
// replacing the cached rows cannot: the client is told `outcome_unknown`, not `unavailable`
// ("not run") — and the purchase is indeed in the database, once, after recovery; its retry
// with the same purchase id answers with the first result.
EMBER_ON_BOTH_DATABASES(a_purchase_committed_as_memcached_dies_is_reported_outcome_unknown_and_stored_once) {
  asio::io_context io;
  shop_node n(e, io);
  shop_server s(io, n);
  told t;
  n.shop.on().before_commit = [&](std::uint64_t, const std::string& purchase) {
    if (purchase == "doomed" && e.mc.running()) e.mc.stop();
  };
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    co_await n.give_gold(300, 1000);
    auto c = co_await s.signed_in(io, 300);
    es::client_stub stub(*c);
    BOOST_TEST_REQUIRE(!!(co_await stub.buy({"first", "potion_pack"})));
    ++t.ok;
    auto doomed = co_await stub.buy({"doomed", "potion_pack"});
    BOOST_TEST_REQUIRE(!doomed);
    BOOST_TEST(doomed.error().status == static_cast<int>(ember::status::outcome_unknown), doomed.error().message);
    ++t.outcome_unknown;
    e.mc.start();
    ember::net::call_options o;
    o.timeout = 20s;  // the rows it locked went with memcached; libmemcached retries within a second
    o.retries = 10;
    auto again = co_await stub.buy({"doomed", "potion_pack"}, o);  // the client's retry, same purchase id
    BOOST_REQUIRE_MESSAGE(!!again, "the retry: " << (again ? std::string() : again.error().message));
    BOOST_TEST(!again->result.applied);  // it had been applied: the first result, not a second purchase
    c->close();
    co_await s.srv.stop(1s);
    co_await n.node.store.stop();
  }(), 120s);
  check_database_holds_what_the_client_was_told(e, 300, t, 1000);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM shop_purchase WHERE applied = 1 AND player = 300") == 2);
}
