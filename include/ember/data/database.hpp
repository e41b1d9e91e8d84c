// ember: the database pool — ODBC connections on worker threads, used from coroutines.
// `co_await db.run(fn)` runs fn(connection&) on a worker and resumes on the caller's executor
// with its result, so blocking ODBC calls never run on the io thread.
#pragma once

#include <atomic>
#include <chrono>
#include <concepts>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "ember/data/odbc.hpp"
#include "ember/data/worker_pool.hpp"

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
  explicit database(std::string connection_string, database_options options = {})
      : connection_string_(std::move(connection_string)),
        options_(std::move(options)),
        connections_(options_.connections),
        pool_(options_.connections, options_.name) {}
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
  odbc::dialect dialect() const {
    const int d = dialect_.load(std::memory_order_acquire);
    if (d < 0) throw std::logic_error("ember::data::database::dialect: no connection has opened yet");
    return static_cast<odbc::dialect>(d);
  }

  /// Jobs waiting for a free worker (not counting those running); for status pages.
  std::size_t queue_depth() const { return pool_.queue_depth(); }
  /// Number of workers (and connections).
  std::size_t size() const noexcept { return pool_.size(); }

 private:
  // Returns worker `worker`'s connection, replacing a broken one. Only that worker touches its
  // slot, so no lock is needed.
  odbc::connection& acquire(std::size_t worker) {
    auto& slot = connections_[worker];
    if (slot && slot->broken()) slot.reset();
    if (!slot) {
      slot = std::make_unique<odbc::connection>(connection_string_, options_.connect);
      dialect_.store(static_cast<int>(slot->dialect()), std::memory_order_release);
    }
    return *slot;
  }

  // After every job: a connection goes back to the pool in autocommit mode, or is closed if it
  // broke (its socket is released now rather than on the next job).
  struct release_guard {
    database& db;
    std::size_t worker;
    ~release_guard() {
      auto& slot = db.connections_[worker];
      if (!slot) return;
      if (slot->in_transaction() && !slot->broken()) {
        try {
          slot->rollback();
        } catch (...) {  // rollback marked it broken
        }
      }
      if (slot->broken()) slot.reset();
    }
  };

  std::string connection_string_;
  database_options options_;
  std::vector<std::unique_ptr<odbc::connection>> connections_;  // by worker index
  std::atomic<int> dialect_{-1};
  worker_pool pool_;  // last: joined before the connections close
};

inline asio::awaitable<void> database::connect() {
  // One job per worker: each waits at a barrier until all have started, which puts them on
  // distinct workers. The barrier gives up after a while (a worker busy with a long job) and the
  // connection of a worker it missed opens on that worker's next job.
  struct state {
    std::mutex mutex;
    std::condition_variable changed;
    std::size_t started = 0, finished = 0;
    std::exception_ptr error;
  };
  auto shared = std::make_shared<state>();
  const std::size_t n = pool_.size();
  const auto patience = options_.connect.login_timeout * 2 + std::chrono::seconds(5);
  auto job = [this, shared, n, patience](std::size_t worker) {
    {
      std::unique_lock lock(shared->mutex);
      ++shared->started;
      shared->changed.notify_all();
      shared->changed.wait_for(lock, patience, [&] { return shared->started >= n; });
    }
    std::exception_ptr error;
    try {
      acquire(worker);
    } catch (...) {
      error = std::current_exception();
    }
    std::lock_guard lock(shared->mutex);
    if (error && !shared->error) shared->error = error;
    ++shared->finished;
    shared->changed.notify_all();
  };
  for (std::size_t i = 1; i < n; ++i) pool_.submit(job);
  auto last = [job, shared, n, patience](std::size_t worker) {
    job(worker);
    std::unique_lock lock(shared->mutex);
    shared->changed.wait_for(lock, patience, [&] { return shared->finished >= n; });
    if (shared->error) std::rethrow_exception(shared->error);
  };
  co_await pool_.run(std::move(last));  // a named closure: see the g++ 12 note on run()
}

}  // namespace ember::data
