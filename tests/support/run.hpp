// Test support: run a coroutine to completion on an io_context with a deadline, so that no
// test can hang, and raise the open-files limit for tests with many sockets.
#pragma once

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <sys/resource.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

namespace ember::test {

/// Runs `task` on `io` until it finishes; throws if it takes longer than `deadline`.
template <class T>
T run(asio::io_context& io, asio::awaitable<T> task,
      std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
  std::optional<T> result;
  std::exception_ptr error;
  bool done = false;
  asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
    error = e;
    if (!e) result.emplace(std::move(value));
    done = true;
    io.stop();
  });
  io.restart();
  io.run_for(deadline);
  if (!done) throw std::runtime_error("test coroutine did not finish before its deadline");
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

inline void run(asio::io_context& io, asio::awaitable<void> task,
                std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
  std::exception_ptr error;
  bool done = false;
  asio::co_spawn(io, std::move(task), [&](std::exception_ptr e) {
    error = e;
    done = true;
    io.stop();
  });
  io.restart();
  io.run_for(deadline);
  if (!done) throw std::runtime_error("test coroutine did not finish before its deadline");
  if (error) std::rethrow_exception(error);
}

/// Waits (on the io thread) until `done()` is true or `limit` passes; returns done().
template <class F>
asio::awaitable<bool> wait_until(F done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  auto end = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < end) {
    t.expires_after(std::chrono::milliseconds(2));
    co_await t.async_wait(asio::use_awaitable);
  }
  co_return done();
}

/// Sleeps on the io thread.
inline asio::awaitable<void> sleep(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

/// Raises the soft limit of open files (1,024 by default here) to at least `n`.
inline void raise_open_files(rlim_t n) {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur >= n) return;
  lim.rlim_cur = std::min(n, lim.rlim_max);
  setrlimit(RLIMIT_NOFILE, &lim);
}

}  // namespace ember::test
