// ember: bodies of link authentication (included by ember/cluster/auth.hpp).
#pragma once

#include "ember/cluster/auth.hpp"

#include <stdexcept>

#include <sodium.h>

#include "ember/wire/frame.hpp"

namespace ember::cluster {

// The header spells the sizes out so that it need not include sodium.h.
static_assert(std::tuple_size_v<link_key> == crypto_auth_hmacsha256_KEYBYTES);
static_assert(std::tuple_size_v<link_mac> == crypto_auth_hmacsha256_BYTES);

EMBER_DECL void ensure_sodium() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium could not be initialised");
}

EMBER_DECL link_key derive_link_key(std::string_view secret) {
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

EMBER_DECL link_nonce random_nonce() {
  ensure_sodium();
  link_nonce n{};
  randombytes_buf(n.data(), n.size());
  return n;
}

namespace detail {
EMBER_DECL void mac_update_string(crypto_auth_hmacsha256_state& st, std::string_view s) {
  // A length prefix keeps ("ab","c") and ("a","bc") apart.
  const unsigned char len = static_cast<unsigned char>(s.size());
  crypto_auth_hmacsha256_update(&st, &len, 1);
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(s.data()), s.size());
}

EMBER_DECL link_mac compute_mac(const link_key& key, std::string_view label,
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

EMBER_DECL bool get_string(bytes_view b, std::size_t& at, std::string& out) {
  if (at >= b.size()) return false;
  const std::size_t len = std::size_t(b[at++]);
  if (b.size() - at < len) return false;
  out.assign(reinterpret_cast<const char*>(b.data() + at), len);
  at += len;
  return true;
}
EMBER_DECL void put_string(buffer& out, std::string_view s) {
  const auto len = std::byte(s.size());
  out.append(&len, 1);
  out.append(s.data(), s.size());
}
}  // namespace detail

EMBER_DECL link_mac node_mac(const link_key& key, const link_nonce& challenge,
                             const link_nonce& nonce, std::string_view name,
                             std::string_view type) {
  return detail::compute_mac(key, "node", challenge, nonce, name, type);
}
EMBER_DECL link_mac root_mac(const link_key& key, const link_nonce& challenge,
                             const link_nonce& nonce, std::string_view root_name) {
  return detail::compute_mac(key, "root", challenge, nonce, root_name, std::nullopt);
}
EMBER_DECL bool verify_node_mac(const link_key& key, const link_mac& mac,
                                const link_nonce& challenge, const link_nonce& nonce,
                                std::string_view name, std::string_view type) {
  const link_mac expected = node_mac(key, challenge, nonce, name, type);
  return sodium_memcmp(expected.data(), mac.data(), mac.size()) == 0;
}
EMBER_DECL bool verify_root_mac(const link_key& key, const link_mac& mac,
                                const link_nonce& challenge, const link_nonce& nonce,
                                std::string_view root_name) {
  const link_mac expected = root_mac(key, challenge, nonce, root_name);
  return sodium_memcmp(expected.data(), mac.data(), mac.size()) == 0;
}

EMBER_DECL void auth_challenge::encode(buffer& out) const {
  std::byte v[2];
  wire::detail::put_u16(v, version);
  out.append(v, 2);
  out.append(challenge.data(), challenge.size());
}
EMBER_DECL std::optional<auth_challenge> auth_challenge::decode(bytes_view b) {
  if (b.size() != 2 + 32) return std::nullopt;
  auth_challenge c;
  c.version = wire::detail::get_u16(b.data());
  std::size_t at = 2;
  if (!detail::get_bytes(b, at, c.challenge)) return std::nullopt;
  return c;
}

EMBER_DECL void auth_hello::encode(buffer& out) const {
  out.append(nonce.data(), nonce.size());
  detail::put_string(out, name);
  detail::put_string(out, type);
  out.append(mac.data(), mac.size());
}
EMBER_DECL std::optional<auth_hello> auth_hello::decode(bytes_view b) {
  auth_hello h;
  std::size_t at = 0;
  if (!detail::get_bytes(b, at, h.nonce) || !detail::get_string(b, at, h.name) ||
      !detail::get_string(b, at, h.type) || !detail::get_bytes(b, at, h.mac) || at != b.size())
    return std::nullopt;
  return h;
}

EMBER_DECL void auth_accept::encode(buffer& out) const {
  detail::put_string(out, root_name);
  out.append(mac.data(), mac.size());
}
EMBER_DECL std::optional<auth_accept> auth_accept::decode(bytes_view b) {
  auth_accept a;
  std::size_t at = 0;
  if (!detail::get_string(b, at, a.root_name) || !detail::get_bytes(b, at, a.mac) ||
      at != b.size())
    return std::nullopt;
  return a;
}

}  // namespace ember::cluster
