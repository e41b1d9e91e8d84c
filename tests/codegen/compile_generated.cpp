// Compiles every generated header of schemas/test/all_types.toml together with the net layer
// and checks that the handler interfaces register their commands.
#include "all_types_server.hpp"
#include "all_types_client.hpp"

#include <cstdlib>
#include <cstdio>

namespace {

class game final : public all_types::game_handler {
 public:
  asio::awaitable<all_types::echo_reply> echo(ember::session&,
                                              const all_types::echo_request& req) override {
    co_return all_types::echo_reply{req.payload};
  }
  asio::awaitable<all_types::ping_reply> ping(ember::session&,
                                              const all_types::ping_request&) override {
    co_return all_types::ping_reply{};
  }
};

class admin final : public all_types::admin_handler {
 public:
  asio::awaitable<all_types::stats_reply> stats(ember::session&,
                                                const all_types::stats_request&) override {
    co_return all_types::stats_reply{};
  }
};

}  // namespace

int main() {
  game g;
  admin a;
  ember::dispatch_table games, admins;
  all_types::register_commands(games, g);
  all_types::register_commands(admins, a);
  const bool ok = games.size() == 2 && admins.size() == 1 &&
                  games.find(all_types::cmd::echo::id) != nullptr &&
                  !games.find(all_types::cmd::ping::id)->ordered &&
                  admins.find(65535) != nullptr && games.error_reply() != nullptr;
  std::puts(ok ? "1 passed, 0 failed" : "0 passed, 1 failed");
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
