// ember accounts module: failed sign-ins per account name and per address, counted in
// memcached (one small item per subject, expiring with its window), so every process of the
// cluster sees the same counts and the state stays bounded (memcached evicts and expires; a
// memcached restart forgets the counts, which only lifts current delays).
//
// After `max_failures` failures within `failure_window`, attempts are refused for
// `first_delay`, doubling with every further failure up to `max_delay`.
#pragma once

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <string>

#include <asio/awaitable.hpp>

#include "ember/data/memcache.hpp"
#include "ember/modules/accounts/options.hpp"
#include "ember/modules/accounts/secrets.hpp"

namespace ember::modules::accounts {

class attempt_limiter {
 public:
  attempt_limiter(data::memcache& cache, const options& o) : cache_(cache), o_(o) {}

  /// How long attempts for `subject` ("u:NAME", "a:ADDRESS") are still refused (0: allowed).
  asio::awaitable<std::chrono::milliseconds> blocked_for(std::string subject) {
    auto item = co_await cache_.get(key_of(subject));
    const auto s = item ? parse(item->value) : state{};
    const auto now = now_ms();
    co_return std::chrono::milliseconds(s.blocked_until_ms > now ? s.blocked_until_ms - now : 0);
  }

  /// Counts a failure of `subject`.
  asio::awaitable<void> failed(std::string subject) {
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

  /// Forgets the failures of `subject` (after it signed in).
  asio::awaitable<void> succeeded(std::string subject) { co_await cache_.remove(key_of(subject)); }

 private:
  struct state {
    std::uint32_t failures = 0;
    std::int64_t window_start_ms = 0;
    std::int64_t blocked_until_ms = 0;
  };

  static std::string key_of(const std::string& subject) {
    return "ember_accounts.attempts:" + hash_hex<16>(subject);
  }
  static std::string format(const state& s) {
    return std::to_string(s.failures) + ' ' + std::to_string(s.window_start_ms) + ' ' +
           std::to_string(s.blocked_until_ms);
  }
  static state parse(const std::string& v) {
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

  data::memcache& cache_;
  const options& o_;
};

}  // namespace ember::modules::accounts
