// ember chat: `fanout` for a chat service on a backend of the cluster — the line goes to the
// channel's group on every gateway. Made from the host, it counts what it sends in the
// server's metrics (`ember_chat_fanouts_total`, through `host::counter`).
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
  /// start, after the game made its modules; see cluster_players.hpp), and counts each
  /// broadcast in the host's metrics.
  explicit cluster_fanout(app::host& h)
      : backend_([&h] { return h.backend(); }),
        sent_(&h.counter("ember_chat_fanouts_total",
                         "Chat broadcasts (lines, presence) sent to a channel's sessions on every gateway.")) {}
  void broadcast_body(std::string_view group, std::uint16_t push_id, const net::body_writer& body) override {
    if (auto* b = backend_()) {
      b->broadcast_body(group, push_id, body);
      if (sent_) ++*sent_;
    }
  }

 private:
  std::function<cluster::backend*()> backend_;
  std::uint64_t* sent_ = nullptr;  // the host's counter, when made from the host
};

}  // namespace ember::modules::chat
