// ember accounts module: opaque random tokens and the short hashes they are stored and
// counted under (a token is never stored itself; a limiter key never holds a username).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <sodium.h>

namespace ember::modules::accounts {

inline std::string to_hex(const unsigned char* p, std::size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), p, n);
  out.pop_back();
  return out;
}

/// A new token: 32 random bytes as 64 hex digits.
inline std::string random_token() {
  std::array<unsigned char, 32> b;
  randombytes_buf(b.data(), b.size());
  return to_hex(b.data(), b.size());
}

/// BLAKE2b of `s`, `Bytes` long, as hex.
template <std::size_t Bytes = 32>
std::string hash_hex(std::string_view s) {
  std::array<unsigned char, Bytes> h;
  crypto_generichash(h.data(), h.size(), reinterpret_cast<const unsigned char*>(s.data()), s.size(),
                     nullptr, 0);
  return to_hex(h.data(), h.size());
}

inline std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace ember::modules::accounts
