// ember: the body of an error frame, and a whole native error frame about a session (sequence
// 0) written straight to a socket that is about to close.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <asio/ip/tcp.hpp>

#include "ember/buffer.hpp"
#include "ember/codec/codec.hpp"
#include "ember/error.hpp"
#include "ember/wire/encoder.hpp"

namespace ember::net::detail {

/// Appends the body of an error frame (status and message) in encoding `enc`.
inline void append_error_body(buffer& out, std::uint16_t code, std::string_view message,
                              codec::encoding enc) {
  codec::encode(out, codec::error_body{code, std::string(message)}, enc);
}

/// Writes, without waiting, a native error frame with sequence 0 (about the session, not a
/// request) to a socket that the caller then closes: a refused connection, a lost relay.
inline void write_error_frame(asio::ip::tcp::socket& socket, status why, std::string_view message) {
  buffer b;
  (void)wire::append_frame(b, {.kind = wire::frame_kind::error}, [&](buffer& out) {
    append_error_body(out, static_cast<std::uint16_t>(why), message, codec::encoding::binary);
  });
  std::error_code ignored;
  socket.non_blocking(true, ignored);
  socket.write_some(asio::buffer(b.data(), b.size()), ignored);
}

}  // namespace ember::net::detail
