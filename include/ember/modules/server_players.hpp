// ember: `players` for a game whose one process serves its clients itself: a push goes to the
// user's session on this process's net::server (ember/modules/players.hpp says who else
// reaches players; in a cluster it is `cluster_players`).
#pragma once

#include <cstdint>

#include "ember/modules/players.hpp"
#include "ember/net/server.hpp"

namespace ember::modules {

/// The players connected to this process's server.
class server_players final : public players {
 public:
  explicit server_players(net::server& s) : server_(s) {}
  void push_body(std::uint64_t user, std::uint16_t push_id, const net::body_writer& body) override {
    if (auto s = server_.find_user(user)) s->push_body(push_id, body);
  }

 private:
  net::server& server_;
};

}  // namespace ember::modules
