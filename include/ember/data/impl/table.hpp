// ember: the non-template helpers of table<T> (ember/data/table.hpp).
#pragma once

#include "ember/data/table.hpp"

#include <algorithm>
#include <chrono>
#include <random>

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

namespace ember::data::detail {

EMBER_DECL asio::awaitable<void> retry_backoff(int attempt) {
  if (attempt < 2) co_return;  // the first retries go straight back
  thread_local std::minstd_rand rng{std::random_device{}()};
  const int cap = std::min(1 << std::min(attempt, 10), 2000);
  asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::microseconds(rng() % cap + 50));
  co_await t.async_wait(asio::use_awaitable);
}

EMBER_DECL asio::awaitable<void> wait_while_set(const bool& flag) {
  asio::steady_timer wait(co_await asio::this_coro::executor);
  while (flag) {
    wait.expires_after(std::chrono::milliseconds(2));
    co_await wait.async_wait(asio::use_awaitable);
  }
}

}  // namespace ember::data::detail
