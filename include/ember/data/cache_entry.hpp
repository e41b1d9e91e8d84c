// ember: how a table row is stored in memcached and in the journal — its version, whether it
// is deleted, and the row's binary encoding — and how row keys become memcached keys.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "ember/codec/codec.hpp"
#include "ember/separate_compilation.hpp"

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
  static std::string with_lease(const cache_entry& e, std::uint64_t lease_until_ms);

  static std::string make_raw(std::uint64_t version, bool deleted, std::uint64_t lease_until_ms,
                              std::string_view row);

  /// Parses `bytes` (kept alive by the caller); nullopt if they are not an entry.
  static std::optional<cache_entry> parse(std::string_view bytes);

  static void put_varint(std::string& out, std::uint64_t v);
  static bool get_varint(std::string_view in, std::size_t& at, std::uint64_t& out);

  /// Decodes the row; false if the bytes do not decode into `Row`.
  template <class Row>
  bool decode(Row& out) const {
    const auto* p = reinterpret_cast<const std::byte*>(row.data());
    return !codec::decode(bytes_view(p, row.size()), codec::encoding::binary, out);
  }
};

/// Milliseconds since the Unix epoch: the clock of transaction leases, which several hosts
/// compare (keep their clocks in sync, e.g. with NTP).
EMBER_DECL std::uint64_t unix_ms();

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
EMBER_DECL std::string cache_key(std::string_view kind, std::string_view table, std::string_view name,
                                std::string_view value);

}  // namespace ember::data

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/data/impl/cache_entry.hpp"
#endif
