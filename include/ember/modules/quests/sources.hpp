// ember's quests module: what ember's own events count, as tallies for `service::count`. A
// game registers the ones its quests name (and links the module that publishes each):
//
//   quests.count<ember_shop::product_purchased>("shop.purchase", quests::sources::purchases);
//   quests.count<ember_friends::friend_added>("friends.made", quests::sources::friendships);
//   quests.count<ember_chat::chat_line>("chat.line", quests::sources::chat_lines);
//   quests.count<ember_quests::quest_completed>("quests.completed", quests::sources::completions);
//
// Each event id is the event's own identity (a purchase id, a channel's line number...), the
// same in every process that hears the event, so a relayed copy counts nothing.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "ember/modules/chat/detail/ember_chat.hpp"
#include "ember/modules/friends/detail/ember_friends.hpp"
#include "ember/modules/quests/quests.hpp"
#include "ember/modules/shop/detail/ember_shop.hpp"

namespace ember::modules::quests::sources {

/// A purchase (or a redeemed receipt) of the shop: filter = the product, once per purchase id.
inline std::vector<tally> purchases(const ember_shop::product_purchased& e) {
  return {tally{e.player, e.product, 1, "shop:" + e.purchase}};
}

/// A friendship made (an invite accepted): one for each of the two players, filter empty. Once
/// per pair of players: removing a friend and adding them again counts nothing more.
inline std::vector<tally> friendships(const ember_friends::friend_added& e) {
  if (e.state != ember_friends::friend_state::friend_) return {};
  const auto id = "friends:" + std::to_string(std::min(e.user, e.other)) + ':' + std::to_string(std::max(e.user, e.other));
  return {tally{e.user, "", 1, id}, tally{e.other, "", 1, id}};
}

/// A chat line said: filter = the channel (room:NAME...), once per line of the channel.
inline std::vector<tally> chat_lines(const ember_chat::chat_line& e) {
  return {tally{e.from, e.channel, 1,
                "chat:" + e.channel + ':' + std::to_string(e.seq) + ':' + std::to_string(e.sent_ms)}};
}

/// A quest completed (achievements of achievements: "finish 5 daily quests"): filter = the
/// quest, once per quest and period.
inline std::vector<tally> completions(const ember_quests::quest_completed& e) {
  return {tally{e.player, e.quest, 1, "quests:" + e.quest + ':' + std::to_string(e.period)}};
}

}  // namespace ember::modules::quests::sources
