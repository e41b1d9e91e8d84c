// Player ownership on loopback: a real owner registry on a root, and backends that acquire,
// release and reclaim players over real authenticated links.
#include "ember/cluster/ownership.hpp"

#define BOOST_TEST_MODULE cluster_ownership
#include <boost/test/unit_test.hpp>

#include <map>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>

#include "ember/cluster/detail/cluster_wire.hpp"
#include "support/run.hpp"
#include "support/tcp_proxy.hpp"

using namespace std::chrono_literals;
namespace cl = ember::cluster;
using ember::status;
using ember::test::run;
using ember::test::sleep;
using ember::test::wait_until;

namespace {

constexpr std::string_view secret = "ownership suite secret";

// A backend: its link to the registry and its side of ownership, with a log of what it did.
struct owner {
  std::unique_ptr<cl::node_connector> node;
  std::unique_ptr<cl::player_ownership> players;
  std::chrono::milliseconds save_time{0};  // how long on_release takes to "save"
  std::string save_fails;                   // set: saving fails with this (memcached down)
  std::vector<std::string>* events = nullptr;
  std::string name;
};

struct fixture {
  asio::io_context io;
  std::uint16_t port = 0;
  std::unique_ptr<cl::root> gate;
  std::unique_ptr<cl::owner_registry> registry;
  std::map<std::string, owner> owners;
  std::vector<std::string> events;  // what owners did and got, in order
  std::chrono::milliseconds lease = 10s;

  void start_registry(std::set<std::string> expected = {},
                      std::chrono::milliseconds release_timeout = 5s) {
    registry.reset();
    gate.reset();
    cl::root_options o;
    o.name = "gate";
    o.secret = std::string(secret);
    o.port = port;
    gate = std::make_unique<cl::root>(io.get_executor(), o);
    registry = std::make_unique<cl::owner_registry>(io.get_executor(), *gate, std::move(expected),
                                                    lease, release_timeout);
    gate->start();
    port = gate->port();
  }

  // `via`: the port to connect to (a proxy in front of the root), else the root's.
  owner& add_owner(const std::string& name, std::uint16_t via = 0) {
    auto& o = owners[name];
    o.name = name;
    o.events = &events;
    cl::node_options no;
    no.name = name;
    no.type = "game";
    no.secret = std::string(secret);
    no.root_port = via ? via : port;
    no.root_name = "gate";
    no.min_backoff = 20ms;
    no.max_backoff = 100ms;
    o.node = std::make_unique<cl::node_connector>(io.get_executor(), no);
    o.players = std::make_unique<cl::player_ownership>(io.get_executor(), *o.node, lease);
    o.players->on_release([&o](std::uint64_t user) -> asio::awaitable<void> {
      if (o.save_time.count()) co_await sleep(o.save_time);
      if (!o.save_fails.empty())
        throw std::system_error(make_error_code(ember::errc::unavailable), o.save_fails);
      o.events->push_back(o.name + " released " + std::to_string(user));
    });
    o.node->start();
    return o;
  }

  // Both ends: the root has `n` links, and every owner's node has finished its handshake
  // (the node learns it after the root does, later still through a proxy).
  asio::awaitable<void> linked(std::size_t n) {
    BOOST_REQUIRE(co_await wait_until([&] {
      if (gate->size() != n) return false;
      for (const auto& [name, o] : owners)
        if (o.node && !o.node->connected()) return false;
      return true;
    }, 10s));
  }

  asio::awaitable<bool> acquire(owner& o, std::uint64_t user) {
    auto r = co_await o.players->acquire(user);
    events.push_back(o.name + (r ? " acquired " : " refused ") + std::to_string(user));
    co_return bool(r);
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(ownership, fixture)

BOOST_AUTO_TEST_CASE(the_first_backend_to_acquire_a_player_owns_it) {
  start_registry();
  auto& game1 = add_owner("game1");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked(1);
    BOOST_TEST(co_await acquire(game1, 42));
    BOOST_TEST(game1.players->owns(42));
    BOOST_TEST(registry->owner_of(42) == "game1");
    BOOST_TEST(co_await acquire(game1, 42));  // again: at once, still the owner
    BOOST_TEST(registry->size() == 1u);
  }());
}

BOOST_AUTO_TEST_CASE(a_player_moves_only_after_its_owner_saved_and_released_it) {
  start_registry();
  auto& game1 = add_owner("game1");
  auto& game2 = add_owner("game2");
  game1.save_time = 50ms;
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked(2);
    BOOST_REQUIRE(co_await acquire(game1, 42));
    BOOST_TEST(co_await acquire(game2, 42));
    BOOST_TEST((events == std::vector<std::string>{"game1 acquired 42", "game1 released 42",
                                                  "game2 acquired 42"}));
    BOOST_TEST(!game1.players->owns(42));
    BOOST_TEST(game2.players->owns(42));
    BOOST_TEST(registry->owner_of(42) == "game2");
  }());
}

BOOST_AUTO_TEST_CASE(an_owner_that_does_not_release_in_time_keeps_the_player_and_the_other_is_refused) {
  start_registry({}, 200ms);
  auto& game1 = add_owner("game1");
  auto& game2 = add_owner("game2");
  game1.save_time = 2s;  // ten times the registry's release timeout
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked(2);
    BOOST_REQUIRE(co_await acquire(game1, 42));
    auto r = co_await game2.players->acquire(42);
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.error().status == std::uint16_t(status::unavailable));
    BOOST_TEST(r.error().message.find("did not release") != std::string::npos);
    BOOST_TEST(!game2.players->owns(42));
    BOOST_TEST(registry->owner_of(42) == "game1");
  }());
}

BOOST_AUTO_TEST_CASE(a_released_player_is_forgotten_by_the_registry) {
  start_registry();
  auto& game1 = add_owner("game1");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked(1);
    BOOST_REQUIRE(co_await acquire(game1, 42));
    game1.players->release(42);
    BOOST_TEST(!game1.players->owns(42));
    BOOST_TEST(co_await wait_until([&] { return registry->owner_of(42).empty(); }, 10s));
    BOOST_TEST(registry->size() == 0u);
  }());
}

BOOST_AUTO_TEST_CASE(a_lost_owners_players_are_held_for_the_lease_and_it_drops_them_itself) {
  lease = 600ms;
  start_registry();
  ember::test::tcp_proxy network(io, port);  // game1's way to the registry
  auto& game1 = add_owner("game1", network.port());
  auto& game2 = add_owner("game2");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked(2);
    BOOST_REQUIRE(co_await acquire(game1, 42));
    network.block(true);  // game1 loses its link and cannot come back
    network.cut();
    BOOST_REQUIRE(co_await wait_until([&] { return gate->size() == 1; }, 10s));
    // Within the lease the player stays with its lost owner.
    auto early = co_await game2.players->acquire(42);
    BOOST_REQUIRE(!early);
    BOOST_TEST(early.error().message.find("lease") != std::string::npos);
    // The lost owner saves and drops it after half the lease; after the lease it moves.
    BOOST_TEST(co_await wait_until([&] { return !game1.players->owns(42); }, 10s));
    bool moved = false;
    for (int i = 0; i < 100 && !moved; ++i) {
      moved = bool(co_await game2.players->acquire(42));
      if (!moved) co_await sleep(50ms);
    }
    BOOST_TEST(moved);
    BOOST_TEST(registry->owner_of(42) == "game2");
    BOOST_TEST(events.at(1) == "game1 released 42");
  }());
}

// The registry answers an acquire on the link it came by, and asks an owner to release on the
// owner's newest link: after a reconnect (a partition that healed) a grant can arrive after a
// release that superseded it. A registry of the test's own does that on one link: it asks
// game1 to release 42 while game1's acquire of 42 waits, then grants it. The grant is void —
// game1 does not own 42 and hears "not granted, retry" — or 42 would have two owners.
BOOST_AUTO_TEST_CASE(a_grant_that_arrives_after_a_release_of_the_same_player_is_void) {
  cl::root_options o;
  o.name = "gate";
  o.secret = std::string(secret);
  gate = std::make_unique<cl::root>(io.get_executor(), o);
  bool released = false;
  gate->on_join([&](const cl::root::link_ptr& l) {
    l->on_internal_request(std::uint16_t(cl::route::call_id::acquire), [&](cl::link& from, const ember::wire::frame& f) {
      asio::co_spawn(io, [&, l = from.shared_from_this(), command = std::uint16_t(f.command), seq = f.seq]()
                             -> asio::awaitable<void> {
        const cl::detail::msg::player body{42};
        auto r = co_await l->call(std::uint16_t(cl::route::call_id::release), ember::net::body_writer(body), 5s);
        released = r.has_value();
        l->reply_bytes(command, seq, {});
      }, asio::detached);
    });
  });
  gate->start();
  port = gate->port();
  auto& game1 = add_owner("game1");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked(1);
    auto r = co_await game1.players->acquire(42);
    BOOST_TEST(released);
    BOOST_REQUIRE(!r);
    BOOST_TEST((ember::status_of(r.error()) == status::unavailable));
    BOOST_TEST(r.error().message.find("moved it to another server meanwhile") != std::string::npos, r.error().message);
    BOOST_TEST(!game1.players->owns(42));
  }());
}

BOOST_AUTO_TEST_CASE(a_restarted_owner_frees_its_former_players_at_its_first_reclaim) {
  start_registry();  // a 10 s lease: a move before it ends comes from the reclaim
  auto& game1 = add_owner("game1");
  auto& game2 = add_owner("game2");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked(2);
    BOOST_REQUIRE(co_await acquire(game1, 42));
    BOOST_REQUIRE(co_await acquire(game1, 43));
    game1.players.reset();  // game1 crashes: its link drops, its memory is gone
    game1.node.reset();
    BOOST_REQUIRE(co_await wait_until([&] { return gate->size() == 1; }, 10s));
    auto early = co_await game2.players->acquire(42);
    BOOST_REQUIRE(!early);  // it may still be alive somewhere: held for the lease
    BOOST_TEST(early.error().message.find("lease") != std::string::npos);
    const auto restarted = std::chrono::steady_clock::now();
    add_owner("game1");  // the same name, holding nobody
    co_await linked(2);
    BOOST_TEST(co_await wait_until([&] { return registry->size() == 0; }, 5s));
    BOOST_TEST(co_await acquire(game2, 42));
    BOOST_TEST(co_await acquire(game2, 43));
    BOOST_TEST((std::chrono::steady_clock::now() - restarted < lease));
    BOOST_TEST(registry->owner_of(42) == "game2");
  }());
}

BOOST_AUTO_TEST_CASE(a_restarted_registry_learns_owners_back_from_reclaim) {
  start_registry({"game1"});
  auto& game1 = add_owner("game1");
  auto& game2 = add_owner("game2");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked(2);
    BOOST_REQUIRE(co_await acquire(game1, 42));
    BOOST_REQUIRE(co_await acquire(game1, 43));
    start_registry({"game1"});  // the same port, an empty registry
    BOOST_REQUIRE(co_await wait_until([&] { return registry->owner_of(43) == "game1"; }, 10s));
    BOOST_TEST(registry->owner_of(42) == "game1");
    BOOST_TEST(game1.players->owns(42));
    // game2 gets the player only through game1, whom the new registry knows as its owner.
    co_await linked(2);
    BOOST_TEST(co_await acquire(game2, 42));
    BOOST_TEST((events == std::vector<std::string>{"game1 acquired 42", "game1 acquired 43",
                                                  "game1 released 42", "game2 acquired 42"}));
  }());
}

BOOST_AUTO_TEST_CASE(a_restarted_registry_grants_nothing_new_until_expected_owners_reclaimed) {
  start_registry({"game1", "game9"});  // game9 never comes: the lease ends the wait
  auto& game2 = add_owner("game2");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked(1);
    auto r = co_await game2.players->acquire(5);
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.error().message.find("restarted") != std::string::npos);
  }());
}

// Failures of an acquire are typed and say who failed and why: `unavailable` when it was not
// granted, `outcome_unknown` when the registry got the request and did not answer (it may
// have granted it; acquiring again is safe) — never `internal_error`.
BOOST_AUTO_TEST_CASE(an_acquire_without_a_link_to_the_registry_is_unavailable_and_says_so) {
  start_registry();
  ember::test::tcp_proxy network(io, port);
  network.block(true);  // game1 never reaches the registry
  auto& game1 = add_owner("game1", network.port());
  run(io, [&]() -> asio::awaitable<void> {
    auto r = co_await game1.players->acquire(42);
    BOOST_REQUIRE(!r);
    BOOST_TEST((ember::status_of(r.error()) == status::unavailable));
    BOOST_TEST(r.error().message == "game1: acquiring player 42: no link to the owner registry; not granted, retry");
    BOOST_TEST(!game1.players->owns(42));
    BOOST_TEST(registry->size() == 0u);
  }());
}

// The registry waits for game1 to save and release (2 s); game2 waits 300 ms for the answer.
BOOST_AUTO_TEST_CASE(an_acquire_the_registry_does_not_answer_in_time_is_outcome_unknown_and_acquiring_again_works) {
  start_registry();
  auto& game1 = add_owner("game1");
  auto& game2 = add_owner("game2");
  game1.save_time = 2s;
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked(2);
    BOOST_REQUIRE(co_await acquire(game1, 42));
    auto r = co_await game2.players->acquire(42, 300ms);
    BOOST_REQUIRE(!r);
    BOOST_TEST((ember::status_of(r.error()) == status::outcome_unknown));
    BOOST_TEST((r.error().code == ember::errc::outcome_unknown));
    const auto& why = r.error().message;
    BOOST_TEST(why.find("game2: acquiring player 42: gate did not answer within 300 ms") == 0u, why);
    BOOST_TEST(why.find("the owner registry gate may have granted it") != std::string::npos, why);
    BOOST_TEST(!game2.players->owns(42));
    // It had: once game1 saved and released, the registry granted it, its answer dropped.
    BOOST_TEST(co_await wait_until([&] { return registry->owner_of(42) == "game2"; }, 10s));
    BOOST_TEST(!game1.players->owns(42));
    BOOST_TEST(co_await acquire(game2, 42));  // again: granted at once, no second owner
    BOOST_TEST(game2.players->owns(42));
    BOOST_TEST(registry->size() == 1u);
  }());
}

BOOST_AUTO_TEST_CASE(an_acquire_whose_link_drops_in_flight_is_outcome_unknown) {
  start_registry();
  ember::test::tcp_proxy network(io, port);  // game2's way to the registry
  auto& game1 = add_owner("game1");
  auto& game2 = add_owner("game2", network.port());
  game1.save_time = 2s;
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked(2);
    BOOST_REQUIRE(co_await acquire(game1, 42));
    ember::outcome<cl::acquired> r = ember::failure{};
    bool done = false;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      r = co_await game2.players->acquire(42, 10s);
      done = true;
    }, asio::detached);
    co_await sleep(100ms);  // the request reached the registry, which waits for game1
    network.cut();          // and game2's link drops under it
    BOOST_REQUIRE(co_await wait_until([&] { return done; }, 10s));
    BOOST_REQUIRE(!r);
    BOOST_TEST((ember::status_of(r.error()) == status::outcome_unknown));
    BOOST_TEST(r.error().message.find("game2: acquiring player 42: ") == 0u, r.error().message);
    BOOST_TEST(r.error().message.find("may have granted it") != std::string::npos, r.error().message);
    BOOST_TEST(!game2.players->owns(42));
  }());
}

BOOST_AUTO_TEST_CASE(an_owner_that_cannot_save_keeps_the_player_and_the_acquirer_hears_who_and_why) {
  start_registry();
  auto& game1 = add_owner("game1");
  auto& game2 = add_owner("game2");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked(2);
    BOOST_REQUIRE(co_await acquire(game1, 42));
    game1.save_fails = "memcached unreachable";
    auto r = co_await game2.players->acquire(42);
    BOOST_REQUIRE(!r);
    BOOST_TEST((ember::status_of(r.error()) == status::unavailable));
    const auto& why = r.error().message;
    BOOST_TEST(why.find("game2: acquiring player 42: game1 did not release player 42: "
                        "game1 could not save player 42 to release it: memcached unreachable") == 0u, why);
    BOOST_TEST(why.find("internal") == std::string::npos, why);
    BOOST_TEST(game1.players->owns(42));  // not saved: still game1's, and only game1's
    BOOST_TEST(!game2.players->owns(42));
    BOOST_TEST(registry->owner_of(42) == "game1");
    game1.save_fails.clear();  // memcached is back: the move goes through
    BOOST_TEST(co_await acquire(game2, 42));
    BOOST_TEST(registry->owner_of(42) == "game2");
  }());
}

BOOST_AUTO_TEST_CASE(a_malformed_acquire_is_answered_with_bad_request) {
  start_registry();
  auto& game1 = add_owner("game1");
  run(io, [&]() -> asio::awaitable<void> {
    co_await linked(1);
    const std::byte bad[] = {std::byte{0x0a}, std::byte{0x05}};  // a string cut short
    auto r = co_await game1.node->current()->call(
        std::uint16_t(cl::route::call_id::acquire), ember::net::body_writer::encoded(bad));
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.error().status == std::uint16_t(status::bad_request));
    BOOST_TEST(registry->size() == 0u);
  }());
}

BOOST_AUTO_TEST_SUITE_END()
