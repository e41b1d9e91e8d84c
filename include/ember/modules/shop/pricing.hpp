// ember's shop module: what a product costs at an instant (its sale's price while one runs)
// and which period of its purchase limit an instant falls in, in the shop's time zone (the
// modules' shared periods, ember/modules/detail/periods.hpp: a daily quest resets with it).
// Pure functions of the game data and the time, so every process of a cluster agrees on them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "ember/modules/detail/periods.hpp"
#include "ember/modules/shop/detail/ember_shop.hpp"

namespace ember::modules::shop {

using modules::detail::day_ms;

/// The sale of `p` running at `now_ms` (the first in the data's order), or null.
inline const ember_shop::sale* running_sale(const ember_shop::product& p, std::int64_t now_ms) noexcept {
  for (const auto& s : p.sales)
    if (s.starts_ms <= now_ms && now_ms < s.ends_ms) return &s;
  return nullptr;
}

/// What `p` costs at `now_ms`: the running sale's prices, or its own less the sale's discount
/// (the discount rounded down, so a price never drops below what the percent says); currencies
/// that come to 0 are free and left out.
inline std::vector<ember_shop::price> price_at(const ember_shop::product& p, std::int64_t now_ms) {
  const auto* sale = running_sale(p, now_ms);
  if (sale && !sale->prices.empty()) return sale->prices;
  std::vector<ember_shop::price> out;
  const std::int64_t percent = sale ? std::min<std::int64_t>(sale->discount_percent, 100) : 0;
  for (const auto& c : p.prices) {
    const auto amount = c.amount - c.amount / 100 * percent - c.amount % 100 * percent / 100;
    if (amount > 0) out.emplace_back(c.currency, amount);
  }
  return out;
}

/// Whole days since the epoch in a time zone `utc_offset_minutes` east of UTC.
inline std::int64_t local_day(std::int64_t now_ms, std::int32_t utc_offset_minutes) noexcept {
  return modules::detail::local_day(now_ms, utc_offset_minutes);
}

/// The period of a limit that resets by `r` at `now_ms`: days or weeks (starting on
/// `week_starts`, 0 Sunday .. 6 Saturday) since the epoch in the time zone; 0 for never.
inline std::int64_t period_of(ember_shop::reset r, std::int64_t now_ms, std::int32_t utc_offset_minutes,
                              std::uint32_t week_starts) noexcept {
  return modules::detail::period_of(static_cast<modules::detail::period_kind>(r), now_ms, utc_offset_minutes, week_starts);
}

/// When the period of `now_ms` ends (the limit starts again), in UTC ms; 0 for never.
inline std::int64_t resets_at(ember_shop::reset r, std::int64_t now_ms, std::int32_t utc_offset_minutes,
                              std::uint32_t week_starts) noexcept {
  return modules::detail::period_end(static_cast<modules::detail::period_kind>(r), now_ms, utc_offset_minutes, week_starts);
}

}  // namespace ember::modules::shop
