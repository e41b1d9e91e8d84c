// ember: bodies of the shop module (included by ember/modules/shop/shop.hpp, or compiled once
// into libember-shop with EMBER_SEPARATE_COMPILATION).
#pragma once

#include "ember/modules/shop/shop.hpp"

#include <algorithm>
#include <climits>

#include <sodium.h>

#include "ember/app/module_options.hpp"
#include "ember/modules/detail/rows.hpp"
#include "ember/modules/text.hpp"

namespace ember::modules::shop {

namespace detail {

/// The row key of a receipt (and of its purchase): store and transaction id may be long, the
/// key of a cached row may not, so it is a 128-bit hash of them.
/// Code points of a product id (its rows' keys hold it: PLAYER:PRODUCT).
inline constexpr std::size_t max_product_id = 64;

inline std::string receipt_key(const std::string& store, const std::string& transaction_id) {
  const std::string both = store + ':' + transaction_id;
  unsigned char hash[16];
  crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(both.data()), both.size(), nullptr, 0);
  char hex[sizeof hash * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
  return "r:" + std::string(hex);
}

/// The wallet's change set of a purchase: the price debited, the product's currencies
/// credited, one signed delta per currency (a price and a grant in one currency net out).
inline std::vector<ember_wallet::change> wallet_changes(std::uint64_t player, const std::vector<ember_shop::price>& paid,
                                                        const std::vector<ember_shop::price>& granted) {
  std::vector<ember_wallet::change> out;
  const auto add = [&](const std::string& currency, std::int64_t delta) {
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& c) { return c.currency == currency; });
    if (it == out.end()) out.emplace_back(player, currency, delta);
    else it->delta += delta;
  };
  for (const auto& c : paid) add(c.currency, -c.amount);
  for (const auto& c : granted) add(c.currency, c.amount);
  std::erase_if(out, [](const auto& c) { return c.delta == 0; });
  return out;
}

inline std::vector<ember_inventory::grant_item> item_grants(const std::vector<ember_shop::product_item>& items) {
  std::vector<ember_inventory::grant_item> out;
  for (const auto& i : items) out.emplace_back(i.type, i.count, i.bound, 0);
  return out;
}

}  // namespace detail

/// What one purchase stores, decided before the transaction from one snapshot of the data.
struct service::plan {
  std::uint64_t player = 0;
  std::string purchase;     ///< the client's purchase id, or the receipt's key
  std::string key;          ///< the purchase row
  std::string op;           ///< the wallet's and the inventory's operation id
  std::string product;
  std::vector<ember_shop::price> paid, currencies;
  std::vector<ember_shop::product_item> items;
  std::uint32_t limit = 0;  ///< 0: not limited
  std::string limit_key;
  std::int64_t period = 0;
  std::string store, transaction_id;  ///< a receipt's
  std::int64_t now = 0;
};

EMBER_DECL options options::read(app::module_options& o) {
  options out;
  out.utc_offset_minutes = static_cast<std::int32_t>(o.integer("utc_offset_minutes", out.utc_offset_minutes, -14 * 60, 14 * 60));
  out.week_starts = o.count("week_starts", out.week_starts, 0, 6);
  out.page = o.count("page", out.page, 1, 10'000);
  out.max_purchase_id = o.count("max_purchase_id", static_cast<std::uint32_t>(out.max_purchase_id), 1, 38);
  out.max_store = o.count("max_store", static_cast<std::uint32_t>(out.max_store), 1, 64);
  out.max_receipt = o.count("max_receipt", static_cast<std::uint32_t>(out.max_receipt), 1, 1'000'000);
  out.max_transaction_id = o.count("max_transaction_id", static_cast<std::uint32_t>(out.max_transaction_id), 1, 1024);
  o.done();
  return out;
}

EMBER_DECL std::int64_t service::now_ms() const {
  return hooks_.clock ? hooks_.clock() : static_cast<std::int64_t>(data::unix_ms());
}

EMBER_DECL asio::awaitable<ember_shop::catalogue_reply> service::offers(std::uint64_t player, std::string cursor,
                                                                       std::uint32_t limit) {
  if (check_text(cursor, 256, false, true) != text_problem::none) ember_shop::fail(ember_shop::error::bad_cursor);
  if (limit == 0 || limit > options_.page) limit = options_.page;
  const auto products = products_.current();  // one snapshot for the whole page
  const auto& rows = products->rows();
  std::size_t i = 0;
  if (!cursor.empty()) {
    const auto* after = products->find(cursor);
    if (!after || after->hidden) ember_shop::fail(ember_shop::error::bad_cursor);
    i = static_cast<std::size_t>(after - rows.data()) + 1;
  }
  const auto now = now_ms();
  ember_shop::catalogue_reply out;
  std::vector<std::string> limit_keys;
  std::vector<std::size_t> limited;  // offers with a limit, in limit_keys' order
  for (; i < rows.size(); ++i) {
    const auto& p = rows[i];
    if (p.hidden) continue;
    if (out.offers.size() == limit) {
      out.next_cursor = out.offers.back().product;
      break;
    }
    ember_shop::offer o;
    o.product = p.id;
    o.prices = price_at(p, now);
    o.items = p.items;
    o.currencies = p.currencies;
    if (const auto* s = running_sale(p, now)) {
      o.on_sale = true;
      o.sale_ends_ms = s->ends_ms;
    }
    o.limit = o.left = p.limit;
    if (p.limit > 0) {
      o.resets_at_ms = resets_at(p.reset, now, options_.utc_offset_minutes, options_.week_starts);
      limit_keys.push_back(std::to_string(player) + ':' + p.id);
      limited.push_back(out.offers.size());
    }
    out.offers.push_back(std::move(o));
  }
  if (!limit_keys.empty()) {
    const auto counts = co_await limits_.get_many(limit_keys);
    for (std::size_t k = 0; k < counts.size(); ++k) {
      auto& o = out.offers[limited[k]];
      const auto* p = products->find(o.product);
      const auto period = period_of(p->reset, now, options_.utc_offset_minutes, options_.week_starts);
      if (counts[k] && counts[k]->period == period)
        o.left = static_cast<std::uint32_t>(std::max<std::int64_t>(0, std::int64_t{o.limit} - counts[k]->bought));
    }
  }
  co_return out;
}

EMBER_DECL asio::awaitable<ember_shop::purchase_result> service::buy(std::uint64_t player, std::string purchase_id,
                                                                    std::string product) {
  if (check_text(purchase_id, options_.max_purchase_id) != text_problem::none ||
      check_text(product, detail::max_product_id) != text_problem::none)
    ember_shop::fail(ember_shop::error::bad_text);
  if (player == 0 || player > static_cast<std::uint64_t>(INT64_MAX)) ember_shop::fail(ember_shop::error::not_signed_in);
  const auto products = products_.current();
  const auto* p = products->find(product);
  if (!p) ember_shop::fail(ember_shop::error::unknown_product);
  if (p->prices.empty()) ember_shop::fail(ember_shop::error::not_for_sale);
  auto pl = std::make_shared<plan>();
  pl->player = player;
  pl->now = now_ms();
  pl->purchase = purchase_id;
  pl->key = std::to_string(player) + ':' + purchase_id;
  pl->op = "shop:" + pl->key;
  pl->product = p->id;
  pl->paid = price_at(*p, pl->now);
  pl->currencies = p->currencies;
  pl->items = p->items;
  validate(*p);
  if (p->limit > 0) {
    pl->limit = p->limit;
    pl->limit_key = std::to_string(player) + ':' + p->id;
    pl->period = period_of(p->reset, pl->now, options_.utc_offset_minutes, options_.week_starts);
  }
  co_return co_await apply(std::move(pl));
}

EMBER_DECL asio::awaitable<ember_shop::purchase_result> service::redeem(std::uint64_t player, ember_shop::receipt r) {
  if (check_text(r.store, options_.max_store) != text_problem::none ||
      check_text(r.data, options_.max_receipt) != text_problem::none)
    ember_shop::fail(ember_shop::error::bad_text);
  if (player == 0 || player > static_cast<std::uint64_t>(INT64_MAX)) ember_shop::fail(ember_shop::error::not_signed_in);
  if (!hooks_.verify) ember_shop::fail(ember_shop::error::no_verifier);
  const auto verdict = co_await hooks_.verify(player, r);
  if (!verdict.valid || check_text(verdict.transaction_id, options_.max_transaction_id) != text_problem::none)
    ember_shop::fail(ember_shop::error::receipt_invalid);
  const auto products = products_.current();
  const auto* p = products->find(verdict.product);
  if (!p) ember_shop::fail(ember_shop::error::unknown_product);
  validate(*p);
  auto pl = std::make_shared<plan>();
  pl->player = player;
  pl->now = now_ms();
  pl->key = detail::receipt_key(r.store, verdict.transaction_id);
  pl->purchase = pl->key;
  pl->op = "shop:" + pl->key;
  pl->product = p->id;
  pl->currencies = p->currencies;
  pl->items = p->items;
  pl->store = r.store;
  pl->transaction_id = verdict.transaction_id;
  if (auto used = co_await receipts_.get(pl->key); used && used->player != 0)
    ember_shop::fail(ember_shop::error::receipt_used);
  co_await modules::detail::insert_if_absent(receipts_, ember_shop::shop_receipt(pl->key, 0, pl->store, "", 0,
                                                                                pl->transaction_id));
  co_return co_await apply(std::move(pl));
}

EMBER_DECL asio::awaitable<ember_shop::purchase_result> service::apply(std::shared_ptr<const plan> p) {
  ember_shop::purchase_result out;
  auto applied = std::make_shared<bool>(false);
  ember_wallet::change_result paid;
  ember_inventory::op_result given;
  const bool receipt = !p->store.empty();
  try {
    co_await data::transact_retrying(store_, [&](data::change_set& tx) -> asio::awaitable<void> {
      *applied = false;
      out = {};
      co_await modules::detail::insert_if_absent(purchases_, ember_shop::shop_purchase(p->key, static_cast<std::int64_t>(p->player)));
      if (auto done = co_await purchases_.get(p->key); done && done->applied) {
        if (receipt) ember_shop::fail(ember_shop::error::receipt_used);
        out = modules::detail::from_bytes<ember_shop::purchase_result>(done->result, "shop: a stored purchase result");
        out.applied = false;
        co_return;  // a retry: nothing to stage
      }
      // The purchase's step first: if another attempt got in since the read above, build again
      // (and find it applied) rather than let the wallet's op check be the only guard.
      auto row = tx.row(purchases_, p->key);
      tx.step([row] {
        if (row->applied) throw data::stale_read();
      });
      if (receipt) {
        auto rec = tx.row(receipts_, p->key);
        tx.step([rec, p] {
          if (rec->player != 0) throw data::stale_read();
          rec->player = static_cast<std::int64_t>(p->player);
          rec->product = p->product;
          rec->at_ms = p->now;
        });
      }
      if (p->limit > 0) {  // counted here, in the purchase's transaction: never over the limit
        co_await modules::detail::insert_if_absent(
            limits_, ember_shop::shop_limit(p->limit_key, static_cast<std::int64_t>(p->player), p->product, p->period, 0));
        auto counted = tx.row(limits_, p->limit_key);
        tx.step([counted, p] {
          if (counted->period != p->period) {  // a new day or week
            counted->period = p->period;
            counted->bought = 0;
          }
          if (counted->bought >= std::int64_t{p->limit}) ember_shop::fail(ember_shop::error::limit_reached);
          counted->bought += 1;
        });
      }
      if (auto changes = detail::wallet_changes(p->player, p->paid, p->currencies); !changes.empty())
        co_await wallet_.stage(tx, p->op, std::move(changes), "shop", paid);
      if (!p->items.empty()) co_await inventory_.stage_grant(tx, p->op, p->player, detail::item_grants(p->items), given);
      tx.step([this, row, p, applied, &out] {
        ember_shop::purchase_result result(true, p->product, p->paid, p->items, p->currencies, p->now);
        row->applied = true;
        row->result = modules::detail::to_bytes(result);
        row->at_ms = p->now;
        if (hooks_.before_commit) hooks_.before_commit(p->player, p->purchase);
        out = std::move(result);
        *applied = true;
      });
      tx.on_commit([this, p, applied] {
        if (!*applied) return;
        ember_shop::product_purchased ev(p->player, p->purchase, p->product, p->paid, p->store);
        bus_.publish(ev);
        if (hooks_.on_purchased) hooks_.on_purchased(ev);
      });
    });
  } catch (const game_error& e) {
    rethrow_as_shop_error(e);
  }
  co_return out;
}

EMBER_DECL void service::validate(const ember_shop::product& p) const {
  const auto& known = wallet_.config().currencies;
  const auto bad = [&](const ember_shop::price& c) {
    return c.amount <= 0 || std::none_of(known.begin(), known.end(), [&](const auto& k) { return k.name == c.currency; });
  };
  const auto any_bad = [&](const std::vector<ember_shop::price>& v) { return std::any_of(v.begin(), v.end(), bad); };
  bool wrong = check_text(p.id, detail::max_product_id) != text_problem::none || any_bad(p.prices) ||
               any_bad(p.currencies) || (p.items.empty() && p.currencies.empty()) ||
               std::any_of(p.items.begin(), p.items.end(), [](const auto& i) { return i.count == 0; });
  for (const auto& sale : p.sales) wrong = wrong || any_bad(sale.prices);  // a sale's own prices too
  if (wrong) ember_shop::fail(ember_shop::error::bad_product);
}

EMBER_DECL void service::rethrow_as_shop_error(const game_error& e) {
  const auto c = e.code();
  if (c == static_cast<std::uint16_t>(ember_wallet::error::insufficient_funds))
    ember_shop::fail(ember_shop::error::insufficient_funds);
  if (c == static_cast<std::uint16_t>(ember_inventory::error::inventory_full) ||
      c == static_cast<std::uint16_t>(ember_wallet::error::balance_cap))
    ember_shop::fail(ember_shop::error::no_room);
  if (c >= 60400 && c <= 60599) ember_shop::fail(ember_shop::error::bad_product);  // the inventory's and wallet's blocks
  throw;
}

EMBER_DECL asio::awaitable<ember_shop::catalogue_reply> handler::catalogue(net::session& s,
                                                                          const ember_shop::catalogue_request& r) {
  co_return co_await service_.offers(signed_in(s), r.cursor, r.limit);
}

EMBER_DECL asio::awaitable<ember_shop::buy_reply> handler::buy(net::session& s, const ember_shop::buy_request& r) {
  co_return ember_shop::buy_reply{co_await service_.buy(signed_in(s), r.purchase_id, r.product)};
}

EMBER_DECL asio::awaitable<ember_shop::redeem_receipt_reply> handler::redeem_receipt(
    net::session& s, const ember_shop::redeem_receipt_request& r) {
  co_return ember_shop::redeem_receipt_reply{co_await service_.redeem(signed_in(s), r.receipt)};
}

EMBER_DECL std::uint64_t handler::signed_in(net::session& s) {
  const auto u = s.user();
  if (!u) ember_shop::fail(ember_shop::error::not_signed_in);
  return *u;
}

}  // namespace ember::modules::shop
