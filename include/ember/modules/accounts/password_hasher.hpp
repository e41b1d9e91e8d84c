// ember accounts module: Argon2id password hashes (libsodium crypto_pwhash_str) computed and
// verified on a worker pool of their own, so the io thread never stalls for the ~100 ms one
// takes.
#pragma once

#include <cstddef>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>

#include <asio/awaitable.hpp>
#include <sodium.h>

#include "ember/data/worker_pool.hpp"

namespace ember::modules::accounts {

class password_hasher {
 public:
  password_hasher(std::size_t threads, unsigned long long opslimit, std::size_t memlimit)
      : opslimit_(opslimit), memlimit_(memlimit), pool_(threads, "ember-pwhash") {
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  }

  /// The encoded hash of `password` (algorithm, limits, salt and hash in one string).
  asio::awaitable<std::string> hash(std::string password) {
    auto job = [this, password = std::move(password)](std::size_t) { return hash_now(password); };
    co_return co_await pool_.run(std::move(job));
  }

  /// Whether `password` matches `stored`. With an empty `stored` (no such account) it verifies
  /// against a throwaway hash, so that an unknown account takes as long as a wrong password.
  asio::awaitable<bool> verify(std::string stored, std::string password) {
    auto job = [this, stored = std::move(stored), password = std::move(password)](std::size_t) {
      if (stored.empty()) {
        std::call_once(dummy_once_, [this] { dummy_ = hash_now("not a password of anyone"); });
        [[maybe_unused]] const int same_work = crypto_pwhash_str_verify(dummy_.c_str(), password.data(), password.size());
        return false;
      }
      return crypto_pwhash_str_verify(stored.c_str(), password.data(), password.size()) == 0;
    };
    co_return co_await pool_.run(std::move(job));
  }

  /// True when `stored` was made with other limits than this hasher's (rehash it).
  bool needs_rehash(const std::string& stored) const noexcept {
    return crypto_pwhash_str_needs_rehash(stored.c_str(), opslimit_, memlimit_) != 0;
  }

  data::worker_pool& pool() noexcept { return pool_; }

 private:
  std::string hash_now(const std::string& password) const {
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(out, password.data(), password.size(), opslimit_, memlimit_) != 0)
      throw std::bad_alloc();  // the only failure libsodium reports: memlimit not available
    return out;
  }

  const unsigned long long opslimit_;
  const std::size_t memlimit_;
  std::once_flag dummy_once_;
  std::string dummy_;  // written once on a worker, read on workers after call_once
  data::worker_pool pool_;  // last: joined before the members its jobs use go
};

}  // namespace ember::modules::accounts
