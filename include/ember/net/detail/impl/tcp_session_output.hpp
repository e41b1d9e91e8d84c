// ember: what a tcp_session sends: frames appended to its output buffer (replies, errors,
// pushes), and flushing them once per event-loop round.
#pragma once

#include "ember/net/server.hpp"

#include "ember/log.hpp"
#include "ember/net/detail/error_frame.hpp"
#include "ember/net/detail/ws_transport.hpp"
#include "ember/wire/encoder.hpp"

namespace ember::net::detail {

template <class WriteBody>
std::error_code tcp_session::append_frame(wire::frame_kind kind, std::uint32_t command,
                                          std::uint32_t seq, codec::encoding enc,
                                          WriteBody&& write_body) {
  // One frame may fill the write queue, not more.
  const std::size_t max_body = srv_.options_.max_write_queue;
  buffer& out = output_.pending();
  if (!native_) return wire::append_frame(out, srv_.options_.firefly, command, write_body, max_body);
  wire::frame_header h;
  h.kind = kind;
  h.flags = enc == codec::encoding::json ? wire::flag::json : 0;
  h.command = static_cast<std::uint16_t>(command);
  h.seq = seq;
  const std::size_t from = out.size();
  auto ec = wire::append_frame(out, h, write_body, max_body);
  // What the client counts (and acknowledges) is kept for a resume: replies, errors about
  // requests, pushes. Errors about the session itself (seq 0) end it anyway.
  if (!ec && resumable_ &&
      (kind == wire::frame_kind::response || kind == wire::frame_kind::push ||
       (kind == wire::frame_kind::error && seq != 0)))
    keep(out, from);
  if (state_ == state::parked) out.resize(from);  // no connection: the outbox has it
  return ec;
}

EMBER_DECL void tcp_session::send_error(std::uint32_t command, std::uint32_t seq,
                                    codec::encoding enc, status code, std::string_view message) {
  send_error(request_info{nullptr, this, seq, command, enc, nullptr}, static_cast<std::uint16_t>(code),
             message);
}

EMBER_DECL void tcp_session::send_error(const request_info& info, std::uint16_t code,
                                    std::string_view message) {
  if (!is_open()) return;
  // Firefly has no error frames: a reply goes instead, the schema's error reply if it has one.
  const auto kind = native_ ? wire::frame_kind::error : wire::frame_kind::response;
  const auto custom = native_ ? nullptr : srv_.table_->error_reply();
  (void)append_frame(kind, info.command, info.seq, info.encoding, [&](buffer& b) {
    if (custom)
      custom(b, info.encoding, code, message);
    else
      append_error_body(b, code, message, info.encoding);
  });
  queued();
}

EMBER_DECL void tcp_session::reply_body(const request_info& req, const body_writer& body) {
  if (!is_open()) return;
  if (append_frame(wire::frame_kind::response, req.command, req.seq, req.encoding,
                   [&](buffer& b) { body(b, req.encoding); })) {
    log::error("session {}: the reply to command {} is larger than the write queue", id_,
               req.command);
    return send_error(req, static_cast<std::uint16_t>(status::internal_error), "reply too large");
  }
  queued();
}

EMBER_DECL void tcp_session::push_body(std::uint16_t push_id, const body_writer& body) {
  if (!is_open()) return;
  if (append_frame(wire::frame_kind::push, push_id, ++push_seq_, push_encoding_,
                   [&](buffer& b) { body(b, push_encoding_); })) {
    --push_seq_;
    log::error("session {}: push {} is larger than the write queue; not sent", id_, push_id);
    return;
  }
  ++srv_.stats_.pushes;
  queued();
}

EMBER_DECL void tcp_session::push_encoded(std::uint16_t push_id, codec::encoding enc,
                                      bytes_view body) {
  if (!is_open()) return;
  if (append_frame(wire::frame_kind::push, push_id, ++push_seq_, enc,
                   [&](buffer& b) { b.append(body); })) {
    --push_seq_;
    log::error("session {}: push {} is larger than the write queue; not sent", id_, push_id);
    return;
  }
  ++srv_.stats_.pushes;
  queued();
}

EMBER_DECL void tcp_session::queued() {
  const account_on_exit accounted{*this};
  if (outbox_full_) {
    // Its client acknowledges nothing (away, or not reading): it ends rather than grow.
    if (state_ == state::parked) return expire("too many frames waiting for a resume");
    return abort(make_error_code(errc::write_queue_full));
  }
  if (state_ == state::parked) return;
  if (output_.queued() > srv_.options_.max_write_queue) {
    lose_connection(make_error_code(errc::write_queue_full));
    return;
  }
  if (!flush_scheduled_ && !output_.writing()) {
    flush_scheduled_ = true;
    srv_.schedule_flush(shared_from_this());
  }
}

EMBER_DECL void tcp_session::flush() {
  flush_scheduled_ = false;
  if (state_ == state::closed) return;
  const account_on_exit accounted{*this};
  if (state_ == state::parked) return clear_output();
  if (ws_) ws_seal();
  std::error_code ec;
  auto result = output_.flush(socket_, tls_.get(), ec, [self = shared_from_this(),
                                            c = connection_](std::error_code wec) {
    if (c != self->connection_) {
      // A write of a lost connection ended; the new one may have frames waiting.
      if (self->state_ == state::open)
        self->flush();
      else if (self->state_ == state::parked)
        self->account();  // its buffer is freed
      return;
    }
    if (wec) {
      if (self->state_ != state::closed) self->lose_connection(wec);
      return;
    }
    self->flush();
  });
  if (ws_) ws_->sealed = output_.pending().size();  // sealed above, then partly written or moved
  if (result == flush_result::failed)
    lose_connection(ec);
  else if (result == flush_result::drained)
    after_drain();
}

EMBER_DECL void tcp_session::account() {
  // Capacities, not sizes: what the buffers hold in memory is what the budget protects.
  auto& budget = srv_.budget_;
  const bool holds = state_ != state::closed;
  budget.set_output(held_output_, holds ? output_.capacity() + outbox_.capacity() : 0);
  budget.set_input(held_input_, holds ? stream_.capacity() + (ws_ ? ws_->capacity() : 0) : 0);
  if (budget.over()) srv_.shed_over_budget();
}

EMBER_DECL void tcp_session::after_drain() {
  // An idle session keeps at most a small output buffer and no asynchronous one.
  output_.trim(512);
  if (state_ == state::closing) finish_close();
}

}  // namespace ember::net::detail
