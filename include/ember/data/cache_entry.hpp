// ember: how a table row is stored in memcached and in the journal — its version, whether it
// is deleted, and the row's binary encoding — and how row keys become memcached keys.
#pragma once

#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include <sodium.h>

#include "ember/codec/codec.hpp"

namespace ember::data {

/// A cache entry: [u8 format][varint version][u8 flags][varint lease, if locked][row bytes].
/// The row is the generated binary codec (protobuf wire format), so a row cached before a
/// column was added still decodes: the new column takes its default.
struct cache_entry {
  static constexpr std::uint8_t format = 1;
  static constexpr std::uint8_t deleted_flag = 1, locked_flag = 2;

  std::uint64_t version = 0;  ///< 0: loaded from a database that has no such row
  bool deleted = false;       ///< a tombstone: the row is deleted (or never existed)
  /// Locked by a multi-row transaction until this time (ms since the Unix epoch), 0 if not.
  /// The transaction writes version + 1 to the database, then replaces the entry.
  std::uint64_t lease_until_ms = 0;
  std::string_view row;       ///< the row's binary encoding (empty for a tombstone)

  bool locked() const noexcept { return lease_until_ms != 0; }

  template <class Row>
  static std::string make(std::uint64_t version, const Row* row) {
    buffer body;
    if (row) codec::encode(body, *row, codec::encoding::binary);
    return make_raw(version, row == nullptr, 0,
                    std::string_view(reinterpret_cast<const char*>(body.data()), body.size()));
  }
  /// `e` with a lock until `lease_until_ms` (0: unlocked), same version and row.
  static std::string with_lease(const cache_entry& e, std::uint64_t lease_until_ms) {
    return make_raw(e.version, e.deleted, lease_until_ms, e.row);
  }

  static std::string make_raw(std::uint64_t version, bool deleted, std::uint64_t lease_until_ms,
                              std::string_view row) {
    std::string out;
    out.push_back(static_cast<char>(format));
    put_varint(out, version);
    out.push_back(static_cast<char>((deleted ? deleted_flag : 0) | (lease_until_ms ? locked_flag : 0)));
    if (lease_until_ms) put_varint(out, lease_until_ms);
    out.append(row);
    return out;
  }

  /// Parses `bytes` (kept alive by the caller); nullopt if they are not an entry.
  static std::optional<cache_entry> parse(std::string_view bytes) {
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

  static void put_varint(std::string& out, std::uint64_t v) {
    for (; v >= 0x80; v >>= 7) out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    out.push_back(static_cast<char>(v));
  }
  static bool get_varint(std::string_view in, std::size_t& at, std::uint64_t& out) {
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

  /// Decodes the row; false if the bytes do not decode into `Row`.
  template <class Row>
  bool decode(Row& out) const {
    const auto* p = reinterpret_cast<const std::byte*>(row.data());
    return !codec::decode(bytes_view(p, row.size()), codec::encoding::binary, out);
  }
};

/// Milliseconds since the Unix epoch: the clock of transaction leases, which several hosts
/// compare (keep their clocks in sync, e.g. with NTP).
inline std::uint64_t unix_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

/// A key as text: integers in decimal, strings as they are (journal records, log lines).
template <class K>
std::string key_text(const K& k) {
  if constexpr (std::is_convertible_v<const K&, std::string_view>) {
    return std::string(k);
  } else {
    return std::to_string(k);
  }
}

/// The key that `key_text` made; nullopt if the text is not one.
template <class K>
std::optional<K> parse_key(std::string_view text) {
  if constexpr (std::is_same_v<K, std::string>) {
    return std::string(text);
  } else {
    K v{};
    const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
    return v;
  }
}

/// A memcached key for `parts` joined with ':'; a last part that memcached cannot take (a blank,
/// a control byte, too long) is replaced by its BLAKE2b hash, prefixed "#".
inline std::string cache_key(std::string_view kind, std::string_view table, std::string_view name,
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
