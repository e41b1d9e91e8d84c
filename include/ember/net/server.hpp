// ember: the client-facing server: accepts sessions, dispatches their requests to a command
// table, pushes and broadcasts, enforces limits and timeouts, and stops gracefully.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "ember/net/detail/relay.hpp"
#include "ember/net/detail/tcp_session.hpp"
#include "ember/net/dispatch.hpp"
#include "ember/net/groups.hpp"
#include "ember/net/overload.hpp"
#include "ember/net/server_options.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::net {

/// The connection counters of one listener.
struct listener_stats {
  std::uint64_t accepted = 0;
  std::uint64_t refused = 0;  ///< turned away by session limits
  std::uint64_t closed = 0;
};

/// Counters of a server, for status pages and tests.
struct server_stats {
  std::uint64_t accepted = 0;
  std::uint64_t refused = 0;   ///< connections turned away by session limits
  std::uint64_t closed = 0;
  /// The three counters above per listener (indexed by `listener`).
  std::array<listener_stats, listener_count> by_listener{};
  std::uint64_t requests = 0;
  std::uint64_t failed = 0;    ///< requests answered with an error frame
  std::uint64_t parked = 0;    ///< sessions kept after their connection was lost
  std::uint64_t resumed = 0;   ///< sessions resumed on a new connection
  std::uint64_t expired = 0;   ///< parked sessions that ended unresumed
  std::uint64_t pushes = 0;    ///< push frames queued to sessions (each recipient of a broadcast)
  std::uint64_t broadcasts = 0;  ///< broadcasts to a group or to everyone
  /// Requests answered `overloaded` without running: the sessions' buffers were past the
  /// budget's high watermark.
  std::uint64_t overload_refused = 0;
  /// Sessions closed because they held the most when the buffers went past the budget.
  std::uint64_t shed = 0;
  std::uint64_t moved_out = 0;  ///< sessions handed to another server (this one drained)
  std::uint64_t moved_in = 0;   ///< sessions taken over from a server that drained
};

/// What `server::drain` did.
struct drain_result {
  std::size_t told = 0;    ///< sessions told to move (a `moved` push)
  std::size_t moved = 0;   ///< of those, handed over to another server
  std::size_t closed = 0;  ///< sessions that could not move (not resumable), closed
  std::size_t left = 0;    ///< sessions still here at the deadline
  std::chrono::milliseconds took{0};
};

/// A listener of client sessions on one `io_context` (one thread, no locks).
///
/// The server must outlive every handler it runs and the `io_context`'s last run. Handlers
/// that need it (its groups, broadcasts, other sessions) take it in their constructor: build
/// the server first, then the handlers, then give it their table (docs/decisions.md,
/// "Handlers are given what they reach"):
///
///   ember::net::server server(io, {.name = "chat", .port = 7001});
///   chat_service service(server);
///   ember::net::dispatch_table table;
///   chat::register_commands(table, service);
///   server.set_table(std::move(table));
///   server.start();
class server {
 public:
  /// A server answering `table` (empty: every command is unknown until `set_table`). Throws
  /// `std::invalid_argument` when `options.overload`'s watermarks are out of order.
  server(asio::io_context& io, server_options options, dispatch_table table = {});
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds, listens and starts accepting; throws `std::system_error` if the port is taken.
  void start();
  /// The port listened on (useful when options.port was 0).
  std::uint16_t port() const noexcept { return port_; }
  /// The WebSocket listener's port (0 when `options.websocket_port` is unset).
  std::uint16_t websocket_port() const noexcept { return websocket_port_; }

  /// Stops gracefully: no new sessions, new requests are refused with `shutting_down`,
  /// in-flight requests finish (up to `grace`), queued writes are flushed, sessions close.
  asio::awaitable<void> stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

  /// Drains the server (docs/operations.md, "Draining a net server"): it refuses new
  /// sessions, tells each resumable session's client to resume on one of `resume_peers`
  /// (in turn), and hands the session over to that server when it asks; a session that
  /// cannot move (Firefly, a client that does not resume) is closed with `shutting_down`.
  /// Returns when every session has left, or at `deadline`. Throws `std::logic_error` when
  /// the server has no `resume_peers`.
  asio::awaitable<drain_result> drain(std::chrono::milliseconds deadline = std::chrono::seconds(30));
  /// True once `drain` was called.
  bool draining() const noexcept { return draining_; }

  /// Replaces the command table; requests already running finish on the old one.
  void set_table(dispatch_table table) { table_ = counted(std::move(table)); }
  const std::shared_ptr<const dispatch_table>& table() const noexcept { return table_; }
  /// Requests, failures and latencies per command (ember/net/command_stats.hpp): the table's
  /// `command_stats` if it came with one (a host's, shared with its links), else this server's.
  const ember::net::command_stats& per_command() const noexcept { return *table_->stats(); }

  /// Sends a push to one session; false if there is no such open session.
  template <class Push>
  bool push(std::uint64_t session_id, const Push& p) {
    auto* s = find_session(session_id);
    if (!s || !s->is_open()) return false;
    s->push(p);
    return true;
  }
  /// Sends a push to each member of `group`, or to every session if `group` is empty;
  /// encodes the body once per encoding. Returns how many sessions it was queued for.
  template <class Push>
  std::size_t broadcast(std::string_view group, const Push& p) {
    return broadcast_body(group, Push::push_id, body_writer(p));
  }
  std::size_t broadcast_body(std::string_view group, std::uint16_t push_id,
                             const body_writer& body);

  /// The open session with this id, or null.
  std::shared_ptr<session> find(std::uint64_t id) const {
    auto it = sessions_.find(id);
    return it == sessions_.end() ? nullptr : it->second;
  }
  /// The session bound to user `user` (see `session::bind_user`), or null. One user has at
  /// most one session: binding a user to a second one closes the first with `status::replaced`.
  std::shared_ptr<session> find_user(std::uint64_t user) const;

  /// Queues a push whose body is already encoded, in binary and in JSON, to one session (each
  /// session takes the encoding it asked for); false if there is no such open session.
  bool push_encoded(std::uint64_t session_id, std::uint16_t push_id, bytes_view binary,
                    bytes_view json);
  /// The same to each member of `group` (every session if empty); returns how many.
  std::size_t broadcast_encoded(std::string_view group, std::uint16_t push_id,
                                bytes_view binary, bytes_view json);
  /// Tells a session why it ends (an error frame with sequence 0 on the native framing), then
  /// closes it; false if there is no such open session.
  bool kick(std::uint64_t session_id, status why, std::string_view message);
  std::size_t session_count() const noexcept { return sessions_.size(); }
  /// `session_count()` per listener (indexed by `listener`): where each session's connection
  /// came in (a resumed one, its latest). A walk of the sessions, for a scrape.
  std::array<std::size_t, listener_count> sessions_by_listener() const noexcept;
  /// True if the server has listener `l` (the WebSocket one only with `websocket_port`).
  bool has_listener(listener l) const noexcept {
    return l == listener::client_port || options_.websocket_port.has_value();
  }
  /// What listener `l` speaks, as the `listener` label of metrics: `tcp`, `tls`, `firefly` or
  /// `firefly_tls` for the client port, `websocket` or `wss` for the WebSocket port.
  std::string_view listener_name(listener l) const noexcept;
  /// Sessions waiting to be resumed (their connection is lost).
  std::size_t parked_count() const noexcept;
  std::size_t in_flight() const noexcept { return in_flight_; }
  /// Bytes queued for clients and not yet written, over every session's write queue; a walk
  /// of the sessions, for a scrape.
  std::size_t queued_bytes() const noexcept;
  /// The account of bytes all sessions buffer, against `options().overload`.
  const buffer_budget& budget() const noexcept { return budget_; }
  const server_stats& stats() const noexcept { return stats_; }
  const server_options& options() const noexcept { return options_; }
  /// The groups of this server's sessions (join and leave through `session`).
  group_registry& groups() noexcept { return groups_; }
  const group_registry& groups() const noexcept { return groups_; }
  asio::io_context& context() noexcept { return io_; }
  bool stopping() const noexcept { return stopping_; }

  /// Adds a callback run when a session has closed (after it left its groups), e.g. to save
  /// its player.
  void on_session_closed(std::function<void(session&)> f) { on_closed_.push_back(std::move(f)); }
  /// Adds a callback run when a session has moved to another server (this one drains): it did
  /// not end, so `on_session_closed` does not run for it (after it left its groups).
  void on_session_moved(std::function<void(session&)> f) { on_moved_.push_back(std::move(f)); }
  /// Adds a callback run when a session of another server that drains has moved here:
  /// `f(session, from, from_id)`, its old server's name and its id there (before its client
  /// resumes it, so before any of its requests here).
  using arrived_fn = std::function<void(session&, const std::string& from, std::uint64_t from_id)>;
  void on_session_arrived(arrived_fn f) { on_arrived_.push_back(std::move(f)); }

 private:
  friend class detail::tcp_session;

  asio::awaitable<void> accept_loop(asio::ip::tcp::acceptor& acceptor, bool websocket);
  asio::awaitable<void> sweep_loop();
  void refuse(asio::ip::tcp::socket& socket, status why, bool websocket);
  template <class F>
  std::size_t for_each_open(std::string_view group, F&& f);
  detail::tcp_session* find_session(std::uint64_t id) const {
    auto it = sessions_.find(id);
    return it == sessions_.end() ? nullptr : it->second.get();
  }
  // Called by sessions.
  void schedule_flush(std::shared_ptr<detail::tcp_session> s);
  void remove(detail::tcp_session& s);
  /// Past the budget: closes the sessions holding the most until use is at the low watermark.
  void shed_over_budget();
  void bind_user(detail::tcp_session& s, std::uint64_t old_user, std::uint64_t user);
  // Resume tokens of resumable sessions (each token is single-use).
  detail::tcp_session* find_resumable(const wire::resume_token& t) const {
    auto it = resumable_.find(t);
    return it == resumable_.end() ? nullptr : it->second;
  }
  void new_token(detail::tcp_session& s, wire::resume_token& token);
  /// A resume with another server's token goes there (a relay); false if it is not ours to
  /// relay (this server's token, or one of no known peer).
  bool relay_to_home(detail::tcp_session& fresh, const wire::client_hello& hello);
  void forget_token(const wire::resume_token& token) { resumable_.erase(token); }
  // Moving sessions when a server drains (impl/server_drain.hpp).
  /// A client told to move here by the server holding its session: take the session over
  /// from there; false if that server is not a known peer (or is reached through TLS).
  bool take_over(detail::tcp_session& fresh, const wire::client_hello& hello);
  asio::awaitable<void> take_over_from(std::size_t peer, std::shared_ptr<detail::tcp_session> fresh,
                                       wire::client_hello hello);
  /// A peer taking over a session of this server (which drains): hand it the state.
  void serve_take_over(detail::tcp_session& peer, const wire::client_hello& hello);
  asio::awaitable<void> hand_over(std::shared_ptr<detail::tcp_session> peer,
                                  std::shared_ptr<detail::tcp_session> s, std::uint32_t received);
  void release_address(const asio::ip::address& a) {
    auto it = per_address_.find(a);
    if (it != per_address_.end() && --it->second == 0) per_address_.erase(it);
  }
  std::span<std::byte> read_buffer() noexcept { return read_buffer_; }
  detail::coarse_time now() const noexcept { return now_; }
  // `table`, counting its requests in this server's stats unless it brings its own.
  std::shared_ptr<const dispatch_table> counted(dispatch_table table) const {
    if (!table.stats()) table.set_stats(own_stats_);
    return std::make_shared<const dispatch_table>(std::move(table));
  }

  asio::io_context& io_;
  server_options options_;
  std::shared_ptr<const detail::tls_context> tls_;  // set when a listener speaks TLS
  // per resume peer (same order): set when its client port speaks TLS
  std::vector<std::shared_ptr<const detail::tls_context>> peer_tls_;
  std::shared_ptr<ember::net::command_stats> own_stats_ = std::make_shared<ember::net::command_stats>();
  std::shared_ptr<const dispatch_table> table_;
  asio::ip::tcp::acceptor acceptor_;
  asio::ip::tcp::acceptor websocket_acceptor_;
  asio::steady_timer sweep_timer_;
  std::unordered_map<std::uint64_t, std::shared_ptr<detail::tcp_session>> sessions_;
  std::unordered_map<asio::ip::address, std::uint32_t> per_address_;
  std::unordered_map<std::uint64_t, detail::tcp_session*> users_;  // bound user -> session
  struct token_hash {
    std::size_t operator()(const wire::resume_token& t) const noexcept {
      std::size_t h;  // bytes 8.. are random: any 8 of them are a good hash
      std::memcpy(&h, t.data() + 8, sizeof h);
      return h;
    }
  };
  std::vector<std::weak_ptr<detail::relay>> relays_;
  std::unordered_map<wire::resume_token, detail::tcp_session*, token_hash> resumable_;
  group_registry groups_;
  std::vector<std::shared_ptr<detail::tcp_session>> to_flush_;
  std::vector<std::shared_ptr<detail::tcp_session>> flushing_;
  std::vector<std::function<void(session&)>> on_closed_;
  std::vector<std::function<void(session&)>> on_moved_;
  std::vector<arrived_fn> on_arrived_;
  std::array<std::byte, 64 * 1024> read_buffer_;
  server_stats stats_;
  buffer_budget budget_;
  detail::coarse_time now_;
  std::chrono::steady_clock::time_point last_refusal_log_{};
  std::uint64_t refused_unlogged_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::uint64_t next_id_ = 0;
  std::size_t in_flight_ = 0;
  std::uint16_t port_ = 0;
  std::uint16_t websocket_port_ = 0;
  bool stopping_ = false;
  bool draining_ = false;
  bool flush_posted_ = false;
  bool shedding_ = false;
};

}  // namespace ember::net

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/net/impl/server.hpp"
#endif
