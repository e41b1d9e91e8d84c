// ember: bodies of the restart fence (ember/data/restart_fence.hpp).
#pragma once

#include "ember/data/restart_fence.hpp"

#include <utility>

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "ember/data/cache_entry.hpp"
#include "ember/data/database.hpp"
#include "ember/data/error.hpp"
#include "ember/data/memcache.hpp"
#include "ember/data/row_io.hpp"
#include "ember/log.hpp"

namespace ember::data {

EMBER_DECL restart_fence::restart_fence(memcache& cache, database& db, std::string writer,
                                        std::chrono::milliseconds timeout)
    : cache_(cache), db_(db), writer_(std::move(writer)), timeout_(timeout) {}

EMBER_DECL asio::awaitable<void> restart_fence::check_no_eviction(bool allowed) {
  auto settings = co_await cache_.with_conn([](memcache_conn& c) { return c.stats("settings"); });
  for (const auto& entry : settings) {
    const auto& server = entry.first;
    // a reference of its own: clang before 16 cannot capture a structured binding
    const auto value = [&stats = entry.second](const char* name) {
      const auto it = stats.find(name);
      return it == stats.end() ? std::string("?") : it->second;
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

EMBER_DECL asio::awaitable<void> restart_fence::open() {
  // Jobs are named before the co_await: g++ 12 destroys a temporary closure with
  // non-trivial captures inside a co_await expression twice.
  auto job = [w = writer_](odbc::connection& c) {
    {
      const schema_turn turn(c, c.dialect());
      c.execute("CREATE TABLE IF NOT EXISTS ember_writers (writer TEXT PRIMARY KEY, clean_before BIGINT NOT NULL)");
    }
    upsert(c, w, 0);
  };
  co_await db_.run(std::move(job));
}

EMBER_DECL asio::awaitable<void> restart_fence::publish(std::uint64_t clean_before) {
  if (clean_before == published_) co_return;
  auto job = [w = writer_, clean_before](odbc::connection& c) { upsert(c, w, clean_before); };
  co_await db_.run(std::move(job));
  published_ = clean_before;
}

EMBER_DECL asio::awaitable<void> restart_fence::retire() {
  auto job = [w = writer_](odbc::connection& c) {
    c.prepare("DELETE FROM ember_writers WHERE writer = ?").execute(w);
  };
  co_await db_.run(std::move(job));
}

EMBER_DECL asio::awaitable<bool> restart_fence::epochs_changed() {
  auto now = co_await cache_.with_conn([](memcache_conn& c) {
    std::vector<std::string> out;
    for (const auto& g : c.server_groups()) out.push_back(epoch_on(c, g));
    return out;
  });
  const bool changed = !seen_.empty() && now != seen_;
  seen_ = std::move(now);
  co_return changed;
}

EMBER_DECL asio::awaitable<std::string> restart_fence::pass(std::string mkey) {
  auto read = [mkey](memcache_conn& c) { return epoch_on(c, mkey); };
  auto epoch = co_await cache_.with_conn(std::move(read));
  if (passed_.contains(epoch)) co_return epoch;
  co_await wait_for_writers(std::stoull(epoch), "memcached restarted (epoch " + epoch + ")");
  passed_.insert(epoch);
  co_return epoch;
}

EMBER_DECL asio::awaitable<void> restart_fence::caught_up(std::uint64_t since, std::string why) {
  co_await wait_for_writers(since, std::move(why));
}

EMBER_DECL asio::awaitable<void> restart_fence::wait_for_writers(std::uint64_t since, std::string why) {
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
                       why + " and writer '" + behind.front() +
                           "' has not written back what it acknowledged before; start it again so its "
                           "journal is written back (or, if it is gone for good and its journal is "
                           "replayed elsewhere, delete its row from ember_writers)");
    if (!logged) {
      ++waits_;
      log::warn("{}: rows are loaded once {} writer(s), first '{}', have written back", why,
                behind.size(), behind.front());
      logged = true;
    }
    timer.expires_after(std::chrono::milliseconds(20));
    co_await timer.async_wait(asio::use_awaitable);
  }
}

EMBER_DECL asio::awaitable<bool> restart_fence::still(std::string mkey, std::string epoch) {
  auto check = [mkey, epoch](memcache_conn& c) {
    const auto item = c.get_on(mkey, sentinel);
    return item && item->value == epoch;
  };
  co_return co_await cache_.with_conn(std::move(check));
}

EMBER_DECL void restart_fence::upsert(odbc::connection& c, const std::string& writer, std::uint64_t clean_before) {
  // ON CONFLICT ... DO UPDATE: PostgreSQL 9.5+ and SQLite 3.24+ alike.
  c.prepare("INSERT INTO ember_writers (writer, clean_before) VALUES (?, ?) "
            "ON CONFLICT (writer) DO UPDATE SET clean_before = excluded.clean_before")
      .execute(writer, static_cast<std::int64_t>(clean_before));
}

EMBER_DECL std::string restart_fence::epoch_on(memcache_conn& c, std::string_view group) {
  for (;;) {
    if (auto item = c.get_on(group, sentinel)) return std::move(item->value);
    c.add_on(group, sentinel, std::to_string(unix_ms()));
  }
}

}  // namespace ember::data
