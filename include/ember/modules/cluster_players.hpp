// ember: `players` (ember/modules/players.hpp) for a module on a backend of the cluster: a push
// goes through every gateway the backend serves, which hands it to the user's session there.
#pragma once

#include <functional>

#include "ember/app/host.hpp"
#include "ember/cluster/backend.hpp"
#include "ember/modules/players.hpp"

namespace ember::modules {

class cluster_players final : public players {
 public:
  /// Pushes through `b`.
  explicit cluster_players(cluster::backend& b) : backend_([&b] { return &b; }) {}
  /// Pushes through the host's backend, found when a push goes out: a game makes its modules
  /// (and their tables) before the store opens, and the host makes its backend later, at
  /// start. A push before then reaches nobody, as one to a player who is not connected.
  explicit cluster_players(app::host& h) : backend_([&h] { return h.backend(); }) {}
  void push_body(std::uint64_t user, std::uint16_t push_id, const net::body_writer& body) override {
    if (auto* b = backend_()) b->push_to_user_body(user, push_id, body);
  }

 private:
  std::function<cluster::backend*()> backend_;
};

}  // namespace ember::modules
