// ember chat: how a channel's line reaches its members on every client-facing server — a
// broadcast to the channel's session group ("chat:" + channel). `server_fanout`: one process
// serves the clients (net::server); `cluster_fanout` (cluster_fanout.hpp): the module runs on a
// backend and the broadcast goes to every gateway (cluster::backend::broadcast).
#pragma once

#include <cstdint>
#include <string_view>

#include "ember/net/server.hpp"

namespace ember::modules::chat {

class fanout {
 public:
  virtual ~fanout() = default;
  template <class Push>
  void broadcast(std::string_view group, const Push& p) {
    broadcast_body(group, Push::push_id, net::body_writer(p));
  }
  virtual void broadcast_body(std::string_view group, std::uint16_t push_id, const net::body_writer& body) = 0;
};

class server_fanout final : public fanout {
 public:
  explicit server_fanout(net::server& s) : server_(s) {}
  void broadcast_body(std::string_view group, std::uint16_t push_id, const net::body_writer& body) override {
    server_.broadcast_body(group, push_id, body);
  }

 private:
  net::server& server_;
};

}  // namespace ember::modules::chat
