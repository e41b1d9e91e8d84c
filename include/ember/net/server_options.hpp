// ember: what a client listener is configured with: framing, limits and timeouts.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ember/codec/codec.hpp"
#include "ember/net/overload.hpp"
#include "ember/net/tls_options.hpp"
#include "ember/wire/frame.hpp"

namespace ember::net {

/// How a listener frames its bytes.
enum class framing : std::uint8_t {
  native,   ///< ember's 16-byte header: many requests in flight, pushes with sequence numbers
  firefly,  ///< Firefly's 17-byte datapack: replies in request order, no handshake
};

/// A server's client listeners: its client port, and its WebSocket port when it has one.
enum class listener : std::uint8_t { client_port = 0, websocket = 1 };
inline constexpr std::size_t listener_count = 2;

/// Another client-facing server of the cluster, where a client may have left a session.
struct resume_peer {
  std::string name;  ///< its server name (resume tokens say which server issued them)
  std::string host;  ///< its native client listener's address and port
  std::uint16_t port = 0;
  /// Set when that port speaks TLS: the relay connects through TLS and checks the peer's
  /// certificate with these (its CA, and the name it must carry: `host` when empty).
  std::optional<tls_client_options> tls{};
  /// Its WebSocket listener's port, 0 for none: where a WebSocket client of a server that
  /// drains is told to move (a client keeps its connection's kind; a TCP one gets `port`).
  std::uint16_t websocket_port = 0;
};

/// A client listener's configuration. Every buffer and queue has a bound; passing one closes
/// that session only.
struct server_options {
  std::string name = "server";     ///< for logs
  std::string host = "127.0.0.1";  ///< address to listen on
  std::uint16_t port = 0;          ///< 0 picks a free port (server::port() tells which)
  /// Binds the client port with SO_REUSEPORT, so several processes listen on it together and
  /// the kernel spreads new connections over them (config.json's `netport.shared`).
  bool reuse_port = false;
  net::framing framing = net::framing::native;
  wire::firefly_config firefly{};  ///< header values a Firefly client must send
  codec::encoding firefly_encoding = codec::encoding::json;  ///< body encoding on Firefly

  std::size_t max_frame = 64 * 1024;        ///< largest request body accepted
  std::size_t max_write_queue = 1 << 20;    ///< bytes queued to a client that does not read
  std::uint32_t max_in_flight = 1024;       ///< requests of one session not yet answered
  std::size_t max_sessions = 100'000;
  std::size_t max_sessions_per_address = 10'000;
  double max_request_rate = 2'000;  ///< per session per second (token bucket); 0 = unlimited
  double request_burst = 4'000;     ///< requests a session may send at once
  /// The budget of all sessions' buffered bytes together, and its watermarks.
  overload_options overload{};

  std::chrono::milliseconds idle_timeout{60'000};  ///< nothing received for this long: close
  std::chrono::milliseconds frame_timeout{10'000}; ///< a frame half-received for this long: close
  std::chrono::milliseconds handshake_timeout{10'000};  ///< native: no handshake by then: close

  /// Native sessions whose client acknowledges what it receives (ember's client does) outlive
  /// a lost connection by this long: the client can resume them, with every reply and push it
  /// missed. 0: sessions end with their connection.
  std::chrono::milliseconds resume_grace{30'000};
  /// Bytes of frames a resumable session keeps until its client acknowledges them (or, while
  /// it is away, until it resumes); passing it ends the session.
  std::size_t resume_outbox = 1 << 20;
  /// The cluster's other client-facing servers (native): a client that resumes here with a
  /// token of one of them, on any listener of this server (TCP, WebSocket, TLS), is relayed
  /// to it and finds its session there (PROTOCOL.md, section 3). Their TLS files are read
  /// when the server is built; a missing or invalid one throws, naming it.
  std::vector<resume_peer> resume_peers{};
  /// A secret the cluster's client-facing servers share (config.json's `secret`): a server
  /// that takes a session over from one that drains proves it knows it, so that no client can
  /// ask for a session's state. Empty: this server cannot drain, nor hand sessions over.
  std::string peer_secret{};

  /// A second port, where the same sessions come over WebSocket (RFC 6455): each binary
  /// message carries whole frames of this listener's framing (PROTOCOL.md, "WebSocket").
  /// Unset: no WebSocket listener; 0 picks a free port (server::websocket_port() tells which).
  std::optional<std::uint16_t> websocket_port{};
  /// Origins a browser may open a WebSocket session from (`https://game.example.com`, or `*`
  /// for any). A client that sends no `Origin` (not a browser) is always accepted; a browser
  /// page of a site not listed is refused (403), so another site cannot drive a player's session.
  std::vector<std::string> websocket_origins{};
  /// Bytes the HTTP upgrade request may take; more is refused (431).
  std::size_t websocket_max_request = 8 * 1024;

  /// Set: TLS on the listeners chosen below (PROTOCOL.md, "TLS"). Its files are read when the
  /// server is built; a missing or invalid one throws, naming it. A connection whose TLS
  /// handshake fails, or does not finish within `handshake_timeout`, is closed with a logged
  /// reason.
  std::optional<tls_server_options> tls{};
  bool tls_tcp = true;        ///< with `tls`: the client listener (`port`) speaks TLS
  bool tls_websocket = true;  ///< with `tls`: the WebSocket listener speaks TLS (`wss://`)
};

}  // namespace ember::net
