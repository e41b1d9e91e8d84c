// Table caches over real memcached and real databases (SQLite, and a PostgreSQL the test
// starts): reads, compare-and-swap updates, inserts and deletes seen by lookups before
// write-back, versioned write-back, the journal after kill -9, several processes at once,
// multi-row transactions, and failures (constraint, database down, memcached restart).
// What reached the database is always checked with a plain ODBC query, not through the cache.
#define BOOST_TEST_MODULE ember data tables
#include <boost/test/unit_test.hpp>

#include "ember/data/transaction.hpp"

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <asio/io_context.hpp>

#include "datatest.hpp"
#include "support/memcached.hpp"
#include "support/postgres.hpp"
#include "support/process.hpp"
#include "support/run.hpp"

namespace dt = datatest;
namespace fs = std::filesystem;
using ember::data::table;
using namespace std::chrono_literals;

namespace {

/// One PostgreSQL for the whole run (it takes about a second to start).
ember::test::postgres& shared_postgres() {
  static ember::test::postgres pg;
  return pg;
}

/// A database (a fresh SQLite file, or a fresh database on the shared PostgreSQL), a memcached,
/// and a place for journals.
struct env {
  explicit env(bool postgres) : postgres_(postgres) {
    static int counter = 0;
    dir = fs::temp_directory_path() / ("ember-table-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    fs::create_directories(dir);
    if (postgres) {
      auto& pg = shared_postgres();
      const auto name = "t" + std::to_string(counter);
      asio::io_context io;
      ember::data::database admin(pg.connection_string());
      ember::test::run(io, admin.run([name](ember::data::odbc::connection& c) {
        c.execute("DROP DATABASE IF EXISTS " + name);
        c.execute("CREATE DATABASE " + name);
      }));
      connection = pg.connection_string();
      const auto at = connection.find("Database=postgres");
      connection.replace(at, std::string("Database=postgres").size(), "Database=" + name);
    } else {
      connection = "Driver=SQLite3;Database=" + (dir / "game.db").string() + ";";
    }
  }
  ~env() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  /// A process's view: clients, store and tables, on `io`.
  struct node {
    node(env& e, asio::io_context& io, const std::string& journal = "node.journal")
        : cache({.servers = {e.mc.address()}, .key_prefix = "dt:"}),
          db(e.connection),
          store(cache, db, {.journal = e.dir / journal}),
          players(store),
          items(store),
          accounts(store) {
      ember::test::run(io, store.open());
    }
    ember::data::memcache cache;
    ember::data::database db;
    ember::data::store store;
    table<dt::player_table> players;
    table<dt::item_table> items;
    table<dt::account_table> accounts;
  };

  /// One integer from the database, read with a plain query.
  std::int64_t scalar(const std::string& sql) {
    asio::io_context io;
    ember::data::database db(connection);
    return ember::test::run(io, db.run([sql](ember::data::odbc::connection& c) {
      auto cur = c.prepare(sql).query();
      BOOST_REQUIRE(cur.next());
      return cur.get<std::optional<std::int64_t>>(0).value_or(-1);
    }));
  }

  bool postgres_;
  fs::path dir;
  std::string connection;
  ember::test::memcached_server mc;
};

}  // namespace

#define BOTH(name)                                            \
  void name(env& e);                                          \
  BOOST_AUTO_TEST_CASE(name##_sqlite) { env e(false); name(e); } \
  BOOST_AUTO_TEST_CASE(name##_postgresql) { env e(true); name(e); } \
  void name(env& e)

BOTH(rows_are_inserted_read_updated_and_deleted_through_the_cache) {
  asio::io_context io;
  env::node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    auto a = co_await n.players.insert(dt::player(0, "ann", 10));
    auto b = co_await n.players.insert(dt::player(0, "bob", 20));
    BOOST_TEST(a.id > 0);
    BOOST_TEST(b.id != a.id);
    auto got = co_await n.players.get(a.id);
    BOOST_REQUIRE(got);
    BOOST_TEST(got->name == "ann");
    BOOST_TEST(!got->title);
    auto after = co_await n.players.update(a.id, [](dt::player& p) {
      p.gold += 5;
      p.title = "the bold";
    });
    BOOST_TEST(after.gold == 15);
    BOOST_TEST((co_await n.players.get(a.id))->title.value_or("") == "the bold");
    BOOST_TEST(co_await n.players.remove(b.id));
    BOOST_TEST(!(co_await n.players.remove(b.id)));
    BOOST_TEST(!(co_await n.players.get(b.id)));
    BOOST_TEST(!(co_await n.players.get(987654321)));
    bool not_found = false;
    try {
      co_await n.players.update(b.id, [](dt::player& p) { p.gold = 1; });
    } catch (const ember::data::data_error& x) {
      not_found = x.code() == ember::data::data_errc::not_found;
    }
    BOOST_TEST(not_found);
    // string keys: an insert of an existing key is refused
    co_await n.accounts.insert(dt::account("ann@example.com", a.id));
    bool exists = false;
    try {
      co_await n.accounts.insert(dt::account("ann@example.com", 7));
    } catch (const ember::data::data_error& x) {
      exists = x.code() == ember::data::data_errc::constraint;
    }
    BOOST_TEST(exists);
    BOOST_TEST(n.store.dirty_count() == 3u);  // ann, bob (deleted), the account
    BOOST_TEST(co_await n.store.stop() == 0u);
  }());
  BOOST_TEST(e.scalar("SELECT gold FROM player WHERE name = 'ann'") == 15);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM player WHERE name = 'bob'") == 0);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM account") == 1);
  BOOST_TEST(e.scalar("SELECT MAX(ember_version) FROM player") == 2);
}

BOTH(lookups_see_inserts_and_deletes_before_write_back) {
  asio::io_context io;
  env::node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    auto p = co_await n.players.insert(dt::player(0, "owner"));
    std::vector<std::int64_t> ids;
    for (int i = 0; i < 5; ++i) {
      std::vector<std::byte> data(2, std::byte(i));  // no braced lists in co_await: g++ 12 refuses them
      dt::item fresh(0, p.id, 100 + i, dt::rarity::rare, i % 2 == 0, data, 1.5 * i);
      auto it = co_await n.items.insert(fresh);
      ids.push_back(it.id);
    }
    auto mine = co_await n.items.find<dt::item_table::by_owner>(p.id);
    BOOST_TEST(mine.size() == 5u);
    co_await n.items.remove(ids[1]);
    co_await n.items.update(ids[2], [](dt::item& i) { i.owner = 424242; });
    mine = co_await n.items.find<dt::item_table::by_owner>(p.id);
    BOOST_TEST(mine.size() == 3u);
    BOOST_TEST((co_await n.items.find<dt::item_table::by_owner>(424242)).size() == 1u);
    BOOST_TEST(e.scalar("SELECT COUNT(*) FROM item") == 0);  // nothing written back yet
    co_await n.store.stop();
    BOOST_TEST(e.scalar("SELECT COUNT(*) FROM item") == 4);
    // a cold lookup list (flushed from memcached) is rebuilt from the database
    co_await n.cache.with_conn([](ember::data::memcache_conn& c) { c.flush(); });
    mine = co_await n.items.find<dt::item_table::by_owner>(p.id);
    BOOST_TEST(mine.size() == 3u);
    BOOST_TEST(mine.front().data.size() == 2u);
    BOOST_TEST(mine.front().weight == 0.0);
  }());
}

BOTH(concurrent_updates_in_one_process_lose_nothing) {
  asio::io_context io;
  env::node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    auto p = co_await n.players.insert(dt::player(0, "hot"));
    std::atomic<int> done = 0;
    for (int w = 0; w < 8; ++w) {
      asio::co_spawn(io, [&, id = p.id]() -> asio::awaitable<void> {
        for (int i = 0; i < 100; ++i) co_await n.players.update(id, [](dt::player& x) { x.gold += 1; });
        ++done;
      }, asio::detached);
    }
    asio::steady_timer t(io);
    while (done < 8) {
      t.expires_after(5ms);
      co_await t.async_wait(asio::use_awaitable);
    }
    BOOST_TEST((co_await n.players.get(p.id))->gold == 800);
    co_await n.store.stop();
  }(), 60s);
  BOOST_TEST(e.scalar("SELECT gold FROM player WHERE name = 'hot'") == 800);
}

BOTH(a_row_the_database_refuses_is_set_aside_and_the_rest_of_its_batch_is_written) {
  asio::io_context io;
  env::node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    co_await n.db.run([](ember::data::odbc::connection& c) { c.execute("CREATE UNIQUE INDEX player_name ON player (name)"); });
    for (const char* name : {"a", "b", "dup", "c", "dup", "d"}) co_await n.players.insert(dt::player(0, name));
    BOOST_TEST(co_await n.store.stop() == 0u);
    BOOST_TEST(n.players.rejected().size() == 1u);
  }());
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM player") == 5);
}

BOTH(changes_lost_to_a_memcached_restart_come_back_from_the_dirty_rows) {
  asio::io_context io;
  env::node n(e, io);
  std::int64_t id = 0;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    id = (co_await n.players.insert(dt::player(0, "keeper", 1))).id;
    for (int i = 0; i < 10; ++i) co_await n.players.update(id, [](dt::player& p) { p.gold *= 2; });
  }());
  e.mc.restart();
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    asio::steady_timer t(io);
    for (int i = 0; i < 300; ++i) {  // the client reconnects within about a second
      try {
        auto p = co_await n.players.get(id);
        BOOST_REQUIRE(p);
        BOOST_TEST(p->gold == 1024);
        break;
      } catch (const ember::data::data_error&) {
      }
      t.expires_after(10ms);
      co_await t.async_wait(asio::use_awaitable);
    }
    co_await n.players.update(id, [](dt::player& p) { p.gold += 1; });
    co_await n.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT gold FROM player WHERE name = 'keeper'") == 1025);
}

BOTH(a_trade_moves_gold_and_an_item_together) {
  asio::io_context io;
  env::node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    auto a = co_await n.players.insert(dt::player(0, "seller", 0));
    auto b = co_await n.players.insert(dt::player(0, "buyer", 100));
    auto sword = co_await n.items.insert(dt::item(0, a.id, 7));
    co_await ember::data::transact(
        n.store,
        [&](dt::player& seller, dt::player& buyer, dt::item& item) {
          buyer.gold -= 60;
          seller.gold += 60;
          item.owner = buyer.id;
        },
        ember::data::at(n.players, a.id), ember::data::at(n.players, b.id), ember::data::at(n.items, sword.id));
    BOOST_TEST((co_await n.players.get(a.id))->gold == 60);
    BOOST_TEST((co_await n.players.get(b.id))->gold == 40);
    BOOST_TEST((co_await n.items.find<dt::item_table::by_owner>(b.id)).size() == 1u);
    BOOST_TEST((co_await n.items.find<dt::item_table::by_owner>(a.id)).empty());
    // a change that throws changes nothing, and leaves no lock behind
    bool refused = false;
    try {
      co_await ember::data::transact(
          n.store,
          [&](dt::player& seller, dt::player& buyer) {
            if (buyer.gold < 100) throw std::runtime_error("not enough gold");
            seller.gold += 100;
          },
          ember::data::at(n.players, a.id), ember::data::at(n.players, b.id));
    } catch (const std::runtime_error&) {
      refused = true;
    }
    BOOST_TEST(refused);
    co_await n.players.update(a.id, [](dt::player& p) { p.gold += 1; });
    BOOST_TEST((co_await n.players.get(a.id))->gold == 61);
    co_await n.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT SUM(gold) FROM player") == 101);
  BOOST_TEST(e.scalar("SELECT owner FROM item") == e.scalar("SELECT id FROM player WHERE name = 'buyer'"));
}
