// ember: bodies of the store (ember/data/store.hpp).
#pragma once

#include "ember/data/store.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <exception>
#include <system_error>

#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "ember/data/cache_entry.hpp"
#include "ember/log.hpp"
#include "ember/spawn.hpp"

namespace ember::data {

EMBER_DECL store::store(memcache& cache, database& db, store_options options)
    : cache_(cache),
      db_(db),
      options_(std::move(options)),
      journal_(options_.journal),
      fence_(cache, db, writer_name(options_), options_.fence_timeout) {}

EMBER_DECL store::~store() {
  for (auto& a : tables_) a.table->store_gone_ = true;
}

EMBER_DECL void store::attach(table_base& t) {
  tables_.push_back({&t, {}, false});
  std::erase_if(orphans_, [&](const journal_record& r) {
    if (r.table != t.name()) return false;
    t.replay(r);
    return true;
  });
}

EMBER_DECL void store::detach(table_base& t) {
  std::erase_if(tables_, [&](const attached& a) { return a.table == &t; });
  std::vector<journal_record> left;
  t.collect_dirty(left);
  for (auto& r : left) {
    if (auto* other = find(r.table)) other->replay(r);
    else orphans_.push_back(std::move(r));
  }
}

EMBER_DECL void store::guard_tables(const std::shared_ptr<const void>& guard) {
  for (auto& a : tables_)
    if (!a.guarded) a.guard = guard, a.guarded = true;
}

EMBER_DECL void store::journal_change(std::string_view table, std::string_view key, std::string_view entry) {
  journal_.append(table, key, entry);
}

EMBER_DECL std::uint64_t store::journal_locks(std::uint64_t lease_until_ms, const std::vector<std::string_view>& rows) {
  // The record: key = the lease as decimal; entry = the rows (detail::lock_record_entry).
  journal_record r{std::string(locks_record), std::to_string(lease_until_ms), detail::lock_record_entry(rows)};
  journal_.append(r.table, r.key, r.entry);
  const auto id = ++next_locking_;
  locking_.emplace(id, std::move(r));
  return id;
}

EMBER_DECL asio::awaitable<void> store::open() {
  co_await fence_.check_no_eviction(options_.allow_eviction);
  co_await fence_.open();
  co_await fence_.epochs_changed();  // the epochs this process starts under
  for (const auto& a : snapshot()) co_await a.table->open_schema();
  std::size_t replayed = 0;
  std::vector<journal_record> locks;  // of transactions the previous run did not settle
  for (auto& r : journal::read(options_.journal)) {
    if (r.table == locks_record) {
      locks.push_back(std::move(r));
    } else if (auto* t = find(r.table)) {
      t->replay(r);
      ++replayed;
    } else {
      log::warn("journal {}: a record of unknown table '{}' is kept", options_.journal.string(), r.table);
      orphans_.push_back(r);
    }
  }
  if (replayed) log::info("journal {}: {} changes replayed; writing them back", options_.journal.string(), replayed);
  co_await settle_locks(locks);
  co_await flush_all();
}

EMBER_DECL asio::awaitable<void> store::settle_locks(const std::vector<journal_record>& records) {
  // This process's previous run is gone (its journal is being replayed): the locks its
  // transactions still hold can be settled now rather than after their lease.
  std::size_t rows = 0;
  for (const auto& r : records) {
    std::uint64_t lease = 0;
    if (std::from_chars(r.key.data(), r.key.data() + r.key.size(), lease).ec != std::errc{}) continue;
    for (const auto row : detail::lock_record_rows(r.entry)) {
      const auto nul = row.find('\0');
      if (nul == std::string_view::npos) continue;
      if (auto* t = find(row.substr(0, nul))) {
        const bool settled = co_await t->resolve_lock(row.substr(nul + 1), lease);
        if (settled) ++rows;
      }
    }
  }
  if (rows)
    log::info("journal {}: {} rows that transactions of the previous run left locked are settled",
              options_.journal.string(), rows);
}

EMBER_DECL void store::start(asio::any_io_executor ex) {
  running_ = std::make_shared<bool>(true);
  spawn(ex, flush_loop(running_), "data store write-back");
  spawn(ex, sync_loop(running_), "data store journal sync");
}

EMBER_DECL asio::awaitable<std::size_t> store::flush_all() {
  for (const auto& a : snapshot()) {
    co_await a.table->resolve_uncertain();
    while (is_attached(a.table) && a.table->dirty_count() > 0 && co_await a.table->flush_batch() > 0) {
    }
  }
  co_await compact();
  co_await publish_mark();
  co_return dirty_count();
}

EMBER_DECL asio::awaitable<std::size_t> store::stop() {
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

EMBER_DECL std::uint64_t store::clean_before() const {
  auto mark = unix_ms();
  for (const auto& a : tables_)
    if (const auto m = a.table->clean_mark()) mark = std::min(mark, *m);
  if (!orphans_.empty()) mark = 0;  // unwritten, and when they were acknowledged is unknown
  return mark;
}

EMBER_DECL std::size_t store::dirty_count() const noexcept {
  std::size_t n = 0;
  for (const auto& a : tables_) n += a.table->dirty_count();
  return n;
}

EMBER_DECL std::chrono::milliseconds store::oldest_dirty_age() const {
  std::optional<std::chrono::steady_clock::time_point> oldest;
  for (const auto& a : tables_) {
    const auto o = a.table->oldest_dirty();
    if (o && (!oldest || *o < *oldest)) oldest = o;
  }
  if (!oldest) return {};
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - *oldest);
}

EMBER_DECL asio::awaitable<void> store::compact() {
  if (compacting_) co_return;
  const bool empty = dirty_count() == 0 && orphans_.empty();
  if (journal_.size() == 0 || (!empty && journal_.size() < options_.journal_rewrite_bytes)) co_return;
  compacting_ = true;
  std::vector<journal_record> live = orphans_;
  for (const auto& [id, r] : locking_) live.push_back(r);
  for (const auto& a : tables_) a.table->collect_dirty(live);
  try {
    journal_.begin_rewrite(live);
    co_await files_.run(journal_.finish_rewrite_job());
  } catch (const std::exception& e) {
    log::error("journal {}: rewrite failed: {}", options_.journal.string(), e.what());
  }
  compacting_ = false;
}

EMBER_DECL table_base* store::find(std::string_view name) {
  for (const auto& a : tables_)
    if (a.table->name() == name) return a.table;
  return nullptr;
}

EMBER_DECL bool store::is_attached(const table_base* t) const {
  return std::any_of(tables_.begin(), tables_.end(), [&](const attached& a) { return a.table == t; });
}

EMBER_DECL std::vector<store::held> store::snapshot() const {
  std::vector<held> out;
  for (const auto& a : tables_) {
    auto keep = a.guard.lock();
    if (!a.guarded || keep) out.push_back({a.table, std::move(keep)});
  }
  return out;
}

EMBER_DECL asio::awaitable<void> store::flush_loop(std::shared_ptr<bool> running) {
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
      co_await a.table->resolve_uncertain();
      // A full batch means more are waiting: keep going, but yield between batches.
      while (*running && is_attached(a.table) && a.table->dirty_count() > 0 && co_await a.table->flush_batch() > 0) {
      }
    }
    std::erase_if(due, [&](const auto& d) { return !is_attached(d.first); });
    co_await compact();
    co_await publish_mark();
  }
}

EMBER_DECL asio::awaitable<void> store::publish_mark() {
  try {
    co_await fence_.publish(clean_before());
  } catch (const std::exception& e) {
    log::warn("store: cannot publish this writer's mark: {}", e.what());
  }
}

EMBER_DECL std::string store::writer_name(const store_options& o) {
  if (!o.writer.empty()) return o.writer;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  std::error_code ec;
  const auto path = std::filesystem::absolute(o.journal, ec);
  return std::string(host) + ":" + (ec ? o.journal : path).string();
}

EMBER_DECL asio::awaitable<void> store::sync_loop(std::shared_ptr<bool> running) {
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

}  // namespace ember::data
