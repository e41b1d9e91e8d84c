// ember: the native frame header and Firefly's 17-byte datapack header (PROTOCOL.md has the
// byte-by-byte layout).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "ember/buffer.hpp"

namespace ember::wire {

/// What a native frame carries.
enum class frame_kind : std::uint8_t {
  request = 1,    ///< client to server (or caller to callee on a link)
  response = 2,   ///< the reply to the request with the same seq
  push = 3,       ///< server to client, unsolicited; seq is the session's push sequence
  error = 4,      ///< a failed request: body is an error message, seq is the request's
  ping = 5,       ///< liveness probe; answered by a pong with the same seq
  pong = 6,
  handshake = 7,  ///< first frame of each side on the native framing
  ack = 8,        ///< client to server: only its `ack` field matters (no reply)
  bye = 9,        ///< client to server: the client ends its session (no resume)
};

/// True for the kinds this protocol version defines.
constexpr bool known_kind(std::uint8_t k) noexcept { return k >= 1 && k <= 9; }

/// Bits of `frame_header::flags`.
namespace flag {
inline constexpr std::uint8_t json = 0x01;  ///< the body is JSON rather than binary
/// Links only: a client request forwarded by a client-facing server; the body starts with a
/// route envelope (see ember/cluster/route_wire.hpp).
inline constexpr std::uint8_t routed = 0x02;
/// Client requests, when the server's hello announced `request_ids`: the body starts with the
/// request's idempotency id (u64, big-endian), which the client sends again when it retries the
/// request, so that the server answers the retry with the first run's reply.
inline constexpr std::uint8_t request_id = 0x04;
/// Link requests: the header's `ack` field carries the caller's remaining deadline in
/// milliseconds, so the callee's own calls can give up before the caller does.
inline constexpr std::uint8_t deadline = 0x08;
}

/// Bytes of the request id that `flag::request_id` puts in front of a request's body.
inline constexpr std::size_t request_id_size = 8;

/// The native header: 16 bytes, big-endian, before every body.
struct frame_header {
  std::uint32_t length = 0;   ///< body bytes after the header
  frame_kind kind = frame_kind::request;
  std::uint8_t flags = 0;
  std::uint16_t command = 0;  ///< command id, push id, or 0 for control frames
  std::uint32_t seq = 0;      ///< correlates a reply with its request; push sequence on pushes
  std::uint32_t ack = 0;      ///< client to server: response, error and push frames received
};

inline constexpr std::size_t native_header_size = 16;

/// The native protocol version announced in handshakes.
inline constexpr std::uint16_t protocol_version = 1;

/// A decoded frame; `body` points into the decoder's input or its buffer and is valid only
/// during the callback that receives it. Firefly frames arrive as requests with seq 0.
struct frame {
  frame_kind kind = frame_kind::request;
  std::uint8_t flags = 0;
  std::uint32_t command = 0;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  bytes_view body;
};

namespace detail {
inline void put_u16(std::byte* p, std::uint16_t v) noexcept {
  p[0] = std::byte(v >> 8);
  p[1] = std::byte(v);
}
inline void put_u32(std::byte* p, std::uint32_t v) noexcept {
  p[0] = std::byte(v >> 24);
  p[1] = std::byte(v >> 16);
  p[2] = std::byte(v >> 8);
  p[3] = std::byte(v);
}
inline void put_u64(std::byte* p, std::uint64_t v) noexcept {
  put_u32(p, std::uint32_t(v >> 32));
  put_u32(p + 4, std::uint32_t(v));
}
inline std::uint16_t get_u16(const std::byte* p) noexcept {
  return std::uint16_t((std::uint16_t(p[0]) << 8) | std::uint16_t(p[1]));
}
inline std::uint32_t get_u32(const std::byte* p) noexcept {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) |
         (std::uint32_t(p[2]) << 8) | std::uint32_t(p[3]);
}
inline std::uint64_t get_u64(const std::byte* p) noexcept {
  return (std::uint64_t(get_u32(p)) << 32) | get_u32(p + 4);
}
}  // namespace detail

/// Writes a native header into `out` (16 bytes).
inline void write_header(std::byte* out, const frame_header& h) noexcept {
  detail::put_u32(out, h.length);
  out[4] = std::byte(h.kind);
  out[5] = std::byte(h.flags);
  detail::put_u16(out + 6, h.command);
  detail::put_u32(out + 8, h.seq);
  detail::put_u32(out + 12, h.ack);
}

/// Reads a native header from 16 bytes; the kind is not checked here.
inline frame_header read_header(const std::byte* in) noexcept {
  frame_header h;
  h.length = detail::get_u32(in);
  h.kind = frame_kind(in[4]);
  h.flags = std::uint8_t(in[5]);
  h.command = detail::get_u16(in + 6);
  h.seq = detail::get_u32(in + 8);
  h.ack = detail::get_u32(in + 12);
  return h;
}

/// The six configurable values of a Firefly datapack header (all zero by default, as in
/// Firefly).
struct firefly_config {
  std::array<std::uint8_t, 4> magic{};
  std::uint8_t version = 0;
  std::uint32_t server_version = 0;
};

inline constexpr std::size_t firefly_header_size = 17;

/// Writes a Firefly header for a body of `body_length` bytes into `out` (17 bytes).
inline void write_firefly_header(std::byte* out, const firefly_config& c, std::uint32_t command,
                                 std::uint32_t body_length) noexcept {
  for (int i = 0; i < 4; ++i) out[i] = std::byte(c.magic[i]);
  out[4] = std::byte(c.version);
  detail::put_u32(out + 5, c.server_version);
  detail::put_u32(out + 9, body_length + 4);
  detail::put_u32(out + 13, command);
}

}  // namespace ember::wire
