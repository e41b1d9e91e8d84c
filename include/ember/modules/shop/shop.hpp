// ember's shop module (docs/modules/shop.md): a catalogue from game data (hot reloadable)
// priced in wallet currencies; per-player purchase limits that reset daily, weekly or never in
// the shop's time zone; sales with time windows; a purchase debits the wallet and grants the
// items (and currencies) in ONE transaction, once per purchase id; app-store receipts checked
// by a verifier the game implements, each recorded once, granted through the same path.
//
//   ember::app::data_slot<ember::modules::shop::catalogue> products{"data/shop.json"};
//   products.reload();
//   ember::modules::shop::service shop(store, bus, wallet, inventory, products, options);
//   shop.on().verify = my_store_verifier;  // receipts: the game's call to its stores
//   ember::modules::shop::handler commands(shop);
//   ember_shop::register_commands(table, commands);
//   co_await shop.buy(player, "tap-17", "potion_pack");
//
// The purchase row (key PLAYER:PURCHASE_ID), the limit's count for the period, the wallet's
// change set and the inventory's grant are one change_set: all stored or none, and a retry
// finds the purchase applied and returns its first result.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "ember/app/game_data.hpp"
#include "ember/data/transaction.hpp"
#include "ember/modules/events.hpp"
#include "ember/modules/inventory/inventory.hpp"
#include "ember/modules/shop/detail/ember_shop.hpp"
#include "ember/modules/shop/detail/ember_shop_server.hpp"
#include "ember/modules/shop/pricing.hpp"
#include "ember/modules/wallet/wallet.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::app {
class module_options;  // ember/app/module_options.hpp
}

namespace ember::modules::shop {

/// The catalogue: the game data's products by id (a JSON array of `ember_shop::product`).
using catalogue = app::data_table<ember_shop::product, &ember_shop::product::id>;

/// The shop's limits (config.json's `modules.shop`).
struct options {
  std::int32_t utc_offset_minutes = 0;  ///< the time zone of daily and weekly resets (east of UTC)
  std::uint32_t week_starts = 1;        ///< the day a weekly limit resets: 0 Sunday .. 6 Saturday
  std::uint32_t page = 50;              ///< most offers per catalogue page (a larger limit is cut)
  std::size_t max_purchase_id = 32;     ///< code points of a client's purchase id
  std::size_t max_store = 16;           ///< code points of a receipt's store name
  std::size_t max_receipt = 16'384;     ///< code points of a receipt's data
  std::size_t max_transaction_id = 128; ///< code points of a store's transaction id (the verdict's)

  /// From config.json's `modules.shop` (the same names).
  static options read(app::module_options& o);
};

/// What a game plugs in. Each may be empty (no `verify`: receipts are refused, `no_verifier`).
struct hooks {
  /// Checks a receipt with its store (the network call is the game's) for `player`: valid or
  /// not, the store's transaction id, and the catalogue product it buys.
  std::function<asio::awaitable<ember_shop::verdict>(std::uint64_t player, const ember_shop::receipt&)> verify;
  /// After a purchase or a receipt is stored (the event `product_purchased` is already published).
  std::function<void(const ember_shop::product_purchased&)> on_purchased;
  /// Inside a purchase's transaction, every row locked and everything staged, just before the
  /// commit: may throw to refuse it; nothing is stored then (tests stop here).
  std::function<void(std::uint64_t player, const std::string& purchase)> before_commit;
  /// The time, in UTC ms (default the system's): sales and limit periods are read from it.
  std::function<std::int64_t()> clock;
};

/// The typed interface of the shop: what the game and other modules call.
class service {
 public:
  /// Makes the shop's tables on `store` (before `store.open()`). Purchases debit and grant
  /// through `wallet` and `inventory`, which must be on the same store; products come from
  /// `products` (reloadable game data; each purchase uses one snapshot).
  service(data::store& store, event_bus& bus, wallet::service& wallet, inventory::service& inventory,
          const app::data_slot<catalogue>& products, options o = {}, hooks h = {})
      : store_(store), bus_(bus), wallet_(wallet), inventory_(inventory), products_(products),
        options_(std::move(o)), hooks_(std::move(h)), purchases_(store), limits_(store), receipts_(store) {}

  const options& config() const noexcept { return options_; }
  hooks& on() noexcept { return hooks_; }
  std::int64_t now_ms() const;

  /// The products `player` is offered now (hidden ones left out), in the data's order, after
  /// product `cursor` ("" from the first): up to `limit` (at most `page`; 0 a full page), each
  /// at its price now and with what is left of its limit. `bad_cursor`.
  asio::awaitable<ember_shop::catalogue_reply> offers(std::uint64_t player, std::string cursor, std::uint32_t limit);

  /// Buys `product` for `player` at its price now, once per `purchase_id` (the player's own:
  /// ids of different players never meet): a retry returns the first result with `applied`
  /// false, whatever product it names. `unknown_product`, `not_for_sale` (no prices: store
  /// receipts only), `limit_reached`, `insufficient_funds`, `no_room`, `bad_product`, `bad_text`.
  asio::awaitable<ember_shop::purchase_result> buy(std::uint64_t player, std::string purchase_id, std::string product);

  /// Grants the product of an app-store receipt to `player` once the verifier accepts it,
  /// through the same transaction as a purchase (no price, no limit: the store took the
  /// money). Each receipt (store and transaction id) is recorded once: a second redeem, by
  /// anyone, is `receipt_used`. `no_verifier`, `receipt_invalid`, `unknown_product`,
  /// `no_room`, `bad_product`, `bad_text`.
  asio::awaitable<ember_shop::purchase_result> redeem(std::uint64_t player, ember_shop::receipt r);

 private:
  struct plan;  // what one purchase stores (impl/)

  /// Stores a purchase: the purchase row, the limit's count, `extra` rows (a receipt's), the
  /// wallet's change set and the inventory's grant, one transaction, retried when stale.
  asio::awaitable<ember_shop::purchase_result> apply(std::shared_ptr<const plan> p);

  /// The product's currencies and item counts as the wallet and the inventory accept them.
  void validate(const ember_shop::product& p) const;
  /// A refusal of the wallet or the inventory during a purchase, as the shop's own error.
  [[noreturn]] static void rethrow_as_shop_error(const game_error& e);

  data::store& store_;
  event_bus& bus_;
  wallet::service& wallet_;
  inventory::service& inventory_;
  const app::data_slot<catalogue>& products_;
  options options_;
  hooks hooks_;
  data::table<ember_shop::shop_purchase_table> purchases_;
  data::table<ember_shop::shop_limit_table> limits_;
  data::table<ember_shop::shop_receipt_table> receipts_;
};

/// The shop's client commands, for the signed-in player.
class handler final : public ember_shop::shop_handler {
 public:
  explicit handler(service& s) : service_(s) {}

  asio::awaitable<ember_shop::catalogue_reply> catalogue(net::session& s,
                                                         const ember_shop::catalogue_request& r) override;
  asio::awaitable<ember_shop::buy_reply> buy(net::session& s, const ember_shop::buy_request& r) override;
  asio::awaitable<ember_shop::redeem_receipt_reply> redeem_receipt(
      net::session& s, const ember_shop::redeem_receipt_request& r) override;

 private:
  static std::uint64_t signed_in(net::session& s);

  service& service_;
};

}  // namespace ember::modules::shop

#if defined(EMBER_SEPARATE_COMPILATION)
// Registering the module's commands compiles once, in its library (impl/src.hpp), not in
// every file that registers them.
extern template void ember_shop::register_commands<0>(ember::net::dispatch_table&,
    ember_shop::shop_handler&);
#else
#include "ember/modules/shop/impl/shop.hpp"
#endif
