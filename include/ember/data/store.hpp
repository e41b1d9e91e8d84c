// ember: the data store of a process — its memcached client, its database pool, its journal —
// and the tables that use them: it opens them (schema and migrations), replays the journal
// after a crash, runs write-back and journal syncs, and flushes everything at a clean stop.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "ember/data/database.hpp"
#include "ember/data/journal.hpp"
#include "ember/data/memcache.hpp"
#include "ember/data/worker_pool.hpp"
#include "ember/log.hpp"

namespace ember::data {

/// Settings of a `store`.
struct store_options {
  /// The journal file (one per process: e.g. DATA_DIR/NAME.journal). Two processes must never
  /// share one.
  std::filesystem::path journal;
  /// How often the journal is forced to disk (fdatasync): what a power loss can cost.
  std::chrono::milliseconds sync_interval{100};
  /// Compare-and-swap attempts of one update before it fails with `contention`.
  int max_attempts = 64;
  /// Generated keys reserved in the database at a time.
  std::int64_t key_block = 256;
  /// The journal is rewritten with only the dirty rows once it grows past this.
  std::uint64_t journal_rewrite_bytes = 64u << 20;
};

/// What a table offers its store (the store is not a template).
class table_base {
 public:
  virtual ~table_base() = default;
  virtual std::string_view name() const noexcept = 0;
  /// Creates the table, adds missing columns and indexes; seeds generated keys.
  virtual asio::awaitable<void> open_schema() = 0;
  /// Writes back up to one batch of dirty rows; the rows written (0 when none or on failure).
  virtual asio::awaitable<std::size_t> flush_batch() = 0;
  /// Takes a replayed journal record back as dirty.
  virtual void replay(const journal_record& r) = 0;
  virtual void collect_dirty(std::vector<journal_record>& out) const = 0;
  virtual std::size_t dirty_count() const noexcept = 0;
  virtual std::optional<std::chrono::steady_clock::time_point> oldest_dirty() const = 0;
  virtual std::chrono::milliseconds flush_interval() const noexcept = 0;
};

/// The data layer of one process. Create the memcache and database clients, the store, the
/// tables (each registers itself), then `co_await open()`; `start()` runs write-back in the
/// background; `co_await stop()` flushes every dirty row and empties the journal.
class store {
 public:
  store(memcache& cache, database& db, store_options options)
      : cache_(cache), db_(db), options_(std::move(options)), journal_(options_.journal) {}
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  memcache& cache() noexcept { return cache_; }
  database& db() noexcept { return db_; }
  const store_options& options() const noexcept { return options_; }

  /// Called by `table<T>`'s constructor and destructor.
  void attach(table_base& t) { tables_.push_back(&t); }
  void detach(table_base& t) { std::erase(tables_, &t); }

  /// Records an acknowledged change before its update returns.
  void journal_change(std::string_view table, std::string_view key, std::string_view entry) {
    journal_.append(table, key, entry);
  }

  /// Opens every table (schema, migrations), then replays the journal a previous run of this
  /// process left: its rows become dirty again and the next write-back writes them.
  asio::awaitable<void> open() {
    for (auto* t : tables_) co_await t->open_schema();
    std::size_t replayed = 0;
    for (const auto& r : journal::read(options_.journal)) {
      if (auto* t = find(r.table)) {
        t->replay(r);
        ++replayed;
      } else {
        log::warn("journal {}: a record of unknown table '{}' is kept", options_.journal.string(), r.table);
        orphans_.push_back(r);
      }
    }
    if (replayed) {
      log::info("journal {}: {} changes replayed; writing them back", options_.journal.string(), replayed);
      co_await flush_all();
    }
  }

  /// Starts write-back (each table on its interval) and journal syncs on `ex`.
  void start(asio::any_io_executor ex) {
    running_ = std::make_shared<bool>(true);
    for (auto* t : tables_) asio::co_spawn(ex, flush_loop(*t, running_), asio::detached);
    asio::co_spawn(ex, sync_loop(running_), asio::detached);
  }

  /// Writes back every dirty row (clean shutdown; also after replay). Rows that cannot be
  /// written now (database down) stay dirty and in the journal; returns how many remain.
  asio::awaitable<std::size_t> flush_all() {
    for (auto* t : tables_) {
      while (t->dirty_count() > 0 && co_await t->flush_batch() > 0) {
      }
    }
    co_await compact();
    co_return dirty_count();
  }

  /// Stops the background loops and flushes; the rows still dirty (0 after a clean stop).
  asio::awaitable<std::size_t> stop() {
    if (running_) *running_ = false;
    co_return co_await flush_all();
  }

  std::size_t dirty_count() const noexcept {
    std::size_t n = 0;
    for (auto* t : tables_) n += t->dirty_count();
    return n;
  }
  /// Age of the oldest unwritten change, for status pages.
  std::chrono::milliseconds oldest_dirty_age() const {
    std::optional<std::chrono::steady_clock::time_point> oldest;
    for (auto* t : tables_) {
      const auto o = t->oldest_dirty();
      if (o && (!oldest || *o < *oldest)) oldest = o;
    }
    if (!oldest) return {};
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - *oldest);
  }

  /// Keeps the journal short: emptied when nothing is dirty, rewritten with only the dirty
  /// rows once it passes `journal_rewrite_bytes`.
  asio::awaitable<void> compact() {
    if (compacting_) co_return;
    const bool empty = dirty_count() == 0 && orphans_.empty();
    if (journal_.size() == 0 || (!empty && journal_.size() < options_.journal_rewrite_bytes)) co_return;
    compacting_ = true;
    std::vector<journal_record> live = orphans_;
    for (auto* t : tables_) t->collect_dirty(live);
    try {
      journal_.begin_rewrite(live);
      co_await files_.run(journal_.finish_rewrite_job());
    } catch (const std::exception& e) {
      log::error("journal {}: rewrite failed: {}", options_.journal.string(), e.what());
    }
    compacting_ = false;
  }

 private:
  table_base* find(std::string_view name) {
    for (auto* t : tables_)
      if (t->name() == name) return t;
    return nullptr;
  }

  asio::awaitable<void> flush_loop(table_base& t, std::shared_ptr<bool> running) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (*running) {
      timer.expires_after(t.flush_interval());
      co_await timer.async_wait(asio::use_awaitable);
      if (!*running) break;
      // A full batch means more are waiting: keep going, but yield between batches.
      while (*running && t.dirty_count() > 0 && co_await t.flush_batch() > 0) {
      }
      co_await compact();
    }
  }

  asio::awaitable<void> sync_loop(std::shared_ptr<bool> running) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    std::uint64_t synced = 0;
    while (*running) {
      timer.expires_after(options_.sync_interval);
      co_await timer.async_wait(asio::use_awaitable);
      if (!*running || journal_.size() == synced) continue;
      synced = journal_.size();
      try {
        co_await files_.run(journal_.sync_job());
      } catch (const std::exception& e) {
        log::error("journal {}: {}", options_.journal.string(), e.what());
      }
    }
  }

  memcache& cache_;
  database& db_;
  store_options options_;
  journal journal_;
  worker_pool files_{1, "ember-journal"};
  std::vector<table_base*> tables_;
  std::vector<journal_record> orphans_;
  std::shared_ptr<bool> running_;
  bool compacting_ = false;
};

}  // namespace ember::data
