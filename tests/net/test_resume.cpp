// Sessions that outlive their connection: a real net::server, real clients, and a TCP proxy
// between them that cuts connections (losing what is in transit), refuses new ones, or stalls.
#include "ember/net/server.hpp"
#include "ember/codec/json_reader.hpp"  // error bodies decoded from JSON

#define BOOST_TEST_MODULE net_resume
#include <boost/test/unit_test.hpp>

#include <random>

#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include "ember/net/client.hpp"
#include "ember/wire/encoder.hpp"
#include "nettest_client.hpp"
#include "nettest_server.hpp"
#include "net_handler.hpp"
#include "support/run.hpp"
#include "support/tcp_proxy.hpp"

using namespace std::chrono_literals;
using ember::test::run;
using ember::test::sleep;
using ember::test::wait_until;

namespace {

using handler = ember::test::net_handler;

ember::net::server_options resumable_options() {
  ember::net::server_options o;
  o.name = "resume-test";
  o.resume_grace = 2s;
  return o;
}

struct fixture {
  asio::io_context io;
  handler h;
  std::unique_ptr<ember::net::server> srv;
  std::unique_ptr<ember::test::tcp_proxy> proxy;
  std::vector<std::uint64_t> ended;  // sessions the server ended for real

  explicit fixture(ember::net::server_options o = resumable_options()) {
    ember::net::dispatch_table t;
    nettest::register_commands(t, h);
    srv = std::make_unique<ember::net::server>(io, o, std::move(t));
    srv->start();
    srv->on_session_closed([this](ember::net::session& s) { ended.push_back(s.id()); });
    proxy = std::make_unique<ember::test::tcp_proxy>(io, srv->port());
  }

  /// A client connected through the proxy.
  asio::awaitable<ember::net::client> connected(ember::net::client_options o = {}) {
    ember::net::client c(io.get_executor(), o);
    auto ec = co_await c.connect("127.0.0.1", proxy->port());
    BOOST_REQUIRE_MESSAGE(!ec, ec.message());
    co_return c;
  }

  /// Pushes notices 1..count to one session, a few per event-loop round, pausing now and
  /// then so that drops fall in the middle of the stream.
  asio::awaitable<void> push_stream(std::uint64_t session, std::uint32_t count) {
    for (std::uint32_t i = 1; i <= count; ++i) {
      BOOST_REQUIRE(srv->push(session, nettest::notice{i, "payload"}));
      if (i % 10 == 0) co_await sleep(1ms);
    }
  }
};

/// Collects the notices a client receives and checks they are 1, 2, 3, … without a gap or
/// a duplicate.
struct notice_log {
  std::vector<std::uint32_t> got;
  void attach(ember::net::client& c) {
    nettest::client_stub(c).on_notice([this](const nettest::notice& n) { got.push_back(n.n); });
  }
  bool complete(std::uint32_t n) const { return got.size() >= n; }
  void check(std::uint32_t n) const {
    BOOST_TEST(got.size() == n);
    for (std::uint32_t i = 0; i < got.size(); ++i)
      if (got[i] != i + 1) {
        BOOST_ERROR("notice " << i << " is " << got[i] << ", expected " << i + 1);
        break;
      }
  }
};

// Raw handshakes, to hold tokens the way a client in another language would.
using tcp = asio::ip::tcp;

asio::awaitable<tcp::socket> raw_connect(std::uint16_t port) {
  tcp::socket s(co_await asio::this_coro::executor);
  co_await s.async_connect({asio::ip::make_address("127.0.0.1"), port}, asio::use_awaitable);
  co_return s;
}

struct raw_answer {
  ember::wire::frame_kind kind{};
  std::optional<ember::wire::server_hello> hello;
  std::uint16_t status = 0;
};

asio::awaitable<raw_answer> raw_hello(tcp::socket& s, ember::wire::client_hello hello) {
  ember::buffer b;
  (void)ember::wire::append_frame(b, {.kind = ember::wire::frame_kind::handshake},
                                  [&](ember::buffer& out) { hello.encode(out); });
  co_await asio::async_write(s, asio::buffer(b.data(), b.size()), asio::use_awaitable);
  std::array<std::byte, 16> head;
  co_await asio::async_read(s, asio::buffer(head), asio::use_awaitable);
  auto h = ember::wire::read_header(head.data());
  std::vector<std::byte> body(h.length);
  co_await asio::async_read(s, asio::buffer(body), asio::use_awaitable);
  raw_answer a;
  a.kind = h.kind;
  if (h.kind == ember::wire::frame_kind::handshake)
    a.hello = ember::wire::server_hello::decode({body.data(), body.size()});
  if (h.kind == ember::wire::frame_kind::error) {
    ember::codec::error_body e;
    (void)ember::codec::decode({body.data(), body.size()}, ember::codec::encoding::binary, e);
    a.status = e.status;
  }
  co_return a;
}

/// A raw connection and the server's answer to its hello.
struct raw_session {
  tcp::socket socket;
  raw_answer answer;
};

asio::awaitable<raw_session> raw_open(std::uint16_t port, ember::wire::client_hello hello) {
  auto s = co_await raw_connect(port);
  auto a = co_await raw_hello(s, hello);
  co_return raw_session{std::move(s), std::move(a)};
}

ember::wire::client_hello resumable_hello() {
  ember::wire::client_hello h;
  h.resumable = true;
  return h;
}

ember::wire::client_hello resume_hello(const ember::wire::resume_token& t, std::uint32_t received) {
  ember::wire::client_hello h;
  h.resumable = true;
  h.resume = true;
  h.token = t;
  h.received = received;
  return h;
}

/// True once the server has closed `s` (a read ends).
asio::awaitable<bool> closed_by_server(tcp::socket& s) {
  std::array<std::byte, 256> buf;
  for (int i = 0; i < 100; ++i) {
    auto [ec, n] = co_await s.async_read_some(
        asio::buffer(buf), asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) co_return true;
  }
  co_return false;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_cut_connection_resumes_and_every_push_arrives_once_in_order) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto c = co_await f.connected();
    BOOST_TEST(c.resumable());
    notice_log log;
    log.attach(c);
    int resumed = 0;
    c.on_resumed([&] { ++resumed; });
    asio::co_spawn(f.io, f.push_stream(c.session_id(), 1000), asio::detached);
    BOOST_REQUIRE(co_await wait_until([&] { return log.complete(300); }));
    f.proxy->cut();  // frames in transit are lost with the connection
    BOOST_REQUIRE(co_await wait_until([&] { return log.complete(1000); }));
    co_await sleep(50ms);  // nothing more (no duplicate) comes
    log.check(1000);
    BOOST_TEST(resumed == 1);
    BOOST_TEST(f.srv->stats().parked == 1u);
    BOOST_TEST(f.srv->stats().resumed == 1u);
    BOOST_TEST(f.ended.empty(), "the session lived on");
    BOOST_TEST(f.srv->session_count() == 1u);
  }());
}

BOOST_AUTO_TEST_CASE(a_client_that_stops_reading_is_timed_out_and_then_resumes_with_the_rest) {
  auto o = resumable_options();
  o.idle_timeout = 300ms;
  fixture f(o);
  run(f.io, [&]() -> asio::awaitable<void> {
    ember::net::client_options co;
    co.ping_interval = 10s;  // silent: the server's idle timeout ends the connection
    auto c = co_await f.connected(co);
    notice_log log;
    log.attach(c);
    f.proxy->stall(true);
    co_await f.push_stream(c.session_id(), 1000);
    BOOST_REQUIRE(co_await wait_until([&] { return f.srv->parked_count() == 1; }, 5s));
    f.proxy->stall(false);
    f.proxy->cut();  // the stalled connection ends; the client resumes on a new one
    BOOST_REQUIRE(co_await wait_until([&] { return log.complete(1000); }));
    co_await sleep(50ms);
    log.check(1000);
    BOOST_TEST(f.ended.empty());
  }());
}

BOOST_AUTO_TEST_CASE(requests_across_a_cut_run_once_and_each_gets_its_reply_once) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto c = co_await f.connected();
    nettest::client_stub stub(c);
    std::vector<int> replies(60, 0);
    int done = 0;
    for (std::uint32_t i = 0; i < 20; ++i)  // received, still running when the cut comes
      asio::co_spawn(f.io, [&, i]() -> asio::awaitable<void> {
        auto r = co_await stub.echo_overlapping({i, "", 150});
        if (r && r->n == i) ++replies[i];
        ++done;
      }, asio::detached);
    for (std::uint32_t i = 20; i < 40; ++i)  // answered while the connection is down
      asio::co_spawn(f.io, [&, i]() -> asio::awaitable<void> {
        auto r = co_await stub.echo({i, "", 0});
        if (r && r->n == i) ++replies[i];
        ++done;
      }, asio::detached);
    co_await sleep(50ms);
    f.proxy->block(true);
    f.proxy->cut();
    for (std::uint32_t i = 40; i < 60; ++i)  // sent while the client is resuming
      asio::co_spawn(f.io, [&, i]() -> asio::awaitable<void> {
        auto r = co_await stub.echo_overlapping({i, "", 0});
        if (r && r->n == i) ++replies[i];
        ++done;
      }, asio::detached);
    co_await sleep(300ms);
    BOOST_TEST(c.resuming());
    f.proxy->block(false);
    BOOST_REQUIRE(co_await wait_until([&] { return done == 60; }));
    for (int i = 0; i < 60; ++i) BOOST_TEST(replies[i] == 1, "request " << i);
    BOOST_TEST(f.h.echoes == 60, "each request ran once");
  }());
}

BOOST_AUTO_TEST_CASE(requests_the_server_never_received_are_sent_again_once) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto c = co_await f.connected();
    nettest::client_stub stub(c);
    int ok = 0, done = 0;
    for (std::uint32_t i = 0; i < 10; ++i)
      asio::co_spawn(f.io, [&, i]() -> asio::awaitable<void> {
        auto r = co_await stub.echo({i, "", 0});
        ok += r && r->n == i;
        ++done;
      }, asio::detached);
    // The requests are queued but not yet written: dropping now loses them on this side.
    c.drop_connection();
    BOOST_REQUIRE(co_await wait_until([&] { return done == 10; }));
    BOOST_TEST(ok == 10);
    BOOST_TEST(f.h.echoes == 10);
    BOOST_TEST(c.resumes() == 1u);
  }());
}

BOOST_AUTO_TEST_CASE(after_the_grace_period_the_session_ends_and_a_resume_is_refused) {
  auto o = resumable_options();
  o.resume_grace = 300ms;
  fixture f(o);
  run(f.io, [&]() -> asio::awaitable<void> {
    auto c = co_await f.connected();
    const auto id = c.session_id();
    nettest::client_stub stub(c);
    BOOST_REQUIRE(co_await stub.join(nettest::join_request{"room"}));
    int expired = 0;
    std::error_code closed_with;
    c.on_expired([&] { ++expired; });
    c.on_close([&](std::error_code ec) { closed_with = ec; });
    f.proxy->block(true);
    f.proxy->cut();
    BOOST_REQUIRE(co_await wait_until([&] { return !f.ended.empty(); }, 5s));
    BOOST_TEST(f.ended.front() == id, "the server ended the session (backends hear it)");
    BOOST_TEST(f.srv->stats().expired == 1u);
    BOOST_TEST(f.srv->broadcast("room", nettest::notice{1, "x"}) == 0u, "it left its groups");
    BOOST_REQUIRE(co_await wait_until([&] { return expired == 1; }, 5s));
    BOOST_TEST(closed_with == ember::errc::session_expired);
    BOOST_TEST(!c.resuming());
    auto r = co_await stub.echo({1, "", 0});
    BOOST_TEST(!r);  // the game logs in again on a new session
  }());
}

BOOST_AUTO_TEST_CASE(a_client_that_comes_back_after_the_grace_period_is_told_expired) {
  auto o = resumable_options();
  o.resume_grace = 200ms;
  fixture f(o);
  run(f.io, [&]() -> asio::awaitable<void> {
    auto [s, first] = co_await raw_open(f.srv->port(), resumable_hello());
    BOOST_REQUIRE(first.hello);
    BOOST_TEST(first.hello->resume_grace_ms == 200u);
    s.close();
    co_await sleep(600ms);
    auto [again, answer] = co_await raw_open(f.srv->port(), resume_hello(first.hello->token, 0));
    BOOST_TEST(int(answer.kind) == int(ember::wire::frame_kind::error));
    BOOST_TEST(answer.status == std::uint16_t(ember::status::session_expired));
    BOOST_TEST(co_await closed_by_server(again));
  }());
}

BOOST_AUTO_TEST_CASE(an_outbox_past_its_bound_ends_the_session_instead_of_growing) {
  auto o = resumable_options();
  o.resume_outbox = 8 * 1024;
  fixture f(o);
  run(f.io, [&]() -> asio::awaitable<void> {
    auto c = co_await f.connected();
    const auto id = c.session_id();
    f.proxy->block(true);
    f.proxy->cut();
    BOOST_REQUIRE(co_await wait_until([&] { return f.srv->parked_count() == 1; }));
    for (std::uint32_t i = 1; i <= 200 && f.srv->push(id, nettest::notice{i, std::string(100, 'x')}); ++i) {
    }
    BOOST_REQUIRE(co_await wait_until([&] { return !f.ended.empty(); }));
    BOOST_TEST(f.srv->session_count() == 0u);
    BOOST_TEST(f.srv->stats().expired == 1u);
    int expired = 0;
    c.on_expired([&] { ++expired; });
    f.proxy->block(false);
    BOOST_TEST(co_await wait_until([&] { return expired == 1; }, 5s));
  }());
}

BOOST_AUTO_TEST_CASE(a_wrong_token_and_a_used_token_are_refused) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto [s, first] = co_await raw_open(f.srv->port(), resumable_hello());
    BOOST_REQUIRE(first.hello);
    const auto t1 = first.hello->token;

    ember::wire::resume_token wrong = t1;
    wrong[0] ^= 1;
    auto [w, refused] = co_await raw_open(f.srv->port(), resume_hello(wrong, 0));
    BOOST_TEST(int(refused.kind) == int(ember::wire::frame_kind::error));
    BOOST_TEST(refused.status == std::uint16_t(ember::status::session_expired));

    s.close();
    auto [r1, resumed] = co_await raw_open(f.srv->port(), resume_hello(t1, 0));
    BOOST_REQUIRE(resumed.hello);
    BOOST_TEST(resumed.hello->resumed);
    BOOST_TEST(resumed.hello->session_id == first.hello->session_id);
    BOOST_TEST((resumed.hello->token != t1), "a new token at each resume");
    // Its first frame on the new connection shows the client has the new token.
    ember::buffer ack;
    (void)ember::wire::append_frame(ack, {.kind = ember::wire::frame_kind::ack}, [](ember::buffer&) {});
    co_await asio::async_write(r1, asio::buffer(ack.data(), ack.size()), asio::use_awaitable);
    co_await sleep(20ms);

    auto [replay, replayed] = co_await raw_open(f.srv->port(), resume_hello(t1, 0));
    BOOST_TEST(replayed.status == std::uint16_t(ember::status::session_expired),
               "a used token is refused");
    BOOST_TEST(f.srv->session_count() == 1u);
  }());
}

BOOST_AUTO_TEST_CASE(a_resume_whose_answer_was_lost_can_be_tried_again_with_the_same_token) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto [s, first] = co_await raw_open(f.srv->port(), resumable_hello());
    BOOST_REQUIRE(first.hello);
    s.close();
    // The server resumes and answers with a new token, but the connection is lost before
    // the client sends anything: as far as the client knows, the answer never came.
    auto [lost, taken] = co_await raw_open(f.srv->port(), resume_hello(first.hello->token, 0));
    BOOST_REQUIRE(taken.hello);
    lost.close();
    auto [retry, again] = co_await raw_open(f.srv->port(), resume_hello(first.hello->token, 0));
    BOOST_REQUIRE(again.hello);
    BOOST_TEST(again.hello->resumed);
    BOOST_TEST(again.hello->session_id == first.hello->session_id);
  }());
}

BOOST_AUTO_TEST_CASE(one_session_holds_one_connection_the_newer_wins) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto [a, first] = co_await raw_open(f.srv->port(), resumable_hello());
    BOOST_REQUIRE(first.hello);
    auto [b, second] = co_await raw_open(f.srv->port(), resume_hello(first.hello->token, 0));
    BOOST_REQUIRE(second.hello);
    BOOST_TEST(second.hello->resumed);
    BOOST_TEST(co_await closed_by_server(a), "the older connection is closed");
    BOOST_TEST(f.srv->session_count() == 1u);
    BOOST_TEST(f.srv->push(first.hello->session_id, nettest::notice{1, "to b"}));
  }());
}

BOOST_AUTO_TEST_CASE(a_client_that_says_bye_ends_its_session_at_once) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto c = co_await f.connected();
    c.close();
    BOOST_REQUIRE(co_await wait_until([&] { return f.ended.size() == 1; }, 2s));
    BOOST_TEST(f.srv->stats().parked == 0u);
  }());
}

BOOST_AUTO_TEST_CASE(sessions_without_acknowledgements_end_with_their_connection) {
  fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    ember::net::client_options o;
    o.resume = false;
    auto c = co_await f.connected(o);
    BOOST_TEST(!c.resumable());
    f.proxy->cut();
    BOOST_REQUIRE(co_await wait_until([&] { return f.ended.size() == 1; }, 2s));
    BOOST_TEST(f.srv->stats().parked == 0u);
  }());
}

// Property: whatever moments the connection is cut at during a long push stream, the client
// ends with every push once, in order.
BOOST_AUTO_TEST_CASE(random_cuts_during_a_push_stream_never_leave_a_gap_or_a_duplicate) {
  std::mt19937 rng(20261204);
  for (int run_no = 0; run_no < 100; ++run_no) {
    BOOST_TEST_CONTEXT("run " << run_no) {
      fixture f;
      run(f.io, [&]() -> asio::awaitable<void> {
        ember::net::client_options co;
        co.resume_backoff_min = 5ms;
        auto c = co_await f.connected(co);
        notice_log log;
        log.attach(c);
        constexpr std::uint32_t total = 400;
        asio::co_spawn(f.io, f.push_stream(c.session_id(), total), asio::detached);
        const int cuts = 1 + int(rng() % 3);
        for (int k = 0; k < cuts; ++k) {
          const auto at = std::uint32_t(rng() % total);
          co_await wait_until([&] { return log.got.size() >= at; }, 5s);
          f.proxy->cut();
          co_await sleep(std::chrono::milliseconds(rng() % 20));
        }
        BOOST_REQUIRE(co_await wait_until([&] { return log.complete(total); }, 10s));
        co_await sleep(10ms);
        log.check(total);
      }());
    }
  }
}
