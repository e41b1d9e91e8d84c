// ember: the serving side of routing. A backend (a `game` server) runs the client commands
// that client-facing servers forward to it, against a `remote_session` that acts on the
// client through the gateway that holds it; it pushes to users and groups on every gateway,
// runs one player's work one item at a time, and hears when clients disconnect.
//
//   cluster::backend game(io.get_executor(), {"game1", "game"}, table);
//   net1_link.on_connected([&](auto& l) { game.attach(l); });  // a link to each gateway
//   game.push_to_user(42, chat::chat_message{...});
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/co_spawn.hpp>

#include "ember/cluster/keyed_queue.hpp"
#include "ember/cluster/link.hpp"
#include "ember/cluster/route_wire.hpp"
#include "ember/log.hpp"
#include "ember/net/dispatch.hpp"

namespace ember::cluster {

/// Who a backend is.
struct backend_options {
  std::string name;  ///< this server's name (what sessions get bound to)
  std::string type;  ///< its server type
};

/// The session attribute that binds a client session to one instance of `type`.
inline std::string route_attribute(std::string_view type) {
  return "ember.route." + std::string(type);
}

namespace detail {
struct backend_state;
}

/// A client of a gateway, as a backend's handlers see it. Pushes, groups, user binding,
/// attributes and close act on the gateway's session; what a handler reads (user, groups,
/// attributes) is answered here, from what this backend knows and set.
class remote_session final : public session {
 public:
  remote_session(std::weak_ptr<link> l, std::weak_ptr<detail::backend_state> owner,
                 const route::envelope& env)
      : link_(std::move(l)), owner_(std::move(owner)), env_(env), user_(env.user) {}

  /// The session's id on its gateway (unique per gateway, not across the cluster).
  std::uint64_t id() const noexcept override { return env_.session; }
  void join(std::string_view group) override;
  void leave(std::string_view group) override;
  bool in_group(std::string_view group) const override;
  /// Binds the user here and on the gateway, and closes any older session of that user on
  /// every gateway (the newest login wins).
  void bind_user(std::uint64_t user) override;
  std::optional<std::uint64_t> user() const override {
    return user_ ? std::optional<std::uint64_t>(user_) : std::nullopt;
  }
  void set_attribute(std::string_view key, std::string value) override;
  std::optional<std::string_view> attribute(std::string_view key) const override;
  std::string remote_address() const override;
  void close(std::string_view reason) override;
  bool is_open() const noexcept override { return open_ && link_alive(); }
  codec::encoding push_encoding() const noexcept override { return env_.push_encoding; }
  void push_body(std::uint16_t push_id, const body_writer& body) override;
  /// Reaches the group on every gateway.
  void broadcast_body(std::string_view group, std::uint16_t push_id,
                      const body_writer& body) override;

  /// The gateway link this session lives behind.
  std::shared_ptr<link> gateway() const { return link_.lock(); }

 private:
  friend struct detail::backend_state;
  bool link_alive() const noexcept {
    auto l = link_.lock();
    return l && l->is_open();
  }
  void send_op(route::op what, const std::function<void(route::writer&)>& fill);

  std::weak_ptr<link> link_;
  std::weak_ptr<detail::backend_state> owner_;
  route::envelope env_;
  std::uint64_t user_ = 0;
  std::vector<std::string> groups_;
  std::vector<std::pair<std::string, std::string>> attributes_;
  bool open_ = true;
};

namespace detail {

struct session_key {
  std::uint64_t link = 0, session = 0;
  bool operator==(const session_key&) const = default;
};
struct session_key_hash {
  std::size_t operator()(const session_key& k) const noexcept {
    return std::hash<std::uint64_t>{}(k.session * 0x9e3779b97f4a7c15ULL ^ k.link);
  }
};

struct backend_state : std::enable_shared_from_this<backend_state> {
  backend_state(asio::any_io_executor e, backend_options o,
                std::shared_ptr<const dispatch_table> t)
      : ex(e), options(std::move(o)), table(std::move(t)), queue(e) {}

  asio::any_io_executor ex;
  backend_options options;
  std::shared_ptr<const dispatch_table> table;
  keyed_queue queue;
  std::vector<std::shared_ptr<link>> gateways;
  std::unordered_map<session_key, std::shared_ptr<remote_session>, session_key_hash> sessions;
  std::vector<std::function<void(session&)>> on_closed;

  // Sends one message to every gateway (or every one but `except`).
  void to_gateways(route::notify_id id, const buffer& body, const link* except = nullptr) {
    for (auto& g : gateways)
      if (g.get() != except && g->is_open()) (void)g->notify_bytes(std::uint16_t(id), body.view());
  }

  // A backend does not know which encoding each target client wants: it sends both.
  void to_gateways_encoded(route::notify_id id, buffer& out, route::writer& w,
                           const body_writer& body) {
    buffer binary;
    body(binary, codec::encoding::binary);
    w.bytes(binary.view());
    body(out, codec::encoding::json);
    to_gateways(id, out);
  }
  void push_to_user(std::uint64_t user, std::uint16_t push_id, const body_writer& body) {
    buffer out;
    route::writer w(out);
    w.u64(user).u16(push_id);
    to_gateways_encoded(route::notify_id::push_user, out, w, body);
  }
  void broadcast(std::string_view group, std::uint16_t push_id, const body_writer& body) {
    buffer out;
    route::writer w(out);
    w.str(group).u16(push_id);
    to_gateways_encoded(route::notify_id::broadcast, out, w, body);
  }

  void end_session(const session_key& k) {
    auto it = sessions.find(k);
    if (it == sessions.end()) return;
    auto s = std::move(it->second);
    sessions.erase(it);
    s->open_ = false;
    for (auto& f : on_closed) f(*s);
  }

  void serve(link& l, const wire::frame& f) {
    const auto command = static_cast<std::uint16_t>(f.command);
    bytes_view body;
    auto env = route::read_envelope(f.body, body);
    if (!env) {
      l.send_error(command, f.seq, static_cast<std::uint16_t>(status::bad_request),
                   "malformed route envelope");
      return;
    }
    const command_entry* entry = table ? table->find(command) : nullptr;
    if (!entry || entry->internal) {
      l.send_error(command, f.seq, static_cast<std::uint16_t>(status::unknown_command),
                   "unknown command " + std::to_string(command) + " on " + options.name);
      return;
    }
    auto& s = sessions[session_key{l.id(), env->session}];
    if (!s)
      s = std::make_shared<remote_session>(l.weak_from_this(), weak_from_this(), *env);
    if (env->user) s->user_ = env->user;  // the gateway's binding is the truth
    s->env_.push_encoding = env->push_encoding;
    const auto enc = (f.flags & wire::flag::json) ? codec::encoding::json : codec::encoding::binary;
    request_info info{s, &l.replies(), f.seq, command, enc, table};
    stamp_dispatch(info);
    std::error_code ec;
    auto work = entry->start(entry->handler, info, body, ec);
    if (ec) {
      count_request(info, true);
      l.send_error(command, f.seq, static_cast<std::uint16_t>(status::bad_request),
                   std::string(entry->name) + ": " + ec.message());
      return;
    }
    auto done = [keep = l.shared_from_this(), info](std::exception_ptr e) {
      keep->finish_request(info, e);
    };
    if (!entry->ordered) {
      asio::co_spawn(ex, std::move(work), std::move(done));
      return;
    }
    // One player's work runs one item at a time; before login, one session's.
    const work_key key = s->user_ ? work_key{0, s->user_} : work_key{l.id(), env->session};
    queue.post(key, std::move(work), std::move(done));
  }

  void on_notify(link& l, route::notify_id id, bytes_view body) {
    if (id != route::notify_id::session_closed) return;
    route::reader r(body);
    const auto session = r.u64();
    if (r.ok()) end_session(session_key{l.id(), session});
  }
};

}  // namespace detail

/// Serves forwarded client commands; see the top of this file.
class backend {
 public:
  backend(asio::any_io_executor ex, backend_options options,
          std::shared_ptr<const dispatch_table> table)
      : state_(std::make_shared<detail::backend_state>(ex, std::move(options), std::move(table))) {}
  ~backend() {
    for (auto& g : state_->gateways) g->on_routed(nullptr);
  }
  backend(const backend&) = delete;
  backend& operator=(const backend&) = delete;

  /// Replaces the command table; requests already running finish on the old one.
  void set_table(std::shared_ptr<const dispatch_table> table) { state_->table = std::move(table); }

  /// Serves the requests the gateway at the other end of `l` forwards, and sends pushes
  /// through it. When the link closes, its sessions end (as if their clients disconnected).
  void attach(const std::shared_ptr<link>& l) {
    std::weak_ptr<detail::backend_state> ws = state_;
    l->on_routed([ws](link& from, const wire::frame& f) {
      if (auto s = ws.lock()) s->serve(from, f);
    });
    l->on_notify(std::uint16_t(route::notify_id::session_closed),
                 [ws, wl = std::weak_ptr<link>(l)](bytes_view body, codec::encoding) {
                   auto s = ws.lock();
                   auto from = wl.lock();
                   if (s && from) s->on_notify(*from, route::notify_id::session_closed, body);
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

  /// Sends a push to the session user `user` has on any gateway (none: dropped).
  template <class Push>
  void push_to_user(std::uint64_t user, const Push& p) {
    push_to_user_body(user, Push::push_id, body_writer(p));
  }
  void push_to_user_body(std::uint64_t user, std::uint16_t push_id, const body_writer& body) {
    state_->push_to_user(user, push_id, body);
  }

  /// Sends a push to every member of `group` on every gateway (every client if empty).
  template <class Push>
  void broadcast(std::string_view group, const Push& p) {
    broadcast_body(group, Push::push_id, body_writer(p));
  }
  void broadcast_body(std::string_view group, std::uint16_t push_id, const body_writer& body) {
    state_->broadcast(group, push_id, body);
  }

  /// Binds `s` to this instance: the gateway sends its requests for this server type here
  /// from now on, until it closes, is rebound, or this instance goes away.
  void bind_here(session& s) const {
    s.set_attribute(route_attribute(state_->options.type), state_->options.name);
  }

  /// Adds a callback run when a client session this backend served ends (its client
  /// disconnected, or the gateway's link dropped): the place to save its player.
  void on_session_closed(std::function<void(session&)> f) {
    state_->on_closed.push_back(std::move(f));
  }

  /// Sessions this backend knows (clients it served that are still connected).
  std::size_t session_count() const noexcept { return state_->sessions.size(); }
  /// Gateways attached.
  std::size_t gateway_count() const noexcept { return state_->gateways.size(); }
  const backend_options& options() const noexcept { return state_->options; }

  /// Runs `work` in the queue of player `user`, after the requests and work queued for that
  /// player before it (use it in server-to-server handlers that change a player).
  template <class T>
  asio::awaitable<T> for_player(std::uint64_t user, asio::awaitable<T> work);

 private:
  std::shared_ptr<detail::backend_state> state_;
};

// ------------------------------------------------------------------ remote_session

inline void remote_session::send_op(route::op what,
                                    const std::function<void(route::writer&)>& fill) {
  auto l = link_.lock();
  if (!l || !open_) return;
  buffer out;
  route::writer w(out);
  w.u64(env_.session).u8(static_cast<std::uint8_t>(what));
  fill(w);
  (void)l->notify_bytes(std::uint16_t(route::notify_id::session_op), out.view());
}

inline void remote_session::push_body(std::uint16_t push_id, const body_writer& body) {
  auto l = link_.lock();
  if (!l || !open_) return;
  buffer out;
  route::writer w(out);
  w.u64(env_.session).u8(static_cast<std::uint8_t>(route::op::push)).u16(push_id);
  body(out, env_.push_encoding);
  (void)l->notify_bytes(std::uint16_t(route::notify_id::session_op), out.view());
}

inline void remote_session::broadcast_body(std::string_view group, std::uint16_t push_id,
                                           const body_writer& body) {
  if (auto owner = owner_.lock()) owner->broadcast(group, push_id, body);
}

inline void remote_session::join(std::string_view group) {
  if (!in_group(group)) groups_.emplace_back(group);
  send_op(route::op::join, [&](route::writer& w) { w.str(group); });
}

inline void remote_session::leave(std::string_view group) {
  std::erase(groups_, group);
  send_op(route::op::leave, [&](route::writer& w) { w.str(group); });
}

inline bool remote_session::in_group(std::string_view group) const {
  for (auto& g : groups_)
    if (g == group) return true;
  return false;
}

inline void remote_session::bind_user(std::uint64_t user) {
  user_ = user;
  // Wall-clock nanoseconds order logins across backends; the newest wins everywhere.
  const auto stamp = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  send_op(route::op::bind_user, [&](route::writer& w) { w.u64(user).u64(stamp); });
  if (user == 0) return;
  auto owner = owner_.lock();
  auto l = link_.lock();
  if (!owner || !l) return;
  buffer out;
  route::writer(out).u64(user).u64(stamp);
  owner->to_gateways(route::notify_id::claim_user, out, l.get());
}

inline void remote_session::set_attribute(std::string_view key, std::string value) {
  send_op(route::op::set_attribute, [&](route::writer& w) { w.str(key).str(value); });
  for (auto& [k, v] : attributes_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  attributes_.emplace_back(std::string(key), std::move(value));
}

inline std::optional<std::string_view> remote_session::attribute(std::string_view key) const {
  for (auto& [k, v] : attributes_)
    if (k == key) return std::string_view(v);
  return std::nullopt;
}

inline std::string remote_session::remote_address() const {
  auto l = link_.lock();
  return "session " + std::to_string(env_.session) + " via " + (l ? l->peer().name : "?");
}

inline void remote_session::close(std::string_view reason) {
  send_op(route::op::close, [&](route::writer& w) { w.str(reason); });
}

template <class T>
asio::awaitable<T> backend::for_player(std::uint64_t user, asio::awaitable<T> work) {
  struct slot {
    std::optional<T> value;
    std::exception_ptr error;
    asio::steady_timer done;
    explicit slot(asio::any_io_executor ex) : done(ex, asio::steady_timer::time_point::max()) {}
  };
  auto s = std::make_shared<slot>(state_->ex);
  state_->queue.post(
      work_key{0, user},
      [](std::shared_ptr<slot> s, asio::awaitable<T> w) -> asio::awaitable<void> {
        s->value.emplace(co_await std::move(w));
      }(s, std::move(work)),
      [s](std::exception_ptr e) {
        s->error = e;
        s->done.cancel();
      });
  if (!s->value && !s->error)
    co_await s->done.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  if (s->error) std::rethrow_exception(s->error);
  co_return std::move(*s->value);
}

}  // namespace ember::cluster
