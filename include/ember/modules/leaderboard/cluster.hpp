// ember: the leaderboards with several instances of their server type (docs/modules/
// leaderboard.md, "Several owners"). Each board has one owner in the cluster, under a key of
// the players' owner registry; gateways send a board's commands to the instance that owns it
// or will acquire it.
//
//   on a net server:  lb::route_boards(*host.gateway());
//   on a lobby:       co_await boards.start(lb::service::serving::adopted);
//                     boards.set_claim(...);  // acquire board_key(board), then adopt(board)
#pragma once

#include <cstdint>
#include <string_view>

#include "ember/cluster/gateway.hpp"
#include "ember/cluster/owned_key.hpp"
#include "ember/modules/leaderboard/detail/ember_leaderboard.hpp"

namespace ember::modules::leaderboard {

/// The owner registry's key of board `board_id`.
constexpr std::uint64_t board_key(std::string_view board_id) noexcept {
  return cluster::owned_key("leaderboard", board_id);
}

/// Makes `gw` forward every leaderboard command to the instance rendezvous hashing picks for
/// the board it names (field 1, `board`, of each request), the one that owns the board.
inline void route_boards(cluster::gateway& gw) {
  namespace c = ember_leaderboard::cmd;
  for (const auto id : {c::write_score::id, c::list_top::id, c::list_around::id, c::my_rank::id,
                        c::list_players::id, c::list_friends::id, c::delete_score::id})
    gw.route_by_field(id, "leaderboard", 1, "board");
}

}  // namespace ember::modules::leaderboard
