// The cluster example's client-facing and root logic (world_logic.hpp): net and gate.
#include "ember/cluster/gateway.hpp"
#include "ember/cluster/node.hpp"
#include "ember/cluster/root.hpp"
#include "ember/modules/leaderboard/cluster.hpp"
#include "ember/modules/matchmaking/cluster.hpp"
#include "world_logic.hpp"

namespace world_example {

void net_logic::route_to_owners() {
  if (auto* gw = host_.gateway()) {
    ember::modules::leaderboard::route_boards(*gw);
    ember::modules::matchmaking::route_pools(*gw);
  }
}

asio::awaitable<world::online_reply> net_logic::online(session&, const world::online_request&) {
  auto* gate = host_.node("gate");
  if (!gate) world::fail(world::error::not_logged_in);
  // A failed call escapes as call_error: the client hears the gate's status, or unavailable
  // or timeout when the gate did not answer.
  auto r = (co_await gate->call<world::cmd::cluster_online>({})).value();
  co_return world::online_reply{r.total, r.servers};
}

asio::awaitable<world::cluster_online_reply> gate_logic::cluster_online(
    session& s, const world::cluster_online_request&) {
  world::cluster_online_reply reply;
  // Every game at once; one that does not answer in time is left out, not waited for. "In
  // time" is before the net server's call to us gives up (the deadline it sent, less a
  // margin), so that the games that did answer reach the player.
  const auto opts = ember::net::within_deadline(s, host_.self().call_timeout);
  for (auto& r : co_await host_.root()->call_all<world::cmd::game_online>("game", {}, opts)) {
    if (!r) continue;
    reply.total += r->count.players;
    reply.servers.push_back(r->count);
  }
  co_return reply;
}

}  // namespace world_example
