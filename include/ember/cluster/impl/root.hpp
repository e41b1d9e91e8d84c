// ember: bodies of cluster::root (included by ember/cluster/root.hpp).
#pragma once

#include "ember/cluster/root.hpp"

#include <algorithm>

#include "ember/cluster/detail/auth_exchange.hpp"
#include "ember/log.hpp"
#include "ember/spawn.hpp"

namespace ember::cluster {

EMBER_DECL root::root(asio::any_io_executor ex, root_options options,
                      std::shared_ptr<const net::dispatch_table> commands)
    : state_(std::make_shared<state>(ex, std::move(options), std::move(commands))) {}

EMBER_DECL root::~root() {
  state_->on_join.clear();
  state_->on_leave.clear();
  state_->on_refused = nullptr;
  stop();
}

EMBER_DECL void root::start() {
  using asio::ip::tcp;
  auto& s = *state_;
  tcp::endpoint ep(asio::ip::make_address(s.options.host), s.options.port);
  s.acceptor.open(ep.protocol());
  // A restarted root binds its port again at once, though old connections linger.
  s.acceptor.set_option(tcp::acceptor::reuse_address(true));
  s.acceptor.bind(ep);
  s.acceptor.listen();
  spawn(s.ex, accept_loop(state_), "root: accept loop");
}

EMBER_DECL void root::stop() {
  auto& s = *state_;
  s.stopped = true;
  std::error_code ignored;
  s.acceptor.close(ignored);
  auto children = std::move(s.children);
  s.children.clear();
  s.by_type.clear();
  for (auto& [name, l] : children) l->close(make_error_code(errc::shutting_down));
  s.commands = nullptr;  // as node_connector::stop: a module must not outlive its host here
}

EMBER_DECL std::uint16_t root::port() const { return state_->acceptor.local_endpoint().port(); }

EMBER_DECL root::link_ptr root::find(std::string_view name) const {
  auto it = state_->children.find(name);
  return it == state_->children.end() ? nullptr : it->second;
}

EMBER_DECL std::vector<root::link_ptr> root::of_type(std::string_view type) const {
  const auto& m = members(type);
  return {m.begin(), m.end()};
}

EMBER_DECL const std::vector<root::link_ptr>& root::members(std::string_view type) const {
  static const std::vector<link_ptr> none;
  auto it = state_->by_type.find(type);
  return it == state_->by_type.end() ? none : it->second;
}

EMBER_DECL void root::set_commands(std::shared_ptr<const net::dispatch_table> commands) {
  state_->commands = commands;
  for (auto& [name, l] : state_->children) l->set_commands(commands);
}

EMBER_DECL std::vector<root::link_ptr> root::children() const {
  std::vector<link_ptr> out;
  out.reserve(state_->children.size());
  for (const auto& [name, l] : state_->children) out.push_back(l);
  return out;
}

// ------------------------------------------------------------------ state

EMBER_DECL root::state::state(asio::any_io_executor e, root_options o,
                              std::shared_ptr<const net::dispatch_table> c)
    : link_end(e, o.secret, std::move(c)), options(std::move(o)), acceptor(e) {
  if (const auto& t = options.link.tls)
    tls = net::detail::make_tls_context(
        net::tls_server_options{.cert_file = t->cert_file, .key_file = t->key_file,
                                .ca_file = t->ca_file});
}

EMBER_DECL void root::state::index(const link_ptr& l) {
  auto& v = by_type[l->peer().type];
  auto at = std::lower_bound(v.begin(), v.end(), l, [](const link_ptr& a, const link_ptr& b) {
    return a->peer().name < b->peer().name;
  });
  v.insert(at, l);
}

EMBER_DECL void root::state::unindex(const link_ptr& l) {
  auto it = by_type.find(l->peer().type);
  if (it == by_type.end()) return;
  std::erase(it->second, l);
  if (it->second.empty()) by_type.erase(it);
}

// ------------------------------------------------------------------ accepting

EMBER_DECL asio::awaitable<void> root::accept_loop(std::shared_ptr<state> s) {
  constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
  while (!s->stopped) {
    auto [ec, socket] = co_await s->acceptor.async_accept(use_tuple);
    if (s->stopped) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      log::warn("root {}: accept failed: {}", s->options.name, ec.message());
      continue;
    }
    spawn(s->ex, admit(s, std::move(socket)), "root: admitting a node");
  }
}

EMBER_DECL asio::awaitable<void> root::admit(std::shared_ptr<state> s,
                                             asio::ip::tcp::socket socket) {
  const std::string address = detail::address_of(socket);
  auto tls = s->tls ? std::make_unique<net::detail::tls_channel>(s->tls, true, std::string())
                    : nullptr;
  auto r = co_await detail::authenticate_node(socket, tls.get(), s->key, s->options.name,
                                              s->options.link.auth_timeout);
  if (s->stopped) co_return;
  if (!r.ok()) {
    log::warn("root {}: refused node '{}' from {}: {}", s->options.name, r.peer_name, address,
              r.reason);
    if (s->on_refused) s->on_refused(refusal{r.peer_name, address, r.reason});
    co_return;  // the socket closes here
  }
  auto l = std::make_shared<link>(std::move(socket), link::peer_info{r.peer_name, r.peer_type},
                                  s->options.link, s->commands, std::move(tls));
  if (auto old = s->children.find(r.peer_name); old != s->children.end()) {
    log::warn("root {}: node '{}' connected again from {}; the older link is replaced",
              s->options.name, r.peer_name, address);
    auto previous = std::move(old->second);
    s->children.erase(old);
    s->unindex(previous);
    previous->close(make_error_code(errc::disconnected));
  }
  s->children.emplace(r.peer_name, l);
  s->index(l);
  std::weak_ptr<state> ws = s;
  std::weak_ptr<link> wl = l;
  l->on_close([ws, wl](std::error_code why) {
    auto st = ws.lock();
    auto me = wl.lock();
    if (!st || !me) return;
    log::info("root {}: node '{}' left ({})", st->options.name, me->peer().name, why.message());
    // Only the registered link leaves the registry: a replaced one is already out.
    if (auto it = st->children.find(me->peer().name); it != st->children.end() && it->second == me) {
      st->children.erase(it);
      st->unindex(me);
    }
    for (auto& f : st->on_leave) f(me);
  });
  log::info("root {}: node '{}' (type {}) joined from {}", s->options.name, r.peer_name,
            r.peer_type, address);
  l->start();
  for (auto& f : s->on_join) f(l);
}

}  // namespace ember::cluster
