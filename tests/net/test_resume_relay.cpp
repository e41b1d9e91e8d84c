// Resuming through another server of the cluster, from every transport: a session's home runs
// in a process of its own (forked at the start of each test: native port over TLS, WebSocket
// port plain), and the "edge" server of this process relays to it. A WebSocket client (ws://
// and wss://, RFC 6455 byte by byte) and ember's client over TLS each lose their connection to
// the home, come back through the edge, and get every reply and push they missed, once, in
// order; then talk through the relay as before. The certificates are made by `openssl`.
#include "ember/net/server.hpp"

#define BOOST_TEST_MODULE net_resume_relay
#include <boost/test/unit_test.hpp>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/ssl.hpp>
#include <asio/write.hpp>

#include "ember/app/config.hpp"
#include "ember/codec/json_reader.hpp"
#include "ember/net/client.hpp"
#include "ember/wire/encoder.hpp"
#include "ember/wire/handshake.hpp"
#include "ember/wire/websocket.hpp"
#include "nettest_client.hpp"
#include "nettest_server.hpp"
#include "net_handler.hpp"
#include "server_pair.hpp"
#include "support/run.hpp"

using namespace std::chrono_literals;
using ember::test::run;
using ember::test::wait_until;
using ember::buffer;
using ember::bytes_view;
namespace fs = std::filesystem;
namespace ws = ember::wire::websocket;
using tls_stream = asio::ssl::stream<asio::ip::tcp::socket>;
using frames = std::vector<std::pair<ember::wire::frame_header, std::vector<std::byte>>>;

namespace {

constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::array<std::byte, 4> mask{std::byte(0x12), std::byte(0x34), std::byte(0x56), std::byte(0x78)};

/// A CA and a server certificate for localhost and 127.0.0.1, made once for the whole run.
struct certificates {
  fs::path dir;
  std::string ca, cert, key;

  certificates() {
    char tmpl[] = "/tmp/ember-relay-XXXXXX";
    BOOST_REQUIRE(::mkdtemp(tmpl));
    dir = tmpl;
    auto p = [&](const char* name) { return (dir / name).string(); };
    ca = p("ca.pem");
    cert = p("server.pem");
    key = p("server.key");
    std::ofstream(p("ext.cnf")) << "basicConstraints=CA:FALSE\n"
                                   "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                   "keyUsage=digitalSignature\n"
                                   "extendedKeyUsage=serverAuth,clientAuth\n";
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    sh("openssl req -x509" + ec + " -keyout " + p("ca.key") + " -out " + ca +
       " -days 2 -subj /CN=ember-test-ca");
    sh("openssl req" + ec + " -keyout " + key + " -out " + p("server.csr") + " -subj /CN=localhost");
    sh("openssl x509 -req -in " + p("server.csr") + " -CA " + ca + " -CAkey " + p("ca.key") +
       " -CAcreateserial -out " + cert + " -days 2 -extfile " + p("ext.cnf"));
  }
  ~certificates() {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  static void sh(const std::string& cmd) {
    if (std::system((cmd + " 2>/dev/null").c_str()) != 0) throw std::runtime_error("failed: " + cmd);
  }
};

certificates& certs() {
  static certificates c;
  return c;
}

ember::net::tls_server_options server_tls() { return {.cert_file = certs().cert, .key_file = certs().key}; }
ember::net::client_options tls_client() {
  ember::net::client_options o;
  o.tls = ember::net::tls_client_options{.ca_file = certs().ca};
  return o;
}

/// The session's home: a net::server in a child process (native port over TLS, WebSocket port
/// plain). Killed and reaped at the end of the test.
struct home_process {
  pid_t pid = -1;
  std::uint16_t port = 0, websocket_port = 0;

  home_process() {
    (void)certs();
    int fds[2];
    BOOST_REQUIRE(::pipe(fds) == 0);
    pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(fds[0]);
      try {
        asio::io_context io;
        ember::test::net_handler h;
        ember::net::dispatch_table t;
        nettest::register_commands(t, h);
        ember::net::server_options o;
        o.name = "home";
        o.websocket_port = 0;
        o.tls = server_tls();
        o.tls_websocket = false;
        o.resume_grace = 10s;
        ember::net::server s(io, o, std::move(t));
        s.start();
        const std::uint16_t ports[2] = {s.port(), s.websocket_port()};
        if (::write(fds[1], ports, sizeof ports) != sizeof ports) ::_exit(2);
        ::close(fds[1]);
        io.run();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "home: %s\n", e.what());
        ::_exit(1);
      }
      ::_exit(0);
    }
    ::close(fds[1]);
    std::uint16_t ports[2] = {};
    const auto n = ::read(fds[0], ports, sizeof ports);
    ::close(fds[0]);
    BOOST_REQUIRE_MESSAGE(n == sizeof ports, "the home process did not start");
    port = ports[0];
    websocket_port = ports[1];
  }
  ~home_process() {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
};

/// This process's server, which knows the home as a resume peer (its native port through TLS,
/// checked against the test CA). TLS on its native port; on its WebSocket port when `wss`.
struct edge_server {
  asio::io_context io;
  ember::test::net_handler h;
  std::unique_ptr<ember::net::server> srv;

  edge_server(const home_process& home, bool wss) {
    ember::net::dispatch_table t;
    nettest::register_commands(t, h);
    ember::net::server_options o;
    o.name = "edge";
    o.websocket_port = 0;
    o.tls = server_tls();
    o.tls_websocket = wss;
    o.resume_peers.push_back({.name = "home", .host = "127.0.0.1", .port = home.port,
                              .tls = ember::net::tls_client_options{.ca_file = certs().ca}});
    srv = std::make_unique<ember::net::server>(io, o, std::move(t));
    srv->start();
  }
};

/// A WebSocket client written from RFC 6455 over `Stream` (a TCP socket, or asio's own TLS
/// stream for wss://): masked frames out, binary messages of whole native frames in.
template <class Stream>
class ws_client {
 public:
  explicit ws_client(Stream s) : stream(std::move(s)) {}

  asio::awaitable<bool> upgrade() {
    const std::string req =
        "GET /game HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    auto [ec, n] = co_await asio::async_write(stream, asio::buffer(req), use_tuple);
    if (ec) co_return false;
    auto [rec, m] = co_await asio::async_read_until(stream, asio::dynamic_buffer(in_), "\r\n\r\n", use_tuple);
    if (rec) co_return false;
    const bool ok = in_.starts_with("HTTP/1.1 101 ");
    in_.erase(0, m);
    co_return ok;
  }

  asio::awaitable<void> send(ws::opcode op, bytes_view payload) {
    buffer b;
    ws::append_frame(b, op, payload, true, mask);
    co_await asio::async_write(stream, asio::buffer(b.data(), b.size()), asio::use_awaitable);
  }
  asio::awaitable<void> send_frame(const buffer& native) { co_await send(ws::opcode::binary, native.view()); }

  /// The next WebSocket frame: opcode and payload; nothing when the connection ends.
  asio::awaitable<std::optional<std::pair<ws::opcode, std::vector<std::byte>>>> read() {
    std::array<std::byte, 2> h;
    if (!co_await read_exact(h.data(), 2)) co_return std::nullopt;
    const auto b0 = std::to_integer<unsigned>(h[0]), b1 = std::to_integer<unsigned>(h[1]);
    BOOST_TEST((b0 & 0x80) != 0u);  // the server never fragments
    BOOST_TEST((b1 & 0x80) == 0u);  // nor masks
    std::uint64_t n = b1 & 0x7F;
    if (n >= 126) {
      std::array<std::byte, 8> ext;
      const std::size_t k = n == 126 ? 2 : 8;
      if (!co_await read_exact(ext.data(), k)) co_return std::nullopt;
      n = 0;
      for (std::size_t i = 0; i < k; ++i) n = n << 8 | std::to_integer<unsigned>(ext[i]);
    }
    std::vector<std::byte> payload(n);
    if (!co_await read_exact(payload.data(), n)) co_return std::nullopt;
    co_return std::pair{ws::opcode(b0 & 0x0F), std::move(payload)};
  }

  /// The native frames of the next binary message (whole frames, or the test fails).
  asio::awaitable<frames> message() {
    frames out;
    for (;;) {
      auto f = co_await read();
      BOOST_REQUIRE_MESSAGE(f, "the connection ended");
      if (f->first != ws::opcode::binary) continue;
      const auto& p = f->second;
      for (std::size_t at = 0; at < p.size();) {
        BOOST_REQUIRE(p.size() - at >= ember::wire::native_header_size);
        auto h = ember::wire::read_header(p.data() + at);
        at += ember::wire::native_header_size;
        BOOST_REQUIRE_MESSAGE(p.size() - at >= h.length, "a message that ends inside a frame");
        out.push_back({h, {p.begin() + at, p.begin() + at + h.length}});
        at += h.length;
      }
      co_return out;
    }
  }

  Stream stream;

 private:
  asio::awaitable<bool> read_exact(std::byte* p, std::size_t n) {
    const std::size_t from_in = std::min(n, in_.size());
    std::memcpy(p, in_.data(), from_in);
    in_.erase(0, from_in);
    if (from_in == n) co_return true;
    auto [ec, got] = co_await asio::async_read(stream, asio::buffer(p + from_in, n - from_in), use_tuple);
    co_return !ec;
  }
  std::string in_;
};

asio::awaitable<asio::ip::tcp::socket> tcp_connect(std::uint16_t port) {
  asio::ip::tcp::socket s(co_await asio::this_coro::executor);
  co_await s.async_connect({asio::ip::make_address("127.0.0.1"), port}, asio::use_awaitable);
  co_return s;
}

buffer native_frame(ember::wire::frame_kind kind, std::uint16_t command, std::uint32_t seq,
                    const std::function<void(buffer&)>& body) {
  buffer b;
  (void)ember::wire::append_frame(b, {.kind = kind, .command = command, .seq = seq}, body);
  return b;
}
buffer hello_frame(const ember::wire::client_hello& hello) {
  return native_frame(ember::wire::frame_kind::handshake, 0, 0, [&](buffer& b) { hello.encode(b); });
}
template <class Cmd>
buffer request_frame(std::uint32_t seq, const typename Cmd::request& r) {
  return native_frame(ember::wire::frame_kind::request, Cmd::id, seq, [&](buffer& b) {
    ember::codec::encode(b, r, ember::codec::encoding::binary);
  });
}
template <class T>
T decode(const std::vector<std::byte>& body) {
  T v;
  BOOST_REQUIRE(!ember::codec::decode(bytes_view(body), ember::codec::encoding::binary, v));
  return v;
}

/// What a raw client has received: replies by sequence number, pushes' texts in order.
struct received {
  std::map<std::uint32_t, int> replies;  // seq -> how many times
  std::vector<std::string> pushes;
  std::uint32_t last_push_seq = 0;
  std::uint32_t count = 0;  // replies, errors and pushes: what a resume says it has
  void take(const frames& fs) {
    for (const auto& [h, body] : fs) {
      if (h.kind == ember::wire::frame_kind::response) ++replies[h.seq];
      if (h.kind == ember::wire::frame_kind::push) {
        BOOST_TEST(h.seq == last_push_seq + 1);  // numbered per session: none lost or doubled
        last_push_seq = h.seq;
        pushes.push_back(decode<nettest::notice>(body).text);
      }
      if (h.kind == ember::wire::frame_kind::response || h.kind == ember::wire::frame_kind::push ||
          (h.kind == ember::wire::frame_kind::error && h.seq != 0))
        ++count;
    }
  }
};

/// A client of the home that broadcasts to a group (over TLS, as any client of its port).
struct broadcaster {
  ember::net::client c;
  nettest::client_stub stub{c};
  explicit broadcaster(asio::io_context& io) : c(io.get_executor(), tls_client()) {}
  asio::awaitable<void> say(std::string group, std::string prefix, int count) {
    for (int i = 1; i <= count; ++i)
      BOOST_REQUIRE((co_await stub.broadcast({group, prefix + std::to_string(i)})).has_value());
  }
};

std::vector<std::string> numbered(std::string prefix, int from, int to) {
  std::vector<std::string> v;
  for (int i = from; i <= to; ++i) v.push_back(prefix + std::to_string(i));
  return v;
}

/// A WebSocket session begun on the home's ws:// port, resumed through the edge (ws:// or
/// wss://): every push and reply it missed arrives once, in order, and the session goes on.
template <class Stream, class Connect>
asio::awaitable<void> websocket_resume_through_the_edge(edge_server& edge, const home_process& home,
                                                        Connect connect_edge) {
  auto& io = edge.io;
  broadcaster others(io);
  BOOST_REQUIRE(!co_await others.c.connect("127.0.0.1", home.port));

  ws_client<asio::ip::tcp::socket> first(co_await tcp_connect(home.websocket_port));
  BOOST_REQUIRE(co_await first.upgrade());
  ember::wire::client_hello hello;
  hello.resumable = true;
  co_await first.send_frame(hello_frame(hello));
  auto greeting = co_await first.message();
  BOOST_REQUIRE(greeting.size() == 1u);
  const auto started = ember::wire::server_hello::decode(bytes_view(greeting[0].second));
  BOOST_REQUIRE(started);
  BOOST_REQUIRE(started->resume_grace_ms > 0u);
  received got;
  co_await first.send_frame(request_frame<nettest::cmd::join>(1, nettest::join_request{"room"}));
  while (got.replies.count(1) == 0) got.take(co_await first.message());
  co_await others.say("room", "before-", 3);
  // A slow reply in flight when the connection goes, and pushes while it is gone.
  co_await first.send_frame(request_frame<nettest::cmd::echo_overlapping>(2, {2, "slow", 300}));
  while (got.pushes.size() < 3) got.take(co_await first.message());
  first.stream.close();
  co_await others.say("room", "away-", 20);
  co_await ember::test::sleep(400ms);  // the slow reply is made meanwhile, kept for the resume

  ember::wire::client_hello again;
  again.resume = again.resumable = true;
  again.token = started->token;
  again.received = got.count;
  ws_client<Stream> second(co_await connect_edge());
  BOOST_REQUIRE(co_await second.upgrade());
  co_await second.send_frame(hello_frame(again));
  auto back = co_await second.message();
  BOOST_REQUIRE(!back.empty());
  BOOST_REQUIRE(int(back[0].first.kind) == int(ember::wire::frame_kind::handshake));
  const auto resumed = ember::wire::server_hello::decode(bytes_view(back[0].second));
  BOOST_REQUIRE(resumed);
  BOOST_TEST(resumed->resumed);
  BOOST_TEST(resumed->session_id == started->session_id);  // the home's session, not the edge's
  BOOST_TEST(resumed->last_request_seq == 2u);
  back.erase(back.begin());
  got.take(back);
  while (got.pushes.size() < 23 || got.replies.count(2) == 0) got.take(co_await second.message());

  // Through the relay the session goes on: requests, pushes, and WebSocket pings.
  co_await second.send_frame(request_frame<nettest::cmd::echo>(3, {3, "through the edge", 0}));
  co_await others.say("room", "after-", 5);
  co_await second.send(ws::opcode::ping, bytes_view(reinterpret_cast<const std::byte*>("hi"), 2));
  bool ponged = false;
  while (got.pushes.size() < 28 || got.replies.count(3) == 0 || !ponged) {
    auto f = co_await second.read();
    BOOST_REQUIRE(f);
    if (f->first == ws::opcode::pong) {
      ponged = true;
      continue;
    }
    BOOST_REQUIRE(f->first == ws::opcode::binary);
    frames fs;
    for (std::size_t at = 0; at < f->second.size();) {
      auto h = ember::wire::read_header(f->second.data() + at);
      at += ember::wire::native_header_size;
      fs.push_back({h, {f->second.begin() + at, f->second.begin() + at + h.length}});
      at += h.length;
    }
    got.take(fs);
  }
  std::vector<std::string> expected = numbered("before-", 1, 3);
  for (auto& s : numbered("away-", 1, 20)) expected.push_back(s);
  for (auto& s : numbered("after-", 1, 5)) expected.push_back(s);
  BOOST_TEST(got.pushes == expected, boost::test_tools::per_element());
  BOOST_TEST(got.replies.size() == 3u);
  for (auto [seq, times] : got.replies)
    BOOST_CHECK_MESSAGE(times == 1, "reply " << seq << " came " << times << " times");
  BOOST_TEST(edge.srv->session_count() == 0u);  // the edge holds no session: it relays

  // The client leaves: its close frame is echoed, and the home ends the session (no resume).
  buffer code;
  code.append(std::array<std::byte, 2>{std::byte(0x03), std::byte(0xE8)}.data(), 2);  // 1000
  co_await second.send(ws::opcode::close, code.view());
  std::optional<std::pair<ws::opcode, std::vector<std::byte>>> f;
  for (int i = 0; i < 10; ++i) {
    f = co_await second.read();
    if (!f || f->first == ws::opcode::close) break;
  }
  BOOST_REQUIRE_MESSAGE(f, "no close frame");
  BOOST_TEST(int(f->first) == int(ws::opcode::close));
  BOOST_TEST(f->second.size() >= 2u);

  // A resume now finds nothing: the session ended at the home.
  again.token = resumed->token;
  again.received = got.count;
  ws_client<asio::ip::tcp::socket> third(co_await tcp_connect(home.websocket_port));
  BOOST_REQUIRE(co_await third.upgrade());
  co_await third.send_frame(hello_frame(again));
  auto refused = co_await third.message();
  BOOST_REQUIRE(!refused.empty());
  BOOST_TEST(int(refused[0].first.kind) == int(ember::wire::frame_kind::error));
  others.c.close();
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_websocket_client_resumes_through_the_other_server_and_misses_nothing) {
  home_process home;
  edge_server edge(home, false);
  run(edge.io, websocket_resume_through_the_edge<asio::ip::tcp::socket>(edge, home, [&] {
        return tcp_connect(edge.srv->websocket_port());
      }), 30s);
}

BOOST_AUTO_TEST_CASE(a_wss_client_resumes_through_the_other_server_and_misses_nothing) {
  home_process home;
  edge_server edge(home, true);
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.load_verify_file(certs().ca);
  ctx.set_verify_mode(asio::ssl::verify_peer);
  run(edge.io, websocket_resume_through_the_edge<tls_stream>(edge, home, [&]() -> asio::awaitable<tls_stream> {
        tls_stream s(co_await tcp_connect(edge.srv->websocket_port()), ctx);
        co_await s.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
        co_return s;
      }), 30s);
}

// The home is gone, and the session with it: the client hears it in its own transport (an
// error frame in a binary message over wss://, then a close), and logs in again.
BOOST_AUTO_TEST_CASE(a_websocket_client_whose_home_is_gone_hears_session_expired_through_the_edge) {
  auto home = std::make_unique<home_process>();
  edge_server edge(*home, true);
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.load_verify_file(certs().ca);
  ctx.set_verify_mode(asio::ssl::verify_peer);
  run(edge.io, [&]() -> asio::awaitable<void> {
    ws_client<asio::ip::tcp::socket> first(co_await tcp_connect(home->websocket_port));
    BOOST_REQUIRE(co_await first.upgrade());
    ember::wire::client_hello hello;
    hello.resumable = true;
    co_await first.send_frame(hello_frame(hello));
    const auto greeting = co_await first.message();
    const auto started = ember::wire::server_hello::decode(bytes_view(greeting.at(0).second));
    BOOST_REQUIRE(started);
    home.reset();  // killed with its sessions

    tls_stream s(co_await tcp_connect(edge.srv->websocket_port()), ctx);
    co_await s.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
    ws_client<tls_stream> second(std::move(s));
    BOOST_REQUIRE(co_await second.upgrade());
    ember::wire::client_hello again;
    again.resume = again.resumable = true;
    again.token = started->token;
    co_await second.send_frame(hello_frame(again));
    const auto refused = co_await second.message();
    BOOST_REQUIRE(refused.size() == 1u);
    BOOST_TEST(int(refused[0].first.kind) == int(ember::wire::frame_kind::error));
    BOOST_TEST(refused[0].first.seq == 0u);
    const auto why = decode<ember::codec::error_body>(refused[0].second);
    BOOST_TEST(why.status == std::uint16_t(ember::status::session_expired));
    auto close = co_await second.read();
    BOOST_REQUIRE(close);
    BOOST_TEST(int(close->first) == int(ws::opcode::close));
    BOOST_REQUIRE(close->second.size() >= 2u);
    BOOST_TEST((std::to_integer<int>(close->second[0]) << 8 | std::to_integer<int>(close->second[1])) == 1000);
  }(), 30s);
}

// The relaying server holds the client to its listener's bounds, and a fault ends the session
// at its home as it would on a direct connection: a message over the bound is closed with 1009,
// and the session's token is refused afterwards.
BOOST_AUTO_TEST_CASE(a_websocket_message_over_the_bound_through_the_relay_closes_1009_and_ends_the_session) {
  home_process home;
  edge_server edge(home, false);
  run(edge.io, [&]() -> asio::awaitable<void> {
    ws_client<asio::ip::tcp::socket> first(co_await tcp_connect(home.websocket_port));
    BOOST_REQUIRE(co_await first.upgrade());
    ember::wire::client_hello hello;
    hello.resumable = true;
    co_await first.send_frame(hello_frame(hello));
    const auto greeting = co_await first.message();
    const auto started = ember::wire::server_hello::decode(bytes_view(greeting.at(0).second));
    BOOST_REQUIRE(started);
    first.stream.close();

    ws_client<asio::ip::tcp::socket> second(co_await tcp_connect(edge.srv->websocket_port()));
    BOOST_REQUIRE(co_await second.upgrade());
    ember::wire::client_hello again;
    again.resume = again.resumable = true;
    again.token = started->token;
    co_await second.send_frame(hello_frame(again));
    const auto back = co_await second.message();
    const auto resumed = ember::wire::server_hello::decode(bytes_view(back.at(0).second));
    BOOST_REQUIRE(resumed);
    BOOST_TEST(resumed->resumed);
    // A header announcing 70,000 bytes, over 64 KiB + 16 (the listener's message bound): it is
    // refused as soon as it arrives.
    const std::array<unsigned char, 14> header{0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0x01, 0x11, 0x70,
                                               0x12, 0x34, 0x56, 0x78};
    co_await asio::async_write(second.stream, asio::buffer(header), asio::use_awaitable);
    std::optional<std::pair<ws::opcode, std::vector<std::byte>>> f;
    for (int i = 0; i < 10; ++i) {
      f = co_await second.read();
      if (!f || f->first == ws::opcode::close) break;
    }
    BOOST_REQUIRE_MESSAGE(f, "no close frame");
    BOOST_TEST(int(f->first) == int(ws::opcode::close));
    BOOST_REQUIRE(f->second.size() >= 2u);
    BOOST_TEST((std::to_integer<int>(f->second[0]) << 8 | std::to_integer<int>(f->second[1])) == 1009);
    BOOST_TEST(!(co_await second.read()).has_value());  // then the connection ends

    // the home heard `bye` before the close went out: the session is over there
    co_await ember::test::sleep(200ms);
    again.token = resumed->token;
    ws_client<asio::ip::tcp::socket> third(co_await tcp_connect(home.websocket_port));
    BOOST_REQUIRE(co_await third.upgrade());
    co_await third.send_frame(hello_frame(again));
    const auto refused = co_await third.message();
    BOOST_REQUIRE(!refused.empty());
    BOOST_TEST(int(refused[0].first.kind) == int(ember::wire::frame_kind::error));
  }(), 30s);
}

// ember's client over TLS, on the home's native port; it comes back through the edge's TLS port.
BOOST_AUTO_TEST_CASE(a_tls_client_resumes_through_the_other_server_and_misses_nothing) {
  home_process home;
  edge_server edge(home, true);
  run(edge.io, [&]() -> asio::awaitable<void> {
    broadcaster others(edge.io);
    BOOST_REQUIRE(!co_await others.c.connect("127.0.0.1", home.port));
    ember::net::client c(edge.io.get_executor(), tls_client());
    nettest::client_stub stub(c);
    std::vector<std::string> pushes;
    stub.on_notice([&](const nettest::notice& n) { pushes.push_back(n.text); });
    BOOST_REQUIRE(!co_await c.connect("127.0.0.1", home.port));
    BOOST_REQUIRE(c.resumable());
    const auto id = c.session_id();
    BOOST_REQUIRE((co_await stub.join(nettest::join_request{"room"})).has_value());
    co_await others.say("room", "before-", 3);
    BOOST_REQUIRE(co_await wait_until([&] { return pushes.size() == 3; }));

    // a slow call in flight as the connection goes, pushes while it is gone
    std::optional<std::string> slow;
    asio::co_spawn(edge.io, [&]() -> asio::awaitable<void> {
      auto r = co_await stub.echo_overlapping({9, "slow", 300});
      slow = r ? r->text : std::string("failed");
    }, asio::detached);
    co_await ember::test::sleep(20ms);
    c.resume_at("127.0.0.1", edge.srv->port());  // the new network reaches the edge
    c.drop_connection();
    co_await others.say("room", "away-", 20);
    BOOST_REQUIRE(co_await wait_until([&] { return c.resumes() == 1; }));
    BOOST_REQUIRE(co_await wait_until([&] { return slow.has_value() && pushes.size() >= 23; }));
    BOOST_TEST(*slow == "slow");
    BOOST_TEST(c.session_id() == id);

    auto r = co_await stub.echo({7, "through the edge", 0});
    BOOST_REQUIRE(r);
    BOOST_TEST(r->text == "through the edge");
    co_await others.say("room", "after-", 5);
    BOOST_REQUIRE(co_await wait_until([&] { return pushes.size() >= 28; }));
    co_await ember::test::sleep(50ms);
    std::vector<std::string> expected = numbered("before-", 1, 3);
    for (auto& s : numbered("away-", 1, 20)) expected.push_back(s);
    for (auto& s : numbered("after-", 1, 5)) expected.push_back(s);
    BOOST_TEST(pushes == expected, boost::test_tools::per_element());
    BOOST_TEST(edge.srv->stats().accepted >= 1u);  // it came in through the edge
    BOOST_TEST(edge.srv->session_count() == 0u);   // which relays, and holds no session
    c.close();
    others.c.close();
  }(), 30s);
}

// A server whose client port speaks TLS drains too: the other server takes each session over
// through TLS on the drained one's client port (its certificate checked with the peer's CA),
// rather than relaying to it, so the drained server ends up with none.
BOOST_AUTO_TEST_CASE(a_drained_tls_server_hands_its_sessions_over_through_tls) {
  ember::test::server_pair f(server_tls(), ember::net::tls_client_options{.ca_file = certs().ca});
  ember::net::drain_result drained;
  run(f.io, [&]() -> asio::awaitable<void> {
    ember::net::client c(f.io.get_executor(), tls_client());
    nettest::client_stub stub(c);
    std::vector<std::uint32_t> notices;
    stub.on_notice([&](const nettest::notice& n) { notices.push_back(n.n); });
    BOOST_REQUIRE(!co_await c.connect("127.0.0.1", f.a->port()));
    BOOST_REQUIRE((co_await stub.join(nettest::join_request{"room"})).has_value());
    // a slow call in flight, and pushes made for it, while the server drains
    std::optional<std::string> slow;
    asio::co_spawn(f.io, [&]() -> asio::awaitable<void> {
      auto r = co_await stub.echo_overlapping({9, "slow", 300});
      slow = r ? r->text : std::string("failed");
      co_await stub.push_me(nettest::push_me_request{3, 1});
    }, asio::detached);
    co_await ember::test::sleep(20ms);
    drained = co_await f.a->drain(10s);
    BOOST_REQUIRE(co_await wait_until([&] { return slow.has_value() && notices.size() >= 3; }, 10s));
    BOOST_TEST(*slow == "slow");
    BOOST_TEST(notices == (std::vector<std::uint32_t>{1, 2, 3}), boost::test_tools::per_element());
    BOOST_TEST(c.resumes() == 1u);
    auto r = co_await stub.echo({7, "on b", 0});
    BOOST_REQUIRE(r);
    BOOST_TEST(r->text == "on b");
    c.close();
  }(), 30s);
  BOOST_TEST(drained.moved == 1u);
  BOOST_TEST(drained.left == 0u);
  BOOST_TEST(f.a->stats().moved_out == 1u);
  BOOST_TEST(f.b->stats().moved_in == 1u);
  BOOST_TEST(f.a->session_count() == 0u);  // taken over, not relayed to
  BOOST_TEST(f.ha.echoes + f.hb.echoes == 2);  // each request ran once
}

// config.json: a server whose client port speaks TLS is a resume peer when its `netport.tls`
// names the CA its certificate chains to (the relay checks it), and is left out without one.
BOOST_AUTO_TEST_CASE(config_json_makes_tls_ports_resume_peers_with_their_ca_and_names_a_bad_one) {
  const auto& c = certs();
  const std::string tls = R"("cert": ")" + c.cert + R"(", "key": ")" + c.key + R"(")";
  const std::string json = R"({"servers": {
    "a": {"netport": {"port": 17300, "websocket": 17380}},
    "b": {"netport": {"port": 17301, "tls": {)" + tls + R"(, "ca": ")" + c.ca + R"("}}},
    "c": {"netport": {"port": 17302, "tls": {)" + tls + R"(}}},
    "d": {"netport": {"port": 17303, "websocket": 17383,
                      "tls": {)" + tls + R"(, "listeners": ["websocket"]}}}}})";
  auto cfg = ember::app::parse_config(json, "config.json");
  BOOST_REQUIRE_MESSAGE(bool(cfg), (cfg ? std::string() : cfg.error().what()));
  const auto a = ember::app::to_server_options(cfg->servers[0], *cfg);
  std::map<std::string, ember::net::resume_peer> peers;
  for (const auto& p : a.resume_peers) peers[p.name] = p;
  BOOST_TEST(peers.size() == 2u);
  BOOST_REQUIRE(peers.count("b"));
  BOOST_REQUIRE(peers["b"].tls.has_value());        // reached through TLS,
  BOOST_TEST(peers["b"].tls->ca_file == c.ca);      // its certificate checked with its CA
  BOOST_TEST(peers["b"].port == 17301);
  BOOST_TEST(!peers.count("c"));                    // no CA to check it with: left out
  BOOST_REQUIRE(peers.count("d"));                  // its client port is plain
  BOOST_TEST(!peers["d"].tls.has_value());
  // from b, a TLS server itself, the others are peers the same way
  const auto b = ember::app::to_server_options(cfg->servers[1], *cfg);
  BOOST_TEST(b.resume_peers.size() == 2u);

  auto bad = [](const std::string& text) {
    auto r = ember::app::parse_config(text, "config.json");
    BOOST_REQUIRE(!r);
    return std::string(r.error().what());
  };
  const auto wrong_type = bad(R"({"servers": {"a": {"netport": {"port": 17300,
      "tls": {"cert": "x.pem", "key": "x.key", "ca": 5}}}}})");
  BOOST_TEST(wrong_type.find("servers.a.netport.tls.ca: expected a PEM CA certificate file") !=
                 std::string::npos, wrong_type);
  const auto missing = R"({"servers": {
    "a": {"netport": {"port": 17300}},
    "b": {"netport": {"port": 17301, "tls": {)" + tls + R"(, "ca": "/nonexistent/ca.pem"}}}}})";
  auto m = ember::app::parse_config(missing, "config.json");
  BOOST_REQUIRE(bool(m));
  for (const auto& s : m->servers) {
    try {
      (void)ember::app::to_server_options(s, *m);
      BOOST_ERROR("a missing CA file passed for server " << s.name);
    } catch (const std::exception& e) {
      BOOST_TEST(std::string(e.what()).starts_with("servers.b.netport.tls.ca: cannot read "
                                                   "'/nonexistent/ca.pem'"), e.what());
    }
  }
  // Built by hand, a server reads its peers' CA files when it is built, and names a bad one.
  asio::io_context io;
  ember::net::server_options o;
  o.resume_peers.push_back({.name = "b", .host = "127.0.0.1", .port = 1,
                            .tls = ember::net::tls_client_options{.ca_file = "/nonexistent/ca.pem"}});
  try {
    ember::net::server srv(io, o);
    BOOST_ERROR("a peer's missing CA file passed");
  } catch (const std::exception& e) {
    BOOST_TEST(std::string(e.what()).find("/nonexistent/ca.pem") != std::string::npos, e.what());
  }
}
