// ember: reading ODBC connection strings — one attribute's value, and the whole string with its
// passwords masked for error messages.
#pragma once

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <string_view>

namespace ember::data::odbc {

namespace detail {

/// The value of `key` in an ODBC connection string (case-insensitive key), if present.
inline std::optional<std::string> attribute(std::string_view cs, std::string_view key) {
  auto lower = [](std::string_view s) {
    std::string r(s);
    for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r;
  };
  const std::string want = lower(key);
  std::size_t at = 0;
  while (at < cs.size()) {
    const auto eq = cs.find('=', at);
    if (eq == std::string_view::npos) break;
    std::string_view k = cs.substr(at, eq - at);
    while (!k.empty() && k.front() == ' ') k.remove_prefix(1);
    while (!k.empty() && k.back() == ' ') k.remove_suffix(1);
    std::size_t end = eq + 1;
    if (end < cs.size() && cs[end] == '{') {  // {braced values may hold ';'}
      const auto close = cs.find('}', end);
      end = close == std::string_view::npos ? cs.size() : close + 1;
    }
    end = std::min(cs.find(';', end), cs.size());
    if (lower(k) == want) return std::string(cs.substr(eq + 1, end - eq - 1));
    at = end + 1;
  }
  return std::nullopt;
}

/// The connection string with passwords masked, for error messages.
inline std::string masked(std::string_view cs) {
  std::string out;
  std::size_t at = 0;
  while (at < cs.size()) {
    auto end = std::min(cs.find(';', at), cs.size());
    std::string_view part = cs.substr(at, end - at);
    const auto eq = part.find('=');
    std::string key(part.substr(0, eq == std::string_view::npos ? part.size() : eq));
    for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (eq != std::string_view::npos && (key == "pwd" || key == "password"))
      out.append(part.substr(0, eq)).append("=***");
    else
      out.append(part);
    if (end < cs.size()) out.push_back(';');
    at = end + 1;
  }
  return out;
}

}  // namespace detail

}  // namespace ember::data::odbc
