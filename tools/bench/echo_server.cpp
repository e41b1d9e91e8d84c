// An ember server with one command, echo: what ember-bench measures against the raw baseline;
// and broadcast, which pushes `tick` to every session (ember-bench --broadcast).
//
// With --websocket-port the same sessions are also served over WebSocket (ember-ws-bench).
//
// usage: bench_echo_server [--port N] [--framing native|firefly] [--port-file PATH]
//                          [--websocket-port N] [--websocket-port-file PATH]
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include "bench_server.hpp"
#include "ember/log.hpp"
#include "ember/net/server.hpp"

namespace {
struct echo_service final : bench::echo_handler {
  asio::awaitable<bench::echo_reply> echo(ember::net::session&, const bench::echo_request& req) override {
    co_return bench::echo_reply{req.payload};
  }
};

struct broadcast_service final : bench::broadcast_handler {
  explicit broadcast_service(ember::net::server& server) : server_(server) {}
  asio::awaitable<bench::broadcast_reply> broadcast(ember::net::session&, const bench::broadcast_request& req) override {
    const auto t0 = std::chrono::steady_clock::now();
    const auto n = server_.broadcast({}, bench::tick{req.round, req.payload});
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
    co_return bench::broadcast_reply{static_cast<std::uint32_t>(n), static_cast<std::uint32_t>(us.count())};
  }
  ember::net::server& server_;
};
}  // namespace

int main(int argc, char** argv) {
  ember::net::server_options options;
  options.name = "bench-echo";
  options.port = 7100;
  options.max_request_rate = 0;  // a benchmark is one client sending as fast as it can
  options.max_sessions_per_address = options.max_sessions;  // every session comes from loopback
  options.firefly_encoding = ember::codec::encoding::binary;
  std::string port_file, ws_port_file;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--port" && i + 1 < argc) options.port = static_cast<std::uint16_t>(std::atoi(argv[++i]));
    else if (a == "--framing" && i + 1 < argc) {
      std::string f = argv[++i];
      options.framing = f == "firefly" ? ember::net::framing::firefly : ember::net::framing::native;
    } else if (a == "--port-file" && i + 1 < argc) port_file = argv[++i];
    else if (a == "--websocket-port" && i + 1 < argc)
      options.websocket_port = static_cast<std::uint16_t>(std::atoi(argv[++i]));  // 0: any free port
    else if (a == "--websocket-port-file" && i + 1 < argc) ws_port_file = argv[++i];
    else {
      const bool help = a == "--help" || a == "-h";
      std::fprintf(help ? stdout : stderr,
                   "usage: %s [--port N] [--framing native|firefly] [--port-file PATH]\n"
                   "       [--websocket-port N] [--websocket-port-file PATH]\n", argv[0]);
      return help ? EXIT_SUCCESS : EXIT_FAILURE;
    }
  }
  ember::log::set_level(ember::log::level::warn);
  asio::io_context io(1);
  ember::net::server server(io, options);
  echo_service service;
  broadcast_service broadcaster(server);
  ember::net::dispatch_table table;
  bench::register_commands(table, service);
  bench::register_commands(table, broadcaster);
  server.set_table(std::move(table));
  server.start();
  // the WebSocket port first: a script that sees the TCP port file may read both at once
  if (!ws_port_file.empty() && options.websocket_port)
    std::ofstream(ws_port_file) << server.websocket_port() << "\n";
  if (!port_file.empty()) std::ofstream(port_file) << server.port() << "\n";
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code, int) { io.stop(); });
  io.run();
  return EXIT_SUCCESS;
}
