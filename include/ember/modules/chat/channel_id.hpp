// ember chat: channel ids — room:NAME, group:ID, dm:LOW:HIGH — parsed from what a player
// sends, and normalized so both sides of a direct conversation name one channel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ember/separate_compilation.hpp"

namespace ember::modules::chat {

enum class channel_kind { room, group, direct };

struct channel_id {
  channel_kind kind = channel_kind::room;
  std::string id;               ///< normalized: room:NAME, group:ID, dm:LOW:HIGH
  std::uint64_t group = 0;      ///< group:ID
  std::uint64_t low = 0, high = 0;  ///< the two players of dm:LOW:HIGH

  bool is_party(std::uint64_t user) const noexcept { return user == low || user == high; }
  std::uint64_t other(std::uint64_t user) const noexcept { return user == low ? high : low; }
};

/// The channel `text` names for `user`: room:NAME (NAME at most `max_room_chars`), group:ID,
/// dm:USER (the conversation of `user` and USER) or dm:A:B (one of them `user`). Nullopt if
/// it is none of these.
std::optional<channel_id> parse_channel(std::string_view text, std::uint64_t user,
                                        std::size_t max_room_chars);

/// The broadcast group of a channel's joined sessions.
inline std::string group_of(std::string_view channel) { return "chat:" + std::string(channel); }

}  // namespace ember::modules::chat

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/modules/chat/impl/channel_id.hpp"
#endif
