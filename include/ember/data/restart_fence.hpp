// ember: what keeps an acknowledged change from being lost when memcached restarts while
// another process holds it unwritten.
//
// A change is acknowledged once it is in memcached and in its process's journal; it reaches
// the database later. If memcached restarts meanwhile, the cached row is gone and the
// database holds an older one: a process that loaded that older row and changed it would
// build on a lost version. So:
//
// - Every memcached server holds a sentinel, `ember:epoch`, whose value is the time (Unix
//   ms) it was first seen missing. A restart empties the server and the sentinel with it;
//   whoever notices first sets a new one.
// - Every writer (a store) publishes in the database table `ember_writers` a truthful mark,
//   `clean_before`: every change it acknowledged before that time is in the database. It
//   publishes after write-back and, having written back everything at once, as soon as it
//   sees a server's epoch change (checked every sync tick, 100 ms by default).
// - Before a process loads a row from the database on a miss (a row it has not changed
//   itself), it reads the epoch of the row's server; until every other writer's mark has
//   reached that epoch, it waits (up to `fence_timeout`, then `writers_behind`). Once an
//   epoch has passed, later misses cost one memcached round trip for the sentinel.
// - Eviction would lose rows the same way, without a sentinel to tell: the store refuses a
//   memcached that evicts (it must run with `-M -o slab_automove=0`) unless told otherwise.
//
// A writer that died with unwritten changes (kill -9) blocks loads from a restarted memcached
// until it runs again and its journal is written back: waiting is safe, loading is not. A
// writer retired for good is removed from `ember_writers` by hand (the error names it).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "ember/data/cache_entry.hpp"
#include "ember/data/database.hpp"
#include "ember/data/error.hpp"
#include "ember/data/memcache.hpp"
#include "ember/log.hpp"

namespace ember::data {

/// The restart sentinels of a memcached cluster and the writers' marks in the database.
class restart_fence {
 public:
  static constexpr std::string_view sentinel = "ember:epoch";

  restart_fence(memcache& cache, database& db, std::string writer, std::chrono::milliseconds timeout)
      : cache_(cache), db_(db), writer_(std::move(writer)), timeout_(timeout) {}

  const std::string& writer() const noexcept { return writer_; }

  /// Refuses a memcached server that may evict (unless `allowed`): eviction loses cached
  /// changes without a trace.
  asio::awaitable<void> check_no_eviction(bool allowed) {
    auto settings = co_await cache_.with_conn([](memcache_conn& c) { return c.stats("settings"); });
    for (const auto& [server, s] : settings) {
      const auto value = [&](const char* name) {
        const auto it = s.find(name);
        return it == s.end() ? std::string("?") : it->second;
      };
      if (value("evictions") == "off" && value("slab_automove") == "0") continue;
      const auto why = "memcached " + server + " may evict rows (evictions " + value("evictions") +
                       ", slab_automove " + value("slab_automove") +
                       "): an evicted row that is not yet written back would be lost. Run it with "
                       "-M -o slab_automove=0 (it then refuses stores when full)";
      if (!allowed) throw data_error(data_errc::cache_error, why);
      log::warn("{}; store_options.allow_eviction is set, so this is not safe", why);
    }
  }

  /// Creates `ember_writers` and registers this writer with mark 0 (nothing known yet).
  asio::awaitable<void> open() {
    // Jobs are named before the co_await: g++ 12 destroys a temporary closure with
    // non-trivial captures inside a co_await expression twice.
    auto job = [w = writer_](odbc::connection& c) {
      c.execute("CREATE TABLE IF NOT EXISTS ember_writers (writer TEXT PRIMARY KEY, clean_before BIGINT NOT NULL)");
      upsert(c, w, 0);
    };
    co_await db_.run(std::move(job));
  }

  /// Publishes `clean_before` (a truthful mark; any order of publications is safe).
  asio::awaitable<void> publish(std::uint64_t clean_before) {
    if (clean_before == published_) co_return;
    auto job = [w = writer_, clean_before](odbc::connection& c) { upsert(c, w, clean_before); };
    co_await db_.run(std::move(job));
    published_ = clean_before;
  }

  /// This writer stops with nothing unwritten: it no longer holds back anyone.
  asio::awaitable<void> retire() {
    auto job = [w = writer_](odbc::connection& c) {
      c.prepare("DELETE FROM ember_writers WHERE writer = ?").execute(w);
    };
    co_await db_.run(std::move(job));
  }

  /// Reads every server's epoch (setting those missing); true if one changed since the last
  /// call, i.e. a server restarted and this writer must write back everything now.
  asio::awaitable<bool> epochs_changed() {
    auto now = co_await cache_.with_conn([](memcache_conn& c) {
      std::vector<std::string> out;
      for (const auto& g : c.server_groups()) out.push_back(epoch_on(c, g));
      return out;
    });
    const bool changed = !seen_.empty() && now != seen_;
    seen_ = std::move(now);
    co_return changed;
  }

  /// Before row `mkey` (a memcached key) is loaded from the database: returns the epoch of its
  /// server once every other writer has written back what it acknowledged before that epoch.
  asio::awaitable<std::string> pass(std::string mkey) {
    auto read = [mkey](memcache_conn& c) { return epoch_on(c, mkey); };
    auto epoch = co_await cache_.with_conn(std::move(read));
    if (passed_.contains(epoch)) co_return epoch;
    const auto since = std::stoull(epoch);
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (bool logged = false;;) {
      auto query = [w = writer_, since](odbc::connection& c) {
        std::vector<std::string> out;
        auto cur = c.prepare("SELECT writer FROM ember_writers WHERE writer <> ? AND clean_before < ?")
                       .query(w, static_cast<std::int64_t>(since));
        while (cur.next()) out.push_back(cur.get<std::string>(0));
        return out;
      };
      auto behind = co_await db_.run(std::move(query));
      if (behind.empty()) break;
      if (std::chrono::steady_clock::now() >= deadline)
        throw data_error(data_errc::writers_behind,
                         "memcached restarted (epoch " + epoch + ") and writer '" + behind.front() +
                             "' has not written back what it acknowledged before; start it again so its "
                             "journal is written back (or, if it is gone for good and its journal is "
                             "replayed elsewhere, delete its row from ember_writers)");
      if (!logged) {
        log::warn("memcached restarted (epoch {}): rows are loaded once {} writer(s), first '{}', have "
                  "written back",
                  epoch, behind.size(), behind.front());
        logged = true;
      }
      timer.expires_after(std::chrono::milliseconds(20));
      co_await timer.async_wait(asio::use_awaitable);
    }
    passed_.insert(epoch);
    co_return epoch;
  }

  /// After a loaded row was added to memcached: false if the row's server restarted since
  /// `pass` (the row may be stale and must be dropped and loaded again).
  asio::awaitable<bool> still(std::string mkey, std::string epoch) {
    auto check = [mkey, epoch](memcache_conn& c) {
      const auto item = c.get_on(mkey, sentinel);
      return item && item->value == epoch;
    };
    co_return co_await cache_.with_conn(std::move(check));
  }

 private:
  static void upsert(odbc::connection& c, const std::string& writer, std::uint64_t clean_before) {
    // ON CONFLICT ... DO UPDATE: PostgreSQL 9.5+ and SQLite 3.24+ alike.
    c.prepare("INSERT INTO ember_writers (writer, clean_before) VALUES (?, ?) "
              "ON CONFLICT (writer) DO UPDATE SET clean_before = excluded.clean_before")
        .execute(writer, static_cast<std::int64_t>(clean_before));
  }

  // The epoch of the server holding `group`, set to now if it has none (a fresh server).
  static std::string epoch_on(memcache_conn& c, std::string_view group) {
    for (;;) {
      if (auto item = c.get_on(group, sentinel)) return std::move(item->value);
      c.add_on(group, sentinel, std::to_string(unix_ms()));
    }
  }

  memcache& cache_;
  database& db_;
  std::string writer_;
  std::chrono::milliseconds timeout_;
  std::set<std::string> passed_;   // epochs whose writers have caught up
  std::vector<std::string> seen_;  // each server's epoch at the last check
  std::optional<std::uint64_t> published_;
};

}  // namespace ember::data
