// ember: the data store of a process — its memcached client, its database pool, its journal —
// and the tables that use them: it opens them (schema and migrations), replays the journal
// after a crash, runs write-back and journal syncs, and flushes everything at a clean stop.
#pragma once

#include <unistd.h>

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
#include "ember/data/restart_fence.hpp"
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
  /// This process's name among the writers of the database (restart_fence.hpp); empty: the
  /// host name and the journal's absolute path. Unique per process.
  std::string writer{};
  /// How long a load after a memcached restart waits for the other writers to write back.
  std::chrono::milliseconds fence_timeout{10'000};
  /// Accept a memcached that may evict (not safe: an evicted unwritten row is lost).
  bool allow_eviction = false;
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
  /// The oldest time (Unix ms) since which a change of this table may be unwritten; nullopt
  /// when nothing is dirty. Every change acknowledged before it is in the database.
  virtual std::optional<std::uint64_t> clean_mark() const = 0;
  virtual std::chrono::milliseconds flush_interval() const noexcept = 0;

 protected:
  /// The store was destroyed first (a module that outlives its host's data layer): the table
  /// must not touch it again.
  bool store_gone() const noexcept { return store_gone_; }

 private:
  friend class store;
  bool store_gone_ = false;
};

/// The data layer of one process. Create the memcache and database clients, the store, the
/// tables (each registers itself), then `co_await open()`; `start()` runs write-back in the
/// background; `co_await stop()` flushes every dirty row and empties the journal.
class store {
 public:
  store(memcache& cache, database& db, store_options options)
      : cache_(cache),
        db_(db),
        options_(std::move(options)),
        journal_(options_.journal),
        fence_(cache, db, writer_name(options_), options_.fence_timeout) {}
  store(const store&) = delete;
  store& operator=(const store&) = delete;
  ~store() {
    for (auto& a : tables_) a.table->store_gone_ = true;
  }

  memcache& cache() noexcept { return cache_; }
  database& db() noexcept { return db_; }
  const store_options& options() const noexcept { return options_; }
  /// What a table passes before it loads a row from the database (restart_fence.hpp).
  restart_fence& fence() noexcept { return fence_; }

  /// Called by `table<T>`'s constructor. A table attached after `open()` (the tables of a
  /// reloaded handler module) is usable at once, and takes over what a detached table of its
  /// name left unwritten.
  void attach(table_base& t) {
    tables_.push_back({&t, {}, false});
    std::erase_if(orphans_, [&](const journal_record& r) {
      if (r.table != t.name()) return false;
      t.replay(r);
      return true;
    });
  }
  /// Called by `table<T>`'s destructor: what it has not written back goes to the table of its
  /// name that remains (a reloaded module's), else waits for the next one to attach.
  void detach(table_base& t) {
    std::erase_if(tables_, [&](const attached& a) { return a.table == &t; });
    std::vector<journal_record> left;
    t.collect_dirty(left);
    for (auto& r : left) {
      if (auto* other = find(r.table)) other->replay(r);
      else orphans_.push_back(std::move(r));
    }
  }
  /// Keeps `guard` alive while a table attached so far without one is written back, and
  /// skips the table once `guard` has expired (the table detaches soon, handing over what it
  /// has not written). A handler module's tables run the module's code, so its host passes the
  /// module here; the store does not keep it loaded otherwise.
  void guard_tables(const std::shared_ptr<const void>& guard) {
    for (auto& a : tables_)
      if (!a.guarded) a.guard = guard, a.guarded = true;
  }

  /// Records an acknowledged change before its update returns.
  void journal_change(std::string_view table, std::string_view key, std::string_view entry) {
    journal_.append(table, key, entry);
  }

  /// Opens every table (schema, migrations), then replays the journal a previous run of this
  /// process left: its rows become dirty again and the next write-back writes them.
  asio::awaitable<void> open() {
    co_await fence_.check_no_eviction(options_.allow_eviction);
    co_await fence_.open();
    co_await fence_.epochs_changed();  // the epochs this process starts under
    for (const auto& a : snapshot()) co_await a.table->open_schema();
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
    if (replayed) log::info("journal {}: {} changes replayed; writing them back", options_.journal.string(), replayed);
    co_await flush_all();
  }

  /// Starts write-back (each table on its interval, tables attached later too) and journal
  /// syncs on `ex`.
  void start(asio::any_io_executor ex) {
    running_ = std::make_shared<bool>(true);
    asio::co_spawn(ex, flush_loop(running_), asio::detached);
    asio::co_spawn(ex, sync_loop(running_), asio::detached);
  }

  /// Writes back every dirty row (clean shutdown; also after replay). Rows that cannot be
  /// written now (database down) stay dirty and in the journal; returns how many remain.
  asio::awaitable<std::size_t> flush_all() {
    for (const auto& a : snapshot()) {
      while (is_attached(a.table) && a.table->dirty_count() > 0 && co_await a.table->flush_batch() > 0) {
      }
    }
    co_await compact();
    co_await publish_mark();
    co_return dirty_count();
  }

  /// Stops the background loops and flushes; the rows still dirty (0 after a clean stop).
  /// A store that stops with nothing unwritten leaves the writers of the database.
  asio::awaitable<std::size_t> stop() {
    if (running_) *running_ = false;
    const auto left = co_await flush_all();
    if (left == 0) {
      try {
        co_await fence_.retire();
      } catch (const std::exception& e) {
        log::warn("store: could not leave ember_writers: {}", e.what());
      }
    }
    co_return left;
  }

  /// Every change acknowledged before this time (Unix ms) is in the database.
  std::uint64_t clean_before() const {
    auto mark = unix_ms();
    for (const auto& a : tables_)
      if (const auto m = a.table->clean_mark()) mark = std::min(mark, *m);
    if (!orphans_.empty()) mark = 0;  // unwritten, and when they were acknowledged is unknown
    return mark;
  }

  std::size_t dirty_count() const noexcept {
    std::size_t n = 0;
    for (const auto& a : tables_) n += a.table->dirty_count();
    return n;
  }
  /// Age of the oldest unwritten change, for status pages.
  std::chrono::milliseconds oldest_dirty_age() const {
    std::optional<std::chrono::steady_clock::time_point> oldest;
    for (const auto& a : tables_) {
      const auto o = a.table->oldest_dirty();
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
    for (const auto& a : tables_) a.table->collect_dirty(live);
    try {
      journal_.begin_rewrite(live);
      co_await files_.run(journal_.finish_rewrite_job());
    } catch (const std::exception& e) {
      log::error("journal {}: rewrite failed: {}", options_.journal.string(), e.what());
    }
    compacting_ = false;
  }

 private:
  struct attached {
    table_base* table;
    std::weak_ptr<const void> guard;  // the table's code (its module), see guard_tables
    bool guarded;
  };
  /// A table to use across waits, with its code kept loaded meanwhile.
  struct held {
    table_base* table;
    std::shared_ptr<const void> keep;
  };

  table_base* find(std::string_view name) {
    for (const auto& a : tables_)
      if (a.table->name() == name) return a.table;
    return nullptr;
  }
  bool is_attached(const table_base* t) const {
    return std::any_of(tables_.begin(), tables_.end(), [&](const attached& a) { return a.table == t; });
  }
  /// The tables as they are now, for a loop that waits: tables attach and detach meanwhile.
  /// Those whose module is going are left out.
  std::vector<held> snapshot() const {
    std::vector<held> out;
    for (const auto& a : tables_) {
      auto keep = a.guard.lock();
      if (!a.guarded || keep) out.push_back({a.table, std::move(keep)});
    }
    return out;
  }

  asio::awaitable<void> flush_loop(std::shared_ptr<bool> running) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    std::map<const table_base*, std::chrono::steady_clock::time_point> due;
    while (*running) {
      auto tick = std::chrono::milliseconds(1000);
      for (const auto& a : tables_) tick = std::min(tick, a.table->flush_interval());
      timer.expires_after(std::max(tick, std::chrono::milliseconds(10)));
      co_await timer.async_wait(asio::use_awaitable);
      if (!*running) break;
      const auto now = std::chrono::steady_clock::now();
      for (const auto& a : snapshot()) {
        auto [at, fresh] = due.try_emplace(a.table, now + a.table->flush_interval());
        if (fresh || now < at->second) continue;
        at->second = now + a.table->flush_interval();
        // A full batch means more are waiting: keep going, but yield between batches.
        while (*running && is_attached(a.table) && a.table->dirty_count() > 0 && co_await a.table->flush_batch() > 0) {
        }
      }
      std::erase_if(due, [&](const auto& d) { return !is_attached(d.first); });
      co_await compact();
      co_await publish_mark();
    }
  }

  /// Publishes clean_before() to the other writers; a database that is down is retried later.
  asio::awaitable<void> publish_mark() {
    try {
      co_await fence_.publish(clean_before());
    } catch (const std::exception& e) {
      log::warn("store: cannot publish this writer's mark: {}", e.what());
    }
  }

  static std::string writer_name(const store_options& o) {
    if (!o.writer.empty()) return o.writer;
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    std::error_code ec;
    const auto path = std::filesystem::absolute(o.journal, ec);
    return std::string(host) + ":" + (ec ? o.journal : path).string();
  }

  asio::awaitable<void> sync_loop(std::shared_ptr<bool> running) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    std::uint64_t synced = 0;
    while (*running) {
      timer.expires_after(options_.sync_interval);
      co_await timer.async_wait(asio::use_awaitable);
      if (!*running) continue;
      if (journal_.size() != synced) {
        synced = journal_.size();
        try {
          co_await files_.run(journal_.sync_job());
        } catch (const std::exception& e) {
          log::error("journal {}: {}", options_.journal.string(), e.what());
        }
      }
      // A memcached server that restarted lost the rows cached there: write back everything
      // now, so that processes loading those rows from the database wait as little as possible.
      try {
        if (co_await fence_.epochs_changed()) {
          log::warn("store: a memcached server restarted; writing back {} dirty rows now", dirty_count());
          co_await flush_all();
        }
      } catch (const data_error& e) {
        log::debug("store: memcached epochs not checked: {}", e.what());
      }
    }
  }

  memcache& cache_;
  database& db_;
  store_options options_;
  journal journal_;
  restart_fence fence_;
  worker_pool files_{1, "ember-journal"};
  std::vector<attached> tables_;
  std::vector<journal_record> orphans_;
  std::shared_ptr<bool> running_;
  bool compacting_ = false;
};

}  // namespace ember::data
