// ember: text helpers shared by the binary and JSON codecs: UTF-8 validation and base64.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

/// Marks codec functions that many places call once per field (the table-driven codec's
/// operations of each type, hand-written codecs): kept out of line, so each place costs one
/// call instead of an expanded copy.
#if defined(__GNUC__) || defined(__clang__)
#define EMBER_CODEC_NOINLINE [[gnu::noinline]]
#else
#define EMBER_CODEC_NOINLINE
#endif

/// Marks the few small codec functions that must not cost a call where they are used once per
/// field or byte (reading a key or a varint, finding room in the buffer).
#if defined(__GNUC__) || defined(__clang__)
#define EMBER_CODEC_ALWAYS_INLINE [[gnu::always_inline]]
#else
#define EMBER_CODEC_ALWAYS_INLINE
#endif

namespace ember::codec {

/// Length of the valid UTF-8 sequence starting at `p` (at most `n` bytes available), or 0 when
/// the bytes there are not one: overlong forms, surrogates and code points above U+10FFFF are
/// invalid, as RFC 3629 says.
inline std::size_t utf8_sequence_length(const unsigned char* p, std::size_t n) noexcept {
  const unsigned char b0 = p[0];
  if (b0 < 0x80) return 1;
  if (b0 < 0xC2) return 0;  // continuation byte or overlong two-byte lead
  if (b0 < 0xE0) return (n >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
  if (b0 < 0xF0) {
    if (n < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
    if (b0 == 0xE0 && p[1] < 0xA0) return 0;   // overlong
    if (b0 == 0xED && p[1] >= 0xA0) return 0;  // UTF-16 surrogate
    return 3;
  }
  if (b0 < 0xF5) {
    if (n < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) {
      return 0;
    }
    if (b0 == 0xF0 && p[1] < 0x90) return 0;   // overlong
    if (b0 == 0xF4 && p[1] >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

/// True when `s` is well-formed UTF-8.
inline bool valid_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    // ASCII runs are the common case: test eight bytes at a time.
    if (n - i >= 8) {
      std::uint64_t word;
      std::memcpy(&word, p + i, 8);
      if ((word & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    const std::size_t len = utf8_sequence_length(p + i, n - i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

/// Number of characters `base64_encode` writes for `n` bytes.
constexpr std::size_t base64_encoded_size(std::size_t n) noexcept { return (n + 2) / 3 * 4; }

/// Writes `in` as standard base64 (RFC 4648 section 4, with `=` padding) to `out`, which must
/// have room for `base64_encoded_size(in.size())` characters.
inline void base64_encode(std::span<const std::byte> in, char* out) noexcept {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::size_t i = 0;
  const std::size_t n = in.size();
  for (; i + 3 <= n; i += 3) {
    const std::uint32_t v = std::uint32_t(in[i]) << 16 | std::uint32_t(in[i + 1]) << 8 |
                            std::uint32_t(in[i + 2]);
    *out++ = alphabet[v >> 18];
    *out++ = alphabet[(v >> 12) & 63];
    *out++ = alphabet[(v >> 6) & 63];
    *out++ = alphabet[v & 63];
  }
  if (n - i == 1) {
    const std::uint32_t v = std::uint32_t(in[i]) << 16;
    *out++ = alphabet[v >> 18];
    *out++ = alphabet[(v >> 12) & 63];
    *out++ = '=';
    *out++ = '=';
  } else if (n - i == 2) {
    const std::uint32_t v = std::uint32_t(in[i]) << 16 | std::uint32_t(in[i + 1]) << 8;
    *out++ = alphabet[v >> 18];
    *out++ = alphabet[(v >> 12) & 63];
    *out++ = alphabet[(v >> 6) & 63];
    *out++ = '=';
  }
}

/// Decodes standard base64 into `out` (replacing its contents). Padding is optional; anything
/// else outside the alphabet, or a length no encoder produces, makes it return false.
inline bool base64_decode(std::string_view in, std::vector<std::byte>& out) {
  static constexpr auto table = [] {
    struct lookup {
      signed char v[256];
    } t{};
    for (auto& x : t.v) x = -1;
    const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t.v[static_cast<unsigned char>(a[i])] = static_cast<signed char>(i);
    return t;
  }();
  if (in.size() % 4 == 0 && !in.empty()) {
    // Strip up to two '=' of padding; a padded length must be a multiple of four.
    if (in.back() == '=') in.remove_suffix(1);
    if (!in.empty() && in.back() == '=') in.remove_suffix(1);
  }
  if (in.size() % 4 == 1) return false;
  out.clear();
  out.reserve(in.size() / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const int v = table.v[static_cast<unsigned char>(c)];
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::byte>((acc >> bits) & 0xFF));
    }
  }
  // Leftover bits must be zero, or two encodings would decode to the same bytes.
  return (acc & ((1u << bits) - 1)) == 0;
}

}  // namespace ember::codec
