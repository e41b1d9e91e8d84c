// ember: bodies of the wallet module (included by ember/modules/wallet/wallet.hpp, or compiled
// once into libember-wallet with EMBER_SEPARATE_COMPILATION).
#pragma once

#include "ember/modules/wallet/wallet.hpp"

#include <algorithm>
#include <memory>
#include <set>

#include "ember/app/module_options.hpp"
#include "ember/modules/detail/rows.hpp"
#include "ember/modules/text.hpp"

namespace ember::modules::wallet {

namespace detail {

inline std::string balance_key(std::uint64_t player, std::string_view currency) {
  return std::to_string(player) + ':' + std::string(currency);
}
inline std::string ledger_key(std::uint64_t player, std::int64_t seq) {
  return std::to_string(player) + ':' + std::to_string(seq);
}

}  // namespace detail

EMBER_DECL options options::read(app::module_options& o) {
  options out;
  std::vector<std::pair<std::string, std::int64_t>> named;
  for (const auto& c : out.currencies) named.emplace_back(c.name, c.max_balance);
  out.currencies.clear();
  for (auto& [name, max] : o.integers_by_name("currencies", named)) out.currencies.push_back({name, max});
  out.max_changes = o.count("max_changes", static_cast<std::uint32_t>(out.max_changes), 1, 10'000);
  out.max_op_id = o.count("max_op_id", static_cast<std::uint32_t>(out.max_op_id), 8, 1024);
  out.max_reason = o.count("max_reason", static_cast<std::uint32_t>(out.max_reason), 1, 4096);
  out.ledger_page = o.count("ledger_page", out.ledger_page, 1, 10'000);
  o.done();
  return out;
}

EMBER_DECL asio::awaitable<ember_wallet::change_result> service::change(
    std::string op, std::vector<ember_wallet::change> changes, std::string reason) {
  ember_wallet::change_result out;
  co_await data::transact_retrying(store_, [&](data::change_set& tx) -> asio::awaitable<void> {
    co_await stage(tx, op, changes, reason, out);
  });
  co_return out;
}

EMBER_DECL asio::awaitable<void> service::stage(data::change_set& tx, const std::string& op,
                                             std::vector<ember_wallet::change> changes,
                                             const std::string& reason, ember_wallet::change_result& out) {
  validate(op, changes, reason);
  co_await modules::detail::insert_if_absent(ops_, ember_wallet::wallet_op(op, false));
  if (auto done = co_await ops_.get(op); done && done->applied) {  // a retry: the first result
    out = modules::detail::from_bytes<ember_wallet::change_result>(done->result, "wallet: a stored operation result");
    out.applied = false;
    co_return;
  }
  struct player_rows {
    std::uint64_t player;
    std::int64_t ledger_next;  // as read before locking
    data::tx_handle<ember_wallet::wallet_account_table> account;
  };
  struct state {
    std::vector<player_rows> players;
    std::vector<data::tx_handle<ember_wallet::wallet_balance_table>> balances;  // per change
    std::vector<data::tx_handle<ember_wallet::wallet_ledger_table>> ledger;     // per change
    std::vector<ember_wallet::change> changes;
    std::string op, reason;
    bool applied = false;
  };
  auto st = std::make_shared<state>();
  st->changes = std::move(changes);
  st->op = op;
  st->reason = reason;
  // Each player's account row (its ledger sequence) and balance rows exist before locking.
  std::vector<std::uint64_t> who;
  for (const auto& c : st->changes)
    if (std::find(who.begin(), who.end(), c.player) == who.end()) who.push_back(c.player);
  for (auto p : who) {
    co_await modules::detail::insert_if_absent(accounts_, ember_wallet::wallet_account(static_cast<std::int64_t>(p), 1));
    const auto acc = co_await accounts_.get(static_cast<std::int64_t>(p));
    st->players.push_back({p, acc ? acc->ledger_next : 1, tx.row(accounts_, static_cast<std::int64_t>(p))});
  }
  for (const auto& c : st->changes) {
    const auto key = detail::balance_key(c.player, c.currency);
    co_await modules::detail::insert_if_absent(balances_,
                                      ember_wallet::wallet_balance(key, static_cast<std::int64_t>(c.player), c.currency, 0));
    st->balances.push_back(tx.row(balances_, key));
  }
  // The ledger rows this change will fill: placeholders at the sequence numbers read above
  // (a step refuses them as stale if another change took those numbers meanwhile).
  for (auto& pr : st->players) {
    std::int64_t seq = pr.ledger_next;
    for (std::size_t i = 0; i < st->changes.size(); ++i) {
      if (st->changes[i].player != pr.player) continue;
      const auto key = detail::ledger_key(pr.player, seq);
      co_await modules::detail::insert_if_absent(ledger_, ember_wallet::wallet_ledger(key, static_cast<std::int64_t>(pr.player), seq));
      ++seq;
    }
  }
  st->ledger.resize(st->changes.size());
  for (auto& pr : st->players) {
    std::int64_t seq = pr.ledger_next;
    for (std::size_t i = 0; i < st->changes.size(); ++i)
      if (st->changes[i].player == pr.player) st->ledger[i] = tx.row(ledger_, detail::ledger_key(pr.player, seq++));
  }
  auto op_row = tx.row(ops_, op);
  tx.step([this, st, op_row, &out] {
    if (op_row->applied) {  // applied by a retry that got here first
      out = modules::detail::from_bytes<ember_wallet::change_result>(op_row->result, "wallet: a stored operation result");
      out.applied = false;
      return;
    }
    for (const auto& pr : st->players)
      if (pr.account->ledger_next != pr.ledger_next) throw data::stale_read();
    const auto now = static_cast<std::int64_t>(data::unix_ms());
    ember_wallet::change_result result;
    result.applied = true;
    for (std::size_t i = 0; i < st->changes.size(); ++i) {
      const auto& c = st->changes[i];
      auto& b = *st->balances[i];
      std::int64_t after = 0;
      if (__builtin_add_overflow(b.amount, c.delta, &after))
        ember_wallet::fail(c.delta < 0 ? ember_wallet::error::insufficient_funds : ember_wallet::error::balance_cap);
      if (after < 0) ember_wallet::fail(ember_wallet::error::insufficient_funds);
      if (const auto max = max_balance(c.currency); max > 0 && after > max && c.delta > 0)
        ember_wallet::fail(ember_wallet::error::balance_cap);
      b.amount = after;
      auto& l = *st->ledger[i];
      l.op = st->op;
      l.currency = c.currency;
      l.delta = c.delta;
      l.balance = after;
      l.reason = st->reason;
      l.at_ms = now;
      result.changes.emplace_back(c.player, c.currency, c.delta, after);
    }
    for (auto& pr : st->players)
      pr.account->ledger_next += static_cast<std::int64_t>(
          std::count_if(st->changes.begin(), st->changes.end(), [&](const auto& c) { return c.player == pr.player; }));
    op_row->applied = true;
    op_row->result = modules::detail::to_bytes(result);
    op_row->at_ms = now;
    out = std::move(result);
    st->applied = true;
  });
  tx.on_commit([this, st, &out] {
    if (!st->applied) return;
    for (const auto& c : out.changes) {
      bus_.publish(ember_wallet::currency_changed(c.player, c.currency, c.delta, c.balance, st->reason, st->op));
      players_.push(c.player, ember_wallet::balance_changed(c.currency, c.delta, c.balance, st->reason));
    }
  });
}

EMBER_DECL asio::awaitable<std::vector<ember_wallet::balance>> service::balances(std::uint64_t player) {
  std::vector<std::string> keys;
  for (const auto& c : options_.currencies) keys.push_back(detail::balance_key(player, c.name));
  auto rows = co_await balances_.get_many(keys);
  std::vector<ember_wallet::balance> out;
  for (std::size_t i = 0; i < rows.size(); ++i)
    out.emplace_back(options_.currencies[i].name, rows[i] ? rows[i]->amount : 0);
  co_return out;
}

EMBER_DECL asio::awaitable<std::int64_t> service::balance(std::uint64_t player, std::string currency_name) {
  if (!known(currency_name)) ember_wallet::fail(ember_wallet::error::unknown_currency);
  auto row = co_await balances_.get(detail::balance_key(player, currency_name));
  co_return row ? row->amount : 0;
}

EMBER_DECL asio::awaitable<ember_wallet::ledger_reply> service::ledger(std::uint64_t player, std::int64_t cursor, std::uint32_t limit) {
  if (cursor < 0) ember_wallet::fail(ember_wallet::error::bad_cursor);
  if (limit == 0 || limit > options_.ledger_page) limit = options_.ledger_page;
  const auto acc = co_await accounts_.get(static_cast<std::int64_t>(player));
  const std::int64_t next = acc ? acc->ledger_next : 1;
  const std::int64_t top = cursor > 0 ? std::min(cursor, next) : next;
  std::vector<std::string> keys;
  for (std::int64_t seq = top - 1; seq >= 1 && keys.size() < limit; --seq) keys.push_back(detail::ledger_key(player, seq));
  auto rows = co_await ledger_.get_many(keys);
  ember_wallet::ledger_reply out;
  for (auto& r : rows)
    if (r) out.entries.emplace_back(r->seq, r->op, r->currency, r->delta, r->balance, r->reason, r->at_ms);
  const auto lowest = top - static_cast<std::int64_t>(keys.size());
  out.next_cursor = lowest > 1 ? lowest : 0;
  co_return out;
}

EMBER_DECL bool service::known(std::string_view name) const {
  return std::any_of(options_.currencies.begin(), options_.currencies.end(), [&](const auto& c) { return c.name == name; });
}

EMBER_DECL std::int64_t service::max_balance(std::string_view name) const {
  for (const auto& c : options_.currencies)
    if (c.name == name) return c.max_balance;
  return 0;
}

EMBER_DECL void service::validate(const std::string& op, const std::vector<ember_wallet::change>& changes, const std::string& reason) const {
  if (check_text(op, options_.max_op_id) != text_problem::none ||
      check_text(reason, options_.max_reason, false, true) != text_problem::none)
    ember_wallet::fail(ember_wallet::error::bad_text);
  if (changes.empty() || changes.size() > options_.max_changes) ember_wallet::fail(ember_wallet::error::bad_change);
  std::set<std::pair<std::uint64_t, std::string_view>> seen;
  for (const auto& c : changes) {
    if (!known(c.currency)) ember_wallet::fail(ember_wallet::error::unknown_currency);
    if (c.delta == 0 || !seen.emplace(c.player, c.currency).second) ember_wallet::fail(ember_wallet::error::bad_change);
  }
}

EMBER_DECL asio::awaitable<ember_wallet::balance_reply> handler::balance(net::session& s, const ember_wallet::balance_request&) {
  co_return ember_wallet::balance_reply{co_await service_.balances(signed_in(s))};
}

EMBER_DECL asio::awaitable<ember_wallet::ledger_reply> handler::ledger(net::session& s, const ember_wallet::ledger_request& req) {
  co_return co_await service_.ledger(signed_in(s), req.cursor, req.limit);
}

EMBER_DECL std::uint64_t handler::signed_in(net::session& s) {
  const auto u = s.user();
  if (!u) ember_wallet::fail(ember_wallet::error::not_signed_in);
  return *u;
}

}  // namespace ember::modules::wallet
