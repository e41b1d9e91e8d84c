// ember: `players` (ember/modules/players.hpp) for a module on a backend of the cluster: a push
// goes through every gateway the backend serves, which hands it to the user's session there.
#pragma once

#include "ember/cluster/backend.hpp"
#include "ember/modules/players.hpp"

namespace ember::modules {

class cluster_players final : public players {
 public:
  explicit cluster_players(cluster::backend& b) : backend_(b) {}
  void push_body(std::uint64_t user, std::uint16_t push_id, const net::body_writer& body) override {
    backend_.push_to_user_body(user, push_id, body);
  }

 private:
  cluster::backend& backend_;
};

}  // namespace ember::modules
