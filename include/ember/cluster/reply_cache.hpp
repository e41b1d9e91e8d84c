// ember: what a backend remembers of the requests that carried a request id, so that a
// client's retry of one (same id) is answered with the first run's reply — or waits for the
// run still going — instead of running again (docs/sessions.md, "Retries"). Bounded in count
// and in age; an entry is kept in this process only, so the backend a player moves to after
// a failover does not know it (what players value also carries an operation id in the data
// layer, which holds across owners).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "ember/buffer.hpp"
#include "ember/codec/codec.hpp"

namespace ember::cluster {

class link;

/// How much a backend remembers of requests with ids.
struct reply_cache_options {
  std::size_t max_entries = 10'000;           ///< oldest forgotten first past it
  std::chrono::milliseconds max_age{60'000};  ///< forgotten after this long
};

/// Replies of recent requests by request id; see the top of this file.
class reply_cache {
 public:
  using clock = std::chrono::steady_clock;

  /// A retry waiting for the first run to end: answered on `to` as request `seq`.
  struct waiter {
    std::weak_ptr<link> to;
    std::uint16_t command = 0;
    std::uint32_t seq = 0;
  };

  /// One request: running until `done`, then its reply (or its error).
  struct entry {
    std::uint64_t user = 0;                  ///< the player it ran for (0 before login)
    std::uint64_t link = 0, session = 0;     ///< the gateway session it came from
    clock::time_point at{};
    bool done = false;
    bool failed = false;                     ///< `status` and `message` hold the error
    codec::encoding encoding = codec::encoding::binary;
    buffer body;                             ///< the reply body, in `encoding`
    std::uint16_t status = 0;
    std::string message;
    std::vector<waiter> waiters;
  };

  explicit reply_cache(reply_cache_options o = {}) : options_(o) {}

  /// The entry of `request_id`, or null.
  entry* find(std::uint64_t request_id) {
    auto it = entries_.find(request_id);
    if (it == entries_.end()) return nullptr;
    if (it->second.done && clock::now() - it->second.at > options_.max_age) return nullptr;
    return &it->second;
  }

  /// Starts remembering a request that is about to run (its id is not known yet).
  entry& start(std::uint64_t request_id, std::uint64_t user, std::uint64_t link,
               std::uint64_t session) {
    forget_old();
    auto& e = entries_[request_id];
    e = entry{};
    e.user = user;
    e.link = link;
    e.session = session;
    e.at = clock::now();
    order_.push_back(request_id);
    return e;
  }

  /// True when `e` came from the same player (or, before login, the same session): a request
  /// id is only ever replayed to whoever sent it.
  static bool same_sender(const entry& e, std::uint64_t user, std::uint64_t link,
                          std::uint64_t session) noexcept {
    return (e.user != 0 && e.user == user) || (e.link == link && e.session == session);
  }

  /// Forgets `request_id` (its `order_` slot goes when it reaches the front): a run that ended
  /// "not run" (`unavailable`) is not an outcome to replay, and its retry runs afresh.
  void forget(std::uint64_t request_id) { entries_.erase(request_id); }

  std::size_t size() const noexcept { return entries_.size(); }
  /// Retries answered from memory (or by waiting for the first run).
  std::uint64_t replayed() const noexcept { return replayed_; }
  void count_replay() noexcept { ++replayed_; }

 private:
  // Oldest first, past the count or the age. A request still running is kept (it is bounded
  // by the requests in flight) and goes to the back, so that one slow handler does not hold
  // back the forgetting of everything after it.
  void forget_old() {
    const auto now = clock::now();
    for (std::size_t kept = 0; !order_.empty() && kept < order_.size();) {
      auto it = entries_.find(order_.front());
      if (it == entries_.end()) {  // replaced by a later start of the same id
        order_.pop_front();
        continue;
      }
      const bool over =
          entries_.size() >= options_.max_entries || now - it->second.at > options_.max_age;
      if (!over) break;
      if (!it->second.done) {
        order_.push_back(order_.front());
        order_.pop_front();
        ++kept;
        continue;
      }
      entries_.erase(it);
      order_.pop_front();
    }
  }

  reply_cache_options options_;
  std::unordered_map<std::uint64_t, entry> entries_;
  std::deque<std::uint64_t> order_;
  std::uint64_t replayed_ = 0;
};

}  // namespace ember::cluster
