// ember: runs work one item at a time per key (a player), in arrival order; different keys
// run side by side. A key costs memory only while it has work queued or running.
#pragma once

#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <unordered_map>
#include <utility>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "ember/separate_compilation.hpp"

namespace ember::cluster {

/// A key of the queue: a user id, or a session of a gateway when no user is bound.
struct work_key {
  std::uint64_t scope = 0;  ///< 0 for a user; a link id for a session
  std::uint64_t id = 0;
  bool operator==(const work_key&) const = default;
};

struct work_key_hash {
  std::size_t operator()(const work_key& k) const noexcept {
    return std::hash<std::uint64_t>{}(k.id * 0x9e3779b97f4a7c15ULL ^ k.scope);
  }
};

/// Serial queues by key, on one executor (no locks: one thread).
class keyed_queue {
 public:
  using done_fn = std::function<void(std::exception_ptr)>;

  explicit keyed_queue(asio::any_io_executor ex);
  ~keyed_queue();
  keyed_queue(const keyed_queue&) = delete;
  keyed_queue& operator=(const keyed_queue&) = delete;

  /// Runs `work` after the work queued before it under `key`; `done` gets what it threw.
  void post(work_key key, asio::awaitable<void> work, done_fn done);

  /// Keys with work queued or running.
  std::size_t busy_keys() const noexcept { return state_->queues.size(); }

 private:
  struct job {
    asio::awaitable<void> work;
    done_fn done;
  };
  struct state {
    explicit state(asio::any_io_executor e);
    asio::any_io_executor ex;
    std::unordered_map<work_key, std::deque<job>, work_key_hash> queues;
    bool closed = false;
  };

  // One worker per busy key drains its queue; the front job stays queued while it runs, so a
  // job posted meanwhile waits its turn.
  static void start(std::shared_ptr<state> s, work_key key);
  static asio::awaitable<void> drain(std::shared_ptr<state> s, work_key key);

  std::shared_ptr<state> state_;
};

}  // namespace ember::cluster

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/cluster/impl/keyed_queue.hpp"
#endif
