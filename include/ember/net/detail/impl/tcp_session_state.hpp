// ember: a tcp_session's life and what it belongs to: user binding, groups, attributes,
// closing (gracefully, at once, or for a timeout of the sweep) and leaving the server.
#pragma once

#include "ember/net/server.hpp"

#include <utility>

#include <asio/post.hpp>

#include "ember/log.hpp"
#include "ember/net/detail/error_frame.hpp"
#include "ember/net/detail/impl/tcp_session_output.hpp"
#include "ember/net/detail/ws_transport.hpp"
#include "ember/wire/websocket.hpp"

namespace ember::net::detail {

EMBER_DECL void tcp_session::broadcast_body(std::string_view group, std::uint16_t push_id,
                                        const body_writer& body) {
  srv_.broadcast_body(group, push_id, body);
}

EMBER_DECL void tcp_session::bind_user(std::uint64_t user) {
  const std::uint64_t old = std::exchange(user_, user);
  if (old != user) srv_.bind_user(*this, old, user);
}

EMBER_DECL void tcp_session::close_with(status why, std::string_view message) {
  if (!is_open()) return;
  if (native_) send_error(0, 0, push_encoding_, why, message);
  close(message);
}

EMBER_DECL void tcp_session::join(std::string_view group) {
  if (is_open()) srv_.groups_.join(group, *this);
}
EMBER_DECL void tcp_session::leave(std::string_view group) { srv_.groups_.leave(group, *this); }
EMBER_DECL bool tcp_session::in_group(std::string_view group) const {
  return srv_.groups_.contains(group, *this);
}

EMBER_DECL void tcp_session::set_attribute(std::string_view key, std::string value) {
  attributes_.set(key, std::move(value));
}

EMBER_DECL std::optional<std::string_view> tcp_session::attribute(std::string_view key) const {
  return attributes_.get(key);
}

EMBER_DECL void tcp_session::close(std::string_view reason) {
  if (state_ == state::parked) return expire(reason);
  if (state_ != state::open) return;
  log::debug("session {} ({}) closing: {}", id_, remote_, reason);
  stop_resuming();
  if (ws_)
    ws_close(static_cast<std::uint16_t>(srv_.stopping_ ? wire::websocket::close_code::going_away
                                                       : wire::websocket::close_code::normal),
             reason);
  state_ = state::closing;
  // Ends the read loop without cancelling a write that is still flushing replies.
  std::error_code ec;
  socket_.shutdown(asio::socket_base::shutdown_receive, ec);
  if (!output_.writing() && output_.queued() == 0)
    finish_close();
  else if (!output_.writing() && !flush_scheduled_) {
    flush_scheduled_ = true;
    srv_.schedule_flush(shared_from_this());
  }
}

EMBER_DECL void tcp_session::finish_close() {
  if (state_ == state::closed) return;
  state_ = state::closed;
  std::error_code ec;
  if (tls_) {
    // close_notify: the client can tell this end from a cut connection (best effort).
    buffer bye;
    tls_->shutdown(bye);
    (void)socket_.write_some(asio::buffer(bye.data(), bye.size()), ec);
  }
  socket_.shutdown(asio::socket_base::shutdown_both, ec);
  socket_.close(ec);
  account();
  asio::post(srv_.io_, [self = shared_from_this()] { self->teardown(); });
}

EMBER_DECL void tcp_session::abort(std::error_code why) {
  if (state_ == state::closed) return;
  log::info("session {} ({}) closed: {}", id_, remote_, why.message());
  end_now(why);
}

EMBER_DECL void tcp_session::shed(std::size_t in_use) {
  if (state_ == state::closed) return;
  log::warn("session {} ({}) closed: the server's sessions buffer {} bytes, past its budget of "
            "{}; this one held {} ({} for output, {} of input), the most of those left",
            id_, remote_, in_use, srv_.budget_.max(), held_bytes(), held_output_, held_input_);
  // Not parked for a resume: the point is to free what it holds.
  stop_resuming();
  if (state_ == state::open && native_ && !ws_ && !output_.writing() && output_.queued() == 0) {
    // Nothing of a frame is on the way: the client can be told why, best effort.
    buffer out;
    (void)wire::append_frame(out, {.kind = wire::frame_kind::error}, [&](buffer& b) {
      append_error_body(b, static_cast<std::uint16_t>(status::overloaded),
                        "the server is short of memory for buffers and this session held the most",
                        codec::encoding::binary);
    });
    write_now(out.view());
  }
  end_now(make_error_code(errc::overloaded));
}

EMBER_DECL void tcp_session::end_now(std::error_code why) {
  if (state_ == state::closed) return;
  std::error_code ec;
  if (ws_ && ws_->state == ws_transport::phase::open && state_ == state::open &&
      !output_.writing()) {
    // Tell the client why, best effort: what fits in the socket now, then the connection ends.
    ws_close(static_cast<std::uint16_t>(wire::websocket::close_code_of(why)), why.message());
    ws_seal();
    write_now(output_.pending().view());
  } else if (tls_ && !output_.writing()) {
    // A failed handshake's alert tells the client why, best effort.
    buffer alert;
    (void)tls_->seal({}, alert, ec);
    (void)socket_.write_some(asio::buffer(alert.data(), alert.size()), ec);
  }
  state_ = state::closed;
  socket_.close(ec);
  account();
  asio::post(srv_.io_, [self = shared_from_this()] { self->teardown(); });
}

EMBER_DECL void tcp_session::teardown() {
  if (torn_down_) return;
  torn_down_ = true;
  stop_resuming();
  queue_head_.reset();
  queue_tail_ = nullptr;
  account();
  srv_.remove(*this);
}

EMBER_DECL void tcp_session::sweep(coarse_time now) {
  const auto& o = srv_.options_;
  if (state_ == state::parked && now - parked_since_ > o.resume_grace)
    return expire("not resumed in time");
  if (state_ != state::open) return;
  if (tls_ && !tls_->established() && now - created_ > o.handshake_timeout) {
    log::info("session {} ({}): no TLS handshake within {} ms", id_, remote_,
              o.handshake_timeout.count());
    abort(make_error_code(errc::handshake_required));
  } else if (ws_ && ws_->state == ws_transport::phase::upgrade &&
             now - created_ > o.handshake_timeout) {
    log::info("session {} ({}): no WebSocket upgrade within {} ms", id_, remote_,
              o.handshake_timeout.count());
    abort(make_error_code(errc::handshake_required));
  } else if (native_ && !handshaken_ && now - created_ > o.handshake_timeout) {
    abort(make_error_code(errc::handshake_required));
  } else if (partial_since_ != coarse_time{} && now - partial_since_ > o.frame_timeout) {
    lose_connection(make_error_code(errc::frame_timeout));
  } else if (in_flight_ == 0 && now - last_receive_ > o.idle_timeout) {
    lose_connection(make_error_code(errc::idle_timeout));
  }
}

}  // namespace ember::net::detail
