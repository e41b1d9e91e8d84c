// ember: what a client-facing server and a backend say to each other about clients, on top of
// the link protocol (PROTOCOL.md §10): the envelope of a forwarded request, and the one-way
// messages for pushes, session changes and disconnects. Internal; users see sessions.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include "ember/codec/codec.hpp"
#include "ember/separate_compilation.hpp"
#include "ember/buffer.hpp"

namespace ember::cluster::route {

/// Notify ids of the routing layer. Schema ids stay below `first_reserved_id`.
inline constexpr std::uint16_t first_reserved_id = 0xff00;
enum class notify_id : std::uint16_t {
  session_op = 0xff01,      ///< backend -> gateway: act on one client session
  push_user = 0xff02,       ///< backend -> gateways: push to the session of a user
  broadcast = 0xff03,       ///< backend -> gateways: push to a group (or everyone)
  claim_user = 0xff04,      ///< backend -> gateways: a user logged in elsewhere; close older
  session_closed = 0xff05,  ///< gateway -> backends: a client session ended
  released = 0xff13,        ///< owner -> registry: u64 user, no longer owned
};

/// Requests of the ownership protocol (ember/cluster/ownership.hpp).
enum class call_id : std::uint16_t {
  acquire = 0xff10,  ///< node -> registry: u64 user; empty reply when granted
  release = 0xff11,  ///< registry -> owner: u64 user; empty reply once saved and dropped
  reclaim = 0xff12,  ///< node -> registry: u64 n, n × u64 user; reply u64 n, the refused
};

/// What `session_op` does.
enum class op : std::uint8_t {
  push = 1,           ///< u16 push id, then the body (in the session's push encoding)
  bind_user = 2,      ///< u64 user, u64 stamp (newer logins win)
  join = 3,           ///< group
  leave = 4,          ///< group
  close = 5,          ///< reason
  set_attribute = 6,  ///< key, value
};

/// Prefix of a forwarded request's body (frames with `wire::flag::routed`).
struct envelope {
  std::uint64_t session = 0;  ///< the client session on the gateway
  std::uint64_t user = 0;     ///< its bound user, 0 if none
  codec::encoding push_encoding = codec::encoding::binary;  ///< what its pushes must be in

  static constexpr std::size_t size = 17;
};

/// Appends fixed-width big-endian numbers and length-prefixed strings.
class writer {
 public:
  explicit writer(buffer& out) noexcept : out_(out) {}
  writer& u8(std::uint8_t v) { return put(v, 1); }
  writer& u16(std::uint16_t v) { return put(v, 2); }
  writer& u64(std::uint64_t v) { return put(v, 8); }
  /// A u32 length, then the bytes.
  writer& str(std::string_view s);
  writer& bytes(bytes_view b);
  /// The rest of the message, unprefixed.
  writer& rest(bytes_view b);

 private:
  writer& put(std::uint64_t v, int n);
  buffer& out_;
};

/// Reads what `writer` wrote; any read past the end makes `ok()` false (and reads zeros).
class reader {
 public:
  explicit reader(bytes_view in) noexcept : in_(in) {}
  std::uint8_t u8() { return static_cast<std::uint8_t>(get(1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(get(2)); }
  std::uint64_t u64() { return get(8); }
  std::string_view str();
  bytes_view bytes();
  bytes_view rest() noexcept { return std::exchange(in_, bytes_view{}); }
  bool ok() const noexcept { return ok_; }

 private:
  std::uint64_t get(std::size_t n);
  bytes_view in_;
  bool ok_ = true;
};

/// Writes `e` as the prefix of a forwarded request's body.
EMBER_DECL void write_envelope(buffer& out, const envelope& e);

/// Splits a forwarded body into its envelope and the client's body; nullopt if malformed.
EMBER_DECL std::optional<envelope> read_envelope(bytes_view body, bytes_view& client_body);

}  // namespace ember::cluster::route

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/cluster/impl/route_wire.hpp"
#endif
