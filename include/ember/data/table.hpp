// ember: the typed cache of one generated [[table]]: rows read through memcached (the database
// on a miss), changed by compare-and-swap, recorded in the journal before an update returns,
// and written back to the database in versioned batches.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "ember/data/cache_entry.hpp"
#include "ember/data/error.hpp"
#include "ember/data/key_list.hpp"
#include "ember/data/row_io.hpp"
#include "ember/data/store.hpp"
#include "ember/data/table_traits.hpp"
#include "ember/log.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::data {

namespace detail {
/// Waits before retry `attempt` (from 0) of a compare-and-swap that lost: not at all for the
/// first two, then a random time that grows with `attempt` (at most about 2 ms).
EMBER_DECL asio::awaitable<void> retry_backoff(int attempt);
/// Waits, 2 ms at a time, until `flag` is false.
EMBER_DECL asio::awaitable<void> wait_while_set(const bool& flag);
}  // namespace detail

/// The cache of table `T` (a generated `NAME_table`) in a `store`.
///
/// - `get` reads memcached, then the database on a miss (and caches what it found, or that
///   nothing was there).
/// - `update` applies a function to the row by compare-and-swap, retrying when another writer
///   got there first; the function must be pure, as it may run more than once.
/// - `insert`, `remove` and the lookups keep the cached lookup lists in step, so a lookup sees
///   rows inserted or deleted through the cache before they are written back.
/// - Every change is appended to the process's journal before it returns, and is written back
///   on the table's flush interval with a version that keeps an older write from replacing a
///   newer one.
template <table_traits T>
class table final : public table_base {
 public:
  using row = typename T::row;
  using key_type = typename T::key_type;

  explicit table(store& s) : store_(s) { store_.attach(*this); }
  table(const table&) = delete;
  table& operator=(const table&) = delete;
  ~table() override {
    if (!store_gone()) store_.detach(*this);
  }

  std::string_view name() const noexcept override { return T::name; }

  /// The row with key `k`, or nullopt if there is none.
  asio::awaitable<std::optional<row>> get(key_type k) {
    auto item = co_await store_.cache().get(row_key(k));
    if (!item || parse(item->value, k).locked()) item = co_await current(k);
    co_return to_row(item->value, k);
  }

  /// The rows of `keys`, in their order (nullopt where there is none): one multi-get, then the
  /// database for the misses.
  asio::awaitable<std::vector<std::optional<row>>> get_many(std::vector<key_type> keys) {
    std::vector<std::string> mkeys;
    mkeys.reserve(keys.size());
    for (const auto& k : keys) mkeys.push_back(row_key(k));
    auto items = co_await store_.cache().get_multi(std::move(mkeys));
    std::vector<std::optional<row>> out;
    out.reserve(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
      auto& item = items[i];
      if (!item || parse(item->value, keys[i]).locked()) item = co_await current(keys[i]);
      out.push_back(to_row(item->value, keys[i]));
    }
    co_return out;
  }

  /// Applies `fn(row&)` to the row with key `k` and stores it if no one changed the row
  /// meanwhile, else reads it again and retries. Returns the row as stored. Throws
  /// `data_error` `not_found` (no such row) or `contention` (every attempt lost).
  template <class Fn>
  asio::awaitable<row> update(key_type k, Fn fn) {
    const auto mkey = row_key(k);
    for (int attempt = 0; attempt < store_.options().max_attempts; ++attempt) {
      const auto item = co_await current(k);
      const auto e = parse(item.value, k);
      if (e.deleted) throw data_error(data_errc::not_found, describe(k));
      row r = decode(e, k);
      const row before = r;
      fn(r);
      if (!(T::key_of(r) == k)) throw std::logic_error(describe(k) + ": an update must not change the key");
      auto next = cache_entry::make(e.version + 1, &r);
      if (co_await store_.cache().cas(mkey, next, item.cas) == store_result::stored) {
        changed(k, next, e.version + 1);
        co_await relink(k, &before, &r);
        co_return r;
      }
      co_await backoff(attempt);
    }
    throw data_error(data_errc::contention,
                     describe(k) + ": " + std::to_string(store_.options().max_attempts) + " attempts lost");
  }

  /// Inserts `r`. With generated keys, ember sets its key (unique across processes and
  /// restarts); otherwise a row with that key must not exist (`data_error` constraint).
  asio::awaitable<row> insert(row r) {
    if constexpr (T::generated_key) {
      T::set_key(r, co_await next_key());
      auto entry = cache_entry::make(1, &r);
      const auto k = T::key_of(r);
      if (co_await store_.cache().add(row_key(k), entry) != store_result::stored)
        throw data_error(data_errc::constraint, describe(k) + ": a generated key is already cached");
      changed(k, entry, 1);
      co_await relink(k, nullptr, &r);
      co_return r;
    } else {
      const key_type k = T::key_of(r);
      co_await replace_tombstone(k, &r);
      co_await relink(k, nullptr, &r);
      co_return r;
    }
  }

  /// Deletes the row with key `k`; false if there was none.
  asio::awaitable<bool> remove(key_type k) {
    const auto mkey = row_key(k);
    for (int attempt = 0; attempt < store_.options().max_attempts; ++attempt) {
      const auto item = co_await current(k);
      const auto e = parse(item.value, k);
      if (e.deleted) co_return false;
      const row before = decode(e, k);
      auto next = cache_entry::make<row>(e.version + 1, nullptr);
      if (co_await store_.cache().cas(mkey, next, item.cas) == store_result::stored) {
        changed(k, next, e.version + 1);
        co_await relink(k, &before, nullptr);
        co_return true;
      }
      co_await backoff(attempt);
    }
    throw data_error(data_errc::contention, describe(k) + ": delete lost every attempt");
  }

  /// The rows whose lookup column `L` (a `T::lookup`) equals `value`, including rows inserted
  /// or deleted through the cache and not yet written back.
  template <class L>
  asio::awaitable<std::vector<row>> find(typename L::value_type value) {
    auto keys = co_await lookup_keys<L>(value);
    std::vector<row> out;
    if (keys.empty()) co_return out;
    auto rows = co_await get_many(std::move(keys));
    for (auto& r : rows)
      if (r && L::of(*r) == value) out.push_back(std::move(*r));  // a stale list entry is skipped
    co_return out;
  }

  // --- multi-row transactions (transaction.hpp): lock, commit through the database, finish

  /// A row locked for a transaction: its entry as locked, and the row.
  struct locked_row {
    std::uint64_t version;
    std::uint64_t lease_until_ms;
    row value;
  };

  /// Locks row `k` until `lease_until_ms` (waiting out other locks); not_found if deleted.
  asio::awaitable<locked_row> lock(const key_type& k, std::uint64_t lease_until_ms) {
    const auto mkey = row_key(k);
    for (int attempt = 0; attempt < store_.options().max_attempts; ++attempt) {
      const auto item = co_await current(k);
      const auto e = parse(item.value, k);
      if (e.deleted) throw data_error(data_errc::not_found, describe(k));
      if (co_await store_.cache().cas(mkey, cache_entry::with_lease(e, lease_until_ms), item.cas) ==
          store_result::stored)
        co_return locked_row{e.version, lease_until_ms, decode(e, k)};
      co_await backoff(attempt);
    }
    throw data_error(data_errc::contention, describe(k) + ": lock lost every attempt");
  }

  /// Drops our lock of `k` (the transaction did not commit); the row stays as it was.
  asio::awaitable<void> unlock(const key_type& k, const locked_row& l) {
    co_await settle(k, l, std::nullopt);
  }

  /// The statement and parameters that write the transaction's new row as version + 1; they
  /// change no row if the database already has that version or a newer one.
  std::pair<std::string_view, std::vector<odbc::value>> commit_statement(const locked_row& l, const row& after) const {
    return {T::sql[static_cast<std::size_t>(sql_dialect())].upsert, row_values<T>(after, l.version + 1)};
  }

  /// After the database committed: the cached row becomes the new one, unlocked; what this
  /// process had not written back of it is superseded.
  asio::awaitable<void> finish(const key_type& k, const locked_row& l, const row& after) {
    co_await settle(k, l, after);
    if (const auto it = dirty_.find(k); it != dirty_.end() && it->second.version <= l.version + 1) dirty_.erase(it);
    co_await relink(k, &l.value, &after);
  }

  // --- write-back (table_base)

  std::size_t dirty_count() const noexcept override { return dirty_.size(); }
  std::optional<std::chrono::steady_clock::time_point> oldest_dirty() const override {
    std::optional<std::chrono::steady_clock::time_point> o;
    for (const auto& [k, d] : dirty_)
      if (!o || d.since < *o) o = d.since;
    return o;
  }
  std::optional<std::uint64_t> clean_mark() const override {
    std::optional<std::uint64_t> o;
    for (const auto& [k, d] : dirty_)
      if (!o || d.safe_ms < *o) o = d.safe_ms;
    return o;
  }
  std::chrono::milliseconds flush_interval() const noexcept override { return T::flush_interval; }
  /// Rows that the database refused (a constraint), set aside and logged; not retried.
  const std::vector<std::pair<key_type, std::string>>& rejected() const noexcept { return rejected_; }

  asio::awaitable<std::size_t> flush_batch() override {
    // One batch at a time: a clean stop waits for the background flush rather than skip it.
    co_await detail::wait_while_set(flushing_);
    if (dirty_.empty()) co_return 0;
    flushing_ = true;
    // Versions newer than those taken now are acknowledged after this moment.
    const auto taken_ms = unix_ms();
    const auto taken = std::chrono::steady_clock::now();
    std::vector<pending> batch;
    for (const auto& [k, d] : dirty_) {
      if (batch.size() == T::flush_batch) break;
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
    } catch (const std::exception& e) {
      // The database is down or the connection broke: the rows stay dirty and are retried.
      log::warn("write-back of table {}: {} rows stay dirty: {}", T::name, dirty_.size(), e.what());
    }
    flushing_ = false;
    co_return written;
  }

  void replay(const journal_record& r) override {
    const auto k = parse_key<key_type>(r.key);
    const auto e = cache_entry::parse(r.entry);
    if (!k || !e) {
      log::error("journal: a record of table {} with key '{}' does not parse; skipped", T::name, r.key);
      return;
    }
    auto& d = dirty_[*k];
    // safe_ms 0: when a replayed change was acknowledged is unknown.
    if (d.entry.empty() || e->version > d.version) d = dirty_row{r.entry, e->version, std::chrono::steady_clock::now(), 0};
  }

  void collect_dirty(std::vector<journal_record>& out) const override {
    for (const auto& [k, d] : dirty_) out.push_back({std::string(T::name), key_text(k), d.entry});
  }

  asio::awaitable<void> open_schema() override {
    co_await store_.db().connect();
    const auto kind = store_.db().dialect();
    const auto seed = co_await store_.db().run([kind](odbc::connection& c) -> std::optional<std::int64_t> {
      const auto d = static_cast<std::size_t>(kind);
      c.execute(T::sql[d].create);
      auto have = existing_columns(c, kind, T::name);
      for (const auto& col : T::columns)
        if (!have.contains(std::string(col.name))) c.execute(col.add[d]);
      std::apply([&](auto... l) { (c.execute(decltype(l)::sql.index[d]), ...); }, typename T::lookups{});
      if constexpr (!T::generated_key) {
        return std::nullopt;
      } else {
        create_key_table(c);
        auto cur = c.prepare(T::sql[d].max_key).query();
        std::int64_t max = 0;
        if (cur.next()) max = cur.template get<std::optional<std::int64_t>>(0).value_or(0);
        return max;
      }
    });
    if constexpr (T::generated_key) co_await seed_keys(*seed);
  }

 private:
  struct dirty_row {
    std::string entry;
    std::uint64_t version = 0;
    std::chrono::steady_clock::time_point since;  // of the oldest change not written back
    std::uint64_t safe_ms = 0;  // Unix ms: the changes acknowledged before it are written back
  };
  struct pending {
    key_type key;
    std::uint64_t version;
    std::string entry;
  };

  /// The database's dialect (known once the store has connected).
  dialect sql_dialect() const { return store_.db().dialect(); }

  static std::string describe(const key_type& k) { return std::string(T::name) + " '" + key_text(k) + "'"; }
  static std::string row_key(const key_type& k) { return cache_key("r", T::name, {}, key_text(k)); }

  static cache_entry parse(const std::string& bytes, const key_type& k) {
    auto e = cache_entry::parse(bytes);
    if (!e) throw data_error(data_errc::cache_error, describe(k) + ": the cached entry is not an ember row");
    return *e;
  }
  static row decode(const cache_entry& e, const key_type& k) {
    row r;
    if (!e.decode(r)) throw data_error(data_errc::cache_error, describe(k) + ": the cached row does not decode");
    return r;
  }
  static std::optional<row> to_row(const std::string& bytes, const key_type& k) {
    const auto e = parse(bytes, k);
    if (e.deleted) return std::nullopt;
    return decode(e, k);
  }

  /// Records an acknowledged change: journal first, then the dirty set write-back reads.
  void changed(const key_type& k, const std::string& entry, std::uint64_t version) {
    store_.journal_change(T::name, key_text(k), entry);
    auto [it, fresh] = dirty_.try_emplace(k);
    if (fresh) {
      it->second.since = std::chrono::steady_clock::now();
      it->second.safe_ms = unix_ms();
    }
    it->second.entry = entry;
    it->second.version = version;
  }

  /// Brings row `k` into memcached after a miss and returns its entry: the database's row once
  /// the other writers have written back what they acknowledged before the server's epoch
  /// (restart_fence.hpp), or what this process changed and has not written back if newer —
  /// a row lost to a memcached restart comes back as it was acknowledged.
  asio::awaitable<std::string> load(const key_type& k) {
    const auto mkey = row_key(k);
    for (;;) {
      const auto epoch = co_await store_.fence().pass(mkey);
      const auto found = co_await database_version(k);
      std::string entry =
          found ? cache_entry::make(found->second, &found->first) : cache_entry::make<row>(0, nullptr);
      if (const auto it = dirty_.find(k); it != dirty_.end() && it->second.version > (found ? found->second : 0))
        entry = it->second.entry;
      if (co_await store_.cache().add(mkey, entry) == store_result::stored) {
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
  asio::awaitable<cache_item> current(const key_type& k) {
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
        co_await backoff(std::min(attempt, 6));
        continue;
      }
      const auto stored = co_await database_version(k);
      std::string next;
      if (stored && stored->second > e.version) {
        next = cache_entry::make(stored->second, &stored->first);
        log::warn("{}: a transaction's lease passed after it committed; the row is reloaded", describe(k));
      } else {
        next = cache_entry::with_lease(e, 0);
        log::warn("{}: a transaction's lease passed before it committed; its lock is dropped", describe(k));
      }
      co_await store_.cache().cas(mkey, next, item->cas);
    }
  }

  asio::awaitable<std::optional<std::pair<row, std::uint64_t>>> database_version(const key_type& k) {
    const auto d = static_cast<std::size_t>(sql_dialect());
    // Jobs are named before the co_await: g++ 12 destroys a temporary closure with non-trivial
    // captures inside a co_await expression twice.
    auto job = [k, d](odbc::connection& c) -> std::optional<std::pair<row, std::uint64_t>> {
      auto cur = c.prepare(T::sql[d].select).query(to_value(k));
      if (!cur.next()) return std::nullopt;
      return read_row<T>(cur);
    };
    co_return co_await store_.db().run(std::move(job));
  }

  /// Replaces our locked entry of `k` by `after` as version + 1, or unlocks it unchanged.
  /// A resolver that found our lease passed may have replaced it already: then nothing to do.
  asio::awaitable<void> settle(const key_type& k, const locked_row& l, std::optional<row> after) {
    const auto mkey = row_key(k);
    for (int attempt = 0; attempt < store_.options().max_attempts; ++attempt) {
      auto item = co_await store_.cache().get(mkey);
      if (!item) co_return;  // evicted: the next reader loads the database's version
      const auto e = parse(item->value, k);
      if (e.lease_until_ms != l.lease_until_ms || e.version != l.version) co_return;
      const auto next = after ? cache_entry::make(l.version + 1, &*after) : cache_entry::with_lease(e, 0);
      if (co_await store_.cache().cas(mkey, next, item->cas) == store_result::stored) co_return;
    }
  }

  /// Inserts `r` under a key that is absent, or whose tombstone it replaces.
  asio::awaitable<void> replace_tombstone(const key_type& k, const row* r) {
    const auto mkey = row_key(k);
    for (int attempt = 0; attempt < store_.options().max_attempts; ++attempt) {
      const auto item = co_await current(k);
      const auto e = parse(item.value, k);
      if (!e.deleted) throw data_error(data_errc::constraint, describe(k) + ": a row with this key exists");
      auto next = cache_entry::make(e.version + 1, r);
      if (co_await store_.cache().cas(mkey, next, item.cas) == store_result::stored) {
        changed(k, next, e.version + 1);
        co_return;
      }
      co_await backoff(attempt);
    }
    throw data_error(data_errc::contention, describe(k) + ": insert lost every attempt");
  }

  asio::awaitable<void> backoff(int attempt) { return detail::retry_backoff(attempt); }

  // --- lookups: a cached list of keys per (lookup, value), kept in step by insert, remove and
  // updates that change the column; loaded from the database on a miss.

  template <class L>
  static std::string list_key(const typename L::value_type& v) {
    return cache_key("l", T::name, L::name, key_text(v));
  }

  // the list codec is ember/data/key_list.hpp
  static std::string encode_keys(const std::vector<key_type>& keys) { return ember::data::encode_keys(keys); }
  static std::vector<key_type> decode_keys(std::string_view s) { return ember::data::decode_keys<key_type>(s); }

  template <class L>
  asio::awaitable<std::vector<key_type>> lookup_keys(const typename L::value_type& v) {
    const auto lkey = list_key<L>(v);
    auto item = co_await store_.cache().get(lkey);
    if (item) co_return decode_keys(item->value);
    co_return co_await cache_list<L>(v);
  }

  /// Loads a lookup list into memcached after a miss (unless someone else did first).
  template <class L>
  asio::awaitable<std::vector<key_type>> cache_list(const typename L::value_type& v) {
    const auto lkey = list_key<L>(v);
    for (;;) {
      const auto epoch = co_await store_.fence().pass(lkey);
      auto keys = co_await load_list<L>(v);
      if (co_await store_.cache().add(lkey, encode_keys(keys)) != store_result::stored ||
          co_await store_.fence().still(lkey, epoch))
        co_return keys;
      co_await store_.cache().remove(lkey);  // the server restarted meanwhile
    }
  }

  /// A lookup list from the database, corrected by what this process has not written back.
  template <class L>
  asio::awaitable<std::vector<key_type>> load_list(const typename L::value_type& v) {
    const auto d = static_cast<std::size_t>(sql_dialect());
    auto job = [v, d](odbc::connection& c) {
      std::vector<key_type> out;
      auto cur = c.prepare(L::sql.select[d]).query(to_value(v));
      while (cur.next()) out.push_back(cur.template get<key_type>(0));
      return out;
    };
    auto keys = co_await store_.db().run(std::move(job));
    for (const auto& [k, dr] : dirty_) {
      const auto e = cache_entry::parse(dr.entry);
      row r;
      const bool member = e && !e->deleted && e->decode(r) && L::of(r) == v;
      const auto at = std::find(keys.begin(), keys.end(), k);
      // Only added: our dirty row may be older than the database's, and find() checks each
      // row's column anyway, so a key too many costs nothing.
      if (member && at == keys.end()) keys.push_back(k);
    }
    co_return keys;
  }

  template <class L>
  asio::awaitable<void> change_list(const typename L::value_type& v, const key_type& k, bool add) {
    const auto lkey = list_key<L>(v);
    for (int attempt = 0; attempt < store_.options().max_attempts; ++attempt) {
      auto item = co_await store_.cache().get(lkey);
      if (!item) {
        co_await cache_list<L>(v);
        continue;
      }
      auto keys = decode_keys(item->value);
      const auto at = std::find(keys.begin(), keys.end(), k);
      if (add == (at != keys.end())) co_return;
      if (add) keys.push_back(k);
      else keys.erase(at);
      if (co_await store_.cache().cas(lkey, encode_keys(keys), item->cas) == store_result::stored) co_return;
      co_await backoff(attempt);
    }
    // The row change is acknowledged already; a list left behind is corrected when it is next
    // loaded, and find() filters on the row itself.
    log::warn("table {}: lookup list of {} lost every attempt", T::name, describe(k));
  }

  /// Moves key `k` between lookup lists after a row went from `before` to `after` (null: none).
  asio::awaitable<void> relink(const key_type& k, const row* before, const row* after) {
    co_await relink_each(k, before, after, static_cast<typename T::lookups*>(nullptr));
  }
  template <class... L>
  asio::awaitable<void> relink_each(const key_type& k, const row* before, const row* after, std::tuple<L...>*) {
    (co_await relink_one<L>(k, before, after), ...);
  }
  template <class L>
  asio::awaitable<void> relink_one(const key_type& k, const row* before, const row* after) {
    if (before && after && L::of(*before) == L::of(*after)) co_return;
    if (before) co_await change_list<L>(L::of(*before), k, false);
    if (after) co_await change_list<L>(L::of(*after), k, true);
  }

  // --- keys handed out in blocks reserved in the database (ember_keys), so they stay unique
  // across processes, restarts and memcached restarts.

  asio::awaitable<void> seed_keys(std::int64_t max) {
    const auto d = sql_dialect();
    co_await store_.db().run([max, d](odbc::connection& c) {
      c.prepare(d == dialect::postgresql
                    ? "INSERT INTO ember_keys (name, next_key) VALUES (?, ?) ON CONFLICT (name) DO NOTHING"
                    : "INSERT OR IGNORE INTO ember_keys (name, next_key) VALUES (?, ?)")
          .execute(std::string(T::name), max + 1);
    });
  }

  asio::awaitable<key_type> next_key() {
    while (blocks_.empty() || blocks_.front().first == blocks_.front().second) {
      if (!blocks_.empty()) blocks_.pop_front();
      if (!blocks_.empty()) continue;
      const auto n = store_.options().key_block;
      auto end = co_await store_.db().transaction([n](odbc::connection& c) {
        c.prepare("UPDATE ember_keys SET next_key = next_key + ? WHERE name = ?").execute(n, std::string(T::name));
        auto cur = c.prepare("SELECT next_key FROM ember_keys WHERE name = ?").query(std::string(T::name));
        if (!cur.next()) throw data_error(data_errc::database, "ember_keys has no row for " + std::string(T::name));
        return cur.template get<std::int64_t>(0);
      });
      blocks_.emplace_back(end - n, end);
    }
    co_return blocks_.front().first++;
  }

  // --- write-back

  /// Writes `batch` in one transaction; a constraint violation splits it until the bad row is
  /// alone, and that row is set aside (logged, kept out of later batches).
  asio::awaitable<void> write_isolating(std::span<const pending> batch) {
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

  asio::awaitable<void> write(std::span<const pending> batch) {
    std::vector<std::vector<odbc::value>> upserts, deletes;
    for (const auto& p : batch) {
      const auto e = cache_entry::parse(p.entry);
      if (!e) continue;
      if (e->deleted) {
        deletes.push_back({to_value(p.key), static_cast<std::int64_t>(p.version)});
      } else {
        row r;
        if (!e->decode(r)) continue;
        upserts.push_back(row_values<T>(r, p.version));
      }
    }
    const auto d = static_cast<std::size_t>(sql_dialect());
    // Whole groups of rows_per_upsert rows go as one multi-row statement each, the rest row by row.
    const auto grouped = upserts.size() - upserts.size() % rows_per_upsert;
    std::vector<odbc::params> groups;
    for (std::size_t i = 0; i < grouped; i += rows_per_upsert) {
      auto& g = groups.emplace_back();
      g.reserve(rows_per_upsert * (T::columns.size() + 1));
      for (std::size_t r = i; r < i + rows_per_upsert; ++r)
        for (auto& v : upserts[r]) g.push_back(std::move(v));
    }
    upserts.erase(upserts.begin(), upserts.begin() + static_cast<std::ptrdiff_t>(grouped));
    auto job = [d, gr = std::move(groups), up = std::move(upserts), del = std::move(deletes)](odbc::connection& c) {
      if (!gr.empty()) c.prepare(grouped_upsert(d)).execute_batch(gr);
      if (!up.empty()) c.prepare(T::sql[d].upsert).execute_batch(up);
      if (!del.empty()) c.prepare(T::sql[d].remove).execute_batch(del);
    };
    co_await store_.db().transaction(std::move(job));
  }

  // The drivers parse and plan an upsert for every parameter row (psqlODBC, libsqlite3odbc), so
  // a statement of many rows' VALUES is what reaches the write-back targets: ~4.5x on SQLite,
  // ~1.6x on PostgreSQL at 100 rows (BENCHMARKS.md). Bounded by the parameter limits (SQLite
  // 32,766, PostgreSQL 65,535).
  static constexpr std::size_t rows_per_upsert = std::max<std::size_t>(1, std::min<std::size_t>(100, 30000 / (T::columns.size() + 1)));

  /// `T::sql[d].upsert` with rows_per_upsert rows in its VALUES list.
  static const std::string& grouped_upsert(std::size_t d) {
    static const std::array<std::string, 2> text = [] {
      std::array<std::string, 2> out;
      for (std::size_t i = 0; i < out.size(); ++i) {
        const auto& q = T::sql[i];
        std::string tuple = "(?";
        for (std::size_t c = 0; c < T::columns.size(); ++c) tuple += ", ?";  // the columns and ember_version
        tuple += ")";
        out[i] = std::string(q.upsert_head);
        for (std::size_t r = 0; r < rows_per_upsert; ++r) out[i] += (r ? ", " : "") + tuple;
        out[i] += q.upsert_tail;
      }
      return out;
    }();
    return text[d];
  }

  store& store_;
  std::unordered_map<key_type, dirty_row> dirty_;
  std::vector<std::pair<key_type, std::string>> rejected_;
  std::deque<std::pair<std::int64_t, std::int64_t>> blocks_;  // [next, end) of reserved keys
  bool flushing_ = false;
};

}  // namespace ember::data

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/data/impl/table.hpp"
#endif
