// ember's mail module: a mail's attachments as stored (the encoded struct in a bytes column),
// and the grants they become through the wallet's and the inventory's interfaces.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <vector>

#include "ember/modules/detail/rows.hpp"
#include "ember/modules/inventory/detail/ember_inventory.hpp"
#include "ember/modules/mail/detail/ember_mail.hpp"
#include "ember/modules/wallet/detail/ember_wallet.hpp"

namespace ember::modules::mail::detail {

inline std::vector<std::byte> encode(const ember_mail::attachments& a) { return modules::detail::to_bytes(a); }

inline ember_mail::attachments decode(const std::vector<std::byte>& bytes) {
  return modules::detail::from_bytes<ember_mail::attachments>(bytes, "mail: stored attachments");
}

inline bool empty(const ember_mail::attachments& a) noexcept { return a.currencies.empty() && a.items.empty(); }

/// The wallet's change set that grants `a`'s currencies to `player`.
inline std::vector<ember_wallet::change> currency_grants(std::uint64_t player, const ember_mail::attachments& a) {
  std::vector<ember_wallet::change> out;
  for (const auto& c : a.currencies) out.emplace_back(player, c.currency, c.amount);
  return out;
}

/// The inventory's grant of `a`'s items.
inline std::vector<ember_inventory::grant_item> item_grants(const ember_mail::attachments& a) {
  std::vector<ember_inventory::grant_item> out;
  for (const auto& i : a.items) out.emplace_back(i.type, i.count, i.bound, 0);
  return out;
}

}  // namespace ember::modules::mail::detail
