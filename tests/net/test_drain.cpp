// Draining a client-facing server: two real net::servers that know each other as resume
// peers, real clients on loopback with requests in flight and pushes arriving while the first
// server drains. Every session moves to the second, and every reply and push arrives once,
// in order.
#include "ember/net/server.hpp"

#define BOOST_TEST_MODULE net_drain
#include <boost/test/unit_test.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include "ember/codec/codec.hpp"
#include "ember/net/client.hpp"
#include "ember/wire/encoder.hpp"
#include "nettest_client.hpp"
#include "nettest_server.hpp"
#include "net_handler.hpp"
#include "server_pair.hpp"
#include "support/run.hpp"

using namespace std::chrono_literals;
using ember::test::run;
using ember::test::sleep;
using ember::test::wait_until;

namespace {

/// The pair, and the sessions each ended for real.
struct pair_fixture : ember::test::server_pair {
  std::vector<std::uint64_t> ended_a, ended_b;

  pair_fixture() {
    a->on_session_closed([this](ember::net::session& s) { ended_a.push_back(s.id()); });
    b->on_session_closed([this](ember::net::session& s) { ended_b.push_back(s.id()); });
  }

  asio::awaitable<ember::net::client> connected(std::uint16_t port) {
    ember::net::client c(io.get_executor());
    auto ec = co_await c.connect("127.0.0.1", port);
    BOOST_REQUIRE_MESSAGE(!ec, ec.message());
    co_return c;
  }
};

/// Sends `hello` on `s` and reads the one frame that answers it (header and body), as a client
/// in another language would.
asio::awaitable<std::pair<ember::wire::frame_header, std::vector<std::byte>>> hello_exchange(
    asio::ip::tcp::socket& s, const ember::wire::client_hello& hello) {
  namespace wire = ember::wire;
  ember::buffer out;
  (void)wire::append_frame(out, {.kind = wire::frame_kind::handshake},
                           [&](ember::buffer& b) { hello.encode(b); });
  co_await asio::async_write(s, asio::buffer(out.data(), out.size()), asio::use_awaitable);
  std::array<std::byte, wire::native_header_size> head;
  co_await asio::async_read(s, asio::buffer(head), asio::use_awaitable);
  const auto h = wire::read_header(head.data());
  std::vector<std::byte> body(h.length);
  co_await asio::async_read(s, asio::buffer(body), asio::use_awaitable);
  co_return std::pair{h, std::move(body)};
}

/// One player: its client, the notices it received, the replies of its calls in the order
/// they completed.
struct player {
  ember::net::client c;
  std::vector<std::uint32_t> notices;
  std::vector<std::uint32_t> replies;
  int failures = 0;
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_drained_server_moves_every_session_and_each_reply_and_push_arrives_once_in_order) {
  pair_fixture f;
  constexpr int players = 8, calls = 40, pushes_per_call = 3;
  std::vector<std::unique_ptr<player>> ps;
  ember::net::drain_result drained;
  int running = 0;
  run(f.io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < players; ++i) {
      auto c = co_await f.connected(f.a->port());
      auto p = std::make_unique<player>(player{std::move(c), {}, {}, 0});
      nettest::client_stub(p->c).on_notice([raw = p.get()](const nettest::notice& n) {
        if (n.text == "x") raw->notices.push_back(n.n);
      });
      auto joined = co_await nettest::client_stub(p->c).join(nettest::join_request{"room"});
      BOOST_REQUIRE_MESSAGE(joined, (joined ? std::string() : joined.error().message));
      ps.push_back(std::move(p));
    }
    BOOST_TEST(f.a->session_count() == std::size_t(players));
    // Each player: ordered echoes with a delay (so some run while the drain begins), each
    // followed by a request for pushes; all sent at once, in flight together.
    auto ex = co_await asio::this_coro::executor;
    for (auto& p : ps) {
      for (int k = 1; k <= calls; ++k) {
        ++running;
        asio::co_spawn(ex, [&, raw = p.get(), k]() -> asio::awaitable<void> {
          ember::net::call_options o;
          o.timeout = 20s;
          auto stub = nettest::client_stub(raw->c);
          auto r = co_await stub.echo(nettest::echo_request{std::uint32_t(k), "e", std::uint32_t(k % 3)}, o);
          if (r) raw->replies.push_back(r->n); else ++raw->failures;
          // notices k*3-2 .. k*3, pushed by the handler in this order
          auto pr = co_await stub.push_me(nettest::push_me_request{std::uint32_t(pushes_per_call), 1}, o);
          if (!pr) ++raw->failures;
          --running;
        }, asio::detached);
      }
    }
    co_await sleep(15ms);  // requests in flight and pushes under way
    drained = co_await f.a->drain(15s);
    BOOST_REQUIRE(co_await wait_until([&] { return running == 0; }, 20s));
  }(), 60s);

  BOOST_TEST(drained.told == std::size_t(players));
  BOOST_TEST(drained.moved == std::size_t(players));
  BOOST_TEST(drained.left == 0u);
  BOOST_TEST(f.a->session_count() == 0u);
  BOOST_TEST(f.b->session_count() == std::size_t(players));
  BOOST_TEST(f.a->stats().moved_out == std::uint64_t(players));
  BOOST_TEST(f.b->stats().moved_in == std::uint64_t(players));
  BOOST_TEST(f.ended_a.empty());  // no session ended: they moved
  BOOST_TEST(f.ha.echoes + f.hb.echoes == players * calls);  // each request ran once
  for (auto& p : ps) {
    BOOST_TEST(p->failures == 0);
    BOOST_TEST(p->c.resumes() == 1u);
    // An ordered command's replies come in request order, each once.
    BOOST_TEST(p->replies.size() == std::size_t(calls));
    for (std::size_t i = 0; i < p->replies.size(); ++i)
      if (p->replies[i] != i + 1) {
        BOOST_ERROR("reply " << i << " is " << p->replies[i]);
        break;
      }
    // Pushes: 1, 2, 3 after each call, every one once, in the order pushed.
    BOOST_TEST(p->notices.size() == std::size_t(calls * pushes_per_call));
    for (std::size_t i = 0; i < p->notices.size(); ++i)
      if (p->notices[i] != i % pushes_per_call + 1) {
        BOOST_ERROR("notice " << i << " is " << p->notices[i]);
        break;
      }
  }
  // The sessions kept their groups on the new server, and serve on there.
  BOOST_TEST(f.b->groups().members("room").size() == std::size_t(players));
  run(f.io, [&]() -> asio::awaitable<void> {
    auto r = co_await nettest::client_stub(ps[0]->c).echo(nettest::echo_request{99, "after", 0});
    BOOST_REQUIRE(r);
    BOOST_TEST(r->n == 99u);
    for (auto& p : ps) p->c.close();
    BOOST_TEST(co_await wait_until([&] { return f.b->session_count() == 0; }));
  }());
  BOOST_TEST(f.ended_b.size() == std::size_t(players));
}

BOOST_AUTO_TEST_CASE(a_draining_server_refuses_new_sessions_and_a_session_parked_during_the_drain_moves_when_it_returns) {
  pair_fixture f;
  run(f.io, [&]() -> asio::awaitable<void> {
    auto c = co_await f.connected(f.a->port());
    std::vector<std::uint32_t> got;
    nettest::client_stub(c).on_notice([&](const nettest::notice& n) { got.push_back(n.n); });
    // Parked: the connection is gone when the drain begins; pushes wait in its outbox.
    c.resume_at("127.0.0.1", 1);  // nobody listens there: it keeps trying
    c.drop_connection();
    BOOST_REQUIRE(co_await wait_until([&] { return f.a->parked_count() == 1; }));
    auto s = f.a->find(c.session_id());
    BOOST_REQUIRE(s);
    s->push(nettest::notice{1, "before"});
    bool done = false;
    ember::net::drain_result r;
    asio::co_spawn(co_await asio::this_coro::executor, [&]() -> asio::awaitable<void> {
      r = co_await f.a->drain(10s);
      done = true;
    }, asio::detached);
    co_await sleep(20ms);
    // A new client is refused.
    ember::net::client late(f.io.get_executor());
    auto ec = co_await late.connect("127.0.0.1", f.a->port());
    BOOST_TEST(bool(ec));
    // The parked one comes back to its old server, finds the push telling it to move, and
    // resumes on the other with what it missed.
    c.resume_at("127.0.0.1", f.a->port());
    BOOST_REQUIRE(co_await wait_until([&] { return done; }, 15s));
    BOOST_TEST(r.moved == 1u);
    BOOST_TEST(r.left == 0u);
    BOOST_REQUIRE(co_await wait_until([&] { return got.size() == 1; }));
    BOOST_TEST(got[0] == 1u);
    // One session on b: the connection it took the session over on is merged into the session
    // it made (under load the count can still show both for a moment).
    BOOST_TEST(co_await wait_until([&] { return f.b->session_count() == 1u; }));
    auto e = co_await nettest::client_stub(c).echo(nettest::echo_request{7, "on b", 0});
    BOOST_REQUIRE(e);
    BOOST_TEST(f.hb.echoes == 1);
    c.close();
  }(), 30s);
}

BOOST_AUTO_TEST_CASE(a_take_over_of_a_server_that_does_not_drain_is_refused_and_the_client_is_relayed) {
  pair_fixture f;
  using tcp = asio::ip::tcp;
  namespace wire = ember::wire;
  auto exchange = [](tcp::socket& s, wire::client_hello hello) -> asio::awaitable<std::optional<wire::server_hello>> {
    auto [h, body] = co_await hello_exchange(s, hello);
    if (h.kind != wire::frame_kind::handshake) co_return std::nullopt;
    co_return wire::server_hello::decode({body.data(), body.size()});
  };
  run(f.io, [&]() -> asio::awaitable<void> {
    tcp::socket first(f.io);
    co_await first.async_connect({asio::ip::make_address("127.0.0.1"), f.a->port()}, asio::use_awaitable);
    wire::client_hello hello;
    hello.resumable = true;
    auto h1 = co_await exchange(first, hello);
    BOOST_REQUIRE(h1);
    first.close();
    BOOST_REQUIRE(co_await wait_until([&] { return f.a->parked_count() == 1; }));
    // "Told to move" to b, but a does not drain: a keeps its session, b relays the client.
    tcp::socket second(f.io);
    co_await second.async_connect({asio::ip::make_address("127.0.0.1"), f.b->port()}, asio::use_awaitable);
    hello.resume = true;
    hello.moved = true;
    hello.token = h1->token;
    auto h2 = co_await exchange(second, hello);
    BOOST_REQUIRE(h2);
    BOOST_TEST(h2->resumed);
    BOOST_TEST(h2->session_id == h1->session_id);
    BOOST_TEST(f.a->session_count() == 1u);
    BOOST_TEST(f.b->session_count() == 0u);
    BOOST_TEST(f.a->stats().moved_out == 0u);
    BOOST_TEST(f.b->stats().moved_in == 0u);
  }());
}

// Only a server that knows the servers' secret gets a session's state: a client that sets the
// take-over flag itself (it has its own token) is refused as by a server that does not drain,
// and the session stays where it is.
BOOST_AUTO_TEST_CASE(a_take_over_without_the_servers_secret_is_refused_and_the_session_stays) {
  pair_fixture f;
  using tcp = asio::ip::tcp;
  namespace wire = ember::wire;
  std::optional<ember::net::drain_result> drained;
  run(f.io, [&]() -> asio::awaitable<void> {
    tcp::socket first(f.io);
    co_await first.async_connect({asio::ip::make_address("127.0.0.1"), f.a->port()}, asio::use_awaitable);
    wire::client_hello hello;
    hello.resumable = true;
    const auto [h1, body] = co_await hello_exchange(first, hello);
    BOOST_REQUIRE(h1.kind == wire::frame_kind::handshake);
    const auto server_hello = wire::server_hello::decode({body.data(), body.size()});
    BOOST_REQUIRE(server_hello);
    first.close();
    BOOST_REQUIRE(co_await wait_until([&] { return f.a->parked_count() == 1; }));
    // a drains: a server that knows the secret would get the session now
    asio::co_spawn(f.io, f.a->drain(1s), [&](std::exception_ptr, ember::net::drain_result r) { drained = r; });
    co_await sleep(20ms);
    tcp::socket thief(f.io);
    co_await thief.async_connect({asio::ip::make_address("127.0.0.1"), f.a->port()}, asio::use_awaitable);
    hello.resume = true;
    hello.take_over = true;
    hello.token = server_hello->token;  // its own token, and a proof made up
    hello.proof.fill(0x5a);
    const auto [answer, error] = co_await hello_exchange(thief, hello);
    BOOST_TEST((answer.kind == wire::frame_kind::error));
    ember::codec::error_body e;
    ember::codec::binary_reader reader({error.data(), error.size()});
    (void)ember::codec::decode_binary(reader, e);
    BOOST_TEST(e.status == std::uint16_t(ember::status::unavailable));
    BOOST_TEST(f.a->parked_count() == 1u);  // the session stays
    BOOST_REQUIRE(co_await wait_until([&] { return drained.has_value(); }, 10s));
  }());
  BOOST_TEST(drained->moved == 0u);
  BOOST_TEST(f.a->stats().moved_out == 0u);
}

BOOST_AUTO_TEST_CASE(a_handed_over_state_that_is_short_or_past_a_bound_does_not_decode) {
  ember::net::detail::handed_session s;
  s.user = 42;
  s.push_seq = 3;
  s.outbox_acked = 1;
  s.outbox_sent = 2;
  ember::buffer frame;
  (void)ember::wire::append_frame(frame, {.kind = ember::wire::frame_kind::push, .command = 201, .seq = 3},
                                  [](ember::buffer& b) { b.append(ember::bytes_view(reinterpret_cast<const std::byte*>("ab"), 2)); });
  s.outbox.append(frame.view());
  s.groups = {"room", "guild:7"};
  s.attributes = {{"k", "v"}};
  ember::buffer out;
  s.encode(out);
  auto back = ember::net::detail::handed_session::decode(out.view());
  BOOST_REQUIRE(back);
  BOOST_TEST(back->user == 42u);
  BOOST_TEST(back->groups.size() == 2u);
  BOOST_TEST(back->attributes.at(0).second == "v");
  BOOST_TEST(back->outbox.size() == frame.size());
  for (std::size_t n = 0; n < out.size(); ++n)
    BOOST_TEST(!ember::net::detail::handed_session::decode(ember::bytes_view(out.data(), n)));
  s.outbox_sent = 3;  // claims a frame more than it holds
  ember::buffer wrong;
  s.encode(wrong);
  BOOST_TEST(!ember::net::detail::handed_session::decode(wrong.view()));
}
