// ember: the reset schedule of a leaderboard — the 5-field cron subset a daily, weekly or
// monthly board needs (minute hour day-of-month month day-of-week, in UTC), each field `*`, a
// number, a range `a-b`, a step `*/n` or `a-b/n`, or a comma list of those. A board's period
// is the time of the schedule's last firing; the next firing starts the next period.
//
//   auto weekly = cron_schedule::parse("0 0 * * 1");   // Mondays 00:00 UTC
//   weekly->last_at_or_before(now_ms);                  // the current period's start
#pragma once

#include <bitset>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace ember::modules::leaderboard {

class cron_schedule {
 public:
  /// The schedule `text`, or nullopt with the reason in `why` (a wrong field, or a schedule
  /// that never fires, such as `0 0 31 2 *`).
  static std::optional<cron_schedule> parse(std::string_view text, std::string* why = nullptr) {
    cron_schedule c;
    std::string_view fields[5];
    std::size_t n = 0;
    while (!text.empty()) {
      const auto start = text.find_first_not_of(' ');
      if (start == std::string_view::npos) break;
      text.remove_prefix(start);
      const auto end = text.find(' ');
      if (n == 5) return failed(why, "more than 5 fields");
      fields[n++] = text.substr(0, end);
      text.remove_prefix(end == std::string_view::npos ? text.size() : end);
    }
    if (n != 5) return failed(why, "expected 5 fields: minute hour day-of-month month day-of-week");
    std::bitset<64> bits[5];
    static constexpr int lo[5] = {0, 0, 1, 1, 0}, hi[5] = {59, 23, 31, 12, 7};
    static constexpr const char* names[5] = {"minute", "hour", "day of month", "month", "day of week"};
    for (int i = 0; i < 5; ++i)
      if (!field(fields[i], lo[i], hi[i], bits[i])) return failed(why, std::string("bad ") + names[i] + " '" + std::string(fields[i]) + "'");
    if (bits[4][7]) bits[4].set(0);  // 7 is Sunday too
    c.minute_ = bits[0];
    c.hour_ = bits[1];
    c.dom_ = bits[2];
    c.month_ = bits[3];
    c.dow_ = bits[4];
    c.dom_any_ = fields[2] == "*";
    c.dow_any_ = fields[4] == "*";
    if (c.next_after(0) < 0) return failed(why, "the schedule never fires");
    return c;
  }

  /// The start (Unix ms) of the last firing at or before `t_ms`; -1 if none in 8 years.
  std::int64_t last_at_or_before(std::int64_t t_ms) const {
    const std::int64_t day0 = floor_div(t_ms, day_ms);
    const std::int64_t limit = (t_ms - day0 * day_ms) / minute_ms;  // minute of day0
    for (std::int64_t d = day0; d > day0 - search_days; --d) {
      if (!day_matches(d)) continue;
      for (int h = 23; h >= 0; --h) {
        if (!hour_[static_cast<std::size_t>(h)]) continue;
        for (int m = 59; m >= 0; --m)
          if (minute_[static_cast<std::size_t>(m)] && (d < day0 || h * 60 + m <= limit)) return d * day_ms + (h * 60 + m) * minute_ms;
      }
    }
    return -1;
  }

  /// The start (Unix ms) of the first firing after `t_ms`; -1 if none in 8 years.
  std::int64_t next_after(std::int64_t t_ms) const {
    const std::int64_t day0 = floor_div(t_ms, day_ms);
    for (std::int64_t d = day0; d < day0 + search_days; ++d) {
      if (!day_matches(d)) continue;
      for (int h = 0; h < 24; ++h) {
        if (!hour_[static_cast<std::size_t>(h)]) continue;
        for (int m = 0; m < 60; ++m) {
          const std::int64_t at = d * day_ms + (h * 60 + m) * minute_ms;
          if (minute_[static_cast<std::size_t>(m)] && at > t_ms) return at;
        }
      }
    }
    return -1;
  }

 private:
  static constexpr std::int64_t minute_ms = 60'000, day_ms = 86'400'000;
  static constexpr std::int64_t search_days = 366 * 8 + 2;  // a 29 February comes within 8 years

  static std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

  static std::optional<cron_schedule> failed(std::string* why, std::string what) {
    if (why) *why = std::move(what);
    return std::nullopt;
  }

  static bool number(std::string_view s, int& out) {
    if (s.empty() || s.size() > 2) return false;
    out = 0;
    for (char ch : s) {
      if (ch < '0' || ch > '9') return false;
      out = out * 10 + (ch - '0');
    }
    return true;
  }

  // One field: comma-separated items, each `*`, `N`, `A-B`, optionally `/STEP`.
  static bool field(std::string_view s, int lo, int hi, std::bitset<64>& out) {
    if (s.empty()) return false;
    while (true) {
      const auto comma = s.find(',');
      std::string_view item = s.substr(0, comma);
      int step = 1;
      if (const auto slash = item.find('/'); slash != std::string_view::npos) {
        if (!number(item.substr(slash + 1), step) || step == 0) return false;
        item = item.substr(0, slash);
      }
      int a = lo, b = hi;
      if (item != "*") {
        const auto dash = item.find('-');
        if (dash == std::string_view::npos) {
          if (!number(item, a)) return false;
          b = step > 1 ? hi : a;
        } else if (!number(item.substr(0, dash), a) || !number(item.substr(dash + 1), b)) {
          return false;
        }
      }
      if (a < lo || b > hi || a > b) return false;
      for (int v = a; v <= b; v += step) out.set(static_cast<std::size_t>(v));
      if (comma == std::string_view::npos) return true;
      s.remove_prefix(comma + 1);
      if (s.empty()) return false;
    }
  }

  bool day_matches(std::int64_t day) const {
    const std::chrono::sys_days d{std::chrono::days{day}};
    const std::chrono::year_month_day ymd{d};
    if (!month_[unsigned(ymd.month())]) return false;
    const bool dom = dom_[unsigned(ymd.day())];
    const bool dow = dow_[std::chrono::weekday{d}.c_encoding()];
    if (dom_any_ && dow_any_) return true;
    if (dom_any_) return dow;
    if (dow_any_) return dom;
    return dom || dow;  // cron: either restricted day field matches
  }

  std::bitset<64> minute_, hour_, dom_, month_, dow_;
  bool dom_any_ = true, dow_any_ = true;
};

}  // namespace ember::modules::leaderboard
