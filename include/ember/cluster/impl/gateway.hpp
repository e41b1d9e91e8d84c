// ember: bodies of cluster::gateway (included by ember/cluster/gateway.hpp).
#pragma once

#include "ember/cluster/gateway.hpp"

#include "ember/cluster/backend.hpp"
#include "ember/cluster/detail/cluster_wire.hpp"
#include "ember/cluster/owned_key.hpp"
#include "ember/cluster/rendezvous.hpp"
#include "ember/codec/field.hpp"
#include "ember/log.hpp"

namespace ember::cluster {

EMBER_DECL gateway::gateway(net::server& clients, root& backends, gateway_options options)
    : state_(std::make_shared<state>(clients, backends, std::move(options))) {
  std::weak_ptr<state> ws = state_;
  backends.on_join([ws](const root::link_ptr& l) {
    if (auto s = ws.lock()) s->listen(l);
  });
  backends.on_leave([ws](const root::link_ptr& l) {
    if (auto s = ws.lock()) s->draining.erase(l.get());
  });
  clients.on_session_closed([ws](net::session& closed) {
    if (auto s = ws.lock()) s->session_closed(closed);
  });
  clients.on_session_moved([ws](net::session& moved) {
    // Its user now plays through another gateway: a claim from elsewhere no longer concerns
    // this one (the backends hear of the move from the new gateway).
    auto s = ws.lock();
    if (!s) return;
    if (auto user = moved.user(); user && !s->clients.find_user(*user)) s->login_stamps.erase(*user);
  });
  clients.on_session_arrived([ws](net::session& arrived, const std::string& from, std::uint64_t from_id) {
    if (auto s = ws.lock()) s->session_arrived(arrived, from, from_id);
  });
}

EMBER_DECL void gateway::add_routes(net::dispatch_table& table, std::span<const command_info> commands,
                                    std::string_view own_type) {
  for (const auto& c : commands) {
    if (c.internal || c.server == own_type) continue;
    auto& r = state_->routes[c.id];
    r.type = std::string(c.server);
    r.attribute = route_attribute(c.server);
    net::command_entry e;
    e.id = c.id;
    e.ordered = c.ordered;
    e.name = c.name;
    e.handler = state_.get();
    e.start = &state::start_forward;  // ordered, or Firefly: through the session's queue
    e.hand_off = &state::hand_off;    // overlapping: no coroutine
    table.add_entry(e);
  }
}

EMBER_DECL void gateway::route_by_field(std::uint16_t command, std::string kind, std::uint32_t tag,
                                        std::string name) {
  state_->keyed[command] = state::keyed_route{std::move(kind), tag, std::move(name)};
}

// ---------------------------------------------------------------- forwarding

EMBER_DECL gateway::state::state(net::server& c, root& b, gateway_options o)
    : clients(c), backends(b), options(std::move(o)) {}

EMBER_DECL asio::awaitable<void> gateway::state::start_forward(void* self, const net::request_info& info,
                                                               bytes_view body, std::error_code&) {
  return static_cast<state*>(self)->forward(info, body);
}

EMBER_DECL void gateway::state::hand_off(void* self, net::request_info&& info, bytes_view body) {
  auto& st = *static_cast<state*>(self);
  auto& s = *info.owner;
  const auto& r = st.routes.at(static_cast<std::uint16_t>(info.command));
  auto target = st.pick(s, r, static_cast<std::uint16_t>(info.command), body, info.encoding);
  if (!target) {
    ++st.unavailable;
    info.out->end_request(info, std::make_exception_ptr(game_error(
                                    status::unavailable, "no " + r.type + " server is available")));
    return;
  }
  ++st.forwarded;
  route::envelope env{s.id(), s.user().value_or(0), s.push_encoding(), info.request_id};
  target->forward_now(static_cast<std::uint16_t>(info.command), env, body, std::move(info),
                      st.options.call_timeout);
}

EMBER_DECL asio::awaitable<void> gateway::state::forward(const net::request_info& info,
                                                         bytes_view body) {
  auto& s = *info.owner;
  const auto& r = routes.at(static_cast<std::uint16_t>(info.command));
  auto target = pick(s, r, static_cast<std::uint16_t>(info.command), body, info.encoding);
  if (!target) {
    ++unavailable;
    return fail(status::unavailable, "no " + r.type + " server is available");
  }
  ++forwarded;
  route::envelope env{s.id(), s.user().value_or(0), s.push_encoding(), info.request_id};
  auto ticket = target->forward(static_cast<std::uint16_t>(info.command), info.encoding, env,
                                body, options.call_timeout);
  if (!ticket) return fail(status_of(ticket.error()), ticket.error().message);
  return relay(info, std::move(*ticket), target->peer().name);
}

EMBER_DECL std::shared_ptr<link> gateway::state::pick(net::session& s, const route_info& r,
                                                      std::uint16_t command, bytes_view body,
                                                      codec::encoding enc) {
  if (auto k = keyed.find(command); k != keyed.end()) {
    if (auto value = codec::string_field(body, enc, k->second.tag, k->second.name))
      return pick_by_key(owned_key(k->second.kind, *value), r.type);
  }
  if (auto bound = s.attribute(r.attribute); bound && !bound->empty()) {
    if (auto l = backends.find(*bound); l && l->is_open()) return l;
    // The bound instance is gone (crashed, stopped, partitioned): the request is routed
    // afresh now, and the backend it reaches takes the player over from the data layer
    // (failover without a new login, docs/cluster.md); it may bind the session there.
    log::info("{}: session {} was bound to {}, which is gone; routing it afresh", options.name,
              s.id(), *bound);
    s.set_attribute(r.attribute, std::string());
  }
  return pick_by_key(s.user() ? *s.user() : s.id() ^ 0x5e55'1000'0000'0000ULL, r.type);
}

EMBER_DECL std::shared_ptr<link> gateway::state::pick_by_key(std::uint64_t key, const std::string& type) {
  const auto& all = backends.members(type);
  const auto hash = [](const root::link_ptr& l) { return l->name_hash(); };
  if (!draining.empty()) {
    // Only while a backend drains: the others of its type (all of them if every one drains).
    std::vector<root::link_ptr> staying;
    for (const auto& l : all)
      if (!draining.contains(l.get())) staying.push_back(l);
    if (!staying.empty()) return staying[rendezvous_pick(key, staying, hash)];
  }
  auto i = rendezvous_pick(key, all, hash);
  return i < all.size() ? all[i] : nullptr;
}

EMBER_DECL asio::awaitable<void> gateway::state::relay(net::request_info info,
                                                       std::shared_ptr<link::reply_ticket> t,
                                                       std::string from) {
  failure f = co_await t->wait();
  if (f.code) {
    // Sent, then no answer: the backend may have run it, so the client must not take this
    // for "not done" (status::outcome_unknown; `unavailable` is for what was never sent).
    if (f.code == errc::timeout || f.code == errc::disconnected)
      throw game_error(status::outcome_unknown, unanswered(from, f.code == errc::timeout));
    throw game_error(status_of(f), f.message.empty() ? from + ": " + f.code.message()
                                                     : f.message);
  }
  const bytes_view body = t->body();
  info.out->reply_body(info, net::body_writer::encoded(body));
}

EMBER_DECL asio::awaitable<void> gateway::state::fail(status code, std::string message) {
  throw game_error(static_cast<std::uint16_t>(code), std::move(message));
  co_return;
}

// ---------------------------------------------------------------- from backends

EMBER_DECL void gateway::state::listen(const root::link_ptr& l) {
  auto handler = [this, wl = std::weak_ptr<link>(l)](route::notify_id id) {
    return [this, id, wl](bytes_view body, codec::encoding) {
      if (!on_notify(id, body))
        if (auto from = wl.lock())
          log::warn("{}: malformed routing message {:#x} from {}", options.name,
                    std::uint16_t(id), from->peer().name);
    };
  };
  // A backend that drains: out of the picks; the answer follows every request sent there
  // before (one link, in order), which is what the backend waits for.
  l->on_internal_request(std::uint16_t(route::call_id::drain), [this](link& from, const wire::frame& f) {
    if (draining.insert(&from).second)
      log::info("{}: {} drains: no new session goes there", options.name, from.peer().name);
    from.reply_bytes(std::uint16_t(f.command), f.seq, {});
  });
  for (auto id : {route::notify_id::session_op, route::notify_id::push_user,
                  route::notify_id::broadcast, route::notify_id::claim_user})
    l->on_notify(std::uint16_t(id), handler(id));
}

EMBER_DECL bool gateway::state::on_notify(route::notify_id id, bytes_view body) {
  switch (id) {
    case route::notify_id::session_op: {
      detail::msg::session_op m;
      return detail::decode(body, m) && session_op(m);
    }
    case route::notify_id::push_user: {
      detail::msg::push_user m;
      if (!detail::decode(body, m)) return false;
      if (auto s = clients.find_user(m.user)) clients.push_encoded(s->id(), m.push_id, m.binary, m.json);
      return true;
    }
    case route::notify_id::broadcast: {
      detail::msg::broadcast m;
      if (!detail::decode(body, m)) return false;
      clients.broadcast_encoded(m.group, m.push_id, m.binary, m.json);
      return true;
    }
    case route::notify_id::claim_user: {
      detail::msg::claim_user m;
      if (!detail::decode(body, m)) return false;
      // A newer login on another gateway: the session here, if older, ends.
      auto s = clients.find_user(m.user);
      if (s && login_stamps[m.user] < m.stamp)
        clients.kick(s->id(), status::replaced, "logged in from another session");
      return true;
    }
    default:
      return false;
  }
}

EMBER_DECL bool gateway::state::session_op(const detail::msg::session_op& m) {
  using kind = detail::msg::session_op_kind;
  auto s = clients.find(m.session);
  switch (m.op) {
    case kind::push:
      if (s) clients.push_encoded(m.session, m.push_id, m.body, m.body);  // in its encoding
      return true;
    case kind::bind_user:
      if (s) bind(*s, m.user, m.stamp);
      return true;
    case kind::join:
      if (s) s->join(m.group);
      return true;
    case kind::leave:
      if (s) s->leave(m.group);
      return true;
    case kind::close:
      if (s) s->close(m.reason);
      return true;
    case kind::set_attribute:
      if (s) s->set_attribute(m.key, m.value);
      return true;
    case kind::none:
      break;
  }
  return false;
}

EMBER_DECL void gateway::state::bind(net::session& s, std::uint64_t user, std::uint64_t stamp) {
  if (user != 0) {
    auto existing = clients.find_user(user);
    auto& newest = login_stamps[user];
    if (existing && existing.get() != &s && newest > stamp) {
      clients.kick(s.id(), status::replaced, "logged in from another session");
      return;
    }
    newest = stamp;
  }
  s.bind_user(user);
}

EMBER_DECL void gateway::state::session_closed(net::session& s) {
  const auto user = s.user().value_or(0);
  if (user != 0 && !clients.find_user(user)) login_stamps.erase(user);
  const buffer out = detail::encoded(detail::msg::session_closed{s.id(), user});
  // Every backend hears it; those that never served the session ignore it.
  for (const auto& l : backends.children())
    if (l->is_open()) (void)l->notify_bytes(std::uint16_t(route::notify_id::session_closed), out.view());
}

EMBER_DECL void gateway::state::session_arrived(net::session& s, const std::string& from,
                                                 std::uint64_t from_id) {
  detail::msg::session_moved m;
  m.session = s.id();
  m.user = s.user().value_or(0);
  m.from = from;
  m.from_session = from_id;
  const buffer out = detail::encoded(m);
  // Sent before any request of the session here (its client resumes after this), on the
  // same links as those requests: a backend has re-keyed its view before they reach it.
  for (const auto& l : backends.children())
    if (l->is_open()) (void)l->notify_bytes(std::uint16_t(route::notify_id::session_moved), out.view());
}

}  // namespace ember::cluster
