// Two real net::servers, "a" and "b", on one io_context, each the other's resume peer (either
// can drain into the other), serving the nettest schema: the drain tests' cluster.
#pragma once

#include <chrono>
#include <memory>
#include <optional>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include "ember/net/server.hpp"
#include "net_handler.hpp"

namespace ember::test {

struct server_pair {
  asio::io_context io;
  net_handler ha, hb;
  std::unique_ptr<net::server> a, b;

  /// With `tls`, both client ports speak TLS, and each reaches the other through TLS checked
  /// with `peer_tls`.
  explicit server_pair(std::optional<net::tls_server_options> tls = std::nullopt,
                       std::optional<net::tls_client_options> peer_tls = std::nullopt) {
    using namespace std::chrono_literals;
    const std::uint16_t port_a = free_port(), port_b = free_port();
    auto make = [&](const char* name, std::uint16_t port, const char* peer, std::uint16_t peer_port,
                    net_handler& h) {
      net::server_options o;
      o.name = name;
      o.port = port;
      o.resume_grace = 5s;
      o.tls = tls;
      o.resume_peers.push_back({.name = peer, .host = "127.0.0.1", .port = peer_port, .tls = peer_tls});
      o.peer_secret = "the pair's secret";
      net::dispatch_table t;
      nettest::register_commands(t, h);
      auto s = std::make_unique<net::server>(io, o, std::move(t));
      s->start();
      return s;
    };
    a = make("a", port_a, "b", port_b, ha);
    b = make("b", port_b, "a", port_a, hb);
  }

  /// A port free now (each server's options name the other's before either listens).
  std::uint16_t free_port() {
    asio::ip::tcp::acceptor probe(io, {asio::ip::make_address("127.0.0.1"), 0});
    return probe.local_endpoint().port();
  }
};

}  // namespace ember::test
