// A cluster server for the forwarding benchmark, built on ember::app::host: one program for
// every server of the benchmark's config.json, like examples/cluster/world_server.
//   a server of type `echo` (bench.toml's echo has server = "echo") serves echo;
//   any other type registers nothing: a `front` with a netport and a rootport forwards echo to
//   the `echo` servers that join it (client -> front -> echo -> front -> client).
//
// usage: bench_cluster_server CONFIG.json NAME
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include "bench_server.hpp"
#include "ember/app/host.hpp"

namespace {

struct echo_service final : bench::echo_handler {
  asio::awaitable<bench::echo_reply> echo(ember::net::session&, const bench::echo_request& req) override {
    co_return bench::echo_reply{req.payload};
  }
};

// The server type that serves `echo`, from the schema itself.
std::string_view echo_type() {
  for (const auto& c : bench::command_list)
    if (c.id == bench::cmd::echo::id) return c.server;
  return {};
}

int run(const ember::app::cluster_config& config, const std::string& name) {
  asio::io_context io(1);
  ember::app::host host(io, config, name);
  ember::log::set_tag(name);
  echo_service service;
  ember::net::dispatch_table table;
  if (host.self().type == echo_type()) bench::register_commands(table, service);
  host.start(std::move(table), bench::command_list);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code ec, int) {
    if (ec) return;
    asio::co_spawn(io, host.stop(std::chrono::milliseconds(500)),
                   [&](std::exception_ptr) { io.stop(); });
  });
  io.run();
  return EXIT_SUCCESS;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  const bool help = argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h");
  if (help || argc != 3) {
    std::fprintf(help ? stdout : stderr, "usage: %s CONFIG.json NAME\n", argv[0]);
    return help ? 0 : 2;
  }
  auto config = ember::app::load_config(argv[1]);
  if (!config) {
    std::fprintf(stderr, "%s\n", config.error().what().c_str());
    return 1;
  }
  try {
    return run(*config, argv[2]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argv[2], e.what());
    return 1;
  }
}
