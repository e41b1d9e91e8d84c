// ember chat: bodies of channel_id.hpp (included by it, or compiled once into libember-chat
// with EMBER_SEPARATE_COMPILATION).
#pragma once

#include "ember/modules/chat/channel_id.hpp"

#include <algorithm>
#include <charconv>

#include "ember/modules/text.hpp"

namespace ember::modules::chat {

namespace detail {

inline std::optional<std::uint64_t> parse_id(std::string_view s) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v == 0) return std::nullopt;
  return v;
}

}  // namespace detail

EMBER_DECL std::optional<channel_id> parse_channel(std::string_view text, std::uint64_t user,
                                                   std::size_t max_room_chars) {
  channel_id c;
  if (text.starts_with("room:")) {
    if (check_text(text.substr(5), max_room_chars) != text_problem::none) return std::nullopt;
    c.kind = channel_kind::room;
    c.id = text;
    return c;
  }
  if (text.starts_with("group:")) {
    auto g = detail::parse_id(text.substr(6));
    if (!g) return std::nullopt;
    c.kind = channel_kind::group;
    c.group = *g;
    c.id = "group:" + std::to_string(*g);
    return c;
  }
  if (text.starts_with("dm:")) {
    auto rest = text.substr(3);
    std::optional<std::uint64_t> a, b;
    if (auto colon = rest.find(':'); colon != std::string_view::npos) {
      a = detail::parse_id(rest.substr(0, colon));
      b = detail::parse_id(rest.substr(colon + 1));
    } else {
      a = user;
      b = detail::parse_id(rest);
    }
    if (!a || !b || *a == *b || (*a != user && *b != user)) return std::nullopt;
    c.kind = channel_kind::direct;
    c.low = std::min(*a, *b);
    c.high = std::max(*a, *b);
    c.id = "dm:" + std::to_string(c.low) + ':' + std::to_string(c.high);
    return c;
  }
  return std::nullopt;
}

}  // namespace ember::modules::chat
