// ember: a client connection relayed to the client-facing server that holds its session — how a
// client resumes through another server of the cluster (internal).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "ember/buffer.hpp"
#include "ember/net/detail/tls_channel.hpp"
#include "ember/net/detail/ws_transport.hpp"
#include "ember/separate_compilation.hpp"
#include "ember/wire/native_decoder.hpp"

namespace ember::net::detail {

/// The client's connection on one side, a connection to the session's home on the other,
/// joined until either side ends. The session, its outbox and its numbering stay at the home;
/// this server carries native frames between the two. Each side keeps its own transport: the
/// client's TLS and WebSocket end here (so a WebSocket or TLS client resumes as well as a TCP
/// one), and the home is reached on its native client port, through TLS when that port speaks
/// it. Without either, the relay only copies bytes.
///
/// Relays are rare (a client that came back through another server): they run as coroutines
/// with buffers of their own, and nothing of them is on an ordinary session's path.
class relay : public std::enable_shared_from_this<relay> {
 public:
  /// The bounds of the listener the client came in on.
  struct limits {
    std::size_t max_frame = 64 * 1024;        ///< largest native body a client may send
    std::size_t max_write_queue = 1 << 20;    ///< bytes waiting for a client that does not read
    std::chrono::milliseconds handshake_timeout{10'000};  ///< reaching the home, TLS included
    std::chrono::milliseconds frame_timeout{10'000};      ///< a WebSocket message half-received
  };
  using clock = std::chrono::steady_clock;

  /// Takes the client's connection: its socket (non-blocking), its TLS and WebSocket layers if
  /// any, and `unsent`, bytes the session queued for it and did not write (an upgrade answer;
  /// plaintext, WebSocket frames already).
  relay(asio::ip::tcp::socket client, std::unique_ptr<tls_channel> tls,
        std::unique_ptr<ws_transport> ws, bytes_view unsent, limits l, std::string label);

  /// Connects to the session's home at `host:port` (through TLS with `home_tls` when not
  /// null), sends `first` (the client's resume handshake), then carries frames both ways. If
  /// the home cannot be reached the client is told `session_expired` and the relay ends.
  void start(std::string host, std::uint16_t port, std::shared_ptr<const tls_context> home_tls,
             buffer first);
  /// Ends both connections at once (the home parks the session; the client may resume again).
  void close();
  /// Checks the relay's own deadlines (reaching the home, a half-received WebSocket message);
  /// called by the server's sweep.
  void sweep(clock::time_point now);

 private:
  asio::awaitable<void> run(std::string host, std::uint16_t port,
                            std::shared_ptr<const tls_context> home_tls, buffer first);
  asio::awaitable<void> client_to_home();
  asio::awaitable<void> home_to_client();
  /// Reads what the client sent, through its TLS: `would_block` when nothing is there yet.
  asio::awaitable<std::size_t> read_client(std::span<std::byte> buf, std::error_code& ec);
  /// Takes a WebSocket event of the client; false when the relay is to stop reading.
  bool on_client_event(const wire::websocket::event& e);
  /// Queues plaintext for the client (sealed by its TLS) and starts writing it.
  void send_client(bytes_view plain);
  void kick_writer();
  /// Queues native frames for the client: as one binary message on WebSocket.
  void send_client_frames(bytes_view frames);
  asio::awaitable<void> write_client();
  /// Waits until the client's writes have caught up to `at_most` bytes queued.
  asio::awaitable<void> client_drained(std::size_t at_most);
  asio::awaitable<std::error_code> write_home(bytes_view bytes);
  /// Tells the client its session is gone (the home could not be reached), then ends.
  asio::awaitable<void> refuse_client(std::string_view why);
  /// Ends once what is queued for the client is written; on WebSocket a close frame with
  /// `close_code` goes last (none when 0, an empty one for `no_status`).
  asio::awaitable<void> finish(std::uint16_t close_code, std::string_view reason);

  asio::ip::tcp::socket client_;
  asio::ip::tcp::socket home_;
  std::unique_ptr<tls_channel> client_tls_;
  std::unique_ptr<ws_transport> ws_;
  std::unique_ptr<tls_channel> home_tls_;
  wire::native_decoder client_frames_;  // checks that a client's message holds whole frames
  buffer up_;         // the client's frames for the home
  buffer down_;       // what the home sent that is not a whole frame yet (WebSocket only)
  buffer to_client_;  // bytes for the client's socket, sealed
  buffer writing_;    // bytes of the write to the client in progress
  asio::steady_timer drained_;  // woken when a write to the client ends
  limits limits_;
  std::string label_;
  clock::time_point created_;
  clock::time_point partial_since_{};
  std::uint16_t client_close_ = 0;  // the code of the client's close frame, echoed
  bool bye_ = false;          // the client ended the session (a close frame, a protocol fault)
  bool session_ended_ = false;  // the home sent an error about the session itself
  bool reached_ = false;      // the home is connected and has the handshake
  bool client_writing_ = false;
  bool finishing_ = false;    // nothing more goes to the client but what is queued
  bool closed_ = false;
};

}  // namespace ember::net::detail
