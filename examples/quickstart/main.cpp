#include "game_server.hpp"
#include "ember/log.hpp"
#include "ember/net/server.hpp"

struct game_service final : game::game_handler {
  explicit game_service(ember::net::server& server) : server_(server) {}

  asio::awaitable<game::login_reply> login(ember::net::session& s, const game::login_request& req) override {
    if (req.user == "mallory") game::fail(game::error::banned);  // an error frame, status 1001
    s.bind_user(42);
    s.join("lobby");
    ember::log::info("{} in the lobby", server_.groups().members("lobby").size());
    co_return game::login_reply{42};
  }

  ember::net::server& server_;  // its server: groups, broadcasts, other sessions
};

int main() {
  asio::io_context io;
  ember::net::server server(io, {.name = "game", .port = 7001});
  game_service service(server);
  ember::net::dispatch_table table;
  game::register_commands(table, service);
  server.set_table(std::move(table));
  server.start();
  io.run();
}
