// ember: a tcp_session on the WebSocket listener: the HTTP upgrade, binary messages carrying
// native frames, pings, the close handshake, and the output framed as WebSocket messages.
#pragma once

#include "ember/net/server.hpp"

#include <cstring>

#include <asio/error.hpp>

#include "ember/log.hpp"
#include "ember/net/detail/impl/tcp_session_output.hpp"
#include "ember/net/detail/ws_transport.hpp"
#include "ember/wire/websocket.hpp"

namespace ember::net::detail {

namespace ws = wire::websocket;

EMBER_DECL bool tcp_session::has_partial() const noexcept {
  if (!ws_) return stream_.has_partial();
  if (ws_->state == ws_transport::phase::upgrade) return !ws_->request.empty();
  return ws_->decoder.has_partial();
}

EMBER_DECL read_result tcp_session::read_websocket() {
  read_result r;
  const std::span<std::byte> buf = srv_.read_buffer();
  std::string rest;  // bytes that followed the upgrade request
  for (int round = 0; round < 8 && state_ == state::open && ws_; ++round) {
    std::error_code ec;
    const std::size_t n = read_some(buf, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) break;
    if (ec) {
      r.error = ec;
      r.tls_failed = tls_ && is_tls_error(ec);
      break;
    }
    r.bytes += n;
    std::span<std::byte> in(buf.data(), n);
    if (ws_->state == ws_transport::phase::upgrade && !read_upgrade(in, rest)) {
      if (state_ != state::open) break;
      continue;
    }
    if (ws_->state != ws_transport::phase::open) break;  // our close frame is out: ignore the rest
    ws_transport& t = *ws_;  // a resume may hand `ws_` to the resumed session meanwhile
    const auto fe = t.decoder.feed(in, [this](const ws::event& e) { return on_ws_event(e); });
    if (fe || t.error) {
      r.error = fe ? fe : t.error;
      r.bad_frame = true;
      break;
    }
    if (!ws_ || n < buf.size()) break;
  }
  if (ws_) ws_->decoder.shrink();
  return r;
}

EMBER_DECL bool tcp_session::read_upgrade(std::span<std::byte>& in, std::string& rest) {
  ws_->request.append(reinterpret_cast<const char*>(in.data()), in.size());
  ws::upgrade_options options;
  options.max_request = srv_.options_.websocket_max_request;
  // The allow-list is read per request, not copied: a config reload may change it.
  options.allowed_origins = srv_.options_.websocket_origins;
  auto result = ws::read_upgrade(ws_->request, options);
  if (!result) return false;
  buffer& out = output_.pending();
  out.append(std::string_view(result->response));
  ws_->sealed = out.size();
  if (result->error) {
    log::info("session {} ({}): WebSocket upgrade refused ({}): {}; {}", id_, remote_,
              ws::http_status_of(result->error), result->error.message(), result->detail);
    ws_->request.clear();
    close("WebSocket upgrade refused");
    return false;
  }
  log::debug("session {} ({}): WebSocket upgrade to {}{}{}", id_, remote_, result->path,
             result->origin.empty() ? "" : " from ", result->origin);
  ws_->state = ws_transport::phase::open;
  rest.assign(ws_->request, result->used);
  std::string().swap(ws_->request);
  queued();
  in = std::span<std::byte>(reinterpret_cast<std::byte*>(rest.data()), rest.size());
  return true;
}

EMBER_DECL bool tcp_session::on_ws_event(const ws::event& e) {
  if (state_ != state::open) return false;
  switch (e.op) {
    case ws::opcode::binary: {
      ws_transport& t = *ws_;
      t.error = stream_.feed(e.payload, [this](const wire::frame& f) { return on_frame(f); });
      if (t.error) return false;
      if (!ws_ || state_ != state::open) return false;  // resumed elsewhere, or closing
      // A message holds whole frames: a frame split over messages is a client's bug.
      if (stream_.has_partial()) {
        t.error = ws::error::message_not_whole;
        return false;
      }
      return true;
    }
    case ws::opcode::ping: {
      ws_seal();
      ws::append_frame(output_.pending(), ws::opcode::pong, e.payload);
      ws_->sealed = output_.pending().size();
      queued();
      return state_ == state::open;
    }
    case ws::opcode::pong:
      return true;
    case ws::opcode::close: {
      const std::string_view reason(reinterpret_cast<const char*>(e.payload.data()), e.payload.size());
      log::info("session {} ({}): the client closed the WebSocket (code {}{}{})", id_, remote_,
                e.code, reason.empty() ? "" : ", ", reason);
      // Told to move (this server drains): the close is the client leaving for the other
      // server, where it resumes (a browser cannot drop a WebSocket without one), not the end.
      if (told_moved_ && resumable_) {
        lose_connection(make_error_code(errc::disconnected));
        return false;
      }
      // the answer echoes the code (RFC 6455 §5.5.1); none if the client sent none
      ws_close(e.code, {});
      close("the client closed the WebSocket");
      return false;
    }
    default:
      return false;
  }
}

EMBER_DECL void tcp_session::ws_seal() {
  buffer& out = output_.pending();
  const std::size_t from = ws_->sealed;
  if (from >= out.size()) {
    ws_->sealed = out.size();
    return;
  }
  if (ws_->state == ws_transport::phase::closing) return out.resize(from);  // nothing after close
  const std::size_t n = out.size() - from;
  const std::size_t h = ws::header_size(n);
  out.resize(out.size() + h);
  std::memmove(out.data() + from + h, out.data() + from, n);
  ws::write_header(out.data() + from, ws::opcode::binary, n);
  ws_->sealed = out.size();
}

EMBER_DECL void tcp_session::ws_close(std::uint16_t code, std::string_view reason) {
  if (!ws_ || ws_->state != ws_transport::phase::open) return;
  ws_seal();
  buffer& out = output_.pending();
  if (code == static_cast<std::uint16_t>(ws::close_code::no_status))
    ws::append_frame(out, ws::opcode::close, {});
  else
    ws::append_close(out, ws::close_code(code), reason);
  ws_->sealed = out.size();
  ws_->state = ws_transport::phase::closing;
}

EMBER_DECL void tcp_session::clear_output() {
  output_.pending().clear();
  if (ws_) ws_->sealed = 0;
}

}  // namespace ember::net::detail
