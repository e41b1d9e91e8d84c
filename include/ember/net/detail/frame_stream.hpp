// ember: the receiving half of a connection: the framing's decoder and a read that drains what
// the socket has into a shared buffer (internal; used by server sessions and the client).
#pragma once

#include <cstddef>
#include <span>
#include <system_error>
#include <variant>

#include <asio/error.hpp>
#include <asio/ip/tcp.hpp>

#include "ember/net/detail/tls_channel.hpp"
#include "ember/net/server_options.hpp"
#include "ember/wire/decoder.hpp"

namespace ember::net::detail {

/// What one drain of the socket came to.
struct read_result {
  std::error_code error;      ///< socket error, `asio::error::eof`, or a framing error
  bool bad_frame = false;     ///< `error` came from the decoder, not the socket
  bool tls_failed = false;    ///< `error` came from TLS (a failed handshake, a bad record)
  std::size_t bytes = 0;      ///< bytes read
};

/// A decoder of either framing, fed straight from a non-blocking socket.
class frame_stream {
 public:
  frame_stream(framing f, const wire::firefly_config& firefly, std::size_t max_body)
      : decoder_(f == framing::native
                     ? decoder(std::in_place_index<0>, wire::decoder_limits{max_body})
                     : decoder(std::in_place_index<1>, firefly, wire::decoder_limits{max_body})) {}

  /// Reads what the socket has (a few rounds at most, to stay fair to other connections) into
  /// `buf` and decodes it, calling `on_frame(const wire::frame&) -> bool` per frame. Stops
  /// early when `keep_going()` turns false. `buf` is only borrowed: an idle connection keeps
  /// no read buffer, only the bytes of a partial frame.
  template <class OnFrame, class KeepGoing>
  read_result read_available(asio::ip::tcp::socket& socket, std::span<std::byte> buf,
                             OnFrame&& on_frame, KeepGoing&& keep_going) {
    return read_available(socket, nullptr, buf, on_frame, keep_going);
  }
  /// The same through `tls` when it is not null (`buf` then receives plaintext).
  template <class OnFrame, class KeepGoing>
  read_result read_available(asio::ip::tcp::socket& socket, tls_channel* tls,
                             std::span<std::byte> buf, OnFrame&& on_frame,
                             KeepGoing&& keep_going) {
    read_result r;
    for (int round = 0; round < 8 && keep_going(); ++round) {
      std::error_code ec;
      std::size_t n = read_some(socket, tls, buf, ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) break;
      if (ec) {
        r.error = ec;
        r.tls_failed = tls && is_tls_error(ec);
        break;
      }
      r.bytes += n;
      r.error = std::visit([&](auto& d) { return d.feed(bytes_view(buf.data(), n), on_frame); },
                           decoder_);
      if (r.error) {
        r.bad_frame = true;
        break;
      }
      if (n < buf.size()) break;
    }
    if (!has_partial()) std::visit([](auto& d) { d.shrink(); }, decoder_);
    return r;
  }

  /// One non-blocking read of the socket, through `tls` when it is not null.
  static std::size_t read_some(asio::ip::tcp::socket& socket, tls_channel* tls,
                               std::span<std::byte> buf, std::error_code& ec) {
    if (tls) return tls->read_some(socket, buf, ec);
    return socket.read_some(asio::buffer(buf.data(), buf.size()), ec);
  }

  /// Decodes bytes that came some other way (a WebSocket message), calling `on_frame` per
  /// frame; returns the framing error, if any.
  template <class OnFrame>
  std::error_code feed(bytes_view bytes, OnFrame&& on_frame) {
    return std::visit([&](auto& d) { return d.feed(bytes, on_frame); }, decoder_);
  }

  /// Bytes of memory held for an incomplete frame.
  std::size_t capacity() const noexcept {
    return std::visit([](const auto& d) { return d.capacity(); }, decoder_);
  }

  /// Bytes of an incomplete frame are kept.
  bool has_partial() const noexcept {
    return std::visit([](const auto& d) { return d.has_partial(); }, decoder_);
  }

 private:
  using decoder = std::variant<wire::native_decoder, wire::firefly_decoder>;
  decoder decoder_;
};

}  // namespace ember::net::detail
