// ember: bodies of cluster::node_connector (included by ember/cluster/node.hpp).
#pragma once

#include "ember/cluster/node.hpp"

#include <algorithm>
#include <stdexcept>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <sodium.h>

#include "ember/log.hpp"
#include "ember/spawn.hpp"

namespace ember::cluster {

EMBER_DECL node_connector::node_connector(asio::any_io_executor ex, node_options options,
                                          std::shared_ptr<const net::dispatch_table> commands)
    : state_(std::make_shared<state>(ex, std::move(options), std::move(commands))) {
  auto& o = state_->options;
  if (o.type.empty()) o.type = o.name;
  if (o.name.empty() || o.name.size() > max_link_name || o.type.size() > max_link_name)
    throw std::invalid_argument("node name and type must be 1 to 255 bytes");
}

EMBER_DECL node_connector::~node_connector() {
  state_->on_connected.clear();
  state_->on_disconnected.clear();
  state_->on_refused = nullptr;
  stop();
}

EMBER_DECL void node_connector::start() {
  if (state_->running) return;
  state_->running = true;
  spawn(state_->ex, run(state_), "node: connect loop");
}

EMBER_DECL void node_connector::stop() {
  auto& s = *state_;
  s.running = false;
  s.wake.cancel();
  std::error_code ignored;
  s.socket.close(ignored);
  if (auto l = std::exchange(s.current, nullptr)) l->close(make_error_code(errc::shutting_down));
  // The commands may keep a module loaded (its build's handlers): the run loop's frame must
  // not keep them past the stop, in case the io_context is destroyed with that frame pending
  // after the module's host is gone.
  s.commands = nullptr;
}

EMBER_DECL void node_connector::set_commands(std::shared_ptr<const net::dispatch_table> commands) {
  state_->commands = commands;
  if (state_->current) state_->current->set_commands(std::move(commands));
}

EMBER_DECL void node_connector::retry_now() {
  if (state_->running && !connected()) state_->wake.cancel();
}

EMBER_DECL node_connector::state::state(asio::any_io_executor e, node_options o,
                                        std::shared_ptr<const net::dispatch_table> c)
    : link_end(e, o.secret, std::move(c)), options(std::move(o)), socket(e), wake(e) {
  if (const auto& t = options.link.tls)
    tls = net::detail::make_tls_context(net::tls_client_options{
        .ca_file = t->ca_file, .cert_file = t->cert_file, .key_file = t->key_file});
}

EMBER_DECL std::chrono::milliseconds node_connector::with_jitter(std::chrono::milliseconds d) {
  const auto half = static_cast<std::uint32_t>(std::max<std::int64_t>(d.count() / 2, 1));
  return std::chrono::milliseconds(half + randombytes_uniform(half + 1));
}

EMBER_DECL asio::awaitable<void> node_connector::run(std::shared_ptr<state> s) {
  using asio::ip::tcp;
  constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
  const auto& o = s->options;
  auto backoff = o.min_backoff;
  while (s->running) {
    std::error_code why = make_error_code(errc::unavailable);
    tcp::resolver resolver(s->ex);
    auto [rec, endpoints] =
        co_await resolver.async_resolve(o.root_host, std::to_string(o.root_port), use_tuple);
    if (!s->running) co_return;
    if (!rec) {
      s->socket = tcp::socket(s->ex);
      auto [cec, ep] = co_await asio::async_connect(s->socket, endpoints, use_tuple);
      (void)ep;
      if (!s->running) co_return;
      if (!cec) {
        const std::string address = detail::address_of(s->socket);
        s->tls_channel = s->tls ? std::make_unique<net::detail::tls_channel>(s->tls, false, o.root_host)
                                : nullptr;
        auto r = co_await detail::authenticate_root(s->socket, s->tls_channel.get(), s->key,
                                                    o.name, o.type, o.root_name,
                                                    o.link.auth_timeout);
        if (!s->running) co_return;
        if (r.ok()) {
          backoff = o.min_backoff;
          why = co_await serve(s, std::move(r));
          if (!s->running) co_return;
        } else {
          log::warn("node {}: root '{}' at {} refused: {}", o.name, r.peer_name, address,
                    r.reason);
          if (s->on_refused) s->on_refused(refusal{r.peer_name, address, r.reason});
          std::error_code ignored;
          s->socket.close(ignored);
        }
      } else {
        why = cec;
      }
    }
    s->wake.expires_after(with_jitter(backoff));
    backoff = std::min(backoff * 2, o.max_backoff);
    co_await s->wake.async_wait(use_tuple);
  }
}

EMBER_DECL asio::awaitable<std::error_code> node_connector::serve(std::shared_ptr<state> s,
                                                                  detail::auth_result r) {
  auto l = std::make_shared<link>(std::move(s->socket),
                                  link::peer_info{r.peer_name, r.peer_name}, s->options.link,
                                  s->commands, std::move(s->tls_channel));
  s->socket = asio::ip::tcp::socket(s->ex);
  auto why = std::make_shared<std::error_code>();
  auto closed = std::make_shared<bool>(false);
  std::weak_ptr<state> ws = s;
  l->on_close([ws, why, closed](std::error_code ec) {
    *why = ec;
    *closed = true;
    if (auto st = ws.lock()) st->wake.cancel();
  });
  s->current = l;
  ++s->connections;
  log::info("node {}: linked to root '{}' at {}", s->options.name, r.peer_name,
            l->remote_address());
  l->start();
  for (auto& f : s->on_connected) f(l);
  while (!*closed && s->running) {
    s->wake.expires_at(asio::steady_timer::time_point::max());
    co_await s->wake.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
  if (s->current == l) s->current = nullptr;
  // After stop() the owner may be gone: no callback then.
  if (*closed && s->running) {
    log::warn("node {}: link to root '{}' lost ({})", s->options.name, r.peer_name,
              why->message());
    for (auto& f : s->on_disconnected) f(*why);
  }
  co_return *why;
}

}  // namespace ember::cluster
