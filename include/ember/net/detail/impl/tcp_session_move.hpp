// ember: a tcp_session that moves to another client-facing server when its own drains: the
// client told where to go, the state that leaves, the state that arrives.
#pragma once

#include "ember/net/server.hpp"

#include <utility>

#include <asio/post.hpp>

#include "ember/log.hpp"
#include "ember/net/detail/impl/tcp_session_output.hpp"

namespace ember::net::detail {

EMBER_DECL void tcp_session::tell_moved(const std::string& host, std::uint16_t port) {
  buffer body;
  wire::moved_notice{host, port}.encode(body);
  told_moved_ = true;
  // Binary whatever the session's push encoding: a fixed layout, not a schema message.
  push_encoded(wire::moved_push_id, codec::encoding::binary, body.view());
}

EMBER_DECL handed_session tcp_session::handed() const {
  handed_session s;
  s.push_encoding = static_cast<std::uint8_t>(push_encoding_);
  s.session_id = id_;
  s.user = user_;
  s.push_seq = push_seq_;
  s.last_request_seq = last_request_seq_;
  s.outbox_acked = outbox_.acked();
  s.outbox_sent = outbox_.sent();
  s.outbox.append(outbox_.kept());
  for_each_group([&](std::string_view g) { s.groups.emplace_back(g); });
  s.attributes = attributes_.items();
  return s;
}

EMBER_DECL void tcp_session::restore(handed_session&& state, const wire::resume_token& token) {
  push_encoding_ = codec::encoding(state.push_encoding);
  push_seq_ = state.push_seq;
  last_request_seq_ = state.last_request_seq;
  outbox_.restore(state.outbox_acked, state.outbox_sent, state.outbox.view());
  handshaken_ = true;
  resumable_ = true;
  address_counted_ = false;  // no connection yet: `resume_on` brings one, and its count
  state_ = state::parked;
  parked_since_ = srv_.now();
  // The client resumes with the token its old server gave it; it is replaced at the resume.
  token_ = token;
  srv_.resumable_.try_emplace(token_, this);
  for (auto& [k, v] : state.attributes) attributes_.set(k, std::move(v));
  for (const auto& g : state.groups) srv_.groups_.join(g, *this);
  bind_user(state.user);  // one session per user here too: a newer login's elsewhere wins
  account();
}

EMBER_DECL void tcp_session::end_moved() {
  if (state_ == state::closed) return;
  moved_ = true;
  stop_resuming();
  state_ = state::closed;
  std::error_code ec;
  socket_.close(ec);
  account();
  asio::post(srv_.io_, [self = shared_from_this()] { self->teardown(); });
}

}  // namespace ember::net::detail
