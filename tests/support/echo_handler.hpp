// Test support: handlers of the nettest schema that answer at once — echo and echo_overlapping
// echo, raise_error fails with `refused`, push_me pushes `count` notices (at most 100),
// broadcast sends a notice to `group` (everyone when empty), join joins `group`. For tests about
// what a server reports of its requests (admin status, metrics), not about the handlers themselves.
#pragma once

#include "nettest_server.hpp"

namespace ember::test {

class echo_handler final : public nettest::test_handler {
 public:
  asio::awaitable<nettest::echo_reply> echo(net::session&, const nettest::echo_request& r) override {
    co_return nettest::echo_reply{r.n, r.text};
  }
  asio::awaitable<nettest::echo_overlapping_reply> echo_overlapping(
      net::session&, const nettest::echo_overlapping_request& r) override {
    co_return nettest::echo_overlapping_reply{r.n, r.text};
  }
  asio::awaitable<nettest::raise_error_reply> raise_error(net::session&, const nettest::raise_error_request&) override {
    nettest::fail(nettest::error::refused);
  }
  asio::awaitable<nettest::join_reply> join(net::session& s, const nettest::join_request& r) override {
    s.join(r.group);
    co_return nettest::join_reply{};
  }
  asio::awaitable<nettest::broadcast_reply> broadcast(net::session& s, const nettest::broadcast_request& r) override {
    s.broadcast(r.group, nettest::notice{0, r.text});
    co_return nettest::broadcast_reply{};
  }
  asio::awaitable<nettest::push_me_reply> push_me(net::session& s, const nettest::push_me_request& r) override {
    for (std::uint32_t i = 0; i < r.count && i < 100; ++i) s.push(nettest::notice{i, "pushed"});
    co_return nettest::push_me_reply{};
  }
};

}  // namespace ember::test
