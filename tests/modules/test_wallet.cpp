// The wallet module (docs/modules/wallet.md) over real memcached, SQLite and PostgreSQL: every
// rule of the issue, two processes writing crossing transfers at once, the dynamic change_set
// of ember/data/transaction.hpp, and the client commands through a real server and client.
#define BOOST_TEST_MODULE wallet
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <thread>

#include <asio/detached.hpp>

#include "ember/modules/wallet/detail/ember_wallet_client.hpp"
#include "ember/app/module_options.hpp"
#include "ember/modules/wallet/wallet.hpp"
#include "ember/net/client.hpp"
#include "ember/net/server.hpp"
#include "support/data_env.hpp"
#include "support/error_of.hpp"
#include "support/test_players.hpp"
#include "support/run.hpp"

namespace w = ember::modules::wallet;
namespace ew = ember_wallet;
using namespace std::chrono_literals;

using ember::test::error_of;

namespace {

w::options game_options() {
  w::options o;
  o.currencies = {{"gold", 0}, {"gems", 1000}};
  o.ledger_page = 10;
  return o;
}

/// A process's wallet: a data_env node and a service on it.
struct wallet_node {
  wallet_node(ember::test::data_env& e, asio::io_context& io, const std::string& journal = "node.journal")
      : node(e, io, journal), service(node.store, bus, players, game_options()) {
    node.open();
  }
  ember::test::data_env::node node;
  ember::modules::event_bus bus;
  ember::test::test_players players;
  w::service service;
};

int code(ew::error e) { return static_cast<int>(e); }

// A change set as one argument: a braced list inside a co_await expression trips g++ 12
// ("array used as initializer"), so the tests spell sets with set(...).
std::vector<ew::change> set(ew::change a) { return {a}; }
std::vector<ew::change> set(ew::change a, ew::change b) { return {a, b}; }
std::vector<ew::change> set(ew::change a, ew::change b, ew::change c) { return {a, b, c}; }
std::vector<ew::change> set(ew::change a, ew::change b, ew::change c, ew::change d) { return {a, b, c, d}; }

}  // namespace

EMBER_ON_BOTH_DATABASES(a_change_set_applies_and_leaves_a_ledger_row_per_change_with_its_reason) {
  asio::io_context io;
  wallet_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    auto r = co_await n.service.change("op1", set({1, "gold", 100}, {1, "gems", 5}, {2, "gold", 7}), "welcome");
    BOOST_TEST(r.applied);
    BOOST_TEST_REQUIRE(r.changes.size() == 3u);
    BOOST_TEST(r.changes[0].balance == 100);
    BOOST_TEST(co_await n.service.balance(1, "gold") == 100);
    BOOST_TEST(co_await n.service.balance(1, "gems") == 5);
    BOOST_TEST(co_await n.service.balance(2, "gold") == 7);
    auto all = co_await n.service.balances(1);
    BOOST_TEST_REQUIRE(all.size() == 2u);
    BOOST_TEST(all[0].currency == "gold");
    BOOST_TEST(all[1].amount == 5);
    co_await n.service.change("op2", set({1, "gold", -30}), "shop: sword");
    auto page = co_await n.service.ledger(1, 0, 0);
    BOOST_TEST_REQUIRE(page.entries.size() == 3u);
    BOOST_TEST(page.entries[0].reason == "shop: sword");  // newest first
    BOOST_TEST(page.entries[0].delta == -30);
    BOOST_TEST(page.entries[0].balance == 70);
    BOOST_TEST(page.entries[0].op == "op2");
    BOOST_TEST(page.entries[2].currency == "gold");
    BOOST_TEST(page.entries[2].reason == "welcome");
    BOOST_TEST(page.next_cursor == 0);
    co_await n.node.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT amount FROM wallet_balance WHERE id = '1:gold'") == 70);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM wallet_ledger WHERE player = 1 AND op <> ''") == 3);
  BOOST_TEST(e.scalar("SELECT balance FROM wallet_ledger WHERE id = '1:3'") == 70);
}

EMBER_ON_BOTH_DATABASES(a_change_never_takes_a_balance_below_zero_and_a_refused_set_changes_nothing) {
  asio::io_context io;
  wallet_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    co_await n.service.change("seed", set({1, "gold", 50}, {2, "gems", 3}), "seed");
    // a trade: 1 pays 40 gold for 5 gems that 2 does not have: nothing happens
    const auto err = co_await error_of([&]() -> asio::awaitable<void> {
      co_await n.service.change("trade", set({1, "gold", -40}, {2, "gold", 40}, {2, "gems", -5}, {1, "gems", 5}), "trade");
    });
    BOOST_TEST(err == code(ew::error::insufficient_funds));
    BOOST_TEST(co_await n.service.balance(1, "gold") == 50);
    BOOST_TEST(co_await n.service.balance(2, "gold") == 0);
    BOOST_TEST(co_await n.service.balance(2, "gems") == 3);
    BOOST_TEST((co_await n.service.ledger(1, 0, 0)).entries.size() == 1u);
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> {
      co_await n.service.change("overdraw", set({1, "gold", -51}), "");
    }) == code(ew::error::insufficient_funds));
    // the refused operation was not recorded: the same id applies once it can
    co_await n.service.change("trade", set({1, "gold", -40}, {2, "gold", 40}, {2, "gems", -3}, {1, "gems", 3}), "trade");
    BOOST_TEST(co_await n.service.balance(1, "gold") == 10);
    BOOST_TEST(co_await n.service.balance(1, "gems") == 3);
    BOOST_TEST(co_await n.service.balance(2, "gems") == 0);
    auto to_zero = co_await n.service.change("all", set({1, "gold", -10}), "");  // down to zero is fine
    BOOST_TEST(to_zero.changes[0].balance == 0);
    co_await n.node.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT MIN(amount) FROM wallet_balance") == 0);
}

EMBER_ON_BOTH_DATABASES(a_retried_operation_applies_once_and_returns_the_first_result) {
  asio::io_context io;
  wallet_node n(e, io);
  int events = 0;
  auto sub = n.bus.subscribe<ew::currency_changed>([&](const ew::currency_changed&) { ++events; });
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    auto first = co_await n.service.change("mail:7", set({3, "gold", 25}), "mail");
    auto again = co_await n.service.change("mail:7", set({3, "gold", 25}), "mail");
    BOOST_TEST(first.applied);
    BOOST_TEST(!again.applied);
    BOOST_TEST_REQUIRE(again.changes.size() == 1u);
    BOOST_TEST(again.changes[0].balance == 25);
    BOOST_TEST(co_await n.service.balance(3, "gold") == 25);
    // retries racing each other: still once
    std::vector<ew::change_result> results(5);
    int finished = 0;
    for (auto& r : results)
      asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        r = co_await n.service.change("mail:8", set({3, "gold", 10}), "mail");
        ++finished;
      }, asio::detached);
    BOOST_TEST(co_await ember::test::wait_until([&] { return finished == 5; }, 20s));
    BOOST_TEST(std::count_if(results.begin(), results.end(), [](auto& r) { return r.applied; }) == 1);
    BOOST_TEST(co_await n.service.balance(3, "gold") == 35);
    BOOST_TEST((co_await n.service.ledger(3, 0, 0)).entries.size() == 2u);
    co_await n.node.store.stop();
  }());
  BOOST_TEST(events == 2);  // one per applied change, none for a retry
}

EMBER_ON_BOTH_DATABASES(a_balance_over_its_currencys_maximum_is_refused) {
  asio::io_context io;
  wallet_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    co_await n.service.change("a", set({1, "gems", 1000}), "");
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> {
      co_await n.service.change("b", set({1, "gems", 1}, {1, "gold", 5}), "");
    }) == code(ew::error::balance_cap));
    BOOST_TEST(co_await n.service.balance(1, "gold") == 0);
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> {  // no cap: up to int64, not past it
      co_await n.service.change("c", set({1, "gold", INT64_MAX}), "");
      co_await n.service.change("d", set({1, "gold", 1}), "");
    }) == code(ew::error::balance_cap));
    BOOST_TEST(co_await n.service.balance(1, "gold") == INT64_MAX);
    co_await n.node.store.stop();
  }());
}

EMBER_ON_BOTH_DATABASES(bad_change_sets_are_refused_with_typed_errors) {
  asio::io_context io;
  wallet_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    auto refused = [&](std::string op, std::vector<ew::change> c, std::string reason) {
      return error_of([&, op, c, reason]() -> asio::awaitable<void> { co_await n.service.change(op, c, reason); });
    };
    BOOST_TEST(co_await refused("x", set({1, "silver", 1}), "") == code(ew::error::unknown_currency));
    BOOST_TEST(co_await refused("x", {}, "") == code(ew::error::bad_change));
    BOOST_TEST(co_await refused("x", set({1, "gold", 0}), "") == code(ew::error::bad_change));
    BOOST_TEST(co_await refused("x", set({1, "gold", 1}, {1, "gold", 2}), "") == code(ew::error::bad_change));
    BOOST_TEST(co_await refused("x", std::vector<ew::change>(33, ew::change{1, "gold", 1}), "") == code(ew::error::bad_change));
    BOOST_TEST(co_await refused("", set({1, "gold", 1}), "") == code(ew::error::bad_text));
    BOOST_TEST(co_await refused(std::string(65, 'o'), set({1, "gold", 1}), "") == code(ew::error::bad_text));
    BOOST_TEST(co_await refused("x", set({1, "gold", 1}), "\xff\xfe") == code(ew::error::bad_text));
    BOOST_TEST(co_await refused("x", set({1, "gold", 1}), std::string(65, 'r')) == code(ew::error::bad_text));
    BOOST_TEST(co_await refused("x", set({1, "gold", 1}), "a\x01") == code(ew::error::bad_text));
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.service.balance(1, "silver"); }) ==
               code(ew::error::unknown_currency));
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.service.ledger(1, -1, 5); }) ==
               code(ew::error::bad_cursor));
    BOOST_TEST(co_await n.service.balance(1, "gold") == 0);
    co_await n.node.store.stop();
  }());
}

EMBER_ON_BOTH_DATABASES(the_ledger_pages_newest_first_by_cursor) {
  asio::io_context io;
  wallet_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    for (int i = 1; i <= 23; ++i) co_await n.service.change("p" + std::to_string(i), set({9, "gold", i}), "n" + std::to_string(i));
    std::vector<std::int64_t> deltas;
    std::int64_t cursor = 0;
    int pages = 0;
    do {
      auto page = co_await n.service.ledger(9, cursor, 100);  // cut to the page size, 10
      BOOST_TEST(page.entries.size() <= 10u);
      for (auto& x : page.entries) deltas.push_back(x.delta);
      cursor = page.next_cursor;
      ++pages;
    } while (cursor != 0 && pages < 10);
    BOOST_TEST(pages == 3);
    BOOST_TEST_REQUIRE(deltas.size() == 23u);
    for (int i = 0; i < 23; ++i) BOOST_TEST(deltas[i] == 23 - i);
    BOOST_TEST((co_await n.service.ledger(9, 5, 2)).entries[0].seq == 4);
    BOOST_TEST((co_await n.service.ledger(12345, 0, 5)).entries.empty());
    co_await n.node.store.stop();
  }());
}

EMBER_ON_BOTH_DATABASES(events_and_pushes_follow_a_stored_change_and_never_a_refused_one) {
  asio::io_context io;
  wallet_node n(e, io);
  std::vector<ew::currency_changed> heard;
  auto sub = n.bus.subscribe<ew::currency_changed>([&](const ew::currency_changed& c) { heard.push_back(c); });
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    co_await n.service.change("e1", set({4, "gold", 12}, {5, "gems", 2}), "loot");
    co_await error_of([&]() -> asio::awaitable<void> { co_await n.service.change("e2", set({4, "gold", -13}), ""); });
    co_await n.node.store.stop();
  }());
  BOOST_TEST_REQUIRE(heard.size() == 2u);
  BOOST_TEST(heard[0].player == 4u);
  BOOST_TEST(heard[0].balance == 12);
  BOOST_TEST(heard[0].reason == "loot");
  BOOST_TEST(heard[0].op == "e1");
  BOOST_TEST(heard[1].currency == "gems");
  BOOST_TEST(n.players.pushes.size() == 2u);
}

EMBER_ON_BOTH_DATABASES(a_staged_change_stores_with_the_other_rows_of_its_transaction_or_not_at_all) {
  asio::io_context io;
  wallet_node n(e, io);
  ember::data::table<ew::wallet_account_table> other(n.node.store);  // another module's row, say
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    co_await other.insert(ew::wallet_account(777, 0));
    ew::change_result out;
    // a claim that fails after the wallet's step: the grant is not stored either
    const auto err = co_await error_of([&]() -> asio::awaitable<void> {
      co_await ember::data::transact_retrying(n.node.store, [&](ember::data::change_set& tx) -> asio::awaitable<void> {
        co_await n.service.stage(tx, "mail:1", set({6, "gold", 40}), "mail", out);
        auto claim = tx.row(other, 777);
        tx.step([claim] {
          claim->ledger_next = 1;
          ew::fail(ew::error::bad_change);
        });
      });
    });
    BOOST_TEST(err == code(ew::error::bad_change));
    BOOST_TEST(co_await n.service.balance(6, "gold") == 0);
    BOOST_TEST((co_await other.get(777))->ledger_next == 0);
    // the same claim succeeding: both rows change together
    co_await ember::data::transact_retrying(n.node.store, [&](ember::data::change_set& tx) -> asio::awaitable<void> {
      co_await n.service.stage(tx, "mail:1", set({6, "gold", 40}), "mail", out);
      auto claim = tx.row(other, 777);
      tx.step([claim] { claim->ledger_next = 1; });
    });
    BOOST_TEST(out.applied);
    BOOST_TEST(co_await n.service.balance(6, "gold") == 40);
    BOOST_TEST((co_await other.get(777))->ledger_next == 1);
    co_await n.node.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT ledger_next FROM wallet_account WHERE player = 777") == 1);
}

EMBER_ON_BOTH_DATABASES(a_change_set_holds_a_row_once_however_often_it_is_added) {
  asio::io_context io;
  wallet_node n(e, io);
  ember::data::table<ew::wallet_account_table> rows(n.node.store);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    co_await rows.insert(ew::wallet_account(900, 0));
    ember::data::change_set tx;
    auto a = tx.row(rows, 900);
    auto b = tx.row(rows, 900);  // the same row: the same handle
    BOOST_TEST(tx.size() == 1u);
    bool committed = false;
    tx.step([a] { a->ledger_next += 1; });
    tx.step([b] { b->ledger_next += 10; });  // sees the first step's change
    tx.on_commit([&] { committed = true; });
    co_await ember::data::transact(n.node.store, tx);
    BOOST_TEST(committed);
    BOOST_TEST((co_await rows.get(900))->ledger_next == 11);
    co_await n.node.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT ledger_next FROM wallet_account WHERE player = 900") == 11);
}

EMBER_ON_BOTH_DATABASES(crossing_transfers_from_two_processes_conserve_the_total_and_never_go_negative) {
  {
    asio::io_context io;
    wallet_node setup(e, io, "setup.journal");
    ember::test::run(io, [&]() -> asio::awaitable<void> {
      co_await setup.service.change("seed", set({1, "gold", 100}, {2, "gold", 100}, {3, "gold", 100}), "seed");
      co_await setup.node.store.stop();
    }());
  }
  std::atomic<int> applied{0}, refused{0}, failed{0};
  auto worker = [&](std::string name, int seed) {
    asio::io_context io;
    wallet_node n(e, io, name + ".journal");
    ember::test::run(io, [&]() -> asio::awaitable<void> {
      unsigned x = static_cast<unsigned>(seed);
      for (int i = 0; i < 60; ++i) {
        x = x * 1103515245u + 12345u;
        const std::uint64_t from = 1 + (x >> 8) % 3, to = 1 + (from + (x >> 12) % 2) % 3;
        const std::int64_t amount = 1 + static_cast<std::int64_t>((x >> 16) % 70);
        // every third operation is one both processes run: it must apply once
        const auto op = i % 3 == 0 ? "shared:" + std::to_string(i) : name + ':' + std::to_string(i);
        const auto a = i % 3 == 0 ? static_cast<std::uint64_t>(1 + (i / 3) % 3) : from;
        const auto b = i % 3 == 0 ? static_cast<std::uint64_t>(1 + (i / 3 + 1) % 3) : to;
        try {
          auto r = co_await n.service.change(op, set({a, "gold", -amount}, {b, "gold", amount}), "transfer");
          if (r.applied) ++applied;
        } catch (const ember::game_error& g) {
          if (g.code() == code(ew::error::insufficient_funds)) ++refused;
          else ++failed;
        } catch (const std::exception& ex) {
          ++failed;
          BOOST_TEST_MESSAGE("transfer failed: " << ex.what());
        }
      }
      co_await n.node.store.stop();
    }(), 300s);
  };
  std::thread a([&] { worker("a", 1); });
  std::thread b([&] { worker("b", 2); });
  a.join();
  b.join();
  BOOST_TEST(failed == 0);
  BOOST_TEST(applied > 20);
  BOOST_TEST_MESSAGE("applied " << applied << ", refused " << refused);
  BOOST_TEST(e.scalar("SELECT SUM(amount) FROM wallet_balance") == 300);
  BOOST_TEST(e.scalar("SELECT MIN(amount) FROM wallet_balance") >= 0);
  // each operation left both its ledger rows or none, and the ledger adds up to each balance
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM (SELECT op FROM wallet_ledger WHERE op <> '' AND op <> 'seed' "
                      "GROUP BY op HAVING COUNT(*) <> 2) x") == 0);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM wallet_ledger WHERE op <> '' AND op <> 'seed'") == 2 * applied);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM wallet_balance b WHERE amount <> (SELECT SUM(delta) FROM wallet_ledger l "
                      "WHERE l.player = b.player AND l.currency = b.currency AND l.op <> '')") == 0);
}

// --- the client commands through a real server and client

namespace {

/// The wallet's commands, with a sign-in step for the test: the next request of a session not
/// signed in binds it to `next_user` (once).
struct signing_handler final : ew::wallet_handler {
  explicit signing_handler(w::handler& h) : real(h) {}
  w::handler& real;
  std::uint64_t next_user = 0;
  void sign_in(ember::net::session& s) {
    if (!s.user() && next_user) s.bind_user(std::exchange(next_user, 0));
  }
  asio::awaitable<ew::balance_reply> balance(ember::net::session& s, const ew::balance_request& r) override {
    sign_in(s);
    co_return co_await real.balance(s, r);
  }
  asio::awaitable<ew::ledger_reply> ledger(ember::net::session& s, const ew::ledger_request& r) override {
    sign_in(s);
    co_return co_await real.ledger(s, r);
  }
};

}  // namespace

EMBER_ON_BOTH_DATABASES(clients_read_their_own_balances_and_ledger_and_get_pushes) {
  asio::io_context io;
  wallet_node n(e, io);
  w::handler commands(n.service);
  signing_handler h(commands);
  ember::net::dispatch_table t;
  ew::register_commands(t, h);
  ember::net::server_options so;
  so.name = "wallet";
  ember::net::server srv(io, so, std::move(t));
  srv.start();
  n.players.server = &srv;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    ember::net::client anon(io.get_executor());
    BOOST_REQUIRE(!(co_await anon.connect("127.0.0.1", srv.port())));
    auto r0 = co_await ew::client_stub(anon).balance({});
    BOOST_TEST_REQUIRE(!r0);
    BOOST_TEST(r0.error().status == code(ew::error::not_signed_in));

    ember::net::client c(io.get_executor());
    BOOST_REQUIRE(!(co_await c.connect("127.0.0.1", srv.port())));
    ew::client_stub stub(c);
    std::vector<ew::balance_changed> pushed;
    stub.on_balance_changed([&](const ew::balance_changed& p) { pushed.push_back(p); });
    h.next_user = 41;
    auto r1 = co_await stub.balance({});
    BOOST_TEST_REQUIRE(!!r1);
    BOOST_TEST(r1->balances.size() == 2u);
    BOOST_TEST(r1->balances[0].amount == 0);
    co_await n.service.change("gift", set({41, "gold", 9}, {42, "gold", 1}), "gift");
    BOOST_TEST(co_await ember::test::wait_until([&] { return pushed.size() == 1; }));
    BOOST_TEST(pushed[0].balance == 9);
    BOOST_TEST(pushed[0].reason == "gift");
    auto r2 = co_await stub.balance({});
    BOOST_TEST(r2->balances[0].amount == 9);
    auto bad = co_await stub.ledger({-5, 1});
    BOOST_TEST_REQUIRE(!bad);
    BOOST_TEST(bad.error().status == code(ew::error::bad_cursor));
    auto l = co_await stub.ledger({0, 10});  // the session goes on after a refusal
    BOOST_TEST_REQUIRE(!!l);
    BOOST_TEST_REQUIRE(l->entries.size() == 1u);
    BOOST_TEST(l->entries[0].delta == 9);
    auto other = co_await ew::client_stub(anon).balance({});  // still not signed in, unaffected
    BOOST_TEST(!other);
    c.close();
    anon.close();
    co_await srv.stop(1s);
    co_await n.node.store.stop();
  }(), 60s);
}

BOOST_AUTO_TEST_CASE(config_json_sets_the_currencies_and_limits_and_a_typo_stops_the_start) {
  auto config = ember::app::parse_config(R"({"servers": {"game1": {"type": "game"}},
    "modules": {"wallet": {"server": "game", "currencies": {"gold": 0, "gems": 5000},
                           "ledger_page": 20}}})", "config.json");
  BOOST_REQUIRE(config.has_value());
  ember::app::module_options o(*config, "wallet");
  const auto opts = ember::modules::wallet::options::read(o);
  BOOST_TEST_REQUIRE(opts.currencies.size() == 2u);
  BOOST_TEST(opts.currencies[1].name == "gems");
  BOOST_TEST(opts.currencies[1].max_balance == 5000);
  BOOST_TEST(opts.ledger_page == 20u);
  BOOST_TEST(opts.max_changes == 32u);  // not given: the default

  auto typo = ember::app::parse_config(R"({"servers": {"game1": {"type": "game"}},
    "modules": {"wallet": {"server": "game", "ledger_pages": 20}}})", "config.json");
  ember::app::module_options t(*typo, "wallet");
  BOOST_CHECK_EXCEPTION(ember::modules::wallet::options::read(t), std::invalid_argument,
                        [](const std::invalid_argument& e) {
                          return std::string(e.what()).find("modules.wallet.ledger_pages: unknown key") !=
                                 std::string::npos;
                        });
}
