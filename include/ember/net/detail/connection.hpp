// ember: what a client and a link between servers share: a socket, its decoder and output
// queue, a read loop, and writes gathered per event-loop round (internal).
#pragma once

#include <array>
#include <memory>
#include <system_error>

#include <asio/awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include "ember/error.hpp"
#include "ember/log.hpp"
#include "ember/net/detail/frame_stream.hpp"
#include "ember/net/detail/output_queue.hpp"
#include "ember/net/detail/tls_channel.hpp"

namespace ember::net::detail {

/// CRTP base. `Derived` is held by a `std::shared_ptr` (enable_shared_from_this) and provides
/// `bool on_frame(const wire::frame&)` (false stops reading), `void close(std::error_code)`,
/// `bool is_open() const` and `std::string label() const` (who this is, for logs).
template <class Derived>
class connection {
 protected:
  connection(asio::ip::tcp::socket socket, framing f, const wire::firefly_config& firefly,
             std::size_t max_frame)
      : socket_(std::move(socket)), stream_(f, firefly, max_frame) {}

  /// Reads and decodes until the connection closes; a socket or framing error closes it.
  asio::awaitable<void> read_loop() {
    auto self = derived().shared_from_this();
    constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
    // One read buffer per thread: an idle connection holds none.
    thread_local std::array<std::byte, 64 * 1024> read_buffer;
    const unsigned socket_number = socket_number_;
    while (derived().is_open()) {
      // TLS may hold bytes received already: then the socket need not become readable.
      if (!tls_ || !tls_->buffered()) {
        auto [ec] = co_await socket_.async_wait(asio::socket_base::wait_read, use_tuple);
        // Closed, or the socket was replaced (a client that reconnected) while this waited.
        if (!derived().is_open() || socket_number != socket_number_) co_return;
        if (ec) co_return derived().close(ec);
      } else {
        co_await asio::post(socket_.get_executor(), asio::use_awaitable);  // others' turn first
        if (!derived().is_open() || socket_number != socket_number_) co_return;
      }
      auto r = stream_.read_available(
          socket_, tls_.get(), read_buffer,
          [this](const wire::frame& f) { return derived().on_frame(f); },
          [this] { return derived().is_open(); });
      if (r.bad_frame) log::warn("{}: bad frame: {}", derived().label(), r.error.message());
      if (r.tls_failed)
        log::warn("{}: TLS {} failed: {}", derived().label(),
                  tls_->established() ? "connection" : "handshake", tls_->failure());
      // TLS answered (handshake messages), or finished its handshake with frames waiting.
      if (tls_ && !r.error && (tls_->has_output() || output_.queued() > 0)) schedule_flush();
      if (r.error == asio::error::eof) co_return derived().close(make_error_code(errc::disconnected));
      if (r.error) co_return derived().close(r.error);
    }
  }

  /// Flushes once the current event-loop round is done, so frames queued together leave in
  /// one write.
  void schedule_flush() {
    if (flush_scheduled_ || output_.writing()) return;
    flush_scheduled_ = true;
    asio::post(socket_.get_executor(), [self = derived().shared_from_this()] { self->flush(); });
  }

  void flush() {
    flush_scheduled_ = false;
    if (!derived().is_open()) return;
    std::error_code ec;
    auto result = output_.flush(socket_, tls_.get(), ec, [self = derived().shared_from_this(),
                                              n = socket_number_](std::error_code wec) {
      if (n != self->socket_number_) return self->flush();  // a replaced socket's write ended
      if (wec) return self->close(wec);
      self->flush();
    });
    if (result == flush_result::failed) derived().close(ec);
  }

  asio::ip::tcp::socket socket_;
  std::unique_ptr<tls_channel> tls_;  ///< set when the connection speaks TLS
  frame_stream stream_;
  output_queue output_;
  bool flush_scheduled_ = false;
  unsigned socket_number_ = 0;  ///< bumped when `socket_` is replaced by a new connection

 private:
  Derived& derived() noexcept { return static_cast<Derived&>(*this); }
};

}  // namespace ember::net::detail
