// ember's mail module: a mail's attachments as stored (the encoded struct in a bytes column),
// and the grants they become through the wallet's and the inventory's interfaces.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <vector>

#include "ember/codec/codec.hpp"
#include "ember/modules/inventory/detail/ember_inventory.hpp"
#include "ember/modules/mail/detail/ember_mail.hpp"
#include "ember/modules/wallet/detail/ember_wallet.hpp"

namespace ember::modules::mail::detail {

inline std::vector<std::byte> encode(const ember_mail::attachments& a) {
  buffer out;
  codec::encode(out, a, codec::encoding::binary);
  const auto v = out.view();
  return {v.begin(), v.end()};
}

inline ember_mail::attachments decode(const std::vector<std::byte>& bytes) {
  ember_mail::attachments a;
  if (bytes.empty()) return a;
  if (auto ec = codec::decode(bytes_view(bytes.data(), bytes.size()), codec::encoding::binary, a))
    throw std::runtime_error("mail: stored attachments do not decode: " + ec.message());
  return a;
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
