// ember: bodies of cluster::link (included by ember/cluster/link.hpp).
#pragma once

#include "ember/cluster/link.hpp"

#include <array>
#include <atomic>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include "ember/cluster/link_session.hpp"
#include "ember/cluster/route_wire.hpp"
#include "ember/codec/json_reader.hpp"
#include "ember/log.hpp"
#include "ember/request_deadline.hpp"
#include "ember/wire/encoder.hpp"

namespace ember::cluster {

namespace detail {
EMBER_DECL std::uint64_t next_link_id() {
  static std::atomic<std::uint64_t> next{0};
  return ++next;
}
EMBER_DECL std::string address_of(const asio::ip::tcp::socket& s) {
  std::error_code ec;
  auto ep = s.remote_endpoint(ec);
  if (ec) return "?";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}
}  // namespace detail

EMBER_DECL link::link(asio::ip::tcp::socket socket, peer_info peer, link_options options,
                      std::shared_ptr<const net::dispatch_table> commands,
                      std::unique_ptr<net::detail::tls_channel> tls)
    : connection(std::move(socket), net::framing::native, wire::firefly_config{},
                 options.max_frame),
      peer_(std::move(peer)),
      options_(options),
      commands_(std::move(commands)),
      forward_timer_(socket_.get_executor()),
      remote_(detail::address_of(socket_)),
      id_(detail::next_link_id()),
      name_hash_(cluster::name_hash(peer_.name)) {
  std::error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
  socket_.set_option(asio::socket_base::keep_alive(true), ignored);
  socket_.non_blocking(true, ignored);
  tls_ = std::move(tls);  // the handshake and the authentication went through it already
}

EMBER_DECL link::~link() {
  std::error_code ignored;
  socket_.close(ignored);
}

EMBER_DECL void link::start() {
  if (started_) return;
  started_ = true;
  session_ = std::make_shared<link_session>(weak_from_this(), id_);
  asio::co_spawn(socket_.get_executor(), read_loop(), [](std::exception_ptr e) {
    if (e) log::error("link: read loop ended with an exception");
  });
}

EMBER_DECL void link::close(std::error_code why) {
  if (!open_) return;
  open_ = false;
  std::error_code ignored;
  socket_.shutdown(asio::socket_base::shutdown_both, ignored);
  socket_.close(ignored);
  output_.pending().clear();
  // Every call in flight ends now: the peer that would answer it is gone, perhaps after
  // running it (`disconnected`: its outcome is unknown; a call not yet sent never gets here).
  calls_.fail_all(failure{make_error_code(errc::disconnected), 0,
                          "link to " + peer_.name + " closed with the call in flight"});
  forward_timer_.cancel();
  auto forwards = std::move(forwards_);
  forwards_.clear();
  for (auto& p : forwards)
    if (!p.done)
      end_forward(p.info, status::outcome_unknown, unanswered(peer_.name, false));
  auto callbacks = std::move(on_close_);
  on_close_.clear();
  for (auto& f : callbacks) f(why);
  // Nothing more is served here; the requests running keep the table they started with. A
  // read loop's frame left pending at shutdown must not keep a module loaded after its host.
  commands_ = nullptr;
}

EMBER_DECL asio::awaitable<outcome<buffer>> link::call(std::uint16_t command, net::body_writer body,
                                                       std::chrono::milliseconds timeout) {
  buffer reply;
  failure f = co_await call_erased(command, body, timeout, &net::detail::keep_raw_reply, &reply);
  if (f.code) co_return f;
  co_return std::move(reply);
}

EMBER_DECL asio::awaitable<failure> link::call_erased(std::uint16_t command, net::body_writer body,
                                                      std::chrono::milliseconds timeout,
                                                      decode_fn decode, void* out) {
  auto self = shared_from_this();
  // Every outcome is counted, when the link counts (`link_options::counters`).
  auto counted = [c = options_.counters.get()](failure f) {
    if (!c) return f;
    ++c->calls;
    if (f.remote())
      ++c->call_errors;
    else if (f.code == std::errc::timed_out)
      ++c->call_timeouts;
    else if (f.code)
      ++c->call_failures;
    return f;
  };
  if (!open_) co_return counted(unavailable_failure("link to " + peer_.name + " closed"));
  // A busy link is never closed the way a slow client is: the call is refused instead.
  if (queued_bytes() >= options_.max_queue)
    co_return counted(
        failure{make_error_code(errc::overloaded), 0, "link queue to " + peer_.name + " full"});
  const std::size_t queued_before = queued_bytes();
  const std::size_t before = output_.pending().size();
  const std::uint32_t seq = calls_.next_seq();
  if (timeout.count() <= 0) timeout = options_.default_timeout;
  // The callee learns how long this call waits, so that its own calls give up first.
  if (auto ec = append(wire::frame_kind::request, command, seq, wire::flag::deadline,
                       [&](buffer& b) { body(b, codec::encoding::binary); },
                       detail::deadline_ms(timeout)))
    co_return counted(failure{ec, 0, "request larger than the link's frame limit"});
  // One frame larger than the bound still goes when nothing else waits.
  if (queued_bytes() > options_.max_queue && queued_before > 0) {
    output_.pending().resize(before);
    co_return counted(
        failure{make_error_code(errc::overloaded), 0, "link queue to " + peer_.name + " full"});
  }
  schedule_flush();
  failure f = co_await calls_.wait(seq, timeout, decode, out);
  // Say which server failed and why (the caller's message goes to people).
  if (f.remote() && f.message.empty())
    f.message = peer_.name + " failed with status " + std::to_string(f.status);
  else if (f.code && f.message.empty())
    f.message = f.code == errc::timeout
                    ? peer_.name + " did not answer within " + std::to_string(timeout.count()) + " ms"
                    : "link to " + peer_.name + ": " + f.code.message();
  co_return counted(std::move(f));
}

EMBER_DECL std::error_code link::notify(std::uint16_t push_id, const net::body_writer& body) {
  if (!open_) return make_error_code(errc::unavailable);
  if (queued_bytes() >= options_.max_queue) return make_error_code(errc::overloaded);
  if (auto ec = append(wire::frame_kind::push, push_id, 0, 0,
                       [&](buffer& b) { body(b, codec::encoding::binary); }))
    return ec;
  if (options_.counters) ++options_.counters->notifies;
  schedule_flush();
  return {};
}

EMBER_DECL outcome<std::shared_ptr<link::reply_ticket>> link::forward(
    std::uint16_t command, codec::encoding encoding, const route::envelope& env, bytes_view body,
    std::chrono::milliseconds timeout) {
  if (!open_) return unavailable_failure("link to " + peer_.name + " closed");
  if (queued_bytes() >= options_.max_queue)
    return failure{make_error_code(errc::overloaded), 0, "link queue to " + peer_.name + " full"};
  const std::uint32_t seq = calls_.next_seq();
  if (timeout.count() <= 0) timeout = options_.default_timeout;
  const std::uint8_t flags = wire::flag::routed | wire::flag::deadline |
                             (encoding == codec::encoding::json ? wire::flag::json : 0);
  if (auto ec = append(wire::frame_kind::request, command, seq, flags, [&](buffer& b) {
        route::write_envelope(b, env);
        b.append(body);
      }, detail::deadline_ms(timeout)))
    return failure{ec, 0, "request larger than the link's frame limit"};
  schedule_flush();
  return std::make_shared<reply_ticket>(socket_.get_executor(), calls_, shared_from_this(), seq,
                                        timeout);
}

template <class WriteBody>
std::error_code link::append(wire::frame_kind kind, std::uint16_t command, std::uint32_t seq,
                             std::uint8_t flags, WriteBody&& write_body, std::uint32_t ack) {
  wire::frame_header h;
  h.kind = kind;
  h.flags = flags;
  h.command = command;
  h.seq = seq;
  h.ack = ack;
  return wire::append_frame(output_.pending(), h, write_body, options_.max_frame);
}

EMBER_DECL void link::reply_body(const net::request_info& req, const net::body_writer& body) {
  if (!open_) return;
  auto ec = append(wire::frame_kind::response, static_cast<std::uint16_t>(req.command), req.seq,
                   req.encoding == codec::encoding::json ? wire::flag::json : 0,
                   [&](buffer& b) { body(b, req.encoding); });
  if (ec) {
    log::warn("link {}: reply to command {} too large", peer_.name, req.command);
    send_error(static_cast<std::uint16_t>(req.command), req.seq,
               static_cast<std::uint16_t>(status::internal_error), "reply too large");
    return;
  }
  schedule_flush();
}

EMBER_DECL void link::reply_bytes(std::uint16_t command, std::uint32_t seq, bytes_view body) {
  if (!open_) return;
  (void)append(wire::frame_kind::response, command, seq, 0, [&](buffer& b) { b.append(body); });
  schedule_flush();
}

EMBER_DECL void link::send_error(std::uint16_t command, std::uint32_t seq, std::uint16_t code,
                                 std::string_view message) {
  if (!open_) return;
  codec::error_body e{code, std::string(message)};
  (void)append(wire::frame_kind::error, command, seq, 0,
               [&](buffer& b) { codec::encode(b, e, codec::encoding::binary); });
  schedule_flush();
}

EMBER_DECL void link::finish_request(const net::request_info& info, std::exception_ptr error) {
  if (!error) return net::count_request(info, status::ok);
  // As a client-facing session answers: memcached or the database out of reach is
  // "unavailable", a change that may have been applied "outcome unknown", never
  // "internal error".
  net::fail_request(info, error, "link", peer_.name, [&](std::uint16_t code, std::string_view message) {
    send_error(static_cast<std::uint16_t>(info.command), info.seq, code, message);
  });
}

// Calls made in the same event-loop round leave in one write.
EMBER_DECL bool link::on_frame(const wire::frame& f) {
  using wire::frame_kind;
  switch (f.kind) {
    case frame_kind::request:
      on_request(f);
      return open_;
    case frame_kind::response:
      on_reply(f, false);
      return open_;
    case frame_kind::error:
      on_reply(f, true);
      return open_;
    case frame_kind::push: {
      auto it = notifies_.find(static_cast<std::uint16_t>(f.command));
      if (it != notifies_.end())
        it->second(f.body, (f.flags & wire::flag::json) ? codec::encoding::json
                                                        : codec::encoding::binary);
      return open_;
    }
    case frame_kind::ping:
      (void)append(frame_kind::pong, 0, f.seq, 0, [](buffer&) {});
      schedule_flush();
      return true;
    case frame_kind::pong:
      return true;
    default:
      // A second handshake, or anything unknown, after authentication is a protocol fault.
      log::warn("link {}: unexpected frame kind {}", peer_.name, static_cast<int>(f.kind));
      close(make_error_code(errc::unexpected_frame));
      return false;
  }
}

EMBER_DECL void link::on_request(const wire::frame& f) {
  const auto command = static_cast<std::uint16_t>(f.command);
  if (command >= route::first_reserved_id) {
    if (auto it = internal_.find(command); it != internal_.end()) return it->second(*this, f);
    send_error(command, f.seq, static_cast<std::uint16_t>(status::unknown_command),
               "unknown command " + std::to_string(command));
    return;
  }
  if (f.flags & wire::flag::routed) {
    if (routed_) return routed_(*this, f);
    send_error(command, f.seq, static_cast<std::uint16_t>(status::unknown_command),
               "this server serves no client commands");
    return;
  }
  const net::command_entry* entry = commands_ ? commands_->find(command) : nullptr;
  if (!entry) {
    send_error(command, f.seq, static_cast<std::uint16_t>(status::unknown_command),
               "unknown command " + std::to_string(command));
    return;
  }
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if ((f.flags & wire::flag::deadline) && f.ack > 0) {
    deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(f.ack);
    session_->note_deadline(*deadline);
  }
  net::request_info info{session_, this, f.seq, command,
                    (f.flags & wire::flag::json) ? codec::encoding::json : codec::encoding::binary,
                    commands_};
  net::stamp_dispatch(info);
  std::error_code ec;
  auto work = entry->start(entry->handler, info, f.body, ec);
  if (ec) {
    net::count_request(info, status::bad_request);
    send_error(command, f.seq, static_cast<std::uint16_t>(status::bad_request), ec.message());
    return;
  }
  // Requests on a link overlap: per-player ordering is the routing layer's job, and one slow
  // handler must not hold up every other call between two servers.
  // The deadline rides on the executor, for what the handler calls (the data layer's reads).
  asio::co_spawn(deadline ? with_deadline(socket_.get_executor(), *deadline) : socket_.get_executor(),
                 std::move(work), [self = shared_from_this(), info](std::exception_ptr e) {
                   self->finish_request(info, e);
                 });
}

EMBER_DECL void link::on_reply(const wire::frame& f, bool is_error) {
  const auto enc = (f.flags & wire::flag::json) ? codec::encoding::json : codec::encoding::binary;
  if (calls_.complete(f.seq, f.body, enc, is_error)) return;
  (void)complete_forward(f, is_error);  // a reply nobody waits for any more is dropped
}

EMBER_DECL void link::forward_now(std::uint16_t command, const route::envelope& env,
                                  bytes_view body, net::request_info&& info,
                                  std::chrono::milliseconds timeout) {
  if (!open_) return end_forward(info, status::unavailable, peer_.name + " is not linked");
  if (queued_bytes() >= options_.max_queue)
    return end_forward(info, status::overloaded, "link queue to " + peer_.name + " full");
  const std::uint32_t seq = calls_.next_seq();
  const std::uint8_t flags = wire::flag::routed | wire::flag::deadline |
                             (info.encoding == codec::encoding::json ? wire::flag::json : 0);
  if (append(wire::frame_kind::request, command, seq, flags, [&](buffer& b) {
        route::write_envelope(b, env);
        b.append(body);
      }, detail::deadline_ms(timeout)))
    return end_forward(info, status::internal_error, "request larger than the link's frame limit");
  schedule_flush();
  forwards_.push_back(pending_forward{seq, std::chrono::steady_clock::now() + timeout,
                                      std::move(info), false});
  arm_forward_timer();
}

EMBER_DECL bool link::complete_forward(const wire::frame& f, bool is_error) {
  auto it = std::lower_bound(forwards_.begin(), forwards_.end(), f.seq,
                             [](const pending_forward& p, std::uint32_t s) { return p.seq < s; });
  if (it == forwards_.end() || it->seq != f.seq || it->done) return false;
  it->done = true;
  net::request_info info = std::move(it->info);
  while (!forwards_.empty() && forwards_.front().done) forwards_.pop_front();
  if (is_error) {
    codec::error_body e;
    if (codec::decode(f.body, codec::encoding::binary, e))
      e = {static_cast<std::uint16_t>(status::internal_error), "undecodable error from " + peer_.name};
    info.out->end_request(info, std::make_exception_ptr(game_error(e.status, std::move(e.message))));
    return true;
  }
  // The body is already in the client's encoding: copied as it is.
  info.out->reply_body(info, net::body_writer::encoded(f.body));
  info.out->end_request(info, nullptr);
  return true;
}

EMBER_DECL void link::end_forward(net::request_info& info, status code, std::string message) {
  info.out->end_request(info, std::make_exception_ptr(game_error(code, std::move(message))));
}

// One timer per link, at the oldest forward's deadline: forwards cost no timer of their own.
EMBER_DECL void link::arm_forward_timer() {
  if (forward_timer_armed_ || forwards_.empty()) return;
  forward_timer_armed_ = true;
  forward_timer_.expires_at(forwards_.front().deadline);
  forward_timer_.async_wait([w = weak_from_this()](std::error_code ec) {
    auto self = w.lock();
    if (!self) return;
    self->forward_timer_armed_ = false;
    if (!ec && self->open_) self->expire_forwards();
  });
}

EMBER_DECL void link::expire_forwards() {
  const auto now = std::chrono::steady_clock::now();
  while (!forwards_.empty() && (forwards_.front().done || forwards_.front().deadline <= now)) {
    auto p = std::move(forwards_.front());
    forwards_.pop_front();
    if (!p.done)
      end_forward(p.info, status::outcome_unknown, unanswered(peer_.name, true));
  }
  arm_forward_timer();
}

}  // namespace ember::cluster
