// ember: bodies of the accounts module's password hasher (included by
// ember/modules/accounts/password_hasher.hpp, or compiled once into libember-accounts with
// EMBER_SEPARATE_COMPILATION).
#pragma once

#include "ember/modules/accounts/password_hasher.hpp"

#include <new>
#include <stdexcept>
#include <utility>

#include <sodium.h>

namespace ember::modules::accounts {

EMBER_DECL password_hasher::password_hasher(std::size_t threads, unsigned long long opslimit,
                                            std::size_t memlimit)
    : opslimit_(opslimit), memlimit_(memlimit), pool_(threads, "ember-pwhash") {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
}

EMBER_DECL asio::awaitable<std::string> password_hasher::hash(std::string password) {
  auto job = [this, password = std::move(password)](std::size_t) { return hash_now(password); };
  co_return co_await pool_.run(std::move(job));
}

EMBER_DECL asio::awaitable<bool> password_hasher::verify(std::string stored, std::string password) {
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

EMBER_DECL bool password_hasher::needs_rehash(const std::string& stored) const noexcept {
  return crypto_pwhash_str_needs_rehash(stored.c_str(), opslimit_, memlimit_) != 0;
}

EMBER_DECL std::string password_hasher::hash_now(const std::string& password) const {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), opslimit_, memlimit_) != 0)
    throw std::bad_alloc();  // the only failure libsodium reports: memlimit not available
  return out;
}

}  // namespace ember::modules::accounts
