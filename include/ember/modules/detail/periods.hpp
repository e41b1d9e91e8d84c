// ember: which day or week an instant falls in, in a time zone a fixed number of minutes east
// of UTC, and when that period ends: the resets of the gameplay modules (quests; the shop's
// purchase limits follow the same rule). Pure functions of the time, so every process of a
// cluster agrees on them.
#pragma once

#include <cstdint>

namespace ember::modules::detail {

inline constexpr std::int64_t day_ms = 86'400'000;

/// How often a period starts again (the values of the modules' `reset` enums).
enum class period_kind : std::int32_t { never = 0, daily = 1, weekly = 2 };

/// Whole days since the epoch in a time zone `utc_offset_minutes` east of UTC.
constexpr std::int64_t local_day(std::int64_t now_ms, std::int32_t utc_offset_minutes) noexcept {
  const auto local = now_ms + std::int64_t{utc_offset_minutes} * 60'000;
  return local >= 0 ? local / day_ms : -((-local + day_ms - 1) / day_ms);
}

/// The period of `now_ms`: days, or weeks starting on `week_starts` (0 Sunday .. 6 Saturday),
/// since the epoch in the time zone; 0 for never (and for a kind it does not know).
constexpr std::int64_t period_of(period_kind k, std::int64_t now_ms, std::int32_t utc_offset_minutes,
                                 std::uint32_t week_starts) noexcept {
  const auto day = local_day(now_ms, utc_offset_minutes);
  switch (k) {
    case period_kind::daily: return day;
    case period_kind::weekly: {
      // 1970-01-01 was a Thursday (4): shift so that a week begins on `week_starts`
      const auto shifted = day + 4 - static_cast<std::int64_t>(week_starts);
      return shifted >= 0 ? shifted / 7 : -((-shifted + 6) / 7);
    }
    default: return 0;
  }
}

/// When the period of `now_ms` ends, in UTC ms; 0 for never.
constexpr std::int64_t period_end(period_kind k, std::int64_t now_ms, std::int32_t utc_offset_minutes,
                                  std::uint32_t week_starts) noexcept {
  const auto period = period_of(k, now_ms, utc_offset_minutes, week_starts);
  const std::int64_t offset = std::int64_t{utc_offset_minutes} * 60'000;
  switch (k) {
    case period_kind::daily: return (period + 1) * day_ms - offset;
    case period_kind::weekly: return ((period + 1) * 7 - 4 + static_cast<std::int64_t>(week_starts)) * day_ms - offset;
    default: return 0;
  }
}

}  // namespace ember::modules::detail
