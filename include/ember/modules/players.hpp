// ember: how a gameplay module reaches a player — a push to the session the player has on
// whichever client-facing server. A module takes a `players&` and never asks where the player
// is connected:
//   - `server_players` (ember/modules/server_players.hpp): one process serves the clients
//     itself (a net::server);
//   - `cluster_players` (ember/modules/cluster_players.hpp): the module runs on a backend; the
//     push goes through the gateways (`cluster::backend::push_to_user`), which deliver it to
//     the user's session.
// A player who is not connected gets nothing (a module that must not lose it stores it first:
// notifications, mail).
#pragma once

#include <cstdint>

#include "ember/net/session.hpp"

namespace ember::modules {

class players {
 public:
  virtual ~players() = default;
  /// Pushes `p` (a push of a schema) to `user`'s session, if the user is connected.
  template <class Push>
  void push(std::uint64_t user, const Push& p) {
    push_body(user, Push::push_id, net::body_writer(p));
  }
  virtual void push_body(std::uint64_t user, std::uint16_t push_id, const net::body_writer& body) = 0;
};

}  // namespace ember::modules
