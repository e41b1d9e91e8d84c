// ember: a server's listener: binding, accepting within the session limits, turning away
// what is over them, and the sweep timer that checks every session's timeouts.
#pragma once

#include "ember/net/server.hpp"

#include <algorithm>
#include <sys/resource.h>

#include <asio/co_spawn.hpp>

#include "ember/log.hpp"
#include "ember/net/detail/error_frame.hpp"
#include "ember/net/detail/use_tuple.hpp"

namespace ember::net {

EMBER_DECL void server::start() {
  // Each session is a descriptor: lift the soft limit (1,024 on most systems) to the hard one.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  auto listen = [&](asio::ip::tcp::acceptor& acceptor, std::uint16_t port, bool reuse_port) {
    asio::ip::tcp::endpoint ep(asio::ip::make_address(options_.host), port);
    acceptor.open(ep.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    if (reuse_port)
      acceptor.set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true));
    acceptor.bind(ep);
    acceptor.listen(asio::socket_base::max_listen_connections);
    return acceptor.local_endpoint().port();
  };
  port_ = listen(acceptor_, options_.port, options_.reuse_port);
  log::info("{} listening on {}:{} ({} framing{}{})", options_.name, options_.host, port_,
            options_.framing == framing::native ? "native" : "firefly",
            tls_ && options_.tls_tcp ? ", TLS" : "", options_.reuse_port ? ", port shared" : "");
  if (options_.websocket_port) {
    websocket_port_ = listen(websocket_acceptor_, *options_.websocket_port, false);
    log::info("{} listening for WebSocket{} on {}:{} ({} origin(s) allowed for browsers)",
              options_.name, tls_ && options_.tls_websocket ? " (wss, TLS)" : "", options_.host,
              websocket_port_, options_.websocket_origins.size());
  }
  auto report = [name = options_.name](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      log::error("{}: {}", name, x.what());
    }
  };
  asio::co_spawn(io_, accept_loop(acceptor_, false), report);
  if (options_.websocket_port) asio::co_spawn(io_, accept_loop(websocket_acceptor_, true), report);
  asio::co_spawn(io_, sweep_loop(), report);
}

EMBER_DECL asio::awaitable<void> server::accept_loop(asio::ip::tcp::acceptor& acceptor,
                                                  bool websocket) {
  std::weak_ptr<bool> alive = alive_;
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(detail::use_tuple);
    if (alive.expired() || stopping_ || !acceptor.is_open()) co_return;
    if (ec) {
      log::warn("{}: accept failed: {}", options_.name, ec.message());
      if (ec == asio::error::no_descriptors) {
        // Out of file descriptors: back off instead of spinning.
        asio::steady_timer t(io_, std::chrono::milliseconds(50));
        co_await t.async_wait(detail::use_tuple);
      }
      continue;
    }
    std::error_code aec;
    auto address = socket.remote_endpoint(aec).address();
    if (aec) continue;
    if (budget_.refusing()) {  // each session costs buffers: none while short of them
      refuse(socket, status::overloaded, websocket);
      continue;
    }
    if (sessions_.size() >= options_.max_sessions) {
      refuse(socket, status::server_full, websocket);
      continue;
    }
    auto& count = per_address_[address];
    if (count >= options_.max_sessions_per_address) {
      refuse(socket, status::server_full, websocket);
      continue;
    }
    ++count;
    ++stats_.accepted;
    ++stats_.by_listener[websocket ? 1 : 0].accepted;
    auto s = std::make_shared<detail::tcp_session>(*this, std::move(socket), ++next_id_, websocket);
    sessions_.emplace(s->id(), s);
    s->start();
  }
}

EMBER_DECL void server::refuse(asio::ip::tcp::socket& socket, status why, bool websocket) {
  ++stats_.refused;
  ++stats_.by_listener[websocket ? 1 : 0].refused;
  const bool full = why == status::server_full;
  if (tls_ && (websocket ? options_.tls_websocket : options_.tls_tcp)) {
    // The client expects a TLS handshake: plain bytes would only confuse it; the close says it.
  } else if (websocket) {
    // before the upgrade the client reads HTTP; best effort, as the error frame
    static constexpr std::string_view busy =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
        "Connection: close\r\n\r\nserver full\n";
    static constexpr std::string_view overloaded =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n"
        "Retry-After: 1\r\nConnection: close\r\n\r\noverloaded\n";
    const auto answer = full ? busy : overloaded;
    std::error_code ec;
    socket.non_blocking(true, ec);
    (void)socket.write_some(asio::buffer(answer.data(), answer.size()), ec);
  } else if (options_.framing == framing::native) {
    detail::write_error_frame(socket, why, full ? "server full" : "server overloaded; retry later");
  }
  std::error_code ec;
  socket.close(ec);
  // Under a flood of connections, one line per second says how many were turned away.
  auto now = std::chrono::steady_clock::now();
  ++refused_unlogged_;
  if (now - last_refusal_log_ >= std::chrono::seconds(1)) {
    if (full)
      log::warn("{}: refused {} connection(s): server full ({} sessions, at most {} per address)",
                options_.name, refused_unlogged_, sessions_.size(),
                options_.max_sessions_per_address);
    else
      log::warn("{}: refused {} connection(s): sessions buffer {} bytes, past the high watermark "
                "{} of the budget {}",
                options_.name, refused_unlogged_, budget_.in_use(), budget_.high(), budget_.max());
    refused_unlogged_ = 0;
    last_refusal_log_ = now;
  }
}

EMBER_DECL asio::awaitable<void> server::sweep_loop() {
  std::weak_ptr<bool> alive = alive_;
  using namespace std::chrono;
  auto shortest = std::min({options_.idle_timeout, options_.frame_timeout,
                            options_.handshake_timeout,
                            options_.resume_grace.count() > 0 ? options_.resume_grace
                                                              : options_.idle_timeout});
  auto period = std::clamp<milliseconds>(shortest / 4, milliseconds(20), milliseconds(1000));
  for (;;) {
    sweep_timer_.expires_after(period);
    auto [ec] = co_await sweep_timer_.async_wait(detail::use_tuple);
    if (ec || alive.expired()) co_return;
    now_ = steady_clock::now();
    for (auto& [id, s] : sessions_) s->sweep(now_);
    for (auto& w : relays_)
      if (auto r = w.lock()) r->sweep(now_);
    if (stopping_ && sessions_.empty()) co_return;
  }
}

EMBER_DECL std::array<std::size_t, listener_count> server::sessions_by_listener() const noexcept {
  std::array<std::size_t, listener_count> n{};
  for (const auto& [id, s] : sessions_) ++n[static_cast<std::size_t>(s->came_in_on())];
  return n;
}

EMBER_DECL std::string_view server::listener_name(listener l) const noexcept {
  if (l == listener::websocket) return tls_ && options_.tls_websocket ? "wss" : "websocket";
  const bool tls = tls_ && options_.tls_tcp;
  if (options_.framing == framing::firefly) return tls ? "firefly_tls" : "firefly";
  return tls ? "tls" : "tcp";
}

}  // namespace ember::net
