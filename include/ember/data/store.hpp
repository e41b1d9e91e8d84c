// ember: the data store of a process — its memcached client, its database pool, its journal —
// and the tables that use them: it opens them (schema and migrations), replays the journal
// after a crash, runs write-back and journal syncs, and flushes everything at a clean stop.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "ember/data/database.hpp"
#include "ember/data/journal.hpp"
#include "ember/data/memcache.hpp"
#include "ember/data/restart_fence.hpp"
#include "ember/data/row_queue.hpp"
#include "ember/data/worker_pool.hpp"
#include "ember/separate_compilation.hpp"

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
  /// How long a read (`get`, `get_many`, `find`) that finds memcached or the database out of
  /// reach keeps trying (20 ms, doubling to 200 ms, apart) before it fails with the transient
  /// error (`unavailable` to a client). A read serving a request with a deadline (a link's
  /// call, a forwarded request: ember/request_deadline.hpp) stops sooner, before that deadline
  /// less a margin, so the caller hears why. 0: no retry.
  std::chrono::milliseconds read_retry{1'500};
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
  /// Settles the changes whose store memcached may have made without answering: recorded as
  /// acknowledged if memcached holds them, forgotten if not (table_core::uncertain_).
  virtual asio::awaitable<void> resolve_uncertain() = 0;
  /// Settles now the lock that a transaction of this process's previous run (killed before
  /// it settled) holds on row `key` (as text) until `lease_until_ms`, as a reader would once
  /// the lease passed: reloaded if the transaction committed, unlocked if not.
  /// True if the lock was still there (and is now settled).
  virtual asio::awaitable<bool> resolve_lock(std::string_view key, std::uint64_t lease_until_ms) = 0;

 protected:
  /// The store was destroyed first (a module that outlives its host's data layer): the table
  /// must not touch it again.
  bool store_gone() const noexcept { return store_gone_; }

 private:
  friend class store;
  bool store_gone_ = false;
};

/// What the data layer of one process did since its store was made, for metrics (the io
/// thread counts: plain integers).
struct store_counters {
  std::uint64_t cache_hits = 0;    ///< row reads (`get`, `get_many`) that memcached answered
  std::uint64_t cache_misses = 0;  ///< rows loaded from the database after memcached missed
  std::uint64_t cas_retries = 0;   ///< compare-and-swaps lost to another writer, then retried
  std::uint64_t rows_written = 0;  ///< rows written back to the database
  std::uint64_t read_retries = 0;  ///< reads tried again after memcached or the database was out of reach
  std::uint64_t uncertain_writes = 0;  ///< changes whose store memcached did not answer (outcome_unknown)
  std::uint64_t uncertain_stored = 0;  ///< of those, found stored later, and then journalled and written back
};

/// The data layer of one process. Create the memcache and database clients, the store, the
/// tables (each registers itself), then `co_await open()`; `start()` runs write-back in the
/// background; `co_await stop()` flushes every dirty row and empties the journal.
class store {
 public:
  store(memcache& cache, database& db, store_options options);
  store(const store&) = delete;
  store& operator=(const store&) = delete;
  ~store();

  memcache& cache() noexcept { return cache_; }
  database& db() noexcept { return db_; }
  const store_options& options() const noexcept { return options_; }
  /// What a table passes before it loads a row from the database (restart_fence.hpp).
  restart_fence& fence() noexcept { return fence_; }
  /// Where this process's transactions on one row take turns (row_queue.hpp).
  row_queue& row_turns() noexcept { return row_turns_; }

  /// Called by `table<T>`'s constructor. A table attached after `open()` (the tables of a
  /// reloaded handler module) is usable at once, and takes over what a detached table of its
  /// name left unwritten.
  void attach(table_base& t);
  /// Called by `table<T>`'s destructor: what it has not written back goes to the table of its
  /// name that remains (a reloaded module's), else waits for the next one to attach.
  void detach(table_base& t);
  /// Keeps `guard` alive while a table attached so far without one is written back, and
  /// skips the table once `guard` has expired (the table detaches soon, handing over what it
  /// has not written). A handler module's tables run the module's code, so its host passes the
  /// module here; the store does not keep it loaded otherwise.
  void guard_tables(const std::shared_ptr<const void>& guard);

  /// Records an acknowledged change before its update returns.
  void journal_change(std::string_view table, std::string_view key, std::string_view entry);

  /// Records, before a transaction locks them, the rows it locks (each "TABLE\0KEY") and its
  /// lease: if this process dies before the transaction settles, its next run settles those
  /// locks at start-up instead of leaving them to the lease. Returns the record's id for
  /// `locks_settled`.
  std::uint64_t journal_locks(std::uint64_t lease_until_ms, const std::vector<std::string_view>& rows);
  /// The transaction of `journal_locks` settled (or never locked): a journal rewrite drops it.
  void locks_settled(std::uint64_t id) { locking_.erase(id); }
  /// The journal's name of lock records (never a table's: table names are SQL identifiers).
  static constexpr std::string_view locks_record = "ember:locks";

  /// Opens every table (schema, migrations), then replays the journal a previous run of this
  /// process left: its rows become dirty again and the next write-back writes them.
  asio::awaitable<void> open();

  /// Starts write-back (each table on its interval, tables attached later too) and journal
  /// syncs on `ex`.
  void start(asio::any_io_executor ex);

  /// Writes back every dirty row (clean shutdown; also after replay). Rows that cannot be
  /// written now (database down) stay dirty and in the journal; returns how many remain.
  asio::awaitable<std::size_t> flush_all();

  /// Stops the background loops and flushes; the rows still dirty (0 after a clean stop).
  /// A store that stops with nothing unwritten leaves the writers of the database.
  asio::awaitable<std::size_t> stop();

  /// Every change acknowledged before this time (Unix ms) is in the database.
  std::uint64_t clean_before() const;

  std::size_t dirty_count() const noexcept;
  /// What the data layer did so far (the tables count into it).
  store_counters& counters() noexcept { return counters_; }
  const store_counters& counters() const noexcept { return counters_; }
  /// Loads that waited at the restart fence for other writers (restart_fence.hpp).
  std::uint64_t fence_waits() const noexcept { return fence_.waits(); }

  /// Bytes of the journal file (records of acknowledged changes not yet compacted away).
  std::uint64_t journal_bytes() const noexcept { return journal_.size(); }
  /// Age of the oldest unwritten change, for status pages.
  std::chrono::milliseconds oldest_dirty_age() const;

  /// Keeps the journal short: emptied when nothing is dirty, rewritten with only the dirty
  /// rows once it passes `journal_rewrite_bytes`.
  asio::awaitable<void> compact();

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

  table_base* find(std::string_view name);
  bool is_attached(const table_base* t) const;
  /// The tables as they are now, for a loop that waits: tables attach and detach meanwhile.
  /// Those whose module is going are left out.
  std::vector<held> snapshot() const;

  asio::awaitable<void> flush_loop(std::shared_ptr<bool> running);
  /// Settles the locks of the previous run's unsettled transactions (`journal_locks`).
  asio::awaitable<void> settle_locks(const std::vector<journal_record>& records);

  /// Publishes clean_before() to the other writers; a database that is down is retried later.
  asio::awaitable<void> publish_mark();

  static std::string writer_name(const store_options& o);

  asio::awaitable<void> sync_loop(std::shared_ptr<bool> running);

  memcache& cache_;
  database& db_;
  store_options options_;
  journal journal_;
  restart_fence fence_;
  row_queue row_turns_;
  worker_pool files_{1, "ember-journal"};
  std::vector<attached> tables_;
  std::vector<journal_record> orphans_;
  std::map<std::uint64_t, journal_record> locking_;  // lock records of transactions not yet settled
  std::uint64_t next_locking_ = 0;
  std::shared_ptr<bool> running_;
  bool compacting_ = false;
  store_counters counters_;
};

}  // namespace ember::data

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/data/impl/store.hpp"
#endif
