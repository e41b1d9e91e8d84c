// libFuzzer target: a table row's cache entry, as it comes back from memcached or the journal.
//
// The whole input is one entry. `cache_entry::parse` may refuse it, but never crash or read
// out of bounds (ASan); it must agree with a reader written here from the format's description
// (whose varints are the codec's: at most 64 bits); and what it accepts must survive being
// written again:
//   - make_raw / with_lease of the parsed entry parse back to the same version, flags, lease
//     and row bytes, and writing that again gives the same bytes (the writer is canonical);
//   - the row is decoded into every row type of tests/data/data_test.toml; a row that decodes
//     is written with cache_entry::make (live and as a tombstone), which parses back to the
//     same version and flags and decodes to the same row.
#include "datatest.hpp"
#include "ember/data/cache_entry.hpp"

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"

namespace {

using ember::data::cache_entry;

/// A varint as the binary codec reads one: at most ten bytes, the tenth holding bit 63 only.
bool reference_varint(std::string_view in, std::size_t& at, std::uint64_t& out) {
  out = 0;
  for (int i = 0; i < 10; ++i) {
    if (at >= in.size()) return false;
    const auto b = static_cast<std::uint8_t>(in[at++]);
    if (i == 9 && b > 1) return false;
    out |= static_cast<std::uint64_t>(b & 0x7f) << (7 * i);
    if (b < 0x80) return true;
  }
  return false;
}

/// [u8 format 1][varint version][u8 flags: 1 deleted, 2 locked][varint lease > 0, if locked][row]
std::optional<cache_entry> reference_parse(std::string_view in) {
  if (in.empty() || static_cast<std::uint8_t>(in[0]) != 1) return std::nullopt;
  cache_entry e;
  std::size_t at = 1;
  if (!reference_varint(in, at, e.version) || at == in.size()) return std::nullopt;
  const auto flags = static_cast<std::uint8_t>(in[at++]);
  if (flags > 3) return std::nullopt;
  e.deleted = (flags & 1) != 0;
  if ((flags & 2) != 0 && (!reference_varint(in, at, e.lease_until_ms) || e.lease_until_ms == 0))
    return std::nullopt;
  e.row = in.substr(at);
  return e;
}

bool same_fields(const cache_entry& a, const cache_entry& b) {
  return a.version == b.version && a.deleted == b.deleted && a.lease_until_ms == b.lease_until_ms &&
         a.row == b.row;
}

/// Writes `e` with `lease` (as with_lease does) and checks what parses back.
void check_rewrite(const cache_entry& e, std::uint64_t lease) {
  const std::string bytes = cache_entry::with_lease(e, lease);
  const auto again = cache_entry::parse(bytes);
  EMBER_FUZZ_CHECK(again.has_value());
  EMBER_FUZZ_CHECK(again->version == e.version);
  EMBER_FUZZ_CHECK(again->deleted == e.deleted);
  EMBER_FUZZ_CHECK(again->lease_until_ms == lease);
  EMBER_FUZZ_CHECK(again->locked() == (lease != 0));
  EMBER_FUZZ_CHECK(again->row == e.row);
  EMBER_FUZZ_CHECK(cache_entry::with_lease(*again, lease) == bytes);
  EMBER_FUZZ_CHECK(cache_entry::make_raw(again->version, again->deleted, again->lease_until_ms, again->row) ==
                   bytes);
}

template <class Row>
std::string binary(const Row& r) {
  ember::buffer b;
  ember::codec::encode(b, r, ember::codec::encoding::binary);
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

/// a == b, or for rows holding a NaN (a != a) the same binary encoding.
template <class Row>
bool same_row(const Row& a, const Row& b) {
  if (a == a) return a == b;
  return binary(a) == binary(b);
}

template <class Row>
void check_row(const cache_entry& e) {
  Row row;
  if (!e.decode(row)) return;

  const std::string live = cache_entry::make(e.version, &row);
  const auto parsed = cache_entry::parse(live);
  EMBER_FUZZ_CHECK(parsed.has_value());
  EMBER_FUZZ_CHECK(parsed->version == e.version);
  EMBER_FUZZ_CHECK(!parsed->deleted && !parsed->locked());
  EMBER_FUZZ_CHECK(parsed->row == binary(row));
  Row again;
  EMBER_FUZZ_CHECK(parsed->decode(again));
  EMBER_FUZZ_CHECK(same_row(row, again));
  EMBER_FUZZ_CHECK(cache_entry::make(parsed->version, &again) == live);
  check_rewrite(*parsed, e.lease_until_ms);

  const std::string tomb = cache_entry::make<Row>(e.version, nullptr);
  const auto dead = cache_entry::parse(tomb);
  EMBER_FUZZ_CHECK(dead.has_value());
  EMBER_FUZZ_CHECK(dead->version == e.version && dead->deleted && !dead->locked() && dead->row.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto e = cache_entry::parse(in);
  const auto expected = reference_parse(in);
  EMBER_FUZZ_CHECK(e.has_value() == expected.has_value());
  if (!e) return 0;
  EMBER_FUZZ_CHECK(same_fields(*e, *expected));

  // what parse accepted: the row is the input's tail, a lock has a lease
  EMBER_FUZZ_CHECK(!in.empty() && static_cast<std::uint8_t>(in[0]) == cache_entry::format);
  EMBER_FUZZ_CHECK(e->row.size() < in.size());
  EMBER_FUZZ_CHECK(e->row.data() == in.data() + (in.size() - e->row.size()));
  EMBER_FUZZ_CHECK(e->locked() == (e->lease_until_ms != 0));

  // written again, with its own lease and with others, it parses back the same
  const std::string canonical = cache_entry::make_raw(e->version, e->deleted, e->lease_until_ms, e->row);
  const auto again = cache_entry::parse(canonical);
  EMBER_FUZZ_CHECK(again.has_value() && same_fields(*e, *again));
  EMBER_FUZZ_CHECK(canonical.size() <= in.size());
  for (std::uint64_t lease : {e->lease_until_ms, std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{127},
                              std::uint64_t{128}, e->lease_until_ms + 1, std::numeric_limits<std::uint64_t>::max()})
    check_rewrite(*e, lease);

  check_row<datatest::player>(*e);
  check_row<datatest::item>(*e);
  check_row<datatest::account>(*e);
  return 0;
}
