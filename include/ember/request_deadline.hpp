// ember: the deadline of the request a coroutine serves, carried by the coroutine's executor,
// so that what the handler calls (the data layer's read retries) stays within the time its
// caller waits without being handed it (docs/cluster.md, "Deadlines travel").
//
//   asio::co_spawn(ember::with_deadline(ex, deadline), serve(request), done);  // a transport
//   auto d = ember::request_deadline(co_await asio::this_coro::executor);      // anything below
//
// Asio's awaitables have no coroutine-local storage; the executor of the coroutine's "thread"
// is what every awaitable it calls sees. The deadline rides in the one user-defined value an
// io_context executor holds, its allocator (`deadline_allocator`, whose memory is Asio's
// recycling allocator's), so the executor stays Asio's own type, fits in an
// `any_io_executor` without an allocation, and everything made from it behaves as before.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <optional>
#include <typeinfo>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/recycling_allocator.hpp>
#include <asio/use_awaitable.hpp>

namespace ember {

/// An allocator with a deadline attached: the memory is `asio::recycling_allocator`'s, the
/// deadline is the request's (see the top of this file). Any two free each other's memory.
template <class T>
class deadline_allocator {
 public:
  using value_type = T;
  using time_point = std::chrono::steady_clock::time_point;

  constexpr deadline_allocator() noexcept = default;
  constexpr explicit deadline_allocator(time_point deadline) noexcept : deadline_(deadline) {}
  template <class U>
  constexpr deadline_allocator(const deadline_allocator<U>& other) noexcept
      : deadline_(other.deadline()) {}

  T* allocate(std::size_t n) { return asio::recycling_allocator<T>().allocate(n); }
  void deallocate(T* p, std::size_t n) { asio::recycling_allocator<T>().deallocate(p, n); }

  constexpr time_point deadline() const noexcept { return deadline_; }
  friend constexpr bool operator==(const deadline_allocator&, const deadline_allocator&) noexcept {
    return true;
  }

 private:
  time_point deadline_{};
};

/// An io_context's executor that carries a request's deadline.
using deadline_executor = asio::io_context::basic_executor_type<deadline_allocator<void>, 0>;

namespace detail {
/// `ex`'s target if it is an `E`, else null (Asio 1.22's `target<E>()` does not check).
template <class E>
const E* target_if(const asio::any_io_executor& ex) noexcept {
  return ex && ex.target_type() == typeid(E) ? ex.target<E>() : nullptr;
}
}  // namespace detail

/// `ex` carrying `deadline`: give it to `co_spawn` of the coroutine that serves a request. An
/// executor that is not an io_context's (a strand, a thread pool's) is returned as it is.
inline asio::any_io_executor with_deadline(const asio::any_io_executor& ex,
                                           std::chrono::steady_clock::time_point deadline) {
  if (const auto* plain = detail::target_if<asio::io_context::executor_type>(ex))
    return asio::require(*plain, asio::execution::allocator(deadline_allocator<void>(deadline)));
  if (const auto* carrying = detail::target_if<deadline_executor>(ex))
    return asio::require(*carrying, asio::execution::allocator(deadline_allocator<void>(deadline)));
  return ex;
}

/// `ex` without a request's deadline: for work that outlives the request (`ember::spawn`).
inline asio::any_io_executor without_deadline(const asio::any_io_executor& ex) {
  if (const auto* carrying = detail::target_if<deadline_executor>(ex))
    return asio::require(*carrying, asio::execution::allocator(std::allocator<void>()));
  return ex;
}

/// Awaits `work` run on `ex` (say, `with_deadline(...)`): for work that a queue awaits in a
/// coroutine of its own, whose executor is the queue's.
inline asio::awaitable<void> run_on(asio::any_io_executor ex, asio::awaitable<void> work) {
  co_await asio::co_spawn(std::move(ex), std::move(work), asio::use_awaitable);
}

/// The deadline of the request served by the coroutine whose executor is `ex`
/// (`co_await asio::this_coro::executor`), if it has one.
inline std::optional<std::chrono::steady_clock::time_point> request_deadline(
    const asio::any_io_executor& ex) noexcept {
  if (const auto* carrying = detail::target_if<deadline_executor>(ex))
    return asio::query(*carrying, asio::execution::allocator).deadline();
  return std::nullopt;
}

/// `own`, shortened to what is left before `deadline` less a margin (a fifth of it, at least
/// 20 ms: the answer's way back, and a busy machine's delays), and at least 1 ms; without a
/// deadline, `own`. `own` of 0 means none of its own: what is left decides.
inline std::chrono::milliseconds time_within(std::optional<std::chrono::steady_clock::time_point> deadline,
                                             std::chrono::milliseconds own) {
  using namespace std::chrono;
  if (!deadline) return own;
  const auto left = duration_cast<milliseconds>(*deadline - steady_clock::now());
  const auto margin = std::max(milliseconds(20), left / 5);
  const auto budget = std::max(left - margin, milliseconds(1));
  return own.count() > 0 ? std::min(budget, own) : budget;
}

}  // namespace ember
