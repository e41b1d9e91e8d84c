// ember: bodies of row_queue (included by ember/data/row_queue.hpp, or compiled once into
// libember-data).
#pragma once

#include "ember/data/row_queue.hpp"

#include <algorithm>
#include <system_error>

#include <asio/redirect_error.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

namespace ember::data {

EMBER_DECL asio::awaitable<void> row_queue::acquire(const std::string& row) {
  auto [it, first] = rows_.try_emplace(row);
  if (first) co_return;
  auto me = std::make_shared<waiter>(co_await asio::this_coro::executor);
  it->second.push_back(me);
  std::error_code ec;
  co_await me->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (me->granted) co_return;
  // Cancelled while waiting: leave the line (the map entry lives while its holder does).
  auto& line = rows_.find(row)->second;
  line.erase(std::find(line.begin(), line.end(), me));
  throw std::system_error(ec ? ec : std::make_error_code(std::errc::operation_canceled), "waiting for a row");
}

EMBER_DECL void row_queue::release(const std::string& row) {
  auto it = rows_.find(row);
  if (it == rows_.end()) return;
  if (it->second.empty()) {
    rows_.erase(it);
    return;
  }
  auto next = std::move(it->second.front());
  it->second.pop_front();
  next->granted = true;
  next->wake.cancel();
}

}  // namespace ember::data
