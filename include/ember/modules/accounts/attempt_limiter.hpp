// ember accounts module: failed sign-ins per account name and per address, counted in
// memcached (one small item per subject, expiring with its window), so every process of the
// cluster sees the same counts and the state stays bounded (memcached evicts and expires; a
// memcached restart forgets the counts, which only lifts current delays).
//
// After `max_failures` failures within `failure_window`, attempts are refused for
// `first_delay`, doubling with every further failure up to `max_delay`.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <asio/awaitable.hpp>

#include "ember/data/memcache.hpp"
#include "ember/modules/accounts/options.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::modules::accounts {

class attempt_limiter {
 public:
  attempt_limiter(data::memcache& cache, const options& o) : cache_(cache), o_(o) {}

  /// How long attempts for `subject` ("u:NAME", "a:ADDRESS") are still refused (0: allowed).
  asio::awaitable<std::chrono::milliseconds> blocked_for(std::string subject);

  /// Counts a failure of `subject`.
  asio::awaitable<void> failed(std::string subject);

  /// Forgets the failures of `subject` (after it signed in).
  asio::awaitable<void> succeeded(std::string subject);

 private:
  struct state {
    std::uint32_t failures = 0;
    std::int64_t window_start_ms = 0;
    std::int64_t blocked_until_ms = 0;
  };

  static std::string key_of(const std::string& subject);
  static std::string format(const state& s);
  static state parse(const std::string& v);

  data::memcache& cache_;
  const options& o_;
};

}  // namespace ember::modules::accounts

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/modules/accounts/impl/attempt_limiter.hpp"
#endif
