// ember: bodies of the resume relay: reaching the session's home, then native frames both ways,
// the client's TLS and WebSocket layers ending here, and how either side's end ends the other.
#pragma once

#include "ember/net/detail/relay.hpp"

#include <array>
#include <tuple>

#include <asio/error.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/address.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "ember/error.hpp"
#include "ember/log.hpp"
#include "ember/net/detail/error_frame.hpp"
#include "ember/net/detail/impl/tls_channel.hpp"
#include "ember/spawn.hpp"
#include "ember/wire/encoder.hpp"
#include "ember/wire/websocket.hpp"

namespace ember::net::detail {

namespace relay_detail {
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
// The home's frames wait in its socket, not here, while this much is queued for the client.
constexpr std::size_t high_water = 64 * 1024;
inline bool would_block(const std::error_code& ec) noexcept {
  return ec == asio::error::would_block || ec == asio::error::try_again;
}
// A coroutine of the relay started on its own keeps the relay alive from its start, not only
// from its first line: it may begin after the others have ended.
template <class T>
asio::awaitable<void> holding(std::shared_ptr<T> self, asio::awaitable<void> task) {
  (void)self;
  co_await std::move(task);
}
}  // namespace relay_detail

EMBER_DECL relay::relay(asio::ip::tcp::socket client, std::unique_ptr<tls_channel> tls,
                        std::unique_ptr<ws_transport> ws, bytes_view unsent, limits l,
                        std::string label)
    : client_(std::move(client)),
      home_(client_.get_executor()),
      client_tls_(std::move(tls)),
      ws_(std::move(ws)),
      client_frames_(wire::decoder_limits{l.max_frame}),
      drained_(client_.get_executor()),
      limits_(l),
      label_(std::move(label)),
      created_(clock::now()) {
  std::error_code ec;
  client_.non_blocking(true, ec);
  // What TLS had still to send, then what the session had queued, go first.
  if (client_tls_) (void)client_tls_->seal({}, to_client_, ec);
  if (!unsent.empty()) {
    if (client_tls_)
      (void)client_tls_->seal(unsent, to_client_, ec);
    else
      to_client_.append(unsent);
  }
}

EMBER_DECL void relay::start(std::string host, std::uint16_t port,
                             std::shared_ptr<const tls_context> home_tls, buffer first) {
  spawn(client_.get_executor(),
        relay_detail::holding(shared_from_this(),
                              run(std::move(host), port, std::move(home_tls), std::move(first))),
        "resume relay");
}

EMBER_DECL void relay::close() {
  if (closed_) return;
  closed_ = true;
  std::error_code ec;
  client_.close(ec);
  home_.close(ec);
  drained_.cancel();
}

EMBER_DECL void relay::sweep(clock::time_point now) {
  if (closed_) return;
  if (!reached_ && now - created_ > limits_.handshake_timeout) {
    // The connection attempt fails with it, and the client hears its session is gone.
    log::info("{}: the session's server was not reached within {} ms", label_,
              limits_.handshake_timeout.count());
    std::error_code ec;
    home_.close(ec);
  } else if (partial_since_ != clock::time_point{} && now - partial_since_ > limits_.frame_timeout) {
    // As on a session of this listener: the connection goes, the session waits for a resume.
    log::info("{}: a WebSocket message left half-received for {} ms", label_,
              limits_.frame_timeout.count());
    close();
  }
}

EMBER_DECL asio::awaitable<void> relay::run(std::string host, std::uint16_t port,
                                            std::shared_ptr<const tls_context> home_tls,
                                            buffer first) {
  auto self = shared_from_this();
  kick_writer();
  std::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (!ec) std::tie(ec) = co_await home_.async_connect({address, port}, relay_detail::use_tuple);
  if (!ec && home_tls) {
    home_tls_ = std::make_unique<tls_channel>(std::move(home_tls), false, host);
    ec = co_await tls_handshake(home_, *home_tls_);
  }
  if (!ec) ec = co_await write_home(first.view());
  if (closed_) co_return;
  if (ec) {
    // Its home is gone, and the session with it: the client logs in again.
    log::info("{}: relay to {}:{} failed: {}{}{}; the session is lost", label_, host, port,
              ec.message(), home_tls_ && is_tls_error(ec) ? ": " : "",
              home_tls_ && is_tls_error(ec) ? home_tls_->failure() : std::string());
    co_await refuse_client("the server that held the session is gone");
    co_return;
  }
  reached_ = true;
  std::error_code ignored;
  home_.set_option(asio::ip::tcp::no_delay(true), ignored);
  client_.set_option(asio::ip::tcp::no_delay(true), ignored);
  spawn(client_.get_executor(), relay_detail::holding(self, client_to_home()),
        "resume relay (client to home)");
  co_await home_to_client();
}

EMBER_DECL asio::awaitable<std::size_t> relay::read_client(std::span<std::byte> buf,
                                                           std::error_code& ec) {
  for (;;) {
    if (!client_tls_ || !client_tls_->buffered()) {
      auto [wec] = co_await client_.async_wait(asio::socket_base::wait_read, relay_detail::use_tuple);
      if (wec) {
        ec = wec;
        co_return 0;
      }
    }
    if (closed_) {
      ec = asio::error::operation_aborted;
      co_return 0;
    }
    ec = {};
    const std::size_t n = client_tls_ ? client_tls_->read_some(client_, buf, ec)
                                      : client_.read_some(asio::buffer(buf.data(), buf.size()), ec);
    if (relay_detail::would_block(ec)) continue;
    if (n == 0 && !ec) ec = asio::error::eof;
    co_return n;
  }
}

EMBER_DECL asio::awaitable<void> relay::client_to_home() {
  std::array<std::byte, 16 * 1024> buf;
  std::error_code lost;   // this connection ends; the home parks the session
  std::error_code fault;  // the client broke the protocol: the session ends, as on this listener
  for (;;) {
    std::error_code ec;
    const std::size_t n = co_await read_client(buf, ec);
    if (closed_) co_return;
    if (ec) {
      if (client_tls_ && is_tls_error(ec)) {
        log::info("{}: TLS connection failed: {}", label_, client_tls_->failure());
        fault = ec;
      } else {
        lost = ec;
      }
      break;
    }
    if (client_tls_ && client_tls_->has_output()) send_client({});
    if (ws_) {
      const auto fe = ws_->decoder.feed(std::span<std::byte>(buf.data(), n),
                                        [this](const wire::websocket::event& e) {
                                          return on_client_event(e);
                                        });
      if (fe || ws_->error) fault = fe ? fe : ws_->error;
      if (ws_->decoder.has_partial()) {
        if (partial_since_ == clock::time_point{}) partial_since_ = clock::now();
      } else {
        partial_since_ = {};
        ws_->decoder.shrink();
      }
    } else {
      up_.append(buf.data(), n);
    }
    if (!up_.empty()) {
      const auto wec = co_await write_home(up_.view());
      up_.clear();
      if (closed_) co_return;
      if (wec) {
        lost = wec;
        break;
      }
    }
    if (fault || bye_) break;
  }
  if (lost) {
    if (lost != asio::error::eof)
      log::info("{}: the client's connection was lost: {}", label_, lost.message());
    close();
    co_return;
  }
  // The client ends the session, as it would here: the home hears `bye`, the client a close.
  if (fault) log::info("{}: closed: {}", label_, fault.message());
  buffer bye;
  (void)wire::append_frame(bye, {.kind = wire::frame_kind::bye}, [](buffer&) {});
  (void)co_await write_home(bye.view());
  if (fault && client_tls_ && is_tls_error(fault)) co_return close();
  if (fault)
    co_await finish(static_cast<std::uint16_t>(wire::websocket::close_code_of(fault)),
                    fault.message());
  else
    co_await finish(client_close_, {});
}

EMBER_DECL bool relay::on_client_event(const wire::websocket::event& e) {
  namespace ws = wire::websocket;
  switch (e.op) {
    case ws::opcode::binary: {
      // Whole native frames within the listener's bound, as a session of it requires.
      auto ec = client_frames_.feed(e.payload, [](const wire::frame&) { return true; });
      if (!ec && client_frames_.has_partial()) ec = ws::error::message_not_whole;
      if (ec) {
        ws_->error = ec;
        return false;
      }
      up_.append(e.payload);
      return true;
    }
    case ws::opcode::ping: {
      buffer pong;
      ws::append_frame(pong, ws::opcode::pong, e.payload);
      send_client(pong.view());
      return !closed_;
    }
    case ws::opcode::pong:
      return true;
    case ws::opcode::close:
      log::info("{}: the client closed the WebSocket (code {})", label_, e.code);
      client_close_ = e.code;
      bye_ = true;
      return false;
    default:
      return false;
  }
}

EMBER_DECL asio::awaitable<void> relay::home_to_client() {
  std::array<std::byte, 16 * 1024> buf;
  std::error_code ec;
  for (;;) {
    co_await client_drained(relay_detail::high_water);
    if (closed_) co_return;
    std::size_t n = 0;
    if (home_tls_) {
      for (;;) {
        if (!home_tls_->buffered()) {
          std::tie(ec) = co_await home_.async_wait(asio::socket_base::wait_read,
                                                   relay_detail::use_tuple);
          if (ec || closed_) break;
        }
        n = home_tls_->read_some(home_, buf, ec);
        if (!relay_detail::would_block(ec)) break;
      }
    } else {
      std::tie(ec, n) = co_await home_.async_read_some(asio::buffer(buf), relay_detail::use_tuple);
    }
    if (closed_) co_return;
    if (ec) break;
    if (!ws_) {
      send_client(bytes_view(buf.data(), n));
      continue;
    }
    // A message holds whole frames: cut after the last whole one.
    down_.append(buf.data(), n);
    std::size_t cut = 0;
    while (down_.size() - cut >= wire::native_header_size) {
      const auto h = wire::read_header(down_.data() + cut);
      if (down_.size() - cut - wire::native_header_size < h.length) break;
      if (h.kind == wire::frame_kind::error && h.seq == 0) session_ended_ = true;
      cut += wire::native_header_size + h.length;
    }
    if (cut > 0) {
      send_client_frames(bytes_view(down_.data(), cut));
      down_.consume(cut);
    }
    if (down_.size() > limits_.max_write_queue + wire::native_header_size) {
      log::warn("{}: the session's server sent a frame larger than the write queue", label_);
      co_return close();
    }
  }
  if (ec != asio::error::eof && !finishing_)
    log::info("{}: the connection to the session's server was lost: {}", label_, ec.message());
  // The home let this connection go: the session ended there (it said why in an error frame),
  // or it waits there for the client to resume again (a timeout).
  co_await finish(ws_ && session_ended_ ? static_cast<std::uint16_t>(wire::websocket::close_code::normal) : 0,
                  {});
}

EMBER_DECL void relay::send_client(bytes_view plain) {
  if (closed_ || finishing_) return;
  if (client_tls_) {
    std::error_code ec;
    (void)client_tls_->seal(plain, to_client_, ec);
  } else {
    to_client_.append(plain);
  }
  if (to_client_.size() > limits_.max_write_queue) {
    // A client that does not read loses its connection, as on a session of this listener.
    log::info("{}: closed: {}", label_, make_error_code(errc::write_queue_full).message());
    return close();
  }
  kick_writer();
}

EMBER_DECL void relay::send_client_frames(bytes_view frames) {
  if (!ws_) return send_client(frames);
  buffer message;
  wire::websocket::append_frame(message, wire::websocket::opcode::binary, frames);
  send_client(message.view());
}

EMBER_DECL void relay::kick_writer() {
  if (client_writing_ || to_client_.empty() || closed_) return;
  client_writing_ = true;
  spawn(client_.get_executor(), relay_detail::holding(shared_from_this(), write_client()),
        "resume relay (writes to the client)");
}

EMBER_DECL asio::awaitable<void> relay::write_client() {
  while (!closed_ && !to_client_.empty()) {
    writing_.clear();
    writing_.swap(to_client_);
    auto [ec, n] = co_await asio::async_write(client_, asio::buffer(writing_.data(), writing_.size()),
                                              relay_detail::use_tuple);
    drained_.cancel();
    if (ec) {
      if (!closed_) log::info("{}: writing to the client failed: {}", label_, ec.message());
      close();
    }
  }
  writing_.clear();
  client_writing_ = false;
  drained_.cancel();
}

EMBER_DECL asio::awaitable<void> relay::client_drained(std::size_t at_most) {
  while (!closed_ && to_client_.size() + writing_.size() > at_most) {
    kick_writer();
    drained_.expires_at(clock::time_point::max());
    (void)co_await drained_.async_wait(relay_detail::use_tuple);
  }
}

EMBER_DECL asio::awaitable<std::error_code> relay::write_home(bytes_view bytes) {
  co_return co_await write_all(home_, home_tls_.get(), bytes);
}

EMBER_DECL asio::awaitable<void> relay::refuse_client(std::string_view why) {
  buffer frame;
  (void)wire::append_frame(frame, {.kind = wire::frame_kind::error}, [&](buffer& out) {
    append_error_body(out, static_cast<std::uint16_t>(status::session_expired), why,
                      codec::encoding::binary);
  });
  send_client_frames(frame.view());
  co_await finish(static_cast<std::uint16_t>(wire::websocket::close_code::normal), {});
}

EMBER_DECL asio::awaitable<void> relay::finish(std::uint16_t close_code, std::string_view reason) {
  if (closed_ || finishing_) co_return;
  namespace ws = wire::websocket;
  if (ws_ && close_code != 0 && ws_->state == ws_transport::phase::open) {
    buffer close;
    if (close_code == static_cast<std::uint16_t>(ws::close_code::no_status))
      ws::append_frame(close, ws::opcode::close, {});
    else
      ws::append_close(close, ws::close_code(close_code), reason);
    send_client(close.view());
    ws_->state = ws_transport::phase::closing;
  }
  finishing_ = true;
  // close_notify: the client can tell this end from a cut connection (best effort).
  if (client_tls_ && !closed_) {
    client_tls_->shutdown(to_client_);
    kick_writer();
  }
  co_await client_drained(0);
  close();
}

}  // namespace ember::net::detail
