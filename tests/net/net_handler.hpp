// The net tests' handlers of the nettest schema: echo (ordered and overlapping, counted),
// failures, groups and pushes.
#pragma once

#include <stdexcept>
#include <system_error>
#include <string>

#include "nettest_server.hpp"
#include "support/run.hpp"

namespace ember::test {

class net_handler final : public nettest::test_handler {
 public:
  int echoes = 0;  ///< echo requests run (a test of resumes checks each ran once)
  asio::awaitable<nettest::echo_reply> echo(ember::net::session&, const nettest::echo_request& r) override {
    ++echoes;
    if (r.delay_ms) co_await sleep(std::chrono::milliseconds(r.delay_ms));
    co_return nettest::echo_reply{r.n, r.text};
  }
  asio::awaitable<nettest::echo_overlapping_reply> echo_overlapping(
      ember::net::session&, const nettest::echo_overlapping_request& r) override {
    ++echoes;
    if (r.delay_ms) co_await sleep(std::chrono::milliseconds(r.delay_ms));
    co_return nettest::echo_overlapping_reply{r.n, r.text};
  }
  asio::awaitable<nettest::raise_error_reply> raise_error(ember::net::session&, const nettest::raise_error_request& r) override {
    if (r.internal) throw std::runtime_error("a bug in the handler");
    switch (r.failure) {
      case 1: throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again), "cache down");
      case 2: throw std::system_error(ember::make_error_code(ember::errc::timeout), "took too long");
      case 3:
        (void)ember::outcome<nettest::raise_error_reply>(
            ember::failure{ember::make_error_code(ember::errc::remote_error), 1234, "the other server says no"})
            .value();
        break;
      case 4: throw std::system_error(std::make_error_code(std::errc::invalid_argument), "a bug");
    }
    nettest::fail(nettest::error::refused);
    co_return nettest::raise_error_reply{};
  }
  asio::awaitable<nettest::join_reply> join(ember::net::session& s, const nettest::join_request& r) override {
    s.join(r.group);
    co_return nettest::join_reply{};
  }
  asio::awaitable<nettest::broadcast_reply> broadcast(ember::net::session& s,
                                                      const nettest::broadcast_request& r) override {
    s.broadcast(r.group, nettest::notice{0, r.text});
    co_return nettest::broadcast_reply{};
  }
  asio::awaitable<nettest::push_me_reply> push_me(ember::net::session& s,
                                                  const nettest::push_me_request& r) override {
    for (std::uint32_t i = 1; i <= r.count; ++i) s.push(nettest::notice{i, std::string(r.size, 'x')});
    co_return nettest::push_me_reply{};
  }
};

}  // namespace ember::test
