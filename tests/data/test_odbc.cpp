// The ODBC layer (odbc.hpp) and the database pool (database.hpp) against real databases: a
// SQLite file and a throw-away PostgreSQL 15 server the suite starts. The same cases run on
// both; outages (PostgreSQL stopped mid-test) and SQLite's multi-process locking have their own.
// Checks inside `db.run` jobs run on a worker while the test thread waits for that job, so
// Boost.Test is never used from two threads at once.
#define BOOST_TEST_MODULE odbc
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ember/data/database.hpp"
#include "ember/data/odbc.hpp"
#include "ember/error.hpp"
#include "support/postgres.hpp"
#include "support/run.hpp"

using namespace ember;
using namespace std::chrono_literals;
using data::odbc::bytes;
using data::odbc::connection;
using data::odbc::params;
using clock_type = std::chrono::steady_clock;
namespace utf = boost::unit_test;

namespace {

struct odbc_setup {
  odbc_setup() { test::quiet_odbc_driver_logs(); }
};

// One PostgreSQL server for the whole suite (about a second to start); tests use their own tables.
test::postgres& shared_postgres() {
  static test::postgres server;
  if (!server.running()) server.start();  // a test that stopped it failed before starting it again
  return server;
}

struct sqlite_db {
  test::sqlite_file file;
  std::string connection_string() const { return file.connection_string(); }
};
struct postgres_db {
  std::string connection_string() const { return shared_postgres().connection_string(); }
};
using backends = boost::mpl::list<sqlite_db, postgres_db>;

std::string blob_type(data::odbc::dialect d) { return d == data::odbc::dialect::sqlite ? "BLOB" : "BYTEA"; }

bytes to_bytes(std::initializer_list<int> v) {
  bytes out;
  for (int b : v) out.push_back(static_cast<std::byte>(b));
  return out;
}

std::int64_t count_rows(connection& c, const std::string& table) {
  auto cur = c.prepare("SELECT count(*) FROM " + table).query();
  BOOST_REQUIRE(cur.next());
  return cur.get<std::int64_t>(0);
}

// Runs `body` with a fresh pool on a fresh io_context, bounded in time.
template <class Body>
void with_database(const std::string& cs, Body body, data::database_options options = {}) {
  asio::io_context io;
  data::database db(cs, std::move(options));
  test::run(io, body(db), 60s);
}

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(odbc_setup);

BOOST_AUTO_TEST_CASE(data_errors_are_error_codes_and_the_transient_ones_say_retry) {
  using data::data_errc;
  const data::data_error lost(data_errc::connection_lost, "server closed the connection", "08006");
  BOOST_TEST((lost.code() == data_errc::connection_lost));
  BOOST_TEST(std::string(lost.code().category().name()) == "ember.data");
  BOOST_TEST(std::string(lost.what()) == "database connection lost [08006]: server closed the connection");
  BOOST_TEST(lost.sqlstate() == "08006");
  for (auto transient : {data_errc::connection_lost, data_errc::cache_unavailable, data_errc::contention,
                         data_errc::writers_behind})
    BOOST_TEST((std::error_code(transient) == std::errc::resource_unavailable_try_again));
  for (auto permanent : {data_errc::database, data_errc::constraint, data_errc::cache_error,
                         data_errc::not_found, data_errc::journal})
    BOOST_TEST((std::error_code(permanent) != std::errc::resource_unavailable_try_again));
  BOOST_TEST((ember::status_of(std::error_code(data_errc::cache_unavailable)) == ember::status::unavailable));
  BOOST_TEST((ember::status_of(std::error_code(data_errc::constraint)) == ember::status::internal_error));
  // A change that failed after part of it was stored says so, in its own words.
  BOOST_TEST((std::error_code(data_errc::outcome_unknown) == ember::outcome_unknown_condition()));
  BOOST_TEST((std::error_code(data_errc::outcome_unknown) != std::errc::resource_unavailable_try_again));
  BOOST_TEST((ember::status_of(std::error_code(data_errc::outcome_unknown)) == ember::status::outcome_unknown));
  BOOST_TEST((ember::status_of(make_error_code(ember::errc::outcome_unknown)) == ember::status::outcome_unknown));
}

// What a handler that meets the data layer's errors answers, on a client session and on a link
// serving a forwarded request alike (both use error_reply_of): never "internal error" for a
// transient failure.
BOOST_AUTO_TEST_CASE(a_handlers_data_errors_become_retry_statuses_and_its_bugs_internal_error) {
  using data::data_errc;
  const auto reply = [](auto thrown) { return ember::error_reply_of(std::make_exception_ptr(thrown)); };
  const auto down = reply(data::data_error(data_errc::cache_unavailable, "127.0.0.1:11211: connection refused"));
  BOOST_TEST(down.status == static_cast<std::uint16_t>(ember::status::unavailable));
  BOOST_TEST(down.message.find("memcached unavailable") != std::string::npos);
  BOOST_TEST(!down.unexpected());
  const auto lost = reply(data::data_error(data_errc::connection_lost, "server closed the connection", "08S01"));
  BOOST_TEST(lost.status == static_cast<std::uint16_t>(ember::status::unavailable));
  const auto half = reply(data::data_error(data_errc::outcome_unknown, "transaction: committed"));
  BOOST_TEST(half.status == static_cast<std::uint16_t>(ember::status::outcome_unknown));
  const auto refused = reply(data::data_error(data_errc::constraint, "duplicate key"));
  BOOST_TEST(refused.status == static_cast<std::uint16_t>(ember::status::internal_error));
  BOOST_TEST(refused.message == "internal error");  // the text is logged, not sent
  BOOST_TEST(refused.unexpected());
  const auto game = reply(ember::game_error(std::uint16_t{1001}, "refused"));
  BOOST_TEST(game.status == 1001u);
  BOOST_TEST(game.message == "refused");
  BOOST_TEST(!game.unexpected());
  const auto bug = reply(std::runtime_error("a bug"));
  BOOST_TEST(bug.status == static_cast<std::uint16_t>(ember::status::internal_error));
  BOOST_TEST(bug.message == "internal error");
}

BOOST_AUTO_TEST_SUITE(both_databases)

BOOST_TEST_DECORATOR(*utf::timeout(120))
BOOST_AUTO_TEST_CASE_TEMPLATE(every_parameter_type_is_bound_never_spliced_and_read_back_typed, B, backends) {
  B backend;
  with_database(backend.connection_string(), [](data::database& db) -> asio::awaitable<void> {
    co_await db.connect();
    const auto blob = blob_type(db.dialect());
    const std::string hostile = "it's \"quoted\"'; DROP TABLE types_t; --";
    const std::string long_text(100'000, 'x');
    bytes long_blob(100'000);
    for (std::size_t i = 0; i < long_blob.size(); ++i) long_blob[i] = static_cast<std::byte>(i % 251);

    co_await db.run([&](connection& c) {
      c.execute("DROP TABLE IF EXISTS types_t");
      c.execute("CREATE TABLE types_t (id BIGINT PRIMARY KEY, i BIGINT, d DOUBLE PRECISION, s TEXT, b " +
                blob + ", f BOOLEAN)");
      auto& insert = c.prepare("INSERT INTO types_t (id, i, d, s, b, f) VALUES (?, ?, ?, ?, ?, ?)");
      BOOST_TEST(&insert ==
                 &c.prepare("INSERT INTO types_t (id, i, d, s, b, f) VALUES (?, ?, ?, ?, ?, ?)"));  // cached
      BOOST_TEST(insert.parameter_count() == 6u);
      // NULLs first: the same prepared statement then takes typed values in those places.
      BOOST_TEST(insert.execute(3, data::odbc::null, std::optional<double>{}, std::optional<std::string>{},
                                nullptr, std::nullopt) == 1);
      BOOST_TEST(insert.execute(1, std::numeric_limits<std::int64_t>::max(), 0.1, hostile,
                                to_bytes({0, 1, 0xff, 0}), true) == 1);
      BOOST_TEST(insert.execute(2, std::numeric_limits<std::int64_t>::min(), -1.0 / 3,
                                "h\xc3\xa9llo \xe2\x9c\x93", bytes{}, false) == 1);
      BOOST_TEST(insert.execute(4, 7u, 1e300, long_text, long_blob, std::optional<bool>{true}) == 1);
      BOOST_CHECK_THROW(insert.execute(5, 1), std::invalid_argument);  // 2 of 6 parameters
    });

    co_await db.run([&](connection& c) {
      auto cur = c.prepare("SELECT id, i, d, s, b, f FROM types_t ORDER BY id").query();
      BOOST_TEST(cur.columns() == 6u);
      BOOST_TEST(cur.column_name(3) == "s");

      BOOST_REQUIRE(cur.next());
      BOOST_TEST(cur.get<std::int64_t>(0) == 1);
      BOOST_TEST(cur.get<std::int64_t>(1) == std::numeric_limits<std::int64_t>::max());
      BOOST_TEST(cur.get<double>(2) == 0.1);
      BOOST_TEST(cur.get<std::string>(3) == hostile);
      BOOST_TEST((cur.get<bytes>(4) == to_bytes({0, 1, 0xff, 0})));
      BOOST_TEST(cur.get<bool>(5) == true);
      BOOST_CHECK_THROW(cur.get<bool>(5), std::logic_error);  // a column is read once per row

      BOOST_REQUIRE(cur.next());
      BOOST_CHECK_THROW(cur.get<int>(1), data::data_error);  // INT64_MIN does not fit in an int
      if (db.dialect() == data::odbc::dialect::sqlite)       // libsqlite3odbc reads REALs with 15 digits
        BOOST_TEST(cur.get<double>(2) == -1.0 / 3, boost::test_tools::tolerance(1e-14));
      else
        BOOST_TEST(cur.get<double>(2) == -1.0 / 3);
      BOOST_TEST(cur.get<std::string>(3) == "h\xc3\xa9llo \xe2\x9c\x93");
      BOOST_TEST(cur.get<std::optional<bytes>>(4).value().empty());
      BOOST_TEST((cur.get<std::optional<bool>>(5) == std::optional<bool>(false)));

      BOOST_REQUIRE(cur.next());
      BOOST_TEST(!cur.get<std::optional<std::int64_t>>(1).has_value());
      BOOST_TEST(!cur.get<std::optional<double>>(2).has_value());
      BOOST_TEST(!cur.get<std::optional<std::string>>(3).has_value());
      BOOST_TEST(!cur.get<std::optional<bytes>>(4).has_value());
      try {
        (void)cur.get<bool>(5);
        BOOST_FAIL("NULL read into a bool");
      } catch (const data::data_error& e) {
        BOOST_TEST((e.code() == data::data_errc::database));
        BOOST_TEST(std::string(e.what()).find("'f'") != std::string::npos, e.what());
      }

      BOOST_REQUIRE(cur.next());
      BOOST_TEST(cur.get<std::uint32_t>(1) == 7u);
      BOOST_TEST(cur.get<double>(2) == 1e300);
      BOOST_TEST(cur.get<std::string>(3) == long_text);
      BOOST_TEST((cur.get<bytes>(4) == long_blob));
      BOOST_TEST(cur.get<bool>(5));
      BOOST_TEST(!cur.next());
      BOOST_TEST(!cur.next());  // and stays at the end

      // The hostile string was data: the table is whole.
      BOOST_TEST(count_rows(c, "types_t") == 4);
      auto found = c.prepare("SELECT id FROM types_t WHERE s = ?").query(hostile);
      BOOST_REQUIRE(found.next());
      BOOST_TEST(found.get<std::int64_t>(0) == 1);
    });
  });
}

BOOST_TEST_DECORATOR(*utf::timeout(120))
BOOST_AUTO_TEST_CASE_TEMPLATE(a_transaction_commits_and_a_rollback_leaves_no_trace, B, backends) {
  B backend;
  with_database(backend.connection_string(), [](data::database& db) -> asio::awaitable<void> {
    co_await db.run([](connection& c) {
      c.execute("DROP TABLE IF EXISTS tx_t");
      c.execute("CREATE TABLE tx_t (id BIGINT PRIMARY KEY, name TEXT NOT NULL)");
    });
    const auto inserted = co_await db.transaction([](connection& c) {
      auto& insert = c.prepare("INSERT INTO tx_t (id, name) VALUES (?, ?)");
      return insert.execute(1, "one") + insert.execute(2, "two");
    });
    BOOST_TEST(inserted == 2);

    bool threw = false;
    try {
      co_await db.transaction([](connection& c) {
        c.prepare("INSERT INTO tx_t (id, name) VALUES (?, ?)").execute(3, "three");
        throw std::runtime_error("the game logic changed its mind");
      });
    } catch (const std::runtime_error& e) {
      threw = std::string(e.what()) == "the game logic changed its mind";
    }
    BOOST_TEST(threw);

    // A failed statement rolls back the whole transaction, the rows before it included.
    try {
      co_await db.transaction([](connection& c) {
        c.prepare("INSERT INTO tx_t (id, name) VALUES (?, ?)").execute(4, "four");
        c.prepare("INSERT INTO tx_t (id, name) VALUES (?, ?)").execute(5, data::odbc::null);  // NOT NULL
      });
      BOOST_FAIL("a NULL name was accepted");
    } catch (const data::data_error& e) {
      BOOST_TEST((e.code() == data::data_errc::constraint), e.what());
    }

    // A job that leaves a transaction open has it rolled back by the pool.
    co_await db.run([](connection& c) {
      c.begin();
      c.prepare("INSERT INTO tx_t (id, name) VALUES (?, ?)").execute(6, "six");
    });
    co_await db.run([](connection& c) {
      BOOST_TEST(!c.in_transaction());
      c.begin();
      c.prepare("INSERT INTO tx_t (id, name) VALUES (?, ?)").execute(7, "seven");
      c.rollback();
      BOOST_CHECK_THROW(c.commit(), std::logic_error);
    });

    const auto ids = co_await db.run([](connection& c) {
      std::vector<std::int64_t> out;
      auto cur = c.prepare("SELECT id FROM tx_t ORDER BY id").query();
      while (cur.next()) out.push_back(cur.get<std::int64_t>(0));
      return out;
    });
    BOOST_TEST((ids == std::vector<std::int64_t>{1, 2}));
  });
}

BOOST_TEST_DECORATOR(*utf::timeout(120))
BOOST_AUTO_TEST_CASE_TEMPLATE(a_batch_of_5000_rows_binds_parameter_arrays_in_one_call, B, backends) {
  B backend;
  with_database(backend.connection_string(), [](data::database& db) -> asio::awaitable<void> {
    co_await db.connect();
    const auto blob = blob_type(db.dialect());
    std::vector<params> rows;
    for (std::int64_t i = 0; i < 5000; ++i) {
      rows.push_back({i, "player-" + std::string(static_cast<std::size_t>(i % 37), 'x') + std::to_string(i),
                      i % 7 == 0 ? data::odbc::value() : data::odbc::value(i * 0.5),
                      to_bytes({int(i % 256), 0, 7}), i % 2 == 0});
    }
    const auto result = co_await db.run([&](connection& c) {
      c.execute("DROP TABLE IF EXISTS batch_t");
      c.execute("CREATE TABLE batch_t (id BIGINT PRIMARY KEY, name TEXT, score DOUBLE PRECISION, b " + blob +
                ", f BOOLEAN)");
      return c.prepare("INSERT INTO batch_t (id, name, score, b, f) VALUES (?, ?, ?, ?, ?)")
          .execute_batch(rows);
    });
    BOOST_TEST(result.rows_affected == 5000);
    BOOST_TEST(result.per_row.empty());

    co_await db.run([](connection& c) {
      BOOST_TEST(count_rows(c, "batch_t") == 5000);
      auto sums = c.prepare("SELECT sum(id), count(score) FROM batch_t").query();
      BOOST_REQUIRE(sums.next());
      BOOST_TEST(sums.get<std::int64_t>(0) == 4999 * 5000 / 2);
      BOOST_TEST(sums.get<std::int64_t>(1) == 5000 - 715);  // every 7th score is NULL
      auto row = c.prepare("SELECT name, score, b, f FROM batch_t WHERE id = ?").query(4321);
      BOOST_REQUIRE(row.next());
      BOOST_TEST(row.get<std::string>(0) == "player-" + std::string(4321 % 37, 'x') + "4321");
      BOOST_TEST(row.get<double>(1) == 2160.5);
      BOOST_TEST((row.get<bytes>(2) == to_bytes({4321 % 256, 0, 7})));
      BOOST_TEST(row.get<bool>(3) == false);
    });
  });
}

BOOST_TEST_DECORATOR(*utf::timeout(120))
BOOST_AUTO_TEST_CASE_TEMPLATE(rows_affected_tell_which_conditional_writes_applied, B, backends) {
  B backend;
  with_database(backend.connection_string(), [](data::database& db) -> asio::awaitable<void> {
    co_await db.run([](connection& c) {
      c.execute("DROP TABLE IF EXISTS versions_t");
      c.execute("CREATE TABLE versions_t (id BIGINT PRIMARY KEY, version BIGINT NOT NULL)");
      c.prepare("INSERT INTO versions_t (id, version) VALUES (?, ?)")
          .execute_batch(std::vector<params>{{1, 5}, {2, 5}, {3, 5}, {4, 5}});
      auto& update = c.prepare("UPDATE versions_t SET version = ? WHERE id = ? AND version < ?");
      BOOST_TEST(update.execute(6, 1, 6) == 1);
      BOOST_TEST(update.execute(6, 1, 6) == 0);  // already at 6: stale write refused
      const auto r =
          update.execute_batch(std::vector<params>{{7, 1, 7}, {4, 2, 4}, {9, 3, 9}, {5, 4, 5}, {8, 99, 8}},
                               data::odbc::row_counts::per_row);
      BOOST_TEST((r.per_row == std::vector<std::int64_t>{1, 0, 1, 0, 0}));
      BOOST_TEST(r.rows_affected == 2);
      BOOST_TEST(update.execute_batch(std::vector<params>{{10, 1, 10}, {10, 2, 10}}).rows_affected == 2);
    });
  });
}

BOOST_TEST_DECORATOR(*utf::timeout(120))
BOOST_AUTO_TEST_CASE_TEMPLATE(a_constraint_violation_is_reported_with_its_sqlstate_and_message, B, backends) {
  B backend;
  with_database(backend.connection_string(), [](data::database& db) -> asio::awaitable<void> {
    co_await db.connect();
    const bool sqlite = db.dialect() == data::odbc::dialect::sqlite;
    co_await db.run([](connection& c) {
      c.execute("DROP TABLE IF EXISTS unique_t");
      c.execute("CREATE TABLE unique_t (id BIGINT PRIMARY KEY, name TEXT)");
      c.prepare("INSERT INTO unique_t (id, name) VALUES (?, ?)").execute(1, "first");
    });
    try {
      co_await db.run([](connection& c) {
        c.prepare("INSERT INTO unique_t (id, name) VALUES (?, ?)").execute(1, "again");
      });
      BOOST_FAIL("a duplicate key was accepted");
    } catch (const data::data_error& e) {
      BOOST_TEST((e.code() == data::data_errc::constraint), e.what());
      BOOST_TEST(e.sqlstate().substr(0, 2) == "23", e.what());
      const std::string what = e.what();
      BOOST_TEST(what.find(sqlite ? "UNIQUE constraint failed"
                                  : "duplicate key value violates unique constraint") != std::string::npos,
                 what);
      BOOST_TEST(what.find("INSERT INTO unique_t") != std::string::npos,
                 what);  // the statement, never its values
      BOOST_TEST(what.find("again") == std::string::npos, what);
    }

    // A batch with a duplicate at row 700: nothing of it is kept, and the row is named.
    std::vector<params> rows;
    for (std::int64_t i = 0; i < 1000; ++i) rows.push_back({i == 700 ? 1 : 1000 + i, "batch"});
    try {
      co_await db.run([&](connection& c) {
        c.prepare("INSERT INTO unique_t (id, name) VALUES (?, ?)").execute_batch(rows);
      });
      BOOST_FAIL("a batch with a duplicate key was accepted");
    } catch (const data::odbc::batch_error& e) {
      BOOST_TEST((e.code() == data::data_errc::constraint), e.what());
      BOOST_TEST(e.sqlstate().substr(0, 2) == "23", e.what());
      const auto& failed = e.failed_rows();
      BOOST_TEST_MESSAGE("batch failure: " << e.what());
      if (sqlite) {
        BOOST_TEST((failed == std::vector<std::size_t>{700}), e.what());  // libsqlite3odbc names the row
      } else {
        // psqlODBC names the row, or flags the sub-batch (BatchSize=100) holding it.
        BOOST_TEST((std::find(failed.begin(), failed.end(), 700u) != failed.end()), e.what());
        BOOST_TEST(failed.size() <= 100u, e.what());
      }
    }
    const auto left = co_await db.run([](connection& c) {
      BOOST_TEST(!c.broken());
      return count_rows(c, "unique_t");
    });
    BOOST_TEST(left == 1);
  });
}

BOOST_TEST_DECORATOR(*utf::timeout(120))
BOOST_AUTO_TEST_CASE_TEMPLATE(the_io_thread_stays_responsive_while_a_slow_query_runs, B, backends) {
  B backend;
  with_database(backend.connection_string(), [](data::database& db) -> asio::awaitable<void> {
    co_await db.connect();
    const std::string slow = db.dialect() == data::odbc::dialect::postgresql
                                 ? "SELECT count(*) FROM pg_sleep(0.3)"
                                 : "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n LIMIT "
                                   "3000000) SELECT count(*) FROM n";
    auto ex = co_await asio::this_coro::executor;
    std::atomic<int> ticks = 0;
    bool done = false;
    asio::co_spawn(
        ex,
        [&]() -> asio::awaitable<void> {
          asio::steady_timer t(ex);
          while (!done) {
            t.expires_after(10ms);
            co_await t.async_wait(asio::use_awaitable);
            ++ticks;
          }
        },
        asio::detached);
    const auto start = clock_type::now();
    co_await db.run([&](connection& c) {
      auto cur = c.prepare(slow).query();
      BOOST_REQUIRE(cur.next());
      (void)cur.get<std::int64_t>(0);
    });
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start);
    done = true;
    co_await test::sleep(20ms);  // let the ticker see `done`
    BOOST_TEST_MESSAGE("slow query took " << took.count() << " ms; the timer ticked " << ticks.load()
                                          << " times");
    BOOST_TEST(took.count() >= 100);
    BOOST_TEST(ticks.load() >= took.count() / 10 / 3);  // 10 ms ticks, allowing for a loaded machine
  });
}

BOOST_TEST_DECORATOR(*utf::timeout(120))
BOOST_AUTO_TEST_CASE_TEMPLATE(jobs_wait_in_a_queue_while_every_worker_is_busy, B, backends) {
  B backend;
  data::database_options one;
  one.connections = 1;
  with_database(
      backend.connection_string(),
      [](data::database& db) -> asio::awaitable<void> {
        BOOST_CHECK_THROW((void)db.dialect(), std::logic_error);  // no connection yet
        co_await db.connect();
        BOOST_TEST(db.size() == 1u);
        auto ex = co_await asio::this_coro::executor;
        std::atomic<bool> release = false;
        int finished = 0;
        asio::co_spawn(ex, db.run([&](connection&) {
          while (!release) std::this_thread::sleep_for(1ms);
        }),
                       [&](std::exception_ptr) { ++finished; });
        for (int i = 0; i < 3; ++i)
          asio::co_spawn(
              ex,
              db.run([](connection& c) { return c.execute("DELETE FROM queue_probe_t_never WHERE 1 = 0"); }),
              [&](std::exception_ptr, std::int64_t) { ++finished; });  // fails (no such table): still a job
        BOOST_TEST(co_await test::wait_until([&] { return db.queue_depth() == 3; }, 5s));
        release = true;
        BOOST_TEST(co_await test::wait_until([&] { return finished == 4; }, 10s));
        BOOST_TEST(db.queue_depth() == 0u);
      },
      one);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_TEST_DECORATOR(*utf::timeout(60))
BOOST_AUTO_TEST_CASE(a_bad_connection_string_is_reported_clearly_at_start_up) {
  try {
    with_database("Driver=NoSuchDriver;Database=/tmp/x.db;Pwd=hunter2;",
                  [](data::database& db) -> asio::awaitable<void> { co_await db.connect(); });
    BOOST_FAIL("connected with a driver that does not exist");
  } catch (const data::data_error& e) {
    const std::string what = e.what();
    BOOST_TEST_MESSAGE(what);
    BOOST_TEST((e.code() == data::data_errc::database));
    BOOST_TEST(what.find("Can't open lib 'NoSuchDriver'") != std::string::npos,
               what);  // unixODBC, SQLSTATE 01000
    BOOST_TEST(what.find("cannot connect to \"Driver=NoSuchDriver;Database=/tmp/x.db;Pwd=***;\"") !=
                   std::string::npos,
               what);
    BOOST_TEST(what.find("NoSuchDriver") != std::string::npos, what);
    BOOST_TEST(what.find("hunter2") == std::string::npos, what);
  }
}

BOOST_TEST_DECORATOR(*utf::timeout(60))
BOOST_AUTO_TEST_CASE(the_dialect_is_detected_from_the_driver) {
  test::sqlite_file file;
  BOOST_TEST((connection(file.connection_string()).dialect() == data::odbc::dialect::sqlite));
  BOOST_TEST(
      (connection(shared_postgres().connection_string()).dialect() == data::odbc::dialect::postgresql));
}

BOOST_AUTO_TEST_SUITE(postgresql)

BOOST_TEST_DECORATOR(*utf::timeout(60))
BOOST_AUTO_TEST_CASE(an_unreachable_server_is_reported_as_connection_lost_at_start_up) {
  const auto port = test::free_port();
  const auto cs = "Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=" + std::to_string(port) +
                  ";Database=postgres;Uid=postgres;";
  try {
    with_database(cs, [](data::database& db) -> asio::awaitable<void> { co_await db.connect(); });
    BOOST_FAIL("connected to a port nobody listens on");
  } catch (const data::data_error& e) {
    BOOST_TEST_MESSAGE(e.what());
    BOOST_TEST((e.code() == data::data_errc::connection_lost), e.what());
    BOOST_TEST(e.sqlstate() == "08001", e.what());
    BOOST_TEST(std::string(e.what()).find("Connection refused") != std::string::npos, e.what());
  }
}

BOOST_TEST_DECORATOR(*utf::timeout(180))
BOOST_AUTO_TEST_CASE(a_job_during_an_outage_fails_and_a_later_job_runs_on_a_fresh_connection) {
  auto& server = shared_postgres();
  asio::io_context io;
  data::database_options one;
  one.connections = 1;
  data::database db(server.connection_string(), one);
  auto backend_pid = [&] {
    return db.run([](connection& c) {
      auto cur = c.prepare("SELECT pg_backend_pid()").query();
      cur.next();
      return cur.get<std::int64_t>(0);
    });
  };
  const auto before = test::run(io, backend_pid(), 30s);

  server.stop();
  for (int attempt = 0; attempt < 2; ++attempt) {
    // First on the old connection (the server terminated it: 57P01), then on a reopen that
    // finds nobody listening (08001).
    try {
      test::run(io, backend_pid(), 30s);
      BOOST_FAIL("a query ran while the server was down");
    } catch (const data::data_error& e) {
      BOOST_TEST_MESSAGE("during the outage: " << e.what());
      BOOST_TEST((e.code() == data::data_errc::connection_lost), e.what());
    }
  }
  try {
    test::run(io, db.transaction([](connection& c) { c.execute("SELECT 1"); }), 30s);
    BOOST_FAIL("a transaction ran while the server was down");
  } catch (const data::data_error& e) {
    BOOST_TEST((e.code() == data::data_errc::connection_lost), e.what());
  }

  server.start();
  const auto after = test::run(io, backend_pid(), 30s);
  BOOST_TEST(after != before);  // a new session
  BOOST_TEST(test::run(io, db.run([](connection& c) { return c.execute("SELECT 1"); }), 30s) >= -1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sqlite)

BOOST_TEST_DECORATOR(*utf::timeout(60))
BOOST_AUTO_TEST_CASE(a_locked_database_waits_for_the_busy_timeout_then_fails) {
  test::sqlite_file file;
  connection holder(file.connection_string());
  holder.execute("CREATE TABLE lock_t (id BIGINT)");
  holder.begin();
  holder.prepare("INSERT INTO lock_t (id) VALUES (?)").execute(1);  // holds the write lock

  data::odbc::connect_options quick;
  quick.sqlite_busy_timeout = 200ms;
  connection waiter(file.connection_string(), quick);
  const auto start = clock_type::now();
  try {
    waiter.prepare("INSERT INTO lock_t (id) VALUES (?)").execute(2);
    BOOST_FAIL("wrote past another connection's write lock");
  } catch (const data::data_error& e) {
    const auto waited =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start).count();
    BOOST_TEST_MESSAGE("locked: " << e.what() << " after " << waited << " ms");
    BOOST_TEST(std::string(e.what()).find("database is locked") != std::string::npos, e.what());
    BOOST_TEST(waited >= 200);
    BOOST_TEST(waited < 3000);  // the driver waits up to about twice its Timeout
  }
  holder.commit();
  waiter.prepare("INSERT INTO lock_t (id) VALUES (?)").execute(3);
  BOOST_TEST(count_rows(waiter, "lock_t") == 2);
}

BOOST_TEST_DECORATOR(*utf::timeout(120))
BOOST_AUTO_TEST_CASE(two_processes_write_one_database_file_in_wal_mode) {
  test::sqlite_file file;
  {
    connection c(file.connection_string());
    auto mode = c.prepare("PRAGMA journal_mode").query();
    BOOST_REQUIRE(mode.next());
    BOOST_TEST(mode.get<std::string>(0) == "wal");
    auto sync = c.prepare("PRAGMA synchronous").query();
    BOOST_REQUIRE(sync.next());
    BOOST_TEST(sync.get<std::int64_t>(0) == 1);  // NORMAL
    c.execute("CREATE TABLE shared_t (who TEXT, n BIGINT)");
  }
  auto write = [&](connection& c, const char* who) {
    for (int t = 0; t < 200; ++t) {
      c.begin();
      auto& insert = c.prepare("INSERT INTO shared_t (who, n) VALUES (?, ?)");
      for (int i = 0; i < 10; ++i) insert.execute(who, t * 10 + i);
      c.commit();
      // A pause between flushes, as a write-back has: SQLite's busy handler polls (every 10 ms
      // in libsqlite3odbc), so a writer that never pauses keeps the lock to itself.
      std::this_thread::sleep_for(2ms);
    }
  };
  int go[2];
  BOOST_REQUIRE(::pipe(go) == 0);
  const pid_t child = ::fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    int rc = 0;
    try {
      connection c(file.connection_string());
      char start = 0;
      rc = ::read(go[0], &start, 1) == 1 ? 0 : 2;  // both processes start writing together
      if (rc == 0) write(c, "child");
    } catch (...) {
      rc = 1;
    }
    ::_exit(rc);
  }
  with_database(file.connection_string(), [&](data::database& db) -> asio::awaitable<void> {
    co_await db.run([&](connection& c) {
      BOOST_REQUIRE(::write(go[1], "!", 1) == 1);
      write(c, "parent");
    });
  });
  ::close(go[0]);
  ::close(go[1]);
  int status = 0;
  BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);  // no "database is locked": the busy timeout waited
  connection c(file.connection_string());
  BOOST_TEST(count_rows(c, "shared_t") == 4000);
  // The writers took turns (their transactions interleave in the file): they really overlapped.
  auto order = c.prepare("SELECT who FROM shared_t ORDER BY rowid").query();
  std::string last;
  int turns = 0;
  while (order.next()) {
    auto who = order.get<std::string>(0);
    if (who != last) ++turns;
    last = std::move(who);
  }
  BOOST_TEST_MESSAGE("the two processes took " << turns << " turns at the write lock");
  BOOST_TEST(turns >= 3);
}

BOOST_AUTO_TEST_SUITE_END()
