// A client-facing server whose gateway forwards tests/cluster/route_test.toml's commands to a
// real game backend linked to it over loopback, as in the gateway suite, but as a process: the
// generated TypeScript and C# clients' retry and move tests (tests/clients/*/) play against it.
// The gateway gives a forwarded request 300 ms (10 s with --pair), so a `step` of 450 ms ends with
// `outcome_unknown` while the game still runs it; the game's reply cache answers a retry with
// the same request id, and `runs` tells the test how many times each step really ran.
//
// usage: retry_server --port-file PATH [--game-after-unavailable] [--pair]
//   writes "TCP_PORT WEBSOCKET_PORT" to PATH once it listens; with --game-after-unavailable the
//   game links only after the gateway has answered one request `unavailable` (so the first
//   attempt of a call is surely refused, and its retries find the game). With --pair a second
//   client-facing server, net2, serves too (the game links to both; each is the other's
//   resume peer), its ports follow net1's in PATH ("TCP1 WS1 TCP2 WS2"), and SIGUSR1 drains
//   net1: its sessions are told to move to net2 (`moved`), whose clients resume there.
#include <array>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <sysexits.h>
#include <system_error>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include "cluster/route_game.hpp"
#include "cluster/route_gateway.hpp"
#include "ember/log.hpp"
#include "ember/spawn.hpp"

namespace cl = ember::cluster;
using namespace std::chrono_literals;

namespace {

// Four distinct free ports: every probe stays open until all are picked.
std::array<std::uint16_t, 4> free_ports(asio::io_context& io) {
  std::vector<asio::ip::tcp::acceptor> probes;
  std::array<std::uint16_t, 4> ports{};
  for (auto& port : ports) {
    probes.emplace_back(io, asio::ip::tcp::endpoint{asio::ip::make_address("127.0.0.1"), 0});
    port = probes.back().local_endpoint().port();
  }
  return ports;
}

const std::string secret = "retry server secret";

// `peer`: the other server of a pair (its name and ports), which it may move sessions to.
ember::test::route_gateway make_side(asio::io_context& io, const std::string& name, std::uint16_t port,
                                     std::uint16_t websocket_port, const ember::net::resume_peer* peer,
                                     std::chrono::milliseconds forward_deadline) {
  ember::net::server_options so{.name = name};
  so.port = port;
  so.websocket_port = websocket_port;
  if (peer) so.resume_peers.push_back(*peer);
  return ember::test::route_gateway(io, std::move(so), secret, forward_deadline);
}

}  // namespace

int main(int argc, char** argv) {
  const char* usage = "usage: %s --port-file PATH [--game-after-unavailable] [--pair]\n";
  std::string port_file;
  bool game_after_unavailable = false, pair = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--port-file" && i + 1 < argc) port_file = argv[++i];
    else if (a == "--game-after-unavailable") game_after_unavailable = true;
    else if (a == "--pair") pair = true;
    else {
      const bool help = a == "--help" || a == "-h";
      std::fprintf(help ? stdout : stderr, usage, argv[0]);
      return help ? EXIT_SUCCESS : EXIT_FAILURE;
    }
  }
  if (port_file.empty()) {
    std::fprintf(stderr, usage, argv[0]);
    return EXIT_FAILURE;
  }
  ember::log::set_tag("retry_server");
  asio::io_context io;

  // A pair knows each other's ports before either listens: picked free first. Another process
  // may take a picked port before it is bound (tests run side by side): then this exits with
  // EX_TEMPFAIL, and the test starts it again (tests/support/runner.py).
  ember::test::route_gateway net1, net2;
  if (pair) {
    try {
      const auto ports = free_ports(io);
      const ember::net::resume_peer to2{.name = "net2", .host = "127.0.0.1", .port = ports[2], .websocket_port = ports[3]};
      const ember::net::resume_peer to1{.name = "net1", .host = "127.0.0.1", .port = ports[0], .websocket_port = ports[1]};
      // The move tests queue many ordered steps: a forwarded request waits its turn.
      net1 = make_side(io, "net1", ports[0], ports[1], &to2, 10s);
      net2 = make_side(io, "net2", ports[2], ports[3], &to1, 10s);
    } catch (const std::system_error& e) {
      if (e.code() != asio::error::address_in_use) throw;
      ember::log::warn("a picked port was taken before it was bound ({}); start again", e.what());
      return EX_TEMPFAIL;
    }
  } else {
    net1 = make_side(io, "net1", 0, 0, nullptr, 300ms);
  }

  ember::test::route_game game(io.get_executor(), "game1");
  std::vector<std::unique_ptr<cl::node_connector>> links;
  for (auto* side : {&net1, &net2})
    if (side->backends) links.push_back(ember::test::join_game(io, game, *side, secret, false));
  auto link_all = [&] {
    for (auto& l : links) l->start();
  };

  // Without the flag the game links now; with it, once a request has been refused.
  asio::steady_timer poll(io);
  std::function<void()> link_when_refused = [&] {
    if (net1.gateway->unavailable() > 0) return link_all();
    poll.expires_after(5ms);
    poll.async_wait([&](std::error_code ec) {
      if (!ec) link_when_refused();
    });
  };
  if (game_after_unavailable) link_when_refused();
  else link_all();

  {
    std::ofstream out(port_file);
    out << net1.clients->port() << " " << net1.clients->websocket_port();
    if (pair) out << " " << net2.clients->port() << " " << net2.clients->websocket_port();
    out << "\n";
  }

  asio::signal_set drain_signal(io, SIGUSR1);
  std::function<void()> drain_on_signal = [&] {
    drain_signal.async_wait([&](std::error_code ec, int) {
      if (ec || !pair) return;
      asio::co_spawn(io, net1.clients->drain(10s), [](std::exception_ptr e, ember::net::drain_result r) {
        if (e) return ember::log_escaped("drain", e);
        ember::log::info("net1 drained: {} moved, {} closed, {} left", r.moved, r.closed, r.left);
      });
      drain_on_signal();
    });
  };
  drain_on_signal();

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code ec, int) {
    if (ec) return;
    poll.cancel();
    drain_signal.cancel();
    for (auto& l : links) l->stop();
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      for (auto* side : {&net1, &net2})
        if (side->clients) co_await side->clients->stop(1s);
    }, [&](std::exception_ptr e) {
      ember::log_escaped("stop", e);
      for (auto* side : {&net1, &net2})
        if (side->backends) side->backends->stop();
      io.stop();
    });
  });
  io.run();
  return EXIT_SUCCESS;
}
