// Compiles every generated header of schemas/test/all_types.toml together with the net layer
// and checks that the handler interfaces register their commands and calls, that
// `command_list` describes them, and that `call_stub` forwards to its target.
#include "all_types_server.hpp"
#include "all_types_client.hpp"

#include <cstdlib>
#include <cstdio>
#include <string_view>

namespace {

class game final : public all_types::game_handler {
 public:
  asio::awaitable<all_types::echo_reply> echo(ember::net::session&,
                                              const all_types::echo_request& req) override {
    co_return all_types::echo_reply{req.payload};
  }
  asio::awaitable<all_types::ping_reply> ping(ember::net::session&,
                                              const all_types::ping_request&) override {
    co_return all_types::ping_reply{};
  }
  asio::awaitable<all_types::transfer_reply> transfer(
      ember::net::session&, const all_types::transfer_request&) override {
    co_return all_types::transfer_reply{true};
  }
};

class admin final : public all_types::admin_handler {
 public:
  asio::awaitable<all_types::stats_reply> stats(ember::net::session&,
                                                const all_types::stats_request&) override {
    co_return all_types::stats_reply{};
  }
};

// A `call_stub` target: records which call went through it.
struct fake_link {
  std::uint16_t last = 0;
  template <class Cmd>
  typename Cmd::reply call(const typename Cmd::request&, ember::net::call_options) {
    last = Cmd::id;
    return typename Cmd::reply{};
  }
};

static_assert(!all_types::cmd::echo::internal && all_types::cmd::transfer::internal);
static_assert(!all_types::cmd::transfer::ordered);
static_assert(all_types::cmd::transfer::server == "game");
// Clients cannot send calls: the client stub has no method for them.
template <class Stub>
concept calls_echo = requires(Stub& s) { s.echo(all_types::echo_request{}); };
template <class Stub>
concept calls_transfer = requires(Stub& s) { s.transfer(all_types::transfer_request{}); };
static_assert(calls_echo<all_types::client_stub> && !calls_transfer<all_types::client_stub>);
static_assert(calls_transfer<all_types::call_stub<fake_link>>);

// command_list: every command and call, in id order, with its server.
constexpr bool command_list_is_right() {
  constexpr std::uint16_t ids[] = {1, 2, 3, 65279};
  constexpr std::string_view servers[] = {"game", "game", "game", "admin"};
  if (all_types::command_list.size() != 4) return false;
  for (std::size_t i = 0; i < 4; ++i) {
    const ember::command_info& c = all_types::command_list[i];
    if (c.id != ids[i] || c.server != servers[i] || c.internal != (c.id == 3)) return false;
  }
  return all_types::command_list[2].name == "transfer" && !all_types::command_list[1].ordered;
}
static_assert(command_list_is_right());

}  // namespace

int main() {
  game g;
  admin a;
  ember::net::dispatch_table games, admins;
  all_types::register_commands(games, g);
  all_types::register_commands(admins, a);
  fake_link target;
  all_types::call_stub<fake_link> calls(target);
  const all_types::transfer_reply r = calls.transfer({all_types::item_v1{7, "sword"}, "game-2"});
  const auto* transfer = games.find(all_types::cmd::transfer::id);
  const bool ok = games.size() == 3 && admins.size() == 1 &&
                  games.find(all_types::cmd::echo::id) != nullptr &&
                  !games.find(all_types::cmd::echo::id)->internal &&
                  !games.find(all_types::cmd::ping::id)->ordered &&
                  transfer != nullptr && transfer->internal && !transfer->ordered &&
                  admins.find(65279) != nullptr && !admins.find(65279)->internal &&
                  games.error_reply() != nullptr &&
                  target.last == all_types::cmd::transfer::id && !r.accepted;
  std::puts(ok ? "1 passed, 0 failed" : "0 passed, 1 failed");
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
