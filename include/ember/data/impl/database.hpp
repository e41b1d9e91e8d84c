// ember: bodies of the database pool (ember/data/database.hpp).
#pragma once

#include "ember/data/database.hpp"

#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <stdexcept>

namespace ember::data {

EMBER_DECL database::database(std::string connection_string, database_options options)
    : connection_string_(std::move(connection_string)),
      options_(std::move(options)),
      connections_(options_.connections),
      pool_(options_.connections, options_.name) {}

EMBER_DECL odbc::dialect database::dialect() const {
  const int d = dialect_.load(std::memory_order_acquire);
  if (d < 0) throw std::logic_error("ember::data::database::dialect: no connection has opened yet");
  return static_cast<odbc::dialect>(d);
}

EMBER_DECL odbc::connection& database::acquire(std::size_t worker) {
  auto& slot = connections_[worker];
  if (slot && slot->broken()) slot.reset();
  if (!slot) {
    slot = std::make_unique<odbc::connection>(connection_string_, options_.connect);
    dialect_.store(static_cast<int>(slot->dialect()), std::memory_order_release);
  }
  return *slot;
}

EMBER_DECL database::release_guard::~release_guard() {
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

EMBER_DECL asio::awaitable<void> database::connect() {
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
