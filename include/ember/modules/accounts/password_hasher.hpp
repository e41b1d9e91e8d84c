// ember accounts module: Argon2id password hashes (libsodium crypto_pwhash_str) computed and
// verified on a worker pool of their own, so the io thread never stalls for the ~100 ms one
// takes.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>

#include <asio/awaitable.hpp>

#include "ember/data/worker_pool.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::modules::accounts {

class password_hasher {
 public:
  password_hasher(std::size_t threads, unsigned long long opslimit, std::size_t memlimit);

  /// The encoded hash of `password` (algorithm, limits, salt and hash in one string).
  asio::awaitable<std::string> hash(std::string password);

  /// Whether `password` matches `stored`. With an empty `stored` (no such account) it verifies
  /// against a throwaway hash, so that an unknown account takes as long as a wrong password.
  asio::awaitable<bool> verify(std::string stored, std::string password);

  /// True when `stored` was made with other limits than this hasher's (rehash it).
  bool needs_rehash(const std::string& stored) const noexcept;

  data::worker_pool& pool() noexcept { return pool_; }

 private:
  std::string hash_now(const std::string& password) const;

  const unsigned long long opslimit_;
  const std::size_t memlimit_;
  std::once_flag dummy_once_;
  std::string dummy_;  // written once on a worker, read on workers after call_once
  data::worker_pool pool_;  // last: joined before the members its jobs use go
};

}  // namespace ember::modules::accounts

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/modules/accounts/impl/password_hasher.hpp"
#endif
