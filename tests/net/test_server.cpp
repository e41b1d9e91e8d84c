// Sessions on loopback: a real net::server and real clients in one io_context.
#include "ember/net/server.hpp"

#define BOOST_TEST_MODULE net_server
#include <boost/test/unit_test.hpp>

#include <numeric>

#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include "ember/codec/json_reader.hpp"  // error bodies decoded from JSON
#include "ember/net/client.hpp"
#include "ember/wire/encoder.hpp"
#include "nettest_client.hpp"
#include "nettest_server.hpp"
#include "net_handler.hpp"
#include "support/run.hpp"

using namespace std::chrono_literals;
using ember::test::run;
using ember::test::sleep;
using ember::test::wait_until;

namespace {

using handler = ember::test::net_handler;

struct fixture {
  asio::io_context io;
  handler h;
  std::unique_ptr<ember::net::server> srv;

  explicit fixture(ember::net::server_options o = {}) {
    ember::test::raise_open_files(4096);
    ember::net::dispatch_table t;
    nettest::register_commands(t, h);
    o.name = "test";
    srv = std::make_unique<ember::net::server>(io, o, std::move(t));
    srv->start();
  }

  ember::net::client client(ember::net::client_options o = {}) { return ember::net::client(io.get_executor(), o); }

  asio::awaitable<ember::net::client> connected(ember::net::client_options o = {}) {
    auto c = client(o);
    auto ec = co_await c.connect("127.0.0.1", srv->port());
    BOOST_REQUIRE_MESSAGE(!ec, ec.message());
    co_return c;
  }
};

// A socket that speaks raw bytes, to send what a well-behaved client never would.
asio::awaitable<asio::ip::tcp::socket> raw_connect(std::uint16_t port) {
  asio::ip::tcp::socket s(co_await asio::this_coro::executor);
  co_await s.async_connect({asio::ip::make_address("127.0.0.1"), port}, asio::use_awaitable);
  co_return s;
}

asio::awaitable<void> raw_handshake(asio::ip::tcp::socket& s) {
  ember::buffer b;
  b.resize(ember::wire::native_header_size);
  ember::wire::client_hello{}.encode(b);
  ember::wire::frame_header h;
  h.kind = ember::wire::frame_kind::handshake;
  h.length = static_cast<std::uint32_t>(b.size() - ember::wire::native_header_size);
  ember::wire::write_header(b.data(), h);
  co_await asio::async_write(s, asio::buffer(b.data(), b.size()), asio::use_awaitable);
  std::array<std::byte, ember::wire::native_header_size + ember::wire::server_hello::size> reply;
  co_await asio::async_read(s, asio::buffer(reply), asio::use_awaitable);
}

// True once the peer has closed the socket (read returns an error).
asio::awaitable<bool> closed_by_peer(asio::ip::tcp::socket& s) {
  std::array<char, 4096> sink;
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(sink),
                                              asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) co_return true;
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_request_gets_its_reply) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto c = co_await f.connected();
    nettest::client_stub stub(c);
    auto r = co_await stub.echo({7, "hello", 0});
    BOOST_REQUIRE(r);
    BOOST_TEST(r->n == 7u);
    BOOST_TEST(r->text == "hello");
    BOOST_TEST(c.session_id() != 0u);
  }());
}

BOOST_AUTO_TEST_CASE(json_bodies_work_like_binary_ones) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    ember::net::client_options o;
    o.encoding = ember::codec::encoding::json;
    auto c = co_await f.connected(o);
    nettest::client_stub stub(c);
    auto r = co_await stub.echo({9, "\"quoted\" \xc3\xa9", 0});
    BOOST_REQUIRE(r);
    BOOST_TEST(r->text == "\"quoted\" \xc3\xa9");
    std::vector<std::string> pushed;  // pushes come in the encoding the handshake chose
    stub.on_notice([&](const nettest::notice& n) { pushed.push_back(n.text); });
    BOOST_REQUIRE(co_await stub.push_me({3, 2}));
    BOOST_REQUIRE(co_await wait_until([&] { return pushed.size() == 3; }));
    BOOST_TEST(pushed[2] == "xx");
  }());
}

BOOST_AUTO_TEST_CASE(a_thousand_requests_in_flight_on_one_session_are_correlated) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto c = co_await f.connected();
    int ok = 0, wrong = 0, done = 0;
    for (std::uint32_t i = 0; i < 1000; ++i) {
      asio::co_spawn(f.io, [&, i]() -> asio::awaitable<void> {
        nettest::client_stub stub(c);
        // Later requests finish first: replies arrive out of order.
        auto r = co_await stub.echo_overlapping({i, std::to_string(i), (1000 - i) % 20});
        (r && r->n == i && r->text == std::to_string(i)) ? ++ok : ++wrong;
        ++done;
      }, asio::detached);
    }
    BOOST_REQUIRE(co_await wait_until([&] { return done == 1000; }));
    BOOST_TEST(ok == 1000);
    BOOST_TEST(wrong == 0);
  }());
}

BOOST_AUTO_TEST_CASE(ordered_commands_of_a_session_run_one_at_a_time_in_order) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto c = co_await f.connected();
    std::vector<std::uint32_t> order;
    int done = 0;
    for (std::uint32_t i = 0; i < 20; ++i) {
      asio::co_spawn(f.io, [&, i]() -> asio::awaitable<void> {
        nettest::client_stub stub(c);
        auto r = co_await stub.echo({i, "", (20 - i)});  // earlier ones sleep longer
        if (r) order.push_back(r->n);
        ++done;
      }, asio::detached);
    }
    BOOST_REQUIRE(co_await wait_until([&] { return done == 20; }));
    std::vector<std::uint32_t> expected(20);
    std::iota(expected.begin(), expected.end(), 0u);
    BOOST_TEST(order == expected, boost::test_tools::per_element());
  }());
}

BOOST_AUTO_TEST_CASE(pushes_reach_the_session_in_order) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto c = co_await f.connected();
    std::vector<std::uint32_t> got;
    nettest::client_stub stub(c);
    stub.on_notice([&](const nettest::notice& n) { got.push_back(n.n); });
    BOOST_REQUIRE(co_await stub.push_me({100, 10}));
    BOOST_REQUIRE(co_await wait_until([&] { return got.size() == 100; }));
    for (std::uint32_t i = 0; i < 100; ++i) BOOST_TEST(got[i] == i + 1);
    BOOST_TEST(c.last_push_seq() == 100u);
  }());
}

BOOST_AUTO_TEST_CASE(a_broadcast_to_a_group_of_a_thousand_sessions_reaches_each_once) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    std::vector<ember::net::client> members;
    std::vector<int> received(1000, 0);
    for (int i = 0; i < 1000; ++i) {
      members.push_back(co_await f.connected());
      nettest::client_stub stub(members.back());
      stub.on_notice([&received, i](const nettest::notice&) { ++received[i]; });
      BOOST_REQUIRE(co_await stub.join(nettest::join_request{"room"}));
    }
    auto outsider = co_await f.connected();
    int outsider_got = 0;
    nettest::client_stub out(outsider);
    out.on_notice([&](const nettest::notice&) { ++outsider_got; });
    BOOST_REQUIRE(co_await out.broadcast({"room", "hi all"}));
    BOOST_REQUIRE(co_await wait_until([&] {
      return std::all_of(received.begin(), received.end(), [](int n) { return n >= 1; });
    }));
    co_await sleep(50ms);  // a duplicate would have arrived by now
    BOOST_TEST(std::count(received.begin(), received.end(), 1) == 1000);
    BOOST_TEST(outsider_got == 0);
  }(), 120s);
}

BOOST_AUTO_TEST_CASE(a_closed_session_leaves_its_groups) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto a = co_await f.connected();
    auto b = co_await f.connected();
    BOOST_REQUIRE(co_await nettest::client_stub(a).join(nettest::join_request{"g"}));
    BOOST_REQUIRE(co_await nettest::client_stub(b).join(nettest::join_request{"g"}));
    BOOST_TEST(f.srv->groups().members("g").size() == 2u);
    a.close();
    BOOST_REQUIRE(co_await wait_until([&] { return f.srv->groups().members("g").size() == 1; }));
    b.close();
    BOOST_REQUIRE(co_await wait_until([&] { return f.srv->groups().group_count() == 0; }));
  }());
}

BOOST_AUTO_TEST_CASE(a_client_that_does_not_read_is_dropped_and_others_are_untouched) {
  ember::net::server_options o;
  o.max_write_queue = 256 * 1024;
  fixture f(o);
  run(f.io, [&]() -> asio::awaitable<void> {
    auto good = co_await f.connected();
    auto lazy = co_await raw_connect(f.srv->port());
    co_await raw_handshake(lazy);
    // Ask for 8 MiB of pushes and never read them.
    ember::buffer b;
    b.resize(ember::wire::native_header_size);
    ember::codec::encode(b, nettest::push_me_request{2048, 4096}, ember::codec::encoding::binary);
    ember::wire::frame_header h;
    h.kind = ember::wire::frame_kind::request;
    h.command = static_cast<std::uint16_t>(nettest::cmd::push_me::id);
    h.seq = 1;
    h.length = static_cast<std::uint32_t>(b.size() - ember::wire::native_header_size);
    ember::wire::write_header(b.data(), h);
    co_await asio::async_write(lazy, asio::buffer(b.data(), b.size()), asio::use_awaitable);
    nettest::client_stub stub(good);
    for (std::uint32_t i = 0; i < 50; ++i) {
      auto r = co_await stub.echo({i, "still here", 0});
      BOOST_REQUIRE(r);
    }
    BOOST_REQUIRE(co_await wait_until([&] { return f.srv->session_count() == 1; }));
    BOOST_TEST(good.connected());
    BOOST_TEST(co_await closed_by_peer(lazy));
  }());
}

BOOST_AUTO_TEST_CASE(a_throwing_handler_gives_an_error_frame_and_the_session_lives_on) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto c = co_await f.connected();
    nettest::client_stub stub(c);
    auto game = co_await stub.raise_error(nettest::raise_error_request{false, 0});
    BOOST_REQUIRE(!game);
    BOOST_TEST(game.error().remote());
    BOOST_TEST(game.error().status == 1001u);
    BOOST_TEST(game.error().message == "the handler refused");
    auto internal = co_await stub.raise_error(nettest::raise_error_request{true, 0});
    BOOST_REQUIRE(!internal);
    BOOST_TEST(internal.error().status == static_cast<std::uint16_t>(ember::status::internal_error));
    auto after = co_await stub.echo({1, "alive", 0});
    BOOST_REQUIRE(after);
    BOOST_TEST(f.srv->session_count() == 1u);
  }());
}

BOOST_AUTO_TEST_CASE(an_error_code_that_escapes_a_handler_becomes_the_status_it_means) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto c = co_await f.connected();
    nettest::client_stub stub(c);
    auto status_of = [&](std::uint32_t failure) -> asio::awaitable<ember::failure> {
      auto r = co_await stub.raise_error({false, failure});
      co_return r ? ember::failure{} : r.error();
    };
    // Transient (memcached, the database, a server unreachable for a moment): retry.
    auto transient = co_await status_of(1);
    BOOST_TEST(transient.status == static_cast<std::uint16_t>(ember::status::unavailable));
    BOOST_TEST(transient.message.find("cache down") != std::string::npos, transient.message);
    auto late = co_await status_of(2);
    BOOST_TEST(late.status == static_cast<std::uint16_t>(ember::status::timeout));
    // A called server's game error reaches the client as it was.
    auto remote = co_await status_of(3);
    BOOST_TEST(remote.status == 1234u);
    BOOST_TEST(remote.message == "the other server says no");
    // Anything else is a bug: internal error, its text stays in the log.
    auto bug = co_await status_of(4);
    BOOST_TEST(bug.status == static_cast<std::uint16_t>(ember::status::internal_error));
    BOOST_TEST(bug.message == "internal error");
    auto after = co_await stub.echo({1, "alive", 0});
    BOOST_REQUIRE(after);
  }());
}

BOOST_AUTO_TEST_CASE(an_unknown_command_and_a_bad_body_get_errors_and_the_session_lives_on) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto c = co_await f.connected();
    auto unknown = co_await c.call_raw(999, {});
    BOOST_REQUIRE(!unknown);
    BOOST_TEST(unknown.error().status == static_cast<std::uint16_t>(ember::status::unknown_command));
    const std::byte junk[] = {std::byte{0x0a}, std::byte{0xff}};  // a string field longer than the body
    auto bad = co_await c.call_raw(static_cast<std::uint16_t>(nettest::cmd::echo::id), junk);
    BOOST_REQUIRE(!bad);
    BOOST_TEST(bad.error().status == static_cast<std::uint16_t>(ember::status::bad_request));
    BOOST_REQUIRE(co_await nettest::client_stub(c).echo({1, "ok", 0}));
    // Per command: the bad body counts as a failed echo; an unknown id is not counted.
    const auto* echo = f.srv->per_command().find(nettest::cmd::echo::id);
    BOOST_REQUIRE(echo);
    BOOST_TEST(echo->count == 2u);
    BOOST_TEST(echo->failed == 1u);
    BOOST_TEST(echo->latency.count() == 2u);
    BOOST_TEST(f.srv->per_command().find(999) == nullptr);
  }());
}

BOOST_AUTO_TEST_CASE(a_malformed_frame_closes_that_session_only) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto good = co_await f.connected();
    auto bad = co_await raw_connect(f.srv->port());
    co_await raw_handshake(bad);
    std::array<std::byte, 16> header{};
    header[4] = std::byte{99};  // no such kind
    co_await asio::async_write(bad, asio::buffer(header), asio::use_awaitable);
    BOOST_TEST(co_await closed_by_peer(bad));
    BOOST_REQUIRE(co_await nettest::client_stub(good).echo({1, "fine", 0}));
  }());
}

BOOST_AUTO_TEST_CASE(a_request_id_in_front_of_the_body_is_taken_off_and_one_cut_short_is_refused) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    // ember's client sends the id (the server's hello said it takes them); the handler sees
    // the message that follows it.
    auto good = co_await f.connected();
    ember::net::call_options o;
    o.request_id = 0x0102030405060708ULL;
    auto r = co_await nettest::client_stub(good).echo({7, "with an id", 0}, o);
    BOOST_REQUIRE(r);
    BOOST_TEST(r->n == 7u);
    BOOST_TEST(r->text == "with an id");
    // Flagged, but 3 bytes of body: bad_request, and the session lives on.
    auto bad = co_await raw_connect(f.srv->port());
    co_await raw_handshake(bad);
    std::array<std::byte, 16 + 3> frame{};
    ember::wire::frame_header h;
    h.kind = ember::wire::frame_kind::request;
    h.flags = ember::wire::flag::request_id;
    h.command = 101;
    h.seq = 1;
    h.length = 3;
    ember::wire::write_header(frame.data(), h);
    co_await asio::async_write(bad, asio::buffer(frame), asio::use_awaitable);
    std::array<std::byte, 16> header{};
    co_await asio::async_read(bad, asio::buffer(header), asio::use_awaitable);
    const auto reply = ember::wire::read_header(header.data());
    BOOST_TEST((reply.kind == ember::wire::frame_kind::error));
    BOOST_TEST(reply.seq == 1u);
    std::vector<std::byte> body(reply.length);
    co_await asio::async_read(bad, asio::buffer(body), asio::use_awaitable);
    ember::codec::error_body e;
    BOOST_REQUIRE(!ember::codec::decode(ember::bytes_view(body), ember::codec::encoding::binary, e));
    BOOST_TEST(e.status == static_cast<std::uint16_t>(ember::status::bad_request));
  }());
}

BOOST_AUTO_TEST_CASE(an_oversized_frame_is_refused_before_its_body_arrives) {
  ember::net::server_options o;
  o.max_frame = 1024;
  fixture f(o);
  run(f.io, [&]() -> asio::awaitable<void> {
    auto bad = co_await raw_connect(f.srv->port());
    co_await raw_handshake(bad);
    ember::wire::frame_header h;
    h.kind = ember::wire::frame_kind::request;
    h.length = 1025;
    std::array<std::byte, 16> header{};
    ember::wire::write_header(header.data(), h);
    co_await asio::async_write(bad, asio::buffer(header), asio::use_awaitable);
    BOOST_TEST(co_await closed_by_peer(bad));
  }());
}

BOOST_AUTO_TEST_CASE(a_request_before_the_handshake_is_refused) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto s = co_await raw_connect(f.srv->port());
    ember::wire::frame_header h;
    h.kind = ember::wire::frame_kind::request;
    h.command = 101;
    h.seq = 1;
    std::array<std::byte, 16> header{};
    ember::wire::write_header(header.data(), h);
    co_await asio::async_write(s, asio::buffer(header), asio::use_awaitable);
    std::array<std::byte, 16> reply{};
    co_await asio::async_read(s, asio::buffer(reply), asio::use_awaitable);
    auto rh = ember::wire::read_header(reply.data());
    BOOST_TEST(static_cast<int>(rh.kind) == static_cast<int>(ember::wire::frame_kind::error));
    BOOST_TEST(co_await closed_by_peer(s));
  }());
}

BOOST_AUTO_TEST_CASE(a_silent_session_is_closed_after_the_idle_timeout_and_pings_keep_one_alive) {
  ember::net::server_options o;
  o.idle_timeout = 300ms;
  fixture f(o);
  run(f.io, [&]() -> asio::awaitable<void> {
    auto silent = co_await raw_connect(f.srv->port());
    co_await raw_handshake(silent);
    auto pinging = co_await f.connected();  // pings every idle/3 = 100 ms
    auto t0 = std::chrono::steady_clock::now();
    BOOST_TEST(co_await closed_by_peer(silent));
    BOOST_TEST((std::chrono::steady_clock::now() - t0 < 2s));
    co_await sleep(600ms);
    BOOST_TEST(pinging.connected());
    BOOST_REQUIRE(co_await nettest::client_stub(pinging).echo({1, "", 0}));
  }());
}

BOOST_AUTO_TEST_CASE(a_frame_left_half_received_closes_its_session) {
  ember::net::server_options o;
  o.frame_timeout = 200ms;
  fixture f(o);
  run(f.io, [&]() -> asio::awaitable<void> {
    auto s = co_await raw_connect(f.srv->port());
    co_await raw_handshake(s);
    std::array<std::byte, 10> half{};  // 10 of 16 header bytes, then silence
    co_await asio::async_write(s, asio::buffer(half), asio::use_awaitable);
    BOOST_TEST(co_await closed_by_peer(s));
  }());
}

BOOST_AUTO_TEST_CASE(a_session_over_its_request_rate_gets_rate_limited_errors) {
  ember::net::server_options o;
  o.max_request_rate = 10;
  o.request_burst = 5;
  fixture f(o);
  run(f.io, [&]() -> asio::awaitable<void> {
    auto c = co_await f.connected();
    nettest::client_stub stub(c);
    int limited = 0, ok = 0;
    for (std::uint32_t i = 0; i < 20; ++i) {
      auto r = co_await stub.echo({i, "", 0});
      if (r) ++ok;
      else if (r.error().status == static_cast<std::uint16_t>(ember::status::rate_limited)) ++limited;
    }
    BOOST_TEST(ok >= 5);
    BOOST_TEST(limited > 0);
    BOOST_TEST(c.connected());
  }());
}

BOOST_AUTO_TEST_CASE(sessions_past_the_per_address_limit_are_refused) {
  ember::net::server_options o;
  o.max_sessions_per_address = 2;
  fixture f(o);
  run(f.io, [&]() -> asio::awaitable<void> {
    auto a = co_await f.connected();
    auto b = co_await f.connected();
    auto c = f.client();
    auto ec = co_await c.connect("127.0.0.1", f.srv->port());
    BOOST_TEST((ec == ember::errc::server_full));
    BOOST_TEST(f.srv->stats().refused == 1u);
    BOOST_REQUIRE(co_await nettest::client_stub(a).echo({1, "", 0}));
  }());
}

BOOST_AUTO_TEST_CASE(a_firefly_client_gets_its_replies_in_request_order) {
  ember::net::server_options o;
  o.framing = ember::net::framing::firefly;
  o.firefly.magic = {78, 37, 38, 48};
  o.firefly.version = 9;
  fixture f(o);
  run(f.io, [&]() -> asio::awaitable<void> {
    ember::net::client_options co;
    co.framing = ember::net::framing::firefly;
    co.encoding = ember::codec::encoding::json;
    co.firefly = o.firefly;
    auto c = co_await f.connected(co);
    std::vector<std::uint32_t> order;
    int done = 0;
    for (std::uint32_t i = 0; i < 10; ++i) {
      asio::co_spawn(f.io, [&, i]() -> asio::awaitable<void> {
        // Even "overlapping" commands answer in request order on Firefly framing.
        auto r = co_await nettest::client_stub(c).echo_overlapping({i, std::to_string(i), 10 - i});
        if (r && r->text == std::to_string(r->n)) order.push_back(r->n);
        ++done;
      }, asio::detached);
    }
    BOOST_REQUIRE(co_await wait_until([&] { return done == 10; }));
    std::vector<std::uint32_t> expected(10);
    std::iota(expected.begin(), expected.end(), 0u);
    BOOST_TEST(order == expected, boost::test_tools::per_element());
    // A game error becomes the schema's error reply on Firefly.
    auto refused = co_await c.call_raw(static_cast<std::uint16_t>(nettest::cmd::raise_error::id),
                                       ember::as_bytes(R"({"internal":false})"));
    BOOST_REQUIRE(refused);
    nettest::error_reply body;
    BOOST_REQUIRE(!ember::codec::decode(refused->view(), ember::codec::encoding::json, body));
    BOOST_TEST(body.code == 1001u);
    BOOST_TEST(body.message == "the handler refused");
  }());
}

BOOST_AUTO_TEST_CASE(a_firefly_client_receives_pushes_under_their_push_id) {
  ember::net::server_options o;
  o.framing = ember::net::framing::firefly;
  fixture f(o);
  run(f.io, [&]() -> asio::awaitable<void> {
    ember::net::client_options co;
    co.framing = ember::net::framing::firefly;
    co.encoding = ember::codec::encoding::json;
    auto c = co_await f.connected(co);
    nettest::client_stub stub(c);
    std::vector<std::uint32_t> got;
    stub.on_notice([&](const nettest::notice& n) { got.push_back(n.n); });
    // Firefly has no frame kinds: the client tells pushes from replies by the command id.
    BOOST_REQUIRE(co_await stub.push_me({5, 1}));
    BOOST_REQUIRE(co_await wait_until([&] { return got.size() == 5; }));
    BOOST_TEST(got.back() == 5u);
  }());
}

BOOST_AUTO_TEST_CASE(a_handshake_with_an_unknown_protocol_version_is_refused) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto s = co_await raw_connect(f.srv->port());
    ember::buffer b;
    ember::wire::client_hello hello;
    hello.version = 99;
    ember::wire::frame_header h;
    h.kind = ember::wire::frame_kind::handshake;
    (void)ember::wire::append_frame(b, h, [&](ember::buffer& out) { hello.encode(out); });
    co_await asio::async_write(s, asio::buffer(b.data(), b.size()), asio::use_awaitable);
    std::array<std::byte, 16> reply{};
    co_await asio::async_read(s, asio::buffer(reply), asio::use_awaitable);
    auto rh = ember::wire::read_header(reply.data());
    BOOST_TEST(static_cast<int>(rh.kind) == static_cast<int>(ember::wire::frame_kind::error));
    std::vector<std::byte> body(rh.length);
    co_await asio::async_read(s, asio::buffer(body), asio::use_awaitable);
    ember::codec::error_body e;
    BOOST_REQUIRE(!ember::codec::decode(body, ember::codec::encoding::binary, e));
    BOOST_TEST(e.status == static_cast<std::uint16_t>(ember::status::unsupported_version));
    BOOST_TEST(co_await closed_by_peer(s));
  }());
}

BOOST_AUTO_TEST_CASE(a_firefly_header_with_the_wrong_magic_closes_the_session) {
  ember::net::server_options o;
  o.framing = ember::net::framing::firefly;
  o.firefly.magic = {78, 37, 38, 48};
  fixture f(o);
  run(f.io, [&]() -> asio::awaitable<void> {
    auto s = co_await raw_connect(f.srv->port());
    std::array<std::byte, 17> header{};
    ember::wire::write_firefly_header(header.data(), {}, 101, 0);  // magic 0,0,0,0
    co_await asio::async_write(s, asio::buffer(header), asio::use_awaitable);
    BOOST_TEST(co_await closed_by_peer(s));
  }());
}

BOOST_AUTO_TEST_CASE(a_graceful_stop_finishes_requests_in_flight_then_closes) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto c = co_await f.connected();
    std::optional<ember::outcome<nettest::echo_reply>> slow;
    asio::co_spawn(f.io, [&]() -> asio::awaitable<void> {
      slow.emplace(co_await nettest::client_stub(c).echo({5, "slow", 200}));
    }, asio::detached);
    co_await sleep(50ms);
    co_await f.srv->stop(5s);
    BOOST_REQUIRE(co_await wait_until([&] { return slow.has_value(); }));
    BOOST_REQUIRE(*slow);
    BOOST_TEST((*slow)->text == "slow");
    BOOST_TEST(f.srv->session_count() == 0u);
    BOOST_REQUIRE(co_await wait_until([&] { return !c.connected(); }));
  }());
}

BOOST_AUTO_TEST_CASE(a_call_past_its_deadline_fails_with_timeout_and_a_late_reply_is_dropped) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto c = co_await f.connected();
    nettest::client_stub stub(c);
    auto late = co_await stub.echo_overlapping({1, "late", 300}, {100ms});
    BOOST_REQUIRE(!late);
    BOOST_TEST(late.error().code == ember::errc::timeout);
    auto next = co_await stub.echo_overlapping({2, "next", 400});
    BOOST_REQUIRE(next);
    BOOST_TEST(next->n == 2u);
    BOOST_TEST(c.in_flight() == 0u);
  }());
}

BOOST_AUTO_TEST_CASE(a_call_cut_off_by_its_io_context_ending_leaves_no_dangling_pointer) {
  // A program (or a test past its deadline) destroys its io_context while a call waits: the
  // call's frame goes first, then the client held in the frame above it, which ends its calls.
  fixture f;
  BOOST_CHECK_THROW(run(f.io, [&]() -> asio::awaitable<void> {
    auto c = co_await f.connected();
    nettest::client_stub stub(c);
    (void)co_await stub.echo_overlapping({1, "never answered in time", 10000}, {60s});
  }(), 300ms), std::runtime_error);
  BOOST_TEST(f.h.echoes == 1);
}
