// ember: a tcp_session's handshake, and sessions that outlive their connection: parking,
// resuming on a new connection, the outbox kept for a resume, and resume tokens.
#pragma once

#include "ember/net/server.hpp"

#include <chrono>
#include <utility>

#include <asio/post.hpp>
#include <fmt/format.h>
#include <sodium.h>

#include "ember/log.hpp"
#include "ember/net/detail/impl/tcp_session_output.hpp"

namespace ember::net::detail {

EMBER_DECL bool tcp_session::on_handshake(const wire::frame& f) {
  if (handshaken_) {
    abort(make_error_code(errc::unexpected_frame));
    return false;
  }
  auto hello = wire::client_hello::decode(f.body);
  if (!hello || hello->encoding > 1) {
    abort(make_error_code(errc::malformed_body));
    return false;
  }
  if (hello->version != wire::protocol_version) {
    send_error(0, f.seq, codec::encoding::binary, status::unsupported_version,
               fmt::format("this server speaks protocol version {}", wire::protocol_version));
    close("unsupported protocol version");
    return false;
  }
  handshaken_ = true;
  if (hello->resume) {
    if (hello->take_over) {  // a peer takes a session of this draining server over
      srv_.serve_take_over(*this, *hello);
      return false;
    }
    // The client asks for its session back: this connection joins it (here, or through a
    // relay on the server that issued the token, whatever this connection's transport), or
    // is refused. A client its server told to move here has it taken over from there first.
    tcp_session* s = srv_.find_resumable(hello->token);
    if (!s && hello->moved && srv_.take_over(*this, *hello)) return false;
    if (!s && srv_.relay_to_home(*this, *hello)) return false;
    if (!s || s == this || !s->outbox_.can_resume_from(hello->received)) {
      log::info("session {} ({}): no session to resume for that token", id_, remote_);
      send_error(0, 0, codec::encoding::binary, status::session_expired,
                 "the session expired (or the token is not valid): log in again");
      close("resume refused");
      return false;
    }
    s->resume_on(*this, *hello);
    return false;
  }
  if (srv_.draining_) {
    send_error(0, 0, codec::encoding::binary, status::shutting_down,
               "this server drains: connect to another one");
    close("refused: draining");
    return false;
  }
  push_encoding_ = codec::encoding(hello->encoding);
  if (hello->resumable && srv_.options_.resume_grace.count() > 0) {
    resumable_ = true;
    srv_.new_token(*this, token_);
  }
  send_hello(false);
  return state_ == state::open;
}

EMBER_DECL void tcp_session::send_hello(bool resumed) {
  wire::server_hello reply;
  reply.encoding = static_cast<std::uint8_t>(push_encoding_);
  reply.resumed = resumed;
  reply.session_id = id_;
  reply.idle_timeout_ms = static_cast<std::uint32_t>(srv_.options_.idle_timeout.count());
  reply.max_frame = static_cast<std::uint32_t>(srv_.options_.max_frame);
  reply.last_request_seq = last_request_seq_;
  reply.request_ids = true;
  if (resumable_) {
    reply.token = token_;
    reply.resume_grace_ms = static_cast<std::uint32_t>(srv_.options_.resume_grace.count());
  } else {
    randombytes_buf(reply.token.data(), reply.token.size());  // never accepted: not resumable
  }
  (void)append_frame(wire::frame_kind::handshake, 0, 0, codec::encoding::binary,
                     [&](buffer& b) { reply.encode(b); });
  queued();
}

EMBER_DECL void tcp_session::resume_on(tcp_session& fresh, const wire::client_hello& hello) {
  if (state_ == state::open) {
    // One session, one connection: the newer one wins (the old one is usually half dead).
    log::info("session {} ({}): resumed from {}; closing the older connection", id_, remote_,
              fresh.remote_);
    std::error_code ec;
    socket_.close(ec);
    drop_address();
  } else {
    log::info("session {}: resumed from {} after {} ms", id_, fresh.remote_,
              std::chrono::duration_cast<std::chrono::milliseconds>(srv_.now() - parked_since_)
                  .count());
  }
  ++connection_;  // callbacks of the old connection are now stale
  ++srv_.stats_.resumed;
  socket_ = std::move(fresh.socket_);
  remote_ = std::move(fresh.remote_);
  address_ = fresh.address_;  // `fresh` hands over its place in the per-address count
  address_counted_ = std::exchange(fresh.address_counted_, false);
  fresh.merged_ = true;
  fresh.state_ = state::closed;
  asio::post(srv_.io_, [f = fresh.shared_from_this()] { f->teardown(); });
  stream_ = frame_stream(srv_.options_.framing, srv_.options_.firefly, srv_.options_.max_frame);
  // The transport goes with the connection: WebSocket, or none if the client came back on TCP.
  if (fresh.ws_) fresh.ws_seal();
  ws_ = std::move(fresh.ws_);
  tls_ = std::move(fresh.tls_);
  partial_since_ = {};
  last_receive_ = srv_.now();
  state_ = state::open;
  // The old connection's unsent bytes are in the outbox (or were pongs); a new token, the
  // hello, then every frame the client has not received, before anything new.
  clear_output();
  if (ws_) {
    // what the new connection has not been sent yet (the 101 answer, pongs) goes first
    output_.pending().append(fresh.output_.pending().view());
    fresh.output_.pending().clear();
    ws_->sealed = output_.pending().size();
  }
  // The token used stays valid until the client shows it has the new one (its next frame):
  // were the answer lost with this connection too, the client could not come back. Any other
  // token of this session is forgotten now.
  const wire::resume_token& used = hello.token;
  if (spent_token_pending_ && spent_token_ != used) srv_.forget_token(spent_token_);
  if (token_ != used) srv_.forget_token(token_);
  spent_token_ = used;
  spent_token_pending_ = true;
  srv_.new_token(*this, token_);
  send_hello(true);
  output_.pending().append(outbox_.after(hello.received));
  queued();
  if (state_ == state::open) continue_reading();
}

EMBER_DECL void tcp_session::lose_connection(std::error_code why) {
  if (state_ == state::closed) return;
  if (!resumable_ || state_ != state::open || srv_.stopping_) return abort(why);
  log::info("session {} ({}) lost its connection: {}; kept {} ms for a resume", id_, remote_,
            why.message(), srv_.options_.resume_grace.count());
  state_ = state::parked;
  parked_since_ = srv_.now();
  ++srv_.stats_.parked;
  ++connection_;
  std::error_code ec;
  socket_.close(ec);
  drop_address();
  clear_output();
  output_.trim(0);  // a parked session's frames are in its outbox
  account();
}

EMBER_DECL void tcp_session::drop_address() {
  if (std::exchange(address_counted_, false)) srv_.release_address(address_);
}

EMBER_DECL void tcp_session::expire(std::string_view why) {
  if (state_ == state::closed) return;
  log::info("session {} ({}) ended: {}", id_, remote_, why);
  if (state_ == state::parked) ++srv_.stats_.expired;
  state_ = state::closed;
  std::error_code ec;
  socket_.close(ec);
  account();
  asio::post(srv_.io_, [self = shared_from_this()] { self->teardown(); });
}

EMBER_DECL void tcp_session::keep(const buffer& out, std::size_t from) {
  outbox_.add(bytes_view(out.data() + from, out.size() - from));
  if (outbox_.bytes() > srv_.options_.resume_outbox) {
    outbox_full_ = true;  // the caller's next step (queued) ends the session
    stop_resuming();
  }
}

EMBER_DECL void tcp_session::stop_resuming() {
  if (!resumable_) return;
  resumable_ = false;
  srv_.forget_token(token_);
  if (std::exchange(spent_token_pending_, false)) srv_.forget_token(spent_token_);
  outbox_.release();
}

}  // namespace ember::net::detail
