// ember: bodies of ember::net::client (included by ember/net/client.hpp).
#pragma once

#include "ember/net/client.hpp"

#include <array>
#include <random>
#include <unordered_map>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "ember/codec/json_reader.hpp"
#include "ember/log.hpp"
#include "ember/net/detail/call_table.hpp"
#include "ember/net/detail/connection.hpp"
#include "ember/net/detail/impl/tls_channel.hpp"
#include "ember/wire/encoder.hpp"
#include "ember/wire/handshake.hpp"
#include "ember/spawn.hpp"

namespace ember::net::detail {

/// The shared state of a client; coroutines that outlive a call hold it alive.
class client_core : public std::enable_shared_from_this<client_core>,
                    public net::detail::connection<client_core> {
 public:
  client_core(asio::any_io_executor ex, client_options options)
      : connection(asio::ip::tcp::socket(ex), options.framing, options.firefly,
                   options.max_frame),
        ex_(ex),
        options_(options),
        ping_timer_(ex),
        tls_context_(options.tls ? make_tls_context(*options.tls) : nullptr) {}

  bool is_open() const noexcept { return open_; }
  std::string label() const { return "client"; }

 private:
  friend class net::detail::connection<client_core>;

 public:

  bool native() const noexcept { return options_.framing == net::framing::native; }

  asio::awaitable<std::error_code> connect(std::string host, std::uint16_t port) {
    auto self = shared_from_this();
    host_ = std::move(host);
    port_ = port;
    ended_ = false;
    auto ec = co_await open(false);
    if (ec && reached_server_) end(ec);  // refused in the handshake (or it timed out)
    co_return ec;
  }

  asio::awaitable<failure> call(std::uint16_t command, body_writer body, call_options opts,
                                net::detail::decode_fn decode, void* out) {
    auto self = shared_from_this();
    const auto timeout = opts.timeout.count() ? opts.timeout : options_.default_timeout;
    if (opts.retries > 0 || opts.request_id != 0)
      co_return co_await call_retrying(command, body, opts, timeout, decode, out);
    // The common call: no id, one attempt (and no coroutine frame more).
    if (ended_ || (!resuming_ && (!open_ || (native() && !handshaken_))))
      co_return failure{make_error_code(errc::not_connected), 0, {}};
    const std::uint32_t seq = calls_.next_seq();
    if (auto ec = append_frame(wire::frame_kind::request, command, seq,
                               [&](buffer& b) { body(b, options_.encoding); }))
      co_return failure{ec, 0, "request larger than the server accepts"};
    schedule_flush();
    co_return co_await calls_.wait(seq, timeout, decode, out);
  }

  // Every attempt carries the same id, so the server answers a retry of a request that ran
  // with that run's reply; the attempts share the call's deadline.
  asio::awaitable<failure> call_retrying(std::uint16_t command, const body_writer& body,
                                         call_options opts, std::chrono::milliseconds timeout,
                                         net::detail::decode_fn decode, void* out) {
    const std::uint64_t id = opts.request_id ? opts.request_id : next_request_id();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto pause = std::chrono::milliseconds(20);
    bool may_have_run = false;  // an attempt ended without saying whether it ran
    for (int attempt = 0;; ++attempt) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      // (Not a conditional expression: g++ 12 destroys a co_await's result twice in one.)
      failure f{make_error_code(errc::timeout), 0, "the call's deadline passed"};
      if (left.count() > 0) f = co_await send(command, body, left, id, decode, out);
      if (!f.code) co_return f;
      may_have_run = may_have_run || !not_run(f);
      if (attempt >= opts.retries || !may_retry(f)) co_return last_failure(std::move(f), may_have_run);
      const auto now = std::chrono::steady_clock::now();
      if (now + pause >= deadline) co_return last_failure(std::move(f), may_have_run);
      asio::steady_timer t(ex_, pause);
      co_await t.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      pause = std::min(pause * 2, std::chrono::milliseconds(500));
    }
  }

  // One attempt of a call; `request_id` 0: none.
  asio::awaitable<failure> send(std::uint16_t command, const body_writer& body,
                                std::chrono::milliseconds timeout, std::uint64_t request_id,
                                net::detail::decode_fn decode, void* out) {
    // While a lost session resumes, requests wait in `sent_` and leave after the resume.
    if (ended_ || (!resuming_ && (!open_ || (native() && !handshaken_))))
      co_return failure{make_error_code(errc::not_connected), 0, {}};
    const std::uint32_t seq = calls_.next_seq();
    // A server that predates request ids is sent none (and retries stay unsafe there).
    if (!server_request_ids_) request_id = 0;
    if (auto ec = append_frame(wire::frame_kind::request, command, seq,
                               [&](buffer& b) { body(b, options_.encoding); }, request_id))
      co_return failure{ec, 0, "request larger than the server accepts"};
    schedule_flush();
    co_return co_await calls_.wait(seq, timeout, decode, out);
  }

  // A failure that says the request did not run (`unavailable`, `overloaded`).
  static bool not_run(const failure& f) noexcept {
    return f.remote() && (f.status == std::uint16_t(status::unavailable) ||
                          f.status == std::uint16_t(status::overloaded));
  }

  // What the call ends with: the last attempt's failure, except that "not run" must not hide
  // an earlier attempt that may have run (a retry refused while the first run's server gave the
  // player up, say): the caller is told the outcome is unknown.
  static failure last_failure(failure f, bool may_have_run) {
    if (!may_have_run || !not_run(f)) return f;
    f.status = std::uint16_t(status::outcome_unknown);
    f.message = "an earlier attempt may have run; the last one was not run: " + f.message;
    return f;
  }

  // Not run: always safe again. An unknown outcome (the server's, or this client's own
  // timeout) only when the server remembers request ids.
  bool may_retry(const failure& f) const noexcept {
    if (f.remote()) {
      if (not_run(f)) return true;
      return f.status == std::uint16_t(status::outcome_unknown) && server_request_ids_;
    }
    return f.code == errc::timeout && server_request_ids_;
  }

  // Unique per client: a random start, then one by one (0 is "none").
  std::uint64_t next_request_id() noexcept {
    if (++request_ids_ == 0) ++request_ids_;
    return request_ids_;
  }

  /// The connection failed (or the server closed it): a resumable session resumes, anything
  /// else ends.
  void close(std::error_code why) {
    if (!open_) return;
    drop_socket();
    if (connecting_) {  // the attempt under way reports it
      if (is_tls_error(why)) tls_error_ = why;
      return;
    }
    if (resumable_ && !ended_ && refusal_ == 0) return start_resume(why);
    end(why);
  }

  /// Ends the session for good: calls in flight fail, `on_close` hears why.
  void end(std::error_code why) {
    if (ended_) return;
    ended_ = true;
    resuming_ = false;
    drop_socket();
    // The server said why before closing: a newer login of this user took over.
    if (refusal_ == std::uint16_t(status::replaced)) why = make_error_code(errc::replaced);
    if (refusal_ == std::uint16_t(status::session_expired)) why = make_error_code(errc::session_expired);
    // Every call in flight ends now.
    calls_.fail_all(failure{why == errc::session_expired ? why : make_error_code(errc::disconnected),
                            0, {}});
    sent_.release();
    if (why == errc::session_expired && on_expired_) on_expired_();
    if (on_close_) {
      auto f = std::move(on_close_);
      f(why);
    }
  }

  /// The client ends its session: the server is told (no resume), then the socket closes.
  void say_bye() {
    if (open_ && handshaken_ && native()) {
      std::array<std::byte, wire::native_header_size> bye;
      wire::write_header(bye.data(), {.kind = wire::frame_kind::bye, .ack = received_});
      std::error_code ignored;
      if (tls_) {
        buffer sealed;
        (void)tls_->seal(bytes_view(bye.data(), bye.size()), sealed, ignored);
        tls_->shutdown(sealed);
        socket_.write_some(asio::buffer(sealed.data(), sealed.size()), ignored);
      } else {
        socket_.write_some(asio::buffer(bye), ignored);  // best effort: the socket closes next
      }
    }
    end(make_error_code(errc::disconnected));
  }

  asio::any_io_executor ex_;
  client_options options_;
  asio::steady_timer ping_timer_;
  asio::steady_timer* handshake_timer_ = nullptr;
  std::shared_ptr<const tls_context> tls_context_;
  std::error_code tls_error_;  // why TLS failed during the connection attempt under way
  net::detail::call_table calls_;
  std::unordered_map<std::uint16_t, std::function<void(bytes_view, codec::encoding)>> pushes_;
  std::function<void(std::error_code)> on_close_;
  std::function<void()> on_resumed_, on_expired_;
  std::string host_;
  std::uint16_t port_ = 0;
  std::uint64_t session_id_ = 0;
  std::uint32_t idle_timeout_ms_ = 0;
  std::uint32_t server_max_frame_ = 0;  // from the handshake: larger requests fail at once
  bool server_request_ids_ = false;     // from the handshake: the server takes request ids
  std::uint64_t request_ids_ = std::uint64_t(std::random_device{}()) << 32 ^ std::random_device{}();
  std::uint16_t refusal_ = 0;           // the status of an error frame refusing the session
  std::uint32_t next_reply_seq_ = 0;  // Firefly: replies come in request order
  std::uint32_t last_push_seq_ = 0;
  // Resuming (native): the token, what we have received (and told the server), the request
  // frames not answered yet (to send again), what the last hello said.
  wire::resume_token token_{};
  buffer sent_;
  std::uint32_t received_ = 0;
  std::uint32_t acked_ = 0;
  std::size_t unacked_bytes_ = 0;
  std::uint32_t resume_grace_ms_ = 0;
  std::uint32_t server_last_request_seq_ = 0;
  std::uint64_t resumes_ = 0;
  bool server_resumed_ = false;
  bool moved_ = false;  // told to resume at another server, which takes the session over
  bool resumable_ = false;
  bool resuming_ = false;
  bool connecting_ = false;
  bool ack_posted_ = false;
  bool reached_server_ = false;
  bool ended_ = false;
  bool open_ = false;
  bool handshaken_ = false;

 private:
  // Connects and handshakes (resuming the session when `resume`); returns the failure.
  asio::awaitable<std::error_code> open(bool resume) {
    auto self = shared_from_this();
    using asio::ip::tcp;
    constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
    tcp::resolver resolver(ex_);
    auto [rec, results] = co_await resolver.async_resolve(host_, std::to_string(port_), use_tuple);
    if (rec) co_return rec;
    if (ended_) co_return make_error_code(errc::disconnected);
    connecting_ = true;
    refusal_ = 0;
    tls_error_ = {};
    // A timer closes the socket if connecting and handshaking take too long.
    asio::steady_timer deadline(ex_, options_.connect_timeout);
    auto expired = std::make_shared<bool>(false);
    deadline.async_wait([self, expired](std::error_code ec) {
      if (ec || self->handshaken_) return;
      *expired = true;
      std::error_code ignored;
      self->socket_.close(ignored);
      if (self->handshake_timer_) self->handshake_timer_->cancel();
    });
    std::error_code cec = asio::error::host_not_found;
    for (const auto& entry : results) {
      if (*expired) break;
      socket_.close(cec);
      auto [ec] = co_await socket_.async_connect(entry.endpoint(), use_tuple);
      cec = ec;
      if (!ec) break;
    }
    if (*expired) cec = make_error_code(errc::timeout);
    reached_server_ = !cec;
    if (cec) {
      connecting_ = false;
      co_return cec;
    }
    std::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    socket_.non_blocking(true, ignored);
    // A fresh decoder and output for this connection (a lost one may have left partial bytes).
    stream_ = net::detail::frame_stream(options_.framing, options_.firefly, options_.max_frame);
    output_.pending().clear();
    // TLS starts with the client's hello (the first flush sends it).
    tls_.reset();
    if (tls_context_) tls_ = std::make_unique<tls_channel>(tls_context_, false, host_);
    open_ = true;
    spawn(ex_, read_loop(), "client read loop");
    if (!native()) {
      connecting_ = false;
      if (tls_) schedule_flush();
      co_return std::error_code{};
    }
    // The handshake: say which protocol and encoding we speak, wait for the answer (woken
    // by its arrival, by the connection closing or by the deadline above).
    wire::client_hello hello;
    hello.encoding = static_cast<std::uint8_t>(options_.encoding);
    hello.resumable = options_.resume;
    if (resume) {
      hello.resume = true;
      hello.token = token_;
      hello.received = received_;
      hello.moved = moved_;
    }
    (void)append_frame(wire::frame_kind::handshake, 0, 0, [&](buffer& b) { hello.encode(b); });
    schedule_flush();
    asio::steady_timer wake(ex_, std::chrono::steady_clock::time_point::max());
    handshake_timer_ = &wake;
    co_await wake.async_wait(use_tuple);
    handshake_timer_ = nullptr;
    deadline.cancel();
    connecting_ = false;
    if (!handshaken_ || (resume && !server_resumed_)) {
      auto why = tls_error_ ? tls_error_ : make_error_code(*expired ? errc::timeout
                                 : refusal_ == std::uint16_t(status::server_full) ? errc::server_full
                                 : refusal_ == std::uint16_t(status::unsupported_version)
                                     ? errc::unsupported_version
                                 : refusal_ == std::uint16_t(status::session_expired)
                                     ? errc::session_expired
                                     : errc::disconnected);
      drop_socket();
      co_return why;
    }
    auto interval = options_.ping_interval;
    if (interval.count() == 0 && idle_timeout_ms_ > 0)
      interval = std::chrono::milliseconds(idle_timeout_ms_ / 3);
    if (interval.count() > 0)
      spawn(ex_, ping_loop(interval, socket_number_), "client ping loop");
    co_return std::error_code{};
  }

  // Closes the current socket; what it had in flight stays (a resume may send it again).
  void drop_socket() {
    const bool had_socket = open_ || socket_.is_open();
    open_ = false;
    handshaken_ = false;
    std::error_code ignored;
    socket_.shutdown(asio::socket_base::shutdown_both, ignored);
    socket_.close(ignored);
    ping_timer_.cancel();
    if (handshake_timer_) handshake_timer_->cancel();
    if (had_socket) ++socket_number_;  // its read loop and writes are now stale
  }

  void start_resume(std::error_code why) {
    if (resuming_) return;
    resuming_ = true;
    log::debug("client: session {} lost its connection ({}); resuming", session_id_, why.message());
    spawn(ex_, resume_loop(), "client resume loop");
  }

  // Reconnects with backoff until the session is back, the server says it expired, or the
  // grace period the server announced has passed.
  asio::awaitable<void> resume_loop() {
    auto self = shared_from_this();
    using clock = std::chrono::steady_clock;
    const auto give_up = clock::now() + std::chrono::milliseconds(resume_grace_ms_);
    auto backoff = options_.resume_backoff_min;
    asio::steady_timer wait(ex_);
    std::error_code why = make_error_code(errc::session_expired);
    for (std::chrono::milliseconds delay{0}; !ended_; delay = backoff) {
      wait.expires_after(delay);
      co_await wait.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      if (ended_) co_return;
      if (delay.count() > 0) backoff = std::min(backoff * 2, options_.resume_backoff_max);
      if (clock::now() >= give_up) break;
      auto ec = co_await open(true);
      if (ended_) co_return;
      if (!ec) {
        resuming_ = false;
        ++resumes_;
        resend();
        log::debug("client: session {} resumed", session_id_);
        if (on_resumed_) on_resumed_();
        co_return;
      }
      if (ec == errc::session_expired) break;
      log::debug("client: resume of session {} failed: {}", session_id_, ec.message());
    }
    if (!ended_) end(why);
  }

  // After a resume: the requests the server had not received leave again, in order.
  void resend() {
    buffer& out = output_.pending();
    for (std::size_t at = 0; at < sent_.size();) {
      const std::size_t n = wire::native_header_size + wire::detail::get_u32(sent_.data() + at);
      const std::uint32_t seq = wire::detail::get_u32(sent_.data() + at + 8);
      if (seq > server_last_request_seq_ && calls_.waiting(seq))
        out.append(sent_.data() + at, n);
      at += n;
    }
    schedule_flush();
  }

  // Drops the request frames at the front of `sent_` whose calls have ended.
  void trim_sent() {
    std::size_t at = 0;
    while (at < sent_.size()) {
      const std::uint32_t seq = wire::detail::get_u32(sent_.data() + at + 8);
      if (calls_.waiting(seq)) break;
      at += wire::native_header_size + wire::detail::get_u32(sent_.data() + at);
    }
    sent_.consume(at);
    if (sent_.empty() && sent_.capacity() > 4096) sent_.release();
  }

  template <class WriteBody>
  std::error_code append_frame(wire::frame_kind kind, std::uint32_t command, std::uint32_t seq,
                               WriteBody&& write_body, std::uint64_t request_id = 0) {
    const std::size_t max_body = server_max_frame_ ? server_max_frame_ : options_.max_frame;
    buffer& out = output_.pending();
    if (!native()) return wire::append_frame(out, options_.firefly, command, write_body, max_body);
    wire::frame_header h;
    h.kind = kind;
    h.flags = options_.encoding == codec::encoding::json ? wire::flag::json : 0;
    h.command = static_cast<std::uint16_t>(command);
    h.seq = seq;
    h.ack = received_;
    const std::size_t from = out.size();
    std::error_code ec;
    if (request_id) {
      h.flags |= wire::flag::request_id;
      ec = wire::append_frame(out, h, [&](buffer& b) {
        std::byte id[wire::request_id_size];
        wire::detail::put_u64(id, request_id);
        b.append(bytes_view(id, sizeof id));
        write_body(b);
      }, max_body);
    } else {
      ec = wire::append_frame(out, h, write_body, max_body);
    }
    if (ec) return ec;
    acked_ = received_;
    unacked_bytes_ = 0;
    if (kind == wire::frame_kind::request && resumable_) {
      trim_sent();
      sent_.append(out.data() + from, out.size() - from);
      if (!open_ || !handshaken_) out.resize(from);  // resuming: it leaves after the resume
    }
    return {};
  }

  // Acknowledges what arrived when no request has carried it for a while, so the server's
  // outbox stays small even for a client that only listens.
  void count_received(std::size_t body_bytes) {
    ++received_;
    unacked_bytes_ += body_bytes + wire::native_header_size;
    if (!resumable_ || ack_posted_ || (received_ - acked_ < 16 && unacked_bytes_ < 16 * 1024))
      return;
    // Later in this round: the requests these replies lead to usually carry the count anyway.
    ack_posted_ = true;
    asio::post(ex_, [self = shared_from_this()] {
      self->ack_posted_ = false;
      if (!self->open_ || !self->handshaken_) return;
      if (self->received_ - self->acked_ < 16 && self->unacked_bytes_ < 16 * 1024) return;
      (void)self->append_frame(wire::frame_kind::ack, 0, 0, [](buffer&) {});
      self->schedule_flush();
    });
  }

  asio::awaitable<void> ping_loop(std::chrono::milliseconds interval, unsigned socket_number) {
    auto self = shared_from_this();
    std::uint32_t n = 0;
    while (open_ && socket_number == socket_number_) {
      ping_timer_.expires_after(interval);
      auto [ec] = co_await ping_timer_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      if (ec || !open_ || socket_number != socket_number_) co_return;
      (void)append_frame(wire::frame_kind::ping, 0, ++n, [](buffer&) {});
      schedule_flush();
    }
  }

  bool on_frame(const wire::frame& f) {
    using wire::frame_kind;
    if (!native()) {
      // Firefly frames carry no kind: a push comes under its push id, which never equals a
      // command id (one id space per schema), so a registered push id means a push.
      if (auto it = pushes_.find(static_cast<std::uint16_t>(f.command));
          it != pushes_.end() && f.command <= 0xffff) {
        it->second(f.body, options_.encoding);
        return open_;
      }
      return on_reply(++next_reply_seq_, f, false);
    }
    switch (f.kind) {
      case frame_kind::response:
        count_received(f.body.size());
        return on_reply(f.seq, f, false);
      case frame_kind::error:
        if (f.seq != 0) count_received(f.body.size());
        return on_reply(f.seq, f, true);
      case frame_kind::push: {
        count_received(f.body.size());
        if (f.seq <= last_push_seq_) return open_;  // had it already (never after a resume)
        last_push_seq_ = f.seq;
        if (f.command == wire::moved_push_id) return on_moved(f.body);
        auto it = pushes_.find(static_cast<std::uint16_t>(f.command));
        if (it != pushes_.end()) it->second(f.body, body_encoding(f));
        return open_;
      }
      case frame_kind::handshake: {
        auto hello = wire::server_hello::decode(f.body);
        if (!hello) {
          close(make_error_code(errc::malformed_body));
          return false;
        }
        handshaken_ = true;
        server_resumed_ = hello->resumed;
        // Resumed where it was told to move (a `moved` push behind this hello moves it again).
        if (hello->resumed) moved_ = false;
        if (!hello->resumed) {  // a new session: its own numbering
          received_ = acked_ = 0;
          last_push_seq_ = 0;
          sent_.clear();
        }
        session_id_ = hello->session_id;
        idle_timeout_ms_ = hello->idle_timeout_ms;
        server_max_frame_ = hello->max_frame;
        server_request_ids_ = hello->request_ids;
        server_last_request_seq_ = hello->last_request_seq;
        token_ = hello->token;
        resume_grace_ms_ = hello->resume_grace_ms;
        resumable_ = options_.resume && hello->resume_grace_ms > 0;
        if (hello->resumed) {
          // Tells the server at once that the new token arrived (the old one is then spent).
          (void)append_frame(frame_kind::ack, 0, 0, [](buffer&) {});
          schedule_flush();
        }
        if (handshake_timer_) handshake_timer_->cancel();
        return true;
      }
      case frame_kind::ping:
        (void)append_frame(frame_kind::pong, 0, f.seq, [](buffer&) {});
        schedule_flush();
        return true;
      case frame_kind::pong:
        return true;
      default:
        close(make_error_code(errc::unexpected_frame));
        return false;
    }
  }

  // The server drains: resume the session at the address it names, where that server takes
  // it over (PROTOCOL.md §3, "Moving to another server"). Frames already read behind the push
  // were counted; the new server resends what is not acknowledged.
  bool on_moved(bytes_view body) {
    auto to = wire::moved_notice::decode(body);
    if (!to || !resumable_) return open_;  // nothing to resume: it stays until it is closed
    log::debug("client: session {} moves to {}:{}", session_id_, to->host, to->port);
    host_ = std::move(to->host);
    port_ = to->port;
    moved_ = true;
    asio::post(ex_, [self = shared_from_this(), n = socket_number_] {
      if (self->socket_number_ == n) self->close(make_error_code(errc::disconnected));
    });
    return open_;
  }

  static codec::encoding body_encoding(const wire::frame& f) {
    return (f.flags & wire::flag::json) ? codec::encoding::json : codec::encoding::binary;
  }

  bool on_reply(std::uint32_t seq, const wire::frame& f, bool is_error) {
    if (!native() && seq == 0) return true;
    if (native() && seq == 0 && is_error) {
      // An error about the connection itself (refused, wrong version, replaced by a newer
      // login): it is closing.
      codec::error_body e;
      codec::decode(f.body, codec::encoding::binary, e);
      log::debug("client: the server refused the session: {} (status {})", e.message, e.status);
      refusal_ = e.status;
      return true;
    }
    calls_.complete(seq, f.body, native() ? body_encoding(f) : options_.encoding, is_error);
    return true;
  }
};

}  // namespace ember::net::detail

namespace ember::net {

EMBER_DECL client::client(asio::any_io_executor ex, client_options options)
    : core_(std::make_shared<detail::client_core>(ex, options)) {}

EMBER_DECL client::~client() {
  if (core_) core_->say_bye();
}
EMBER_DECL client::client(client&&) noexcept = default;
EMBER_DECL client& client::operator=(client&& other) noexcept {
  if (this != &other) {
    if (core_) core_->say_bye();
    core_ = std::move(other.core_);
  }
  return *this;
}

EMBER_DECL asio::awaitable<std::error_code> client::connect(std::string host,
                                                           std::uint16_t port) {
  auto core = core_;
  co_return co_await core->connect(std::move(host), port);
}

EMBER_DECL asio::awaitable<outcome<buffer>> client::call_raw(std::uint16_t command,
                                                             bytes_view body,
                                                             call_options opts) {
  buffer reply;
  failure f = co_await call_erased(command, body_writer::encoded(body), opts,
                                   &net::detail::keep_raw_reply, &reply);
  if (f.code) co_return f;
  co_return std::move(reply);
}

// Not a coroutine: the core's call starts by holding the core alive.
EMBER_DECL asio::awaitable<failure> client::call_erased(std::uint16_t command, body_writer body,
                                                        call_options opts, decode_fn decode,
                                                        void* out) {
  return core_->call(command, body, opts, decode, out);
}

EMBER_DECL void client::on_push_raw(std::uint16_t push_id,
                                    std::function<void(bytes_view, codec::encoding)> f) {
  core_->pushes_[push_id] = std::move(f);
}
EMBER_DECL void client::on_close(std::function<void(std::error_code)> f) {
  core_->on_close_ = std::move(f);
}
EMBER_DECL void client::close() {
  if (core_) core_->say_bye();
}
EMBER_DECL void client::drop_connection() {
  if (core_) core_->close(make_error_code(errc::disconnected));
}
EMBER_DECL void client::resume_at(std::string host, std::uint16_t port) {
  core_->host_ = std::move(host);
  core_->port_ = port;
}
EMBER_DECL void client::on_resumed(std::function<void()> f) { core_->on_resumed_ = std::move(f); }
EMBER_DECL void client::on_expired(std::function<void()> f) { core_->on_expired_ = std::move(f); }
EMBER_DECL bool client::connected() const noexcept { return core_ && core_->open_; }
EMBER_DECL bool client::resumable() const noexcept { return core_ && core_->resumable_; }
EMBER_DECL bool client::resuming() const noexcept { return core_ && core_->resuming_; }
EMBER_DECL std::uint64_t client::resumes() const noexcept { return core_ ? core_->resumes_ : 0; }
EMBER_DECL std::uint64_t client::session_id() const noexcept { return core_->session_id_; }
EMBER_DECL std::uint32_t client::last_push_seq() const noexcept { return core_->last_push_seq_; }
EMBER_DECL std::size_t client::in_flight() const noexcept { return core_->calls_.size(); }

}  // namespace ember::net
