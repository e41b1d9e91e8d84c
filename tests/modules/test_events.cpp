// The event bus of ember/modules/events.hpp: subscribers hear the events of their type, in
// publish order; a subscription ends with its handle; one failing subscriber does not keep the
// event from the others; an event relayed from another process (its type name and binary
// encoding) reaches the subscribers of that type as the same value; across a cluster of real
// hosts linked on 127.0.0.1, an event published on one server reaches every other server
// exactly once, through however many paths and hops.
#define BOOST_TEST_MODULE events
#include <boost/test/unit_test.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <fmt/format.h>

#include "ember/app/host.hpp"
#include "ember/cluster/detail/cluster_wire.hpp"
#include "ember/cluster/node.hpp"
#include "ember/cluster/root.hpp"
#include "ember/modules/events.hpp"
#include "support/postgres.hpp"  // free_port
#include "support/run.hpp"

namespace msg = ember::cluster::detail::msg;
using ember::modules::event_bus;

namespace {
msg::push_user to_user(std::uint64_t user) {
  msg::push_user e;
  e.user = user;
  return e;
}
msg::broadcast to_group(std::string group) {
  msg::broadcast e;
  e.group = std::move(group);
  return e;
}
}  // namespace

BOOST_AUTO_TEST_CASE(subscribers_hear_the_events_of_their_type_in_publish_order) {
  event_bus bus;
  std::vector<std::uint64_t> users;
  std::vector<std::string> groups;
  auto a = bus.subscribe<msg::push_user>([&](const msg::push_user& e) { users.push_back(e.user); });
  auto b = bus.subscribe<msg::broadcast>([&](const msg::broadcast& e) { groups.push_back(e.group); });
  bus.publish(to_user(1));
  bus.publish(to_group("room"));
  bus.publish(to_user(7));
  BOOST_TEST(users == (std::vector<std::uint64_t>{1, 7}));
  BOOST_TEST(groups == (std::vector<std::string>{"room"}));
}

BOOST_AUTO_TEST_CASE(a_subscription_ends_when_its_handle_goes) {
  event_bus bus;
  int heard = 0;
  {
    auto s = bus.subscribe<msg::push_user>([&](const msg::push_user&) { ++heard; });
    bus.publish(msg::push_user{});
  }
  bus.publish(msg::push_user{});
  BOOST_TEST(heard == 1);
}

// A module released after the host at a server's exit holds subscriptions to a bus that is
// gone: ending them touches nothing (the sanitizers and MALLOC_PERTURB_ catch a use after free).
BOOST_AUTO_TEST_CASE(a_subscription_that_outlives_its_bus_ends_without_touching_it) {
  int heard = 0;
  ember::modules::subscription kept;
  {
    auto bus = std::make_unique<event_bus>();
    kept = bus->subscribe<msg::push_user>([&](const msg::push_user&) { ++heard; });
    bus->publish(msg::push_user{});
  }
  kept.reset();
  BOOST_TEST(heard == 1);
}

BOOST_AUTO_TEST_CASE(a_failing_subscriber_does_not_keep_the_event_from_the_others) {
  event_bus bus;
  int heard = 0;
  auto bad = bus.subscribe<msg::push_user>([](const msg::push_user&) { throw std::runtime_error("boom"); });
  auto good = bus.subscribe<msg::push_user>([&](const msg::push_user&) { ++heard; });
  bus.publish(msg::push_user{});
  BOOST_TEST(heard == 1);
}

BOOST_AUTO_TEST_CASE(an_event_relayed_from_another_process_arrives_as_the_same_value) {
  event_bus here, there;
  here.set_relay([&](std::string_view type, std::string_view bytes) { there.deliver(type, bytes); });
  std::vector<msg::push_user> got;
  auto s = there.subscribe<msg::push_user>([&](const msg::push_user& e) { got.push_back(e); });
  auto sent = to_user(42);
  sent.push_id = 7;
  sent.binary = {std::byte{1}, std::byte{2}};
  here.publish(sent);
  BOOST_TEST_REQUIRE(got.size() == 1u);
  BOOST_TEST((got[0] == sent));
  BOOST_TEST(!there.deliver(event_bus::type_of<msg::broadcast>(), "") );  // nobody listens
}

// gate and hub are roots; hub joins gate; game1 joins gate; game2 joins gate and hub (two
// paths); game3 joins hub only (two hops from game1).
BOOST_AUTO_TEST_CASE(an_event_reaches_every_server_of_the_cluster_once_through_every_path) {
  const auto gate = ember::test::free_port(), hub = ember::test::free_port();
  auto config = ember::app::parse_config(fmt::format(R"({{"secret": "a-secret-of-the-events-test",
    "servers": {{
      "gate": {{"type": "gate", "rootport": {0}}},
      "hub": {{"type": "hub", "rootport": {1}, "remoteport": [{{"rootname": "gate"}}]}},
      "game1": {{"type": "game", "remoteport": [{{"rootname": "gate"}}]}},
      "game2": {{"type": "game", "remoteport": [{{"rootname": "gate"}}, {{"rootname": "hub"}}]}},
      "game3": {{"type": "game", "remoteport": [{{"rootname": "hub"}}]}}}}}})", gate, hub),
    "events.json");
  BOOST_REQUIRE_MESSAGE(config.has_value(), (config ? std::string() : config.error().what()));
  asio::io_context io;
  std::map<std::string, std::unique_ptr<ember::app::host>> hosts;
  std::map<std::string, std::vector<std::uint64_t>> heard;
  std::vector<ember::modules::subscription> subs;
  for (const auto* name : {"gate", "hub", "game1", "game2", "game3"}) {
    auto& h = hosts[name] = std::make_unique<ember::app::host>(io, *config, name);
    subs.push_back(h->events().subscribe<msg::push_user>(
        [&heard, name = std::string(name)](const msg::push_user& e) { heard[name].push_back(e.user); }));
    h->start(ember::net::dispatch_table{}, {});
  }
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    const bool linked = co_await ember::test::wait_until([&] {
      return hosts["gate"]->root()->size() == 3 && hosts["hub"]->root()->size() == 2 &&
             hosts["hub"]->node("gate")->connected() && hosts["game1"]->node("gate")->connected() &&
             hosts["game2"]->node("gate")->connected() && hosts["game2"]->node("hub")->connected() &&
             hosts["game3"]->node("hub")->connected();
    });
    BOOST_REQUIRE(linked);
    hosts["game1"]->events().publish(to_user(1));
    hosts["game3"]->events().publish(to_user(3));
    hosts["gate"]->events().publish(to_user(9));
    co_await ember::test::wait_until([&] {
      std::size_t n = 0;
      for (const auto& [_, v] : heard) n += v.size();
      return n >= 15;  // three events, five servers each
    });
    co_await ember::test::sleep(std::chrono::milliseconds(200));  // a duplicate would be here by now
    for (auto& [_, h] : hosts) co_await h->stop(std::chrono::milliseconds(100));
  }());
  for (const auto* name : {"gate", "hub", "game1", "game2", "game3"}) {
    auto got = heard[name];
    std::sort(got.begin(), got.end());
    BOOST_TEST(got == (std::vector<std::uint64_t>{1, 3, 9}), name);
  }
}
