// cluster::backend on loopback: a real root stands where a gateway would, and forwards
// requests to a real game node over an authenticated link; what the backend sends back (its
// session ops, pushes, broadcasts, user claims) is read off that link as the gateway reads it.
#include "ember/cluster/backend.hpp"

#define BOOST_TEST_MODULE cluster_backend
#include <boost/test/unit_test.hpp>

#include <map>
#include <thread>

#include "ember/cluster/detail/cluster_wire.hpp"
#include "ember/cluster/node.hpp"
#include "ember/cluster/root.hpp"
#include "route_game.hpp"

using namespace std::chrono_literals;
namespace cl = ember::cluster;
namespace msg = ember::cluster::detail::msg;
using ember::test::run;
using ember::test::wait_until;

namespace {

constexpr std::string_view secret = "backend suite secret";

// A root standing in for a gateway ("net1", "net2"), that records ember's notifies.
struct fake_gateway {
  std::unique_ptr<cl::root> root;
  std::vector<msg::session_op> ops;
  std::vector<msg::push_user> pushes;
  std::vector<msg::broadcast> broadcasts;
  std::vector<msg::claim_user> claims;

  fake_gateway(asio::io_context& io, std::string name) {
    cl::root_options o;
    o.name = std::move(name);
    o.secret = std::string(secret);
    root = std::make_unique<cl::root>(io.get_executor(), o);
    root->on_join([this](const cl::root::link_ptr& l) { listen(*l); });
    root->start();
  }

  template <class M>
  static void record(cl::link& l, cl::route::notify_id id, std::vector<M>& into) {
    l.on_notify(std::uint16_t(id), [&into](ember::bytes_view body, ember::codec::encoding) {
      M m;
      const bool decoded = cl::detail::decode(body, m);
      BOOST_TEST(decoded);
      if (decoded) into.push_back(std::move(m));
    });
  }
  void listen(cl::link& l) {
    record(l, cl::route::notify_id::session_op, ops);
    record(l, cl::route::notify_id::push_user, pushes);
    record(l, cl::route::notify_id::broadcast, broadcasts);
    record(l, cl::route::notify_id::claim_user, claims);
  }

  // Forwards `req` as client session `session` (bound to `user`); the ticket waits for the reply.
  template <class Cmd>
  std::shared_ptr<cl::link::reply_ticket> send(
      const typename Cmd::request& req, std::uint64_t session, std::uint64_t user = 0,
      ember::codec::encoding push_encoding = ember::codec::encoding::binary,
      std::uint64_t request_id = 0) {
    auto l = root->find("game1");
    BOOST_REQUIRE(l);
    ember::buffer body;
    ember::codec::encode(body, req, ember::codec::encoding::binary);
    auto ticket = l->forward(Cmd::id, ember::codec::encoding::binary,
                             cl::route::envelope{session, user, push_encoding, request_id},
                             body.view(), 10s);
    BOOST_REQUIRE(ticket);
    return *ticket;
  }

  // Forwards `req` as client session `session` (bound to `user`) and waits for the reply.
  template <class Cmd>
  asio::awaitable<ember::outcome<typename Cmd::reply>> forward(
      const typename Cmd::request& req, std::uint64_t session, std::uint64_t user = 0,
      ember::codec::encoding push_encoding = ember::codec::encoding::binary) {
    auto t = send<Cmd>(req, session, user, push_encoding);
    ember::failure f = co_await t->wait();
    if (f.code) co_return f;
    typename Cmd::reply reply;
    BOOST_REQUIRE(!ember::codec::decode(t->body(), ember::codec::encoding::binary, reply));
    co_return reply;
  }
};

struct fixture {
  asio::io_context io;
  ember::test::route_game game{io.get_executor(), "game1"};
  std::vector<std::unique_ptr<fake_gateway>> gateways;
  std::vector<std::unique_ptr<cl::node_connector>> links;

  fake_gateway& add_gateway(std::string name) {
    gateways.push_back(std::make_unique<fake_gateway>(io, name));
    cl::node_options o;
    o.name = "game1";
    o.type = "game";
    o.secret = std::string(secret);
    o.root_port = gateways.back()->root->port();
    o.root_name = name;
    links.push_back(std::make_unique<cl::node_connector>(io.get_executor(), o));
    links.back()->on_connected([this](const cl::node_connector::link_ptr& l) {
      game.backend().attach(l);
    });
    links.back()->start();
    return *gateways.back();
  }

  asio::awaitable<void> linked() {
    BOOST_REQUIRE(co_await wait_until([&] { return game.backend().gateway_count() == gateways.size(); }, 10s));
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(backend, fixture)

BOOST_AUTO_TEST_CASE(a_forwarded_request_runs_against_the_session_and_user_of_its_envelope) {
  auto& net1 = add_gateway("net1");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked();
    auto r = co_await net1.forward<routetest::cmd::whoami>({}, 77, 5);
    BOOST_REQUIRE(r);
    BOOST_TEST(r->served_by == "game1");
    BOOST_TEST(r->session == 77u);
    BOOST_TEST(r->user == 5u);
    BOOST_TEST(game.backend().session_count() == 1u);
  }());
}

BOOST_AUTO_TEST_CASE(a_handlers_game_error_and_an_unknown_command_come_back_as_error_frames) {
  auto& net1 = add_gateway("net1");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked();
    auto refused = co_await net1.forward<routetest::cmd::refuse>({}, 1);
    BOOST_REQUIRE(!refused);
    BOOST_TEST(refused.error().status == 1001u);
    auto l = net1.root->find("game1");
    auto t = l->forward(999, ember::codec::encoding::binary, cl::route::envelope{1, 0, {}}, {}, 10s);
    BOOST_REQUIRE(t);
    const auto f = co_await (*t)->wait();
    BOOST_TEST(f.status == std::uint16_t(ember::status::unknown_command));
  }());
}

BOOST_AUTO_TEST_CASE(what_a_handler_does_to_its_session_reaches_the_gateway_in_order) {
  auto& net1 = add_gateway("net1");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked();
    BOOST_REQUIRE(co_await net1.forward<routetest::cmd::script>({}, 31, 0, ember::codec::encoding::json));
    BOOST_REQUIRE(co_await wait_until([&] { return net1.ops.size() == 5; }, 10s));
    using kind = msg::session_op_kind;
    std::vector<kind> kinds;
    for (auto& op : net1.ops) {
      kinds.push_back(op.op);
      BOOST_TEST(op.session == 31u);
    }
    BOOST_TEST((kinds == std::vector<kind>{kind::join, kind::set_attribute, kind::push,
                                          kind::bind_user, kind::close}));
    BOOST_TEST(net1.ops[0].group == "a");
    BOOST_TEST(net1.ops[1].key == "k");
    BOOST_TEST(net1.ops[1].value == "v");
    // The push is in the encoding the envelope asked for (JSON here).
    routetest::note n;
    BOOST_TEST(!ember::codec::decode(net1.ops[2].body, ember::codec::encoding::json, n));
    BOOST_TEST(n.text == "hello");
    BOOST_TEST(net1.ops[2].push_id == routetest::note::push_id);
    BOOST_TEST(net1.ops[3].user == 9u);
    BOOST_TEST(net1.ops[3].stamp > 0u);
    BOOST_TEST(net1.ops[4].reason == "done");
  }());
}

BOOST_AUTO_TEST_CASE(binding_a_user_claims_it_on_every_other_gateway_with_the_same_stamp) {
  auto& net1 = add_gateway("net1");
  auto& net2 = add_gateway("net2");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked();
    BOOST_REQUIRE(co_await net1.forward<routetest::cmd::login>({42, false}, 3));
    BOOST_REQUIRE(co_await wait_until([&] { return !net2.claims.empty(); }, 10s));
    BOOST_REQUIRE(net1.ops.size() == 1u);
    BOOST_TEST((net1.ops[0].op == msg::session_op_kind::bind_user));
    BOOST_TEST(net2.claims[0].user == 42u);
    BOOST_TEST(net2.claims[0].stamp == net1.ops[0].stamp);
    BOOST_TEST(net1.claims.empty());  // the session's own gateway binds, it is not claimed
    BOOST_TEST(net2.ops.empty());
  }());
}

BOOST_AUTO_TEST_CASE(pushes_to_a_user_and_broadcasts_reach_every_gateway_in_both_encodings) {
  auto& net1 = add_gateway("net1");
  auto& net2 = add_gateway("net2");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked();
    game.backend().push_to_user(7, routetest::note{"to seven"});
    game.backend().broadcast("room", routetest::said{"to the room"});
    BOOST_REQUIRE(co_await wait_until([&] {
      return net1.pushes.size() == 1 && net2.pushes.size() == 1 && net1.broadcasts.size() == 1 &&
             net2.broadcasts.size() == 1;
    }, 10s));
    for (auto* g : {&net1, &net2}) {
      const auto& p = g->pushes[0];
      BOOST_TEST(p.user == 7u);
      BOOST_TEST(p.push_id == routetest::note::push_id);
      routetest::note binary, json;
      BOOST_TEST(!ember::codec::decode(p.binary, ember::codec::encoding::binary, binary));
      BOOST_TEST(!ember::codec::decode(p.json, ember::codec::encoding::json, json));
      BOOST_TEST(binary.text == "to seven");
      BOOST_TEST(json.text == "to seven");
      const auto& b = g->broadcasts[0];
      BOOST_TEST(b.group == "room");
      routetest::said s;
      BOOST_TEST(!ember::codec::decode(b.json, ember::codec::encoding::json, s));
      BOOST_TEST(s.text == "to the room");
    }
  }());
}

BOOST_AUTO_TEST_CASE(one_players_ordered_requests_run_one_at_a_time_in_arrival_order) {
  auto& net1 = add_gateway("net1");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked();
    // Sent at once; the first waits longest, yet each starts only when the one before ended.
    std::vector<std::shared_ptr<cl::link::reply_ticket>> tickets;
    for (std::uint32_t n : {1u, 2u, 3u})
      tickets.push_back(net1.send<routetest::cmd::step>({n, 60u - 20u * n}, 10 + n, 5));
    for (auto& t : tickets) BOOST_TEST(!(co_await t->wait()).code);
    BOOST_TEST((game.steps == std::vector<std::uint32_t>{1, 2, 3}));
  }());
}

BOOST_AUTO_TEST_CASE(a_retry_with_the_same_request_id_is_answered_with_the_first_reply_and_not_run) {
  auto& net1 = add_gateway("net1");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked();
    constexpr auto binary = ember::codec::encoding::binary;
    auto first = net1.send<routetest::cmd::step>({1, 0}, 10, 5, binary, 0xabc);
    BOOST_REQUIRE(!(co_await first->wait()).code);
    const std::vector<std::byte> reply(first->body().begin(), first->body().end());
    // The retry asks for another step; it is the same request (same id): the first reply.
    auto retry = net1.send<routetest::cmd::step>({2, 0}, 10, 5, binary, 0xabc);
    BOOST_REQUIRE(!(co_await retry->wait()).code);
    BOOST_TEST(std::vector<std::byte>(retry->body().begin(), retry->body().end()) == reply);
    BOOST_TEST((game.steps == std::vector<std::uint32_t>{1}));
    BOOST_TEST(game.backend().replayed() == 1u);
    // Another id is another request.
    auto other = net1.send<routetest::cmd::step>({3, 0}, 10, 5, binary, 0xabd);
    BOOST_REQUIRE(!(co_await other->wait()).code);
    BOOST_TEST((game.steps == std::vector<std::uint32_t>{1, 3}));
  }());
}

BOOST_AUTO_TEST_CASE(a_retry_that_arrives_while_the_first_runs_waits_for_its_reply) {
  auto& net1 = add_gateway("net1");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked();
    constexpr auto binary = ember::codec::encoding::binary;
    // The first still runs (it sleeps) when its retry arrives, as after a gateway's timeout.
    auto first = net1.send<routetest::cmd::step>({1, 300}, 10, 5, binary, 77);
    auto retry = net1.send<routetest::cmd::step>({1, 300}, 10, 5, binary, 77);
    BOOST_REQUIRE(!(co_await retry->wait()).code);
    BOOST_REQUIRE(!(co_await first->wait()).code);
    routetest::step_reply a, b;
    BOOST_REQUIRE(!ember::codec::decode(first->body(), binary, a));
    BOOST_REQUIRE(!ember::codec::decode(retry->body(), binary, b));
    BOOST_TEST(a.n == 1u);
    BOOST_TEST(b.n == 1u);
    BOOST_TEST((game.steps == std::vector<std::uint32_t>{1}));  // ran once
  }());
}

BOOST_AUTO_TEST_CASE(a_retry_of_a_request_that_failed_gets_the_same_error_and_ids_are_per_player) {
  auto& net1 = add_gateway("net1");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked();
    constexpr auto binary = ember::codec::encoding::binary;
    auto first = net1.send<routetest::cmd::refuse>({}, 10, 5, binary, 9);
    auto f1 = co_await first->wait();
    auto retry = net1.send<routetest::cmd::refuse>({}, 10, 5, binary, 9);
    auto f2 = co_await retry->wait();
    BOOST_TEST(f1.status == f2.status);
    BOOST_TEST(f1.message == f2.message);
    BOOST_TEST(game.backend().replayed() == 1u);
    // Another player's request with a taken id runs (nobody reads someone else's reply).
    auto mine = net1.send<routetest::cmd::step>({4, 0}, 20, 6, binary, 0x5eed);
    BOOST_REQUIRE(!(co_await mine->wait()).code);
    auto theirs = net1.send<routetest::cmd::step>({5, 0}, 21, 7, binary, 0x5eed);
    BOOST_REQUIRE(!(co_await theirs->wait()).code);
    BOOST_TEST((game.steps == std::vector<std::uint32_t>{4, 5}));
  }());
}

BOOST_AUTO_TEST_CASE(the_reply_memory_is_bounded_in_count_and_age_and_keeps_what_still_runs) {
  cl::reply_cache c({3, std::chrono::milliseconds(60'000)});
  c.start(1, 5, 1, 1);  // still running
  for (std::uint64_t id = 2; id <= 5; ++id) c.start(id, 5, 1, 1).done = true;
  BOOST_TEST(c.size() == 3u);
  BOOST_TEST(c.find(1) != nullptr);  // running: kept past the bound
  BOOST_TEST(c.find(2) == nullptr);  // the oldest done ones are forgotten first
  BOOST_TEST(c.find(3) == nullptr);
  BOOST_TEST(c.find(4) != nullptr);
  BOOST_TEST(c.find(5) != nullptr);
  cl::reply_cache young({100, std::chrono::milliseconds(1)});
  young.start(9, 5, 1, 1).done = true;
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  BOOST_TEST(young.find(9) == nullptr);  // too old to answer a retry with
  young.start(10, 5, 1, 1);
  BOOST_TEST(young.size() == 1u);  // and dropped at the next start
}

BOOST_AUTO_TEST_CASE(a_command_that_opted_out_runs_each_retry_again) {
  auto& net1 = add_gateway("net1");
  game.run_step_retries();
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked();
    constexpr auto binary = ember::codec::encoding::binary;
    for (std::uint32_t n : {1u, 2u}) {
      auto t = net1.send<routetest::cmd::step>({n, 0}, 10, 5, binary, 0xabc);
      BOOST_REQUIRE(!(co_await t->wait()).code);
    }
    BOOST_TEST((game.steps == std::vector<std::uint32_t>{1, 2}));
    BOOST_TEST(game.backend().replayed() == 0u);
  }());
}

BOOST_AUTO_TEST_CASE(a_forwarded_request_s_deadline_reaches_the_handler_s_session) {
  auto& net1 = add_gateway("net1");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked();
    // `send` forwards with a 10 s deadline: the backend's calls made for it get less.
    auto t = net1.send<routetest::cmd::whoami>({}, 30, 8);
    BOOST_REQUIRE(!(co_await t->wait()).code);
    // 10 s less a fifth as the margin, less what passed on the way.
    BOOST_TEST(game.budget.count() <= 8'000);
    BOOST_TEST(game.budget.count() > 1'000);
    // It is on the handler's executor too, for what the handler calls (the data layer's
    // reads): of a command that overlaps (whoami), and of one in its player's queue (step).
    BOOST_TEST(game.executor_deadline.has_value());
    BOOST_TEST((game.executor_deadline == game.session_deadline));
    // The step's own: its 10 s, where the session's is the earliest not passed (whoami's).
    game.executor_deadline.reset();
    const auto sent = std::chrono::steady_clock::now();
    auto step = net1.send<routetest::cmd::step>({1, 0}, 30, 8);
    BOOST_REQUIRE(!(co_await step->wait()).code);
    BOOST_REQUIRE(game.executor_deadline.has_value());
    BOOST_TEST((*game.executor_deadline >= *game.session_deadline));
    BOOST_TEST((*game.executor_deadline > sent + 5s));
  }());
}

BOOST_AUTO_TEST_CASE(different_players_requests_overlap) {
  auto& net1 = add_gateway("net1");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked();
    // User 1's step waits far longer than user 2's: user 2's finishes first.
    std::vector<std::shared_ptr<cl::link::reply_ticket>> tickets;
    tickets.push_back(net1.send<routetest::cmd::step>({1, 1'000}, 1, 1));
    tickets.push_back(net1.send<routetest::cmd::step>({2, 0}, 2, 2));
    for (auto& t : tickets) BOOST_TEST(!(co_await t->wait()).code);
    BOOST_TEST((game.steps == std::vector<std::uint32_t>{2, 1}));
  }());
}

BOOST_AUTO_TEST_CASE(session_closed_from_the_gateway_ends_the_session_and_runs_the_callbacks) {
  auto& net1 = add_gateway("net1");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked();
    BOOST_REQUIRE(co_await net1.forward<routetest::cmd::whoami>({}, 21, 4));
    BOOST_REQUIRE(co_await net1.forward<routetest::cmd::whoami>({}, 22, 0));
    BOOST_TEST(game.backend().session_count() == 2u);
    auto l = net1.root->find("game1");
    const auto body = cl::detail::encoded(msg::session_closed{21, 4});
    BOOST_TEST(!l->notify_bytes(std::uint16_t(cl::route::notify_id::session_closed), body.view()));
    BOOST_REQUIRE(co_await wait_until([&] { return game.backend().session_count() == 1; }, 10s));
    BOOST_TEST((game.closed == std::vector<std::uint64_t>{21}));
  }());
}

BOOST_AUTO_TEST_CASE(a_gateway_link_that_drops_ends_its_sessions_only) {
  auto& net1 = add_gateway("net1");
  auto& net2 = add_gateway("net2");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked();
    BOOST_REQUIRE(co_await net1.forward<routetest::cmd::whoami>({}, 1));
    BOOST_REQUIRE(co_await net2.forward<routetest::cmd::whoami>({}, 2));
    links[0]->stop();
    BOOST_REQUIRE(co_await wait_until([&] { return game.closed.size() == 1; }, 10s));
    BOOST_TEST((game.closed == std::vector<std::uint64_t>{1}));
    BOOST_TEST(game.backend().session_count() == 1u);
    BOOST_TEST(game.backend().gateway_count() == 1u);
  }());
}

BOOST_AUTO_TEST_SUITE_END()
