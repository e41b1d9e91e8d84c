// The raw-Asio baseline: a minimal single-threaded C++20 Asio server that speaks ember's native
// frame (answering the handshake so the same load generator connects) and echoes each request
// body back as its response. No schema, no dispatch, no limits: the ceiling for any framework
// built on Asio.
//
// usage: bench_baseline_server [--port N] [--port-file PATH]
#include <array>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/signal_set.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "ember/wire/frame.hpp"
#include "ember/wire/handshake.hpp"

namespace {

using asio::ip::tcp;

asio::awaitable<void> serve(tcp::socket s) {
  s.set_option(tcp::no_delay(true));
  std::vector<std::byte> in(64 * 1024);
  std::vector<std::byte> out;
  std::size_t have = 0;
  for (;;) {
    std::size_t n = co_await s.async_read_some(asio::buffer(in.data() + have, in.size() - have),
                                               asio::use_awaitable);
    have += n;
    std::size_t at = 0;
    out.clear();
    while (have - at >= ember::wire::native_header_size) {
      auto h = ember::wire::read_header(in.data() + at);
      std::size_t whole = ember::wire::native_header_size + h.length;
      if (whole > in.size()) co_return;  // larger than the buffer: not a benchmark frame
      if (have - at < whole) break;
      std::size_t o = out.size();
      out.resize(o + whole);
      ember::wire::frame_header r = h;
      if (h.kind == ember::wire::frame_kind::handshake) {
        ember::buffer hello;
        ember::wire::server_hello{}.encode(hello);
        r.length = static_cast<std::uint32_t>(hello.size());
        out.resize(o + ember::wire::native_header_size + hello.size());
        std::copy(hello.data(), hello.data() + hello.size(), out.data() + o + ember::wire::native_header_size);
      } else {
        r.kind = h.kind == ember::wire::frame_kind::ping ? ember::wire::frame_kind::pong
                                                         : ember::wire::frame_kind::response;
        std::copy(in.data() + at + ember::wire::native_header_size, in.data() + at + whole,
                  out.data() + o + ember::wire::native_header_size);
      }
      ember::wire::write_header(out.data() + o, r);
      at += whole;
    }
    std::copy(in.data() + at, in.data() + have, in.data());
    have -= at;
    if (!out.empty()) co_await asio::async_write(s, asio::buffer(out), asio::use_awaitable);
  }
}

asio::awaitable<void> listen(tcp::acceptor& acceptor) {
  for (;;) {
    auto s = co_await acceptor.async_accept(asio::use_awaitable);
    // A client that leaves ends its coroutine with eof; nothing to report.
    asio::co_spawn(acceptor.get_executor(), serve(std::move(s)), asio::detached);
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
      std::fprintf(stderr, "usage: %s [--port N] [--port-file PATH]\n", argv[0]);
      return EXIT_FAILURE;
    }
  }
  asio::io_context io(1);
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), port});
  if (!port_file.empty()) std::ofstream(port_file) << acceptor.local_endpoint().port() << "\n";
  asio::co_spawn(io, listen(acceptor), asio::detached);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code, int) { io.stop(); });
  io.run();
  return EXIT_SUCCESS;
}
