// ember: the typed cache of one generated [[table]]: rows read through memcached (the database
// on a miss), changed by compare-and-swap, recorded in the journal before an update returns,
// and written back to the database in versioned batches.
//
// Two layers: `detail::table_core` (not a template, compiled once in libember-data) does the
// work on rows it does not know the type of, through `detail::row_ops` — the handful of
// operations that need the row type (encode, decode, key, columns to and from SQL); `table<T>`
// is the typed front a game developer calls, each member a short conversion to the core.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
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

template <table_traits T>
class table;

namespace detail {
/// Waits before retry `attempt` (from 0) of a compare-and-swap that lost: not at all for the
/// first two, then a random time that grows with `attempt` (at most about 2 ms).
EMBER_DECL asio::awaitable<void> retry_backoff(int attempt);
/// Waits, 2 ms at a time, until `flag` is false.
EMBER_DECL asio::awaitable<void> wait_while_set(const bool& flag);

/// The retries of one read that found memcached or the database out of reach
/// (`store_options::read_retry`): reads change nothing, so trying again is always safe.
class read_retry {
 public:
  explicit read_retry(std::chrono::milliseconds budget)
      : until_(std::chrono::steady_clock::now() + budget) {}
  /// True if `e` is worth another try now: transient, and time is left for it.
  bool worth_it(const data_error& e) const;
  /// Waits before the next try (20 ms doubling to 200 ms, never past the budget).
  asio::awaitable<void> pause();

 private:
  std::chrono::steady_clock::time_point until_;
  std::chrono::milliseconds wait_{20};
};

template <table_traits T>
class tx_row_of;

/// A row key or a lookup column's value, whatever the table: the key types of a [[table]]
/// (i32, i64, u32, string) as int64 or string.
using any_key = std::variant<std::int64_t, std::string>;

/// Hashes an any_key as its alternative hashes (so a table's rows iterate as they would keyed
/// by the key type itself).
struct any_key_hash {
  std::size_t operator()(const any_key& k) const noexcept {
    return std::visit([](const auto& v) { return std::hash<std::decay_t<decltype(v)>>{}(v); }, k);
  }
};

EMBER_DECL std::string key_text(const any_key& k);
EMBER_DECL odbc::value key_value(const any_key& k);

/// A row of a type only `row_ops` knows (null: none).
using row_ptr = std::unique_ptr<void, void (*)(void*)>;

/// A lookup of a table, type-erased.
struct lookup_ops {
  std::string_view name;
  const lookup_sql* sql;
  any_key (*of)(const void* row);
};

/// What the core needs to know of a table's row type: generated per `T` by `row_ops_of<T>`.
struct row_ops {
  std::string_view name;
  bool generated_key;
  std::chrono::milliseconds flush_interval;
  std::size_t flush_batch;
  std::span<const table_sql> sql;        // per dialect
  std::span<const column_sql> columns;
  std::span<const lookup_ops> lookups;   // in the order of T::lookups

  row_ptr (*create)();
  row_ptr (*copy)(const void* row);
  /// cache_entry::make(version, row) (a null row: a tombstone).
  std::string (*make_entry)(std::uint64_t version, const void* row);
  /// cache_entry::decode into `out`.
  bool (*decode)(const cache_entry& e, void* out);
  any_key (*key_of)(const void* row);
  void (*set_key)(void* row, std::int64_t k);
  /// row_values<T>.
  std::vector<odbc::value> (*values)(const void* row, std::uint64_t version);
  /// read_row<T> into `out`; returns the version.
  std::uint64_t (*read_row)(odbc::cursor& cur, void* out);
  /// Column `col` as the key type.
  any_key (*read_key)(odbc::cursor& cur, std::size_t col);
  /// parse_key<key_type>.
  std::optional<any_key> (*parse_key)(std::string_view text);
};

/// The work of `table<T>`, for rows of any type: read-through, compare-and-swap, lookup lists,
/// generated keys, transaction locks and write-back. Compiled once in libember-data.
class table_core final : public table_base {
 public:
  table_core(store& s, const row_ops& ops);
  table_core(const table_core&) = delete;
  table_core& operator=(const table_core&) = delete;
  ~table_core() override;

  const row_ops& ops() const noexcept { return ops_; }

  // --- what table<T> calls

  /// Reads retry a transient failure within `store_options::read_retry`.
  asio::awaitable<row_ptr> get(any_key k);
  asio::awaitable<std::vector<row_ptr>> get_many(std::vector<any_key> keys);
  /// `apply(ctx, row)` changes the row (the front's function); returns the row as stored.
  asio::awaitable<row_ptr> update(any_key k, void (*apply)(void* ctx, void* row), void* ctx);
  /// `keep_key`: a generated-key table's row carries a key `reserve_key()` gave.
  asio::awaitable<row_ptr> insert(row_ptr r, bool keep_key = false);
  asio::awaitable<std::int64_t> reserve_key() { return next_key(); }
  asio::awaitable<bool> remove(any_key k);
  /// The keys of lookup `lookup` (an index into ops().lookups) for `value`.
  asio::awaitable<std::vector<any_key>> lookup_keys(std::size_t lookup, any_key value);
  const std::vector<std::pair<any_key, std::string>>& rejected() const noexcept { return rejected_; }

  // --- multi-row transactions (transaction.hpp): lock, commit through the database, finish

  /// A row locked for a transaction: its entry as locked, and the row.
  struct locked_row {
    std::uint64_t version;
    std::uint64_t lease_until_ms;
    row_ptr value;
  };
  /// Locks row `k` until `lease_until_ms` (waiting out other locks); not_found if deleted.
  asio::awaitable<locked_row> lock(const any_key& k, std::uint64_t lease_until_ms);
  /// Drops our lock of `k` (the transaction did not commit); the row stays as it was.
  asio::awaitable<void> unlock(const any_key& k, const locked_row& l);
  /// The statement and parameters that write the transaction's new row as version + 1; they
  /// change no row if the database already has that version or a newer one.
  std::pair<std::string_view, std::vector<odbc::value>> commit_statement(const locked_row& l, const void* after) const;
  /// After the database committed: the cached row becomes the new one, unlocked; what this
  /// process had not written back of it is superseded.
  asio::awaitable<void> finish(const any_key& k, const locked_row& l, const void* after);

  // --- write-back (table_base)

  std::string_view name() const noexcept override { return ops_.name; }
  std::size_t dirty_count() const noexcept override { return dirty_.size(); }
  std::optional<std::chrono::steady_clock::time_point> oldest_dirty() const override;
  std::optional<std::uint64_t> clean_mark() const override;
  std::chrono::milliseconds flush_interval() const noexcept override { return ops_.flush_interval; }
  asio::awaitable<std::size_t> flush_batch() override;
  void replay(const journal_record& r) override;
  void collect_dirty(std::vector<journal_record>& out) const override;
  asio::awaitable<void> open_schema() override;
  asio::awaitable<void> resolve_uncertain() override;
  asio::awaitable<bool> resolve_lock(std::string_view key, std::uint64_t lease_until_ms) override;

 private:
  struct dirty_row {
    std::string entry;
    std::uint64_t version = 0;
    std::chrono::steady_clock::time_point since;  // of the oldest change not written back
    std::uint64_t safe_ms = 0;  // Unix ms: the changes acknowledged before it are written back
  };
  struct uncertain_row {
    std::string entry;  // what was sent
    std::uint64_t version = 0;
    std::string before;  // the entry it replaced; empty for a new key
  };
  struct pending {
    any_key key;
    std::uint64_t version;
    std::string entry;
  };

  dialect sql_dialect() const;
  std::string describe(const any_key& k) const;
  std::string row_key(const any_key& k) const;
  cache_entry parse(const std::string& bytes, const any_key& k) const;
  row_ptr decode(const cache_entry& e, const any_key& k) const;
  row_ptr to_row(const std::string& bytes, const any_key& k) const;

  void changed(const any_key& k, const std::string& entry, std::uint64_t version);
  // Stores a change of row `k` under its memcached key `mkey` (CAS over `cas`, or add when
  // there is none); one whose answer memcached lost is remembered in uncertain_ before its
  // outcome_unknown goes on.
  asio::awaitable<bool> store_change(const any_key& k, const std::string& mkey, const std::string& next,
                                     std::uint64_t version, const std::string& before,
                                     std::optional<std::uint64_t> cas);
  asio::awaitable<std::string> load(const any_key& k);
  asio::awaitable<cache_item> current(const any_key& k);
  /// Settles the lock of entry `e` (cached as `item`) whose transaction is over or gone:
  /// the row is reloaded if the database has version + 1 (it committed), unlocked if not.
  asio::awaitable<void> resolve(const any_key& k, const cache_entry& e, const cache_item& item);
  asio::awaitable<std::optional<std::pair<row_ptr, std::uint64_t>>> database_version(const any_key& k);
  asio::awaitable<void> settle(const any_key& k, const locked_row& l, const void* after);
  asio::awaitable<row_ptr> get_once(const any_key& k);
  asio::awaitable<std::vector<row_ptr>> get_many_once(const std::vector<any_key>& keys);
  asio::awaitable<std::vector<any_key>> lookup_keys_once(std::size_t lookup, const any_key& v);
  // Runs the read `once()` again while it fails transiently, within `read_retry`.
  template <class T, class Once>
  asio::awaitable<T> retrying_read(Once once);
  // After a change was acknowledged (journal), keeps its lookup lists in step; a failure
  // there is `outcome_unknown`, not the transient error (the change is stored).
  asio::awaitable<void> relink_stored(const any_key& k, const void* before, const void* after);
  asio::awaitable<void> replace_tombstone(const any_key& k, const void* r);

  std::string list_key(std::size_t lookup, const any_key& v) const;
  std::string encode_keys(const std::vector<any_key>& keys) const;
  std::vector<any_key> decode_keys(std::string_view s) const;
  asio::awaitable<std::vector<any_key>> cache_list(std::size_t lookup, const any_key& v);
  asio::awaitable<std::vector<any_key>> load_list(std::size_t lookup, const any_key& v);
  asio::awaitable<void> change_list(std::size_t lookup, const any_key& v, const any_key& k, bool add);
  asio::awaitable<void> relink(const any_key& k, const void* before, const void* after);

  asio::awaitable<void> seed_keys(std::int64_t max);
  asio::awaitable<std::int64_t> next_key();

  asio::awaitable<void> write_isolating(std::span<const pending> batch);
  asio::awaitable<void> write(std::span<const pending> batch);

  store& store_;
  const row_ops& ops_;
  std::size_t rows_per_upsert_;
  std::array<std::string, 2> grouped_upsert_;  // sql[d].upsert with rows_per_upsert_ rows
  std::unordered_map<any_key, dirty_row, any_key_hash> dirty_;
  // Changes sent to memcached whose answer was lost (it froze past the timeout): it may store
  // them when it resumes, unjournalled. The write-back settles them (resolve_uncertain).
  std::unordered_map<any_key, uncertain_row, any_key_hash> uncertain_;
  std::vector<std::pair<any_key, std::string>> rejected_;
  std::deque<std::pair<std::int64_t, std::int64_t>> blocks_;  // [next, end) of reserved keys
  bool flushing_ = false;
};

/// A key or lookup value as the core holds it.
template <class K>
any_key to_any_key(const K& k) {
  if constexpr (std::is_convertible_v<const K&, std::string_view>) {
    return any_key(std::in_place_index<1>, std::string(k));
  } else {
    return any_key(std::in_place_index<0>, static_cast<std::int64_t>(k));
  }
}

template <class K>
K from_any_key(const any_key& k) {
  if constexpr (std::is_convertible_v<const K&, std::string_view>) {
    return std::get<1>(k);
  } else {
    return static_cast<K>(std::get<0>(k));
  }
}

template <class T, class... L>
constexpr std::array<lookup_ops, sizeof...(L)> make_lookups(std::tuple<L...>*) {
  return {lookup_ops{L::name, &L::sql,
                     [](const void* r) { return to_any_key(L::of(*static_cast<const typename T::row*>(r))); }}...};
}

template <class L, class... Ls>
constexpr std::size_t lookup_index(std::tuple<Ls...>*) {
  constexpr bool same[] = {std::is_same_v<L, Ls>..., false};
  for (std::size_t i = 0; i < sizeof...(Ls); ++i)
    if (same[i]) return i;
  return sizeof...(Ls);
}

/// The row operations of table `T`.
template <table_traits T>
struct row_ops_of {
  using row = typename T::row;
  using key_type = typename T::key_type;
  static constexpr auto lookups = make_lookups<T>(static_cast<typename T::lookups*>(nullptr));
  static void destroy(void* p) { delete static_cast<row*>(p); }
  static inline const row_ops ops{
      T::name,
      T::generated_key,
      T::flush_interval,
      T::flush_batch,
      std::span<const table_sql>(T::sql),
      std::span<const column_sql>(T::columns),
      std::span<const lookup_ops>(lookups),
      [] { return row_ptr(new row(), &destroy); },
      [](const void* r) { return row_ptr(new row(*static_cast<const row*>(r)), &destroy); },
      [](std::uint64_t version, const void* r) { return cache_entry::make(version, static_cast<const row*>(r)); },
      [](const cache_entry& e, void* out) { return e.decode(*static_cast<row*>(out)); },
      [](const void* r) { return to_any_key(T::key_of(*static_cast<const row*>(r))); },
      [](void* r, std::int64_t k) {
        if constexpr (T::generated_key) T::set_key(*static_cast<row*>(r), k);
        else (void)r, (void)k;
      },
      [](const void* r, std::uint64_t version) { return row_values<T>(*static_cast<const row*>(r), version); },
      [](odbc::cursor& cur, void* out) {
        auto [r, v] = read_row<T>(cur);
        *static_cast<row*>(out) = std::move(r);
        return v;
      },
      [](odbc::cursor& cur, std::size_t col) { return to_any_key(cur.template get<key_type>(col)); },
      [](std::string_view text) -> std::optional<any_key> {
        auto k = parse_key<key_type>(text);
        if (!k) return std::nullopt;
        return to_any_key(*k);
      },
  };
};

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
class table final {
 public:
  using row = typename T::row;
  using key_type = typename T::key_type;

  explicit table(store& s) : core_(s, detail::row_ops_of<T>::ops) {}
  table(const table&) = delete;
  table& operator=(const table&) = delete;

  std::string_view name() const noexcept { return T::name; }

  /// The row with key `k`, or nullopt if there is none.
  asio::awaitable<std::optional<row>> get(key_type k) {
    co_return take(co_await core_.get(detail::to_any_key(k)));
  }

  /// The rows of `keys`, in their order (nullopt where there is none): one multi-get, then the
  /// database for the misses.
  asio::awaitable<std::vector<std::optional<row>>> get_many(std::vector<key_type> keys) {
    std::vector<detail::any_key> ks;
    ks.reserve(keys.size());
    for (const auto& k : keys) ks.push_back(detail::to_any_key(k));
    auto rows = co_await core_.get_many(std::move(ks));
    std::vector<std::optional<row>> out;
    out.reserve(rows.size());
    for (auto& r : rows) out.push_back(take(std::move(r)));
    co_return out;
  }

  /// Applies `fn(row&)` to the row with key `k` and stores it if no one changed the row
  /// meanwhile, else reads it again and retries. Returns the row as stored. Throws
  /// `data_error` `not_found` (no such row) or `contention` (every attempt lost).
  template <class Fn>
  asio::awaitable<row> update(key_type k, Fn fn) {
    auto apply = [](void* ctx, void* r) { (*static_cast<Fn*>(ctx))(*static_cast<row*>(r)); };
    co_return std::move(*take(co_await core_.update(detail::to_any_key(k), apply, &fn)));
  }

  /// Inserts `r`. With generated keys, ember sets its key (unique across processes and
  /// restarts); otherwise a row with that key must not exist (`data_error` constraint).
  asio::awaitable<row> insert(row r) {
    detail::row_ptr p(new row(std::move(r)), &detail::row_ops_of<T>::destroy);
    co_return std::move(*take(co_await core_.insert(std::move(p))));
  }

  /// A generated key for a later `insert_at`, unique like those `insert` sets. With it, a row's
  /// key can be recorded elsewhere (a list of rows, a parent row) *before* the row exists: a
  /// failure in between then leaves a key that names no row — which the holder of the list can
  /// detect and fill — never a row that nothing names.
  asio::awaitable<key_type> reserve_key() requires T::generated_key {
    co_return static_cast<key_type>(co_await core_.reserve_key());
  }

  /// Inserts `r` under the key it carries (from `reserve_key()` for a generated-key table).
  /// A row with that key must not exist (`data_error` constraint).
  asio::awaitable<row> insert_at(row r) {
    detail::row_ptr p(new row(std::move(r)), &detail::row_ops_of<T>::destroy);
    co_return std::move(*take(co_await core_.insert(std::move(p), true)));
  }

  /// Deletes the row with key `k`; false if there was none.
  asio::awaitable<bool> remove(key_type k) { return core_.remove(detail::to_any_key(k)); }

  /// The rows whose lookup column `L` (a `T::lookup`) equals `value`, including rows inserted
  /// or deleted through the cache and not yet written back.
  template <class L>
  asio::awaitable<std::vector<row>> find(typename L::value_type value) {
    constexpr auto i = detail::lookup_index<L>(static_cast<typename T::lookups*>(nullptr));
    static_assert(i < std::tuple_size_v<typename T::lookups>, "find<L>: L is not a lookup of this table");
    auto keys = co_await core_.lookup_keys(i, detail::to_any_key(value));
    std::vector<row> out;
    if (keys.empty()) co_return out;
    auto rows = co_await core_.get_many(std::move(keys));
    for (auto& p : rows) {
      auto r = take(std::move(p));
      if (r && L::of(*r) == value) out.push_back(std::move(*r));  // a stale list entry is skipped
    }
    co_return out;
  }

  /// Rows that the database refused (a constraint), set aside and logged; not retried.
  const std::vector<std::pair<key_type, std::string>>& rejected() const noexcept {
    const auto& all = core_.rejected();
    while (rejected_.size() < all.size()) {
      const auto& [k, why] = all[rejected_.size()];
      rejected_.emplace_back(detail::from_any_key<key_type>(k), why);
    }
    return rejected_;
  }

 private:
  template <table_traits>
  friend class detail::tx_row_of;

  static std::optional<row> take(detail::row_ptr p) {
    if (!p) return std::nullopt;
    return std::move(*static_cast<row*>(p.get()));
  }

  detail::table_core core_;
  mutable std::vector<std::pair<key_type, std::string>> rejected_;  // core_.rejected(), typed
};

}  // namespace ember::data

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/data/impl/table.hpp"
#endif
