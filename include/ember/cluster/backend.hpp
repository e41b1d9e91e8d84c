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
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "ember/cluster/keyed_queue.hpp"
#include "ember/cluster/link.hpp"
#include "ember/cluster/reply_cache.hpp"
#include "ember/cluster/route_wire.hpp"
#include "ember/net/dispatch.hpp"
#include "ember/net/session_attributes.hpp"
#include "ember/separate_compilation.hpp"

namespace ember_cluster_wire {
struct session_op;
enum class session_op_kind : std::int32_t;
}  // namespace ember_cluster_wire

namespace ember::cluster {

/// Who a backend is.
struct backend_options {
  std::string name;  ///< this server's name (what sessions get bound to)
  std::string type;  ///< its server type
  /// What it remembers of requests with a request id, to answer their retries.
  reply_cache_options retries{};
};

/// The session attribute that binds a client session to one instance of `type`.
EMBER_DECL std::string route_attribute(std::string_view type);

namespace detail {
struct backend_state;
}

/// A client of a gateway, as a backend's handlers see it. Pushes, groups, user binding,
/// attributes and close act on the gateway's session; what a handler reads (user, groups,
/// attributes) is answered here, from what this backend knows and set.
class remote_session final : public net::session {
 public:
  remote_session(std::weak_ptr<link> l, std::weak_ptr<detail::backend_state> owner,
                 const route::envelope& env);

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
  void push_body(std::uint16_t push_id, const net::body_writer& body) override;
  /// Reaches the group on every gateway.
  void broadcast_body(std::string_view group, std::uint16_t push_id,
                      const net::body_writer& body) override;

  /// The gateway link this session lives behind.
  std::shared_ptr<link> gateway() const { return link_.lock(); }

 private:
  friend struct detail::backend_state;
  bool link_alive() const noexcept;
  // Sends a session_op of kind `what` for this session to its gateway; `fill` sets its fields.
  void send_op(ember_cluster_wire::session_op_kind what,
               const std::function<void(ember_cluster_wire::session_op&)>& fill);

  std::weak_ptr<link> link_;
  std::weak_ptr<detail::backend_state> owner_;
  route::envelope env_;
  std::uint64_t user_ = 0;
  std::vector<std::string> groups_;
  net::session_attributes attributes_;
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
                std::shared_ptr<const net::dispatch_table> t);

  // Where the replies of requests with a request id go: kept for retries, then sent.
  struct remembering_responder final : net::responder {
    backend_state* st = nullptr;
    void reply_body(const net::request_info& req, const net::body_writer& body) override;
  };

  asio::any_io_executor ex;
  backend_options options;
  std::shared_ptr<const net::dispatch_table> table;
  keyed_queue queue;
  std::vector<std::shared_ptr<link>> gateways;
  std::unordered_map<session_key, std::shared_ptr<remote_session>, session_key_hash> sessions;
  std::vector<std::function<void(net::session&)>> on_closed;
  reply_cache replies;
  remembering_responder remembering;
  std::size_t overlapping = 0;  // `ordered = false` requests running (not in `queue`)
  bool draining = false;

  // Sends one message to every gateway (or every one but `except`).
  void to_gateways(route::notify_id id, const buffer& body, const link* except = nullptr);
  // A backend does not know which encoding each target client wants: these send both.
  void push_to_user(std::uint64_t user, std::uint16_t push_id, const net::body_writer& body);
  void broadcast(std::string_view group, std::uint16_t push_id, const net::body_writer& body);
  void end_session(const session_key& k);
  // The session moved from the gateway named `from` to `to` (that sent this): the view keyed
  // by its old gateway and id becomes the one of the new, attributes, groups and user kept.
  void move_session(link& to, const std::string& from, std::uint64_t from_session,
                    std::uint64_t session);
  void serve(link& l, const wire::frame& f);
  // A retry of a request that ran or runs here: answered from `replies`, true. False: run it.
  bool replay(link& l, const wire::frame& f, const route::envelope& env, bool& remember);
  // The first run of a remembered request ended: keep its outcome, answer its retries.
  void remember_end(std::uint64_t request_id, std::exception_ptr error);
  void on_notify(link& l, route::notify_id id, bytes_view body);
};

}  // namespace detail

/// Serves forwarded client commands; see the top of this file.
class backend {
 public:
  backend(asio::any_io_executor ex, backend_options options,
          std::shared_ptr<const net::dispatch_table> table);
  ~backend();
  backend(const backend&) = delete;
  backend& operator=(const backend&) = delete;

  /// Replaces the command table; requests already running finish on the old one.
  void set_table(std::shared_ptr<const net::dispatch_table> table) { state_->table = std::move(table); }

  /// Serves the requests the gateway at the other end of `l` forwards, and sends pushes
  /// through it. When the link closes, its sessions end (as if their clients disconnected).
  void attach(const std::shared_ptr<link>& l);

  /// Sends a push to the session user `user` has on any gateway (none: dropped).
  template <class Push>
  void push_to_user(std::uint64_t user, const Push& p) {
    push_to_user_body(user, Push::push_id, net::body_writer(p));
  }
  void push_to_user_body(std::uint64_t user, std::uint16_t push_id, const net::body_writer& body) {
    state_->push_to_user(user, push_id, body);
  }

  /// Sends a push to every member of `group` on every gateway (every client if empty).
  template <class Push>
  void broadcast(std::string_view group, const Push& p) {
    broadcast_body(group, Push::push_id, net::body_writer(p));
  }
  void broadcast_body(std::string_view group, std::uint16_t push_id, const net::body_writer& body) {
    state_->broadcast(group, push_id, body);
  }

  /// Binds `s` to this instance: the gateway sends its requests for this server type here
  /// from now on, until it closes, is rebound, or this instance goes away.
  void bind_here(net::session& s) const {
    s.set_attribute(route_attribute(state_->options.type), state_->options.name);
  }

  /// Adds a callback run when a client session this backend served ends (its client
  /// disconnected, or the gateway's link dropped): the place to save its player.
  void on_session_closed(std::function<void(net::session&)> f) {
    state_->on_closed.push_back(std::move(f));
  }

  /// Sessions this backend knows (clients it served that are still connected).
  std::size_t session_count() const noexcept { return state_->sessions.size(); }
  /// Gateways attached.
  std::size_t gateway_count() const noexcept { return state_->gateways.size(); }
  /// Requests with ids remembered now, and retries answered from memory so far.
  std::size_t remembered() const noexcept { return state_->replies.size(); }
  std::uint64_t replayed() const noexcept { return state_->replies.replayed(); }
  const backend_options& options() const noexcept { return state_->options; }

  /// Draining (docs/operations.md, "Draining and rolling upgrades"): tells every gateway to
  /// route no new session here and clears the binding of each session bound here, so their
  /// next requests go to the other servers of this type. Returns once every gateway has
  /// answered, which it does after every request it forwarded here before: from then on
  /// nothing new arrives (unless a request already here binds a session again: call it until
  /// it unbinds nobody). Returns how many sessions it unbound.
  asio::awaitable<std::size_t> leave_gateways();
  /// True once `leave_gateways` was called (this backend is draining or drained).
  bool draining() const noexcept { return state_->draining; }
  /// True when no request nor `for_player` work runs or waits here.
  bool idle() const noexcept { return state_->overlapping == 0 && state_->queue.busy_keys() == 0; }

  /// Runs `work` in the queue of player `user`, after the requests and work queued for that
  /// player before it (use it in server-to-server handlers that change a player).
  template <class T>
  asio::awaitable<T> for_player(std::uint64_t user, asio::awaitable<T> work);

 private:
  std::shared_ptr<detail::backend_state> state_;
};

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

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/cluster/impl/backend.hpp"
#endif
