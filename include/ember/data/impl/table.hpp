// ember: the non-template part of table<T> (ember/data/table.hpp): table_core, and helpers.
#pragma once

#include "ember/data/table.hpp"
#include "ember/request_deadline.hpp"

#include <algorithm>
#include <chrono>
#include <random>

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

namespace ember::data::detail {

EMBER_DECL asio::awaitable<void> retry_backoff(int attempt) {
  if (attempt < 2) co_return;  // the first retries go straight back
  thread_local std::minstd_rand rng{std::random_device{}()};
  const int cap = std::min(1 << std::min(attempt, 10), 2000);
  asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::microseconds(rng() % cap + 50));
  co_await t.async_wait(asio::use_awaitable);
}

EMBER_DECL asio::awaitable<void> wait_while_set(const bool& flag) {
  asio::steady_timer wait(co_await asio::this_coro::executor);
  while (flag) {
    wait.expires_after(std::chrono::milliseconds(2));
    co_await wait.async_wait(asio::use_awaitable);
  }
}

EMBER_DECL bool read_retry::worth_it(const data_error& e) const {
  return e.code() == std::errc::resource_unavailable_try_again && e.code() != data_errc::contention &&
         std::chrono::steady_clock::now() + wait_ < until_;
}

EMBER_DECL asio::awaitable<void> read_retry::pause() {
  asio::steady_timer t(co_await asio::this_coro::executor, wait_);
  co_await t.async_wait(asio::use_awaitable);
  wait_ = std::min(wait_ * 2, std::chrono::milliseconds(200));
}

// A store that only puts back what the database or the row holds already (a row loaded after a
// miss, a lock, a lease resolved): if memcached lost its answer, no caller's change is at
// stake, so the failure is the transient one ("retry"), not outcome_unknown.
EMBER_DECL asio::awaitable<store_result> restoring(asio::awaitable<store_result> write) {
  try {
    co_return co_await std::move(write);
  } catch (const data_error& e) {
    if (e.code() != data_errc::outcome_unknown) throw;
    throw data_error(data_errc::cache_unavailable, std::string(e.detail()));
  }
}

EMBER_DECL std::string key_text(const any_key& k) {
  if (const auto* s = std::get_if<std::string>(&k)) return *s;
  return std::to_string(std::get<std::int64_t>(k));
}

EMBER_DECL odbc::value key_value(const any_key& k) {
  if (const auto* s = std::get_if<std::string>(&k)) return odbc::value{*s};
  return odbc::value{std::get<std::int64_t>(k)};
}

// The drivers parse and plan an upsert for every parameter row (psqlODBC, libsqlite3odbc), so
// a statement of many rows' VALUES is what reaches the write-back targets: ~4.5x on SQLite,
// ~1.6x on PostgreSQL at 100 rows (BENCHMARKS.md). Bounded by the parameter limits (SQLite
// 32,766, PostgreSQL 65,535).
EMBER_DECL table_core::table_core(store& s, const row_ops& ops)
    : store_(s),
      ops_(ops),
      rows_per_upsert_(std::max<std::size_t>(1, std::min<std::size_t>(100, 30000 / (ops.columns.size() + 1)))) {
  // sql[d].upsert with rows_per_upsert_ rows in its VALUES list.
  for (std::size_t i = 0; i < grouped_upsert_.size(); ++i) {
    const auto& q = ops_.sql[i];
    std::string tuple = "(?";
    for (std::size_t c = 0; c < ops_.columns.size(); ++c) tuple += ", ?";  // the columns and ember_version
    tuple += ")";
    auto& out = grouped_upsert_[i];
    out = std::string(q.upsert_head);
    for (std::size_t r = 0; r < rows_per_upsert_; ++r) out += (r ? ", " : "") + tuple;
    out += q.upsert_tail;
  }
  store_.attach(*this);
}

EMBER_DECL table_core::~table_core() {
  if (!store_gone()) store_.detach(*this);
}

// Reads try again while memcached or the database is out of reach, within read_retry: a
// restarted memcached is back within a second or two, and a read changes nothing. Within the
// deadline of the request being served too, when it has one (a link's call, a forwarded
// request: ember/request_deadline.hpp), so that the read gives up, and its handler answers
// `unavailable`, before the caller stops waiting. (No co_await inside a handler: the error
// is noted, the wait comes after.)
template <class T, class Once>
asio::awaitable<T> table_core::retrying_read(Once once) {
  const auto own = store_.options().read_retry;
  read_retry retry(own.count() > 0 ? time_within(request_deadline(co_await asio::this_coro::executor), own)
                                   : own);
  for (;;) {
    try {
      auto r = co_await once();
      co_return std::move(r);
    } catch (const data_error& e) {
      if (!retry.worth_it(e)) throw;
    }
    ++store_.counters().read_retries;
    co_await retry.pause();
  }
}

EMBER_DECL asio::awaitable<row_ptr> table_core::get(any_key k) {
  co_return co_await retrying_read<row_ptr>([&] { return get_once(k); });
}

EMBER_DECL asio::awaitable<std::vector<row_ptr>> table_core::get_many(std::vector<any_key> keys) {
  co_return co_await retrying_read<std::vector<row_ptr>>([&] { return get_many_once(keys); });
}

EMBER_DECL asio::awaitable<row_ptr> table_core::get_once(const any_key& k) {
  auto item = co_await store_.cache().get(row_key(k));
  if (!item || parse(item->value, k).locked())
    item = co_await current(k);
  else
    ++store_.counters().cache_hits;
  co_return to_row(item->value, k);
}

EMBER_DECL asio::awaitable<std::vector<row_ptr>> table_core::get_many_once(const std::vector<any_key>& keys) {
  std::vector<std::string> mkeys;
  mkeys.reserve(keys.size());
  for (const auto& k : keys) mkeys.push_back(row_key(k));
  auto items = co_await store_.cache().get_multi(std::move(mkeys));
  std::vector<row_ptr> out;
  out.reserve(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto& item = items[i];
    if (!item || parse(item->value, keys[i]).locked())
      item = co_await current(keys[i]);
    else
      ++store_.counters().cache_hits;
    out.push_back(to_row(item->value, keys[i]));
  }
  co_return out;
}

EMBER_DECL asio::awaitable<row_ptr> table_core::update(any_key k, void (*apply)(void* ctx, void* row), void* ctx) {
  const auto mkey = row_key(k);
  for (int attempt = 0; attempt < store_.options().max_attempts; ++attempt) {
    const auto item = co_await current(k);
    const auto e = parse(item.value, k);
    if (e.deleted) throw data_error(data_errc::not_found, describe(k));
    row_ptr r = decode(e, k);
    const row_ptr before = ops_.copy(r.get());
    apply(ctx, r.get());
    if (!(ops_.key_of(r.get()) == k)) throw std::logic_error(describe(k) + ": an update must not change the key");
    auto next = ops_.make_entry(e.version + 1, r.get());
    if (co_await store_change(k, mkey, next, e.version + 1, item.value, item.cas)) {
      changed(k, next, e.version + 1);
      co_await relink_stored(k, before.get(), r.get());
      co_return r;
    }
    ++store_.counters().cas_retries;
    co_await retry_backoff(attempt);
  }
  throw data_error(data_errc::contention,
                   describe(k) + ": " + std::to_string(store_.options().max_attempts) + " attempts lost");
}

EMBER_DECL asio::awaitable<row_ptr> table_core::insert(row_ptr r, bool keep_key) {
  if (ops_.generated_key && !keep_key) {
    ops_.set_key(r.get(), co_await next_key());
    auto entry = ops_.make_entry(1, r.get());
    const auto k = ops_.key_of(r.get());
    if (!co_await store_change(k, row_key(k), entry, 1, {}, std::nullopt))
      throw data_error(data_errc::constraint, describe(k) + ": a generated key is already cached");
    changed(k, entry, 1);
    co_await relink_stored(k, nullptr, r.get());
    co_return r;
  } else {
    const auto k = ops_.key_of(r.get());
    co_await replace_tombstone(k, r.get());
    co_await relink_stored(k, nullptr, r.get());
    co_return r;
  }
}

EMBER_DECL asio::awaitable<bool> table_core::remove(any_key k) {
  const auto mkey = row_key(k);
  for (int attempt = 0; attempt < store_.options().max_attempts; ++attempt) {
    const auto item = co_await current(k);
    const auto e = parse(item.value, k);
    if (e.deleted) co_return false;
    const row_ptr before = decode(e, k);
    auto next = ops_.make_entry(e.version + 1, nullptr);
    if (co_await store_change(k, mkey, next, e.version + 1, item.value, item.cas)) {
      changed(k, next, e.version + 1);
      co_await relink_stored(k, before.get(), nullptr);
      co_return true;
    }
    ++store_.counters().cas_retries;
    co_await retry_backoff(attempt);
  }
  throw data_error(data_errc::contention, describe(k) + ": delete lost every attempt");
}

EMBER_DECL asio::awaitable<table_core::locked_row> table_core::lock(const any_key& k, std::uint64_t lease_until_ms) {
  const auto mkey = row_key(k);
  for (int attempt = 0; attempt < store_.options().max_attempts; ++attempt) {
    const auto item = co_await current(k);
    const auto e = parse(item.value, k);
    if (e.deleted) throw data_error(data_errc::not_found, describe(k));
    if (co_await restoring(store_.cache().cas(mkey, cache_entry::with_lease(e, lease_until_ms), item.cas)) ==
        store_result::stored)
      co_return locked_row{e.version, lease_until_ms, decode(e, k)};
    ++store_.counters().cas_retries;
    co_await retry_backoff(attempt);
  }
  throw data_error(data_errc::contention, describe(k) + ": lock lost every attempt");
}

EMBER_DECL asio::awaitable<void> table_core::unlock(const any_key& k, const locked_row& l) {
  co_await settle(k, l, nullptr);
}

EMBER_DECL std::pair<std::string_view, std::vector<odbc::value>> table_core::commit_statement(
    const locked_row& l, const void* after) const {
  return {ops_.sql[static_cast<std::size_t>(sql_dialect())].upsert, ops_.values(after, l.version + 1)};
}

EMBER_DECL asio::awaitable<void> table_core::finish(const any_key& k, const locked_row& l, const void* after) {
  co_await settle(k, l, after);
  if (const auto it = dirty_.find(k); it != dirty_.end() && it->second.version <= l.version + 1) dirty_.erase(it);
  co_await relink(k, l.value.get(), after);
}

EMBER_DECL std::optional<std::chrono::steady_clock::time_point> table_core::oldest_dirty() const {
  std::optional<std::chrono::steady_clock::time_point> o;
  for (const auto& [k, d] : dirty_)
    if (!o || d.since < *o) o = d.since;
  return o;
}

EMBER_DECL std::optional<std::uint64_t> table_core::clean_mark() const {
  std::optional<std::uint64_t> o;
  for (const auto& [k, d] : dirty_)
    if (!o || d.safe_ms < *o) o = d.safe_ms;
  return o;
}

EMBER_DECL asio::awaitable<std::size_t> table_core::flush_batch() {
  // One batch at a time: a clean stop waits for the background flush rather than skip it.
  co_await wait_while_set(flushing_);
  if (dirty_.empty()) co_return 0;
  flushing_ = true;
  // Versions newer than those taken now are acknowledged after this moment.
  const auto taken_ms = unix_ms();
  const auto taken = std::chrono::steady_clock::now();
  std::vector<pending> batch;
  for (const auto& [k, d] : dirty_) {
    if (batch.size() == ops_.flush_batch) break;
    batch.push_back(pending{k, d.version, d.entry});
  }
  // Writers lock rows in key order, so two of them writing the same rows cannot deadlock.
  std::sort(batch.begin(), batch.end(), [](const pending& a, const pending& b) { return a.key < b.key; });
  std::size_t written = 0;
  try {
    co_await write_isolating(batch);
    for (const auto& p : batch) {
      const auto it = dirty_.find(p.key);
      if (it == dirty_.end()) continue;
      if (it->second.version == p.version) {
        dirty_.erase(it);
      } else if (it->second.safe_ms < taken_ms) {  // changed again during the write
        it->second.safe_ms = taken_ms;
        it->second.since = taken;
      }
    }
    written = batch.size();
    store_.counters().rows_written += written;
  } catch (const std::exception& e) {
    // The database is down or the connection broke: the rows stay dirty and are retried.
    log::warn("write-back of table {}: {} rows stay dirty: {}", ops_.name, dirty_.size(), e.what());
  }
  flushing_ = false;
  co_return written;
}

EMBER_DECL void table_core::replay(const journal_record& r) {
  const auto k = ops_.parse_key(r.key);
  const auto e = cache_entry::parse(r.entry);
  if (!k || !e) {
    log::error("journal: a record of table {} with key '{}' does not parse; skipped", ops_.name, r.key);
    return;
  }
  auto& d = dirty_[*k];
  // safe_ms 0: when a replayed change was acknowledged is unknown.
  if (d.entry.empty() || e->version > d.version) d = dirty_row{r.entry, e->version, std::chrono::steady_clock::now(), 0};
}

EMBER_DECL void table_core::collect_dirty(std::vector<journal_record>& out) const {
  for (const auto& [k, d] : dirty_) out.push_back({std::string(ops_.name), key_text(k), d.entry});
}

EMBER_DECL asio::awaitable<void> table_core::open_schema() {
  co_await store_.db().connect();
  const auto kind = store_.db().dialect();
  const row_ops* ops = &ops_;
  auto job = [kind, ops](odbc::connection& c) -> std::optional<std::int64_t> {
    const auto d = static_cast<std::size_t>(kind);
    const schema_turn turn(c, kind);
    c.execute(ops->sql[d].create);
    auto have = existing_columns(c, kind, ops->name);
    for (const auto& col : ops->columns)
      if (!have.contains(std::string(col.name))) c.execute(col.add[d]);
    for (const auto& l : ops->lookups) c.execute(l.sql->index[d]);
    if (!ops->generated_key) return std::nullopt;
    create_key_table(c);
    auto cur = c.prepare(ops->sql[d].max_key).query();
    std::int64_t max = 0;
    if (cur.next()) max = cur.get<std::optional<std::int64_t>>(0).value_or(0);
    return max;
  };
  const auto seed = co_await store_.db().run(std::move(job));
  if (ops_.generated_key) co_await seed_keys(*seed);
}

EMBER_DECL dialect table_core::sql_dialect() const { return store_.db().dialect(); }

EMBER_DECL std::string table_core::describe(const any_key& k) const {
  return std::string(ops_.name) + " '" + key_text(k) + "'";
}

EMBER_DECL std::string table_core::row_key(const any_key& k) const { return cache_key("r", ops_.name, {}, key_text(k)); }

EMBER_DECL cache_entry table_core::parse(const std::string& bytes, const any_key& k) const {
  auto e = cache_entry::parse(bytes);
  if (!e) throw data_error(data_errc::cache_error, describe(k) + ": the cached entry is not an ember row");
  return *e;
}

EMBER_DECL row_ptr table_core::decode(const cache_entry& e, const any_key& k) const {
  row_ptr r = ops_.create();
  if (!ops_.decode(e, r.get())) throw data_error(data_errc::cache_error, describe(k) + ": the cached row does not decode");
  return r;
}

EMBER_DECL row_ptr table_core::to_row(const std::string& bytes, const any_key& k) const {
  const auto e = parse(bytes, k);
  if (e.deleted) return row_ptr(nullptr, nullptr);
  return decode(e, k);
}

/// Records an acknowledged change: journal first, then the dirty set write-back reads.
EMBER_DECL void table_core::changed(const any_key& k, const std::string& entry, std::uint64_t version) {
  store_.journal_change(ops_.name, key_text(k), entry);
  auto [it, fresh] = dirty_.try_emplace(k);
  if (fresh) {
    it->second.since = std::chrono::steady_clock::now();
    it->second.safe_ms = unix_ms();
  }
  it->second.entry = entry;
  it->second.version = version;
}

EMBER_DECL asio::awaitable<bool> table_core::store_change(const any_key& k, const std::string& mkey,
                                                        const std::string& next, std::uint64_t version,
                                                        const std::string& before,
                                                        std::optional<std::uint64_t> cas) {
  try {
    const auto r = cas ? co_await store_.cache().cas(mkey, next, *cas) : co_await store_.cache().add(mkey, next);
    co_return r == store_result::stored;
  } catch (const data_error& e) {
    if (e.code() == data_errc::outcome_unknown) {
      uncertain_.insert_or_assign(k, uncertain_row{next, version, before});
      ++store_.counters().uncertain_writes;
    }
    throw;
  }
}

/// A change memcached holds exactly as it was sent was stored: it is journalled and written
/// back, and its lookup lists are put in step, as for any acknowledged change. One it does not
/// hold was not stored, or was replaced by a writer that read it and recorded its own change
/// (which carries it); or memcached restarted and lost it, unacknowledged. Memcached still out
/// of reach: asked again at the next write-back.
EMBER_DECL asio::awaitable<void> table_core::resolve_uncertain() {
  if (uncertain_.empty()) co_return;
  auto asked = std::exchange(uncertain_, {});
  for (auto& [k, u] : asked) {
    std::optional<cache_item> item;
    try {
      item = co_await store_.cache().get(row_key(k));
    } catch (const data_error&) {
      uncertain_.try_emplace(k, std::move(u));  // unless a newer one was sent meanwhile
      continue;
    }
    if (!item || item->value != u.entry) continue;
    if (const auto it = dirty_.find(k); it != dirty_.end() && it->second.version >= u.version) continue;
    log::warn("{}: a change whose answer memcached lost was stored; it is journalled and written back", describe(k));
    changed(k, u.entry, u.version);
    ++store_.counters().uncertain_stored;
    try {
      const row_ptr before = u.before.empty() ? row_ptr(nullptr, nullptr) : to_row(u.before, k);
      const row_ptr after = to_row(u.entry, k);
      co_await relink_stored(k, before.get(), after.get());
    } catch (const std::exception& e) {
      log::warn("{}: {}", describe(k), e.what());  // find() checks each row; a list is reloaded on a miss
    }
  }
}

/// Brings row `k` into memcached after a miss and returns its entry: the database's row once
/// the other writers have written back what they acknowledged before the server's epoch
/// (restart_fence.hpp), or what this process changed and has not written back if newer —
/// a row lost to a memcached restart comes back as it was acknowledged.
EMBER_DECL asio::awaitable<std::string> table_core::load(const any_key& k) {
  const auto mkey = row_key(k);
  ++store_.counters().cache_misses;
  for (;;) {
    const auto epoch = co_await store_.fence().pass(mkey);
    const auto found = co_await database_version(k);
    std::string entry = found ? ops_.make_entry(found->second, found->first.get()) : ops_.make_entry(0, nullptr);
    if (const auto it = dirty_.find(k); it != dirty_.end() && it->second.version > (found ? found->second : 0))
      entry = it->second.entry;
    if (co_await restoring(store_.cache().add(mkey, entry)) == store_result::stored) {
      if (co_await store_.fence().still(mkey, epoch)) co_return entry;
      // The server restarted between the check and the add: the row may be stale.
      co_await store_.cache().remove(mkey);
      continue;
    }
    // Someone else cached it first: theirs is at least as new.
    auto item = co_await store_.cache().get(mkey);
    co_return item ? std::move(item->value) : entry;
  }
}

/// The cached item of row `k` as it stands: loaded on a miss, and with the lock of a
/// multi-row transaction waited out — or resolved, once its lease has passed, from the
/// database: a transaction that committed wrote version + 1 there (the row is reloaded),
/// one that did not left the cached row as it was (the lock is dropped).
EMBER_DECL asio::awaitable<cache_item> table_core::current(const any_key& k) {
  const auto mkey = row_key(k);
  for (int attempt = 0;; ++attempt) {
    auto item = co_await store_.cache().get(mkey);
    if (!item) {
      co_await load(k);
      continue;
    }
    const auto e = parse(item->value, k);
    if (!e.locked()) co_return std::move(*item);
    if (unix_ms() < e.lease_until_ms) {
      co_await retry_backoff(std::min(attempt, 10));  // a commit takes milliseconds: poll at most ~1 ms apart
      continue;
    }
    co_await resolve(k, e, *item);
  }
}

EMBER_DECL asio::awaitable<void> table_core::resolve(const any_key& k, const cache_entry& e, const cache_item& item) {
  const auto stored = co_await database_version(k);
  std::string next;
  if (stored && stored->second > e.version) {
    next = ops_.make_entry(stored->second, stored->first.get());
    log::warn("{}: a transaction that committed left its lock; the row is reloaded", describe(k));
  } else {
    next = cache_entry::with_lease(e, 0);
    log::warn("{}: a transaction that did not commit left its lock; it is dropped", describe(k));
  }
  co_await restoring(store_.cache().cas(row_key(k), next, item.cas));
}

EMBER_DECL asio::awaitable<bool> table_core::resolve_lock(std::string_view key, std::uint64_t lease_until_ms) {
  const auto k = ops_.parse_key(key);
  if (!k) co_return false;
  const auto item = co_await store_.cache().get(row_key(*k));
  if (!item) co_return false;  // memcached lost it: the next reader loads the database's version
  const auto e = parse(item->value, *k);
  // Another lock (a later transaction's), or none: the recorded one settled after all.
  if (e.lease_until_ms != lease_until_ms) co_return false;
  co_await resolve(*k, e, *item);
  co_return true;
}

EMBER_DECL asio::awaitable<std::optional<std::pair<row_ptr, std::uint64_t>>> table_core::database_version(
    const any_key& k) {
  const auto d = static_cast<std::size_t>(sql_dialect());
  const row_ops* ops = &ops_;
  // Jobs are named before the co_await: g++ 12 destroys a temporary closure with non-trivial
  // captures inside a co_await expression twice.
  auto job = [k, d, ops](odbc::connection& c) -> std::optional<std::pair<row_ptr, std::uint64_t>> {
    auto cur = c.prepare(ops->sql[d].select).query(key_value(k));
    if (!cur.next()) return std::nullopt;
    auto r = ops->create();
    const auto version = ops->read_row(cur, r.get());
    return std::pair<row_ptr, std::uint64_t>(std::move(r), version);
  };
  co_return co_await store_.db().run(std::move(job));
}

/// Replaces our locked entry of `k` by `after` as version + 1, or unlocks it unchanged (null).
/// A resolver that found our lease passed may have replaced it already: then nothing to do.
EMBER_DECL asio::awaitable<void> table_core::settle(const any_key& k, const locked_row& l, const void* after) {
  const auto mkey = row_key(k);
  for (int attempt = 0; attempt < store_.options().max_attempts; ++attempt) {
    auto item = co_await store_.cache().get(mkey);
    if (!item) co_return;  // evicted: the next reader loads the database's version
    const auto e = parse(item->value, k);
    if (e.lease_until_ms != l.lease_until_ms || e.version != l.version) co_return;
    const auto next = after ? ops_.make_entry(l.version + 1, after) : cache_entry::with_lease(e, 0);
    if (co_await store_.cache().cas(mkey, next, item->cas) == store_result::stored) co_return;
  }
}

/// Inserts `r` under a key that is absent, or whose tombstone it replaces.
EMBER_DECL asio::awaitable<void> table_core::replace_tombstone(const any_key& k, const void* r) {
  const auto mkey = row_key(k);
  for (int attempt = 0; attempt < store_.options().max_attempts; ++attempt) {
    const auto item = co_await current(k);
    const auto e = parse(item.value, k);
    if (!e.deleted) throw data_error(data_errc::constraint, describe(k) + ": a row with this key exists");
    auto next = ops_.make_entry(e.version + 1, r);
    if (co_await store_change(k, mkey, next, e.version + 1, item.value, item.cas)) {
      changed(k, next, e.version + 1);
      co_return;
    }
    ++store_.counters().cas_retries;
    co_await retry_backoff(attempt);
  }
  throw data_error(data_errc::contention, describe(k) + ": insert lost every attempt");
}

// --- lookups: a cached list of keys per (lookup, value), kept in step by insert, remove and
// updates that change the column; loaded from the database on a miss.

EMBER_DECL std::string table_core::list_key(std::size_t lookup, const any_key& v) const {
  return cache_key("l", ops_.name, ops_.lookups[lookup].name, key_text(v));
}

// the list codec is ember/data/key_list.hpp
EMBER_DECL std::string table_core::encode_keys(const std::vector<any_key>& keys) const {
  std::vector<std::string> texts;
  texts.reserve(keys.size());
  for (const auto& k : keys) texts.push_back(key_text(k));
  return ember::data::encode_keys(texts);
}

EMBER_DECL std::vector<any_key> table_core::decode_keys(std::string_view s) const {
  std::vector<any_key> out;
  for (const auto& t : ember::data::decode_keys<std::string>(s))
    if (auto k = ops_.parse_key(t)) out.push_back(std::move(*k));
  return out;
}

EMBER_DECL asio::awaitable<std::vector<any_key>> table_core::lookup_keys(std::size_t lookup, any_key v) {
  co_return co_await retrying_read<std::vector<any_key>>([&] { return lookup_keys_once(lookup, v); });
}

EMBER_DECL asio::awaitable<std::vector<any_key>> table_core::lookup_keys_once(std::size_t lookup, const any_key& v) {
  const auto lkey = list_key(lookup, v);
  auto item = co_await store_.cache().get(lkey);
  if (item) co_return decode_keys(item->value);
  co_return co_await cache_list(lookup, v);
}

/// Loads a lookup list into memcached after a miss (unless someone else did first).
EMBER_DECL asio::awaitable<std::vector<any_key>> table_core::cache_list(std::size_t lookup, const any_key& v) {
  const auto lkey = list_key(lookup, v);
  for (;;) {
    const auto epoch = co_await store_.fence().pass(lkey);
    auto keys = co_await load_list(lookup, v);
    if (co_await restoring(store_.cache().add(lkey, encode_keys(keys))) != store_result::stored ||
        co_await store_.fence().still(lkey, epoch))
      co_return keys;
    co_await store_.cache().remove(lkey);  // the server restarted meanwhile
  }
}

/// A lookup list from the database, corrected by what this process has not written back.
EMBER_DECL asio::awaitable<std::vector<any_key>> table_core::load_list(std::size_t lookup, const any_key& v) {
  const auto d = static_cast<std::size_t>(sql_dialect());
  const row_ops* ops = &ops_;
  const lookup_ops* l = &ops_.lookups[lookup];
  auto job = [v, d, ops, l](odbc::connection& c) {
    std::vector<any_key> out;
    auto cur = c.prepare(l->sql->select[d]).query(key_value(v));
    while (cur.next()) out.push_back(ops->read_key(cur, 0));
    return out;
  };
  auto keys = co_await store_.db().run(std::move(job));
  for (const auto& [k, dr] : dirty_) {
    const auto e = cache_entry::parse(dr.entry);
    row_ptr r = ops_.create();
    const bool member = e && !e->deleted && ops_.decode(*e, r.get()) && l->of(r.get()) == v;
    const auto at = std::find(keys.begin(), keys.end(), k);
    // Only added: our dirty row may be older than the database's, and find() checks each
    // row's column anyway, so a key too many costs nothing.
    if (member && at == keys.end()) keys.push_back(k);
  }
  co_return keys;
}

EMBER_DECL asio::awaitable<void> table_core::change_list(std::size_t lookup, const any_key& v, const any_key& k,
                                                         bool add) {
  const auto lkey = list_key(lookup, v);
  for (int attempt = 0; attempt < store_.options().max_attempts; ++attempt) {
    auto item = co_await store_.cache().get(lkey);
    if (!item) {
      co_await cache_list(lookup, v);
      continue;
    }
    auto keys = decode_keys(item->value);
    const auto at = std::find(keys.begin(), keys.end(), k);
    if (add == (at != keys.end())) co_return;
    if (add) keys.push_back(k);
    else keys.erase(at);
    if (co_await store_.cache().cas(lkey, encode_keys(keys), item->cas) == store_result::stored) co_return;
    ++store_.counters().cas_retries;
    co_await retry_backoff(attempt);
  }
  // The row change is acknowledged already; a list left behind is corrected when it is next
  // loaded, and find() filters on the row itself.
  log::warn("table {}: lookup list of {} lost every attempt", ops_.name, describe(k));
}

EMBER_DECL asio::awaitable<void> table_core::relink_stored(const any_key& k, const void* before, const void* after) {
  std::optional<data_error> failed;
  try {
    co_await relink(k, before, after);
  } catch (const data_error& e) {
    failed = e;
  }
  if (failed)
    throw data_error(data_errc::outcome_unknown,
                     describe(k) + ": the change is stored (journal), its lookup lists were not kept in step: " +
                         failed->what());
}

/// Moves key `k` between lookup lists after a row went from `before` to `after` (null: none).
EMBER_DECL asio::awaitable<void> table_core::relink(const any_key& k, const void* before, const void* after) {
  for (std::size_t i = 0; i < ops_.lookups.size(); ++i) {
    const auto& l = ops_.lookups[i];
    std::optional<any_key> b, a;
    if (before) b = l.of(before);
    if (after) a = l.of(after);
    if (b && a && *b == *a) continue;
    if (b) co_await change_list(i, *b, k, false);
    if (a) co_await change_list(i, *a, k, true);
  }
}

// --- keys handed out in blocks reserved in the database (ember_keys), so they stay unique
// across processes, restarts and memcached restarts.

EMBER_DECL asio::awaitable<void> table_core::seed_keys(std::int64_t max) {
  const auto d = sql_dialect();
  const auto name = ops_.name;
  auto job = [max, d, name](odbc::connection& c) {
    c.prepare(d == dialect::postgresql
                  ? "INSERT INTO ember_keys (name, next_key) VALUES (?, ?) ON CONFLICT (name) DO NOTHING"
                  : "INSERT OR IGNORE INTO ember_keys (name, next_key) VALUES (?, ?)")
        .execute(std::string(name), max + 1);
  };
  co_await store_.db().run(std::move(job));
}

EMBER_DECL asio::awaitable<std::int64_t> table_core::next_key() {
  while (blocks_.empty() || blocks_.front().first == blocks_.front().second) {
    if (!blocks_.empty()) blocks_.pop_front();
    if (!blocks_.empty()) continue;
    const auto n = store_.options().key_block;
    const auto name = ops_.name;
    auto job = [n, name](odbc::connection& c) {
      c.prepare("UPDATE ember_keys SET next_key = next_key + ? WHERE name = ?").execute(n, std::string(name));
      auto cur = c.prepare("SELECT next_key FROM ember_keys WHERE name = ?").query(std::string(name));
      if (!cur.next()) throw data_error(data_errc::database, "ember_keys has no row for " + std::string(name));
      return cur.get<std::int64_t>(0);
    };
    auto end = co_await store_.db().transaction(std::move(job));
    blocks_.emplace_back(end - n, end);
  }
  co_return blocks_.front().first++;
}

// --- write-back

/// Writes `batch` in one transaction; a constraint violation splits it until the bad row is
/// alone, and that row is set aside (logged, kept out of later batches).
EMBER_DECL asio::awaitable<void> table_core::write_isolating(std::span<const pending> batch) {
  if (batch.empty()) co_return;
  std::optional<data_error> refused;
  try {
    co_await write(batch);
  } catch (const data_error& e) {
    if (e.code() != data_errc::constraint) throw;
    refused = e;
  }
  if (!refused) co_return;
  if (batch.size() == 1) {
    const auto& p = batch.front();
    log::error("write-back of {}: the database refuses version {}, set aside: {}", describe(p.key), p.version,
               refused->what());
    rejected_.emplace_back(p.key, refused->what());
    if (const auto it = dirty_.find(p.key); it != dirty_.end() && it->second.version == p.version) dirty_.erase(it);
    co_return;
  }
  const auto half = batch.size() / 2;
  co_await write_isolating(batch.first(half));
  co_await write_isolating(batch.subspan(half));
}

EMBER_DECL asio::awaitable<void> table_core::write(std::span<const pending> batch) {
  std::vector<std::vector<odbc::value>> upserts, deletes;
  for (const auto& p : batch) {
    const auto e = cache_entry::parse(p.entry);
    if (!e) continue;
    if (e->deleted) {
      deletes.push_back({key_value(p.key), static_cast<std::int64_t>(p.version)});
    } else {
      row_ptr r = ops_.create();
      if (!ops_.decode(*e, r.get())) continue;
      upserts.push_back(ops_.values(r.get(), p.version));
    }
  }
  const auto d = static_cast<std::size_t>(sql_dialect());
  const auto per = rows_per_upsert_;
  // Whole groups of rows_per_upsert rows go as one multi-row statement each, the rest row by row.
  const auto grouped = upserts.size() - upserts.size() % per;
  std::vector<odbc::params> groups;
  for (std::size_t i = 0; i < grouped; i += per) {
    auto& g = groups.emplace_back();
    g.reserve(per * (ops_.columns.size() + 1));
    for (std::size_t r = i; r < i + per; ++r)
      for (auto& v : upserts[r]) g.push_back(std::move(v));
  }
  upserts.erase(upserts.begin(), upserts.begin() + static_cast<std::ptrdiff_t>(grouped));
  const std::string* grouped_sql = &grouped_upsert_[d];
  const row_ops* ops = &ops_;
  auto job = [d, grouped_sql, ops, gr = std::move(groups), up = std::move(upserts),
              del = std::move(deletes)](odbc::connection& c) {
    if (!gr.empty()) c.prepare(*grouped_sql).execute_batch(gr);
    if (!up.empty()) c.prepare(ops->sql[d].upsert).execute_batch(up);
    if (!del.empty()) c.prepare(ops->sql[d].remove).execute_batch(del);
  };
  co_await store_.db().transaction(std::move(job));
}

}  // namespace ember::data::detail
