// The cluster example's server with its own main(): one program for every server of
// examples/cluster/config.json; which one it is comes from the config entry named on the
// command line. The logic (world_logic.hpp) is the same the world module gives ember-server;
// this is the assembly a user who prefers their own main() writes.
//
// usage: world_server CONFIG.json NAME
//        world_server --check CONFIG.json
#include <csignal>
#include <cstdlib>
#include <map>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include "ember/app/admin.hpp"
#include "ember/app/data_layer.hpp"
#include "ember/app/host.hpp"
#include "ember/cluster/backend.hpp"
#include "ember/cluster/ownership.hpp"
#include "ember/spawn.hpp"
#include "world_logic.hpp"

namespace {

using namespace world_example;

int run(const ember::app::cluster_config& config, const std::filesystem::path& config_dir,
        const std::string& name) {
  asio::io_context io(1);
  ember::app::host host(io, config, name);
  host.set_data_dir(config_dir);
  ember::log::set_tag(name);
  ember::app::data_layer data(host);  // a game's rows (the config's db and memcached)
  ember::net::dispatch_table table;
  game_logic game(host);
  net_logic net(host);
  gate_logic gate(host);
  lobby_logic lobby(host);
  const auto& type = host.self().type;
  if (type == "game") game.register_commands(table);
  if (type == "net") world::register_commands(table, net);
  if (type == "gate") world::register_commands(table, gate);
  if (type == "lobby") lobby.register_commands(table);
  if (type == "game") {
    if (auto why = game.reload_data(); !why.empty()) {
      ember::log::error("{}", why);
      return EXIT_FAILURE;
    }
  }
  int rc = EXIT_SUCCESS;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    co_await data.open();  // tables created or migrated, the last run's journal written back
    host.start(std::move(table), world::command_list);
    if (type == "game") {
      host.backend()->on_session_closed([&](ember::net::session& s) { game.session_closed(s); });
      host.ownership()->on_release([&](std::uint64_t user) { return game.release_player(user); });
    }
    if (type == "net") net.route_to_owners();
    if (type == "lobby") {
      host.backend()->on_session_closed([&](ember::net::session& s) { lobby.session_closed(s, {}); });
      host.ownership()->on_release([&](std::uint64_t key) { return lobby.release(key); });
      lobby.started({});
    }
  }, [&](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      ember::log::error("cannot start: {}", x.what());
    }
    rc = EXIT_FAILURE;
    io.stop();
  });

  asio::signal_set signals(io, SIGINT, SIGTERM);
  std::unique_ptr<ember::app::admin_link> admin;
  auto stop = [&] {
    ember::log::info("stopping");
    signals.cancel();
    asio::co_spawn(io, host.stop(), [&](std::exception_ptr e) {
      ember::log_escaped("stop", e);
      admin.reset();
      io.stop();
    });
  };
  signals.async_wait([&](std::error_code ec, int) {
    if (!ec) stop();
  });
  // The master's admin API, when the config has a master: status, data reload, stop.
  admin = std::make_unique<ember::app::admin_link>(
      host, ember::app::admin_hooks{
                [] { return std::string("world_server has no module to reload (ember-server does)"); },
                [&] { return type == "game" ? game.reload_data() : std::string(); },
                [&] { asio::post(io, stop); },
                [] { return std::string("world_server " WORLD_BUILD); },
                [&](ember::codec::json_writer& w) { data.write_status(w); }});
  io.run();
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  const std::string first = argc > 1 ? argv[1] : "";
  const bool check = first == "--check";
  const bool master = argc == 5 && std::string(argv[3]) == "--master";
  const bool help = first == "--help" || first == "-h";
  if (help || (argc != 3 && !(master && !check))) {
    std::fprintf(help ? stdout : stderr,
                 "usage: %s CONFIG.json NAME [--master HOST:PORT]\n       %s --check CONFIG.json\n",
                 argv[0], argv[0]);
    return help ? 0 : 2;
  }
  auto config = ember::app::load_config(check ? argv[2] : argv[1]);
  if (!config) {
    std::fprintf(stderr, "%s\n", config.error().what().c_str());
    return 1;
  }
  if (check) {
    std::printf("%s: %zu servers, valid\n", argv[2], config->servers.size());
    return 0;
  }
  if (master) {
    if (auto why = ember::app::use_master(*config, argv[4]); !why.empty()) {
      std::fprintf(stderr, "%s\n", why.c_str());
      return 2;
    }
  }
  try {
    return run(*config, std::filesystem::path(argv[1]).parent_path(), argv[2]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argv[2], e.what());
    return 1;
  }
}
