// ember: the bodies of the native handshake frames (fixed layouts, big-endian; PROTOCOL.md).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include "ember/buffer.hpp"
#include "ember/wire/frame.hpp"

namespace ember::wire {

/// A session's resume token: 32 random bytes.
using resume_token = std::array<std::uint8_t, 32>;

/// The client's handshake: the first frame it sends on the native framing.
struct client_hello {
  std::uint16_t version = protocol_version;
  std::uint8_t encoding = 0;  ///< encoding of pushes: 0 binary, 1 JSON
  bool resume = false;        ///< the client asks to resume the session of `token`
  /// The client acknowledges what it receives (`ack`), so the server keeps its frames until
  /// then and the session can be resumed after a lost connection.
  bool resumable = false;
  /// With `resume`: the server that issued the token told the client to resume here (it
  /// drains, PROTOCOL.md §3 "Moving to another server"); this server takes the session over.
  bool moved = false;
  /// With `resume`: not a client but another server taking the session over from the one
  /// that issued the token, which answers with the session's state instead of resuming it.
  bool take_over = false;
  resume_token token{};
  std::uint32_t received = 0;  ///< resume: response, error and push frames the client has
  /// With `take_over`: proof that the asking server knows the servers' shared secret (a keyed
  /// hash of `token`, net::server_options::peer_secret), so no client can ask for it.
  resume_token proof{};

  static constexpr std::size_t base_size = 4;
  static constexpr std::size_t resume_size = base_size + 32 + 4;
  static constexpr std::size_t take_over_size = resume_size + 32;
  static constexpr std::uint8_t resume_flag = 0x01, resumable_flag = 0x02, moved_flag = 0x04,
                                take_over_flag = 0x08;

  void encode(buffer& out) const {
    std::byte* p = out.prepare(take_over_size);
    detail::put_u16(p, version);
    p[2] = std::byte(encoding);
    p[3] = std::byte((resume ? resume_flag : 0) | (resumable ? resumable_flag : 0) |
                     (resume && moved ? moved_flag : 0) |
                     (resume && take_over ? take_over_flag : 0));
    if (!resume) return out.commit(base_size);
    for (std::size_t i = 0; i < 32; ++i) p[4 + i] = std::byte(token[i]);
    detail::put_u32(p + 36, received);
    if (!take_over) return out.commit(resume_size);
    for (std::size_t i = 0; i < 32; ++i) p[40 + i] = std::byte(proof[i]);
    out.commit(take_over_size);
  }
  /// Parses a client handshake body; nullopt when it is too short for what its flags say.
  static std::optional<client_hello> decode(bytes_view b) {
    if (b.size() < base_size) return std::nullopt;
    client_hello h;
    h.version = detail::get_u16(b.data());
    h.encoding = std::uint8_t(b[2]);
    h.resume = (std::uint8_t(b[3]) & resume_flag) != 0;
    h.resumable = (std::uint8_t(b[3]) & resumable_flag) != 0;
    if (!h.resume) return h;
    h.moved = (std::uint8_t(b[3]) & moved_flag) != 0;
    h.take_over = (std::uint8_t(b[3]) & take_over_flag) != 0;
    if (b.size() < (h.take_over ? take_over_size : resume_size)) return std::nullopt;
    for (std::size_t i = 0; i < 32; ++i) h.token[i] = std::uint8_t(b[4 + i]);
    h.received = detail::get_u32(b.data() + 36);
    if (h.take_over)
      for (std::size_t i = 0; i < 32; ++i) h.proof[i] = std::uint8_t(b[40 + i]);
    return h;
  }
};

/// The server's handshake answer.
struct server_hello {
  std::uint16_t version = protocol_version;
  std::uint8_t encoding = 0;
  bool resumed = false;
  std::uint64_t session_id = 0;
  std::uint32_t idle_timeout_ms = 0;  ///< the client should send something (a ping) more often
  std::uint32_t max_frame = 0;        ///< largest body the server accepts
  std::uint32_t last_request_seq = 0; ///< resume: highest request seq the server has received
  resume_token token{};
  /// How long the server keeps the session after its connection is lost (0: not resumable).
  std::uint32_t resume_grace_ms = 0;
  /// The server takes requests with `flag::request_id` (flags bit 1): clients of an older
  /// server do not send them.
  bool request_ids = false;

  static constexpr std::size_t size = 60;

  void encode(buffer& out) const {
    std::byte* p = out.prepare(size);
    detail::put_u16(p, version);
    p[2] = std::byte(encoding);
    p[3] = std::byte((resumed ? 1 : 0) | (request_ids ? 2 : 0));
    detail::put_u32(p + 4, std::uint32_t(session_id >> 32));
    detail::put_u32(p + 8, std::uint32_t(session_id));
    detail::put_u32(p + 12, idle_timeout_ms);
    detail::put_u32(p + 16, max_frame);
    detail::put_u32(p + 20, last_request_seq);
    for (std::size_t i = 0; i < 32; ++i) p[24 + i] = std::byte(token[i]);
    detail::put_u32(p + 56, resume_grace_ms);
    out.commit(size);
  }
  static std::optional<server_hello> decode(bytes_view b) {
    if (b.size() < size) return std::nullopt;
    server_hello h;
    h.version = detail::get_u16(b.data());
    h.encoding = std::uint8_t(b[2]);
    h.resumed = (std::uint8_t(b[3]) & 1) != 0;
    h.request_ids = (std::uint8_t(b[3]) & 2) != 0;
    h.session_id = (std::uint64_t(detail::get_u32(b.data() + 4)) << 32) |
                   detail::get_u32(b.data() + 8);
    h.idle_timeout_ms = detail::get_u32(b.data() + 12);
    h.max_frame = detail::get_u32(b.data() + 16);
    h.last_request_seq = detail::get_u32(b.data() + 20);
    for (std::size_t i = 0; i < 32; ++i) h.token[i] = std::uint8_t(b[24 + i]);
    h.resume_grace_ms = detail::get_u32(b.data() + 56);
    return h;
  }
};

/// The push id of `moved` (ember's own: schema push ids stay below 0xff00).
inline constexpr std::uint16_t moved_push_id = 0xff00;

/// The body of a `moved` push: the server drains; resume the session at this address (its
/// native client port). u16 port, then the host as 1..255 bytes of text (big-endian).
struct moved_notice {
  std::string host;
  std::uint16_t port = 0;

  void encode(buffer& out) const {
    std::byte* p = out.prepare(2 + host.size());
    detail::put_u16(p, port);
    std::memcpy(p + 2, host.data(), host.size());
    out.commit(2 + host.size());
  }
  /// nullopt when there is no host, or one over 255 bytes.
  static std::optional<moved_notice> decode(bytes_view b) {
    if (b.size() < 3 || b.size() > 2 + 255) return std::nullopt;
    moved_notice m;
    m.port = detail::get_u16(b.data());
    m.host.assign(reinterpret_cast<const char*>(b.data() + 2), b.size() - 2);
    return m;
  }
};

}  // namespace ember::wire
