// A client-facing server whose gateway forwards tests/cluster/route_test.toml's commands to a
// real game backend linked to it over loopback, as in the gateway suite, but as a process: the
// generated TypeScript and C# clients' retry tests (tests/clients/*/run.py) play against it.
// The gateway gives a forwarded request 300 ms, so a `step` of 450 ms ends with
// `outcome_unknown` while the game still runs it; the game's reply cache answers a retry with
// the same request id, and `runs` tells the test how many times each step really ran.
//
// usage: retry_server --port-file PATH [--game-after-unavailable]
//   writes "TCP_PORT WEBSOCKET_PORT" to PATH once it listens; with --game-after-unavailable the
//   game links only after the gateway has answered one request `unavailable` (so the first
//   attempt of a call is surely refused, and its retries find the game).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include "cluster/route_game.hpp"
#include "ember/cluster/gateway.hpp"
#include "ember/cluster/node.hpp"
#include "ember/log.hpp"
#include "ember/spawn.hpp"

namespace cl = ember::cluster;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
  std::string port_file;
  bool game_after_unavailable = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--port-file" && i + 1 < argc) port_file = argv[++i];
    else if (a == "--game-after-unavailable") game_after_unavailable = true;
    else {
      const bool help = a == "--help" || a == "-h";
      std::fprintf(help ? stdout : stderr,
                   "usage: %s --port-file PATH [--game-after-unavailable]\n", argv[0]);
      return help ? EXIT_SUCCESS : EXIT_FAILURE;
    }
  }
  if (port_file.empty()) {
    std::fprintf(stderr, "usage: %s --port-file PATH [--game-after-unavailable]\n", argv[0]);
    return EXIT_FAILURE;
  }
  ember::log::set_tag("retry_server");
  const std::string secret = "retry server secret";
  asio::io_context io;

  cl::root_options ro;
  ro.name = "net1";
  ro.secret = secret;
  cl::root backends(io.get_executor(), ro);
  ember::net::server_options so{.name = "net1"};
  so.port = 0;
  so.websocket_port = 0;
  ember::net::server clients(io, so, ember::net::dispatch_table{});
  cl::gateway gateway(clients, backends, cl::gateway_options{"net1", 300ms});
  ember::net::dispatch_table table;
  gateway.add_routes(table, routetest::command_list, "net");
  clients.set_table(std::move(table));
  backends.start();
  clients.start();

  ember::test::route_game game(io.get_executor(), "game1");
  cl::node_options no;
  no.name = "game1";
  no.type = "game";
  no.secret = secret;
  no.root_port = backends.port();
  no.root_name = "net1";
  cl::node_connector link(io.get_executor(), no);
  link.on_connected([&game](const cl::node_connector::link_ptr& l) { game.backend().attach(l); });

  // Without the flag the game links now; with it, once a request has been refused.
  asio::steady_timer poll(io);
  std::function<void()> link_when_refused = [&] {
    if (gateway.unavailable() > 0) return link.start();
    poll.expires_after(5ms);
    poll.async_wait([&](std::error_code ec) {
      if (!ec) link_when_refused();
    });
  };
  if (game_after_unavailable) link_when_refused();
  else link.start();

  {
    std::ofstream out(port_file);
    out << clients.port() << " " << clients.websocket_port() << "\n";
  }

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code ec, int) {
    if (ec) return;
    poll.cancel();
    link.stop();
    asio::co_spawn(io, clients.stop(1s), [&](std::exception_ptr e) {
      ember::log_escaped("stop", e);
      backends.stop();
      io.stop();
    });
  });
  io.run();
  return EXIT_SUCCESS;
}
