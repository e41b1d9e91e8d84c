// ember: what a client-facing server and a backend say to each other about clients, on top of
// the link protocol (PROTOCOL.md §10): ember's reserved message ids and the envelope of a
// forwarded request. The bodies of the messages are generated from
// schemas/internal/cluster.toml (ember/cluster/detail/cluster_wire.hpp). Internal; users see
// sessions.
#pragma once

#include <cstdint>
#include <optional>

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
  module_event = 0xff06,    ///< any server -> its links: a gameplay module's event (flooded)
  /// gateway -> backends: a client session moved here from another gateway (that one
  /// drains); the backend's view of it there becomes its view here, attributes and all.
  session_moved = 0xff07,
  released = 0xff13,        ///< owner -> registry: `player`, no longer owned
};

/// Requests of the ownership protocol (ember/cluster/ownership.hpp).
enum class call_id : std::uint16_t {
  acquire = 0xff10,  ///< node -> registry: `player`; empty reply when granted
  release = 0xff11,  ///< registry -> owner: `player`; empty reply once saved and dropped
  reclaim = 0xff12,  ///< node -> registry: `players`; reply `players`, the refused ones
  /// backend -> gateway: empty; the gateway routes no new session to the sender (it drains)
  /// and replies, after every request it forwarded there before (a barrier).
  drain = 0xff14,
};

/// Prefix of a forwarded request's body (frames with `wire::flag::routed`): 17 bytes of
/// fixed-width big-endian numbers, 8 more when the request has a request id (bit 1 of byte 16
/// says so), then the client's body unchanged.
struct envelope {
  std::uint64_t session = 0;  ///< the client session on the gateway
  std::uint64_t user = 0;     ///< its bound user, 0 if none
  codec::encoding push_encoding = codec::encoding::binary;  ///< what its pushes must be in
  /// The client's idempotency id of the request (0: none); written only when set, so a
  /// gateway talks to a backend that predates it as before while its clients send none.
  std::uint64_t request_id = 0;

  static constexpr std::size_t size = 17;           ///< without a request id
  static constexpr std::size_t with_id_size = 25;   ///< with one
  static constexpr std::uint8_t has_request_id = 0x02;  ///< bit of byte 16
};

/// Writes `e` as the prefix of a forwarded request's body.
EMBER_DECL void write_envelope(buffer& out, const envelope& e);

/// Splits a forwarded body into its envelope and the client's body; nullopt if malformed.
EMBER_DECL std::optional<envelope> read_envelope(bytes_view body, bytes_view& client_body);

}  // namespace ember::cluster::route

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/cluster/impl/route_wire.hpp"
#endif
