// Compile-time checks of the generated handler interface. Built as is, it must compile; with
// EMBER_OMIT_HANDLER (a command has no handler), EMBER_WRONG_SIGNATURE (a handler takes the
// wrong type) or EMBER_LONE_VALUE_REPLY (a handler returns a bare value of its reply's first
// field) it must not: tests/compile_fail/expect_failure.py checks the compiler's message.
#include "nettest_server.hpp"

namespace {

class service final : public nettest::test_handler {
 public:
  asio::awaitable<nettest::echo_reply> echo(ember::net::session&, const nettest::echo_request& r) override {
#ifdef EMBER_LONE_VALUE_REPLY
    co_return r.n;  // a u32 is not an echo_reply: no constructor of a message of two fields takes one value
#else
    co_return nettest::echo_reply{r.n, r.text};
#endif
  }
#ifndef EMBER_OMIT_HANDLER
  asio::awaitable<nettest::echo_overlapping_reply> echo_overlapping(
      ember::net::session&, const nettest::echo_overlapping_request& r) override {
    co_return nettest::echo_overlapping_reply{r.n, r.text};
  }
#endif
#ifdef EMBER_WRONG_SIGNATURE
  asio::awaitable<nettest::raise_error_reply> raise_error(ember::net::session&, const nettest::echo_request&) override {
    co_return nettest::raise_error_reply{};
  }
#else
  asio::awaitable<nettest::raise_error_reply> raise_error(ember::net::session&, const nettest::raise_error_request&) override {
    co_return nettest::raise_error_reply{};
  }
#endif
  asio::awaitable<nettest::join_reply> join(ember::net::session&, const nettest::join_request&) override {
    co_return nettest::join_reply{};
  }
  asio::awaitable<nettest::broadcast_reply> broadcast(ember::net::session&, const nettest::broadcast_request&) override {
    co_return nettest::broadcast_reply{};
  }
  asio::awaitable<nettest::push_me_reply> push_me(ember::net::session&, const nettest::push_me_request&) override {
    co_return nettest::push_me_reply{};
  }
};

}  // namespace

int main() {
  service s;
  ember::net::dispatch_table table;
  nettest::register_commands(table, s);
  return table.size() == 6 ? 0 : 1;
}
