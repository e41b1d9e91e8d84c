// ember: bodies of ember::client (included by ember/net/client.hpp).
#pragma once

#include <array>
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
#include "ember/wire/encoder.hpp"
#include "ember/wire/handshake.hpp"

namespace ember::detail {

/// The shared state of a client; coroutines that outlive a call hold it alive.
class client_core : public std::enable_shared_from_this<client_core>,
                    public net::detail::connection<client_core> {
 public:
  client_core(asio::any_io_executor ex, client_options options)
      : connection(asio::ip::tcp::socket(ex), options.framing, options.firefly,
                   options.max_frame),
        ex_(ex),
        options_(options),
        ping_timer_(ex) {}

  bool is_open() const noexcept { return open_; }
  std::string label() const { return "client"; }

 private:
  friend class net::detail::connection<client_core>;

 public:

  bool native() const noexcept { return options_.framing == net::framing::native; }

  asio::awaitable<std::error_code> connect(std::string host, std::uint16_t port) {
    auto self = shared_from_this();
    using asio::ip::tcp;
    constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
    tcp::resolver resolver(ex_);
    auto [rec, results] = co_await resolver.async_resolve(host, std::to_string(port), use_tuple);
    if (rec) co_return rec;
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
    if (cec) co_return cec;
    std::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    socket_.non_blocking(true, ignored);
    open_ = true;
    asio::co_spawn(ex_, read_loop(), [](std::exception_ptr) {});
    if (!native()) co_return std::error_code{};
    // The handshake: say which protocol and encoding we speak, wait for the answer (woken
    // by its arrival, by the connection closing or by the deadline above).
    wire::client_hello hello;
    hello.encoding = static_cast<std::uint8_t>(options_.encoding);
    (void)append_frame(wire::frame_kind::handshake, 0, 0, [&](buffer& b) { hello.encode(b); });
    schedule_flush();
    asio::steady_timer wake(ex_, std::chrono::steady_clock::time_point::max());
    handshake_timer_ = &wake;
    co_await wake.async_wait(use_tuple);
    handshake_timer_ = nullptr;
    deadline.cancel();
    if (!handshaken_) {
      auto why = make_error_code(*expired                                ? errc::timeout
                                 : refusal_ == std::uint16_t(status::server_full) ? errc::server_full
                                 : refusal_ == std::uint16_t(status::unsupported_version)
                                     ? errc::unsupported_version
                                     : errc::disconnected);
      close(why);
      co_return why;
    }
    auto interval = options_.ping_interval;
    if (interval.count() == 0 && idle_timeout_ms_ > 0)
      interval = std::chrono::milliseconds(idle_timeout_ms_ / 3);
    if (interval.count() > 0) asio::co_spawn(ex_, ping_loop(interval), [](std::exception_ptr) {});
    co_return std::error_code{};
  }

  asio::awaitable<failure> call(std::uint16_t command, body_writer body, call_options opts,
                                net::detail::decode_fn decode, void* out) {
    auto self = shared_from_this();
    if (!open_ || (native() && !handshaken_)) co_return failure{make_error_code(errc::not_connected), 0, {}};
    const std::uint32_t seq = calls_.next_seq();
    if (auto ec = append_frame(wire::frame_kind::request, command, seq,
                               [&](buffer& b) { body(b, options_.encoding); }))
      co_return failure{ec, 0, "request larger than the server accepts"};
    schedule_flush();
    co_return co_await calls_.wait(seq, opts.timeout.count() ? opts.timeout : options_.default_timeout,
                                   decode, out);
  }

  void close(std::error_code why) {
    if (!open_) return;
    open_ = false;
    // The server said why before closing: a newer login of this user took over.
    if (refusal_ == std::uint16_t(status::replaced)) why = make_error_code(errc::replaced);
    std::error_code ignored;
    socket_.shutdown(asio::socket_base::shutdown_both, ignored);
    socket_.close(ignored);
    ping_timer_.cancel();
    if (handshake_timer_) handshake_timer_->cancel();
    // Every call in flight ends now.
    calls_.fail_all(failure{make_error_code(errc::disconnected), 0, {}});
    if (on_close_) {
      auto f = std::move(on_close_);
      f(why);
    }
  }

  asio::any_io_executor ex_;
  client_options options_;
  asio::steady_timer ping_timer_;
  asio::steady_timer* handshake_timer_ = nullptr;
  net::detail::call_table calls_;
  std::unordered_map<std::uint16_t, std::function<void(bytes_view, codec::encoding)>> pushes_;
  std::function<void(std::error_code)> on_close_;
  std::uint64_t session_id_ = 0;
  std::uint32_t idle_timeout_ms_ = 0;
  std::uint32_t server_max_frame_ = 0;  // from the handshake: larger requests fail at once
  std::uint16_t refusal_ = 0;           // the status of an error frame refusing the session
  std::uint32_t next_reply_seq_ = 0;  // Firefly: replies come in request order
  std::uint32_t last_push_seq_ = 0;
  bool open_ = false;
  bool handshaken_ = false;

 private:
  template <class WriteBody>
  std::error_code append_frame(wire::frame_kind kind, std::uint32_t command, std::uint32_t seq,
                               WriteBody&& write_body) {
    const std::size_t max_body = server_max_frame_ ? server_max_frame_ : options_.max_frame;
    buffer& out = output_.pending();
    if (!native()) return wire::append_frame(out, options_.firefly, command, write_body, max_body);
    wire::frame_header h;
    h.kind = kind;
    h.flags = options_.encoding == codec::encoding::json ? wire::flag::json : 0;
    h.command = static_cast<std::uint16_t>(command);
    h.seq = seq;
    h.ack = last_push_seq_;
    return wire::append_frame(out, h, write_body, max_body);
  }

  asio::awaitable<void> ping_loop(std::chrono::milliseconds interval) {
    auto self = shared_from_this();
    std::uint32_t n = 0;
    while (open_) {
      ping_timer_.expires_after(interval);
      auto [ec] = co_await ping_timer_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      if (ec || !open_) co_return;
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
        return on_reply(f.seq, f, false);
      case frame_kind::error:
        return on_reply(f.seq, f, true);
      case frame_kind::push: {
        last_push_seq_ = f.seq;
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
        session_id_ = hello->session_id;
        idle_timeout_ms_ = hello->idle_timeout_ms;
        server_max_frame_ = hello->max_frame;
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

}  // namespace ember::detail

namespace ember {

inline client::client(asio::any_io_executor ex, client_options options)
    : core_(std::make_shared<detail::client_core>(ex, options)) {}

inline client::~client() {
  if (core_) core_->close(make_error_code(errc::disconnected));
}
inline client::client(client&&) noexcept = default;
inline client& client::operator=(client&& other) noexcept {
  if (this != &other) {
    if (core_) core_->close(make_error_code(errc::disconnected));
    core_ = std::move(other.core_);
  }
  return *this;
}

inline asio::awaitable<std::error_code> client::connect(std::string host, std::uint16_t port) {
  auto core = core_;
  co_return co_await core->connect(std::move(host), port);
}

namespace detail {
inline std::error_code keep_raw_reply(bytes_view body, codec::encoding, void* out) {
  static_cast<buffer*>(out)->append(body);
  return {};
}
}  // namespace detail

inline asio::awaitable<outcome<buffer>> client::call_raw(std::uint16_t command, bytes_view body,
                                                         call_options opts) {
  auto core = core_;
  buffer reply;
  failure f = co_await core->call(command, body_writer::encoded(body), opts,
                                  &detail::keep_raw_reply, &reply);
  if (f.code) co_return f;
  co_return std::move(reply);
}

template <class Cmd>
asio::awaitable<outcome<typename Cmd::reply>> client::call(const typename Cmd::request& req,
                                                            call_options opts) {
  return net::detail::typed_call<typename Cmd::reply>(
      [core = core_, &req, opts](decode_fn decode, void* out) {
        return core->call(Cmd::id, body_writer(req), opts, decode, out);
      });
}

inline void client::on_push_raw(std::uint16_t push_id,
                                std::function<void(bytes_view, codec::encoding)> f) {
  core_->pushes_[push_id] = std::move(f);
}
inline void client::on_close(std::function<void(std::error_code)> f) {
  core_->on_close_ = std::move(f);
}
inline void client::close() {
  if (core_) core_->close(make_error_code(errc::disconnected));
}
inline bool client::connected() const noexcept { return core_ && core_->open_; }
inline std::uint64_t client::session_id() const noexcept { return core_->session_id_; }
inline std::uint32_t client::last_push_seq() const noexcept { return core_->last_push_seq_; }
inline std::size_t client::in_flight() const noexcept { return core_->calls_.size(); }

}  // namespace ember
