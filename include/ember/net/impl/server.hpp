// ember: bodies of net::server and its tcp_session (included by ember/net/server.hpp).
#pragma once

#include "ember/net/server.hpp"

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <sys/resource.h>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>
#include <sodium.h>

#include "ember/log.hpp"
#include "ember/wire/encoder.hpp"
#include "ember/spawn.hpp"

namespace ember::net {
namespace detail {

EMBER_DECL constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

// ---------------------------------------------------------------- tcp_session

EMBER_DECL tcp_session::tcp_session(server& srv, asio::ip::tcp::socket socket, std::uint64_t id)
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

EMBER_DECL void tcp_session::on_readable(std::error_code ec, unsigned connection) {
  if (state_ != state::open || connection != connection_) return;
  if (ec) return lose_connection(ec);
  try {
    auto r = stream_.read_available(
        socket_, srv_.read_buffer(), [this](const wire::frame& f) { return on_frame(f); },
        [this] { return state_ == state::open; });
    if (r.bytes) last_receive_ = srv_.now();
    if (r.error == asio::error::eof) {
      if (stream_.has_partial()) log::info("session {} ({}): stream ended inside a frame", id_, remote_);
      if (resumable_) return lose_connection(make_error_code(errc::disconnected));
      return close("peer closed the connection");
    }
    if (r.error && r.bad_frame) return abort(r.error);
    if (r.error) return lose_connection(r.error);
  } catch (const std::exception& e) {
    // Only resource exhaustion gets here (handlers' exceptions are caught where they run).
    log::error("session {} ({}): {}", id_, remote_, e.what());
    return abort(make_error_code(errc::overloaded));
  }
  if (!stream_.has_partial())
    partial_since_ = {};
  else if (partial_since_ == coarse_time{})
    partial_since_ = srv_.now();
  if (state_ == state::open && connection == connection_) wait_readable();
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
    // The client asks for its session back: this connection joins it (here, or through a
    // relay on the server that issued the token), or is refused.
    if (srv_.relay_to_home(*this, *hello)) return false;
    tcp_session* s = srv_.find_resumable(hello->token);
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
  partial_since_ = {};
  last_receive_ = srv_.now();
  state_ = state::open;
  // The old connection's unsent bytes are in the outbox (or were pongs); a new token, the
  // hello, then every frame the client has not received, before anything new.
  output_.pending().clear();
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
  if (state_ == state::open) wait_readable();
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
  output_.pending().clear();
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

EMBER_DECL bool tcp_session::on_request(const wire::frame& f) {
  codec::encoding enc;
  std::uint32_t seq;
  if (native_) {
    enc = (f.flags & wire::flag::json) ? codec::encoding::json : codec::encoding::binary;
    seq = f.seq;
    if (!handshaken_) {
      send_error(f.command, seq, enc, status::handshake_required, "send a handshake first");
      close("request before handshake");
      return false;
    }
    last_request_seq_ = seq;
  } else {
    enc = srv_.options_.firefly_encoding;
    seq = ++firefly_seq_;
  }
  ++srv_.stats_.requests;
  if (srv_.stopping_) {
    send_error(f.command, seq, enc, status::shutting_down, "the server is stopping");
    return state_ == state::open;
  }
  if (!take_token()) {
    send_error(f.command, seq, enc, status::rate_limited, "too many requests per second");
    return state_ == state::open;
  }
  if (in_flight_ >= srv_.options_.max_in_flight) {
    abort(make_error_code(errc::too_many_requests));
    return false;
  }
  const auto& table = srv_.table_;
  const command_entry* entry = table->find(f.command);
  if (!entry || entry->internal) {  // calls between servers are not for clients
    send_error(f.command, seq, enc, status::unknown_command,
               fmt::format("unknown command {}", f.command));
    return state_ == state::open;
  }
  request_info info{shared_from_this(), this, seq, f.command, enc, table};
  stamp_dispatch(info);
  if (entry->hand_off && native_ && !entry->ordered) {
    ++in_flight_;
    ++srv_.in_flight_;
    entry->hand_off(entry->handler, std::move(info), f.body);
    return state_ == state::open;
  }
  std::error_code ec;
  asio::awaitable<void> work = entry->start(entry->handler, info, f.body, ec);
  if (ec) {
    count_request(info, true);
    send_error(f.command, seq, enc, status::bad_request,
               fmt::format("{}: {}", entry->name, ec.message()));
    return state_ == state::open;
  }
  ++in_flight_;
  ++srv_.in_flight_;
  if (entry->ordered || !native_) {
    run_ordered(std::move(info), std::move(work));
  } else {
    spawn(std::move(info), std::move(work));
  }
  return state_ == state::open;
}

EMBER_DECL void tcp_session::run_ordered(request_info info, asio::awaitable<void> work) {
  if (ordered_running_) {
    auto node = std::make_unique<pending_request>(
        pending_request{std::move(info), std::move(work), nullptr});
    pending_request* raw = node.get();
    if (queue_tail_)
      queue_tail_->next = std::move(node);
    else
      queue_head_ = std::move(node);
    queue_tail_ = raw;
    return;
  }
  ordered_running_ = true;
  // The worker catches what its requests throw; spawn logs anything else.
  ember::spawn(socket_.get_executor(), ordered_worker(std::move(info), std::move(work)),
               "ordered request worker");
}

// Runs the session's ordered requests one after another while any are queued: a pipelining
// client costs one coroutine per burst, not one spawn per request.
EMBER_DECL asio::awaitable<void> tcp_session::ordered_worker(request_info info,
                                                         asio::awaitable<void> work) {
  auto self = shared_from_this();
  for (;;) {
    std::exception_ptr error;
    try {
      co_await std::move(work);
    } catch (...) {
      error = std::current_exception();
    }
    finish_request(info, error);
    if (!queue_head_ || !is_open()) break;
    auto node = std::move(queue_head_);
    queue_head_ = std::move(node->next);
    if (!queue_head_) queue_tail_ = nullptr;
    info = std::move(node->info);
    work = std::move(node->work);
  }
  // The client is gone: requests that have not started are dropped, not run.
  while (queue_head_) {
    auto n = std::move(queue_head_);
    queue_head_ = std::move(n->next);
    finish_request(n->info, nullptr);
  }
  queue_tail_ = nullptr;
  ordered_running_ = false;
}

EMBER_DECL void tcp_session::spawn(request_info info, asio::awaitable<void> work) {
  asio::co_spawn(socket_.get_executor(), std::move(work),
                 [self = shared_from_this(), info = std::move(info)](std::exception_ptr e) {
                   self->finish_request(info, e);
                 });
}

EMBER_DECL void tcp_session::finish_request(const request_info& info, std::exception_ptr error) {
  --in_flight_;
  --srv_.in_flight_;
  count_request(info, error != nullptr);
  if (!error) return;
  ++srv_.stats_.failed;
  try {
    std::rethrow_exception(error);
  } catch (const game_error& e) {
    send_error(info, e.code(), e.what());
  } catch (const call_error& e) {
    // A call the handler made failed: a remote error keeps its status; a local one (timeout,
    // no server) maps like any error code.
    const auto& f = e.why();
    const auto code = static_cast<std::uint16_t>(status_of(f));
    if (code == static_cast<std::uint16_t>(status::internal_error))
      log::error("session {}: command {} failed: {}", id_, info.command, e.what());
    send_error(info, code, f.remote() ? f.message : e.what());
  } catch (const std::system_error& e) {
    // The transport, a link, memcached or the database: transient failures say "retry".
    const auto st = status_of(e.code());
    if (st == status::internal_error) {
      log::error("session {}: command {} failed: {}", id_, info.command, e.what());
      send_error(info, static_cast<std::uint16_t>(st), "internal error");
    } else {
      log::warn("session {}: command {} failed ({}): {}", id_, info.command,
                st == status::timeout ? "timeout" : "unavailable", e.what());
      send_error(info, static_cast<std::uint16_t>(st), e.what());
    }
  } catch (const std::exception& e) {
    log::error("session {}: command {} failed: {}", id_, info.command, e.what());
    send_error(info, static_cast<std::uint16_t>(status::internal_error), "internal error");
  } catch (...) {
    log::error("session {}: command {} failed with a non-standard exception", id_, info.command);
    send_error(info, static_cast<std::uint16_t>(status::internal_error), "internal error");
  }
}

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
  if (native_) {
    (void)append_frame(wire::frame_kind::error, info.command, info.seq, info.encoding, [&](buffer& b) {
      codec::encode(b, codec::error_body{code, std::string(message)}, info.encoding);
    });
  } else if (auto custom = srv_.table_->error_reply()) {
    // Firefly has no error frames: the reply the schema defines for errors goes instead.
    (void)append_frame(wire::frame_kind::response, info.command, info.seq, info.encoding,
                       [&](buffer& b) { custom(b, info.encoding, code, message); });
  } else {
    (void)append_frame(wire::frame_kind::response, info.command, info.seq, info.encoding,
                       [&](buffer& b) {
                         codec::encode(b, codec::error_body{code, std::string(message)},
                                       info.encoding);
                       });
  }
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
  queued();
}

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
  for (auto& [k, v] : attributes_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  attributes_.emplace_back(std::string(key), std::move(value));
}

EMBER_DECL std::optional<std::string_view> tcp_session::attribute(std::string_view key) const {
  for (auto& [k, v] : attributes_)
    if (k == key) return std::string_view(v);
  return std::nullopt;
}

EMBER_DECL void tcp_session::queued() {
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
  if (state_ == state::parked) return output_.pending().clear();
  std::error_code ec;
  auto result = output_.flush(socket_, ec, [self = shared_from_this(),
                                            c = connection_](std::error_code wec) {
    if (c != self->connection_) {
      // A write of a lost connection ended; the new one may have frames waiting.
      if (self->state_ == state::open) self->flush();
      return;
    }
    if (wec) {
      if (self->state_ != state::closed) self->lose_connection(wec);
      return;
    }
    self->flush();
  });
  if (result == flush_result::failed)
    lose_connection(ec);
  else if (result == flush_result::drained)
    after_drain();
}

EMBER_DECL void tcp_session::after_drain() {
  // An idle session keeps at most a small output buffer and no asynchronous one.
  output_.trim(512);
  if (state_ == state::closing) finish_close();
}

EMBER_DECL void tcp_session::close(std::string_view reason) {
  if (state_ == state::parked) return expire(reason);
  if (state_ != state::open) return;
  log::debug("session {} ({}) closing: {}", id_, remote_, reason);
  stop_resuming();
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
  socket_.shutdown(asio::socket_base::shutdown_both, ec);
  socket_.close(ec);
  asio::post(srv_.io_, [self = shared_from_this()] { self->teardown(); });
}

EMBER_DECL void tcp_session::abort(std::error_code why) {
  if (state_ == state::closed) return;
  log::info("session {} ({}) closed: {}", id_, remote_, why.message());
  state_ = state::closed;
  std::error_code ec;
  socket_.close(ec);
  asio::post(srv_.io_, [self = shared_from_this()] { self->teardown(); });
}

EMBER_DECL void tcp_session::teardown() {
  if (torn_down_) return;
  torn_down_ = true;
  stop_resuming();
  queue_head_.reset();
  queue_tail_ = nullptr;
  srv_.remove(*this);
}

EMBER_DECL void tcp_session::sweep(coarse_time now) {
  const auto& o = srv_.options_;
  if (state_ == state::parked && now - parked_since_ > o.resume_grace)
    return expire("not resumed in time");
  if (state_ != state::open) return;
  if (native_ && !handshaken_ && now - created_ > o.handshake_timeout) {
    abort(make_error_code(errc::handshake_required));
  } else if (partial_since_ != coarse_time{} && now - partial_since_ > o.frame_timeout) {
    lose_connection(make_error_code(errc::frame_timeout));
  } else if (in_flight_ == 0 && now - last_receive_ > o.idle_timeout) {
    lose_connection(make_error_code(errc::idle_timeout));
  }
}

}  // namespace detail

// ---------------------------------------------------------------- server

EMBER_DECL server::server(asio::io_context& io, server_options options, dispatch_table table)
    : io_(io),
      options_(std::move(options)),
      table_(counted(std::move(table))),
      acceptor_(io),
      sweep_timer_(io),
      now_(std::chrono::steady_clock::now()) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
}

EMBER_DECL server::~server() {
  std::error_code ec;
  acceptor_.close(ec);
  for (auto& w : relays_)
    if (auto r = w.lock()) r->close();
  sweep_timer_.cancel();
  for (auto& [id, s] : sessions_) s->abort(make_error_code(errc::shutting_down));
}

EMBER_DECL void server::start() {
  // Each session is a descriptor: lift the soft limit (1,024 on most systems) to the hard one.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  asio::ip::tcp::endpoint ep(asio::ip::make_address(options_.host), options_.port);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  port_ = acceptor_.local_endpoint().port();
  log::info("{} listening on {}:{} ({} framing)", options_.name, options_.host, port_,
            options_.framing == framing::native ? "native" : "firefly");
  auto report = [name = options_.name](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      log::error("{}: {}", name, x.what());
    }
  };
  asio::co_spawn(io_, accept_loop(), report);
  asio::co_spawn(io_, sweep_loop(), report);
}

EMBER_DECL asio::awaitable<void> server::accept_loop() {
  std::weak_ptr<bool> alive = alive_;
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(detail::use_tuple);
    if (alive.expired() || stopping_ || !acceptor_.is_open()) co_return;
    if (ec) {
      log::warn("{}: accept failed: {}", options_.name, ec.message());
      if (ec == asio::error::no_descriptors) {
        // Out of file descriptors: back off instead of spinning.
        asio::steady_timer t(io_, std::chrono::milliseconds(50));
        co_await t.async_wait(detail::use_tuple);
      }
      continue;
    }
    std::error_code aec;
    auto address = socket.remote_endpoint(aec).address();
    if (aec) continue;
    if (sessions_.size() >= options_.max_sessions) {
      refuse(socket, status::server_full);
      continue;
    }
    auto& count = per_address_[address];
    if (count >= options_.max_sessions_per_address) {
      refuse(socket, status::server_full);
      continue;
    }
    ++count;
    ++stats_.accepted;
    auto s = std::make_shared<detail::tcp_session>(*this, std::move(socket), ++next_id_);
    sessions_.emplace(s->id(), s);
    s->start();
  }
}

EMBER_DECL void server::refuse(asio::ip::tcp::socket& socket, status why) {
  ++stats_.refused;
  std::error_code ec;
  if (options_.framing == framing::native) {
    buffer b;
    wire::frame_header h;
    h.kind = wire::frame_kind::error;
    (void)wire::append_frame(b, h, [&](buffer& out) {
      codec::encode(out, codec::error_body{static_cast<std::uint16_t>(why), "server full"},
                    codec::encoding::binary);
    });
    socket.non_blocking(true, ec);
    socket.write_some(asio::buffer(b.data(), b.size()), ec);
  }
  socket.close(ec);
  // Under a flood of connections, one line per second says how many were turned away.
  auto now = std::chrono::steady_clock::now();
  ++refused_unlogged_;
  if (now - last_refusal_log_ >= std::chrono::seconds(1)) {
    log::warn("{}: refused {} connection(s): server full ({} sessions, at most {} per address)",
              options_.name, refused_unlogged_, sessions_.size(), options_.max_sessions_per_address);
    refused_unlogged_ = 0;
    last_refusal_log_ = now;
  }
}

EMBER_DECL asio::awaitable<void> server::sweep_loop() {
  std::weak_ptr<bool> alive = alive_;
  using namespace std::chrono;
  auto shortest = std::min({options_.idle_timeout, options_.frame_timeout,
                            options_.handshake_timeout,
                            options_.resume_grace.count() > 0 ? options_.resume_grace
                                                              : options_.idle_timeout});
  auto period = std::clamp<milliseconds>(shortest / 4, milliseconds(20), milliseconds(1000));
  for (;;) {
    sweep_timer_.expires_after(period);
    auto [ec] = co_await sweep_timer_.async_wait(detail::use_tuple);
    if (ec || alive.expired()) co_return;
    now_ = steady_clock::now();
    for (auto& [id, s] : sessions_) s->sweep(now_);
    if (stopping_ && sessions_.empty()) co_return;
  }
}

EMBER_DECL void server::schedule_flush(std::shared_ptr<detail::tcp_session> s) {
  to_flush_.push_back(std::move(s));
  if (flush_posted_) return;
  flush_posted_ = true;
  asio::post(io_, [this, alive = std::weak_ptr<bool>(alive_)] {
    if (alive.expired()) return;
    flush_posted_ = false;
    flushing_.swap(to_flush_);
    for (auto& s : flushing_) s->flush();
    flushing_.clear();
  });
}

EMBER_DECL void server::remove(detail::tcp_session& s) {
  if (s.merged()) {  // its connection went on in the session it resumed
    sessions_.erase(s.id());
    return;
  }
  groups_.leave_all(s);
  if (auto u = s.user(); u) {
    if (auto it = users_.find(*u); it != users_.end() && it->second == &s) users_.erase(it);
  }
  s.drop_address();
  ++stats_.closed;
  for (auto& f : on_closed_) f(s);
  sessions_.erase(s.id());
}

EMBER_DECL void server::bind_user(detail::tcp_session& s, std::uint64_t old_user,
                              std::uint64_t user) {
  if (old_user != 0) {
    if (auto it = users_.find(old_user); it != users_.end() && it->second == &s) users_.erase(it);
  }
  if (user == 0 || !s.is_open()) return;
  auto [it, fresh] = users_.try_emplace(user, &s);
  if (fresh || it->second == &s) return;
  // One live session per user: the newer login wins, the older one is told why.
  detail::tcp_session* older = it->second;
  it->second = &s;
  log::info("session {}: user {} logged in again on session {}; closing this one", older->id(),
            user, s.id());
  older->close_with(status::replaced, "logged in from another session");
}

namespace detail {
/// Which server issued a resume token: its first 8 bytes (the rest are random).
EMBER_DECL std::uint64_t token_home(std::string_view server_name) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
  for (char c : server_name) h = (h ^ std::uint8_t(c)) * 0x100000001b3ULL;
  return h;
}
EMBER_DECL std::uint64_t token_home(const wire::resume_token& t) noexcept {
  std::uint64_t h;
  std::memcpy(&h, t.data(), sizeof h);
  return h;
}
}  // namespace detail

EMBER_DECL void server::new_token(detail::tcp_session& s, wire::resume_token& token) {
  const std::uint64_t home = detail::token_home(options_.name);
  std::memcpy(token.data(), &home, sizeof home);
  do randombytes_buf(token.data() + sizeof home, token.size() - sizeof home);
  while (!resumable_.try_emplace(token, &s).second);
}

EMBER_DECL bool server::relay_to_home(detail::tcp_session& fresh, const wire::client_hello& hello) {
  const std::uint64_t home = detail::token_home(hello.token);
  if (home == detail::token_home(options_.name)) return false;
  const resume_peer* peer = nullptr;
  for (const auto& p : options_.resume_peers)
    if (detail::token_home(p.name) == home) peer = &p;
  if (!peer) return false;
  log::info("{}: session resumed by {} lives on {}; relaying", options_.name, fresh.remote_,
            peer->name);
  buffer first;
  (void)wire::append_frame(first, {.kind = wire::frame_kind::handshake},
                           [&](buffer& b) { hello.encode(b); });
  auto r = std::make_shared<detail::relay>(std::move(fresh.socket_));
  std::erase_if(relays_, [](const auto& w) { return w.expired(); });
  relays_.push_back(r);
  fresh.drop_address();
  fresh.merged_ = true;
  fresh.state_ = detail::tcp_session::state::closed;
  asio::post(io_, [f = fresh.shared_from_this()] { f->teardown(); });
  r->start(peer->host, peer->port, std::move(first),
           [r = r.get(), name = peer->name](std::error_code ec) {
             // Its home is gone, and the session with it: the client logs in again.
             log::info("relay to {} failed: {}; the session is lost", name, ec.message());
             buffer b;
             (void)wire::append_frame(b, {.kind = wire::frame_kind::error}, [](buffer& out) {
               codec::encode(out,
                             codec::error_body{static_cast<std::uint16_t>(status::session_expired),
                                               "the server that held the session is gone"},
                             codec::encoding::binary);
             });
             std::error_code ignored;
             r->client().non_blocking(true, ignored);
             r->client().write_some(asio::buffer(b.data(), b.size()), ignored);
             r->close();
           });
  return true;
}

EMBER_DECL std::size_t server::parked_count() const noexcept {
  std::size_t n = 0;
  for (const auto& [id, s] : sessions_) n += s->parked();
  return n;
}

EMBER_DECL std::shared_ptr<session> server::find_user(std::uint64_t user) const {
  auto it = users_.find(user);
  if (it == users_.end()) return nullptr;
  return find(it->second->id());
}

EMBER_DECL bool server::push_encoded(std::uint64_t session_id, std::uint16_t push_id,
                                 bytes_view binary, bytes_view json) {
  auto* s = find_session(session_id);
  if (!s || !s->is_open()) return false;
  s->push_encoded(push_id, s->push_encoding(),
                  s->push_encoding() == codec::encoding::json ? json : binary);
  return true;
}

EMBER_DECL std::size_t server::broadcast_encoded(std::string_view group, std::uint16_t push_id,
                                             bytes_view binary, bytes_view json) {
  std::size_t count = 0;
  auto send = [&](detail::tcp_session& s) {
    if (!s.is_open()) return;
    s.push_encoded(push_id, s.push_encoding(),
                   s.push_encoding() == codec::encoding::json ? json : binary);
    ++count;
  };
  if (group.empty()) {
    for (auto& [id, s] : sessions_) send(*s);
  } else {
    for (group_member* m : groups_.members(group)) send(static_cast<detail::tcp_session&>(*m));
  }
  return count;
}

EMBER_DECL bool server::kick(std::uint64_t session_id, status why, std::string_view message) {
  auto* s = find_session(session_id);
  if (!s || !s->is_open()) return false;
  s->close_with(why, message);
  return true;
}

EMBER_DECL std::size_t server::broadcast_body(std::string_view group, std::uint16_t push_id,
                                          const body_writer& body) {
  buffer encoded[2];
  bool ready[2] = {false, false};
  std::size_t count = 0;
  auto send = [&](detail::tcp_session& s) {
    if (!s.is_open()) return;
    auto enc = s.push_encoding();
    auto i = static_cast<std::size_t>(enc);
    if (!ready[i]) {
      body(encoded[i], enc);
      ready[i] = true;
    }
    s.push_encoded(push_id, enc, encoded[i].view());
    ++count;
  };
  if (group.empty()) {
    for (auto& [id, s] : sessions_) send(*s);
  } else {
    for (group_member* m : groups_.members(group)) send(static_cast<detail::tcp_session&>(*m));
  }
  return count;
}

EMBER_DECL asio::awaitable<void> server::stop(std::chrono::milliseconds grace) {
  if (stopping_) co_return;
  stopping_ = true;
  std::error_code ec;
  acceptor_.close(ec);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  asio::steady_timer t(io_);
  auto wait_until = [&](auto done) -> asio::awaitable<void> {
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      t.expires_after(std::chrono::milliseconds(5));
      co_await t.async_wait(detail::use_tuple);
    }
  };
  co_await wait_until([&] { return in_flight_ == 0; });
  if (in_flight_ > 0)
    log::warn("{}: stopping with {} requests still running", options_.name, in_flight_);
  std::vector<std::shared_ptr<detail::tcp_session>> all;
  all.reserve(sessions_.size());
  for (auto& [id, s] : sessions_) all.push_back(s);
  for (auto& s : all) s->close("server stopping");
  for (auto& w : relays_)
    if (auto r = w.lock()) r->close();
  co_await wait_until([&] { return sessions_.empty(); });
  for (auto& s : all) s->abort(make_error_code(errc::shutting_down));
  sweep_timer_.cancel();
  log::info("{} stopped", options_.name);
}

}  // namespace ember::net
