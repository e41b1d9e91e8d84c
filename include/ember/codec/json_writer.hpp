// ember: writing message bodies as JSON (PROTOCOL.md, "Body encodings", "JSON bodies"), with fmt
// for numbers and a hand-written string escaper. No DOM, no temporaries: text goes straight
// into an `ember::buffer`.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "ember/codec/text.hpp"
#include "ember/buffer.hpp"

namespace ember::codec {

/// Appends one JSON value to a buffer. Commas are placed by the writer: after
/// `begin_object`/`begin_array` nothing is pending, after any complete value a comma is.
class json_writer {
 public:
  /// With `redact`, fields marked `secret` in the schema are written as "***" (for logs).
  explicit json_writer(buffer& out, bool redact = false) noexcept : out_(out), redact_(redact) {}

  buffer& out() noexcept { return out_; }
  bool redacting() const noexcept { return redact_; }

  EMBER_CODEC_NOINLINE void begin_object() { open('{'); }
  EMBER_CODEC_NOINLINE void end_object() { close('}'); }
  EMBER_CODEC_NOINLINE void begin_array() { open('['); }
  EMBER_CODEC_NOINLINE void end_array() { close(']'); }
  /// A key that is a schema identifier (letters, digits, '_'): written without escaping.
  EMBER_CODEC_NOINLINE void key(std::string_view name) {
    char* p = room(name.size() + 4);
    std::size_t n = 0;
    if (need_comma_) p[n++] = ',';
    p[n++] = '"';
    copy(p + n, name.data(), name.size());
    n += name.size();
    p[n++] = '"';
    p[n++] = ':';
    out_.commit(n);
    need_comma_ = false;
  }
  /// A key from data (a map key): escaped like any string.
  EMBER_CODEC_NOINLINE void key_string(std::string_view name) {
    value_string(name);
    put(':');
    need_comma_ = false;
  }

  EMBER_CODEC_NOINLINE void value_null() { raw("null"); }
  EMBER_CODEC_NOINLINE void value_bool(bool v) { raw(v ? std::string_view("true") : std::string_view("false")); }
  EMBER_CODEC_NOINLINE void value_sint(std::int64_t v) {
    char* p = room(1 + 20);  // comma, sign, 19 digits
    char* const start = p;
    if (need_comma_) *p++ = ',';
    std::uint64_t magnitude = static_cast<std::uint64_t>(v);
    if (v < 0) {
      *p++ = '-';
      magnitude = 0 - magnitude;
    }
    out_.commit(static_cast<std::size_t>(write_decimal(p, magnitude) - start));
    need_comma_ = true;
  }
  EMBER_CODEC_NOINLINE void value_uint(std::uint64_t v) {
    char* p = room(1 + 20);
    char* const start = p;
    if (need_comma_) *p++ = ',';
    out_.commit(static_cast<std::size_t>(write_decimal(p, v) - start));
    need_comma_ = true;
  }
  /// Shortest text that reads back to the same float; NaN and infinities as strings.
  EMBER_CODEC_NOINLINE void value_f32(float v) {
    if (!std::isfinite(v) || (v == 0 && std::signbit(v))) return special(v);
    separate();
    char* p = room(32);
    out_.commit(static_cast<std::size_t>(fmt::format_to(p, "{}", v) - p));
    need_comma_ = true;
  }
  EMBER_CODEC_NOINLINE void value_f64(double v) {
    if (!std::isfinite(v) || (v == 0 && std::signbit(v))) return special(v);
    separate();
    char* p = room(32);
    out_.commit(static_cast<std::size_t>(fmt::format_to(p, "{}", v) - p));
    need_comma_ = true;
  }
  /// Quotes and escapes `s`: `"` and `\` escaped, control characters as \n, \t ... or \u00XX,
  /// valid UTF-8 copied as it is, each invalid byte replaced by U+FFFD.
  EMBER_CODEC_NOINLINE void value_string(std::string_view s) {
    if (plain(s)) {
      char* p = room(s.size() + 3);
      std::size_t n = 0;
      if (need_comma_) p[n++] = ',';
      p[n++] = '"';
      copy(p + n, s.data(), s.size());
      n += s.size();
      p[n++] = '"';
      out_.commit(n);
      need_comma_ = true;
      return;
    }
    separate();
    put('"');
    escape(s);
    put('"');
    need_comma_ = true;
  }
  /// Standard base64 with padding, as a string.
  EMBER_CODEC_NOINLINE void value_bytes(const std::vector<std::byte>& v) {
    separate();
    const std::size_t n = base64_encoded_size(v.size());
    char* p = room(n + 2);
    p[0] = '"';
    base64_encode(v, p + 1);
    p[n + 1] = '"';
    out_.commit(n + 2);
    need_comma_ = true;
  }
  /// The placeholder written for secret fields when redacting.
  EMBER_CODEC_NOINLINE void value_redacted() { raw("\"***\""); }

 private:
  /// Writes the decimal digits of `v` at `p` and returns their end: straight into the buffer,
  /// two digits at a time from the last, as `fmt::format_int` does into a buffer of its own
  /// (whose bytes, copied right after they were written, stalled the copy's loads).
  static char* write_decimal(char* p, std::uint64_t v) noexcept {
    static constexpr char pairs[] =
        "0001020304050607080910111213141516171819202122232425262728293031323334353637383940414243"
        "4445464748495051525354555657585960616263646566676869707172737475767778798081828384858687"
        "888990919293949596979899";
    // 10 to the power of the index; 0 first, as 0 has one digit too
    static constexpr std::uint64_t powers[] = {
        0, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000,
        10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull,
        100000000000000ull, 1000000000000000ull, 10000000000000000ull, 100000000000000000ull,
        1000000000000000000ull, 10000000000000000000ull};
    // The number of digits without a division: t, from the bit width (1233 / 4096 is a little
    // under log10(2)), is floor(log10(v)) or one more, which one comparison tells.
    const auto t = (static_cast<std::size_t>(std::bit_width(v | 1)) * 1233) >> 12;
    const std::size_t n = t + 1 - (v < powers[t] ? 1 : 0);
    char* const end = p + n;
    char* q = end;
    while (v >= 100) {
      q -= 2;
      std::memcpy(q, pairs + 2 * (v % 100), 2);
      v /= 100;
    }
    if (v >= 10) {
      std::memcpy(q - 2, pairs + 2 * v, 2);
    } else {
      q[-1] = static_cast<char>('0' + v);
    }
    return end;
  }
  /// Copies `n` bytes from `s` to `d`. Keys and numbers are short: up to 16 bytes take two
  /// overlapping loads and stores, without a call to memcpy (whose size is not known here).
  EMBER_CODEC_ALWAYS_INLINE static void copy(char* d, const char* s, std::size_t n) noexcept {
    if (n > 16) {
      std::memcpy(d, s, n);
    } else if (n >= 8) {
      copy_ends<8>(d, s, n);
    } else if (n >= 4) {
      copy_ends<4>(d, s, n);
    } else if (n >= 2) {
      copy_ends<2>(d, s, n);
    } else if (n == 1) {
      *d = *s;
    }
  }
  /// The first and last `k` of `n` bytes (k <= n <= 2k), which together are all of them.
  template <std::size_t k>
  EMBER_CODEC_ALWAYS_INLINE static void copy_ends(char* d, const char* s, std::size_t n) noexcept {
    char head[k];
    char tail[k];
    std::memcpy(head, s, k);
    std::memcpy(tail, s + n - k, k);
    std::memcpy(d, head, k);
    std::memcpy(d + n - k, tail, k);
  }
  /// Room for `n` more characters: `buffer::prepare`, with the common case (there is room)
  /// inline wherever a character is written.
  EMBER_CODEC_ALWAYS_INLINE char* room(std::size_t n) {
    if (out_.capacity() - out_.size() >= n) [[likely]] {
      return reinterpret_cast<char*>(out_.data() + out_.size());
    }
    return reinterpret_cast<char*>(out_.prepare(n));
  }
  void put(char c) {
    *room(1) = c;
    out_.commit(1);
  }
  void separate() {
    if (need_comma_) put(',');
  }
  /// `c` ('{' or '['), after the pending comma.
  void open(char c) {
    char* p = room(2);
    std::size_t n = 0;
    if (need_comma_) p[n++] = ',';
    p[n++] = c;
    out_.commit(n);
    need_comma_ = false;
  }
  /// `c` ('}' or ']'): a complete value.
  void close(char c) {
    put(c);
    need_comma_ = true;
  }
  void raw(std::string_view s) {
    char* p = room(s.size() + 1);
    std::size_t n = 0;
    if (need_comma_) p[n++] = ',';
    copy(p + n, s.data(), s.size());
    out_.commit(n + s.size());
    need_comma_ = true;
  }
  /// True when `s` is ASCII without control characters, `"` and `\`: its JSON string is
  /// itself in quotes.
  static bool plain(std::string_view s) noexcept {
    for (const char c : s) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u >= 0x80 || c == '"' || c == '\\') return false;
    }
    return true;
  }
  void special(double v) {
    if (std::isnan(v)) return raw("\"NaN\"");
    if (std::isinf(v)) return raw(v > 0 ? std::string_view("\"Infinity\"") : "\"-Infinity\"");
    raw("-0.0");
  }
  void escape(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    std::size_t run = 0;  // start of the pending run of bytes copied unchanged
    std::size_t i = 0;
    auto flush = [&] {
      out_.append(p + run, i - run);
    };
    while (i < n) {
      const unsigned char c = p[i];
      if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
        ++i;
        continue;
      }
      if (c >= 0x80) {
        const std::size_t len = utf8_sequence_length(p + i, n - i);
        if (len != 0) {
          i += len;
          continue;
        }
        flush();
        out_.append(std::string_view("\\ufffd"));
        run = ++i;
        continue;
      }
      flush();
      switch (c) {
        case '"': out_.append(std::string_view("\\\"")); break;
        case '\\': out_.append(std::string_view("\\\\")); break;
        case '\n': out_.append(std::string_view("\\n")); break;
        case '\r': out_.append(std::string_view("\\r")); break;
        case '\t': out_.append(std::string_view("\\t")); break;
        case '\b': out_.append(std::string_view("\\b")); break;
        case '\f': out_.append(std::string_view("\\f")); break;
        default: {
          static constexpr char hex[] = "0123456789abcdef";
          const char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
          out_.append(u, 6);
        }
      }
      run = ++i;
    }
    flush();
  }

  buffer& out_;
  bool redact_ = false;
  bool need_comma_ = false;
};

/// Writes a message as redacted JSON to a fmt output, given a function that encodes it.
EMBER_CODEC_NOINLINE inline fmt::format_context::iterator format_json(
    fmt::format_context& ctx, void (*encode)(json_writer&, const void*), const void* msg) {
  buffer b;
  json_writer w(b, /*redact=*/true);
  encode(w, msg);
  const std::string_view s = b.str();
  return std::copy(s.begin(), s.end(), ctx.out());
}

/// Writes `msg` as redacted JSON to a fmt output.
template <class T>
fmt::format_context::iterator format_as_json(const T& msg, fmt::format_context& ctx) {
  return format_json(
      ctx, [](json_writer& w, const void* p) { encode_json(w, *static_cast<const T*>(p)); },
      &msg);
}

/// Writes an enum for logs: its name, or its number when the schema does not name it.
EMBER_CODEC_NOINLINE inline fmt::format_context::iterator format_enum(
    std::string_view name, std::int64_t value, fmt::format_context& ctx) {
  if (name.empty()) return fmt::format_to(ctx.out(), "{}", value);
  return std::copy(name.begin(), name.end(), ctx.out());
}

/// The `fmt::formatter` of generated messages (the generated header specializes
/// `fmt::formatter` for each one with this base): prints the message as JSON, `secret`
/// fields as "***". Its code is instantiated only where a message is formatted.
struct message_formatter {
  constexpr fmt::format_parse_context::iterator parse(fmt::format_parse_context& ctx) {
    return ctx.begin();
  }
  template <class T>
  fmt::format_context::iterator format(const T& msg, fmt::format_context& ctx) const {
    return format_as_json(msg, ctx);
  }
};

/// The `fmt::formatter` of generated enums: prints the value's name, or its number.
struct enum_formatter {
  constexpr fmt::format_parse_context::iterator parse(fmt::format_parse_context& ctx) {
    return ctx.begin();
  }
  template <class E>
  fmt::format_context::iterator format(E v, fmt::format_context& ctx) const {
    return format_enum(to_string(v), static_cast<std::int64_t>(v), ctx);
  }
};

}  // namespace ember::codec
