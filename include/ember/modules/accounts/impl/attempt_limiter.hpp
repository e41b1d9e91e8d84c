// ember: bodies of the accounts module's attempt limiter (included by
// ember/modules/accounts/attempt_limiter.hpp, or compiled once into libember-accounts with
// EMBER_SEPARATE_COMPILATION).
#pragma once

#include "ember/modules/accounts/attempt_limiter.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

#include "ember/modules/accounts/secrets.hpp"

namespace ember::modules::accounts {

EMBER_DECL asio::awaitable<std::chrono::milliseconds> attempt_limiter::blocked_for(std::string subject) {
  auto item = co_await cache_.get(key_of(subject));
  const auto s = item ? parse(item->value) : state{};
  const auto now = now_ms();
  co_return std::chrono::milliseconds(s.blocked_until_ms > now ? s.blocked_until_ms - now : 0);
}

EMBER_DECL asio::awaitable<void> attempt_limiter::failed(std::string subject) {
  const auto key = key_of(subject);
  const auto expiry = std::chrono::duration_cast<std::chrono::seconds>(o_.failure_window + o_.max_delay) +
                      std::chrono::seconds(1);
  for (int attempt = 0; attempt < 8; ++attempt) {
    auto item = co_await cache_.get(key);
    auto s = item ? parse(item->value) : state{};
    const auto now = now_ms();
    if (now - s.window_start_ms >= o_.failure_window.count()) s = state{0, now, s.blocked_until_ms};
    ++s.failures;
    if (s.failures >= o_.max_failures) {
      const auto doublings = std::min<std::uint32_t>(s.failures - o_.max_failures, 30);
      const auto delay = std::min<std::int64_t>(o_.first_delay.count() << doublings, o_.max_delay.count());
      s.blocked_until_ms = now + delay;
    }
    auto text = format(s);
    data::store_result r;
    if (item)
      r = co_await cache_.cas(key, std::move(text), item->cas, 0, expiry);
    else
      r = co_await cache_.add(key, std::move(text), 0, expiry);
    if (r == data::store_result::stored) co_return;
  }
}

EMBER_DECL asio::awaitable<void> attempt_limiter::succeeded(std::string subject) {
  co_await cache_.remove(key_of(subject));
}

EMBER_DECL std::string attempt_limiter::key_of(const std::string& subject) {
  return "ember_accounts.attempts:" + hash_hex<16>(subject);
}

EMBER_DECL std::string attempt_limiter::format(const state& s) {
  return std::to_string(s.failures) + ' ' + std::to_string(s.window_start_ms) + ' ' +
         std::to_string(s.blocked_until_ms);
}

EMBER_DECL attempt_limiter::state attempt_limiter::parse(const std::string& v) {
  state s;
  const char* p = v.data();
  const char* end = v.data() + v.size();
  auto r = std::from_chars(p, end, s.failures);
  if (r.ec != std::errc() || r.ptr == end) return {};
  r = std::from_chars(r.ptr + 1, end, s.window_start_ms);
  if (r.ec != std::errc() || r.ptr == end) return {};
  r = std::from_chars(r.ptr + 1, end, s.blocked_until_ms);
  if (r.ec != std::errc()) return {};
  return s;
}

}  // namespace ember::modules::accounts
