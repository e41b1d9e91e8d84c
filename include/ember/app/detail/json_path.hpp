// ember: where a value sits in a JSON document, for error messages: a path that prints as
// `servers.game1.remoteport[0].rootname`, and the line of the text that path points at.
//
// simdjson's DOM keeps no positions, so lines are found by walking the text again with a
// small scanner (detail/impl/json_path.hpp), following the path key by key. It is a strict
// JSON recognizer too: when simdjson refuses a document, the scanner tells where the text
// first stops being JSON. No simdjson in here: the header is cheap to include.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "ember/separate_compilation.hpp"

namespace ember::app::detail {

/// A path into a JSON document: object keys and array indexes from the root. Prints as
/// `servers.game1.remoteport[0].rootname`; a key that is not a plain word prints quoted
/// (`servers["gate 2"]`). Each step returns a new path, so a parser can hand a child its
/// own path without bookkeeping.
class json_path {
 public:
  /// One step down: an object key, or an array index when `is_index`.
  struct segment {
    std::string key;
    std::size_t index = 0;
    bool is_index = false;

    bool operator==(const segment&) const = default;
  };

  json_path() = default;

  /// This path followed by the object key `k`.
  [[nodiscard]] json_path key(std::string_view k) const;

  /// This path followed by the array index `i`.
  [[nodiscard]] json_path index(std::size_t i) const;

  /// True for the document's root.
  bool empty() const noexcept { return segments_.empty(); }
  const std::vector<segment>& segments() const noexcept { return segments_; }

  /// The printed form, e.g. `servers.game1.remoteport[0].rootname`; empty for the root.
  std::string str() const;

  bool operator==(const json_path&) const = default;

  /// True when `k` prints bare: letters, digits, '_' and '-', not empty.
  static bool is_word(std::string_view k) noexcept;

 private:
  static void append_escaped(std::string& out, std::string_view k);

  std::vector<segment> segments_;
};

/// The 1-based line of byte `offset` in `text`.
EMBER_DECL std::size_t line_at(std::string_view text, std::size_t offset) noexcept;

/// Where a JSON text first stops being JSON (RFC 8259), and why.
struct json_syntax_error {
  std::size_t offset = std::string_view::npos;  ///< npos: the text is valid JSON
  std::string_view reason;                      ///< e.g. "expected ',' or '}' after a member"
};

/// Where `text` first stops being JSON, or `offset == npos` when it is valid JSON. Checks what
/// RFC 8259 requires, including UTF-8 in strings and escapes; a single value, surrounded by
/// blanks, must make up the whole text.
EMBER_DECL json_syntax_error find_syntax_error(std::string_view text);

/// The offset in `text` of the key (or array element) `path` names. `occurrence` picks among
/// repeated keys in the last object (0: the first). When part of the path is absent, the
/// offset of the deepest part present: for a missing key, the key of the object that lacks
/// it. `npos` when the text is not valid JSON.
EMBER_DECL std::size_t offset_of(std::string_view text, const json_path& path,
                                 std::size_t occurrence = 0);

/// The 1-based line of what `path` names in `text` (see `offset_of`), or 0 when unknown.
EMBER_DECL std::size_t line_of(std::string_view text, const json_path& path,
                               std::size_t occurrence = 0);

}  // namespace ember::app::detail

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/app/detail/impl/json_path.hpp"
#endif
