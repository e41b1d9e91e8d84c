// ember: the database pool — ODBC connections on worker threads, used from coroutines.
// `co_await db.run(fn)` runs fn(connection&) on a worker and resumes on the caller's executor
// with its result, so blocking ODBC calls never run on the io thread.
#pragma once

#include <atomic>
#include <concepts>
#include <cstddef>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "ember/data/odbc.hpp"
#include "ember/data/worker_pool.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::data {

/// How a database pool is set up.
struct database_options {
  /// Worker threads, each with its own connection (a job runs on whichever is free).
  std::size_t connections = 2;
  /// Login timeout and SQLite's busy timeout.
  odbc::connect_options connect{};
  /// Name of the worker pool, for logs.
  std::string name = "ember-db";
};

/// A pool of ODBC connections, one per worker thread, opened lazily on their worker (or all at
/// once by connect()). Jobs run in arrival order on the first free worker. A connection found
/// broken is closed after the job that found it and reopened on its worker's next job; that job's
/// error propagates (it is not retried: statements need not be idempotent). Destroying the pool
/// runs the jobs already queued, joins the threads and closes the connections, so destroy it
/// away from the hot path.
class database {
 public:
  /// A pool for `connection_string` (see odbc::connection). Connects nothing yet.
  explicit database(std::string connection_string, database_options options = {});
  database(const database&) = delete;
  database& operator=(const database&) = delete;

  /// Opens every worker's connection now, so that a wrong connection string or an unreachable
  /// server is reported at start-up: throws the first worker's data_error.
  asio::awaitable<void> connect();

  /// Runs `fn(odbc::connection&)` on a worker and returns its result (or rethrows what it threw).
  /// A transaction fn leaves open is rolled back. fn must not touch state owned by the io thread
  /// and must not keep the connection or its statements and cursors past its return.
  /// With g++ 12, a closure that captures by value something with a destructor (a string, a
  /// shared_ptr) must be a named local: g++ 12 destroys such temporaries in a co_await
  /// expression twice. `auto job = [s](odbc::connection& c) {...}; co_await db.run(std::move(job));`
  /// is fine, and so are `[&]` captures.
  template <std::invocable<odbc::connection&> Fn>
  auto run(Fn fn) -> asio::awaitable<std::invoke_result_t<Fn&, odbc::connection&>> {
    return pool_.run([this, fn = std::move(fn)](std::size_t worker) mutable {
      odbc::connection& c = acquire(worker);
      release_guard guard{*this, worker};
      return fn(c);
    });
  }

  /// Runs `fn(odbc::connection&)` in a transaction on a worker: begin, fn, commit. If fn or the
  /// commit throws, the transaction is rolled back and the exception rethrown.
  template <std::invocable<odbc::connection&> Fn>
  auto transaction(Fn fn) -> asio::awaitable<std::invoke_result_t<Fn&, odbc::connection&>> {
    return run([fn = std::move(fn)](odbc::connection& c) mutable {
      c.begin();
      try {
        if constexpr (std::is_void_v<std::invoke_result_t<Fn&, odbc::connection&>>) {
          fn(c);
          c.commit();
        } else {
          auto result = fn(c);
          c.commit();
          return result;
        }
      } catch (...) {
        if (c.in_transaction()) {
          try {
            c.rollback();
          } catch (...) {  // the connection is marked broken and replaced; report fn's error
          }
        }
        throw;
      }
    });
  }

  /// The dialect of the database, known once a connection has opened (after connect() or the
  /// first job). Throws std::logic_error before that.
  odbc::dialect dialect() const;

  /// Jobs waiting for a free worker (not counting those running); for status pages.
  std::size_t queue_depth() const { return pool_.queue_depth(); }
  /// Number of workers (and connections).
  std::size_t size() const noexcept { return pool_.size(); }

 private:
  // Returns worker `worker`'s connection, replacing a broken one. Only that worker touches its
  // slot, so no lock is needed.
  odbc::connection& acquire(std::size_t worker);

  // After every job: a connection goes back to the pool in autocommit mode, or is closed if it
  // broke (its socket is released now rather than on the next job).
  struct release_guard {
    database& db;
    std::size_t worker;
    ~release_guard();
  };

  std::string connection_string_;
  database_options options_;
  std::vector<std::unique_ptr<odbc::connection>> connections_;  // by worker index
  std::atomic<int> dialect_{-1};
  worker_pool pool_;  // last: joined before the connections close
};

}  // namespace ember::data

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/data/impl/database.hpp"
#endif
