// TLS on loopback: a real net::server with TLS on its client and WebSocket listeners, ember's
// client over TLS, asio's own ssl::stream as an independent TLS client (wss://, protocol
// versions), plain TCP on the TLS port, wrong CAs and names. The certificates (a CA, a server
// certificate for localhost and 127.0.0.1, and a CA nobody uses) are made by the `openssl`
// command at the start, in a temporary directory.
#include "ember/net/server.hpp"

#define BOOST_TEST_MODULE net_tls
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/ssl.hpp>
#include <asio/write.hpp>

#include "ember/app/config.hpp"
#include "ember/cluster/node.hpp"
#include "ember/cluster/root.hpp"
#include "ember/log.hpp"
#include "ember/net/client.hpp"
#include "ember/wire/encoder.hpp"
#include "ember/wire/handshake.hpp"
#include "ember/wire/websocket.hpp"
#include "nettest_client.hpp"
#include "nettest_server.hpp"
#include "net_handler.hpp"
#include "support/run.hpp"

using namespace std::chrono_literals;
using ember::test::run;
using ember::test::wait_until;
using ember::buffer;
using ember::bytes_view;
namespace fs = std::filesystem;
namespace ws = ember::wire::websocket;

namespace {

constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

/// The certificates, made once for the whole run.
struct certificates {
  fs::path dir;
  std::string ca, server_cert, server_key, other_ca;

  certificates() {
    char tmpl[] = "/tmp/ember-tls-XXXXXX";
    BOOST_REQUIRE(::mkdtemp(tmpl));
    dir = tmpl;
    auto p = [&](const char* name) { return (dir / name).string(); };
    ca = p("ca.pem");
    server_cert = p("server.pem");
    server_key = p("server.key");
    other_ca = p("other-ca.pem");
    std::ofstream(p("ext.cnf")) << "basicConstraints=CA:FALSE\n"
                                   "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                   "keyUsage=digitalSignature\n"
                                   "extendedKeyUsage=serverAuth,clientAuth\n";
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    sh("openssl req -x509" + ec + " -keyout " + p("ca.key") + " -out " + ca +
       " -days 2 -subj /CN=ember-test-ca");
    sh("openssl req -x509" + ec + " -keyout " + p("other-ca.key") + " -out " + other_ca +
       " -days 2 -subj /CN=ember-other-ca");
    sh("openssl req" + ec + " -keyout " + server_key + " -out " + p("server.csr") +
       " -subj /CN=localhost");
    sh("openssl x509 -req -in " + p("server.csr") + " -CA " + ca + " -CAkey " + p("ca.key") +
       " -CAcreateserial -out " + server_cert + " -days 2 -extfile " + p("ext.cnf"));
  }
  ~certificates() {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  static void sh(const std::string& cmd) {
    const int rc = std::system((cmd + " 2>/dev/null").c_str());
    if (rc != 0) throw std::runtime_error("failed: " + cmd);
  }
};

certificates& certs() {
  static certificates c;
  return c;
}

/// What the server logs meanwhile: standard error goes to a file, and is copied back to the
/// real one at the end (the test log keeps it).
class log_capture {
 public:
  log_capture() {
    path_ = (certs().dir / "log.txt").string();
    saved_ = ::dup(STDERR_FILENO);
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    BOOST_REQUIRE(fd >= 0);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
    ember::log::detail::global().out = ember::log::detail::sink::plain;
  }
  ~log_capture() {
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    ember::log::detail::global().out = ember::log::detail::sink::unknown;
    const std::string t = text();
    (void)!::write(STDERR_FILENO, t.data(), t.size());
  }
  std::string text() const {
    std::ifstream in(path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  bool contains(std::string_view what) const { return text().find(what) != std::string::npos; }

 private:
  std::string path_;
  int saved_ = -1;
};

ember::net::tls_server_options server_tls() {
  return {.cert_file = certs().server_cert, .key_file = certs().server_key};
}

struct fixture {
  asio::io_context io;
  ember::test::net_handler h;
  std::unique_ptr<ember::net::server> srv;

  explicit fixture(ember::net::server_options o = {}) {
    ember::net::dispatch_table t;
    nettest::register_commands(t, h);
    o.name = "tls-test";
    if (!o.tls) o.tls = server_tls();
    o.websocket_port = 0;
    srv = std::make_unique<ember::net::server>(io, o, std::move(t));
    srv->start();
  }
};

ember::net::client_options tls_client(std::string ca = certs().ca, std::string name = {}) {
  ember::net::client_options o;
  o.tls = ember::net::tls_client_options{.ca_file = std::move(ca), .server_name = std::move(name)};
  return o;
}

/// asio's own TLS client (not ember's channel), verifying the server against the test CA.
using tls_socket = asio::ssl::stream<asio::ip::tcp::socket>;

asio::awaitable<std::error_code> asio_tls_connect(tls_socket& s, std::uint16_t port) {
  co_await s.next_layer().async_connect({asio::ip::make_address("127.0.0.1"), port},
                                        asio::use_awaitable);
  auto [ec] = co_await s.async_handshake(asio::ssl::stream_base::client, use_tuple);
  co_return ec;
}

asio::ssl::context asio_client_context(int max_version = 0) {
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.load_verify_file(certs().ca);
  ctx.set_verify_mode(asio::ssl::verify_peer);
  if (max_version) {
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_VERSION);
    SSL_CTX_set_max_proto_version(ctx.native_handle(), max_version);
    SSL_CTX_set_security_level(ctx.native_handle(), 0);  // let it offer what it may
  }
  return ctx;
}

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

/// Reads one unmasked (server) WebSocket frame: its opcode and payload.
template <class Stream>
asio::awaitable<std::pair<ws::opcode, std::vector<std::byte>>> read_ws_frame(Stream& s) {
  std::array<std::byte, 2> head;
  co_await asio::async_read(s, asio::buffer(head), asio::use_awaitable);
  std::uint64_t n = std::to_integer<std::uint64_t>(head[1]) & 0x7f;
  if (n >= 126) {
    std::array<std::byte, 8> ext;
    const std::size_t k = n == 126 ? 2 : 8;
    co_await asio::async_read(s, asio::buffer(ext.data(), k), asio::use_awaitable);
    n = 0;
    for (std::size_t i = 0; i < k; ++i) n = n << 8 | std::to_integer<std::uint64_t>(ext[i]);
  }
  std::vector<std::byte> payload(n);
  co_await asio::async_read(s, asio::buffer(payload), asio::use_awaitable);
  co_return std::pair{ws::opcode(std::to_integer<int>(head[0]) & 0x0f), std::move(payload)};
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_test_certificates_are_made_by_openssl) {
  BOOST_TEST(fs::exists(certs().server_cert));
  BOOST_TEST(fs::exists(certs().server_key));
  BOOST_TEST(fs::exists(certs().ca));
}

BOOST_AUTO_TEST_CASE(a_native_client_over_tls_handshakes_calls_and_gets_pushes) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    ember::net::client c(f.io.get_executor(), tls_client());
    std::vector<std::uint32_t> notices;
    nettest::client_stub stub(c);
    stub.on_notice([&](const nettest::notice& n) { notices.push_back(n.n); });
    auto ec = co_await c.connect("127.0.0.1", f.srv->port());
    BOOST_REQUIRE_MESSAGE(!ec, ec.message());
    BOOST_TEST(c.session_id() != 0u);
    for (std::uint32_t i = 1; i <= 20; ++i) {
      auto r = co_await stub.echo({i, std::string(i * 100, 'a'), 0});
      BOOST_REQUIRE(r);
      BOOST_TEST(r->n == i);
      BOOST_TEST(r->text.size() == i * 100u);
    }
    // 12 replies of 60 KiB in flight at once (within the 1 MiB kept for a resume): many TLS
    // records, more than one write
    int big = 0;
    for (std::uint32_t i = 0; i < 12; ++i)
      asio::co_spawn(f.io, [&, i]() -> asio::awaitable<void> {
        auto r = co_await stub.echo_overlapping({i, std::string(60 * 1024, char('a' + i % 26)), 0});
        if (r && r->n == i && r->text == std::string(60 * 1024, char('a' + i % 26))) ++big;
      }, asio::detached);
    BOOST_TEST(co_await wait_until([&] { return big == 12; }));
    auto p = co_await stub.push_me({50, 1000});
    BOOST_REQUIRE(p);
    BOOST_TEST(co_await wait_until([&] { return notices.size() >= 50; }));
    BOOST_TEST(notices.size() == 50u);
    BOOST_TEST(notices.back() == 50u);
    // the same name as a host name: the certificate names localhost too
    ember::net::client by_name(f.io.get_executor(), tls_client());
    ec = co_await by_name.connect("localhost", f.srv->port());
    BOOST_TEST(!ec, ec.message());
    c.close();
    by_name.close();
  }());
}

BOOST_AUTO_TEST_CASE(a_firefly_listener_speaks_tls_too) {
  ember::net::server_options o;
  o.framing = ember::net::framing::firefly;
  o.firefly.magic = {78, 37, 38, 48};
  o.firefly.version = 9;
  fixture f(o);
  run(f.io, [&]() -> asio::awaitable<void> {
    auto co = tls_client();
    co.framing = ember::net::framing::firefly;
    co.encoding = ember::codec::encoding::json;
    co.firefly = o.firefly;
    ember::net::client c(f.io.get_executor(), co);
    auto ec = co_await c.connect("127.0.0.1", f.srv->port());
    BOOST_REQUIRE_MESSAGE(!ec, ec.message());
    // Firefly has no handshake: the first call waits for TLS's, then goes out
    for (std::uint32_t i = 1; i <= 5; ++i) {
      auto r = co_await nettest::client_stub(c).echo({i, "firefly over tls", 0});
      BOOST_REQUIRE(r);
      BOOST_TEST(r->n == i);
      BOOST_TEST(r->text == "firefly over tls");
    }
    c.close();
  }());
}

BOOST_AUTO_TEST_CASE(a_session_over_tls_resumes_after_a_lost_connection_with_every_push) {
  ember::net::server_options o;
  o.resume_grace = 5s;
  fixture f(o);
  run(f.io, [&]() -> asio::awaitable<void> {
    ember::net::client c(f.io.get_executor(), tls_client());
    std::vector<std::uint32_t> notices;
    nettest::client_stub stub(c);
    stub.on_notice([&](const nettest::notice& n) { notices.push_back(n.n); });
    auto ec = co_await c.connect("127.0.0.1", f.srv->port());
    BOOST_REQUIRE_MESSAGE(!ec, ec.message());
    BOOST_REQUIRE(c.resumable());
    const auto id = c.session_id();
    for (std::uint32_t i = 1; i <= 10; ++i) BOOST_REQUIRE(f.srv->push(id, nettest::notice{i, "x"}));
    BOOST_REQUIRE(co_await wait_until([&] { return notices.size() == 10; }));
    c.drop_connection();
    // pushed as the connection goes: lost with it, or kept for the resume
    for (std::uint32_t i = 11; i <= 30; ++i) BOOST_REQUIRE(f.srv->push(id, nettest::notice{i, "y"}));
    BOOST_REQUIRE(co_await wait_until([&] { return c.resumes() == 1; }));
    BOOST_REQUIRE(co_await wait_until([&] { return notices.size() >= 30; }));
    BOOST_TEST(notices.size() == 30u);
    for (std::uint32_t i = 0; i < notices.size(); ++i) BOOST_TEST(notices[i] == i + 1);
    BOOST_TEST(c.session_id() == id);
    auto r = co_await stub.echo({7, "after the resume", 0});
    BOOST_REQUIRE(r);
    BOOST_TEST(r->text == "after the resume");
    BOOST_TEST(f.srv->stats().resumed == 1u);
    c.close();
  }());
}

BOOST_AUTO_TEST_CASE(a_websocket_client_over_wss_handshakes_and_calls) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto ctx = asio_client_context();
    tls_socket s(co_await asio::this_coro::executor, ctx);
    SSL_set1_host(s.native_handle(), "localhost");
    SSL_set_tlsext_host_name(s.native_handle(), "localhost");
    auto ec = co_await asio_tls_connect(s, f.srv->websocket_port());
    BOOST_REQUIRE_MESSAGE(!ec, ec.message());
    BOOST_TEST(std::string(SSL_get_version(s.native_handle())) == "TLSv1.3");
    const std::string req =
        "GET /game HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    co_await asio::async_write(s, asio::buffer(req), asio::use_awaitable);
    std::string head;
    const std::size_t n =
        co_await asio::async_read_until(s, asio::dynamic_buffer(head), "\r\n\r\n", asio::use_awaitable);
    BOOST_REQUIRE(head.starts_with("HTTP/1.1 101 "));
    BOOST_REQUIRE(head.size() == n);  // nothing before our hello
    const std::array<std::byte, 4> mask{std::byte(1), std::byte(2), std::byte(3), std::byte(4)};
    buffer out;
    ws::append_frame(out, ws::opcode::binary, hello_frame().view(), true, mask);
    const buffer echo = native_frame(ember::wire::frame_kind::request, nettest::cmd::echo::id, 1,
                                     [](buffer& b) {
                                       ember::codec::encode(b, nettest::echo_request{5, "wss", 0},
                                                            ember::codec::encoding::binary);
                                     });
    ws::append_frame(out, ws::opcode::binary, echo.view(), true, mask);
    co_await asio::async_write(s, asio::buffer(out.data(), out.size()), asio::use_awaitable);
    // the hello and the reply, in one message or two
    std::vector<std::byte> got;
    while (got.size() < 2 * ember::wire::native_header_size) {
      auto [op, payload] = co_await read_ws_frame(s);
      BOOST_REQUIRE(op == ws::opcode::binary);
      got.insert(got.end(), payload.begin(), payload.end());
      const auto h = ember::wire::read_header(got.data());
      const std::size_t first = ember::wire::native_header_size + h.length;
      if (got.size() >= first + ember::wire::native_header_size) {
        const auto h2 = ember::wire::read_header(got.data() + first);
        if (got.size() < first + ember::wire::native_header_size + h2.length) continue;
        BOOST_TEST(int(h.kind) == int(ember::wire::frame_kind::handshake));
        BOOST_TEST(int(h2.kind) == int(ember::wire::frame_kind::response));
        nettest::echo_reply r;
        BOOST_REQUIRE(!ember::codec::decode(
            bytes_view(got.data() + first + ember::wire::native_header_size, h2.length),
            ember::codec::encoding::binary, r));
        BOOST_TEST(r.text == "wss");
        break;
      }
    }
    BOOST_TEST(f.srv->session_count() == 1u);
  }());
}

BOOST_AUTO_TEST_CASE(a_plain_tcp_client_on_the_tls_port_is_closed_with_a_logged_reason) {
  fixture f;
  log_capture log;
  run(f.io, [&]() -> asio::awaitable<void> {
    asio::ip::tcp::socket s(co_await asio::this_coro::executor);
    co_await s.async_connect({asio::ip::make_address("127.0.0.1"), f.srv->port()},
                             asio::use_awaitable);
    const buffer hello = hello_frame();
    co_await asio::async_write(s, asio::buffer(hello.data(), hello.size()), asio::use_awaitable);
    // the server answers with a TLS alert at most, then closes
    std::array<char, 4096> sink;
    bool closed = false;
    for (int i = 0; i < 100 && !closed; ++i) {
      auto [ec, got] = co_await s.async_read_some(asio::buffer(sink), use_tuple);
      closed = bool(ec);
    }
    BOOST_TEST(closed);
    BOOST_TEST(co_await wait_until([&] { return f.srv->session_count() == 0; }));
    // the server lives: a TLS client still gets in
    ember::net::client c(f.io.get_executor(), tls_client());
    auto ec = co_await c.connect("127.0.0.1", f.srv->port());
    BOOST_TEST(!ec, ec.message());
    c.close();
  }());
  BOOST_TEST(log.contains("TLS handshake failed"), log.text());
}

BOOST_AUTO_TEST_CASE(a_tcp_connection_that_never_starts_tls_is_closed_at_the_handshake_deadline) {
  ember::net::server_options o;
  o.handshake_timeout = 300ms;
  fixture f(o);
  log_capture log;
  run(f.io, [&]() -> asio::awaitable<void> {
    asio::ip::tcp::socket s(co_await asio::this_coro::executor);
    co_await s.async_connect({asio::ip::make_address("127.0.0.1"), f.srv->port()},
                             asio::use_awaitable);
    std::array<char, 64> sink;
    auto [ec, got] = co_await s.async_read_some(asio::buffer(sink), use_tuple);
    BOOST_TEST(bool(ec));  // closed by the server, having sent nothing
    BOOST_TEST(co_await wait_until([&] { return f.srv->session_count() == 0; }));
  }());
  BOOST_TEST(log.contains("no TLS handshake within 300 ms"), log.text());
}

BOOST_AUTO_TEST_CASE(a_client_that_does_not_trust_the_certificate_fails_to_connect_clearly) {
  fixture f;
  log_capture log;
  run(f.io, [&]() -> asio::awaitable<void> {
    // signed by a CA it does not know
    ember::net::client wrong_ca(f.io.get_executor(), tls_client(certs().other_ca));
    auto ec = co_await wrong_ca.connect("127.0.0.1", f.srv->port());
    BOOST_REQUIRE(ec);
    BOOST_TEST_MESSAGE("wrong CA: " << ec.message());
    BOOST_TEST(ec.message().find("certificate verify failed") != std::string::npos, ec.message());
    BOOST_TEST(!wrong_ca.connected());
    // the right CA, but the certificate does not name the host the client expects
    ember::net::client wrong_name(f.io.get_executor(), tls_client(certs().ca, "game.example.com"));
    ec = co_await wrong_name.connect("127.0.0.1", f.srv->port());
    BOOST_REQUIRE(ec);
    BOOST_TEST(ec.message().find("certificate verify failed") != std::string::npos, ec.message());
    BOOST_TEST(co_await wait_until([&] { return f.srv->session_count() == 0; }));
    // and the server still serves the client that trusts it
    ember::net::client right(f.io.get_executor(), tls_client());
    ec = co_await right.connect("127.0.0.1", f.srv->port());
    BOOST_TEST(!ec, ec.message());
    right.close();
  }());
  BOOST_TEST(log.contains("unable to get local issuer certificate"), log.text());
  BOOST_TEST(log.contains("hostname mismatch"), log.text());
}

BOOST_AUTO_TEST_CASE(tls_1_1_is_refused_and_1_2_is_accepted) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto old_ctx = asio_client_context(TLS1_1_VERSION);
    tls_socket old(co_await asio::this_coro::executor, old_ctx);
    auto ec = co_await asio_tls_connect(old, f.srv->port());
    BOOST_TEST(bool(ec));
    BOOST_TEST_MESSAGE("TLS 1.1: " << ec.message());
    auto ctx12 = asio_client_context(TLS1_2_VERSION);
    tls_socket s(co_await asio::this_coro::executor, ctx12);
    ec = co_await asio_tls_connect(s, f.srv->port());
    BOOST_REQUIRE_MESSAGE(!ec, ec.message());
    BOOST_TEST(std::string(SSL_get_version(s.native_handle())) == "TLSv1.2");
    // no compression, whatever the client offers
    BOOST_TEST(SSL_get_current_compression(s.native_handle()) == nullptr);
  }());
}

BOOST_AUTO_TEST_CASE(a_missing_certificate_or_key_file_is_named) {
  asio::io_context io;
  ember::net::server_options o;
  o.tls = server_tls();
  o.tls->cert_file = (certs().dir / "nope.pem").string();
  try {
    ember::net::server s(io, o);
    BOOST_ERROR("a server was built with a missing certificate");
  } catch (const std::exception& e) {
    BOOST_TEST(std::string(e.what()).find("nope.pem") != std::string::npos, e.what());
  }
  o.tls = server_tls();
  o.tls->key_file = certs().ca;  // not a key
  BOOST_CHECK_THROW(ember::net::server(io, o), std::exception);
}

BOOST_AUTO_TEST_CASE(config_json_netport_tls_becomes_server_options_and_a_missing_file_is_named) {
  const auto& c = certs();
  const std::string json = R"({"servers": {
    "a": {"netport": {"port": 17300, "websocket": 17380,
                      "tls": {"cert": ")" + c.server_cert + R"(", "key": ")" + c.server_key + R"("}}},
    "b": {"netport": {"port": 17301, "websocket": 17381,
                      "tls": {"cert": ")" + c.server_cert + R"(", "key": ")" + c.server_key + R"(",
                              "listeners": ["websocket"]}}},
    "c": {"netport": {"port": 17302,
                      "tls": {"cert": "/nonexistent/cert.pem", "key": ")" + c.server_key + R"("}}}}})";
  auto cfg = ember::app::parse_config(json, "config.json");
  BOOST_REQUIRE_MESSAGE(bool(cfg), (cfg ? std::string() : cfg.error().what()));
  const auto a = ember::app::to_server_options(cfg->servers[0]);
  BOOST_REQUIRE(a.tls.has_value());
  BOOST_TEST(a.tls->cert_file == c.server_cert);
  BOOST_TEST(a.tls_tcp);
  BOOST_TEST(a.tls_websocket);
  const auto b = ember::app::to_server_options(cfg->servers[1]);
  BOOST_TEST(!b.tls_tcp);
  BOOST_TEST(b.tls_websocket);
  try {
    (void)ember::app::to_server_options(cfg->servers[2]);
    BOOST_ERROR("a missing certificate passed");
  } catch (const std::exception& e) {
    BOOST_TEST(std::string(e.what()).starts_with("servers.c.netport.tls.cert: cannot read "
                                                 "'/nonexistent/cert.pem'"), e.what());
  }
  // a server built from it speaks TLS on the port the config says (b: only on WebSocket)
  asio::io_context io;
  ember::net::server_options ob = b;
  ob.port = 0;
  ob.websocket_port = 0;
  ember::net::server srv(io, ob);
  srv.start();
  run(io, [&]() -> asio::awaitable<void> {
    ember::net::client plain(io.get_executor());
    auto ec = co_await plain.connect("127.0.0.1", srv.port());
    BOOST_TEST(!ec, ec.message());  // the TCP port stayed plain
    auto ctx = asio_client_context();
    tls_socket s(co_await asio::this_coro::executor, ctx);
    ec = co_await asio_tls_connect(s, srv.websocket_port());
    BOOST_TEST(!ec, ec.message());
    plain.close();
  }());

  auto bad = [](const std::string& text) {
    auto r = ember::app::parse_config(text, "config.json");
    BOOST_REQUIRE(!r);
    return r.error().what();
  };
  BOOST_TEST(bad(R"({"servers": {"a": {"netport": {"port": 17300, "tls": {"cert": "x.pem"}}}}})")
                 .find("servers.a.netport.tls.key: missing") != std::string::npos);
  BOOST_TEST(bad(R"({"servers": {"a": {"netport": {"port": 17300,
      "tls": {"cert": "x.pem", "key": "x.key", "listeners": ["websocket"]}}}}})")
                 .find("servers.a.netport.tls.listeners[0]: this netport has no \"websocket\"") !=
             std::string::npos);
  BOOST_TEST(bad(R"({"servers": {"a": {"netport": {"port": 17300,
      "tls": {"cert": "x.pem", "key": "x.key", "listeners": ["udp"]}}}}})")
                 .find("servers.a.netport.tls.listeners[0]: expected \"tcp\" or \"websocket\"") !=
             std::string::npos);
}

namespace {

ember::cluster::link_tls link_tls(std::string cert = certs().server_cert,
                                  std::string key = certs().server_key) {
  return {.cert_file = std::move(cert), .key_file = std::move(key), .ca_file = certs().ca};
}

struct link_fixture {
  asio::io_context io;
  ember::test::net_handler root_handler, node_handler;
  std::unique_ptr<ember::cluster::root> root;
  std::vector<std::unique_ptr<ember::cluster::node_connector>> nodes;
  std::vector<std::string> refusals;

  std::shared_ptr<const ember::net::dispatch_table> table(ember::test::net_handler& h) {
    auto t = std::make_shared<ember::net::dispatch_table>();
    nettest::register_commands(*t, h);
    return t;
  }
  link_fixture() {
    ember::cluster::root_options o;
    o.name = "gate";
    o.secret = "a-test-secret-of-the-cluster";
    o.link.tls = link_tls();
    o.link.auth_timeout = 500ms;  // TLS handshake and authentication together
    root = std::make_unique<ember::cluster::root>(io.get_executor(), o, table(root_handler));
    root->on_refused([this](const ember::cluster::refusal& r) { refusals.push_back(r.reason); });
    root->start();
  }
  ember::cluster::node_connector& node(std::string name,
                                       std::optional<ember::cluster::link_tls> tls) {
    ember::cluster::node_options o;
    o.name = std::move(name);
    o.type = "game";
    o.secret = "a-test-secret-of-the-cluster";
    o.root_port = root->port();
    o.root_name = "gate";
    o.max_backoff = 300ms;
    o.link.tls = std::move(tls);
    nodes.push_back(std::make_unique<ember::cluster::node_connector>(io.get_executor(), o,
                                                                     table(node_handler)));
    nodes.back()->start();
    return *nodes.back();
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_link_over_tls_authenticates_and_carries_calls_both_ways) {
  link_fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto& n = f.node("game1", link_tls());
    BOOST_REQUIRE(co_await wait_until([&] { return n.connected() && f.root->find("game1"); }, 5s));
    auto up = co_await n.call<nettest::cmd::echo>({1, "node to root", 0});
    BOOST_REQUIRE(up);
    BOOST_TEST(up->text == "node to root");
    auto down = co_await f.root->call<nettest::cmd::echo>("game1", {2, std::string(300 * 1024, 'z'), 0});
    BOOST_REQUIRE(down);
    BOOST_TEST(down->text.size() == 300u * 1024u);
    int done = 0;
    for (std::uint32_t i = 0; i < 50; ++i)
      asio::co_spawn(f.io, [&, i]() -> asio::awaitable<void> {
        auto r = co_await n.call<nettest::cmd::echo_overlapping>({i, std::string(i * 100, 'q'), 0});
        if (r && r->n == i) ++done;
      }, asio::detached);
    BOOST_TEST(co_await wait_until([&] { return done == 50; }));
    BOOST_TEST(f.refusals.empty());
  }());
}

BOOST_AUTO_TEST_CASE(a_node_without_tls_or_with_a_certificate_of_another_ca_is_refused) {
  link_fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto& plain = f.node("plain", std::nullopt);
    auto& stranger = f.node("stranger", link_tls(certs().other_ca, certs().dir / "other-ca.key"));
    bool plain_named = false, stranger_named = false;
    auto named = [&] {
      for (const auto& r : f.refusals) {
        // a plain node waits for a challenge that never comes in plain text: the deadline
        plain_named |= r == "authentication timed out";
        stranger_named |= r.find("TLS handshake failed: certificate verify failed") != std::string::npos;
      }
      return plain_named && stranger_named;
    };
    BOOST_TEST(co_await wait_until(named, 5s));
    BOOST_TEST(!plain.connected());
    BOOST_TEST(!stranger.connected());
    BOOST_TEST(!f.root->find("plain"));
    BOOST_TEST(!f.root->find("stranger"));
    // and a node with the cluster's certificate still joins
    auto& good = f.node("game1", link_tls());
    BOOST_TEST(co_await wait_until([&] { return good.connected(); }, 5s));
  }());
}

BOOST_AUTO_TEST_CASE(config_json_link_tls_is_read_and_both_ends_of_a_link_need_it) {
  const std::string tls = R"({"cert": "s.pem", "key": "s.key", "ca": "ca.pem"})";
  auto cfg = ember::app::parse_config(R"({"secret": "a-test-secret-of-the-cluster",
    "defaults": {"link_tls": )" + tls + R"(},
    "servers": {"gate": {"rootport": 17400}, "game1": {"remoteport": [{"rootname": "gate"}]}}})",
                                      "config.json");
  BOOST_REQUIRE_MESSAGE(bool(cfg), (cfg ? std::string() : cfg.error().what()));
  for (const auto& s : cfg->servers) {
    BOOST_REQUIRE(s.link_tls.has_value());
    BOOST_TEST(s.link_tls->cert == "s.pem");
    BOOST_TEST(s.link_tls->ca == "ca.pem");
  }
  auto bad = [](const std::string& text) {
    auto r = ember::app::parse_config(text, "config.json");
    BOOST_REQUIRE(!r);
    return r.error().what();
  };
  const std::string only_root = bad(R"({"secret": "a-test-secret-of-the-cluster",
    "servers": {"gate": {"rootport": 17400, "link_tls": )" + tls + R"(},
                "game1": {"remoteport": [{"rootname": "gate"}]}}})");
  BOOST_TEST(only_root.find("servers.game1.remoteport[0]: root 'gate' has link_tls: this server "
                            "needs link_tls too") != std::string::npos, only_root);
  const std::string no_ca = bad(R"({"secret": "a-test-secret-of-the-cluster",
    "servers": {"gate": {"rootport": 17400, "link_tls": {"cert": "s.pem", "key": "s.key"}}}})");
  BOOST_TEST(no_ca.find("servers.gate.link_tls.ca: missing") != std::string::npos, no_ca);
}
