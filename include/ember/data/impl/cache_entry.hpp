// ember: bodies of the cache entry codec and of memcached key building (ember/data/cache_entry.hpp).
#pragma once

#include "ember/data/cache_entry.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <sodium.h>

namespace ember::data {

EMBER_DECL std::string cache_entry::with_lease(const cache_entry& e, std::uint64_t lease_until_ms) {
  return make_raw(e.version, e.deleted, lease_until_ms, e.row);
}

EMBER_DECL std::string cache_entry::make_raw(std::uint64_t version, bool deleted, std::uint64_t lease_until_ms,
                                             std::string_view row) {
  std::string out;
  out.push_back(static_cast<char>(format));
  put_varint(out, version);
  out.push_back(static_cast<char>((deleted ? deleted_flag : 0) | (lease_until_ms ? locked_flag : 0)));
  if (lease_until_ms) put_varint(out, lease_until_ms);
  out.append(row);
  return out;
}

EMBER_DECL std::optional<cache_entry> cache_entry::parse(std::string_view bytes) {
  if (bytes.empty() || static_cast<std::uint8_t>(bytes[0]) != format) return std::nullopt;
  cache_entry e;
  std::size_t at = 1;
  if (!get_varint(bytes, at, e.version) || at >= bytes.size()) return std::nullopt;
  const auto flags = static_cast<std::uint8_t>(bytes[at++]);
  if (flags & ~(deleted_flag | locked_flag)) return std::nullopt;
  e.deleted = flags & deleted_flag;
  if ((flags & locked_flag) && (!get_varint(bytes, at, e.lease_until_ms) || e.lease_until_ms == 0))
    return std::nullopt;
  e.row = bytes.substr(at);
  return e;
}

EMBER_DECL void cache_entry::put_varint(std::string& out, std::uint64_t v) {
  for (; v >= 0x80; v >>= 7) out.push_back(static_cast<char>((v & 0x7f) | 0x80));
  out.push_back(static_cast<char>(v));
}

EMBER_DECL bool cache_entry::get_varint(std::string_view in, std::size_t& at, std::uint64_t& out) {
  out = 0;
  for (int shift = 0; shift <= 63; shift += 7) {
    if (at >= in.size()) return false;
    const auto b = static_cast<std::uint8_t>(in[at++]);
    // The tenth byte holds bit 63 only; anything more is not a 64-bit value (as in the codec).
    if (shift == 63 && b > 1) return false;
    out |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (b < 0x80) return true;
  }
  return false;
}

EMBER_DECL std::uint64_t unix_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

EMBER_DECL std::string cache_key(std::string_view kind, std::string_view table, std::string_view name,
                                 std::string_view value) {
  std::string out;
  out.reserve(kind.size() + table.size() + name.size() + value.size() + 4);
  out.append(kind).append(":").append(table).append(":");
  if (!name.empty()) out.append(name).append(":");
  bool plain = value.size() <= 160 && !value.empty() && value.front() != '#';
  for (unsigned char c : value) plain = plain && c > 0x20 && c < 0x7f;
  if (plain) return out.append(value);
  unsigned char hash[16];
  crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(value.data()), value.size(),
                     nullptr, 0);
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('#');
  for (unsigned char b : hash) out.append({hex[b >> 4], hex[b & 15]});
  return out;
}

}  // namespace ember::data
