// A client-facing server whose gateway forwards tests/cluster/route_test.toml's commands to
// the `game` backends that join its root, and how a route_game joins it: what the gateway
// suite and tests/clients/retry_server build their clusters from.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <asio/io_context.hpp>

#include "cluster/route_game.hpp"
#include "ember/cluster/gateway.hpp"
#include "ember/cluster/node.hpp"
#include "ember/cluster/root.hpp"
#include "ember/net/server.hpp"

namespace ember::test {

struct route_gateway {
  std::unique_ptr<cluster::root> backends;
  std::unique_ptr<net::server> clients;
  std::unique_ptr<cluster::gateway> gateway;

  route_gateway() = default;
  /// Named `so.name` (the server, its root and its gateway); `secret` authenticates the links
  /// and the net servers' take-overs. Listening when built.
  route_gateway(asio::io_context& io, net::server_options so, std::string_view secret,
                std::chrono::milliseconds forward_deadline) {
    cluster::root_options ro;
    ro.name = so.name;
    ro.secret = std::string(secret);
    backends = std::make_unique<cluster::root>(io.get_executor(), ro);
    so.peer_secret = std::string(secret);
    const std::string name = so.name;
    clients = std::make_unique<net::server>(io, std::move(so), net::dispatch_table{});
    gateway = std::make_unique<cluster::gateway>(*clients, *backends,
                                                 cluster::gateway_options{name, forward_deadline});
    net::dispatch_table table;
    gateway->add_routes(table, routetest::command_list, "net");
    clients->set_table(std::move(table));
    backends->start();
    clients->start();
  }
};

/// `game` joins `net`'s root as a backend of type "game"; the link starts at once unless
/// `start` is false (then the caller starts it).
inline std::unique_ptr<cluster::node_connector> join_game(asio::io_context& io, route_game& game,
                                                          const route_gateway& net,
                                                          std::string_view secret, bool start = true) {
  cluster::node_options o;
  o.name = game.name();
  o.type = "game";
  o.secret = std::string(secret);
  o.root_port = net.backends->port();
  o.root_name = net.clients->options().name;
  auto link = std::make_unique<cluster::node_connector>(io.get_executor(), o);
  link->on_connected([&game](const cluster::node_connector::link_ptr& l) { game.backend().attach(l); });
  if (start) link->start();
  return link;
}

}  // namespace ember::test
