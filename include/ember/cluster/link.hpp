// ember: an authenticated link between two server processes: typed calls in both directions,
// many in flight, each with a deadline; one-way notifies; incoming requests served by a
// dispatch table. Root and node hand out links; this header is what both sides use.
#pragma once

#include <algorithm>
#include <chrono>
#include <deque>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "ember/cluster/rendezvous.hpp"
#include "ember/cluster/route_wire.hpp"
#include "ember/codec/codec.hpp"
#include "ember/error.hpp"
#include "ember/net/client.hpp"
#include "ember/net/detail/call_table.hpp"
#include "ember/net/detail/connection.hpp"
#include "ember/net/dispatch.hpp"
#include "ember/net/session.hpp"
#include "ember/outcome.hpp"
#include "ember/separate_compilation.hpp"
#include "ember/buffer.hpp"

namespace ember::cluster {

/// TLS of links: this server's certificate and key, and the CA that signs every server's.
struct link_tls {
  std::string cert_file;  ///< PEM certificate chain, this server's first
  std::string key_file;   ///< its PEM private key
  std::string ca_file;    ///< PEM CA certificate(s) every peer's certificate must chain to
  bool operator==(const link_tls&) const = default;
};

/// What the links of one server sent, by outcome: shared by all of them through
/// `link_options::counters`, so the figures outlive reconnects (the host's metrics show them).
struct link_counters {
  std::uint64_t calls = 0;          ///< calls made, whatever their outcome
  std::uint64_t call_errors = 0;    ///< of those, answered with an error frame by the peer
  std::uint64_t call_timeouts = 0;  ///< no answer within the deadline
  std::uint64_t call_failures = 0;  ///< not sent, or lost with the link (closed, queue full, ...)
  std::uint64_t notifies = 0;       ///< one-way notifies queued
};

/// Settings of a link (both sides).
struct link_options {
  std::chrono::milliseconds default_timeout{5'000};  ///< deadline of a call without its own
  std::chrono::milliseconds auth_timeout{5'000};     ///< the handshake must finish within this
  std::size_t max_frame = 16 << 20;                  ///< largest body sent or accepted
  /// Bytes of requests and notifies waiting for the socket; past it a call fails at once with
  /// `errc::overloaded` (the link itself stays up). Replies are not counted: dropping one would
  /// only turn the peer's call into a timeout.
  std::size_t max_queue = 8 << 20;
  /// Set: links speak TLS under their authentication (PROTOCOL.md, "TLS"): each side presents
  /// its certificate and checks the other's against the cluster's CA; the node also checks
  /// that the root's certificate names the host it connects to. Both sides of a link need it.
  std::optional<link_tls> tls{};
  /// Set: this link counts its calls and notifies there.
  std::shared_ptr<link_counters> counters{};
};

class link_session;

namespace detail {
/// The peer address of `s` as "address:port" ("?" when unknown), for logs.
EMBER_DECL std::string address_of(const asio::ip::tcp::socket& s);
/// A call's timeout as the `ack` field of a request with `wire::flag::deadline` carries it.
inline std::uint32_t deadline_ms(std::chrono::milliseconds timeout) noexcept {
  return static_cast<std::uint32_t>(std::clamp<std::chrono::milliseconds::rep>(
      timeout.count(), 1, std::numeric_limits<std::uint32_t>::max()));
}
}  // namespace detail

/// Handles a notify (one-way push) that arrived on a link.
using notify_handler = std::function<void(bytes_view body, codec::encoding)>;

/// One authenticated connection to another server. Always held by `std::shared_ptr`; calls and
/// served requests keep it alive while they run. Every call ends: with its reply, a remote
/// error (`errc::remote_error` + status + message), `timeout`, `overloaded` or `unavailable`.
class link final : public std::enable_shared_from_this<link>,
                   public net::detail::connection<link>,
                   private net::responder {
 public:
  /// Who is at the other end.
  struct peer_info {
    std::string name;  ///< the peer server's name
    std::string type;  ///< its server type (a root's type is its name)
  };

  /// Wraps an authenticated socket; `start()` begins reading. `commands` serves the peer's
  /// requests (null: every request gets `unknown_command`).
  link(asio::ip::tcp::socket socket, peer_info peer, link_options options,
       std::shared_ptr<const net::dispatch_table> commands,
       std::unique_ptr<net::detail::tls_channel> tls = nullptr);
  ~link();
  link(const link&) = delete;
  link& operator=(const link&) = delete;

  /// Starts the read loop (once).
  void start();

  /// Calls command `command` with a body written by `body`; the reply body comes back raw.
  asio::awaitable<outcome<buffer>> call(std::uint16_t command, net::body_writer body,
                                        std::chrono::milliseconds timeout = {});

  /// Calls command `Cmd` (a generated `cmd::` descriptor) on the peer.
  template <class Cmd>
  asio::awaitable<outcome<typename Cmd::reply>> call(const typename Cmd::request& req,
                                                      net::call_options opts = {});

  /// Sends a one-way message (no reply); fails with `unavailable` or `overloaded`.
  std::error_code notify(std::uint16_t push_id, const net::body_writer& body);
  /// Sends push message `Push` (a schema `[[push]]`) one way.
  template <class Push>
  std::error_code notify(const Push& p) {
    return notify(Push::push_id, net::body_writer(p));
  }
  /// Sends a one-way message whose body is already written.
  std::error_code notify_bytes(std::uint16_t push_id, bytes_view body) {
    return notify(push_id, net::body_writer::encoded(body));
  }

  /// A forwarded client request waiting for its reply (see `forward`).
  using reply_ticket = net::detail::call_table::ticket;
  /// Forwards a client request: queues it now, while `body` is at hand, with the route
  /// envelope in front, and returns the ticket whose `wait()` gives the reply (raw, in
  /// `encoding`). Fails at once with `unavailable`, `overloaded` or a too-large body.
  outcome<std::shared_ptr<reply_ticket>> forward(std::uint16_t command, codec::encoding encoding,
                                                 const route::envelope& env, bytes_view body,
                                                 std::chrono::milliseconds timeout = {});

  /// Forwards a client request and answers it when the reply comes, without a coroutine: the
  /// reply body (or the failure) goes to `info.out`, then `end_request`. Forwards on one link
  /// share the deadline `timeout` (the gateway's), so they expire in the order they left.
  void forward_now(std::uint16_t command, const route::envelope& env, bytes_view body,
                   net::request_info&& info, std::chrono::milliseconds timeout);
  /// Forwarded requests waiting for their reply.
  std::size_t forwards_in_flight() const noexcept { return forwards_.size(); }

  /// Handles requests that arrive with `wire::flag::routed` (forwarded client requests);
  /// without a handler they are refused with `unknown_command`.
  using routed_handler = std::function<void(link&, const wire::frame&)>;
  void on_routed(routed_handler f) { routed_ = std::move(f); }
  /// Handles requests with ember's own command id `id` (65280 and up, e.g. player ownership);
  /// the handler answers with `reply_bytes` or `send_error`.
  void on_internal_request(std::uint16_t id, routed_handler f) { internal_[id] = std::move(f); }
  /// Answers request `seq` with a body already written.
  void reply_bytes(std::uint16_t command, std::uint32_t seq, bytes_view body);
  /// Where the replies of requests served on this link go (for a routed handler).
  net::responder& replies() noexcept { return *this; }
  /// Ends a request served on this link: sends its error frame if `error` is set.
  void finish_request(const net::request_info& info, std::exception_ptr error);
  /// Answers request `seq` with an error frame.
  void send_error(std::uint16_t command, std::uint32_t seq, std::uint16_t status,
                  std::string_view message);

  /// Serves the peer's requests from `commands` from now on (a reload); requests already
  /// running finish on the table they started with.
  void set_commands(std::shared_ptr<const net::dispatch_table> commands) { commands_ = std::move(commands); }

  /// Handles notifies with `push_id` arriving from the peer.
  void on_notify(std::uint16_t push_id, notify_handler f) { notifies_[push_id] = std::move(f); }

  /// Adds a callback run once when the link closes (with why).
  void on_close(std::function<void(std::error_code)> f) { on_close_.push_back(std::move(f)); }

  /// Closes the link: calls in flight fail with `unavailable` at once.
  void close(std::error_code why = make_error_code(errc::disconnected));

  /// True until the link closes.
  bool is_open() const noexcept { return open_; }
  /// Process-unique id of this link (also the `session::id()` its handlers see).
  std::uint64_t id() const noexcept { return id_; }
  /// The peer's name and type, as authenticated.
  const peer_info& peer() const noexcept { return peer_; }
  /// `name_hash(peer().name)`, for rendezvous hashing.
  std::uint64_t name_hash() const noexcept { return name_hash_; }
  /// The peer's address as text, for logs.
  const std::string& remote_address() const noexcept { return remote_; }
  /// Calls waiting for their reply.
  std::size_t in_flight() const noexcept { return calls_.size(); }
  /// Bytes waiting to be written.
  std::size_t queued_bytes() const noexcept { return output_.queued(); }

  /// Decodes a reply body into the caller's typed reply.
  using decode_fn = net::detail::decode_fn;

 private:
  friend class net::detail::connection<link>;

  /// Who this link is, for logs.
  std::string label() const { return "link " + peer_.name; }
  asio::awaitable<failure> call_erased(std::uint16_t command, net::body_writer body,
                                       std::chrono::milliseconds timeout, decode_fn decode,
                                       void* out);
  void reply_body(const net::request_info& req, const net::body_writer& body) override;
  bool on_frame(const wire::frame& f);
  void on_request(const wire::frame& f);
  void on_reply(const wire::frame& f, bool is_error);
  std::error_code refuse_when_full() const;
  bool complete_forward(const wire::frame& f, bool is_error);
  void end_forward(net::request_info& info, status code, std::string message);
  void arm_forward_timer();
  void expire_forwards();
  template <class WriteBody>
  std::error_code append(wire::frame_kind kind, std::uint16_t command, std::uint32_t seq,
                         std::uint8_t flags, WriteBody&& write_body, std::uint32_t ack = 0);

  peer_info peer_;
  link_options options_;
  std::shared_ptr<const net::dispatch_table> commands_;
  std::shared_ptr<link_session> session_;
  net::detail::call_table calls_;
  std::unordered_map<std::uint16_t, notify_handler> notifies_;
  routed_handler routed_;
  std::unordered_map<std::uint16_t, routed_handler> internal_;
  struct pending_forward {
    std::uint32_t seq;
    std::chrono::steady_clock::time_point deadline;
    net::request_info info;
    bool done = false;
  };
  std::deque<pending_forward> forwards_;  // in sending order: by seq, and by deadline
  asio::steady_timer forward_timer_;
  bool forward_timer_armed_ = false;
  std::vector<std::function<void(std::error_code)>> on_close_;
  std::string remote_;
  std::uint64_t id_;
  std::uint64_t name_hash_;
  bool open_ = true;
  bool started_ = false;
};

template <class Cmd>
asio::awaitable<outcome<typename Cmd::reply>> link::call(const typename Cmd::request& req,
                                                          net::call_options opts) {
  return net::detail::typed_call<typename Cmd::reply>(
      [self = shared_from_this(), &req, opts](decode_fn decode, void* out) {
        return self->call_erased(Cmd::id, net::body_writer(req), opts.timeout, decode, out);
      });
}

/// The failure of a call that found no link (no such peer, or not connected).
inline failure unavailable_failure(std::string message) {
  return failure{make_error_code(errc::unavailable), 0, std::move(message)};
}

/// What a forwarded request that was sent and never answered reports with
/// `status::outcome_unknown`: `peer` timed out or went away, and may have run it.
inline std::string unanswered(std::string_view peer, bool timed_out) {
  return std::string(peer) + (timed_out ? " did not answer in time" : " went away with the request in flight") +
         ": the request may have run";
}

}  // namespace ember::cluster

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/cluster/impl/link.hpp"
#endif
