// The raw-Asio baseline: a minimal single-threaded C++20 Asio server that speaks ember's native
// frame (answering the handshake so the same load generator connects) and echoes each request
// body back as its response. No schema, no dispatch, no limits: the ceiling for any framework
// built on Asio.
//
// Command 2 (bench.toml's `broadcast`) is the broadcast ceiling: its body is also a `tick`
// push's (round, payload), so the server sends that body as push 100 to every connection and
// answers with the count and its time to queue them, as bench_echo_server does.
//
// usage: bench_baseline_server [--port N] [--port-file PATH]
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/signal_set.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "ember/codec/binary.hpp"
#include "ember/wire/frame.hpp"
#include "ember/wire/handshake.hpp"

namespace {

using asio::ip::tcp;
using ember::wire::frame_header;
using ember::wire::native_header_size;

constexpr std::uint16_t broadcast_command = 2;
constexpr std::uint16_t tick_push = 100;

/// One connection: what is queued for it, and what is being written. Writes go out one at a
/// time; whatever is queued meanwhile leaves in the next write, gathered.
struct connection {
  explicit connection(tcp::socket s) : socket(std::move(s)) {}
  tcp::socket socket;
  std::vector<std::byte> queued, writing;
  std::uint32_t pushes = 0;
  std::list<std::shared_ptr<connection>>::iterator registered;

  void append(frame_header h, const std::byte* body) {
    const std::size_t at = queued.size();
    queued.resize(at + native_header_size + h.length);
    ember::wire::write_header(queued.data() + at, h);
    std::copy(body, body + h.length, queued.data() + at + native_header_size);
  }
};

std::list<std::shared_ptr<connection>> connections;

void flush(const std::shared_ptr<connection>& c) {
  if (!c->writing.empty() || c->queued.empty()) return;
  c->writing.swap(c->queued);
  asio::async_write(c->socket, asio::buffer(c->writing), [c](std::error_code ec, std::size_t) {
    c->writing.clear();
    if (!ec) flush(c);
  });
}

/// Pushes `body` to every connection; answers with the count and the microseconds it took.
void broadcast(connection& asker, frame_header h, const std::byte* body) {
  const auto start = std::chrono::steady_clock::now();
  frame_header push{h.length, ember::wire::frame_kind::push, 0, tick_push, 0, 0};
  for (auto& c : connections) {
    push.seq = ++c->pushes;
    c->append(push, body);
    flush(c);
  }
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
  ember::buffer reply;
  ember::codec::binary_writer w(reply);
  w.put_uint(1, connections.size());
  w.put_uint(2, static_cast<std::uint64_t>(us.count()));
  h.kind = ember::wire::frame_kind::response;
  h.length = static_cast<std::uint32_t>(reply.size());
  asker.append(h, reply.data());
}

asio::awaitable<void> serve(std::shared_ptr<connection> c) {
  c->socket.set_option(tcp::no_delay(true));
  std::vector<std::byte> in(64 * 1024);
  std::size_t have = 0;
  for (bool open = true; open;) {
    auto [ec, n] = co_await c->socket.async_read_some(asio::buffer(in.data() + have, in.size() - have),
                                                      asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) break;
    have += n;
    std::size_t at = 0;
    while (have - at >= native_header_size) {
      frame_header h = ember::wire::read_header(in.data() + at);
      const std::size_t whole = native_header_size + h.length;
      if (whole > in.size()) open = false;  // larger than the buffer: not a benchmark frame
      if (!open || have - at < whole) break;
      const std::byte* body = in.data() + at + native_header_size;
      if (h.kind == ember::wire::frame_kind::handshake) {
        ember::buffer hello;
        ember::wire::server_hello{}.encode(hello);
        h.length = static_cast<std::uint32_t>(hello.size());
        c->append(h, hello.data());
      } else if (h.kind == ember::wire::frame_kind::request && h.command == broadcast_command) {
        broadcast(*c, h, body);
      } else {
        h.kind = h.kind == ember::wire::frame_kind::ping ? ember::wire::frame_kind::pong
                                                         : ember::wire::frame_kind::response;
        c->append(h, body);
      }
      at += whole;
    }
    std::copy(in.data() + at, in.data() + have, in.data());
    have -= at;
    flush(c);
  }
  connections.erase(c->registered);
  c->socket.close();
}

asio::awaitable<void> listen(tcp::acceptor& acceptor) {
  for (;;) {
    auto c = std::make_shared<connection>(co_await acceptor.async_accept(asio::use_awaitable));
    c->registered = connections.insert(connections.end(), c);
    asio::co_spawn(acceptor.get_executor(), serve(std::move(c)), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::uint16_t port = 7101;
  std::string port_file;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--port" && i + 1 < argc) port = static_cast<std::uint16_t>(std::atoi(argv[++i]));
    else if (a == "--port-file" && i + 1 < argc) port_file = argv[++i];
    else {
      const bool help = a == "--help" || a == "-h";
      std::fprintf(help ? stdout : stderr, "usage: %s [--port N] [--port-file PATH]\n", argv[0]);
      return help ? EXIT_SUCCESS : EXIT_FAILURE;
    }
  }
  asio::io_context io(1);
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), port});
  if (!port_file.empty()) std::ofstream(port_file) << acceptor.local_endpoint().port() << "\n";
  asio::co_spawn(io, listen(acceptor), asio::detached);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code, int) { io.stop(); });
  io.run();
  connections.clear();  // what still holds a connection goes with the io_context's handlers
  return EXIT_SUCCESS;
}
