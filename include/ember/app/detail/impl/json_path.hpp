// ember: bodies of json_path, line_at, find_syntax_error, offset_of and line_of, and the
// scanner they walk JSON text with (ember/app/detail/json_path.hpp).
#pragma once

#include "ember/app/detail/json_path.hpp"

#include "ember/codec/text.hpp"

namespace ember::app::detail {

EMBER_DECL json_path json_path::key(std::string_view k) const {
  json_path p = *this;
  p.segments_.push_back(segment{std::string(k), 0, false});
  return p;
}

EMBER_DECL json_path json_path::index(std::size_t i) const {
  json_path p = *this;
  p.segments_.push_back(segment{{}, i, true});
  return p;
}

EMBER_DECL std::string json_path::str() const {
  std::string out;
  for (const auto& s : segments_) {
    if (s.is_index) {
      out += '[';
      out += std::to_string(s.index);
      out += ']';
    } else if (is_word(s.key)) {
      if (!out.empty()) out += '.';
      out += s.key;
    } else {
      out += "[\"";
      append_escaped(out, s.key);
      out += "\"]";
    }
  }
  return out;
}

EMBER_DECL bool json_path::is_word(std::string_view k) noexcept {
  if (k.empty()) return false;
  for (char c : k) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

EMBER_DECL void json_path::append_escaped(std::string& out, std::string_view k) {
  static constexpr char hex[] = "0123456789abcdef";
  for (char c : k) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
}

EMBER_DECL std::size_t line_at(std::string_view text, std::size_t offset) noexcept {
  if (offset > text.size()) offset = text.size();
  std::size_t line = 1;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') ++line;
  }
  return line;
}

namespace json_scan {

/// Nesting deeper than this is refused, as simdjson's DOM parser does by default, so that the
/// recursive scanner below cannot exhaust the stack on hostile input.
inline constexpr int max_depth = 1024;

/// A strict recursive-descent JSON recognizer over raw text. `fail` records the first error;
/// the walk helpers stop at it.
class scanner {
 public:
  explicit scanner(std::string_view text) : t_(text) {
    if (t_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;  // a UTF-8 byte order mark
  }

  std::size_t pos() const noexcept { return pos_; }
  bool failed() const noexcept { return error_.offset != std::string_view::npos; }
  const json_syntax_error& error() const noexcept { return error_; }
  bool at_end() const noexcept { return pos_ >= t_.size(); }
  char peek() const noexcept { return at_end() ? '\0' : t_[pos_]; }

  void skip_ws() noexcept {
    while (!at_end() && (t_[pos_] == ' ' || t_[pos_] == '\t' || t_[pos_] == '\n' ||
                         t_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool fail(std::string_view reason) noexcept {
    if (!failed()) error_ = json_syntax_error{pos_, reason};
    return false;
  }

  bool expect(char c, std::string_view reason) noexcept {
    skip_ws();
    if (peek() != c) return fail(reason);
    ++pos_;
    return true;
  }

  /// Skips one value starting at the next non-blank byte.
  bool value(int depth = 0) {
    skip_ws();
    if (depth >= max_depth) return fail("nesting deeper than 1024 arrays and objects");
    switch (peek()) {
      case '{': return object(depth);
      case '[': return array(depth);
      case '"': return string(nullptr);
      case 't': return literal("true");
      case 'f': return literal("false");
      case 'n': return literal("null");
      default:
        if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return number();
        return fail(at_end() ? "the text ends where a value was expected"
                             : "expected a value (an object, array, string, number, true, "
                               "false or null)");
    }
  }

  /// Reads a string at the next non-blank byte; decodes it into `out` when given.
  bool string(std::string* out) {
    skip_ws();
    if (peek() != '"') return fail("expected a string");
    ++pos_;
    while (true) {
      if (at_end()) return fail("the text ends inside a string");
      const auto c = static_cast<unsigned char>(t_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) return fail("a control character inside a string (write it escaped)");
      if (c == '\\') {
        if (!escape(out)) return false;
        continue;
      }
      const std::size_t n = codec::utf8_sequence_length(
          reinterpret_cast<const unsigned char*>(t_.data() + pos_), t_.size() - pos_);
      if (n == 0) return fail("invalid UTF-8");
      if (out) out->append(t_.substr(pos_, n));
      pos_ += n;
    }
  }

  /// Enters an object: calls `member(key, key_offset)` with the scanner at each member's
  /// value, which `member` must consume (or skip). Stops early when `member` returns false.
  template <class F>
  bool members(int depth, F&& member) {
    if (!expect('{', "expected an object")) return false;
    if (closed('}')) return true;
    while (true) {
      skip_ws();
      const std::size_t key_offset = pos_;
      std::string key;
      if (peek() != '"') return fail("expected a key in double quotes");
      if (!string(&key)) return false;
      if (!expect(':', "expected ':' after a key")) return false;
      if (!member(key, key_offset, depth + 1)) return false;
      if (const auto n = next('}', "expected ',' or '}' after an object member"); n != more) return n == done;
    }
  }

  /// Enters an array: calls `element(index, offset)` at each element, as `members` does.
  template <class F>
  bool elements(int depth, F&& element) {
    if (!expect('[', "expected an array")) return false;
    if (closed(']')) return true;
    for (std::size_t i = 0;; ++i) {
      skip_ws();
      if (!element(i, pos_, depth + 1)) return false;
      if (const auto n = next(']', "expected ',' or ']' after an array element"); n != more) return n == done;
    }
  }

 private:
  /// Consumes `bracket` ('}' or ']') if it comes next, after white space.
  bool closed(char bracket) noexcept {
    skip_ws();
    if (peek() != bracket) return false;
    ++pos_;
    return true;
  }
  enum after_item { more, done, bad };
  /// After a member or an element: ',' (more), `bracket` (done), or a failure (bad).
  after_item next(char bracket, std::string_view expected) {
    skip_ws();
    if (peek() == ',') {
      ++pos_;
      return more;
    }
    if (closed(bracket)) return done;
    fail(expected);
    return bad;
  }

  bool object(int depth) {
    return members(depth, [this](const std::string&, std::size_t, int d) { return value(d); });
  }
  bool array(int depth) {
    return elements(depth, [this](std::size_t, std::size_t, int d) { return value(d); });
  }

  bool literal(std::string_view word) noexcept {
    if (t_.substr(pos_, word.size()) != word) return fail("expected true, false or null");
    pos_ += word.size();
    return true;
  }

  bool digits() noexcept {
    if (at_end() || t_[pos_] < '0' || t_[pos_] > '9') return fail("expected a digit");
    while (!at_end() && t_[pos_] >= '0' && t_[pos_] <= '9') ++pos_;
    return true;
  }

  bool number() noexcept {
    if (peek() == '-') ++pos_;
    if (peek() == '0') {
      ++pos_;
      if (peek() >= '0' && peek() <= '9') return fail("a number may not start with 0");
    } else if (!digits()) {
      return false;
    }
    if (peek() == '.') {
      ++pos_;
      if (!digits()) return false;
    }
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      if (!digits()) return false;
    }
    return true;
  }

  static int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool hex4(unsigned& out) noexcept {
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = at_end() ? -1 : hex_value(t_[pos_]);
      if (h < 0) return fail("expected four hex digits after \\u");
      out = out * 16 + static_cast<unsigned>(h);
      ++pos_;
    }
    return true;
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool escape(std::string* out) {
    ++pos_;  // the backslash
    if (at_end()) return fail("the text ends inside a string");
    const char c = t_[pos_++];
    char plain = 0;
    switch (c) {
      case '"': plain = '"'; break;
      case '\\': plain = '\\'; break;
      case '/': plain = '/'; break;
      case 'b': plain = '\b'; break;
      case 'f': plain = '\f'; break;
      case 'n': plain = '\n'; break;
      case 'r': plain = '\r'; break;
      case 't': plain = '\t'; break;
      case 'u': {
        unsigned cp = 0;
        if (!hex4(cp)) return false;
        if (cp >= 0xD800 && cp < 0xDC00) {
          // A high surrogate must be followed by an escaped low one.
          if (t_.substr(pos_, 2) != "\\u") return fail("a lone UTF-16 surrogate in \\u escape");
          pos_ += 2;
          unsigned lo = 0;
          if (!hex4(lo)) return false;
          if (lo < 0xDC00 || lo > 0xDFFF) return fail("a lone UTF-16 surrogate in \\u escape");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          return fail("a lone UTF-16 surrogate in \\u escape");
        }
        if (out) append_utf8(*out, cp);
        return true;
      }
      default:
        --pos_;
        return fail("an unknown escape sequence in a string");
    }
    if (out) *out += plain;
    return true;
  }

  std::string_view t_;
  std::size_t pos_ = 0;
  json_syntax_error error_;
};

/// Follows `segs[i...]` from the value at the scanner's position; `best` is updated to the
/// offset of each key or element found on the way.
inline void follow(scanner& s, const std::vector<json_path::segment>& segs, std::size_t i,
                   std::size_t occurrence, int depth, std::size_t& best) {
  if (i == segs.size()) return;
  const auto& seg = segs[i];
  const bool last = i + 1 == segs.size();
  s.skip_ws();
  if (!seg.is_index && s.peek() == '{') {
    std::size_t seen = 0;
    s.members(depth, [&](const std::string& key, std::size_t key_offset, int d) {
      if (key == seg.key && (!last || seen++ == occurrence)) {
        best = key_offset;
        follow(s, segs, i + 1, occurrence, d, best);
        return false;  // found: stop walking
      }
      return s.value(d);
    });
  } else if (seg.is_index && s.peek() == '[') {
    s.elements(depth, [&](std::size_t index, std::size_t offset, int d) {
      if (index == seg.index) {
        best = offset;
        follow(s, segs, i + 1, occurrence, d, best);
        return false;
      }
      return s.value(d);
    });
  }
}

}  // namespace json_scan

EMBER_DECL json_syntax_error find_syntax_error(std::string_view text) {
  json_scan::scanner s(text);
  if (s.value()) {
    s.skip_ws();
    if (!s.at_end()) s.fail("more text after the JSON value");
  }
  return s.error();
}

EMBER_DECL std::size_t offset_of(std::string_view text, const json_path& path,
                                 std::size_t occurrence) {
  if (find_syntax_error(text).offset != std::string_view::npos) return std::string_view::npos;
  json_scan::scanner s(text);
  s.skip_ws();
  std::size_t best = s.pos();
  json_scan::follow(s, path.segments(), 0, occurrence, 0, best);
  return best;
}

EMBER_DECL std::size_t line_of(std::string_view text, const json_path& path,
                               std::size_t occurrence) {
  const std::size_t offset = offset_of(text, path, occurrence);
  return offset == std::string_view::npos ? 0 : line_at(text, offset);
}

}  // namespace ember::app::detail
