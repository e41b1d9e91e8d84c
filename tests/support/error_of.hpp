// Test support: the schema error a module call failed with, as a number to compare with a
// module's error enum — 0 when it succeeded, -1 when it threw something else (logged).
#pragma once

#include <exception>
#include <utility>

#include <asio/awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include "ember/error.hpp"

namespace ember::test {

/// `op()` returns the awaitable to run (a lambda, so that its arguments live in the lambda).
template <class Op>
asio::awaitable<int> error_of(Op op) {
  try {
    co_await op();
  } catch (const game_error& e) {
    co_return e.code();
  } catch (const std::exception& e) {
    BOOST_TEST_MESSAGE("not a game error: " << e.what());
    co_return -1;
  }
  co_return 0;
}

/// The same for an awaitable already made.
template <class T>
asio::awaitable<int> error_of(asio::awaitable<T> task) {
  return error_of([t = std::move(task)]() mutable -> asio::awaitable<T> { return std::move(t); });
}

}  // namespace ember::test
