// ember: what a session on the WebSocket listener keeps of its transport: where the upgrade
// stands, the frame decoder, and how much of its output is already framed (internal).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>

#include "ember/wire/websocket.hpp"

namespace ember::net::detail {

/// The WebSocket layer under a session's native frames. It belongs to the connection: a
/// session resumed from a WebSocket connection takes it over.
struct ws_transport {
  enum class phase : std::uint8_t {
    upgrade,  ///< reading the HTTP upgrade request
    open,     ///< frames flow
    closing,  ///< our close frame is queued: nothing more goes out
  };

  explicit ws_transport(std::size_t max_message) noexcept
      : decoder(wire::websocket::decoder_options{max_message}) {}

  phase state = phase::upgrade;
  std::string request;  ///< the upgrade request's bytes so far
  wire::websocket::decoder decoder;
  /// Bytes at the front of the session's pending output that are WebSocket frames already; the
  /// native frames after them become one binary message when the output is flushed.
  std::size_t sealed = 0;
  /// Bytes of memory held for input not yet whole (the upgrade request, a message).
  std::size_t capacity() const noexcept { return request.capacity() + decoder.capacity(); }

  /// A fault of the native frames inside a message (the session closes for it).
  std::error_code error;
};

}  // namespace ember::net::detail
