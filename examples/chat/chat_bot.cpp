// The chat example's bot: logs in, joins a room, says a few lines, lists the rooms, prints
// every chat line pushed to it, and checks it heard its peers. Several bots run in one process.
//
// usage: chat_bot [--host H] [--port N] [--bots N] [--lines N]
#include <cstdlib>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "chat_client.hpp"
#include "ember/net/client.hpp"

namespace {

struct totals {
  int heard = 0;
  int failures = 0;
};

asio::awaitable<void> pause(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

asio::awaitable<void> play(std::string name, std::string host, std::uint16_t port, int bots, int lines, totals& t) {
  ember::net::client conn(co_await asio::this_coro::executor);
  if (auto ec = co_await conn.connect(host, port)) {
    fmt::print("{}: cannot connect to {}:{}: {}\n", name, host, port, ec.message());
    ++t.failures;
    co_return;
  }
  chat::client_stub chat(conn);
  int heard = 0;
  chat.on_chat_message([&](const chat::chat_message& m) {
    ++heard;
    ++t.heard;
    fmt::print("{} hears in {}: <{}> {}\n", name, m.room, m.from, m.text);
  });

  auto refused = co_await chat.say({"lobby", "may I speak before logging in?"});
  if (!refused) fmt::print("{}: refused as expected: {}\n", name, refused.error().message);

  auto login = co_await chat.login({name, "secret"});
  if (!login) {
    fmt::print("{}: login failed: {}\n", name, login.error().message);
    ++t.failures;
    co_return;
  }
  fmt::print("{}: logged in as user {} ({})\n", name, login->user_id, login->motd);
  auto joined = co_await chat.join_room(chat::join_room_request{"lobby"});
  if (!joined) { ++t.failures; co_return; }
  fmt::print("{}: joined {} ({} members)\n", name, joined->room.name, joined->room.members);
  co_await pause(std::chrono::milliseconds(200));  // let the other bots join too

  for (int i = 1; i <= lines; ++i) {
    auto said = co_await chat.say({"lobby", fmt::format("hello #{} from {}", i, name)});
    if (!said) { ++t.failures; fmt::print("{}: say failed: {}\n", name, said.error().message); }
    co_await pause(std::chrono::milliseconds(50));
  }
  auto rooms = co_await chat.list_rooms({});
  if (rooms) {
    for (auto& r : rooms->rooms) fmt::print("{}: room {} has {} members\n", name, r.name, r.members);
  }
  co_await pause(std::chrono::milliseconds(300));  // the last lines of the others arrive
  int expected = bots * lines;
  if (heard != expected) {
    fmt::print("{}: heard {} lines, expected {}\n", name, heard, expected);
    ++t.failures;
  }
  conn.close();
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  std::uint16_t port = 7001;
  int bots = 3, lines = 3;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--host" && i + 1 < argc) host = argv[++i];
    else if (a == "--port" && i + 1 < argc) port = static_cast<std::uint16_t>(std::atoi(argv[++i]));
    else if (a == "--bots" && i + 1 < argc) bots = std::atoi(argv[++i]);
    else if (a == "--lines" && i + 1 < argc) lines = std::atoi(argv[++i]);
    else {
      const bool help = a == "--help" || a == "-h";
      std::fprintf(help ? stdout : stderr, "usage: %s [--host H] [--port N] [--bots N] [--lines N]\n", argv[0]);
      return help ? EXIT_SUCCESS : EXIT_FAILURE;
    }
  }
  asio::io_context io;
  totals t;
  int done = 0;
  for (int b = 1; b <= bots; ++b) {
    asio::co_spawn(io, play(fmt::format("bot{}", b), host, port, bots, lines, t), [&](std::exception_ptr e) {
      if (e) {
        try { std::rethrow_exception(e); } catch (const std::exception& x) { fmt::print("bot failed: {}\n", x.what()); }
        ++t.failures;
      }
      ++done;
    });
  }
  io.run_for(std::chrono::seconds(30));
  if (done != bots) { fmt::print("bots did not finish in 30 s\n"); return EXIT_FAILURE; }
  fmt::print("{} bots heard {} chat lines, {} failures\n", bots, t.heard, t.failures);
  return t.failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
