// Table caches over real memcached and real databases (SQLite, and a PostgreSQL the test
// starts): reads, compare-and-swap updates, inserts and deletes seen by lookups before
// write-back, versioned write-back, the journal after kill -9, several processes at once,
// multi-row transactions, and failures (constraint, database down, memcached restart).
// What reached the database is always checked with a plain ODBC query, not through the cache.
#define BOOST_TEST_MODULE ember data tables
#include <boost/test/unit_test.hpp>

#include "ember/data/transaction.hpp"
#include "ember/request_deadline.hpp"

#include <atomic>
#include <filesystem>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include "datatest.hpp"
#include "support/data_env.hpp"
#include "support/process.hpp"
#include "support/run.hpp"

namespace dt = datatest;
namespace fs = std::filesystem;
using ember::data::table;
using namespace std::chrono_literals;

namespace {

/// A data_env (tests/support/data_env.hpp) with this suite's tables on each node.
struct env : ember::test::data_env {
  using data_env::data_env;
  struct node : data_env::node {
    node(env& e, asio::io_context& io, const std::string& journal = "node.journal",
         std::chrono::milliseconds fence_timeout = 10s)
        : data_env::node(e, io, journal, fence_timeout), players(store), items(store), accounts(store) {
      open();
    }
    table<dt::player_table> players;
    table<dt::item_table> items;
    table<dt::account_table> accounts;
  };
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
    // What the metrics show: three reads memcached answered (ann twice, bob's tombstone), two
    // rows loaded from the database (987654321, absent; the account's key before its insert),
    // no lost compare-and-swap (one writer), nothing written back before the stop.
    const auto& counts = n.store.counters();
    BOOST_TEST(counts.cache_hits == 3u);
    BOOST_TEST(counts.cache_misses == 2u);
    BOOST_TEST(counts.cas_retries == 0u);
    BOOST_TEST(counts.rows_written == 0u);
    BOOST_TEST(co_await n.store.stop() == 0u);
    BOOST_TEST(counts.rows_written == 3u);
    BOOST_TEST(n.store.fence_waits() == 0u);
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
    for (const auto& it : mine) BOOST_TEST(it.data.size() == 2u);  // blobs survive the database
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

// Write-back sends 100 rows per statement: 250 rows go as two grouped statements and 50 single
// ones. A bad row among them is still set aside alone, and a row the database holds at a newer
// version is not overwritten by the group it is in.
BOTH(a_batch_of_many_rows_is_written_in_groups_and_a_bad_row_among_them_is_set_aside_alone) {
  asio::io_context io;
  env::node n(e, io);
  std::vector<std::int64_t> ids;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 250; ++i) ids.push_back((co_await n.players.insert(dt::player(0, "p" + std::to_string(i), i))).id);
    co_await n.store.flush_all();
    co_await n.db.run([&](ember::data::odbc::connection& c) {
      c.execute("CREATE UNIQUE INDEX player_name ON player (name)");
      c.prepare("UPDATE player SET gold = -1, ember_version = 1000 WHERE id = ?").execute(ids[7]);
    });
    for (auto id : ids)
      co_await n.players.update(id, [&](dt::player& p) {
        p.gold += 1;
        if (p.id == ids[123]) p.name = "p0";  // refused by the unique index
      });
    BOOST_TEST(co_await n.store.stop() == 0u);
    BOOST_TEST(n.players.rejected().size() == 1u);
  }(), 60s);
  std::int64_t expected = 0;
  for (int i = 0; i < 250; ++i) expected += i == 7 ? -1 : i == 123 ? i : i + 1;
  BOOST_TEST(e.scalar("SELECT SUM(gold) FROM player") == expected);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM player WHERE ember_version = 2") == 248);
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

/// Reads row `id` until memcached answers again after a restart (the client reconnects
/// within about a second); the row's gold.
asio::awaitable<std::int64_t> gold_after_restart(env::node& n, std::int64_t id) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  for (int i = 0;; ++i) {
    try {
      co_return (co_await n.players.get(id)).value().gold;
    } catch (const ember::data::data_error& x) {
      if (x.code() != ember::data::data_errc::cache_unavailable || i == 300) throw;
    }
    t.expires_after(10ms);
    co_await t.async_wait(asio::use_awaitable);
  }
}

BOTH(after_a_memcached_restart_a_writer_loads_rows_only_once_the_others_wrote_theirs_back) {
  asio::io_context io;
  env::node a(e, io, "a.journal"), b(e, io, "b.journal");
  std::int64_t id = 0;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    id = (co_await a.players.insert(dt::player(0, "shared"))).id;
    co_await a.store.flush_all();
    // 100 changes acknowledged by a, none written back (its write-back is not started)
    for (int i = 0; i < 100; ++i) co_await a.players.update(id, [](dt::player& p) { p.gold += 1; });
  }());
  BOOST_TEST(e.scalar("SELECT gold FROM player WHERE name = 'shared'") == 0);
  e.mc.restart();  // a's changes are gone from memcached; the database holds gold 0
  a.store.start(io.get_executor());
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    // b must not build on the database's gold 0: it waits until a has written back
    BOOST_TEST(co_await gold_after_restart(b, id) == 100);
    co_await b.players.update(id, [](dt::player& p) { p.gold += 1; });
    BOOST_TEST(co_await b.store.stop() == 0u);
    BOOST_TEST(co_await a.store.stop() == 0u);
  }(), 60s);
  BOOST_TEST(e.scalar("SELECT gold FROM player WHERE name = 'shared'") == 101);
}

BOTH(after_a_memcached_restart_a_writer_that_is_down_blocks_loads_with_a_clear_error) {
  asio::io_context io;
  auto a = std::make_unique<env::node>(e, io, "a.journal");
  env::node b(e, io, "b.journal", 300ms);
  std::int64_t id = 0;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    id = (co_await a->players.insert(dt::player(0, "held", 7))).id;
  }());
  a.reset();  // as if killed: its change is only in its journal and (for now) in memcached
  e.mc.restart();
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    std::string why;
    try {
      co_await gold_after_restart(b, id);
    } catch (const ember::data::data_error& x) {
      BOOST_TEST((x.code() == ember::data::data_errc::writers_behind));
      why = x.what();
    }
    BOOST_TEST(why.find("a.journal' has not written back") != std::string::npos, why);
  }(), 60s);
  env::node again(e, io, "a.journal");  // starting again replays and writes back its journal
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    BOOST_TEST(co_await gold_after_restart(b, id) == 7);
    co_await b.store.stop();
    co_await again.store.stop();
  }(), 60s);
}

BOOST_AUTO_TEST_CASE(while_postgresql_is_down_rows_stay_dirty_and_all_arrive_once_when_it_returns) {
  env e(true);
  asio::io_context io;
  env::node n(e, io);
  std::vector<std::int64_t> ids;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 50; ++i) ids.push_back((co_await n.players.insert(dt::player(0, "o" + std::to_string(i), i))).id);
    co_await n.store.flush_all();
  }());
  n.store.start(io.get_executor());  // write-back every 100 ms from now on
  auto& pg = ember::test::shared_postgres();
  pg.stop();
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    // acknowledged while the database is down: memcached and the journal hold them
    for (int round = 0; round < 10; ++round)
      for (auto id : ids) co_await n.players.update(id, [](dt::player& p) { p.gold += 100; });
    co_await ember::test::sleep(600ms);  // several write-backs fail meanwhile
    BOOST_TEST(n.store.dirty_count() == ids.size());
  }(), 60s);
  pg.start();
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 400 && n.store.dirty_count() > 0; ++i) co_await ember::test::sleep(50ms);
    BOOST_TEST(n.store.dirty_count() == 0u);  // retried by the next write-back, unprompted
    BOOST_TEST(co_await n.store.stop() == 0u);
  }(), 60s);
  BOOST_TEST(e.scalar("SELECT SUM(gold) FROM player") == 1225 + 50 * 1000);  // 0+1+...+49, then 10 x 100 each
  // every row at its last version (insert + 10 updates), none older, none ahead
  BOOST_TEST(e.scalar("SELECT MIN(ember_version) FROM player") == 11);
  BOOST_TEST(e.scalar("SELECT MAX(ember_version) FROM player") == 11);
}

// A handler module's tables can outlive the host's data layer (ember-server drops its last
// reference to the module after the store): destroying them then must not touch the store.
BOOST_AUTO_TEST_CASE(a_table_destroyed_after_its_store_leaves_it_alone) {
  env e(false);
  asio::io_context io;
  ember::data::memcache cache({.servers = {e.mc.address()}, .key_prefix = "dt:"});
  ember::data::database db(e.connection);
  auto s = std::make_unique<ember::data::store>(cache, db, ember::data::store_options{.journal = e.dir / "late.journal"});
  auto t = std::make_unique<table<dt::player_table>>(*s);
  ember::test::run(io, s->open());
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    co_await t->insert(dt::player(0, "late", 1));
    BOOST_TEST(co_await s->stop() == 0u);
  }());
  s.reset();
  t.reset();  // ASan reports a use after free here if the table still reaches for the store
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM player") == 1);
}

// Deadlines travel (docs/cluster.md): a read served for a request with a deadline (a link's
// call, a forwarded request: the transport puts it on the coroutine's executor) retries
// memcached within that deadline, not within read_retry, and gives up before the caller
// stops waiting with the transient error, `unavailable` to a client. Here read_retry is a
// minute and the run's own deadline 30 s: only the request's deadline can end the read.
BOOST_AUTO_TEST_CASE(a_read_under_a_short_request_deadline_gives_up_before_it_with_unavailable) {
  env e(false);
  asio::io_context io;
  ember::data::memcache cache({.servers = {e.mc.address()}, .key_prefix = "dt:"});
  ember::data::database db(e.connection);
  ember::data::store store(cache, db, {.journal = e.dir / "deadline.journal", .read_retry = 60s});
  table<dt::player_table> players(store);
  ember::test::run(io, store.open());
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    const auto id = (co_await players.insert(dt::player(0, "dee", 3))).id;
    e.mc.stop();
    const auto retries_before = store.counters().read_retries;
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    std::error_code failed;
    std::chrono::steady_clock::time_point failed_at{};
    co_await asio::co_spawn(ember::with_deadline(io.get_executor(), deadline), [&]() -> asio::awaitable<void> {
      BOOST_TEST((ember::request_deadline(co_await asio::this_coro::executor) == deadline));
      try {
        (void)co_await players.get(id);
      } catch (const std::system_error& x) {
        failed = x.code();
        failed_at = std::chrono::steady_clock::now();
      }
    }(), asio::use_awaitable);
    BOOST_TEST((ember::status_of(failed) == ember::status::unavailable), failed.message());
    BOOST_TEST(store.counters().read_retries > retries_before);  // it tried again meanwhile
    BOOST_TEST((failed_at < deadline));  // and gave up before the caller would
    // Work spawned from the request does not inherit its deadline.
    BOOST_TEST(!ember::request_deadline(ember::without_deadline(ember::with_deadline(io.get_executor(), deadline))));
    BOOST_TEST(!ember::request_deadline(io.get_executor()));
    e.mc.start();
    BOOST_TEST(co_await store.stop() == 0u);
  }());
}

/// The error code a change failed with (none when it succeeded).
template <class T>
asio::awaitable<std::error_code> failure_of(asio::awaitable<T> change) {
  try {
    co_await std::move(change);
  } catch (const std::system_error& x) {
    co_return x.code();
  }
  co_return std::error_code{};
}

// A memcached that freezes after it was sent a change and resumes past the client's 500 ms
// timeout stores the change without the writer hearing of it. The caller is told
// `outcome_unknown` (not "unavailable, retry": it may have been applied); the write-back
// then asks memcached: a change it holds is journalled, written back and listed in its
// lookups like any acknowledged one; one it lost (restarted while frozen) is forgotten, and
// the row reads as the database has it.
BOTH(a_change_a_frozen_memcached_did_not_answer_is_outcome_unknown_and_kept_only_if_stored) {
  asio::io_context io;
  env::node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    const auto kept = (co_await n.players.insert(dt::player(0, "kept", 1))).id;
    const auto lost = (co_await n.players.insert(dt::player(0, "lost", 1))).id;
    co_await n.items.insert(dt::item(0, kept, 1));  // reserves a block of keys: no memcached call for the next
    const auto freeze_midway = [&](std::int64_t gold) {
      return [&, gold](dt::player& p) {
        p.gold = gold;
        e.mc.pause();  // between the update's read and its compare-and-swap
      };
    };
    const auto& counts = n.store.counters();
    asio::steady_timer pause(io);
    // Up to 30 s: the resumed memcached's answer comes after its client's reconnect backoff,
    // which a loaded machine (CI's sanitizer pass) stretches past 3 s.
    const auto write_back_until_stored = [&](std::uint64_t stored) -> asio::awaitable<void> {
      const auto until = std::chrono::steady_clock::now() + 30s;
      while (counts.uncertain_stored < stored && std::chrono::steady_clock::now() < until) {
        co_await n.store.flush_all();
        pause.expires_after(10ms);
        co_await pause.async_wait(asio::use_awaitable);
      }
    };

    auto failed = co_await failure_of(n.players.update(kept, freeze_midway(2)));
    BOOST_TEST((ember::status_of(failed) == ember::status::outcome_unknown), failed.message());
    e.mc.resume();  // it stores the change now
    co_await write_back_until_stored(1);
    BOOST_TEST(counts.uncertain_stored == 1u);
    e.mc.pause();
    failed = co_await failure_of(n.items.insert(dt::item(0, kept, 2)));
    BOOST_TEST((ember::status_of(failed) == ember::status::outcome_unknown), failed.message());
    e.mc.resume();
    BOOST_TEST(counts.uncertain_writes == 2u);
    co_await write_back_until_stored(2);
    BOOST_TEST(counts.uncertain_stored == 2u);
    BOOST_TEST((co_await n.players.get(kept))->gold == 2);
    BOOST_TEST((co_await n.items.find<dt::item_table::by_owner>(kept)).size() == 2u);

    failed = co_await failure_of(n.players.update(lost, freeze_midway(5)));
    BOOST_TEST((ember::status_of(failed) == ember::status::outcome_unknown), failed.message());
    e.mc.restart();  // killed while frozen: the change is gone with everything it held
    std::optional<dt::player> reread;
    for (int i = 0; i < 300 && !reread; ++i) {
      try {
        reread = co_await n.players.get(lost);
        break;
      } catch (const ember::data::data_error&) {  // until the client reconnects
      }
      pause.expires_after(10ms);
      co_await pause.async_wait(asio::use_awaitable);
    }
    BOOST_REQUIRE(reread);
    BOOST_TEST(reread->gold == 1);
    co_await n.store.flush_all();
    BOOST_TEST(counts.uncertain_writes == 3u);
    BOOST_TEST(counts.uncertain_stored == 2u);
    BOOST_TEST((co_await n.items.find<dt::item_table::by_owner>(kept)).size() == 2u);
    BOOST_TEST(co_await n.store.stop() == 0u);
  }(), 120s);
  BOOST_TEST(e.scalar("SELECT gold FROM player WHERE name = 'kept'") == 2);
  BOOST_TEST(e.scalar("SELECT gold FROM player WHERE name = 'lost'") == 1);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM item") == 2);
}

// A fresh cluster starts its processes at once, and each creates the tables it uses. On
// PostgreSQL, two sessions creating one table at once fail one of them with a unique
// violation on the catalogue (23505): ember's schema changes take turns, so every store opens.
BOOST_AUTO_TEST_CASE(stores_opening_at_once_on_a_fresh_postgresql_all_create_their_tables) {
  env e(true);
  asio::io_context io;
  struct process {
    process(env& e, asio::io_context& io, int i)
        : n(e, io, "opening" + std::to_string(i) + ".journal"), players(n.store), items(n.store), accounts(n.store) {}
    ember::test::data_env::node n;
    table<dt::player_table> players;
    table<dt::item_table> items;
    table<dt::account_table> accounts;
  };
  std::vector<std::unique_ptr<process>> processes;
  for (int i = 0; i < 8; ++i) processes.push_back(std::make_unique<process>(e, io, i));
  int opened = 0;
  std::vector<std::string> failed;
  for (auto& p : processes)
    asio::co_spawn(io, p->n.store.open(), [&](std::exception_ptr x) {
      if (!x) return void(++opened);
      try {
        std::rethrow_exception(x);
      } catch (const std::exception& error) {
        failed.push_back(error.what());
      }
    });
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    co_await ember::test::wait_until([&] { return opened + failed.size() == processes.size(); }, 60s);
    for (auto& p : processes) co_await p->n.store.stop();
  }(), 90s);
  BOOST_TEST(opened == 8);
  for (const auto& f : failed) BOOST_TEST_MESSAGE("open failed: " << f);
  BOOST_TEST(failed.empty());
}

BOOST_AUTO_TEST_CASE(a_store_refuses_a_memcached_that_may_evict) {
  env e(false);
  ember::test::memcached_server evicting({.no_evict = false});
  asio::io_context io;
  ember::data::memcache cache({.servers = {evicting.address()}, .key_prefix = "dt:"});
  ember::data::database db(e.connection);
  ember::data::store store(cache, db, {.journal = e.dir / "x.journal"});
  table<dt::player_table> players(store);
  std::string why;
  try {
    ember::test::run(io, store.open());
  } catch (const ember::data::data_error& x) {
    why = x.what();
  }
  BOOST_TEST(why.find("-M -o slab_automove=0") != std::string::npos, why);
}

BOOST_AUTO_TEST_CASE(a_full_memcached_refuses_updates_and_every_acknowledged_one_is_written_back) {
  env e(false);
  ember::test::memcached_server small({.memory_mb = 2});
  asio::io_context io;
  ember::data::memcache cache({.servers = {small.address()}, .key_prefix = "dt:"});
  ember::data::database db(e.connection);
  ember::data::store store(cache, db, {.journal = e.dir / "x.journal"});
  table<dt::player_table> players(store);
  ember::test::run(io, store.open());
  int acked = 0, refused = 0;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    const auto id = (co_await players.insert(dt::player(0, "full"))).id;
    // fill memcached with values of every small size (every slab class the row could use)
    // until 400 stores in a row are refused (-M: it never evicts)
    int junk = 0;
    for (int refusals = 0; refusals < 400 && junk < 400'000; ++junk) {
      try {
        co_await cache.set("junk:" + std::to_string(junk), std::string(junk % 160 + 1, 'x'));
        refusals = 0;
      } catch (const ember::data::data_error&) {
        ++refusals;
      }
    }
    BOOST_TEST(junk < 400'000);
    for (int i = 0; i < 50; ++i) {
      try {
        co_await players.update(id, [](dt::player& p) { p.gold += 1; });
        ++acked;
      } catch (const ember::data::data_error& x) {
        BOOST_TEST((x.code() == ember::data::data_errc::cache_error));
        ++refused;
      }
    }
    BOOST_TEST(refused > 0);
    for (int j = 0; j < junk; ++j) co_await cache.remove("junk:" + std::to_string(j));
    co_await players.update(id, [](dt::player& p) { p.gold += 1; });  // room again
    ++acked;
    BOOST_TEST((co_await players.get(id))->gold == acked);
    BOOST_TEST(co_await store.stop() == 0u);
  }(), 120s);
  BOOST_TEST(e.scalar("SELECT gold FROM player WHERE name = 'full'") == acked);
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

namespace {

/// A data_worker process on `e`'s memcached and database, with its own journal.
ember::test::child_process worker(env& e, const std::string& journal, std::vector<std::string> job) {
  std::vector<std::string> argv{EMBER_DATA_WORKER, e.mc.address(), e.connection, (e.dir / journal).string()};
  argv.insert(argv.end(), job.begin(), job.end());
  return ember::test::child_process(argv, e.dir / (journal + ".log"));
}

/// The last "acked N" a worker printed (0 if none).
int last_acked(const fs::path& log) {
  const auto text = ember::test::read_text(log);
  const auto at = text.rfind("acked ");
  return at == std::string::npos ? 0 : std::stoi(text.substr(at + 6));
}

/// Players `names`, inserted and written back; their keys.
std::vector<std::int64_t> make_players(env& e, int count, std::int64_t gold = 0) {
  asio::io_context io;
  env::node n(e, io, "setup.journal");
  std::vector<std::int64_t> ids;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < count; ++i) ids.push_back((co_await n.players.insert(dt::player(0, "p" + std::to_string(i), gold))).id);
    co_await n.store.stop();
  }());
  return ids;
}

/// An item owned by player `owner`, inserted and written back; its key.
std::int64_t make_item(env& e, std::int64_t owner) {
  asio::io_context io;
  env::node n(e, io, "setup2.journal");
  std::int64_t id = 0;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    id = (co_await n.items.insert(dt::item(0, owner, 1))).id;
    co_await n.store.stop();
  }());
  return id;
}

}  // namespace

BOTH(two_processes_incrementing_the_same_rows_reach_the_exact_sum) {
  const auto ids = make_players(e, 10);
  auto a = worker(e, "a.journal", {"increment", std::to_string(ids.front()), "10", "10000"});
  auto b = worker(e, "b.journal", {"increment", std::to_string(ids.front()), "10", "10000"});
  BOOST_TEST_REQUIRE(a.wait_exit(240s) == 0, ember::test::read_text(a.log()));
  BOOST_TEST_REQUIRE(b.wait_exit(240s) == 0, ember::test::read_text(b.log()));
  BOOST_TEST(e.scalar("SELECT SUM(gold) FROM player") == 20000);
  BOOST_TEST(e.scalar("SELECT MIN(gold) FROM player") == 2000);
  // each stopped with rows still dirty, and flushed them on the way out
  BOOST_TEST(ember::test::count_in(a.log(), "dirty at stop 0") == 0u);
}

BOTH(keys_generated_by_two_processes_never_collide) {
  make_players(e, 1);  // the table exists, with a key handed out before
  auto a = worker(e, "a.journal", {"insert", "600"});
  auto b = worker(e, "b.journal", {"insert", "600"});
  BOOST_TEST_REQUIRE(a.wait_exit(120s) == 0, ember::test::read_text(a.log()));
  BOOST_TEST_REQUIRE(b.wait_exit(120s) == 0, ember::test::read_text(b.log()));
  std::set<std::string> keys;
  for (const auto* log : {&a.log(), &b.log()}) {
    std::istringstream in(ember::test::read_text(*log));
    for (std::string line; std::getline(in, line);)
      if (line.rfind("key ", 0) == 0) keys.insert(line.substr(4));
  }
  BOOST_TEST(keys.size() == 1200u);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM player") == 1201);
  BOOST_TEST(e.scalar("SELECT COUNT(DISTINCT id) FROM player") == 1201);
}

BOTH(updates_acknowledged_before_a_kill_9_reach_the_database_when_the_process_restarts) {
  const auto ids = make_players(e, 4);
  auto a = worker(e, "a.journal", {"increment", std::to_string(ids.front()), "4", "1000000", "hold"});
  BOOST_TEST_REQUIRE(ember::test::wait_for_text(a.log(), "acked 3000", 60s), ember::test::read_text(a.log()));
  a.kill_now();
  const int acked = last_acked(a.log());
  BOOST_TEST(acked >= 3000);
  BOOST_TEST(e.scalar("SELECT SUM(gold) FROM player") == 0);  // nothing was written back
  // the same process (same journal) starting again replays it
  auto again = worker(e, "a.journal", {"replay"});
  BOOST_TEST_REQUIRE(again.wait_exit(60s) == 0, ember::test::read_text(again.log()));
  const auto stored = e.scalar("SELECT SUM(gold) FROM player");
  BOOST_TEST(stored >= acked);
  BOOST_TEST(stored <= acked + 1);  // at most the one update in flight at the kill
}

BOTH(a_restarted_writer_settles_the_locks_its_killed_run_left_at_once_and_others_wait_for_the_lease) {
  const auto ids = make_players(e, 2, 10);
  const auto sword = make_item(e, ids[0]);
  const auto A = std::to_string(ids[0]), B = std::to_string(ids[1]), S = std::to_string(sword);
  // The lease a killed transaction left on player `id`, read from memcached (0: not locked).
  auto lease_of = [&](env::node& n, std::int64_t id) -> asio::awaitable<std::uint64_t> {
    auto item = co_await n.cache.get(ember::data::cache_key("r", "player", {}, std::to_string(id)));
    if (!item) co_return 0;
    co_return ember::data::cache_entry::parse(item->value)->lease_until_ms;
  };
  for (const bool restart : {true, false}) {
    const std::string journal = restart ? "locker1.journal" : "locker2.journal";
    auto locker = worker(e, journal, {"lock", A, B, S});
    BOOST_TEST_REQUIRE(ember::test::wait_for_text(locker.log(), "locked", 60s), ember::test::read_text(locker.log()));
    locker.kill_now();  // mid-transaction: its three rows stay locked in memcached
    if (restart) {
      // Its next run (the same journal) settles them as it starts: it knows it was killed.
      auto again = worker(e, journal, {"replay"});
      BOOST_TEST_REQUIRE(again.wait_exit(60s) == 0, ember::test::read_text(again.log()));
      BOOST_TEST(ember::test::read_text(again.log()).find("3 rows that transactions of the previous run left locked") != std::string::npos,
                 ember::test::read_text(again.log()));
    }
    asio::io_context io;
    env::node n(e, io, "reader.journal");
    ember::test::run(io, [&]() -> asio::awaitable<void> {
      const auto lease = co_await lease_of(n, ids[0]);
      BOOST_TEST((lease != 0) == !restart);  // settled by the restart, still locked without one
      auto a = co_await n.players.get(ids[0]);
      const auto read_at = ember::data::unix_ms();
      // Without the restart the reader waits for the lease to pass (then settles the lock)
      if (!restart) BOOST_TEST(read_at >= lease);
      BOOST_TEST(a->gold == 10);  // the transaction never committed: nothing of it is kept
      BOOST_TEST((co_await n.items.get(sword))->owner == ids[0]);
      BOOST_TEST(co_await lease_of(n, ids[0]) == 0u);
      co_await n.store.stop();
    }(), 60s);
  }
}

BOTH(trades_from_two_processes_at_once_conserve_gold_and_items) {
  const auto ids = make_players(e, 2, 1000);
  const auto sword = make_item(e, ids[0]);
  const auto A = std::to_string(ids[0]), B = std::to_string(ids[1]), S = std::to_string(sword);
  auto a = worker(e, "a.journal", {"trade", A, B, S, "1000"});
  auto b = worker(e, "b.journal", {"trade", B, A, S, "1000"});
  BOOST_TEST_REQUIRE(a.wait_exit(300s) == 0, ember::test::read_text(a.log()));
  BOOST_TEST_REQUIRE(b.wait_exit(300s) == 0, ember::test::read_text(b.log()));
  BOOST_TEST(e.scalar("SELECT SUM(gold) FROM player") == 2000);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM item") == 1);
  // 2,000 trades each moved the sword: an even number, so it is back with its first owner
  BOOST_TEST(e.scalar("SELECT owner FROM item") == ids[0]);
  BOOST_TEST(e.scalar("SELECT gold FROM player WHERE id = " + A) == 1000);
}
