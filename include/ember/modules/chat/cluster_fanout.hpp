// ember chat: `fanout` for a chat service on a backend of the cluster — the line goes to the
// channel's group on every gateway.
#pragma once

#include <functional>

#include "ember/app/host.hpp"
#include "ember/cluster/backend.hpp"
#include "ember/modules/chat/fanout.hpp"

namespace ember::modules::chat {

class cluster_fanout final : public fanout {
 public:
  /// Broadcasts through `b`.
  explicit cluster_fanout(cluster::backend& b) : backend_([&b] { return &b; }) {}
  /// Broadcasts through the host's backend, found when a line goes out (the host makes it at
  /// start, after the game made its modules; see cluster_players.hpp).
  explicit cluster_fanout(app::host& h) : backend_([&h] { return h.backend(); }) {}
  void broadcast_body(std::string_view group, std::uint16_t push_id, const net::body_writer& body) override {
    if (auto* b = backend_()) b->broadcast_body(group, push_id, body);
  }

 private:
  std::function<cluster::backend*()> backend_;
};

}  // namespace ember::modules::chat
