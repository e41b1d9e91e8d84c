// ember: starting a coroutine that nobody awaits, without losing what it throws.
//
//   ember::spawn(io.get_executor(), flush_loop(), "table flush");
//
// `asio::detached` drops an exception that escapes the coroutine: the work stops and nothing
// says why. Every coroutine ember starts on its own goes through `spawn`, which logs such an
// exception with the name given (an error line), so a failure is never silent.
#pragma once

#include <exception>
#include <string_view>
#include <type_traits>
#include <utility>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>

#include "ember/log.hpp"
#include "ember/request_deadline.hpp"

namespace ember {

/// Logs what escaped the coroutine named `what`, if anything did: for the completion handler
/// of a `co_spawn` that does more than `spawn` (e.g. stops the event loop afterwards).
inline void log_escaped(std::string_view what, std::exception_ptr e) noexcept {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    log::error("{}: stopped by an exception: {}", what, ex.what());
  } catch (...) {
    log::error("{}: stopped by an exception of unknown type", what);
  }
}

namespace detail {
template <class Executor, class T>
void spawn_logged(const Executor& ex, asio::awaitable<T> task, std::string_view what) {
  if constexpr (std::is_void_v<T>) {
    asio::co_spawn(ex, std::move(task), [what](std::exception_ptr e) { log_escaped(what, e); });
  } else {
    asio::co_spawn(ex, std::move(task), [what](std::exception_ptr e, const T&) { log_escaped(what, e); });
  }
}
}  // namespace detail

/// Starts `task` on `ex` without awaiting it; an exception that escapes it is logged with
/// `what` (a string literal naming the task), never lost. The task outlives whatever request
/// started it, so it does not inherit the request's deadline (ember/request_deadline.hpp).
template <class Executor, class T>
void spawn(const Executor& ex, asio::awaitable<T> task, std::string_view what) {
  if constexpr (std::is_same_v<Executor, asio::any_io_executor>)
    detail::spawn_logged(without_deadline(ex), std::move(task), what);
  else
    detail::spawn_logged(ex, std::move(task), what);
}

}  // namespace ember
