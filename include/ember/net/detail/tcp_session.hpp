// ember: a client session on one TCP connection (internal; users see ember::net::session).
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "ember/error.hpp"
#include "ember/net/detail/frame_stream.hpp"
#include "ember/net/detail/handed_session.hpp"
#include "ember/net/detail/outbox.hpp"
#include "ember/net/detail/tls_channel.hpp"
#include "ember/net/detail/output_queue.hpp"
#include "ember/net/dispatch.hpp"
#include "ember/net/groups.hpp"
#include "ember/net/server_options.hpp"
#include "ember/net/session.hpp"
#include "ember/net/session_attributes.hpp"
#include "ember/wire/handshake.hpp"

namespace ember::wire::websocket {
struct event;
}  // namespace ember::wire::websocket

namespace ember::net {

class server;

namespace detail {

struct ws_transport;

using coarse_time = std::chrono::steady_clock::time_point;

/// One client connection: reads frames, runs requests, queues replies and pushes.
///
/// Reading waits for readability and then reads into the server's shared buffer, so an idle
/// session holds no read buffer; only a partial frame is kept. Writes go into one contiguous
/// output buffer that is flushed once per event-loop round (replies produced together leave
/// in one write), first with a non-blocking write and only when that falls short with an
/// asynchronous one.
///
/// A resumable session (native framing, a client that acknowledges what it receives) keeps
/// its frames in an outbox until acknowledged. When its connection is lost it is *parked*:
/// still open for handlers (pushes go to the outbox), without a socket, until its client
/// resumes it on a new connection or `resume_grace` passes.
class tcp_session final : public session,
                          public responder,
                          public group_member,
                          public std::enable_shared_from_this<tcp_session> {
 public:
  /// A session on `socket`; `websocket`: its bytes are an HTTP upgrade, then WebSocket frames.
  tcp_session(server& srv, asio::ip::tcp::socket socket, std::uint64_t id, bool websocket = false);
  ~tcp_session() override;

  void start();
  /// The listener its connection came in on (a resumed session's, the latest one's).
  listener came_in_on() const noexcept { return ws_ ? listener::websocket : listener::client_port; }

  // ember::net::session
  std::uint64_t id() const noexcept override { return id_; }
  void join(std::string_view group) override;
  void leave(std::string_view group) override;
  bool in_group(std::string_view group) const override;
  void bind_user(std::uint64_t user) override;
  std::optional<std::uint64_t> user() const override {
    return user_ ? std::optional<std::uint64_t>(user_) : std::nullopt;
  }
  void set_attribute(std::string_view key, std::string value) override;
  std::optional<std::string_view> attribute(std::string_view key) const override;
  std::string remote_address() const override { return remote_; }
  void close(std::string_view reason) override;
  bool is_open() const noexcept override {
    return state_ == state::open || state_ == state::parked;
  }
  void push_body(std::uint16_t push_id, const body_writer& body) override;
  void broadcast_body(std::string_view group, std::uint16_t push_id,
                      const body_writer& body) override;

  // ember::net::responder
  void reply_body(const request_info& req, const body_writer& body) override;
  void end_request(const request_info& req, std::exception_ptr error) override {
    finish_request(req, error);
  }

  /// Bytes queued for the client, not yet written.
  std::size_t queued_bytes() const noexcept { return output_.queued(); }
  /// Queues a push whose body is already encoded in `enc` (broadcasts encode once).
  void push_encoded(std::uint16_t push_id, codec::encoding enc, bytes_view body);
  /// The encoding this client wants pushes in.
  codec::encoding push_encoding() const noexcept override { return push_encoding_; }

  /// Sends an error frame about the session itself (sequence 0), then closes.
  void close_with(status why, std::string_view message);
  /// Closes at once with a logged reason (protocol fault, limit, timeout).
  void abort(std::error_code why);
  /// Checks the timeouts; called by the server's sweep.
  void sweep(coarse_time now);
  /// Writes what is queued; called by the server once per event-loop round.
  void flush();

  std::uint32_t in_flight() const noexcept { return in_flight_; }
  const asio::ip::address& address() const noexcept { return address_; }
  /// Parked: its connection is lost and it waits to be resumed.
  bool parked() const noexcept { return state_ == state::parked; }
  /// Frames kept for a resume, in bytes.
  std::size_t outbox_bytes() const noexcept { return outbox_.bytes(); }
  /// Its connection was handed to the session it resumed; it ends without a trace.
  bool merged() const noexcept { return merged_; }
  /// Gives back its place in the server's count of sessions per address (once).
  void drop_address();
  /// Bytes of memory it holds for output (queued, and kept for a resume) and input (a frame
  /// not yet whole), as last reported to the server's budget.
  std::size_t held_bytes() const noexcept { return held_output_ + held_input_; }
  // Moving to another server when this one drains (tcp_session_move.hpp).
  /// Tells the client to resume at `host:port` (a `moved` push, kept in the outbox like any).
  void tell_moved(const std::string& host, std::uint16_t port);
  /// No request of the session runs or waits: its state can leave.
  bool settled() const noexcept { return in_flight_ == 0 && !queue_head_ && !ordered_running_; }
  /// The session's state, for the server that takes it over.
  handed_session handed() const;
  /// Takes the state of a session handed over by another server, under the token the client
  /// holds: parked, ready for `resume_on`.
  void restore(handed_session&& state, const wire::resume_token& token);
  /// The session went to another server (or this is a peer's take-over connection, not a
  /// client's): it ends here without the server's close callbacks.
  void end_moved();
  bool moved() const noexcept { return moved_; }

  /// Closes the session because the server is over its buffer budget and it holds the most
  /// of the sessions left; logs why. Its frames kept for a resume go with it.
  void shed(std::size_t in_use);

 private:
  friend class ember::net::server;  // relays a resume to another server (relay_to_home)
  enum class state : std::uint8_t { open, parked, closing, closed };

  void wait_readable();
  /// Waits for the socket, or reads again at once when TLS holds received bytes already.
  void continue_reading();
  /// One non-blocking read, through TLS on a TLS listener.
  std::size_t read_some(std::span<std::byte> buf, std::error_code& ec);
  /// Writes `out` now, as far as the socket takes it (a last word before closing).
  void write_now(bytes_view out);
  /// Logs why TLS failed on this connection.
  void log_tls_failure();
  /// Bytes of an incomplete frame (or WebSocket message, or upgrade request) are kept.
  bool has_partial() const noexcept;
  // WebSocket (tcp_session_websocket.hpp): reading through the upgrade and the frame decoder,
  // and the WebSocket frames of the output.
  read_result read_websocket();
  /// Reads the upgrade request from `in`; false when it is not complete, or was refused.
  bool read_upgrade(std::span<std::byte>& in, std::string& rest);
  bool on_ws_event(const wire::websocket::event& e);
  /// Makes the native frames appended since the last seal one binary message.
  void ws_seal();
  /// Queues a close frame (once); nothing goes out after it.
  void ws_close(std::uint16_t code, std::string_view reason);
  /// Clears the pending output (a lost or handed-over connection).
  void clear_output();
  void on_readable(std::error_code ec, unsigned connection);
  bool on_frame(const wire::frame& f);
  bool on_handshake(const wire::frame& f);
  bool on_request(const wire::frame& f);
  bool take_token();
  /// The connection is gone (not the session's fault): park a resumable session, else end it.
  void lose_connection(std::error_code why);
  /// Takes over the connection of `fresh`, whose client resumes this session.
  void resume_on(tcp_session& fresh, const wire::client_hello& hello);
  /// Ends the session without its connection (parked, or resumed elsewhere).
  void expire(std::string_view why);
  void send_hello(bool resumed);
  /// Keeps a copy of a frame just appended at `out[from..]` (replies, errors, pushes).
  void keep(const buffer& out, std::size_t from);
  void stop_resuming();
  /// Runs `work` now, or after the session's ordered requests before it.
  void run_ordered(request_info info, asio::awaitable<void> work);
  asio::awaitable<void> ordered_worker(request_info info, asio::awaitable<void> work);
  /// Runs an overlapping request now.
  void spawn(request_info info, asio::awaitable<void> work);
  void finish_request(const request_info& info, std::exception_ptr error);

  void send_error(std::uint32_t command, std::uint32_t seq, codec::encoding enc, status code,
                  std::string_view message);
  void send_error(const request_info& info, std::uint16_t code, std::string_view message);
  /// Appends one frame: header, then the body written by `write_body` in place.
  template <class WriteBody>
  std::error_code append_frame(wire::frame_kind kind, std::uint32_t command, std::uint32_t seq,
                    codec::encoding enc, WriteBody&& write_body);
  void queued();
  /// Reports what the session holds now to the server's budget (nothing once closed), which
  /// sheds sessions if that puts it past the budget.
  void account();
  /// Calls `account` when it goes out of scope, after whatever changed the buffers.
  struct account_on_exit {
    tcp_session& s;
    ~account_on_exit() { s.account(); }
  };
  /// Closes at once (abort without its log line).
  void end_now(std::error_code why);
  void after_drain();
  void finish_close();
  void teardown();

  server& srv_;
  asio::ip::tcp::socket socket_;
  std::uint64_t id_;
  frame_stream stream_;
  output_queue output_;
  std::string remote_;
  asio::ip::address address_;
  session_attributes attributes_;

  struct pending_request {
    request_info info;
    asio::awaitable<void> work;
    std::unique_ptr<pending_request> next;
  };
  std::unique_ptr<pending_request> queue_head_;  // ordered requests waiting their turn
  pending_request* queue_tail_ = nullptr;

  coarse_time created_;
  coarse_time last_receive_;
  coarse_time partial_since_{};
  coarse_time parked_since_{};
  coarse_time last_refill_;
  double tokens_;
  std::uint64_t user_ = 0;
  std::size_t held_output_ = 0;  // as reported to the server's budget
  std::size_t held_input_ = 0;
  std::uint32_t in_flight_ = 0;
  outbox outbox_;
  std::unique_ptr<ws_transport> ws_;  // only on the WebSocket listener
  std::unique_ptr<tls_channel> tls_;  // only on a TLS listener
  wire::resume_token token_{};
  wire::resume_token spent_token_{};  // the token of the last resume, until confirmed
  std::uint32_t push_seq_ = 0;
  std::uint32_t last_request_seq_ = 0;
  unsigned connection_ = 0;  // which connection callbacks belong to (bumped on each loss)
  std::uint32_t firefly_seq_ = 0;
  state state_ = state::open;
  codec::encoding push_encoding_ = codec::encoding::binary;
  bool handshaken_ = false;
  bool ordered_running_ = false;
  bool flush_scheduled_ = false;
  bool torn_down_ = false;
  bool resumable_ = false;
  bool outbox_full_ = false;
  bool spent_token_pending_ = false;
  bool merged_ = false;
  bool moved_ = false;
  bool told_moved_ = false;  // sent a `moved` push: a WebSocket close then parks, as a loss would
  bool peer_ = false;  // another server's take-over connection, not a client's session
  bool address_counted_ = true;
  bool native_;
};

}  // namespace detail
}  // namespace ember::net
