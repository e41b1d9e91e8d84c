// ember: what TLS is configured with, on a listener and on a client (PROTOCOL.md, "TLS").
// Plain settings only: OpenSSL stays in the bodies (ember/net/detail/impl/tls_channel.hpp).
#pragma once

#include <string>

namespace ember::net {

/// TLS of a listener: TLS 1.2 at least (1.3 preferred), no compression, no renegotiation.
struct tls_server_options {
  std::string cert_file;  ///< PEM certificate chain, the server's own certificate first
  std::string key_file;   ///< PEM private key of that certificate
  /// Set: every peer must present a certificate signed by these CAs (PEM), as servers of a
  /// cluster do on their links. Empty: peers are not asked for one (game clients).
  std::string ca_file{};
};

/// TLS of a client: the server's certificate must chain to `ca_file` and name the host.
struct tls_client_options {
  /// PEM CA certificate(s) the server's certificate must chain to; empty: the system's CAs.
  std::string ca_file{};
  /// The name the server's certificate must carry (also sent as SNI); empty: the host
  /// connected to. An IP address is checked against the certificate's IP addresses.
  std::string server_name{};
  /// A certificate and key to present when the server asks for one (links between servers).
  std::string cert_file{};
  std::string key_file{};
};

}  // namespace ember::net
