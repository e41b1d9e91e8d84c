// ember: bodies of cluster::keyed_queue (included by ember/cluster/keyed_queue.hpp).
#pragma once

#include "ember/cluster/keyed_queue.hpp"
#include "ember/spawn.hpp"

#include <asio/co_spawn.hpp>

namespace ember::cluster {

EMBER_DECL keyed_queue::keyed_queue(asio::any_io_executor ex)
    : state_(std::make_shared<state>(ex)) {}

EMBER_DECL keyed_queue::~keyed_queue() { state_->closed = true; }

EMBER_DECL void keyed_queue::post(work_key key, asio::awaitable<void> work, done_fn done) {
  auto& q = state_->queues[key];
  q.push_back(job{std::move(work), std::move(done)});
  if (q.size() == 1) start(state_, key);
}

EMBER_DECL keyed_queue::state::state(asio::any_io_executor e) : ex(std::move(e)) {}

EMBER_DECL void keyed_queue::start(std::shared_ptr<state> s, work_key key) {
  spawn(s->ex, drain(s, key), "keyed queue");
}

EMBER_DECL asio::awaitable<void> keyed_queue::drain(std::shared_ptr<state> s, work_key key) {
  for (;;) {
    auto it = s->queues.find(key);
    if (it == s->queues.end() || it->second.empty()) co_return;
    auto work = std::move(it->second.front().work);
    std::exception_ptr error;
    try {
      co_await std::move(work);
    } catch (...) {
      error = std::current_exception();
    }
    // The front job leaves only after `done`: work that `done` posts under this key then
    // joins this worker's queue instead of starting a second worker.
    it = s->queues.find(key);  // the map may have rehashed while the work ran
    auto done = std::move(it->second.front().done);
    if (done && !s->closed) done(error);
    it = s->queues.find(key);
    it->second.pop_front();
    if (it->second.empty()) s->queues.erase(it);
  }
}

}  // namespace ember::cluster
