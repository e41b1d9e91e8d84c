// Links on loopback: a real root and real nodes in one io_context, authenticated with the
// cluster secret, calling each other through generated handlers.
#include "ember/cluster/link.hpp"

#define BOOST_TEST_MODULE cluster_link
#include <boost/test/unit_test.hpp>

#include <set>

#include <asio/detached.hpp>

#include "ember/cluster/node.hpp"
#include "ember/cluster/root.hpp"
#include "linktest_client.hpp"
#include "linktest_server.hpp"
#include "support/run.hpp"

using namespace std::chrono_literals;
using ember::errc;
using ember::cluster::node_connector;
using ember::cluster::root;
using ember::test::run;
using ember::test::sleep;
using ember::test::wait_until;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr std::string_view secret = "correct horse battery staple";

// A game node's commands: echo (with a delay), failures, and a push back to the caller.
class game final : public linktest::game_handler {
 public:
  explicit game(std::string name) : name_(std::move(name)) {}
  asio::awaitable<linktest::echo_reply> echo(ember::net::session&, const linktest::echo_request& r) override {
    if (r.delay_ms) co_await sleep(std::chrono::milliseconds(r.delay_ms));
    co_return linktest::echo_reply{r.n, name_};
  }
  asio::awaitable<linktest::raise_error_reply> raise_error(
      ember::net::session&, const linktest::raise_error_request& r) override {
    if (r.internal) throw std::runtime_error("a bug in the handler");
    linktest::fail(linktest::error::refused);
    co_return linktest::raise_error_reply{};
  }
  asio::awaitable<linktest::poke_reply> poke(ember::net::session& s, const linktest::poke_request& r) override {
    s.push(linktest::poked{r.text});
    bool groups_refused = false;
    try {
      s.join("room");
    } catch (const std::logic_error&) {
      groups_refused = true;
    }
    if (!groups_refused) throw std::runtime_error("join worked on a link");
    co_return linktest::poke_reply{};
  }

 private:
  std::string name_;
};

// The gate root's command: sums what nodes report and says which link called.
class gate final : public linktest::gate_handler {
 public:
  asio::awaitable<linktest::report_reply> report(ember::net::session& s,
                                                 const linktest::report_request& r) override {
    total_ += r.online;
    co_return linktest::report_reply{total_, std::to_string(s.id())};
  }

 private:
  std::uint32_t total_ = 0;
};

struct fixture {
  asio::io_context io;
  gate gate_handler;
  std::vector<std::unique_ptr<game>> games;
  std::unique_ptr<root> gate_root;
  std::vector<std::unique_ptr<node_connector>> nodes;

  fixture() { make_root(0); }

  std::shared_ptr<const ember::net::dispatch_table> gate_commands() {
    auto t = std::make_shared<ember::net::dispatch_table>();
    linktest::register_commands(*t, gate_handler);
    return t;
  }

  root& make_root(std::uint16_t port, std::string_view with_secret = secret,
                  ember::cluster::link_options lo = {}) {
    ember::cluster::root_options o;
    o.name = "gate";
    o.secret = std::string(with_secret);
    o.port = port;
    o.link = lo;
    gate_root = std::make_unique<root>(io.get_executor(), o, gate_commands());
    gate_root->start();
    return *gate_root;
  }

  node_connector& make_node(std::string name, std::string type = "game",
                            std::string_view with_secret = secret, std::uint16_t port = 0) {
    games.push_back(std::make_unique<game>(name));
    auto t = std::make_shared<ember::net::dispatch_table>();
    linktest::register_commands(*t, *games.back());
    ember::cluster::node_options o;
    o.name = std::move(name);
    o.type = std::move(type);
    o.secret = std::string(with_secret);
    o.root_port = port ? port : gate_root->port();
    o.root_name = "gate";
    o.max_backoff = 300ms;
    nodes.push_back(std::make_unique<node_connector>(io.get_executor(), o, t));
    nodes.back()->start();
    return *nodes.back();
  }

  // A node that has joined the root.
  asio::awaitable<node_connector*> joined(std::string name, std::string type = "game") {
    auto& n = make_node(name, type);
    BOOST_REQUIRE(co_await wait_until([&] { return n.connected() && gate_root->find(name); }, 5s));
    co_return &n;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(links, fixture)

BOOST_AUTO_TEST_CASE(a_node_authenticates_and_registers_with_its_root) {
  std::vector<std::string> joins, leaves;
  gate_root->on_join([&](const root::link_ptr& l) { joins.push_back(l->peer().name); });
  gate_root->on_leave([&](const root::link_ptr& l) { leaves.push_back(l->peer().name); });
  run(io, [&]() -> asio::awaitable<void> {
    auto* n = co_await joined("game1");
    auto l = gate_root->find("game1");
    BOOST_TEST(l->peer().type == "game");
    BOOST_TEST(gate_root->of_type("game").size() == 1u);
    BOOST_TEST(gate_root->of_type("chat").empty());
    BOOST_TEST(n->current()->peer().name == "gate");
    BOOST_TEST(joins == std::vector<std::string>{"game1"});
    n->stop();
    BOOST_TEST(co_await wait_until([&] { return !leaves.empty(); }, 2s));
    BOOST_TEST(leaves == std::vector<std::string>{"game1"});
    BOOST_TEST(!gate_root->find("game1"));
  }());
}

BOOST_AUTO_TEST_CASE(a_node_with_the_wrong_secret_is_refused_and_logged) {
  std::vector<ember::cluster::refusal> refused;
  gate_root->on_refused([&](const ember::cluster::refusal& r) { refused.push_back(r); });
  run(io, [&]() -> asio::awaitable<void> {
    auto& n = make_node("intruder", "game", "wrong secret");
    BOOST_TEST(co_await wait_until([&] { return !refused.empty(); }, 5s));
    BOOST_TEST(refused.at(0).name == "intruder");
    BOOST_TEST(refused.at(0).address.find("127.0.0.1") == 0u);
    BOOST_TEST(refused.at(0).reason.find("MAC") != std::string::npos);
    BOOST_TEST(!n.connected());
    BOOST_TEST(gate_root->size() == 0u);
  }());
}

BOOST_AUTO_TEST_CASE(a_root_with_the_wrong_secret_is_refused_by_the_node) {
  namespace cl = ember::cluster;
  // A fake root that knows the protocol but not the secret: it signs with another key.
  asio::ip::tcp::acceptor fake(io, {asio::ip::make_address("127.0.0.1"), 0});
  bool fake_done = false;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    auto s = co_await fake.async_accept(asio::use_awaitable);
    cl::auth_challenge c;
    c.challenge = cl::random_nonce();
    co_await cl::detail::write_auth_frame(s, cl::auth_step::challenge, c);
    ember::buffer body;
    BOOST_TEST((co_await cl::detail::read_auth_frame(s, cl::auth_step::hello, body)).empty());
    auto hello = cl::auth_hello::decode(body.view());
    BOOST_REQUIRE(hello);
    cl::auth_accept a;
    a.root_name = "gate";
    a.mac = cl::root_mac(cl::derive_link_key("wrong secret"), c.challenge, hello->nonce, "gate");
    co_await cl::detail::write_auth_frame(s, cl::auth_step::accept, a);
    co_await sleep(200ms);
    fake_done = true;
  }, asio::detached);
  std::vector<cl::refusal> refused;
  run(io, [&]() -> asio::awaitable<void> {
    auto& n = make_node("game1", "game", secret, fake.local_endpoint().port());
    n.on_refused([&](const cl::refusal& r) { refused.push_back(r); });
    BOOST_TEST(co_await wait_until([&] { return !refused.empty(); }, 5s));
    BOOST_TEST(refused.at(0).reason.find("root failed authentication") != std::string::npos);
    BOOST_TEST(!n.connected());
    BOOST_TEST(n.connections() == 0u);
    co_await wait_until([&] { return fake_done; }, 2s);
    n.stop();
  }());
}

BOOST_AUTO_TEST_CASE(a_peer_that_never_authenticates_is_dropped_after_the_auth_timeout) {
  ember::cluster::link_options lo;
  lo.auth_timeout = 100ms;
  make_root(0, secret, lo);
  std::vector<ember::cluster::refusal> refused;
  gate_root->on_refused([&](const ember::cluster::refusal& r) { refused.push_back(r); });
  run(io, [&]() -> asio::awaitable<void> {
    asio::ip::tcp::socket silent(io);
    co_await silent.async_connect({asio::ip::make_address("127.0.0.1"), gate_root->port()},
                                  asio::use_awaitable);
    const auto start = clock_type::now();
    BOOST_TEST(co_await wait_until([&] { return !refused.empty(); }, 2s));
    // Dropped by the 100 ms timeout (a margin for a busy machine; the wait above allows 2 s).
    BOOST_TEST((clock_type::now() - start < 1100ms));
    BOOST_TEST(refused.at(0).reason == "authentication timed out");
    BOOST_TEST(gate_root->size() == 0u);
  }());
}

BOOST_AUTO_TEST_CASE(a_second_node_with_the_same_name_replaces_the_first) {
  std::vector<std::uint64_t> left;
  gate_root->on_leave([&](const root::link_ptr& l) { left.push_back(l->id()); });
  run(io, [&]() -> asio::awaitable<void> {
    auto* first = co_await joined("game1");
    // The first would come back and replace the second in turn: stop it when it is dropped.
    first->on_disconnected([first](std::error_code) { first->stop(); });
    const auto old_id = gate_root->find("game1")->id();
    auto& second = make_node("game1");
    BOOST_TEST(co_await wait_until([&] {
      return second.connected() && gate_root->find("game1") && gate_root->find("game1")->id() != old_id;
    }, 5s));
    BOOST_TEST(co_await wait_until([&] { return !first->connected(); }, 2s));
    BOOST_TEST(left == std::vector<std::uint64_t>{old_id});
    BOOST_TEST(gate_root->size() == 1u);
    auto r = co_await gate_root->call<linktest::cmd::echo>("game1", {3, 0, ""});
    BOOST_REQUIRE(r);
    BOOST_TEST(r->n == 3u);
  }());
}

BOOST_AUTO_TEST_CASE(typed_calls_go_both_ways_and_reach_generated_handlers) {
  run(io, [&]() -> asio::awaitable<void> {
    auto* n = co_await joined("game1");
    auto down = co_await gate_root->call<linktest::cmd::echo>("game1", {7, 0, "x"});
    BOOST_REQUIRE(down);
    BOOST_TEST(down->n == 7u);
    BOOST_TEST(down->from == "game1");

    auto up = co_await n->call<linktest::cmd::report>(linktest::report_request{5});
    BOOST_REQUIRE(up);
    BOOST_TEST(up->total == 5u);
    BOOST_TEST(up->caller == std::to_string(gate_root->find("game1")->id()));

    // A handler's push comes back to the caller as a notify; groups are refused on a link.
    std::vector<std::string> pokes;
    gate_root->find("game1")->on_notify(linktest::poked::push_id, [&](ember::bytes_view b, ember::codec::encoding e) {
      linktest::poked p;
      if (!ember::codec::decode(b, e, p)) pokes.push_back(p.text);
    });
    auto poke = co_await gate_root->call<linktest::cmd::poke>("game1", linktest::poke_request{"hey"});
    BOOST_TEST(poke.has_value());
    BOOST_TEST(pokes == std::vector<std::string>{"hey"});
  }());
}

BOOST_AUTO_TEST_CASE(a_thousand_calls_in_flight_on_one_link_are_correlated) {
  run(io, [&]() -> asio::awaitable<void> {
    co_await joined("game1");
    auto l = gate_root->find("game1");
    constexpr std::uint32_t count = 1000;
    std::uint32_t done = 0, right = 0;
    // Every call waits long enough for all to be sent first; replies come back shuffled.
    for (std::uint32_t i = 1; i <= count; ++i) {
      asio::co_spawn(io, [&, l, i]() -> asio::awaitable<void> {
        auto r = co_await l->call<linktest::cmd::echo>({i, 500 + (i * 37) % 100, ""});
        if (r && r->n == i) ++right;
        ++done;
      }, asio::detached);
    }
    BOOST_TEST(co_await wait_until([&] { return l->in_flight() == count; }, 2s));
    BOOST_TEST(co_await wait_until([&] { return done == count; }, 10s));
    BOOST_TEST(right == count);
    BOOST_TEST(l->in_flight() == 0u);
  }());
}

BOOST_AUTO_TEST_CASE(a_call_past_its_deadline_fails_with_timeout_and_its_late_reply_is_dropped) {
  run(io, [&]() -> asio::awaitable<void> {
    co_await joined("game1");
    auto l = gate_root->find("game1");
    const auto start = clock_type::now();
    auto late = co_await l->call<linktest::cmd::echo>({1, 300, ""}, {100ms});
    const auto took = clock_type::now() - start;
    BOOST_REQUIRE(!late);
    BOOST_TEST(late.error().code == errc::timeout);
    BOOST_TEST((took >= 100ms));
    BOOST_TEST((took < 1100ms));  // the deadline, not the 300 ms reply (margin for a busy machine)
    // The next call is in flight when the first one's reply arrives; it gets its own.
    auto next = co_await l->call<linktest::cmd::echo>({2, 400, ""}, {2s});
    BOOST_REQUIRE(next);
    BOOST_TEST(next->n == 2u);
    BOOST_TEST(l->is_open());
  }());
}

BOOST_AUTO_TEST_CASE(closing_the_peer_fails_every_call_in_flight_with_outcome_unknown_at_once) {
  run(io, [&]() -> asio::awaitable<void> {
    auto* n = co_await joined("game1");
    auto l = gate_root->find("game1");
    std::vector<std::error_code> results;
    for (std::uint32_t i = 1; i <= 20; ++i) {
      asio::co_spawn(io, [&, l, i]() -> asio::awaitable<void> {
        auto r = co_await l->call<linktest::cmd::echo>({i, 5'000, ""}, {10s});
        results.push_back(r ? std::error_code{} : r.error().code);
      }, asio::detached);
    }
    co_await wait_until([&] { return l->in_flight() == 20u; }, 2s);
    BOOST_TEST(l->in_flight() == 20u);
    const auto start = clock_type::now();
    n->stop();
    BOOST_TEST(co_await wait_until([&] { return results.size() == 20u; }, 2s));
    BOOST_TEST((clock_type::now() - start < 1s));  // at once, not at the calls' 10 s deadline
    // Sent before the peer went: they may have run (disconnected, status outcome_unknown),
    // unlike a call that finds no link (unavailable: not run).
    for (auto ec : results) {
      BOOST_TEST(ec == errc::disconnected);
      BOOST_TEST((ember::status_of(ec) == ember::status::outcome_unknown));
    }
    // Without a link a call fails at once, too.
    auto none = co_await gate_root->call<linktest::cmd::echo>("game1", {1, 0, ""});
    BOOST_REQUIRE(!none);
    BOOST_TEST(none.error().code == errc::unavailable);
    auto up = co_await n->call<linktest::cmd::report>(linktest::report_request{1});
    BOOST_REQUIRE(!up);
    BOOST_TEST(up.error().code == errc::unavailable);
  }());
}

BOOST_AUTO_TEST_CASE(a_full_outgoing_queue_fails_a_call_with_overloaded_at_once_and_the_link_stays_up) {
  ember::cluster::link_options lo;
  lo.max_queue = 4096;
  make_root(0, secret, lo);
  run(io, [&]() -> asio::awaitable<void> {
    co_await joined("game1");
    auto l = gate_root->find("game1");
    const std::string big(3000, 'x');
    std::optional<ember::outcome<linktest::echo_reply>> first, second;
    clock_type::time_point second_at{};
    // Both calls start in the same round: the first fills the queue before any write.
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      first.emplace(co_await l->call<linktest::cmd::echo>({1, 0, big}));
    }, asio::detached);
    const auto start = clock_type::now();
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      second.emplace(co_await l->call<linktest::cmd::echo>({2, 0, big}));
      second_at = clock_type::now();
    }, asio::detached);
    BOOST_TEST(co_await wait_until([&] { return first && second; }, 5s));
    BOOST_REQUIRE(!*second);
    BOOST_TEST(second->error().code == errc::overloaded);
    BOOST_TEST((second_at - start < 1s));  // refused at once, not after a wait for room
    BOOST_REQUIRE(*first);
    BOOST_TEST((*first)->n == 1u);
    BOOST_TEST(l->is_open());
    auto again = co_await l->call<linktest::cmd::echo>({3, 0, big});
    BOOST_REQUIRE(again);
    BOOST_TEST(again->n == 3u);
  }());
}

BOOST_AUTO_TEST_CASE(a_node_reconnects_by_itself_after_its_root_is_recreated_on_the_same_port) {
  run(io, [&]() -> asio::awaitable<void> {
    auto* n = co_await joined("game1");
    int disconnects = 0;
    n->on_disconnected([&](std::error_code) { ++disconnects; });
    const auto port = gate_root->port();
    gate_root.reset();
    BOOST_TEST(co_await wait_until([&] { return disconnects == 1 && !n->connected(); }, 2s));
    co_await sleep(100ms);  // the node tries (and fails) while no root listens
    make_root(port);
    BOOST_TEST(co_await wait_until([&] { return gate_root->find("game1") && n->connected(); }, 5s));
    BOOST_TEST(n->connections() == 2u);
    auto r = co_await gate_root->call<linktest::cmd::echo>("game1", {9, 0, ""});
    BOOST_REQUIRE(r);
    BOOST_TEST(r->n == 9u);
  }());
}

BOOST_AUTO_TEST_CASE(fan_out_to_all_children_of_a_type_gathers_every_reply) {
  run(io, [&]() -> asio::awaitable<void> {
    co_await joined("game1");
    co_await joined("game2");
    co_await joined("game3");
    co_await joined("chat1", "chat");
    auto all = co_await gate_root->call_all<linktest::cmd::echo>("game", {4, 20, ""});
    BOOST_REQUIRE(all.size() == 3u);
    std::set<std::string> from;
    for (auto& r : all) {
      BOOST_REQUIRE(r);
      BOOST_TEST(r->n == 4u);
      from.insert(r->from);
    }
    BOOST_TEST((from == std::set<std::string>{"game1", "game2", "game3"}));
    // Any child of a type: taken in turn.
    std::set<std::string> any;
    for (std::uint32_t i = 0; i < 3; ++i) {
      auto r = co_await gate_root->call_any<linktest::cmd::echo>("game", {i, 0, ""});
      BOOST_REQUIRE(r);
      any.insert(r->from);
    }
    BOOST_TEST(any.size() == 3u);
    auto none = co_await gate_root->call_all<linktest::cmd::echo>("auth", {1, 0, ""});
    BOOST_TEST(none.empty());
    auto no_any = co_await gate_root->call_any<linktest::cmd::echo>("auth", {1, 0, ""});
    BOOST_TEST(no_any.error().code == errc::unavailable);
  }());
}

BOOST_AUTO_TEST_CASE(a_handlers_game_error_arrives_as_remote_error_with_its_status_and_message) {
  run(io, [&]() -> asio::awaitable<void> {
    co_await joined("game1");
    auto r = co_await gate_root->call<linktest::cmd::raise_error>("game1", linktest::raise_error_request{false});
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.error().code == errc::remote_error);
    BOOST_TEST(r.error().status == 1001u);
    BOOST_TEST(r.error().message == "the handler refused");
    auto bug = co_await gate_root->call<linktest::cmd::raise_error>("game1", linktest::raise_error_request{true});
    BOOST_REQUIRE(!bug);
    BOOST_TEST(bug.error().code == errc::remote_error);
    BOOST_TEST(bug.error().status == static_cast<std::uint16_t>(ember::status::internal_error));
    // A command the peer does not serve: the gate serves no `echo`.
    auto unknown = co_await nodes.back()->call<linktest::cmd::echo>({1, 0, ""});
    BOOST_REQUIRE(!unknown);
    BOOST_TEST(unknown.error().status == static_cast<std::uint16_t>(ember::status::unknown_command));
    BOOST_TEST(gate_root->find("game1")->is_open());
  }());
}

BOOST_AUTO_TEST_SUITE_END()
