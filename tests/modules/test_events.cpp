// The event bus of ember/modules/events.hpp: subscribers hear the events of their type, in
// publish order; a subscription ends with its handle; one failing subscriber does not keep the
// event from the others; an event relayed from another process (its type name and binary
// encoding) reaches the subscribers of that type as the same value.
#define BOOST_TEST_MODULE events
#include <boost/test/unit_test.hpp>

#include <stdexcept>
#include <string>
#include <vector>

#include "ember/cluster/detail/cluster_wire.hpp"
#include "ember/modules/events.hpp"

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
