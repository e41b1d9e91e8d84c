// ember: link authentication: the key derived from the cluster secret, the MACs of the
// challenge-response exchange, and the bodies of its three handshake frames (PROTOCOL.md,
// "Links between servers"). The crypto is libsodium's; nothing here is home-made.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ember/separate_compilation.hpp"
#include "ember/buffer.hpp"

namespace ember::cluster {

/// The MAC key of a cluster, derived from its secret (crypto_auth_hmacsha256_KEYBYTES long).
using link_key = std::array<unsigned char, 32>;
/// A fresh random challenge or nonce (one per handshake, never reused).
using link_nonce = std::array<unsigned char, 32>;
/// An HMAC-SHA-256 tag (crypto_auth_hmacsha256_BYTES long).
using link_mac = std::array<unsigned char, 32>;

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
EMBER_DECL void ensure_sodium();

/// The cluster's MAC key: BLAKE2b (crypto_generichash) of a fixed context string and the
/// secret, so the raw secret is never used as a key and other uses of it get other keys.
EMBER_DECL link_key derive_link_key(std::string_view secret);

/// 32 bytes from libsodium's CSPRNG.
EMBER_DECL link_nonce random_nonce();

namespace detail {
EMBER_DECL link_mac compute_mac(const link_key& key, std::string_view label,
                                const link_nonce& challenge, const link_nonce& nonce,
                                std::string_view name, std::optional<std::string_view> type);

EMBER_DECL bool get_string(bytes_view b, std::size_t& at, std::string& out);
EMBER_DECL void put_string(buffer& out, std::string_view s);
template <std::size_t N>
bool get_bytes(bytes_view b, std::size_t& at, std::array<unsigned char, N>& out) {
  if (b.size() - at < N || at > b.size()) return false;
  for (std::size_t i = 0; i < N; ++i) out[i] = static_cast<unsigned char>(b[at + i]);
  at += N;
  return true;
}
}  // namespace detail

/// The MAC a node sends: over "node", both nonces, its name and its type.
EMBER_DECL link_mac node_mac(const link_key& key, const link_nonce& challenge,
                             const link_nonce& nonce, std::string_view name,
                             std::string_view type);
/// The MAC a root answers with: over "root", both nonces and its name.
EMBER_DECL link_mac root_mac(const link_key& key, const link_nonce& challenge,
                             const link_nonce& nonce, std::string_view root_name);
/// Checks `mac` in constant time.
EMBER_DECL bool verify_node_mac(const link_key& key, const link_mac& mac,
                                const link_nonce& challenge, const link_nonce& nonce,
                                std::string_view name, std::string_view type);
/// Checks `mac` in constant time.
EMBER_DECL bool verify_root_mac(const link_key& key, const link_mac& mac,
                                const link_nonce& challenge, const link_nonce& nonce,
                                std::string_view root_name);

/// Root to node, first: the protocol version and a fresh challenge (34 bytes).
struct auth_challenge {
  std::uint16_t version = link_protocol_version;
  link_nonce challenge{};

  void encode(buffer& out) const;
  static std::optional<auth_challenge> decode(bytes_view b);
};

/// Node to root: its nonce, name, type and MAC (32 + 1 + name + 1 + type + 32 bytes).
struct auth_hello {
  link_nonce nonce{};
  std::string name;
  std::string type;
  link_mac mac{};

  void encode(buffer& out) const;
  static std::optional<auth_hello> decode(bytes_view b);
};

/// Root to node, last: the root's name and MAC (1 + name + 32 bytes).
struct auth_accept {
  std::string root_name;
  link_mac mac{};

  void encode(buffer& out) const;
  static std::optional<auth_accept> decode(bytes_view b);
};

}  // namespace ember::cluster

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/cluster/impl/auth.hpp"
#endif
