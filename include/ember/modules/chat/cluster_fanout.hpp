// ember chat: `fanout` for a chat service on a backend of the cluster — the line goes to the
// channel's group on every gateway.
#pragma once

#include "ember/cluster/backend.hpp"
#include "ember/modules/chat/fanout.hpp"

namespace ember::modules::chat {

class cluster_fanout final : public fanout {
 public:
  explicit cluster_fanout(cluster::backend& b) : backend_(b) {}
  void broadcast_body(std::string_view group, std::uint16_t push_id, const net::body_writer& body) override {
    backend_.broadcast_body(group, push_id, body);
  }

 private:
  cluster::backend& backend_;
};

}  // namespace ember::modules::chat
