// ember's wallet module (docs/modules/wallet.md): several currencies per player; a change set
// over several players and currencies (a reward, a purchase, a trade) is stored all together
// or not at all, never takes a balance below zero, applies once per operation id, and leaves
// one ledger row per change with its reason.
//
//   ember::modules::wallet::service wallet(store, bus, players, options);
//   ember::modules::wallet::handler commands(wallet);
//   ember_wallet::register_commands(table, commands);
//   co_await wallet.change("quest:42:7", {{player, "gold", 100}}, "quest reward");
//
// Another module (mail) adds a wallet change to its own transaction with `stage`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "ember/codec/codec.hpp"
#include "ember/data/transaction.hpp"
#include "ember/modules/events.hpp"
#include "ember/modules/players.hpp"
#include "ember/separate_compilation.hpp"
#include "ember/modules/wallet/detail/ember_wallet.hpp"
#include "ember/modules/wallet/detail/ember_wallet_server.hpp"

namespace ember::app {
class module_options;  // ember/app/module_options.hpp
}

namespace ember::modules::wallet {

/// A currency a game has, and its optional cap.
struct currency {
  std::string name;
  std::int64_t max_balance = 0;  ///< 0: no maximum
};

/// The wallet's limits (config.json's `modules.wallet`).
struct options {
  std::vector<currency> currencies{{"gold", 0}};
  std::size_t max_changes = 32;     ///< entries of one change set
  std::size_t max_op_id = 64;       ///< code points of an operation id
  std::size_t max_reason = 64;      ///< code points of a reason
  std::uint32_t ledger_page = 50;   ///< most ledger entries per page (a larger limit is cut)

  /// From config.json's `modules.wallet`: `"currencies": {"gold": 0, "gems": 100000}` (each
  /// with its maximum balance, 0 for none), `max_changes`, `max_op_id`, `max_reason`,
  /// `ledger_page`.
  static options read(app::module_options& o);
};

/// The typed interface of the wallet: what the game and other modules call.
class service {
 public:
  /// Makes the wallet's tables on `store` (before `store.open()`).
  service(data::store& store, event_bus& bus, players& to_players, options o = {})
      : store_(store), bus_(bus), players_(to_players), options_(std::move(o)),
        balances_(store), accounts_(store), ledger_(store), ops_(store) {}

  const options& config() const noexcept { return options_; }

  /// Applies `changes` (signed deltas of any players' currencies) together, once per `op`:
  /// a retry with the same `op` changes nothing and returns the first result (`applied`
  /// false). Refused (nothing changes): `insufficient_funds` if a balance would go below zero,
  /// `balance_cap` over a currency's maximum, `unknown_currency`, `bad_change` (empty, over
  /// `max_changes`, a zero delta, a player and currency twice), `bad_text` (op id, reason).
  asio::awaitable<ember_wallet::change_result> change(std::string op, std::vector<ember_wallet::change> changes,
                                                      std::string reason);

  /// Adds the change set to `tx` (another module's transaction): reads what it needs, then
  /// adds its rows and a step; `out` is set when the transaction runs. Run `tx` with
  /// `data::transact_retrying`: a step finds out when what this read changed meanwhile.
  asio::awaitable<void> stage(data::change_set& tx, const std::string& op,
                              std::vector<ember_wallet::change> changes, const std::string& reason,
                              ember_wallet::change_result& out);

  /// `player`'s balance of every currency of the options (0 where it never changed).
  asio::awaitable<std::vector<ember_wallet::balance>> balances(std::uint64_t player);

  /// `player`'s balance of `currency_name` (`unknown_currency` if the options lack it).
  asio::awaitable<std::int64_t> balance(std::uint64_t player, std::string currency_name);

  /// `player`'s ledger, newest first: up to `limit` entries (at most `ledger_page`; 0: a full
  /// page) below sequence `cursor` (0: from the newest). `next_cursor` is 0 at the end.
  asio::awaitable<ember_wallet::ledger_reply> ledger(std::uint64_t player, std::int64_t cursor, std::uint32_t limit);

 private:
  bool known(std::string_view name) const;
  std::int64_t max_balance(std::string_view name) const;

  void validate(const std::string& op, const std::vector<ember_wallet::change>& changes, const std::string& reason) const;

  data::store& store_;
  event_bus& bus_;
  players& players_;
  options options_;
  data::table<ember_wallet::wallet_balance_table> balances_;
  data::table<ember_wallet::wallet_account_table> accounts_;
  data::table<ember_wallet::wallet_ledger_table> ledger_;
  data::table<ember_wallet::wallet_op_table> ops_;
};

/// The wallet's client commands: the signed-in player's own balances and ledger. A client
/// never changes a balance itself; the game and other modules do, through the service.
class handler final : public ember_wallet::wallet_handler {
 public:
  explicit handler(service& s) : service_(s) {}

  asio::awaitable<ember_wallet::balance_reply> balance(net::session& s, const ember_wallet::balance_request&) override;

  asio::awaitable<ember_wallet::ledger_reply> ledger(net::session& s, const ember_wallet::ledger_request& req) override;

 private:
  static std::uint64_t signed_in(net::session& s);

  service& service_;
};

}  // namespace ember::modules::wallet

#if defined(EMBER_SEPARATE_COMPILATION)
// Registering the module's commands compiles once, in its library (impl/src.hpp), not in
// every file that registers them.
extern template void ember_wallet::register_commands<0>(ember::net::dispatch_table&,
    ember_wallet::wallet_handler&);
#else
#include "ember/modules/wallet/impl/wallet.hpp"
#endif
