// ember: the checks every text a player sends to a module goes through — valid UTF-8, no
// control characters, a length in code points within the module's limit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ember::modules {

/// Why a text was refused (none: it is fine).
enum class text_problem { none, empty, too_long, not_utf8, control_character };

/// Code points in `s` when it is valid UTF-8 (shortest forms, no surrogates, at most
/// U+10FFFF), else -1.
inline std::ptrdiff_t utf8_length(std::string_view s) noexcept {
  std::ptrdiff_t n = 0;
  for (std::size_t i = 0; i < s.size(); ++n) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) return -1;
    std::uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return -1;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr std::uint32_t min_of[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_of[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
    i += len;
  }
  return n;
}

/// Checks a text a player sent: UTF-8, at most `max_chars` code points, no control characters
/// (tab and newline are allowed when `multiline`), and not empty unless `may_be_empty`.
inline text_problem check_text(std::string_view s, std::size_t max_chars, bool multiline = false,
                               bool may_be_empty = false) noexcept {
  if (s.empty()) return may_be_empty ? text_problem::none : text_problem::empty;
  const auto n = utf8_length(s);
  if (n < 0) return text_problem::not_utf8;
  if (static_cast<std::size_t>(n) > max_chars) return text_problem::too_long;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && !(multiline && (c == '\n' || c == '\t'))) || c == 0x7F)
      return text_problem::control_character;
  }
  return text_problem::none;
}

}  // namespace ember::modules
