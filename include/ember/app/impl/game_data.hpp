// ember: bodies of data_error and the JSON array splitter of data tables
// (ember/app/game_data.hpp).
#pragma once

#include "ember/app/game_data.hpp"

namespace ember::app {

EMBER_DECL std::string data_error::what() const {
  return line ? fmt::format("{}:{}: {}", file, line, message) : fmt::format("{}: {}", file, message);
}

namespace detail {

EMBER_DECL bool split_json_array(std::string_view text,
                                 std::vector<std::pair<std::size_t, std::size_t>>& out,
                                 std::size_t& error_at) {
  std::size_t i = 0;
  auto skip_ws = [&] {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t')) ++i;
  };
  skip_ws();
  if (i >= text.size() || text[i] != '[') return error_at = i, false;
  ++i;
  skip_ws();
  if (i < text.size() && text[i] == ']') return true;
  for (;;) {
    skip_ws();
    const std::size_t start = i;
    int depth = 0;
    bool in_string = false;
    for (; i < text.size(); ++i) {
      const char c = text[i];
      if (in_string) {
        if (c == '\\') ++i;
        else if (c == '"') in_string = false;
        continue;
      }
      if (c == '"') in_string = true;
      else if (c == '{' || c == '[') ++depth;
      else if (c == '}' || c == ']') {
        if (depth == 0) break;  // the closing bracket of the array
        --depth;
      } else if (c == ',' && depth == 0) break;
    }
    if (i >= text.size() || in_string || depth != 0) return error_at = start, false;
    std::size_t end = i;
    while (end > start && (text[end - 1] == ' ' || text[end - 1] == '\n' || text[end - 1] == '\r' ||
                           text[end - 1] == '\t'))
      --end;
    if (end == start) return error_at = start, false;  // an empty element: "[1,,2]"
    out.emplace_back(start, end);
    if (text[i] == ']') {
      ++i;
      skip_ws();
      if (i != text.size()) return error_at = i, false;
      return true;
    }
    ++i;  // the comma
  }
}

}  // namespace detail

}  // namespace ember::app
