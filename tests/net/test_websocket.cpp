// Sessions over WebSocket on loopback: a real net::server with its WebSocket listener, and a
// raw socket client that speaks RFC 6455 byte by byte (masked frames, fragments, pings,
// the close handshake), well or badly.
#include "ember/net/server.hpp"

#define BOOST_TEST_MODULE net_websocket
#include <boost/test/unit_test.hpp>

#include <array>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/write.hpp>

#include "ember/net/client.hpp"
#include "ember/outcome.hpp"
#include "ember/wire/encoder.hpp"
#include "ember/wire/handshake.hpp"
#include "ember/wire/websocket.hpp"
#include "nettest_server.hpp"
#include "net_handler.hpp"
#include "support/run.hpp"

using namespace std::chrono_literals;
using ember::test::run;
using ember::test::wait_until;
namespace ws = ember::wire::websocket;
using ember::buffer;
using ember::bytes_view;

namespace {

constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::array<std::byte, 4> mask{std::byte(0x12), std::byte(0x34), std::byte(0x56), std::byte(0x78)};

struct fixture {
  asio::io_context io;
  ember::test::net_handler h;
  std::unique_ptr<ember::net::server> srv;

  explicit fixture(ember::net::server_options o = {}) {
    ember::net::dispatch_table t;
    nettest::register_commands(t, h);
    o.name = "ws-test";
    o.websocket_port = 0;
    if (o.websocket_origins.empty()) o.websocket_origins = {"https://game.example.com"};
    srv = std::make_unique<ember::net::server>(io, o, std::move(t));
    srv->start();
  }
};

/// A server frame as the client reads it.
struct server_frame {
  ws::opcode op;
  bool fin = true;
  std::vector<std::byte> payload;
  std::uint16_t close_code() const {
    return payload.size() < 2 ? 0 : std::uint16_t(std::to_integer<int>(payload[0]) << 8 | std::to_integer<int>(payload[1]));
  }
  std::string text() const { return {reinterpret_cast<const char*>(payload.data()), payload.size()}; }
};

class raw_client {
 public:
  explicit raw_client(asio::ip::tcp::socket s) : socket(std::move(s)) {}

  /// Sends the upgrade request and returns the server's answer (its status line and headers).
  asio::awaitable<std::string> upgrade(std::string_view extra_headers = {}) {
    std::string req =
        "GET /game HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    req += extra_headers;
    req += "\r\n";
    co_await send_raw(req);
    auto [ec, n] = co_await asio::async_read_until(socket, asio::dynamic_buffer(in_), "\r\n\r\n", use_tuple);
    if (ec) co_return "";
    std::string head = in_.substr(0, n);
    in_.erase(0, n);
    co_return head;
  }

  asio::awaitable<void> send_raw(std::string_view bytes) {
    co_await asio::async_write(socket, asio::buffer(bytes.data(), bytes.size()), use_tuple);
  }
  asio::awaitable<void> send(const buffer& b) { co_await send_raw(b.str()); }
  /// Sends one masked frame.
  asio::awaitable<void> send(ws::opcode op, bytes_view payload, bool fin = true) {
    buffer b;
    ws::append_frame(b, op, payload, fin, mask);
    co_await send(b);
  }

  /// The next frame from the server, or nothing when the connection ends.
  asio::awaitable<std::optional<server_frame>> read() {
    std::array<std::byte, 2> h;
    if (!co_await read_exact(h.data(), 2)) co_return std::nullopt;
    server_frame f;
    const auto b0 = std::to_integer<unsigned>(h[0]), b1 = std::to_integer<unsigned>(h[1]);
    f.fin = (b0 & 0x80) != 0;
    f.op = ws::opcode(b0 & 0x0F);
    BOOST_TEST((b1 & 0x80) == 0u);  // a server never masks
    std::uint64_t n = b1 & 0x7F;
    if (n >= 126) {
      std::array<std::byte, 8> ext;
      const std::size_t k = n == 126 ? 2 : 8;
      if (!co_await read_exact(ext.data(), k)) co_return std::nullopt;
      n = 0;
      for (std::size_t i = 0; i < k; ++i) n = n << 8 | std::to_integer<unsigned>(ext[i]);
    }
    f.payload.resize(n);
    if (!co_await read_exact(f.payload.data(), n)) co_return std::nullopt;
    co_return f;
  }

  /// The next binary message's native frames (skipping pongs).
  asio::awaitable<std::vector<std::pair<ember::wire::frame_header, std::vector<std::byte>>>> frames() {
    std::vector<std::pair<ember::wire::frame_header, std::vector<std::byte>>> out;
    for (;;) {
      auto f = co_await read();
      BOOST_REQUIRE(f);
      if (f->op != ws::opcode::binary) continue;
      for (std::size_t at = 0; at < f->payload.size();) {
        BOOST_REQUIRE(f->payload.size() - at >= ember::wire::native_header_size);
        auto h = ember::wire::read_header(f->payload.data() + at);
        at += ember::wire::native_header_size;
        BOOST_REQUIRE(f->payload.size() - at >= h.length);
        out.push_back({h, {f->payload.begin() + at, f->payload.begin() + at + h.length}});
        at += h.length;
      }
      co_return out;
    }
  }

  /// True once the server has closed the connection (within a bound).
  asio::awaitable<bool> closed_by_peer() {
    std::array<char, 4096> sink;
    for (int i = 0; i < 1000; ++i) {
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(sink), use_tuple);
      if (ec) co_return true;
    }
    co_return false;
  }

  /// Bytes already read from the socket by someone else, to be read first.
  void push_back(std::string_view bytes) { in_ += bytes; }

  asio::ip::tcp::socket socket;

 private:
  asio::awaitable<bool> read_exact(std::byte* p, std::size_t n) {
    const std::size_t from_in = std::min(n, in_.size());
    std::memcpy(p, in_.data(), from_in);
    in_.erase(0, from_in);
    if (from_in == n) co_return true;
    auto [ec, got] = co_await asio::async_read(socket, asio::buffer(p + from_in, n - from_in), use_tuple);
    co_return !ec;
  }
  std::string in_;
};

asio::awaitable<raw_client> connect(std::uint16_t port) {
  asio::ip::tcp::socket s(co_await asio::this_coro::executor);
  co_await s.async_connect({asio::ip::make_address("127.0.0.1"), port}, asio::use_awaitable);
  co_return raw_client(std::move(s));
}

/// A native frame with `body`, as a client sends it.
buffer native_frame(ember::wire::frame_kind kind, std::uint16_t command, std::uint32_t seq,
                    const std::function<void(buffer&)>& body) {
  buffer b;
  b.resize(ember::wire::native_header_size);
  body(b);
  ember::wire::frame_header h;
  h.kind = kind;
  h.command = command;
  h.seq = seq;
  h.length = static_cast<std::uint32_t>(b.size() - ember::wire::native_header_size);
  ember::wire::write_header(b.data(), h);
  return b;
}

buffer hello_frame() {
  return native_frame(ember::wire::frame_kind::handshake, 0, 0,
                      [](buffer& b) { ember::wire::client_hello{}.encode(b); });
}

buffer echo_frame(std::uint32_t seq, std::uint32_t n, std::string text) {
  return native_frame(ember::wire::frame_kind::request, nettest::cmd::echo::id, seq, [&](buffer& b) {
    ember::codec::encode(b, nettest::echo_request{n, std::move(text), 0}, ember::codec::encoding::binary);
  });
}

nettest::echo_reply decode_echo(const std::vector<std::byte>& body) {
  nettest::echo_reply r;
  BOOST_REQUIRE(!ember::codec::decode(bytes_view(body), ember::codec::encoding::binary, r));
  return r;
}

/// A client past the upgrade and the native handshake.
asio::awaitable<raw_client> session(fixture& f) {
  auto c = co_await connect(f.srv->websocket_port());
  const auto head = co_await c.upgrade();
  BOOST_REQUIRE(head.starts_with("HTTP/1.1 101 "));
  co_await c.send(ws::opcode::binary, hello_frame().view());
  auto hello = co_await c.frames();
  BOOST_REQUIRE(hello.size() == 1u);
  BOOST_REQUIRE(hello[0].first.kind == ember::wire::frame_kind::handshake);
  co_return c;
}

/// Expects a close frame with `code`, then the end of the connection.
asio::awaitable<void> expect_close(raw_client& c, ws::close_code code) {
  std::optional<server_frame> f;
  for (int i = 0; i < 10; ++i) {
    f = co_await c.read();
    if (!f || f->op == ws::opcode::close) break;
  }
  BOOST_REQUIRE_MESSAGE(f, "the connection ended without a close frame");
  BOOST_TEST(int(f->op) == int(ws::opcode::close));
  BOOST_TEST(f->close_code() == std::uint16_t(code));
  BOOST_TEST_MESSAGE("close " << f->close_code() << ": " << f->text().substr(2));
  BOOST_TEST(co_await c.closed_by_peer());
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_websocket_client_handshakes_and_its_requests_get_replies) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto c = co_await connect(f.srv->websocket_port());
    const auto head = co_await c.upgrade("Origin: https://game.example.com\r\n");
    BOOST_TEST(head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
    BOOST_TEST(head.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != std::string::npos);
    co_await c.send(ws::opcode::binary, hello_frame().view());
    auto hello = co_await c.frames();
    BOOST_REQUIRE(hello.size() == 1u);
    BOOST_TEST(int(hello[0].first.kind) == int(ember::wire::frame_kind::handshake));
    BOOST_REQUIRE(ember::wire::server_hello::decode(bytes_view(hello[0].second)));

    // one request, fragmented into three frames with a ping between them
    const buffer req = echo_frame(1, 7, "over websocket");
    const bytes_view v = req.view();
    co_await c.send(ws::opcode::binary, v.first(5), false);
    co_await c.send(ws::opcode::ping, ember::as_bytes("are you there"));
    co_await c.send(ws::opcode::continuation, v.subspan(5, 10), false);
    co_await c.send(ws::opcode::continuation, v.subspan(15));
    auto pong = co_await c.read();
    BOOST_REQUIRE(pong);
    BOOST_TEST(int(pong->op) == int(ws::opcode::pong));
    BOOST_TEST(pong->text() == "are you there");
    auto reply = co_await c.frames();
    BOOST_REQUIRE(reply.size() == 1u);
    BOOST_TEST(int(reply[0].first.kind) == int(ember::wire::frame_kind::response));
    BOOST_TEST(reply[0].first.seq == 1u);
    const auto r = decode_echo(reply[0].second);
    BOOST_TEST(r.n == 7u);
    BOOST_TEST(r.text == "over websocket");

    // two requests in one message; their replies come in one message or more
    buffer two = echo_frame(2, 2, "a");
    two.append(echo_frame(3, 3, "b").view());
    co_await c.send(ws::opcode::binary, two.view());
    std::vector<std::uint32_t> seqs;
    while (seqs.size() < 2)
      for (auto& [h, body] : co_await c.frames()) seqs.push_back(h.seq);
    BOOST_TEST((seqs == std::vector<std::uint32_t>{2, 3}));

    // the close handshake: the server answers with the same code, then ends the session
    buffer close;
    ws::append_close(close, ws::close_code::normal, "bye", mask);
    co_await c.send(close);
    auto answer = co_await c.read();
    BOOST_REQUIRE(answer);
    BOOST_TEST(int(answer->op) == int(ws::opcode::close));
    BOOST_TEST(answer->close_code() == 1000u);
    BOOST_TEST(co_await c.closed_by_peer());
    BOOST_TEST(co_await wait_until([&] { return f.srv->session_count() == 0; }));
  }());
}

BOOST_AUTO_TEST_CASE(tcp_and_websocket_sessions_share_the_server) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto a = co_await session(f);
    auto b = co_await session(f);
    BOOST_TEST(f.srv->session_count() == 2u);
    BOOST_TEST(f.srv->port() != f.srv->websocket_port());
    co_await b.send(ws::opcode::binary, echo_frame(1, 1, "b").view());
    co_await a.send(ws::opcode::binary, echo_frame(1, 2, "a").view());
    BOOST_TEST(decode_echo((co_await a.frames())[0].second).text == "a");
    BOOST_TEST(decode_echo((co_await b.frames())[0].second).text == "b");
  }());
}

BOOST_AUTO_TEST_CASE(an_upgrade_from_another_site_or_not_websocket_is_refused_with_its_status) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto evil = co_await connect(f.srv->websocket_port());
    BOOST_TEST((co_await evil.upgrade("Origin: https://evil.example\r\n")).starts_with("HTTP/1.1 403 "));
    BOOST_TEST(co_await evil.closed_by_peer());

    auto old = co_await connect(f.srv->websocket_port());
    co_await old.send_raw("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    std::string answer;
    (void)co_await asio::async_read_until(old.socket, asio::dynamic_buffer(answer), "\r\n\r\n", use_tuple);
    BOOST_TEST(answer.starts_with("HTTP/1.1 426 "));
    BOOST_TEST(answer.find("Sec-WebSocket-Version: 13") != std::string::npos);
    BOOST_TEST(co_await wait_until([&] { return f.srv->session_count() == 0; }));
  }());
}

BOOST_AUTO_TEST_CASE(an_upgrade_that_never_ends_is_closed_at_the_handshake_deadline) {
  ember::net::server_options o;
  o.handshake_timeout = 300ms;
  fixture f(o);
  run(f.io, [&]() -> asio::awaitable<void> {
    auto c = co_await connect(f.srv->websocket_port());
    co_await c.send_raw("GET / HTTP/1.1\r\nHost: x\r\n");
    const auto start = std::chrono::steady_clock::now();
    BOOST_TEST(co_await c.closed_by_peer());
    BOOST_TEST((std::chrono::steady_clock::now() - start < 5s));
    BOOST_TEST(co_await wait_until([&] { return f.srv->session_count() == 0; }));
  }());
}

BOOST_AUTO_TEST_CASE(hostile_frames_close_that_session_with_a_meaningful_code) {
  ember::net::server_options o;
  o.max_frame = 1024;
  fixture f(o);
  run(f.io, [&]() -> asio::awaitable<void> {
    auto bystander = co_await session(f);
    struct hostile {
      const char* what;
      std::function<asio::awaitable<void>(raw_client&)> send;
      ws::close_code code;
    };
    const hostile cases[] = {
        {"an unmasked frame",
         [](raw_client& c) -> asio::awaitable<void> { co_await c.send_raw(std::string("\x82\x01\x00", 3)); },
         ws::close_code::protocol_error},
        {"a reserved opcode",
         [](raw_client& c) -> asio::awaitable<void> { co_await c.send(ws::opcode(0x3), bytes_view{}); },
         ws::close_code::protocol_error},
        {"a text message",
         [](raw_client& c) -> asio::awaitable<void> { co_await c.send(ws::opcode::text, ember::as_bytes("hi")); },
         ws::close_code::unsupported_data},
        {"a message over the limit",
         [](raw_client& c) -> asio::awaitable<void> {
           co_await c.send(ws::opcode::binary, ember::as_bytes(std::string(2000, 'x')));
         },
         ws::close_code::message_too_big},
        {"a native frame over the limit",
         [](raw_client& c) -> asio::awaitable<void> {
           // a native header announcing more than max_frame, in a small message
           buffer r = echo_frame(1, 1, "x");
           ember::wire::frame_header h = ember::wire::read_header(r.data());
           h.length = 5000;
           ember::wire::write_header(r.data(), h);
           co_await c.send(ws::opcode::binary, r.view());
         },
         ws::close_code::message_too_big},
        {"a close reason that is not UTF-8",
         [](raw_client& c) -> asio::awaitable<void> {
           buffer b;
           ws::append_frame(b, ws::opcode::close, ember::as_bytes("\x03\xE8\xC3\x28"), true, mask);
           co_await c.send(b);
         },
         ws::close_code::invalid_payload},
        {"a native frame split over two messages",
         [](raw_client& c) -> asio::awaitable<void> {
           const buffer r = echo_frame(1, 1, "x");
           co_await c.send(ws::opcode::binary, r.view().first(10));
         },
         ws::close_code::protocol_error},
        {"an unknown native frame kind",
         [](raw_client& c) -> asio::awaitable<void> {
           buffer r = echo_frame(1, 1, "x");
           r[4] = std::byte(0x7F);  // the kind byte (PROTOCOL.md)
           co_await c.send(ws::opcode::binary, r.view());
         },
         ws::close_code::protocol_error},
    };
    for (const auto& h : cases) {
      BOOST_TEST_CONTEXT(h.what) {
        auto c = co_await session(f);
        co_await h.send(c);
        co_await expect_close(c, h.code);
      }
    }
    BOOST_TEST(co_await wait_until([&] { return f.srv->session_count() == 1; }));
    co_await bystander.send(ws::opcode::binary, echo_frame(9, 9, "still here").view());
    BOOST_TEST(decode_echo((co_await bystander.frames())[0].second).text == "still here");
  }());
}

BOOST_AUTO_TEST_CASE(a_message_that_never_finishes_is_closed_at_the_frame_deadline) {
  ember::net::server_options o;
  o.frame_timeout = 300ms;
  fixture f(o);
  run(f.io, [&]() -> asio::awaitable<void> {
    auto c = co_await session(f);
    co_await c.send(ws::opcode::binary, echo_frame(1, 1, "x").view().first(4), false);
    co_await expect_close(c, ws::close_code::policy_violation);
    BOOST_TEST(co_await wait_until([&] { return f.srv->session_count() == 0; }));
  }());
}

namespace {

buffer hello_frame(const ember::wire::client_hello& hello) {
  return native_frame(ember::wire::frame_kind::handshake, 0, 0, [&](buffer& b) { hello.encode(b); });
}

ember::wire::server_hello server_hello_of(const std::vector<std::pair<ember::wire::frame_header, std::vector<std::byte>>>& frames) {
  BOOST_REQUIRE(!frames.empty());
  BOOST_REQUIRE(int(frames[0].first.kind) == int(ember::wire::frame_kind::handshake));
  auto h = ember::wire::server_hello::decode(bytes_view(frames[0].second));
  BOOST_REQUIRE(h);
  return *h;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_websocket_session_resumes_on_a_new_websocket_connection_then_on_tcp) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    ember::wire::client_hello hello;
    hello.resumable = true;
    auto c = co_await connect(f.srv->websocket_port());
    BOOST_REQUIRE((co_await c.upgrade()).starts_with("HTTP/1.1 101 "));
    co_await c.send(ws::opcode::binary, hello_frame(hello).view());
    const auto first = server_hello_of(co_await c.frames());
    BOOST_REQUIRE(first.resume_grace_ms > 0u);
    co_await c.send(ws::opcode::binary, echo_frame(1, 1, "one").view());
    BOOST_TEST(decode_echo((co_await c.frames())[0].second).text == "one");
    c.socket.close();  // the connection is lost, not closed: the session waits
    BOOST_REQUIRE(co_await wait_until([&] { return f.srv->parked_count() == 1; }));

    // back over WebSocket
    ember::wire::client_hello again;
    again.resume = again.resumable = true;
    again.token = first.token;
    again.received = 1;
    auto d = co_await connect(f.srv->websocket_port());
    BOOST_REQUIRE((co_await d.upgrade()).starts_with("HTTP/1.1 101 "));
    co_await d.send(ws::opcode::binary, hello_frame(again).view());
    const auto second = server_hello_of(co_await d.frames());
    BOOST_TEST(second.resumed);
    BOOST_TEST(second.session_id == first.session_id);
    co_await d.send(ws::opcode::binary, echo_frame(2, 2, "two").view());
    BOOST_TEST(decode_echo((co_await d.frames())[0].second).text == "two");
    d.socket.close();
    BOOST_REQUIRE(co_await wait_until([&] { return f.srv->parked_count() == 1; }));

    // and over plain TCP: the session goes on without the WebSocket layer
    again.token = second.token;
    again.received = 2;
    asio::ip::tcp::socket t(f.io);
    co_await t.async_connect({asio::ip::make_address("127.0.0.1"), f.srv->port()}, asio::use_awaitable);
    std::vector<std::pair<ember::wire::frame_header, std::vector<std::byte>>> got;
    auto send_tcp = [&](const buffer& b) { return asio::async_write(t, asio::buffer(b.data(), b.size()), asio::use_awaitable); };
    co_await send_tcp(hello_frame(again));  // a client waits for the hello before it sends more
    for (bool sent = false; got.size() < 2;) {
      if (got.size() == 1 && !std::exchange(sent, true)) co_await send_tcp(echo_frame(3, 3, "three"));
      std::array<std::byte, ember::wire::native_header_size> h;
      co_await asio::async_read(t, asio::buffer(h), asio::use_awaitable);
      const auto header = ember::wire::read_header(h.data());
      std::vector<std::byte> body(header.length);
      co_await asio::async_read(t, asio::buffer(body), asio::use_awaitable);
      got.push_back({header, std::move(body)});
    }
    const auto third = server_hello_of(got);
    BOOST_TEST(third.resumed);
    BOOST_TEST(third.session_id == first.session_id);
    BOOST_TEST(got[1].first.seq == 3u);
    BOOST_TEST(decode_echo(got[1].second).text == "three");
    BOOST_TEST(f.srv->stats().resumed == 2u);
  }());
}

BOOST_AUTO_TEST_CASE(a_stopping_server_closes_websocket_sessions_with_1001) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto c = co_await session(f);
    asio::co_spawn(f.io, f.srv->stop(2s), asio::detached);
    co_await expect_close(c, ws::close_code::going_away);
  }());
}

BOOST_AUTO_TEST_CASE(a_firefly_listener_takes_datapacks_over_websocket_too) {
  ember::net::server_options o;
  o.framing = ember::net::framing::firefly;
  o.firefly.magic = {78, 37, 38, 48};
  o.firefly.version = 9;
  fixture f(o);
  run(f.io, [&]() -> asio::awaitable<void> {
    auto c = co_await connect(f.srv->websocket_port());
    BOOST_REQUIRE((co_await c.upgrade()).starts_with("HTTP/1.1 101 "));
    buffer two;  // two datapacks in one message, no handshake (Firefly has none)
    BOOST_REQUIRE(!ember::wire::append_frame(two, o.firefly, nettest::cmd::echo::id,
                                             ember::as_bytes(R"({"n":5,"text":"ff"})"), 1024));
    BOOST_REQUIRE(!ember::wire::append_frame(two, o.firefly, nettest::cmd::echo::id,
                                             ember::as_bytes(R"({"n":6,"text":"gg"})"), 1024));
    co_await c.send(ws::opcode::binary, two.view());
    std::string bodies;
    while (bodies.find("gg") == std::string::npos) {
      auto m = co_await c.read();
      BOOST_REQUIRE(m);
      BOOST_REQUIRE(int(m->op) == int(ws::opcode::binary));
      for (std::size_t at = 0; at + ember::wire::firefly_header_size <= m->payload.size();) {
        BOOST_TEST(std::to_integer<int>(m->payload[at]) == 78);  // the configured magic
        const std::size_t len = std::to_integer<std::size_t>(m->payload[at + 9]) << 24 |
                                std::to_integer<std::size_t>(m->payload[at + 10]) << 16 |
                                std::to_integer<std::size_t>(m->payload[at + 11]) << 8 |
                                std::to_integer<std::size_t>(m->payload[at + 12]);
        const auto* body = reinterpret_cast<const char*>(m->payload.data() + at + ember::wire::firefly_header_size);
        bodies.append(body, len - 4);
        at += ember::wire::firefly_header_size + len - 4;
      }
    }
    BOOST_TEST(bodies.find("ff") < bodies.find("gg"));  // in request order
  }());
}

BOOST_AUTO_TEST_CASE(frames_sent_with_the_upgrade_request_are_read_after_it) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto c = co_await connect(f.srv->websocket_port());
    std::string all =
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    buffer frames;
    ws::append_frame(frames, ws::opcode::binary, hello_frame().view(), true, mask);
    ws::append_frame(frames, ws::opcode::ping, ember::as_bytes("early"), true, mask);
    all += frames.str();
    co_await c.send_raw(all);
    std::string head;
    auto [ec, n] = co_await asio::async_read_until(c.socket, asio::dynamic_buffer(head), "\r\n\r\n", use_tuple);
    BOOST_REQUIRE(!ec);
    BOOST_TEST(head.starts_with("HTTP/1.1 101 "));
    // what the read took past the answer belongs to the frames: hand it back to the reader
    raw_client rest(std::move(c.socket));
    rest.push_back(head.substr(n));
    BOOST_TEST(server_hello_of(co_await rest.frames()).session_id != 0u);
    auto pong = co_await rest.read();
    BOOST_REQUIRE(pong);
    BOOST_TEST(pong->text() == "early");
  }());
}
