// ember: bodies of net::server (included by ember/net/server.hpp): constructing and stopping
// it, and the bookkeeping sessions call it for (flushes, users, leaving). The other jobs have a
// header each, included below.
#pragma once

#include "ember/net/server.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <vector>

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <fmt/format.h>
#include <sodium.h>

#include "ember/log.hpp"
#include "ember/net/detail/use_tuple.hpp"
#include "ember/net/detail/impl/tls_channel.hpp"
#include "ember/net/detail/impl/relay.hpp"

namespace ember::net {

EMBER_DECL server::server(asio::io_context& io, server_options options, dispatch_table table)
    : io_(io),
      options_(std::move(options)),
      table_(counted(std::move(table))),
      acceptor_(io),
      websocket_acceptor_(io),
      sweep_timer_(io),
      budget_(options_.overload),
      now_(std::chrono::steady_clock::now()) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  const auto& o = options_.overload;
  if (!(o.low_watermark > 0 && o.low_watermark < o.high_watermark && o.high_watermark <= 1))
    throw std::invalid_argument(fmt::format(
        "server_options.overload: the watermarks must keep 0 < low ({}) < high ({}) <= 1",
        o.low_watermark, o.high_watermark));
  if (options_.tls && (options_.tls_tcp || (options_.tls_websocket && options_.websocket_port)))
    tls_ = detail::make_tls_context(*options_.tls);
  for (const auto& peer : options_.resume_peers)
    peer_tls_.push_back(peer.tls ? detail::make_tls_context(*peer.tls) : nullptr);
}

EMBER_DECL server::~server() {
  std::error_code ec;
  acceptor_.close(ec);
  websocket_acceptor_.close(ec);
  for (auto& w : relays_)
    if (auto r = w.lock()) r->close();
  sweep_timer_.cancel();
  for (auto& [id, s] : sessions_) s->abort(make_error_code(errc::shutting_down));
}

EMBER_DECL void server::schedule_flush(std::shared_ptr<detail::tcp_session> s) {
  to_flush_.push_back(std::move(s));
  if (flush_posted_) return;
  flush_posted_ = true;
  asio::post(io_, [this, alive = std::weak_ptr<bool>(alive_)] {
    if (alive.expired()) return;
    flush_posted_ = false;
    flushing_.swap(to_flush_);
    for (auto& s : flushing_) s->flush();
    flushing_.clear();
  });
}

EMBER_DECL void server::remove(detail::tcp_session& s) {
  if (s.merged()) {  // its connection went on in the session it resumed
    sessions_.erase(s.id());
    return;
  }
  groups_.leave_all(s);
  if (auto u = s.user(); u) {
    if (auto it = users_.find(*u); it != users_.end() && it->second == &s) users_.erase(it);
  }
  s.drop_address();
  if (s.moved()) {  // it lives on elsewhere: the session did not end
    if (!s.peer_)
      for (auto& f : on_moved_) f(s);
    sessions_.erase(s.id());
    return;
  }
  ++stats_.closed;
  ++stats_.by_listener[static_cast<std::size_t>(s.came_in_on())].closed;
  for (auto& f : on_closed_) f(s);
  sessions_.erase(s.id());
}

EMBER_DECL void server::shed_over_budget() {
  if (shedding_ || !budget_.over()) return;
  shedding_ = true;
  const std::size_t before = budget_.in_use();
  // The biggest holders first: one non-reading client holding a megabyte goes before a
  // thousand players holding a few bytes each. Rare (use must climb back from the low
  // watermark past the budget), so a walk and a sort are fine here.
  // Buffers grow by doubling, so many hold the same: of those, the one with more queued.
  struct holder {
    std::size_t held, queued;
    detail::tcp_session* session;
  };
  std::vector<holder> holders;
  holders.reserve(sessions_.size());
  for (auto& [id, s] : sessions_)
    if (s->held_bytes() > 0 && s->state_ != detail::tcp_session::state::closed)
      holders.push_back({s->held_bytes(), s->queued_bytes() + s->outbox_bytes(), s.get()});
  std::sort(holders.begin(), holders.end(), [](const holder& a, const holder& b) {
    return a.held != b.held ? a.held > b.held : a.queued > b.queued;
  });
  std::size_t closed = 0;
  for (auto& [held, queued, s] : holders) {
    if (budget_.in_use() <= budget_.low()) break;
    s->shed(budget_.in_use());
    ++closed;
  }
  stats_.shed += closed;
  log::warn("{}: sessions buffered {} bytes, past the budget of {}: closed the {} holding the "
            "most; {} bytes now (low watermark {})",
            options_.name, before, budget_.max(), closed, budget_.in_use(), budget_.low());
  shedding_ = false;
}

EMBER_DECL void server::bind_user(detail::tcp_session& s, std::uint64_t old_user,
                              std::uint64_t user) {
  if (old_user != 0) {
    if (auto it = users_.find(old_user); it != users_.end() && it->second == &s) users_.erase(it);
  }
  if (user == 0 || !s.is_open()) return;
  auto [it, fresh] = users_.try_emplace(user, &s);
  if (fresh || it->second == &s) return;
  // One live session per user: the newer login wins, the older one is told why.
  detail::tcp_session* older = it->second;
  it->second = &s;
  log::info("session {}: user {} logged in again on session {}; closing this one", older->id(),
            user, s.id());
  older->close_with(status::replaced, "logged in from another session");
}

EMBER_DECL std::shared_ptr<session> server::find_user(std::uint64_t user) const {
  auto it = users_.find(user);
  if (it == users_.end()) return nullptr;
  return find(it->second->id());
}

EMBER_DECL bool server::kick(std::uint64_t session_id, status why, std::string_view message) {
  auto* s = find_session(session_id);
  if (!s || !s->is_open()) return false;
  s->close_with(why, message);
  return true;
}

EMBER_DECL asio::awaitable<void> server::stop(std::chrono::milliseconds grace) {
  if (stopping_) co_return;
  stopping_ = true;
  std::error_code ec;
  acceptor_.close(ec);
  websocket_acceptor_.close(ec);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  asio::steady_timer t(io_);
  auto wait_until = [&](auto done) -> asio::awaitable<void> {
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      t.expires_after(std::chrono::milliseconds(5));
      co_await t.async_wait(detail::use_tuple);
    }
  };
  co_await wait_until([&] { return in_flight_ == 0; });
  if (in_flight_ > 0)
    log::warn("{}: stopping with {} requests still running", options_.name, in_flight_);
  std::vector<std::shared_ptr<detail::tcp_session>> all;
  all.reserve(sessions_.size());
  for (auto& [id, s] : sessions_) all.push_back(s);
  for (auto& s : all) s->close("server stopping");
  for (auto& w : relays_)
    if (auto r = w.lock()) r->close();
  co_await wait_until([&] { return sessions_.empty(); });
  for (auto& s : all) s->abort(make_error_code(errc::shutting_down));
  sweep_timer_.cancel();
  log::info("{} stopped", options_.name);
}

}  // namespace ember::net

// net::server's other jobs, then its sessions' (ember/net/detail/tcp_session.hpp).
#include "ember/net/impl/server_broadcast.hpp"
#include "ember/net/impl/server_listener.hpp"
#include "ember/net/impl/server_resume.hpp"
#include "ember/net/impl/server_drain.hpp"
#include "ember/net/detail/impl/tcp_session_dispatch.hpp"
#include "ember/net/detail/impl/tcp_session_output.hpp"
#include "ember/net/detail/impl/tcp_session_read.hpp"
#include "ember/net/detail/impl/tcp_session_move.hpp"
#include "ember/net/detail/impl/tcp_session_resume.hpp"
#include "ember/net/detail/impl/tcp_session_state.hpp"
#include "ember/net/detail/impl/tcp_session_websocket.hpp"
