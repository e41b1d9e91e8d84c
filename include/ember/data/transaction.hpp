// ember: changes of several rows — a trade, a mail with an attachment — made all together or
// not at all, also against writers in other processes.
//
// How: the rows are locked in one global order (table name, then key), each by a
// compare-and-swap that marks its cache entry locked until a lease ends; other writers and
// readers wait for the lock. With every row locked, the change function runs once, and the new
// rows are written to the database in ONE transaction, each as its version + 1. Only then are
// the cache entries replaced and unlocked. A process that dies in between leaves locked entries
// whose lease passes: the next reader looks at the database — version + 1 there means the
// transaction committed (the row is reloaded), anything else means it did not (the lock is
// dropped, the row is as it was). Either way every row is on the same side.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <optional>
#include <span>
#include <tuple>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "ember/data/table.hpp"

namespace ember::data {

/// One row of a transaction: a table and a key (`at(players, id)`).
template <table_traits T>
struct row_ref {
  table<T>& rows;
  typename T::key_type key;
};

template <table_traits T>
row_ref<T> at(table<T>& rows, typename T::key_type key) {
  return {rows, std::move(key)};
}

/// How long the rows of a transaction stay locked at most. The change must be committed with
/// at least half of it left, or it is abandoned (`contention`) rather than risk a resolver
/// deciding for it.
inline constexpr std::chrono::milliseconds transaction_lease{5000};

namespace detail {

/// A row of a running transaction, whatever its table (so the steps below are plain loops).
class tx_row {
 public:
  virtual ~tx_row() = default;
  virtual const std::string& order() const noexcept = 0;
  virtual asio::awaitable<void> lock(std::uint64_t lease_until_ms) = 0;
  virtual asio::awaitable<void> unlock() = 0;
  virtual std::pair<std::string_view, std::vector<odbc::value>> commit_statement() const = 0;
  virtual asio::awaitable<void> finish() = 0;
};

template <table_traits T>
class tx_row_of final : public tx_row {
 public:
  explicit tx_row_of(row_ref<T> ref)
      : ref_(std::move(ref)), order_(std::string(T::name) + '\0' + key_text(ref_.key)) {}
  const std::string& order() const noexcept override { return order_; }
  asio::awaitable<void> lock(std::uint64_t lease_until_ms) override {
    locked_ = co_await core().lock(detail::to_any_key(ref_.key), lease_until_ms);
    after = *static_cast<const typename T::row*>(locked_->value.get());
  }
  asio::awaitable<void> unlock() override {
    if (locked_) co_await core().unlock(detail::to_any_key(ref_.key), *locked_);
    locked_.reset();
  }
  std::pair<std::string_view, std::vector<odbc::value>> commit_statement() const override {
    return ref_.rows.core_.commit_statement(*locked_, &after);
  }
  asio::awaitable<void> finish() override {
    co_await core().finish(detail::to_any_key(ref_.key), *locked_, &after);
    locked_.reset();
  }

  typename T::row after;  ///< what the change function sees and changes

 private:
  table_core& core() const noexcept { return ref_.rows.core_; }

  row_ref<T> ref_;
  std::string order_;
  std::optional<table_core::locked_row> locked_;
};

}  // namespace detail

namespace detail {

/// Locks `rows` in the global order, runs `change()`, commits every row in one database
/// transaction and unlocks them (the work of both `transact`s). `rows` must be distinct.
inline asio::awaitable<void> commit_rows(store& s, std::vector<tx_row*> order, const std::function<void()>& change) {
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->order() < b->order(); });
  for (std::size_t i = 1; i < order.size(); ++i)
    if (order[i]->order() == order[i - 1]->order()) throw std::invalid_argument("transact: a row is named twice");

  // First this process's other transactions on these rows finish (they wait their turn here,
  // in the same global order, instead of polling the locks in memcached); then the lease.
  struct turns {
    row_queue& queue;
    const std::vector<tx_row*>& rows;
    std::size_t held = 0;
    ~turns() {
      for (std::size_t i = 0; i < held; ++i) queue.release(rows[i]->order());
    }
  } turns{s.row_turns(), order};
  for (auto* r : order) {
    co_await turns.queue.acquire(r->order());
    ++turns.held;
  }

  const auto lease_until = unix_ms() + static_cast<std::uint64_t>(transaction_lease.count());
  // Journalled first: if this process dies holding the locks, its next run settles them at
  // start-up rather than leaving them to the lease (store::journal_locks).
  struct journalled {
    store& s;
    std::uint64_t id;
    ~journalled() { s.locks_settled(id); }
  } journalled{s, s.journal_locks(lease_until, [&] {
    std::vector<std::string_view> rows;
    for (auto* r : order) rows.push_back(r->order());
    return rows;
  }())};
  std::exception_ptr failed;
  bool outcome_unknown = false;
  try {
    for (auto* r : order) co_await r->lock(lease_until);  // in the global order: no deadlock
    change();
    if (unix_ms() + static_cast<std::uint64_t>(transaction_lease.count()) / 2 > lease_until)
      throw data_error(data_errc::contention, "transaction: half its lease passed before the commit");
    std::vector<std::pair<std::string_view, std::vector<odbc::value>>> writes;
    for (auto* r : order) writes.push_back(r->commit_statement());
    try {
      auto job = [writes = std::move(writes)](odbc::connection& c) {  // named: see table.hpp
        for (const auto& [sql, params] : writes)
          if (c.prepare(sql).execute(std::span<const odbc::value>(params)) != 1)
            throw data_error(data_errc::contention, "transaction: the database holds a newer version of a row");
      };
      co_await s.db().transaction(std::move(job));
    } catch (const data_error& e) {
      // A connection lost during the commit may or may not have committed: the rows stay
      // locked, and whoever finds the lease passed decides from the database. The caller
      // hears "outcome unknown", not the transient "unavailable" (which means "not run").
      if (e.code() != data_errc::connection_lost) throw;
      outcome_unknown = true;
      throw data_error(data_errc::outcome_unknown, std::string("transaction: the commit's answer was lost: ") + e.what());
    }
  } catch (...) {
    failed = std::current_exception();
  }
  if (failed) {
    if (!outcome_unknown)
      for (auto* r : order) co_await r->unlock();
    std::rethrow_exception(failed);
  }
  // Committed. Replacing the locked cache entries can fail now (memcached out of reach): the
  // rows then stay locked until their lease passes, and the next reader reloads the committed
  // version from the database. The change is made; what failed is telling the caller so.
  std::optional<data_error> unfinished;
  for (auto* r : order) {
    try {
      co_await r->finish();  // each row its new version, unlocked
    } catch (const data_error& e) {
      if (!unfinished) unfinished = e;
    }
  }
  if (unfinished)
    throw data_error(data_errc::outcome_unknown,
                     std::string("transaction: committed, its cached rows not yet replaced: ") + unfinished->what());
}

}  // namespace detail

/// Applies `fn(row&...)` to the rows `refs` together: all the changes are stored, or none.
/// `fn` runs once, with every row locked; it may throw (e.g. a `game_error` for too little
/// gold) to abandon the transaction. Throws `data_error` not_found if a row does not exist.
/// The rows must be distinct.
template <class Fn, table_traits... T>
asio::awaitable<void> transact(store& s, Fn fn, row_ref<T>... refs) {
  std::tuple<detail::tx_row_of<T>...> rows{detail::tx_row_of<T>(std::move(refs))...};
  std::vector<detail::tx_row*> order = std::apply([](auto&... r) { return std::vector<detail::tx_row*>{&r...}; }, rows);
  const std::function<void()> change = [&] { std::apply([&](auto&... r) { fn(r.after...); }, rows); };
  co_await detail::commit_rows(s, std::move(order), change);  // named: see table.hpp
}

// --- transactions over rows known only at run time (a trade among N players, a grant of
// several items), which several modules can build together:
//
//   ember::data::change_set tx;
//   co_await wallet.stage(tx, ...);            // each adds its rows and a step
//   co_await inventory.stage(tx, ...);
//   auto claim = tx.row(claims, id);           // a handle, valid inside the steps
//   tx.step([&] { if (claim->claimed) fail(...); claim->claimed = true; });
//   co_await ember::data::transact(store, tx); // the steps run once, every row locked

/// What a step throws when a value read before the rows were locked has changed meanwhile
/// (a row the change depends on but did not lock): `transact_retrying` builds the change again.
struct stale_read : std::runtime_error {
  stale_read() : std::runtime_error("transaction: what it was built from changed; build it again") {}
};

/// A row of a change_set: inside a step, the row as the transaction will store it.
template <table_traits T>
class tx_handle {
 public:
  tx_handle() = default;
  typename T::row& operator*() const noexcept { return row_->after; }
  typename T::row* operator->() const noexcept { return &row_->after; }

 private:
  friend class change_set;
  explicit tx_handle(detail::tx_row_of<T>* r) : row_(r) {}
  detail::tx_row_of<T>* row_ = nullptr;
};

/// Rows, steps that change them, and what to do once they are stored: one transaction.
class change_set {
 public:
  change_set() = default;
  change_set(const change_set&) = delete;
  change_set& operator=(const change_set&) = delete;

  /// Row `key` of `rows` in the transaction (the same handle if it is already in).
  template <table_traits T>
  tx_handle<T> row(table<T>& rows, typename T::key_type key) {
    auto r = std::make_unique<detail::tx_row_of<T>>(at(rows, std::move(key)));
    for (auto& have : rows_)
      if (have->order() == r->order()) return tx_handle<T>(static_cast<detail::tx_row_of<T>*>(have.get()));
    auto* p = r.get();
    rows_.push_back(std::move(r));
    return tx_handle<T>(p);
  }
  /// Runs with every row locked, after the steps added before it; may throw to abandon all.
  void step(std::function<void()> fn) { steps_.push_back(std::move(fn)); }
  /// Runs after the transaction is stored (events, pushes), in the order added.
  void on_commit(std::function<void()> fn) { committed_.push_back(std::move(fn)); }
  std::size_t size() const noexcept { return rows_.size(); }

 private:
  friend asio::awaitable<void> transact(store& s, change_set& tx);
  std::vector<std::unique_ptr<detail::tx_row>> rows_;
  std::vector<std::function<void()>> steps_;
  std::vector<std::function<void()>> committed_;
};

/// Stores the changes of `tx` all together or not at all; then runs its `on_commit`s.
inline asio::awaitable<void> transact(store& s, change_set& tx) {
  std::vector<detail::tx_row*> order;
  for (auto& r : tx.rows_) order.push_back(r.get());
  const std::function<void()> change = [&] {
    for (auto& fn : tx.steps_) fn();
  };
  co_await detail::commit_rows(s, std::move(order), change);  // named: see table.hpp
  for (auto& fn : tx.committed_) fn();
}

/// Builds a change_set with `build(tx)` (a coroutine that reads, then adds rows and steps) and
/// stores it; builds it again when a step throws `stale_read`, or a row it named was deleted
/// meanwhile (`data_error` not_found, rethrown on the last attempt), up to `attempts` times,
/// then throws `data_error` contention.
template <class Build>
asio::awaitable<void> transact_retrying(store& s, Build build, int attempts = 50) {
  for (int attempt = 0; attempt < attempts; ++attempt) {
    bool stale = false;
    {
      change_set tx;
      co_await build(tx);
      try {
        co_await transact(s, tx);
        co_return;
      } catch (const stale_read&) {
        stale = true;
      } catch (const data_error& e) {
        if (e.code() != data_errc::not_found || attempt + 1 == attempts) throw;
        stale = true;
      }
    }
    if (stale) co_await detail::retry_backoff(attempt);
  }
  throw data_error(data_errc::contention, "transaction: what it was built from kept changing");
}

/// `transact` for a number of rows of one table known only at run time (a batch of a player's
/// storage objects): `fn(std::span<T::row> many_rows, U::row&... fixed_rows)` sees the rows of
/// `many` in their order, then those of `fixed`. Same promise and rules as `transact`.
template <class Fn, table_traits T, table_traits... U>
asio::awaitable<void> transact_many(store& s, Fn fn, std::vector<row_ref<T>> many, row_ref<U>... fixed) {
  std::vector<std::unique_ptr<detail::tx_row_of<T>>> var;
  var.reserve(many.size());
  for (auto& r : many) var.push_back(std::make_unique<detail::tx_row_of<T>>(std::move(r)));
  std::tuple<detail::tx_row_of<U>...> rows{detail::tx_row_of<U>(std::move(fixed))...};
  std::vector<detail::tx_row*> order;
  for (auto& v : var) order.push_back(v.get());
  std::apply([&](auto&... r) { (order.push_back(&r), ...); }, rows);
  const std::function<void()> change = [&] {
    std::vector<typename T::row> after;
    after.reserve(var.size());
    for (auto& v : var) after.push_back(v->after);
    std::apply([&](auto&... r) { fn(std::span<typename T::row>(after), r.after...); }, rows);
    for (std::size_t i = 0; i < var.size(); ++i) var[i]->after = std::move(after[i]);
  };
  co_await detail::commit_rows(s, std::move(order), change);  // named: see table.hpp
}

}  // namespace ember::data
