// ember: bodies of cluster::backend and cluster::remote_session (included by
// ember/cluster/backend.hpp).
#pragma once

#include "ember/cluster/backend.hpp"

#include <asio/co_spawn.hpp>

#include "ember/cluster/detail/cluster_wire.hpp"
#include "ember/log.hpp"
#include "ember/request_deadline.hpp"

namespace ember::cluster {

namespace detail {
// The body `body` writes in encoding `e`, as the bytes field of a message.
EMBER_DECL std::vector<std::byte> body_bytes(const net::body_writer& body, codec::encoding e) {
  buffer b;
  body(b, e);
  return {b.view().begin(), b.view().end()};
}
}  // namespace detail

EMBER_DECL std::string route_attribute(std::string_view type) {
  return "ember.route." + std::string(type);
}

// ------------------------------------------------------------------ remote_session

EMBER_DECL remote_session::remote_session(std::weak_ptr<link> l,
                                          std::weak_ptr<detail::backend_state> owner,
                                          const route::envelope& env)
    : link_(std::move(l)), owner_(std::move(owner)), env_(env), user_(env.user) {}

EMBER_DECL bool remote_session::link_alive() const noexcept {
  auto l = link_.lock();
  return l && l->is_open();
}

EMBER_DECL void remote_session::send_op(
    ember_cluster_wire::session_op_kind what,
    const std::function<void(ember_cluster_wire::session_op&)>& fill) {
  auto l = link_.lock();
  if (!l || !open_) return;
  detail::msg::session_op m;
  m.session = env_.session;
  m.op = what;
  fill(m);
  (void)l->notify(std::uint16_t(route::notify_id::session_op), net::body_writer(m));
}

EMBER_DECL void remote_session::push_body(std::uint16_t push_id, const net::body_writer& body) {
  send_op(detail::msg::session_op_kind::push, [&](detail::msg::session_op& m) {
    m.push_id = push_id;
    m.body = detail::body_bytes(body, env_.push_encoding);
  });
}

EMBER_DECL void remote_session::broadcast_body(std::string_view group, std::uint16_t push_id,
                                               const net::body_writer& body) {
  if (auto owner = owner_.lock()) owner->broadcast(group, push_id, body);
}

EMBER_DECL void remote_session::join(std::string_view group) {
  if (!in_group(group)) groups_.emplace_back(group);
  send_op(detail::msg::session_op_kind::join, [&](auto& m) { m.group = group; });
}

EMBER_DECL void remote_session::leave(std::string_view group) {
  std::erase(groups_, group);
  send_op(detail::msg::session_op_kind::leave, [&](auto& m) { m.group = group; });
}

EMBER_DECL bool remote_session::in_group(std::string_view group) const {
  for (auto& g : groups_)
    if (g == group) return true;
  return false;
}

EMBER_DECL void remote_session::bind_user(std::uint64_t user) {
  user_ = user;
  // Wall-clock nanoseconds order logins across backends; the newest wins everywhere.
  const auto stamp = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  send_op(detail::msg::session_op_kind::bind_user, [&](auto& m) {
    m.user = user;
    m.stamp = stamp;
  });
  if (user == 0) return;
  auto owner = owner_.lock();
  auto l = link_.lock();
  if (!owner || !l) return;
  owner->to_gateways(route::notify_id::claim_user,
                     detail::encoded(detail::msg::claim_user{user, stamp}), l.get());
}

EMBER_DECL void remote_session::set_attribute(std::string_view key, std::string value) {
  send_op(detail::msg::session_op_kind::set_attribute, [&](auto& m) {
    m.key = key;
    m.value = value;
  });
  attributes_.set(key, std::move(value));
}

EMBER_DECL std::optional<std::string_view> remote_session::attribute(std::string_view key) const {
  return attributes_.get(key);
}

EMBER_DECL std::string remote_session::remote_address() const {
  auto l = link_.lock();
  return "session " + std::to_string(env_.session) + " via " + (l ? l->peer().name : "?");
}

EMBER_DECL void remote_session::close(std::string_view reason) {
  send_op(detail::msg::session_op_kind::close, [&](auto& m) { m.reason = reason; });
}

// ------------------------------------------------------------------ backend_state

namespace detail {

EMBER_DECL backend_state::backend_state(asio::any_io_executor e, backend_options o,
                                        std::shared_ptr<const net::dispatch_table> t)
    : ex(e), options(std::move(o)), table(std::move(t)), queue(e), replies(options.retries) {
  remembering.st = this;
}

EMBER_DECL void backend_state::to_gateways(route::notify_id id, const buffer& body,
                                           const link* except) {
  for (auto& g : gateways)
    if (g.get() != except && g->is_open()) (void)g->notify_bytes(std::uint16_t(id), body.view());
}

EMBER_DECL void backend_state::push_to_user(std::uint64_t user, std::uint16_t push_id,
                                            const net::body_writer& body) {
  to_gateways(route::notify_id::push_user,
              encoded(msg::push_user{user, push_id, body_bytes(body, codec::encoding::binary),
                                     body_bytes(body, codec::encoding::json)}));
}

EMBER_DECL void backend_state::broadcast(std::string_view group, std::uint16_t push_id,
                                         const net::body_writer& body) {
  to_gateways(route::notify_id::broadcast,
              encoded(msg::broadcast{std::string(group), push_id,
                                     body_bytes(body, codec::encoding::binary),
                                     body_bytes(body, codec::encoding::json)}));
}

EMBER_DECL void backend_state::end_session(const session_key& k) {
  auto it = sessions.find(k);
  if (it == sessions.end()) return;
  auto s = std::move(it->second);
  sessions.erase(it);
  s->open_ = false;
  for (auto& f : on_closed) f(*s);
}

EMBER_DECL void backend_state::move_session(link& to, const std::string& from,
                                            std::uint64_t from_session, std::uint64_t session) {
  for (const auto& g : gateways) {
    if (g->peer().name != from) continue;
    auto it = sessions.find(session_key{g->id(), from_session});
    if (it == sessions.end()) return;  // never served here: nothing to move
    auto s = std::move(it->second);
    sessions.erase(it);
    s->link_ = to.weak_from_this();
    s->env_.session = session;
    sessions[session_key{to.id(), session}] = std::move(s);
    return;
  }
}

EMBER_DECL void backend_state::serve(link& l, const wire::frame& f) {
  const auto command = static_cast<std::uint16_t>(f.command);
  bytes_view body;
  auto env = route::read_envelope(f.body, body);
  if (!env) {
    l.send_error(command, f.seq, static_cast<std::uint16_t>(status::bad_request),
                 "malformed route envelope");
    return;
  }
  const net::command_entry* entry = table ? table->find(command) : nullptr;
  if (!entry || entry->internal) {
    l.send_error(command, f.seq, static_cast<std::uint16_t>(status::unknown_command),
                 "unknown command " + std::to_string(command) + " on " + options.name);
    return;
  }
  bool remember = false;
  if (env->request_id && entry->replay_retries && replay(l, f, *env, remember)) return;
  auto& s = sessions[session_key{l.id(), env->session}];
  if (!s)
    s = std::make_shared<remote_session>(l.weak_from_this(), weak_from_this(), *env);
  if (env->user) s->user_ = env->user;  // the gateway's binding is the truth
  s->env_.push_encoding = env->push_encoding;
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if ((f.flags & wire::flag::deadline) && f.ack > 0) {
    deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(f.ack);
    s->note_deadline(*deadline);
  }
  const auto enc = (f.flags & wire::flag::json) ? codec::encoding::json : codec::encoding::binary;
  net::request_info info{s, remember ? static_cast<net::responder*>(&remembering) : &l.replies(),
                         f.seq, command, enc, table};
  info.request_id = remember ? env->request_id : 0;
  net::stamp_dispatch(info);
  std::error_code ec;
  auto work = entry->start(entry->handler, info, body, ec);
  if (ec) {
    net::count_request(info, status::bad_request);
    const auto message = std::string(entry->name) + " on " + options.name + ": " + ec.message();
    l.send_error(command, f.seq, static_cast<std::uint16_t>(status::bad_request), message);
    if (remember)
      remember_end(env->request_id,
                   std::make_exception_ptr(game_error(status::bad_request, message)));
    return;
  }
  // The queue keeps `done` while the work runs, and the queue is this state's: a strong
  // reference to the state here would be a cycle that a run never ended (the io_context
  // destroyed with a handler still waiting) leaks, link and all.
  auto done = [keep = l.shared_from_this(), info, ws = weak_from_this()](std::exception_ptr e) {
    keep->finish_request(info, e);
    if (auto self = ws.lock(); self && info.request_id) self->remember_end(info.request_id, e);
  };
  // The deadline rides on the executor of the handler's coroutine, for what it calls (the
  // data layer's reads give up before it).
  if (!entry->ordered) {
    ++overlapping;
    asio::co_spawn(deadline ? with_deadline(ex, *deadline) : ex, std::move(work),
                   [self = shared_from_this(), done = std::move(done)](std::exception_ptr e) {
                     --self->overlapping;
                     done(e);
                   });
    return;
  }
  // One player's work runs one item at a time; before login, one session's.
  const work_key key = s->user_ ? work_key{0, s->user_} : work_key{l.id(), env->session};
  if (deadline) work = run_on(with_deadline(ex, *deadline), std::move(work));
  queue.post(key, std::move(work), std::move(done));
}

EMBER_DECL bool backend_state::replay(link& l, const wire::frame& f,
                                      const route::envelope& env, bool& remember) {
  auto* e = replies.find(env.request_id);
  if (!e) {
    replies.start(env.request_id, env.user, l.id(), env.session);
    remember = true;
    return false;
  }
  // An id another player's request holds: this one runs, unremembered (ids are the
  // clients' random numbers; a clash is a client's bug, not a way to read others' replies).
  if (!reply_cache::same_sender(*e, env.user, l.id(), env.session)) return false;
  replies.count_replay();
  const auto command = static_cast<std::uint16_t>(f.command);
  log::info("{}: request {:#x} of user {} came again: answered with its first run's {}, not run "
            "again", options.name, env.request_id, env.user, e->done ? "reply" : "reply when it ends");
  if (!e->done) {
    e->waiters.push_back({l.weak_from_this(), command, f.seq});
    return true;
  }
  if (e->failed) {
    l.send_error(command, f.seq, e->status, e->message);
  } else {
    net::request_info to{nullptr, &l.replies(), f.seq, command, e->encoding, nullptr};
    l.replies().reply_body(to, net::body_writer::encoded(e->body.view()));
  }
  return true;
}

EMBER_DECL void backend_state::remembering_responder::reply_body(const net::request_info& req,
                                                                 const net::body_writer& body) {
  auto* e = st->replies.find(req.request_id);
  auto l = static_cast<remote_session&>(*req.owner).gateway();
  if (!e) {  // forgotten meanwhile (cannot happen while it runs): answer without keeping
    if (l) l->replies().reply_body(req, body);
    return;
  }
  e->encoding = req.encoding;
  e->body.clear();
  body(e->body, req.encoding);
  if (l) l->replies().reply_body(req, net::body_writer::encoded(e->body.view()));
}

EMBER_DECL void backend_state::remember_end(std::uint64_t request_id, std::exception_ptr error) {
  auto* e = replies.find(request_id);
  if (!e) return;
  e->done = true;
  e->at = reply_cache::clock::now();
  if (error) {
    e->failed = true;
    auto reply = error_reply_of(error);  // the status and text its first answer had
    e->status = reply.status;
    e->message = std::move(reply.message);
  }
  auto waiters = std::move(e->waiters);
  e->waiters.clear();
  for (auto& w : waiters) {
    auto l = w.to.lock();
    if (!l) continue;
    if (e->failed) {
      l->send_error(w.command, w.seq, e->status, e->message);
    } else {
      net::request_info to{nullptr, &l->replies(), w.seq, w.command, e->encoding, nullptr};
      l->replies().reply_body(to, net::body_writer::encoded(e->body.view()));
    }
  }
  // "Not run, retry" (the player busy on another server, a dependency down) is no outcome to
  // keep: replayed, it would refuse every retry of the request until the memory forgets it.
  if (e->failed && (e->status == std::uint16_t(status::unavailable) ||
                    e->status == std::uint16_t(status::overloaded)))
    replies.forget(request_id);
}

EMBER_DECL void backend_state::on_notify(link& l, route::notify_id id, bytes_view body) {
  if (id == route::notify_id::session_moved) {
    // A session that moved between gateways did not end: its player plays on through `l`.
    msg::session_moved m;
    if (decode(body, m)) move_session(l, m.from, m.from_session, m.session);
    return;
  }
  if (id != route::notify_id::session_closed) return;
  msg::session_closed m;
  if (decode(body, m)) end_session(session_key{l.id(), m.session});
}

}  // namespace detail

// ------------------------------------------------------------------ backend

EMBER_DECL backend::backend(asio::any_io_executor ex, backend_options options,
                            std::shared_ptr<const net::dispatch_table> table)
    : state_(std::make_shared<detail::backend_state>(ex, std::move(options), std::move(table))) {}

EMBER_DECL backend::~backend() {
  for (auto& g : state_->gateways) g->on_routed(nullptr);
}

EMBER_DECL asio::awaitable<std::size_t> backend::leave_gateways() {
  auto s = state_;
  s->draining = true;
  const auto attribute = route_attribute(s->options.type);
  const auto drain = std::uint16_t(route::call_id::drain);
  std::size_t unbound = 0;
  auto gateways = s->gateways;  // a gateway may leave while this waits
  for (const auto& g : gateways) {
    if (!g->is_open()) continue;
    // Out of the picks first, so that an unbound session is not hashed back here; then the
    // bindings (session ops, in order on the link); then the barrier.
    if (auto r = co_await g->call(drain, net::body_writer::encoded(bytes_view{})); !r) {
      log::warn("{}: gateway {} did not take the drain: {}", s->options.name, g->peer().name,
                r.error().message);
      continue;
    }
    for (auto& [k, rs] : s->sessions)
      if (k.link == g->id() && rs->attribute(attribute) == s->options.name) {
        rs->set_attribute(attribute, std::string());
        ++unbound;
      }
    if (auto r = co_await g->call(drain, net::body_writer::encoded(bytes_view{})); !r)
      log::warn("{}: gateway {} did not answer the drain: {}", s->options.name, g->peer().name,
                r.error().message);
  }
  co_return unbound;
}

EMBER_DECL void backend::attach(const std::shared_ptr<link>& l) {
  std::weak_ptr<detail::backend_state> ws = state_;
  l->on_routed([ws](link& from, const wire::frame& f) {
    if (auto s = ws.lock()) s->serve(from, f);
  });
  for (auto id : {route::notify_id::session_closed, route::notify_id::session_moved})
    l->on_notify(std::uint16_t(id), [ws, wl = std::weak_ptr<link>(l), id](bytes_view body, codec::encoding) {
      auto s = ws.lock();
      auto from = wl.lock();
      if (s && from) s->on_notify(*from, id, body);
    });
  l->on_close([ws, wl = std::weak_ptr<link>(l), id = l->id()](std::error_code) {
    auto s = ws.lock();
    if (!s) return;
    std::vector<detail::session_key> gone;
    for (auto& [k, v] : s->sessions)
      if (k.link == id) gone.push_back(k);
    for (auto& k : gone) s->end_session(k);
    std::erase_if(s->gateways, [&](const std::shared_ptr<link>& g) { return g->id() == id; });
  });
  state_->gateways.push_back(l);
}

}  // namespace ember::cluster
