// cluster::gateway on loopback: real clients connect to a real net::server whose gateway
// forwards the schema's `game` commands to real game backends joined to its root, all on
// 127.0.0.1 in one io_context.
#include "ember/cluster/gateway.hpp"

#define BOOST_TEST_MODULE cluster_gateway
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>

#include "ember/cluster/node.hpp"
#include "ember/cluster/owned_key.hpp"
#include "ember/cluster/rendezvous.hpp"
#include "ember/net/client.hpp"
#include "route_game.hpp"
#include "route_gateway.hpp"

using namespace std::chrono_literals;
namespace cl = ember::cluster;
using ember::errc;
using ember::status;
using ember::test::route_game;
using ember::test::run;
using ember::test::wait_until;

namespace {

constexpr std::string_view secret = "gateway suite secret";

struct fixture {
  asio::io_context io;
  ember::test::route_gateway net;
  std::vector<std::unique_ptr<route_game>> games;
  std::vector<std::unique_ptr<cl::node_connector>> links;

  explicit fixture(std::chrono::milliseconds call_timeout = 10s)
      : net(io, ember::net::server_options{.name = "net1"}, secret, call_timeout) {}

  route_game& add_game(std::string name) {
    games.push_back(std::make_unique<route_game>(io.get_executor(), name));
    links.push_back(ember::test::join_game(io, *games.back(), net, secret));
    return *games.back();
  }

  asio::awaitable<void> linked(std::size_t n) {
    BOOST_REQUIRE(co_await wait_until([&] { return net.backends->of_type("game").size() == n; }, 10s));
  }

  asio::awaitable<ember::net::client> connected() {
    ember::net::client c(io.get_executor());
    BOOST_REQUIRE(!co_await c.connect("127.0.0.1", net.clients->port()));
    co_return c;
  }
};

struct short_deadline : fixture {
  short_deadline() : fixture(300ms) {}
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(gateway, fixture)

BOOST_AUTO_TEST_CASE(a_command_of_another_server_type_is_forwarded_and_its_reply_relayed) {
  add_game("game1");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked(1);
    auto c = co_await connected();
    auto r = co_await c.call<routetest::cmd::login>({5, false});
    BOOST_REQUIRE(r);
    BOOST_TEST(r->served_by == "game1");
    auto me = co_await c.call<routetest::cmd::whoami>({});
    BOOST_REQUIRE(me);
    BOOST_TEST(me->user == 5u);  // the gateway's binding travels in the envelope
    BOOST_TEST(net.gateway->forwarded() == 2u);
  }());
}

BOOST_AUTO_TEST_CASE(a_game_error_reaches_the_client_with_its_status) {
  add_game("game1");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked(1);
    auto c = co_await connected();
    auto r = co_await c.call<routetest::cmd::refuse>({});
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.error().status == 1001u);
    BOOST_TEST(r.error().message == "the game refused");
  }());
}

BOOST_AUTO_TEST_CASE(without_a_backend_of_the_type_the_request_fails_with_unavailable) {
  run(io, [&]() -> asio::awaitable<void> {
    auto c = co_await connected();
    auto r = co_await c.call<routetest::cmd::whoami>({});
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.error().status == std::uint16_t(status::unavailable));
    BOOST_TEST(net.gateway->unavailable() == 1u);
    BOOST_TEST(net.gateway->forwarded() == 0u);
  }());
}

BOOST_AUTO_TEST_CASE(a_bound_session_stays_on_its_instance_until_it_is_gone_then_moves_at_once) {
  add_game("game1");
  add_game("game2");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked(2);
    auto c = co_await connected();
    auto r = co_await c.call<routetest::cmd::login>({11, true});
    BOOST_REQUIRE(r);
    const std::string home = r->served_by;
    for (int i = 0; i < 5; ++i) {
      auto me = co_await c.call<routetest::cmd::whoami>({});
      BOOST_REQUIRE(me);
      BOOST_TEST(me->served_by == home);
    }
    const std::size_t gone = home == "game1" ? 0 : 1;
    links[gone]->stop();
    BOOST_REQUIRE(co_await wait_until([&] { return net.backends->of_type("game").size() == 1; }, 10s));
    // The first request after the loss is routed afresh: no failure, no new login.
    auto moved = co_await c.call<routetest::cmd::whoami>({});
    BOOST_REQUIRE(moved);
    BOOST_TEST(moved->served_by == games[1 - gone]->name());
  }());
}

// route_by_field: a request that names a thing (here `join`'s group) goes to the instance
// rendezvous hashing picks for the thing's owned key, whoever sends it and wherever its session
// is bound; when that instance is gone, to the runner-up.
BOOST_AUTO_TEST_CASE(a_command_routed_by_a_field_reaches_the_owner_of_what_it_names_from_every_session) {
  net.gateway->route_by_field(routetest::cmd::join::id, "room", 1, "group");
  add_game("game1");
  add_game("game2");
  // (lists outside the coroutine: a braced list inside one trips g++ 12)
  const std::vector<std::string> both{"game1", "game2"}, groups{"red", "blue", "green"};
  const auto owner_of = [&both](std::string_view group) {
    const auto key = cl::owned_key("room", group);
    const auto i = cl::rendezvous_pick(key, both, [](const std::string& n) { return cl::name_hash(n); });
    return both[i];
  };
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked(2);
    std::vector<ember::net::client> clients;
    for (std::uint64_t user = 1; user <= 6; ++user) {
      clients.push_back(co_await connected());
      BOOST_REQUIRE(co_await clients.back().call<routetest::cmd::login>({user, user % 2 == 0}));  // some bound
    }
    for (auto& c : clients)
      for (const auto& group : groups) BOOST_REQUIRE(co_await c.call<routetest::cmd::join>(routetest::join_request(group)));
    for (const auto& group : groups) {
      const auto owner = owner_of(group);
      for (const auto& g : games) {
        const auto n = std::count(g->joined.begin(), g->joined.end(), group);
        BOOST_TEST(n == (g->name() == owner ? 6 : 0), group << " on " << g->name());
      }
    }
    // The owner of "red" goes: its requests reach the other instance at once.
    const std::size_t gone = owner_of("red") == "game1" ? 0 : 1;
    links[gone]->stop();
    BOOST_REQUIRE(co_await wait_until([&] { return net.backends->of_type("game").size() == 1; }, 10s));
    BOOST_REQUIRE(co_await clients[gone == 0 ? 1 : 0].call<routetest::cmd::join>(routetest::join_request("red")));
    BOOST_TEST(games[1 - gone]->joined.back() == "red");
  }());
}

BOOST_AUTO_TEST_CASE(a_draining_backend_gets_no_new_session_and_its_bound_ones_move_on_their_next_request) {
  add_game("game1");
  add_game("game2");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked(2);
    auto c = co_await connected();
    auto r = co_await c.call<routetest::cmd::login>({11, true});
    BOOST_REQUIRE(r);
    auto& leaving = *games[r->served_by == "game1" ? 0 : 1];
    auto& staying = *games[r->served_by == "game1" ? 1 : 0];
    BOOST_TEST(!leaving.backend().draining());
    BOOST_TEST(co_await leaving.backend().leave_gateways() == 1u);  // the session bound there
    BOOST_TEST(leaving.backend().draining());
    auto me = co_await c.call<routetest::cmd::whoami>({});
    BOOST_REQUIRE(me);
    BOOST_TEST(me->served_by == staying.name());  // routed afresh, without a failure
    // New sessions, whatever their hash, go to the instance that stays.
    for (int i = 0; i < 10; ++i) {
      auto n = co_await connected();
      auto w = co_await n.call<routetest::cmd::whoami>({});
      BOOST_REQUIRE(w);
      BOOST_TEST(w->served_by == staying.name());
    }
    BOOST_TEST(co_await leaving.backend().leave_gateways() == 0u);  // nobody is bound there now
    BOOST_TEST(leaving.backend().idle());
  }());
}

BOOST_AUTO_TEST_CASE(pushes_groups_and_broadcasts_from_a_backend_reach_the_right_clients) {
  add_game("game1");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked(1);
    auto a = co_await connected();
    auto b = co_await connected();
    auto outsider = co_await connected();
    std::vector<std::string> a_said, b_said, outsider_said, a_notes, b_notes;
    a.on_push<routetest::said>([&](const routetest::said& s) { a_said.push_back(s.text); });
    b.on_push<routetest::said>([&](const routetest::said& s) { b_said.push_back(s.text); });
    outsider.on_push<routetest::said>([&](const routetest::said& s) { outsider_said.push_back(s.text); });
    a.on_push<routetest::note>([&](const routetest::note& n) { a_notes.push_back(n.text); });
    b.on_push<routetest::note>([&](const routetest::note& n) { b_notes.push_back(n.text); });
    BOOST_REQUIRE(co_await a.call<routetest::cmd::login>({1, false}));
    BOOST_REQUIRE(co_await b.call<routetest::cmd::login>({2, false}));
    BOOST_REQUIRE(co_await a.call<routetest::cmd::join>(routetest::join_request{"room"}));
    BOOST_REQUIRE(co_await b.call<routetest::cmd::join>(routetest::join_request{"room"}));
    BOOST_REQUIRE(co_await a.call<routetest::cmd::say>({"room", "hi all"}));
    BOOST_REQUIRE(co_await a.call<routetest::cmd::note_me>(routetest::note_me_request{"for a"}));
    BOOST_REQUIRE(co_await a.call<routetest::cmd::note_user>({2, "for b"}));
    BOOST_REQUIRE(co_await wait_until([&] {
      return a_said.size() == 1 && b_said.size() == 1 && a_notes.size() == 1 && b_notes.size() == 1;
    }, 10s));
    BOOST_TEST(a_said[0] == "hi all");
    BOOST_TEST(b_said[0] == "hi all");
    BOOST_TEST(a_notes[0] == "for a");
    BOOST_TEST(b_notes[0] == "for b");
    // A round trip after the pushes: anything meant for the outsider would be there by now.
    BOOST_REQUIRE(co_await outsider.call<routetest::cmd::whoami>({}));
    BOOST_TEST(outsider_said.empty());
  }());
}

BOOST_AUTO_TEST_CASE(the_newer_login_of_a_user_replaces_the_older_session) {
  add_game("game1");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked(1);
    auto first = co_await connected();
    std::error_code first_closed;
    first.on_close([&](std::error_code ec) { first_closed = ec; });
    BOOST_REQUIRE(co_await first.call<routetest::cmd::login>({7, false}));
    auto second = co_await connected();
    BOOST_REQUIRE(co_await second.call<routetest::cmd::login>({7, false}));
    BOOST_REQUIRE(co_await wait_until([&] { return bool(first_closed); }, 10s));
    BOOST_TEST((first_closed == errc::replaced));
    BOOST_REQUIRE(net.clients->find_user(7));
    auto me = co_await second.call<routetest::cmd::whoami>({});
    BOOST_REQUIRE(me);
    BOOST_TEST(me->user == 7u);
  }());
}

BOOST_AUTO_TEST_CASE(a_backend_closes_a_client_and_a_client_that_leaves_is_heard_by_backends) {
  auto& game = add_game("game1");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked(1);
    auto quitter = co_await connected();
    std::error_code quit_closed;
    quitter.on_close([&](std::error_code ec) { quit_closed = ec; });
    BOOST_REQUIRE(co_await quitter.call<routetest::cmd::whoami>({}));
    (void)co_await quitter.call<routetest::cmd::quit>({});
    BOOST_REQUIRE(co_await wait_until([&] { return bool(quit_closed); }, 10s));

    auto leaver = co_await connected();
    auto me = co_await leaver.call<routetest::cmd::whoami>({});
    BOOST_REQUIRE(me);
    leaver.close();
    BOOST_REQUIRE(co_await wait_until([&] { return game.closed.size() == 2; }, 10s));
    BOOST_TEST(game.closed[1] == me->session);
    BOOST_TEST(game.backend().session_count() == 0u);
  }());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(gateway_deadlines, short_deadline)

BOOST_AUTO_TEST_CASE(a_backend_that_does_not_answer_in_time_fails_the_request_with_outcome_unknown) {
  add_game("game1");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked(1);
    auto c = co_await connected();
    // The step waits 3 s, ten times the gateway's 300 ms deadline.
    auto r = co_await c.call<routetest::cmd::step>({1, 3'000});
    BOOST_REQUIRE(!r);
    // It was sent: the game may have run it, which "timeout" would not say.
    BOOST_TEST(r.error().status == std::uint16_t(status::outcome_unknown));
    BOOST_TEST(r.error().message.find("game1") != std::string::npos);
    BOOST_TEST(r.error().message.find("may have run") != std::string::npos);
  }());
}

BOOST_AUTO_TEST_CASE(a_client_retry_after_outcome_unknown_carries_the_same_id_and_runs_once) {
  auto& g = add_game("game1");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked(1);
    auto c = co_await connected();
    // The step takes 450 ms, the gateway waits 300: the first attempt ends with
    // outcome_unknown while the game still runs it; the retry, with the same request id,
    // waits for that run and gets its reply.
    ember::net::call_options o;
    o.timeout = 5s;
    o.retries = 3;
    auto r = co_await c.call<routetest::cmd::step>({1, 450}, o);
    BOOST_REQUIRE_MESSAGE(r, (r ? std::string() : r.error().message));
    BOOST_TEST(r->n == 1u);
    BOOST_TEST((g.steps == std::vector<std::uint32_t>{1}));
    BOOST_TEST(g.backend().replayed() >= 1u);
    // Without retries the caller hears the unknown outcome, as before.
    auto once = co_await c.call<routetest::cmd::step>({2, 450});
    BOOST_REQUIRE(!once);
    BOOST_TEST(once.error().status == std::uint16_t(status::outcome_unknown));
  }());
}

BOOST_AUTO_TEST_CASE(a_retry_of_a_request_refused_as_not_run_runs_again_and_is_not_replayed) {
  auto& g = add_game("game1");
  g.busy_steps = 2;
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked(1);
    auto c = co_await connected();
    // The game refuses twice with `unavailable`; its memory of the request id must not replay
    // that refusal, or no retry could ever succeed.
    ember::net::call_options o;
    o.timeout = 5s;
    o.retries = 5;
    auto r = co_await c.call<routetest::cmd::step>({7, 0}, o);
    BOOST_REQUIRE_MESSAGE(r, (r ? std::string() : r.error().message));
    BOOST_TEST(r->n == 7u);
    BOOST_TEST(g.busy_steps == 0);
    BOOST_TEST((g.steps == std::vector<std::uint32_t>{7}));
    BOOST_TEST(g.backend().replayed() == 0u);
  }());
}

BOOST_AUTO_TEST_CASE(a_retry_refused_as_not_run_does_not_hide_an_attempt_that_may_have_run) {
  add_game("game1");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked(1);
    auto c = co_await connected();
    // The first attempt is sent and unanswered (outcome unknown); then the game leaves, and
    // every retry is refused as not run ("no game server"). The call must still say that its
    // outcome is unknown: the first attempt may have run.
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      co_await ember::test::sleep(450ms);
      links.front()->stop();
    }, asio::detached);
    ember::net::call_options o;
    o.timeout = 2s;
    o.retries = 50;
    auto r = co_await c.call<routetest::cmd::step>({1, 1'000}, o);
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.error().status == std::uint16_t(status::outcome_unknown));
    BOOST_TEST(r.error().message.find("an earlier attempt may have run") != std::string::npos,
               r.error().message);
    BOOST_TEST(net.gateway->unavailable() >= 1u);  // a later attempt was refused as not run
  }());
}

BOOST_AUTO_TEST_CASE(retries_end_at_the_call_s_deadline) {
  auto& g = add_game("game1");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked(1);
    auto c = co_await connected();
    // Each attempt waits for the first run, which outlasts the call's whole deadline.
    ember::net::call_options o;
    o.timeout = 1s;
    o.retries = 100;
    auto r = co_await c.call<routetest::cmd::step>({1, 3'000}, o);
    BOOST_REQUIRE(!r);
    // The gateway's "outcome unknown", or the client's own deadline in the last attempt.
    BOOST_TEST((r.error().status == std::uint16_t(status::outcome_unknown) ||
                r.error().code == errc::timeout));
    co_await ember::test::sleep(2'500ms);
    BOOST_TEST((g.steps == std::vector<std::uint32_t>{1}));  // ran once, however many tries
  }());
}

BOOST_AUTO_TEST_SUITE_END()

// A drained gateway: two net servers ("net1", "net2"), each the other's resume peer and
// each with its own root, and one game joined to both. Sessions logged in on net1, bound to
// the game and in a game-side group, with steps in flight and pushes coming, move to net2.
namespace {

struct two_gateways {
  asio::io_context io;
  using side = ember::test::route_gateway;
  side net1, net2;
  std::unique_ptr<route_game> game;
  std::vector<std::unique_ptr<cl::node_connector>> links;

  two_gateways() {
    const std::uint16_t port1 = free_port(), port2 = free_port();
    make(net1, "net1", port1, "net2", port2);
    make(net2, "net2", port2, "net1", port1);
    game = std::make_unique<route_game>(io.get_executor(), "game1");
    for (auto* s : {&net1, &net2}) links.push_back(ember::test::join_game(io, *game, *s, secret));
  }

  std::uint16_t free_port() {
    asio::ip::tcp::acceptor probe(io, {asio::ip::make_address("127.0.0.1"), 0});
    return probe.local_endpoint().port();
  }

  void make(side& s, const char* name, std::uint16_t port, const char* peer, std::uint16_t peer_port) {
    ember::net::server_options so;
    so.name = name;
    so.port = port;
    so.resume_grace = 5s;
    so.resume_peers.push_back({.name = peer, .host = "127.0.0.1", .port = peer_port});
    s = side(io, std::move(so), secret, 10s);
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_drained_gateway_moves_its_sessions_and_the_game_serves_them_on_through_the_other) {
  two_gateways t;
  constexpr int players = 4, steps = 30;
  struct player {
    ember::net::client c;
    std::vector<std::uint32_t> replies;
    std::vector<std::string> notes, said;
    int failures = 0;
  };
  std::vector<std::unique_ptr<player>> ps;
  int running = 0;
  ember::net::drain_result drained;
  run(t.io, [&]() -> asio::awaitable<void> {
    BOOST_REQUIRE(co_await wait_until([&] {
      return t.net1.backends->of_type("game").size() == 1 && t.net2.backends->of_type("game").size() == 1;
    }, 10s));
    for (int i = 0; i < players; ++i) {
      ember::net::client c(t.io.get_executor());
      BOOST_REQUIRE(!co_await c.connect("127.0.0.1", t.net1.clients->port()));
      auto p = std::make_unique<player>(player{std::move(c), {}, {}, {}, 0});
      p->c.on_push<routetest::note>([raw = p.get()](const routetest::note& n) { raw->notes.push_back(n.text); });
      p->c.on_push<routetest::said>([raw = p.get()](const routetest::said& s) { raw->said.push_back(s.text); });
      BOOST_REQUIRE(co_await p->c.call<routetest::cmd::login>({std::uint64_t(100 + i), true}));
      BOOST_REQUIRE(co_await p->c.call<routetest::cmd::join>(routetest::join_request{"room"}));
      ps.push_back(std::move(p));
    }
    auto ex = co_await asio::this_coro::executor;
    for (auto& p : ps)
      for (int k = 1; k <= steps; ++k) {
        ++running;
        asio::co_spawn(ex, [&, raw = p.get(), k]() -> asio::awaitable<void> {
          ember::net::call_options o;
          o.timeout = 20s;
          auto r = co_await raw->c.call<routetest::cmd::step>({std::uint32_t(k), std::uint32_t(k % 3)}, o);
          if (r) raw->replies.push_back(r->n); else ++raw->failures;
          // a push made while serving the session's request
          auto n = co_await raw->c.call<routetest::cmd::note_me>(routetest::note_me_request{std::to_string(k)}, o);
          if (!n) ++raw->failures;
          --running;
        }, asio::detached);
      }
    co_await ember::test::sleep(20ms);
    drained = co_await t.net1.clients->drain(15s);
    BOOST_REQUIRE(co_await wait_until([&] { return running == 0; }, 20s));
    // After the move: the game's view follows (user in the envelope), groups are on net2.
    for (std::size_t i = 0; i < ps.size(); ++i) {
      auto me = co_await ps[i]->c.call<routetest::cmd::whoami>({});
      BOOST_REQUIRE(me);
      BOOST_TEST(me->user == 100u + i);
    }
    BOOST_REQUIRE(co_await ps[0]->c.call<routetest::cmd::say>({"room", "still here"}));
    BOOST_REQUIRE(co_await ps[0]->c.call<routetest::cmd::note_user>({101, "to a user"}));
    BOOST_TEST(co_await wait_until([&] {
      return std::all_of(ps.begin(), ps.end(), [](auto& p) { return p->said.size() == 1; }) &&
             ps[1]->notes.size() == std::size_t(steps) + 1;
    }, 10s));
  }(), 60s);
  BOOST_TEST(drained.moved == std::size_t(players));
  BOOST_TEST(drained.left == 0u);
  BOOST_TEST(t.net1.clients->session_count() == 0u);
  BOOST_TEST(t.net2.clients->session_count() == std::size_t(players));
  BOOST_TEST(t.game->closed.empty());  // no player left, as far as the game can tell
  BOOST_TEST(t.game->backend().session_count() == std::size_t(players));  // old views forgotten
  BOOST_TEST(t.game->steps.size() == std::size_t(players * steps));        // each step ran once
  for (auto& p : ps) {
    BOOST_TEST(p->failures == 0);
    BOOST_TEST(p->c.resumes() == 1u);
    BOOST_TEST(p->replies.size() == std::size_t(steps));
    for (std::size_t i = 0; i < p->replies.size(); ++i)
      if (p->replies[i] != i + 1) {
        BOOST_ERROR("reply " << i << " is " << p->replies[i]);
        break;
      }
    BOOST_TEST(p->notes.size() >= std::size_t(steps));
    for (std::size_t i = 0; i < std::size_t(steps) && i < p->notes.size(); ++i)
      if (p->notes[i] != std::to_string(i + 1)) {
        BOOST_ERROR("note " << i << " is " << p->notes[i]);
        break;
      }
  }
}
