// ember: the binary body encoding (protobuf-compatible wire format, PROTOCOL.md, "Body encodings").
// The table-driven codec (table.hpp) calls these functions field by field; nothing here
// allocates except the strings and vectors the message itself owns.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "ember/codec/text.hpp"
#include "ember/error.hpp"
#include "ember/buffer.hpp"

namespace ember::codec {

/// The low three bits of a field key: how the value that follows is laid out.
enum class wire_type : std::uint8_t {
  varint = 0,   ///< base-128 varint: integers, bools, enums
  fixed64 = 1,  ///< 8 bytes little-endian: f64
  len = 2,      ///< varint length, then that many bytes: strings, bytes, structs, packed lists
  fixed32 = 5,  ///< 4 bytes little-endian: f32
};

/// The largest field tag the key's 29 tag bits can hold.
inline constexpr std::uint32_t max_tag = (1u << 29) - 1;
/// Decoders refuse structs nested deeper than this (the top-level message is depth 0).
inline constexpr int max_depth = 64;

/// Maps signed to unsigned so that small magnitudes make short varints (0,-1,1,-2 → 0,1,2,3).
constexpr std::uint64_t zigzag_encode(std::int64_t v) noexcept {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
/// The inverse of `zigzag_encode`.
constexpr std::int64_t zigzag_decode(std::uint64_t v) noexcept {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}
/// Bytes a varint of `v` takes (1..10).
constexpr std::size_t varint_size(std::uint64_t v) noexcept {
  return (static_cast<std::size_t>(std::bit_width(v | 1)) + 6) / 7;
}
/// The varint value of an enum: its int32 sign-extended to 64 bits, as protobuf does.
constexpr std::uint64_t enum_bits(std::int32_t v) noexcept {
  return static_cast<std::uint64_t>(static_cast<std::int64_t>(v));
}

/// Appends binary fields to an `ember::buffer`. `field_*` skip a value equal to its default
/// (0, false, empty); `put_*` always write (optional fields, list elements, map entries).
class binary_writer {
 public:
  explicit binary_writer(buffer& out) noexcept : out_(out) {}

  buffer& out() noexcept { return out_; }

  EMBER_CODEC_ALWAYS_INLINE void put_varint(std::uint64_t v) {
    std::byte* p = room(10);
    out_.commit(static_cast<std::size_t>(write_varint(p, v) - p));
  }
  void put_fixed32(std::uint32_t v) {
    std::byte* p = room(4);
    write_fixed(p, v);
    out_.commit(4);
  }
  void put_fixed64(std::uint64_t v) {
    std::byte* p = room(8);
    write_fixed(p, v);
    out_.commit(8);
  }
  EMBER_CODEC_ALWAYS_INLINE void put_key(std::uint32_t tag, wire_type wt) {
    put_varint(key_of(tag, wt));
  }

  // --- one field, always written: key and value in one stretch of room (a key takes at most
  // 5 bytes, a varint 10)
  void put_uint(std::uint32_t tag, std::uint64_t v) { put_key_varint(key_of(tag, wire_type::varint), v); }
  void put_sint(std::uint32_t tag, std::int64_t v) {
    put_key_varint(key_of(tag, wire_type::varint), zigzag_encode(v));
  }
  void put_bool(std::uint32_t tag, bool v) { put_key_varint(key_of(tag, wire_type::varint), v ? 1 : 0); }
  /// An enum field by its int32 value.
  void put_enum_value(std::uint32_t tag, std::int32_t v) {
    put_key_varint(key_of(tag, wire_type::varint), enum_bits(v));
  }
  void put_f32(std::uint32_t tag, float v) {
    std::byte* const start = room(5 + 4);
    std::byte* p = write_varint(start, key_of(tag, wire_type::fixed32));
    write_fixed(p, std::bit_cast<std::uint32_t>(v));
    out_.commit(static_cast<std::size_t>(p + 4 - start));
  }
  void put_f64(std::uint32_t tag, double v) {
    std::byte* const start = room(5 + 8);
    std::byte* p = write_varint(start, key_of(tag, wire_type::fixed64));
    write_fixed(p, std::bit_cast<std::uint64_t>(v));
    out_.commit(static_cast<std::size_t>(p + 8 - start));
  }
  void put_string(std::uint32_t tag, std::string_view v) { put_len(tag, v.data(), v.size()); }
  void put_bytes(std::uint32_t tag, const std::vector<std::byte>& v) {
    put_len(tag, v.data(), v.size());
  }

  // --- one field, skipped when it holds the default
  void field_uint(std::uint32_t tag, std::uint64_t v) {
    if (v != 0) put_uint(tag, v);
  }
  void field_sint(std::uint32_t tag, std::int64_t v) {
    if (v != 0) put_sint(tag, v);
  }
  void field_bool(std::uint32_t tag, bool v) {
    if (v) put_bool(tag, v);
  }
  /// Zero is skipped by its bits, so -0.0 (and every NaN) still travels.
  void field_f32(std::uint32_t tag, float v) {
    if (std::bit_cast<std::uint32_t>(v) != 0) put_f32(tag, v);
  }
  void field_f64(std::uint32_t tag, double v) {
    if (std::bit_cast<std::uint64_t>(v) != 0) put_f64(tag, v);
  }
  void field_string(std::uint32_t tag, std::string_view v) {
    if (!v.empty()) put_string(tag, v);
  }
  void field_bytes(std::uint32_t tag, const std::vector<std::byte>& v) {
    if (!v.empty()) put_bytes(tag, v);
  }

  // --- lists of strings and bytes: one field per element
  void repeated_string(std::uint32_t tag, const std::vector<std::string>& v) {
    for (const auto& x : v) put_string(tag, x);
  }
  void repeated_bytes(std::uint32_t tag, const std::vector<std::vector<std::byte>>& v) {
    for (const auto& x : v) put_bytes(tag, x);
  }
  // --- lists of numbers: one length-delimited field of packed values; nothing when empty
  template <class U>
  void packed_uint(std::uint32_t tag, const std::vector<U>& v) {
    if (v.empty()) return;
    std::size_t size = 0;
    for (U x : v) size += varint_size(x);
    std::byte* p = begin_packed(tag, size);
    for (U x : v) p = write_varint(p, x);
  }
  template <class S>
  void packed_sint(std::uint32_t tag, const std::vector<S>& v) {
    if (v.empty()) return;
    std::size_t size = 0;
    for (S x : v) size += varint_size(zigzag_encode(x));
    std::byte* p = begin_packed(tag, size);
    for (S x : v) p = write_varint(p, zigzag_encode(x));
  }
  void packed_bool(std::uint32_t tag, const std::vector<bool>& v) {
    if (v.empty()) return;
    std::byte* p = begin_packed(tag, v.size());
    for (std::size_t i = 0; i < v.size(); ++i) p[i] = static_cast<std::byte>(v[i] ? 1 : 0);
  }
  template <class E>
  void packed_enum(std::uint32_t tag, const std::vector<E>& v) {
    if (v.empty()) return;
    std::size_t size = 0;
    for (E x : v) size += varint_size(enum_bits(static_cast<std::int32_t>(x)));
    std::byte* p = begin_packed(tag, size);
    for (E x : v) p = write_varint(p, enum_bits(static_cast<std::int32_t>(x)));
  }
  void packed_f32(std::uint32_t tag, const std::vector<float>& v) { packed_fixed(tag, v); }
  void packed_f64(std::uint32_t tag, const std::vector<double>& v) { packed_fixed(tag, v); }

  // --- nested messages (structs, map entries)
  /// Where a nested message started; pass it to `end_nested`.
  struct nested_mark {
    std::size_t key_at;
    std::size_t body_at;
  };
  /// Writes the key and one placeholder length byte; the body follows directly.
  nested_mark begin_nested(std::uint32_t tag) {
    const std::size_t key_at = out_.size();
    std::byte* const start = room(5 + 1);
    std::byte* const p = write_varint(start, key_of(tag, wire_type::len));
    *p = std::byte{0};
    out_.commit(static_cast<std::size_t>(p + 1 - start));
    return {key_at, out_.size()};
  }
  /// Fills in the length. Bodies of 128 bytes or more need a longer varint: the body moves up
  /// by the missing bytes (one memmove, no temporary). With `omit_empty`, an empty body
  /// removes the whole field, key included.
  void end_nested(nested_mark m, bool omit_empty) {
    const std::size_t n = out_.size() - m.body_at;
    if (n == 0 && omit_empty) {
      out_.resize(m.key_at);
      return;
    }
    if (n < 0x80) {
      out_[m.body_at - 1] = static_cast<std::byte>(n);
      return;
    }
    long_length(m, n);
  }

 private:
  static constexpr std::uint64_t key_of(std::uint32_t tag, wire_type wt) noexcept {
    return (static_cast<std::uint64_t>(tag) << 3) | static_cast<std::uint64_t>(wt);
  }
  /// Writes the varint of `v` at `p`, which has room for 10 bytes; returns its end.
  EMBER_CODEC_ALWAYS_INLINE static std::byte* write_varint(std::byte* p, std::uint64_t v) noexcept {
    while (v >= 0x80) {
      *p++ = static_cast<std::byte>(v | 0x80);
      v >>= 7;
    }
    *p++ = static_cast<std::byte>(v);
    return p;
  }
  /// Writes `v` little-endian at `p`.
  template <class U>
  EMBER_CODEC_ALWAYS_INLINE static void write_fixed(std::byte* p, U v) noexcept {
    for (std::size_t i = 0; i < sizeof(U); ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
  }
  /// A key and a varint value, with one check for room.
  EMBER_CODEC_ALWAYS_INLINE void put_key_varint(std::uint64_t key, std::uint64_t v) {
    std::byte* const start = room(5 + 10);
    std::byte* const end = write_varint(write_varint(start, key), v);
    out_.commit(static_cast<std::size_t>(end - start));
  }

  /// `end_nested` for a body of `n` >= 128 bytes.
  void long_length(nested_mark m, std::size_t n) {
    const std::size_t extra = varint_size(n) - 1;
    out_.prepare(extra);
    std::byte* base = out_.data();
    std::memmove(base + m.body_at + extra, base + m.body_at, n);
    out_.commit(extra);
    std::byte* p = base + m.body_at - 1;
    std::uint64_t v = n;
    while (v >= 0x80) {
      *p++ = static_cast<std::byte>(v | 0x80);
      v >>= 7;
    }
    *p = static_cast<std::byte>(v);
  }

  /// Room for `n` more bytes: `buffer::prepare`, with the common case (there is room) inline
  /// wherever a byte is written.
  EMBER_CODEC_ALWAYS_INLINE std::byte* room(std::size_t n) {
    if (out_.capacity() - out_.size() >= n) [[likely]] return out_.data() + out_.size();
    return out_.prepare(n);
  }
  /// Writes the key and length of a packed list of `size` bytes and returns where its `size`
  /// bytes go (they count already).
  std::byte* begin_packed(std::uint32_t tag, std::size_t size) {
    std::byte* const start = room(5 + 10 + size);
    std::byte* const p = write_varint(write_varint(start, key_of(tag, wire_type::len)), size);
    out_.commit(static_cast<std::size_t>(p - start) + size);
    return p;
  }
  /// A length-delimited field: key, length, the `n` bytes at `data`.
  void put_len(std::uint32_t tag, const void* data, std::size_t n) {
    std::byte* const start = room(5 + 10 + n);
    std::byte* const p = write_varint(write_varint(start, key_of(tag, wire_type::len)), n);
    if (n != 0) std::memcpy(p, data, n);  // a null pointer copies nothing
    out_.commit(static_cast<std::size_t>(p - start) + n);
  }
  template <class F>
  void packed_fixed(std::uint32_t tag, const std::vector<F>& v) {
    if (v.empty()) return;
    const std::size_t size = v.size() * sizeof(F);
    std::byte* p = begin_packed(tag, size);
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(p, v.data(), size);
    } else {
      using bits = std::conditional_t<sizeof(F) == 4, std::uint32_t, std::uint64_t>;
      for (F x : v) {
        const bits b = std::bit_cast<bits>(x);
        for (std::size_t i = 0; i < sizeof(F); ++i) *p++ = static_cast<std::byte>(b >> (8 * i));
      }
    }
  }

  buffer& out_;
};

/// Reads binary fields from a byte range that it never reads past. Every `get_*` checks the
/// wire type first (`errc::wrong_wire_type`), then the bytes (`truncated_body`,
/// `malformed_body`), then the value (`value_out_of_range`).
class binary_reader {
 public:
  binary_reader() noexcept = default;
  explicit binary_reader(bytes_view in, int depth = 0) noexcept
      : p_(in.data()), end_(in.data() + in.size()), depth_(depth) {}

  bool at_end() const noexcept { return p_ == end_; }
  std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - p_); }
  /// How many structs deep this reader is (0 for the top-level message).
  int depth() const noexcept { return depth_; }

  EMBER_CODEC_ALWAYS_INLINE std::error_code read_varint(std::uint64_t& out) noexcept {
    if (p_ != end_ && static_cast<unsigned char>(*p_) < 0x80) {
      out = static_cast<unsigned char>(*p_++);
      return {};
    }
    return read_long_varint(out);
  }

  /// Reads a field key. Tag 0, keys beyond 32 bits and the group wire types 3 and 4 (and the
  /// undefined 6 and 7) are malformed: no field can be skipped without knowing its layout.
  EMBER_CODEC_ALWAYS_INLINE std::error_code read_key(std::uint32_t& tag, wire_type& wt) noexcept {
    std::uint64_t key = 0;
    if (auto ec = read_varint(key)) return ec;
    const auto w = static_cast<unsigned>(key & 7);
    if (key > 0xFFFFFFFFu || (key >> 3) == 0 || !(w == 0 || w == 1 || w == 2 || w == 5)) {
      return errc::malformed_body;
    }
    tag = static_cast<std::uint32_t>(key >> 3);
    wt = static_cast<wire_type>(w);
    return {};
  }

  /// Skips the value of a field this reader does not know (a newer peer's addition).
  std::error_code skip(wire_type wt) noexcept {
    switch (wt) {
      case wire_type::varint: {
        std::uint64_t ignored;
        return read_varint(ignored);
      }
      case wire_type::fixed64:
        return advance(8);
      case wire_type::fixed32:
        return advance(4);
      case wire_type::len: {
        std::size_t n = 0;
        if (auto ec = read_length(n)) return ec;
        p_ += n;
        return {};
      }
    }
    return errc::malformed_body;
  }

  // --- scalars
  template <class U>
  std::error_code get_uint(wire_type wt, U& out) noexcept {
    static_assert(std::is_unsigned_v<U> && !std::is_same_v<U, bool>);
    if (wt != wire_type::varint) return errc::wrong_wire_type;
    std::uint64_t v = 0;
    if (auto ec = read_varint(v)) return ec;
    if (v > std::numeric_limits<U>::max()) return errc::value_out_of_range;
    out = static_cast<U>(v);
    return {};
  }
  template <class S>
  std::error_code get_sint(wire_type wt, S& out) noexcept {
    static_assert(std::is_signed_v<S> && std::is_integral_v<S>);
    if (wt != wire_type::varint) return errc::wrong_wire_type;
    std::uint64_t v = 0;
    if (auto ec = read_varint(v)) return ec;
    const std::int64_t s = zigzag_decode(v);
    if (s < std::numeric_limits<S>::min() || s > std::numeric_limits<S>::max()) {
      return errc::value_out_of_range;
    }
    out = static_cast<S>(s);
    return {};
  }
  std::error_code get_bool(wire_type wt, bool& out) noexcept {
    if (wt != wire_type::varint) return errc::wrong_wire_type;
    std::uint64_t v = 0;
    if (auto ec = read_varint(v)) return ec;
    if (v > 1) return errc::value_out_of_range;
    out = v != 0;
    return {};
  }
  /// Values the enum does not name are kept: a newer peer may have added them.
  template <class E>
    requires std::is_enum_v<E>
  std::error_code get_enum(wire_type wt, E& out) noexcept {
    std::int32_t e = 0;
    if (auto ec = get_enum_value(wt, e)) return ec;
    out = static_cast<E>(e);
    return {};
  }
  /// An enum field as its int32 value.
  std::error_code get_enum_value(wire_type wt, std::int32_t& out) noexcept {
    if (wt != wire_type::varint) return errc::wrong_wire_type;
    std::uint64_t v = 0;
    if (auto ec = read_varint(v)) return ec;
    return enum_value(v, out);
  }
  std::error_code get_f32(wire_type wt, float& out) noexcept {
    if (wt != wire_type::fixed32) return errc::wrong_wire_type;
    if (remaining() < 4) return errc::truncated_body;
    out = std::bit_cast<float>(load_fixed32(p_));
    p_ += 4;
    return {};
  }
  std::error_code get_f64(wire_type wt, double& out) noexcept {
    if (wt != wire_type::fixed64) return errc::wrong_wire_type;
    if (remaining() < 8) return errc::truncated_body;
    out = std::bit_cast<double>(load_fixed64(p_));
    p_ += 8;
    return {};
  }
  /// Strings must be valid UTF-8 (`malformed_body` otherwise), so JSON can always carry them.
  std::error_code get_string(wire_type wt, std::string& out) {
    if (wt != wire_type::len) return errc::wrong_wire_type;
    std::size_t n = 0;
    if (auto ec = read_length(n)) return ec;
    const std::string_view s(reinterpret_cast<const char*>(p_), n);
    if (!valid_utf8(s)) return errc::malformed_body;
    out.assign(s);
    p_ += n;
    return {};
  }
  std::error_code get_bytes(wire_type wt, std::vector<std::byte>& out) {
    if (wt != wire_type::len) return errc::wrong_wire_type;
    std::size_t n = 0;
    if (auto ec = read_length(n)) return ec;
    out.assign(p_, p_ + n);
    p_ += n;
    return {};
  }

  // --- lists of numbers: packed, or (as protobuf allows) one unpacked element per field
  template <class U>
  std::error_code get_packed_uint(wire_type wt, std::vector<U>& out) {
    return get_packed(wt, wire_type::varint, out, [](binary_reader& r, U& x) {
      return r.get_uint(wire_type::varint, x);
    });
  }
  template <class S>
  std::error_code get_packed_sint(wire_type wt, std::vector<S>& out) {
    return get_packed(wt, wire_type::varint, out, [](binary_reader& r, S& x) {
      return r.get_sint(wire_type::varint, x);
    });
  }
  std::error_code get_packed_bool(wire_type wt, std::vector<bool>& out) {
    return get_packed(wt, wire_type::varint, out, [](binary_reader& r, bool& x) {
      return r.get_bool(wire_type::varint, x);
    });
  }
  template <class E>
  std::error_code get_packed_enum(wire_type wt, std::vector<E>& out) {
    return get_packed(wt, wire_type::varint, out, [](binary_reader& r, E& x) {
      return r.get_enum(wire_type::varint, x);
    });
  }
  std::error_code get_packed_f32(wire_type wt, std::vector<float>& out) {
    return get_packed_fixed(wt, wire_type::fixed32, out);
  }
  std::error_code get_packed_f64(wire_type wt, std::vector<double>& out) {
    return get_packed_fixed(wt, wire_type::fixed64, out);
  }

  // --- nested messages
  /// Opens the length-delimited struct at the cursor as `sub`, one level deeper, and moves
  /// past it.
  std::error_code enter(wire_type wt, binary_reader& sub) noexcept {
    if (depth_ >= max_depth) return errc::nesting_too_deep;
    if (auto ec = open(wt, sub)) return ec;
    sub.depth_ = depth_ + 1;
    return {};
  }
  /// Opens a map entry as `sub`; entries don't count as a level, their struct values do.
  std::error_code open(wire_type wt, binary_reader& sub) noexcept {
    if (wt != wire_type::len) return errc::wrong_wire_type;
    std::size_t n = 0;
    if (auto ec = read_length(n)) return ec;
    sub = binary_reader(bytes_view(p_, n), depth_);
    p_ += n;
    return {};
  }

 private:
  static std::uint32_t load_fixed32(const std::byte* p) noexcept {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(p[i]) << (8 * i);
    return v;
  }
  static std::uint64_t load_fixed64(const std::byte* p) noexcept {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
    return v;
  }
  static std::error_code enum_value(std::uint64_t v, std::int32_t& out) noexcept {
    const auto s = static_cast<std::int64_t>(v);
    if (s < std::numeric_limits<std::int32_t>::min() ||
        s > std::numeric_limits<std::int32_t>::max()) {
      return errc::value_out_of_range;
    }
    out = static_cast<std::int32_t>(s);
    return {};
  }
  std::error_code read_long_varint(std::uint64_t& out) noexcept {
    std::uint64_t v = 0;
    for (int i = 0; i < 10; ++i) {
      if (p_ == end_) return errc::truncated_body;
      const auto b = static_cast<unsigned char>(*p_++);
      // The tenth byte holds bit 63 only; anything more is not a 64-bit varint.
      if (i == 9 && b > 1) return errc::malformed_body;
      v |= static_cast<std::uint64_t>(b & 0x7F) << (7 * i);
      if (b < 0x80) {
        out = v;
        return {};
      }
    }
    return errc::malformed_body;
  }
  std::error_code advance(std::size_t n) noexcept {
    if (remaining() < n) return errc::truncated_body;
    p_ += n;
    return {};
  }
  /// Reads a length and checks that that many bytes follow.
  std::error_code read_length(std::size_t& n) noexcept {
    std::uint64_t v = 0;
    if (auto ec = read_varint(v)) return ec;
    if (v > remaining()) return errc::truncated_body;
    n = static_cast<std::size_t>(v);
    return {};
  }
  template <class T, class ReadOne>
  std::error_code get_packed(wire_type wt, wire_type element, std::vector<T>& out,
                             ReadOne read_one) {
    if (wt == element) {
      T x{};
      if (auto ec = read_one(*this, x)) return ec;
      out.push_back(x);
      return {};
    }
    if (wt != wire_type::len) return errc::wrong_wire_type;
    std::size_t n = 0;
    if (auto ec = read_length(n)) return ec;
    binary_reader packed(bytes_view(p_, n), depth_);
    p_ += n;
    while (!packed.at_end()) {
      T x{};
      if (auto ec = read_one(packed, x)) {
        // A packed run that ends inside a value is malformed, not a truncated body.
        return ec == errc::truncated_body ? make_error_code(errc::malformed_body) : ec;
      }
      out.push_back(x);
    }
    return {};
  }
  template <class F>
  std::error_code get_packed_fixed(wire_type wt, wire_type element, std::vector<F>& out) {
    using bits = std::conditional_t<sizeof(F) == 4, std::uint32_t, std::uint64_t>;
    auto load = [](const std::byte* p) {
      if constexpr (sizeof(F) == 4) {
        return std::bit_cast<F>(load_fixed32(p));
      } else {
        return std::bit_cast<F>(static_cast<bits>(load_fixed64(p)));
      }
    };
    if (wt == element) {
      if (remaining() < sizeof(F)) return errc::truncated_body;
      out.push_back(load(p_));
      p_ += sizeof(F);
      return {};
    }
    if (wt != wire_type::len) return errc::wrong_wire_type;
    std::size_t n = 0;
    if (auto ec = read_length(n)) return ec;
    if (n % sizeof(F) != 0) return errc::malformed_body;
    const std::size_t count = n / sizeof(F);
    const std::size_t old = out.size();
    out.resize(old + count);
    for (std::size_t i = 0; i < count; ++i) out[old + i] = load(p_ + i * sizeof(F));
    p_ += n;
    return {};
  }

  const std::byte* p_ = nullptr;
  const std::byte* end_ = nullptr;
  int depth_ = 0;
};

}  // namespace ember::codec
