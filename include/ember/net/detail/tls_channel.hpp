// ember: TLS on a non-blocking socket, between the socket and the frame decoder / output queue
// (internal). Declarations only: OpenSSL's headers stay in the bodies (impl/tls_channel.hpp),
// out of every file that includes a server or client header (issue 16, compile time).
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <system_error>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "ember/buffer.hpp"
#include "ember/net/tls_options.hpp"
#include "ember/separate_compilation.hpp"

struct ssl_st;
struct bio_st;

namespace ember::net::detail {

/// The certificates and settings shared by every connection of a listener or client (an
/// `asio::ssl::context`). Building one reads the files: it throws `std::runtime_error` naming
/// the file that is missing or not valid.
struct tls_context;
EMBER_DECL std::shared_ptr<const tls_context> make_tls_context(const tls_server_options& o);
EMBER_DECL std::shared_ptr<const tls_context> make_tls_context(const tls_client_options& o);

/// One connection's TLS. Works on memory: ciphertext read from the socket goes in, plaintext
/// comes out into the caller's buffer; plaintext to send comes in, ciphertext is appended to
/// the caller's output. So the session keeps its own non-blocking reads and gathered writes,
/// and an idle TLS connection holds no read or write buffer (OpenSSL's are released).
class tls_channel {
 public:
  /// A server's end (`host` unused) or a client's, which checks the server's certificate
  /// against `host` (or `tls_client_options::server_name`).
  tls_channel(std::shared_ptr<const tls_context> context, bool server, const std::string& host);
  ~tls_channel();
  tls_channel(const tls_channel&) = delete;
  tls_channel& operator=(const tls_channel&) = delete;

  /// Reads what the socket has through TLS: plaintext into `buf` (as much as is there, up to
  /// its size), as `socket.read_some` would. Nothing yet: `would_block`; the peer's
  /// close_notify or the end of the stream: `eof`; a TLS failure (see `failure()`): an error
  /// of asio's SSL category. Handshake messages it produces wait in `has_output()`.
  std::size_t read_some(asio::ip::tcp::socket& socket, std::span<std::byte> buf,
                        std::error_code& ec);
  /// Advances the handshake and encrypts as much of `plain` as TLS takes (all of it once the
  /// handshake is done, none before), appending what is to be sent to `out`; returns the
  /// plaintext bytes taken.
  std::size_t seal(bytes_view plain, buffer& out, std::error_code& ec);
  /// One step of the handshake alone (no application data is read): what the socket has goes
  /// in, what is to be sent is appended to `out`. True once the handshake is done; false when
  /// it waits for the peer; `ec` on a failure.
  bool handshake_step(asio::ip::tcp::socket& socket, buffer& out, std::error_code& ec);
  /// Queues a close_notify and appends what is to be sent to `out` (best effort).
  void shutdown(buffer& out) noexcept;

  /// Bytes to send are waiting (handshake messages, alerts).
  bool has_output() const noexcept;
  /// Bytes received are decrypted or waiting to be, without the socket being readable.
  bool buffered() const noexcept;
  /// The handshake is done.
  bool established() const noexcept;
  /// Why TLS failed: OpenSSL's reason, and for a certificate its verification result.
  const std::string& failure() const noexcept { return failure_; }
  /// The negotiated protocol version ("TLSv1.3"), for logs.
  const char* version() const noexcept;

 private:
  void fail(int ssl_error) noexcept;

  std::shared_ptr<const tls_context> context_;
  ssl_st* ssl_ = nullptr;
  bio_st* in_ = nullptr;   // ciphertext received, not yet read by TLS (owned by ssl_)
  bio_st* out_ = nullptr;  // ciphertext TLS produced, not yet sent (owned by ssl_)
  std::error_code failed_;
  std::string failure_;
};

/// A short exchange before a connection's frame loop (a link's authentication), through TLS
/// when `tls` is not null: the handshake, exact writes and exact reads. Bytes received past
/// what was read stay in `tls` for the frame loop. The socket may be closed meanwhile (a
/// deadline): the operation then fails.
EMBER_DECL asio::awaitable<std::error_code> tls_handshake(asio::ip::tcp::socket& socket,
                                                          tls_channel& tls);
EMBER_DECL asio::awaitable<std::error_code> write_all(asio::ip::tcp::socket& socket,
                                                      tls_channel* tls, bytes_view bytes);
EMBER_DECL asio::awaitable<std::error_code> read_exactly(asio::ip::tcp::socket& socket,
                                                         tls_channel* tls,
                                                         std::span<std::byte> out);

/// True for an error of TLS itself (a failed handshake, a bad record), not of the socket.
EMBER_DECL bool is_tls_error(const std::error_code& ec) noexcept;

}  // namespace ember::net::detail
