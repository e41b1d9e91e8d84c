// ember: a tcp_session reading its connection: waiting for readability, splitting frames,
// routing each by kind, and the request-rate token bucket.
#pragma once

#include "ember/net/server.hpp"

#include <exception>

#include <asio/post.hpp>

#include <fmt/format.h>

#include "ember/log.hpp"
#include "ember/net/detail/impl/tcp_session_output.hpp"
#include "ember/net/detail/ws_transport.hpp"

namespace ember::net::detail {

EMBER_DECL tcp_session::tcp_session(server& srv, asio::ip::tcp::socket socket, std::uint64_t id,
                                    bool websocket)
    : srv_(srv),
      socket_(std::move(socket)),
      id_(id),
      stream_(srv.options_.framing, srv.options_.firefly, srv.options_.max_frame),
      created_(srv.now()),
      last_receive_(srv.now()),
      last_refill_(srv.now()),
      tokens_(srv.options_.request_burst),
      native_(srv.options_.framing == framing::native) {
  std::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  if (!ec) {
    address_ = ep.address();
    remote_ = fmt::format("{}:{}", address_.to_string(), ep.port());
  }
  if (!native_) push_encoding_ = srv.options_.firefly_encoding;
  // A message holds one frame or more; its bound is one frame of the largest body.
  if (websocket) ws_ = std::make_unique<ws_transport>(srv.options_.max_frame + wire::native_header_size);
  if (srv.tls_ && (websocket ? srv.options_.tls_websocket : srv.options_.tls_tcp))
    tls_ = std::make_unique<tls_channel>(srv.tls_, true, std::string());
}

EMBER_DECL tcp_session::~tcp_session() = default;

EMBER_DECL void tcp_session::start() {
  std::error_code ec;
  socket_.non_blocking(true, ec);
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  wait_readable();
}

// Reading is a plain completion handler rather than a coroutine: an idle session then costs
// one small pending operation, not a coroutine frame and its spawn state.
EMBER_DECL void tcp_session::wait_readable() {
  socket_.async_wait(asio::socket_base::wait_read,
                     [self = shared_from_this(), c = connection_](std::error_code ec) {
                       self->on_readable(ec, c);
                     });
}

EMBER_DECL void tcp_session::continue_reading() {
  if (!tls_ || !tls_->buffered()) return wait_readable();
  asio::post(srv_.io_, [self = shared_from_this(), c = connection_] { self->on_readable({}, c); });
}

EMBER_DECL std::size_t tcp_session::read_some(std::span<std::byte> buf, std::error_code& ec) {
  return frame_stream::read_some(socket_, tls_.get(), buf, ec);
}

EMBER_DECL void tcp_session::write_now(bytes_view out) {
  std::error_code ec;
  if (!tls_) {
    (void)socket_.write_some(asio::buffer(out.data(), out.size()), ec);
    return;
  }
  buffer sealed;
  (void)tls_->seal(out, sealed, ec);
  (void)socket_.write_some(asio::buffer(sealed.data(), sealed.size()), ec);
}

EMBER_DECL void tcp_session::log_tls_failure() {
  if (!tls_) return;  // handed to the session this connection resumed
  log::info("session {} ({}): TLS {} failed: {}", id_, remote_,
            tls_->established() ? "connection" : "handshake", tls_->failure());
}

EMBER_DECL void tcp_session::on_readable(std::error_code ec, unsigned connection) {
  if (state_ != state::open || connection != connection_) return;
  const account_on_exit accounted{*this};  // a partial frame kept, frames acknowledged
  if (ec) return lose_connection(ec);
  try {
    auto r = ws_ ? read_websocket()
                 : stream_.read_available(
                       socket_, tls_.get(), srv_.read_buffer(),
                       [this](const wire::frame& f) { return on_frame(f); },
                       [this] { return state_ == state::open; });
    if (r.bytes) last_receive_ = srv_.now();
    if (r.error == asio::error::eof) {
      if (has_partial()) log::info("session {} ({}): stream ended inside a frame", id_, remote_);
      if (resumable_) return lose_connection(make_error_code(errc::disconnected));
      return close("peer closed the connection");
    }
    if (r.error && r.tls_failed) {
      log_tls_failure();
      return abort(r.error);
    }
    if (r.error && r.bad_frame) return abort(r.error);
    // TLS answered (handshake messages), or finished its handshake with frames waiting.
    if (tls_ && state_ == state::open && (tls_->has_output() || output_.queued() > 0) &&
        !flush_scheduled_ && !output_.writing()) {
      flush_scheduled_ = true;
      srv_.schedule_flush(shared_from_this());
    }
    if (r.error) return lose_connection(r.error);
  } catch (const std::exception& e) {
    // Only resource exhaustion gets here (handlers' exceptions are caught where they run).
    log::error("session {} ({}): {}", id_, remote_, e.what());
    return abort(make_error_code(errc::overloaded));
  }
  if (!has_partial())
    partial_since_ = {};
  else if (partial_since_ == coarse_time{})
    partial_since_ = srv_.now();
  if (state_ == state::open && connection == connection_) continue_reading();
}

EMBER_DECL bool tcp_session::on_frame(const wire::frame& f) {
  if (state_ != state::open) return false;
  if (!native_) return on_request(f);
  using wire::frame_kind;
  if (resumable_) {
    if (f.ack > outbox_.acked()) outbox_.ack(f.ack);
    // A frame after a resume: the client has the new token, the one it resumed with is spent.
    if (std::exchange(spent_token_pending_, false)) srv_.forget_token(spent_token_);
  }
  switch (f.kind) {
    case frame_kind::request:
      return on_request(f);
    case frame_kind::handshake:
      return on_handshake(f);
    case frame_kind::ping:
      (void)append_frame(frame_kind::pong, 0, f.seq, codec::encoding::binary, [](buffer&) {});
      queued();
      return state_ == state::open;
    case frame_kind::pong:
    case frame_kind::ack:
      return true;
    case frame_kind::bye:
      close("the client ended the session");
      return false;
    default:
      log::info("session {} ({}): a client may not send frames of kind {}", id_, remote_,
                static_cast<int>(f.kind));
      abort(make_error_code(errc::unexpected_frame));
      return false;
  }
}

EMBER_DECL bool tcp_session::take_token() {
  const auto& o = srv_.options_;
  if (o.max_request_rate <= 0) return true;
  auto now = srv_.now();
  double dt = std::chrono::duration<double>(now - last_refill_).count();
  last_refill_ = now;
  tokens_ = std::min(o.request_burst, tokens_ + dt * o.max_request_rate);
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

}  // namespace ember::net::detail
