// ember: link authentication: the key derived from the cluster secret, the MACs of the
// challenge-response exchange, and the bodies of its three handshake frames (PROTOCOL.md,
// "Links between servers"). The crypto is libsodium's; nothing here is home-made.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <sodium.h>

#include "ember/wire/buffer.hpp"
#include "ember/wire/frame.hpp"

namespace ember::cluster {

/// The MAC key of a cluster, derived from its secret.
using link_key = std::array<unsigned char, crypto_auth_hmacsha256_KEYBYTES>;
/// A fresh random challenge or nonce (one per handshake, never reused).
using link_nonce = std::array<unsigned char, 32>;
/// An HMAC-SHA-256 tag.
using link_mac = std::array<unsigned char, crypto_auth_hmacsha256_BYTES>;

/// The version of the link protocol announced in the challenge.
inline constexpr std::uint16_t link_protocol_version = 1;
/// Names and types are at most this long (they travel with a one-byte length).
inline constexpr std::size_t max_link_name = 255;

/// The `command` field of each handshake frame, so that each step is recognised.
enum class auth_step : std::uint16_t {
  challenge = 1,  ///< root to node: version and the root's challenge
  hello = 2,      ///< node to root: its nonce, name, type and MAC
  accept = 3,     ///< root to node: the root's name and MAC
};

/// Makes sure libsodium is initialised (safe to call many times, from one thread or many).
inline void ensure_sodium() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium could not be initialised");
}

/// The cluster's MAC key: BLAKE2b (crypto_generichash) of a fixed context string and the
/// secret, so the raw secret is never used as a key and other uses of it get other keys.
inline link_key derive_link_key(std::string_view secret) {
  ensure_sodium();
  static constexpr std::string_view context = "ember link key v1";
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, crypto_auth_hmacsha256_KEYBYTES);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(context.data()),
                            context.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(secret.data()),
                            secret.size());
  link_key key{};
  crypto_generichash_final(&st, key.data(), key.size());
  return key;
}

/// 32 bytes from libsodium's CSPRNG.
inline link_nonce random_nonce() {
  ensure_sodium();
  link_nonce n{};
  randombytes_buf(n.data(), n.size());
  return n;
}

namespace detail {
inline void mac_update_string(crypto_auth_hmacsha256_state& st, std::string_view s) {
  // A length prefix keeps ("ab","c") and ("a","bc") apart.
  const unsigned char len = static_cast<unsigned char>(s.size());
  crypto_auth_hmacsha256_update(&st, &len, 1);
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(s.data()), s.size());
}

inline link_mac compute_mac(const link_key& key, std::string_view label,
                            const link_nonce& challenge, const link_nonce& nonce,
                            std::string_view name, std::optional<std::string_view> type) {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, key.data(), key.size());
  mac_update_string(st, label);
  crypto_auth_hmacsha256_update(&st, challenge.data(), challenge.size());
  crypto_auth_hmacsha256_update(&st, nonce.data(), nonce.size());
  mac_update_string(st, name);
  if (type) mac_update_string(st, *type);
  link_mac mac{};
  crypto_auth_hmacsha256_final(&st, mac.data());
  return mac;
}

inline bool get_string(bytes_view b, std::size_t& at, std::string& out) {
  if (at >= b.size()) return false;
  const std::size_t len = std::size_t(b[at++]);
  if (b.size() - at < len) return false;
  out.assign(reinterpret_cast<const char*>(b.data() + at), len);
  at += len;
  return true;
}
inline void put_string(buffer& out, std::string_view s) {
  const auto len = std::byte(s.size());
  out.append(&len, 1);
  out.append(s.data(), s.size());
}
template <std::size_t N>
bool get_bytes(bytes_view b, std::size_t& at, std::array<unsigned char, N>& out) {
  if (b.size() - at < N || at > b.size()) return false;
  for (std::size_t i = 0; i < N; ++i) out[i] = static_cast<unsigned char>(b[at + i]);
  at += N;
  return true;
}
}  // namespace detail

/// The MAC a node sends: over "node", both nonces, its name and its type.
inline link_mac node_mac(const link_key& key, const link_nonce& challenge, const link_nonce& nonce,
                         std::string_view name, std::string_view type) {
  return detail::compute_mac(key, "node", challenge, nonce, name, type);
}
/// The MAC a root answers with: over "root", both nonces and its name.
inline link_mac root_mac(const link_key& key, const link_nonce& challenge, const link_nonce& nonce,
                         std::string_view root_name) {
  return detail::compute_mac(key, "root", challenge, nonce, root_name, std::nullopt);
}
/// Checks `mac` in constant time.
inline bool verify_node_mac(const link_key& key, const link_mac& mac, const link_nonce& challenge,
                            const link_nonce& nonce, std::string_view name, std::string_view type) {
  const link_mac expected = node_mac(key, challenge, nonce, name, type);
  return sodium_memcmp(expected.data(), mac.data(), mac.size()) == 0;
}
/// Checks `mac` in constant time.
inline bool verify_root_mac(const link_key& key, const link_mac& mac, const link_nonce& challenge,
                            const link_nonce& nonce, std::string_view root_name) {
  const link_mac expected = root_mac(key, challenge, nonce, root_name);
  return sodium_memcmp(expected.data(), mac.data(), mac.size()) == 0;
}

/// Root to node, first: the protocol version and a fresh challenge (34 bytes).
struct auth_challenge {
  std::uint16_t version = link_protocol_version;
  link_nonce challenge{};

  void encode(buffer& out) const {
    std::byte v[2];
    wire::detail::put_u16(v, version);
    out.append(v, 2);
    out.append(challenge.data(), challenge.size());
  }
  static std::optional<auth_challenge> decode(bytes_view b) {
    if (b.size() != 2 + 32) return std::nullopt;
    auth_challenge c;
    c.version = wire::detail::get_u16(b.data());
    std::size_t at = 2;
    if (!detail::get_bytes(b, at, c.challenge)) return std::nullopt;
    return c;
  }
};

/// Node to root: its nonce, name, type and MAC (32 + 1 + name + 1 + type + 32 bytes).
struct auth_hello {
  link_nonce nonce{};
  std::string name;
  std::string type;
  link_mac mac{};

  void encode(buffer& out) const {
    out.append(nonce.data(), nonce.size());
    detail::put_string(out, name);
    detail::put_string(out, type);
    out.append(mac.data(), mac.size());
  }
  static std::optional<auth_hello> decode(bytes_view b) {
    auth_hello h;
    std::size_t at = 0;
    if (!detail::get_bytes(b, at, h.nonce) || !detail::get_string(b, at, h.name) ||
        !detail::get_string(b, at, h.type) || !detail::get_bytes(b, at, h.mac) || at != b.size())
      return std::nullopt;
    return h;
  }
};

/// Root to node, last: the root's name and MAC (1 + name + 32 bytes).
struct auth_accept {
  std::string root_name;
  link_mac mac{};

  void encode(buffer& out) const {
    detail::put_string(out, root_name);
    out.append(mac.data(), mac.size());
  }
  static std::optional<auth_accept> decode(bytes_view b) {
    auth_accept a;
    std::size_t at = 0;
    if (!detail::get_string(b, at, a.root_name) || !detail::get_bytes(b, at, a.mac) ||
        at != b.size())
      return std::nullopt;
    return a;
  }
};

}  // namespace ember::cluster
