// ember: bodies of the worker pool (ember/data/worker_pool.hpp).
#pragma once

#include "ember/data/worker_pool.hpp"

#include <stdexcept>
#include <utility>

namespace ember::data {

EMBER_DECL worker_pool::worker_pool(std::size_t threads, std::string name) : name_(std::move(name)) {
  if (threads == 0) throw std::invalid_argument("worker_pool needs at least one thread");
  threads_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this, i] { work(i); });
}

EMBER_DECL worker_pool::~worker_pool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto& t : threads_) t.join();
}

EMBER_DECL std::size_t worker_pool::queue_depth() const {
  std::lock_guard lock(mutex_);
  return jobs_.size();
}

EMBER_DECL void worker_pool::enqueue(std::unique_ptr<job> j) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) throw std::logic_error("worker_pool '" + name_ + "' is stopping");
    jobs_.push_back(std::move(j));
  }
  ready_.notify_one();
}

EMBER_DECL void worker_pool::work(std::size_t index) {
  for (;;) {
    std::unique_ptr<job> next;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and nothing left to run
      next = std::move(jobs_.front());
      jobs_.pop_front();
    }
    (*next)(index);
  }
}

}  // namespace ember::data
