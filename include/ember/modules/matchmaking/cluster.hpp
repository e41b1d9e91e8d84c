// ember: matchmaking with several instances of its server type (docs/modules/matchmaking.md,
// "Ownership and restarts"). Each mode's pool has one owner in the cluster, under a key of
// the players' owner registry; gateways send `queue` to the instance that owns the pool or
// will acquire it. The other commands act on rows every process shares and run anywhere.
//
//   on a net server:  mm::route_pools(*host.gateway());
//   on a lobby:       matchmaking.on().owns  = ... ownership()->owns(mm::pool_key(mode))
//                     matchmaking.on().claim = ... acquire(pool_key(mode)), then adopt(mode)
#pragma once

#include <cstdint>
#include <string_view>

#include "ember/cluster/gateway.hpp"
#include "ember/cluster/owned_key.hpp"
#include "ember/modules/matchmaking/detail/ember_matchmaking.hpp"

namespace ember::modules::matchmaking {

/// The owner registry's key of mode `mode_id`'s pool.
constexpr std::uint64_t pool_key(std::string_view mode_id) noexcept {
  return cluster::owned_key("matchmaking", mode_id);
}

/// Makes `gw` forward `queue` to the instance rendezvous hashing picks for its mode (field 1,
/// `mode`), the one that owns the pool.
inline void route_pools(cluster::gateway& gw) {
  gw.route_by_field(ember_matchmaking::cmd::queue::id, "matchmaking", 1, "mode");
}

}  // namespace ember::modules::matchmaking
