// ember: a small pool of worker threads for blocking C APIs (ODBC, libmemcached). A coroutine
// hands a job to a worker and resumes on its own executor with the result, so the io thread
// never blocks.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <variant>
#include <utility>
#include <vector>

#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include "ember/separate_compilation.hpp"

namespace ember::data {

/// A fixed set of threads that run blocking jobs in arrival order. Each job receives the index
/// of the worker that runs it (0..size()-1), so a client can keep one handle per worker (a
/// `memcached_st` or an ODBC connection is not thread-safe) without locks or thread_locals.
/// Destroying the pool runs the jobs already queued, then joins the threads.
class worker_pool {
 public:
  explicit worker_pool(std::size_t threads, std::string name = "ember-worker");
  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;
  ~worker_pool();

  std::size_t size() const noexcept { return threads_.size(); }
  const std::string& name() const noexcept { return name_; }

  /// Jobs waiting for a free worker (not counting those running); for status pages.
  std::size_t queue_depth() const;

  /// Runs `fn(worker_index)` on a worker and resumes the awaiting coroutine on its executor
  /// with fn's result; an exception thrown by fn is rethrown there. `fn` must not touch state
  /// owned by the io thread.
  template <class Fn>
  auto run(Fn fn) -> asio::awaitable<std::invoke_result_t<Fn&, std::size_t>> {
    using result = std::invoke_result_t<Fn&, std::size_t>;
    using slot = std::conditional_t<std::is_void_v<result>, std::monostate, result>;
    struct outcome {
      std::optional<slot> value;
      std::exception_ptr error;
    };
    outcome out = co_await asio::async_initiate<decltype(asio::use_awaitable), void(outcome)>(
        [this, &fn](auto handler) {
          auto ex = asio::get_associated_executor(handler);
          auto guard = asio::make_work_guard(ex);
          // The handler is resumed on its own executor, never on the worker.
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          this->submit([fn = std::move(fn), shared, guard = std::move(guard)](std::size_t worker) mutable {
            outcome o;
            try {
              if constexpr (std::is_void_v<result>) {
                fn(worker);
                o.value.emplace();
              } else {
                o.value.emplace(fn(worker));
              }
            } catch (...) {
              o.error = std::current_exception();
            }
            auto ex = guard.get_executor();
            asio::post(ex, [shared, o = std::move(o)]() mutable { (*shared)(std::move(o)); });
            guard.reset();
          });
        },
        asio::use_awaitable);
    if (out.error) std::rethrow_exception(out.error);
    if constexpr (!std::is_void_v<result>) co_return std::move(*out.value);
  }

  /// Queues a job without waiting for it (e.g. closing handles); runs on some worker.
  template <class Fn>
  void submit(Fn fn) {
    struct holder final : job {
      explicit holder(Fn f) : fn(std::move(f)) {}
      void operator()(std::size_t worker) override { fn(worker); }
      Fn fn;
    };
    enqueue(std::make_unique<holder>(std::move(fn)));
  }

 private:
  // Jobs are move-only (they own the awaiting coroutine's handler), so not std::function.
  struct job {
    virtual ~job() = default;
    virtual void operator()(std::size_t worker) = 0;
  };

  // submit's type-erased half; throws std::logic_error once the pool is stopping.
  void enqueue(std::unique_ptr<job> j);
  void work(std::size_t index);

  std::string name_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::unique_ptr<job>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace ember::data

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/data/impl/worker_pool.hpp"
#endif
