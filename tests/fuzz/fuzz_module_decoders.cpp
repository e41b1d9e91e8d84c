// libFuzzer target: the decoders of ember's own schemas on untrusted bytes — every message of
// every gameplay module (schemas/ember/, a client sends their requests) and of the cluster's
// messages (schemas/internal/cluster.toml, a peer server sends them). The whole input is one
// body, decoded as binary and as JSON into each, and what decodes must survive the round trip
// of fuzz_roundtrip.hpp. A module joins here with two lines.
#include "ember/cluster/detail/cluster_wire.hpp"
#include "fuzz_roundtrip.hpp"

#include "ember/modules/accounts/detail/ember_accounts.hpp"
#include "ember/modules/friends/detail/ember_friends.hpp"
#include "ember/modules/chat/detail/ember_chat.hpp"
#include "ember/modules/mail/detail/ember_mail.hpp"
#include "ember/modules/inventory/detail/ember_inventory.hpp"
#include "ember/modules/wallet/detail/ember_wallet.hpp"
#include "ember/modules/notifications/detail/ember_notifications.hpp"
#include "ember/modules/storage/detail/ember_storage.hpp"
#include "ember/modules/leaderboard/detail/ember_leaderboard.hpp"
#include "ember/modules/shop/detail/ember_shop.hpp"
#include "ember/modules/guilds/detail/ember_guilds.hpp"
#include "ember/modules/quests/detail/ember_quests.hpp"
#include "ember/modules/matchmaking/detail/ember_matchmaking.hpp"
#include "ember/modules/tournaments/detail/ember_tournaments.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ember::bytes_view in(reinterpret_cast<const std::byte*>(data), size);
  ember_fuzz::check_tuple<ember_cluster_wire::message_types>::run(in);
  ember_fuzz::check_tuple<ember_accounts::message_types>::run(in);
  ember_fuzz::check_tuple<ember_friends::message_types>::run(in);
  ember_fuzz::check_tuple<ember_chat::message_types>::run(in);
  ember_fuzz::check_tuple<ember_mail::message_types>::run(in);
  ember_fuzz::check_tuple<ember_inventory::message_types>::run(in);
  ember_fuzz::check_tuple<ember_wallet::message_types>::run(in);
  ember_fuzz::check_tuple<ember_notifications::message_types>::run(in);
  ember_fuzz::check_tuple<ember_storage::message_types>::run(in);
  ember_fuzz::check_tuple<ember_leaderboard::message_types>::run(in);
  ember_fuzz::check_tuple<ember_shop::message_types>::run(in);
  ember_fuzz::check_tuple<ember_guilds::message_types>::run(in);
  ember_fuzz::check_tuple<ember_quests::message_types>::run(in);
  ember_fuzz::check_tuple<ember_matchmaking::message_types>::run(in);
  ember_fuzz::check_tuple<ember_tournaments::message_types>::run(in);
  return 0;
}
