// A complete ember program: a server with one command and a client calling it, in one process.
#include <cstdio>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include "ember/net/client.hpp"
#include "ember/net/server.hpp"
#include "hello_client.hpp"
#include "hello_server.hpp"

struct greeter final : hello::greeter_handler {
  asio::awaitable<hello::greet_reply> greet(ember::net::session&, const hello::greet_request& req) override {
    co_return hello::greet_reply{"hello, " + req.who};
  }
};

int main() {
  asio::io_context io;
  greeter g;
  ember::net::dispatch_table table;
  hello::register_commands(table, g);
  ember::net::server server(io, {}, std::move(table));
  server.start();
  int status = 1;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    ember::net::client c(io.get_executor());
    if (!co_await c.connect("127.0.0.1", server.port())) {
      auto reply = co_await hello::client_stub(c).greet(hello::greet_request{"consumer"});
      if (reply && reply->greeting == "hello, consumer") status = 0;
      std::printf("%s\n", reply ? reply->greeting.c_str() : reply.error().message.c_str());
    }
    co_await server.stop();
    io.stop();
  }, asio::detached);
  io.run_for(std::chrono::seconds(20));
  return status;
}
