// ember: a client session: connects, handshakes, calls commands with deadlines and receives
// pushes. Tests, bots and ember-bench use it; generated `client_stub`s give it typed methods.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "ember/codec/codec.hpp"
#include "ember/error.hpp"
#include "ember/net/detail/typed_call.hpp"
#include "ember/net/server_options.hpp"
#include "ember/net/session.hpp"
#include "ember/outcome.hpp"
#include "ember/request_deadline.hpp"
#include "ember/separate_compilation.hpp"
#include "ember/buffer.hpp"

namespace ember::net {

/// Per-call settings.
struct call_options {
  std::chrono::milliseconds timeout{0};  ///< 0: the client's default timeout
  /// Client calls: how many more times to send the request when it ends with
  /// `outcome_unknown` (15), `unavailable` (6), `overloaded` (4) or the client's own timeout,
  /// as long as `timeout` (the whole call's deadline) allows. Every attempt carries the same request id,
  /// so the server answers a retry of a request that ran with that run's reply
  /// (docs/sessions.md, "Retries"). Calls between servers ignore it.
  int retries = 0;
  /// Client calls: the request's idempotency id, for a caller that retries by itself (keep it
  /// and pass it again). 0: none, unless `retries` is set (the client then picks one).
  std::uint64_t request_id = 0;
};

/// The options of a call made while serving a request of `s`: `own` timeout, shortened to
/// what is left of the request's deadline less a margin (a fifth of it, at least 20 ms: the
/// answer's way back, and a busy machine's delays), so that the call gives up, and its handler
/// answers, before the caller stops waiting.
inline call_options within_deadline(const session& s, std::chrono::milliseconds own) {
  return {time_within(s.deadline(), own)};
}

/// A client's configuration.
struct client_options {
  net::framing framing = net::framing::native;
  codec::encoding encoding = codec::encoding::binary;  ///< of requests and pushes
  wire::firefly_config firefly{};
  std::chrono::milliseconds default_timeout{5'000};
  std::chrono::milliseconds connect_timeout{5'000};
  /// How often to ping; 0 means a third of the idle timeout the server announces (native).
  std::chrono::milliseconds ping_interval{0};
  std::size_t max_frame = 16 << 20;  ///< largest reply or push body accepted
  /// Native: acknowledge what arrives, so that after a lost connection the client reconnects
  /// by itself and resumes its session — every reply and push it missed arrives once, in
  /// order, and requests the server had not received are sent again.
  bool resume = true;
  std::chrono::milliseconds resume_backoff_min{50};   ///< first wait between reconnects
  std::chrono::milliseconds resume_backoff_max{2'000};  ///< the wait doubles up to this
  /// Set: the connection speaks TLS, and the server's certificate must chain to
  /// `tls->ca_file` and name the host (PROTOCOL.md, "TLS"). A certificate that does not
  /// verify fails `connect` with an error of asio's SSL category ("certificate verify
  /// failed"); the reason in full is logged. The files are read by the client's constructor
  /// (a missing one throws, naming it).
  std::optional<tls_client_options> tls{};
};

namespace detail {
class client_core;
}

/// A connection to an ember server. Calls may overlap (many in flight); each ends with its
/// reply, the remote error, `errc::timeout`, `errc::disconnected` or (when its session could
/// not be resumed) `errc::session_expired` — never waits forever.
///
/// A lost connection (native framing, `client_options::resume`) is not the end of the session:
/// the client reconnects with backoff and resumes it within the grace period the server
/// announced; calls wait meanwhile (their deadlines still run). `on_resumed` hears each
/// resume; `on_expired` hears that the server no longer had the session (log in again).
class client {
 public:
  explicit client(asio::any_io_executor ex, client_options options = {});
  ~client();
  client(client&&) noexcept;
  client& operator=(client&&) noexcept;

  /// Connects and (native framing) handshakes; returns the failure, if any.
  asio::awaitable<std::error_code> connect(std::string host, std::uint16_t port);

  /// Calls command `Cmd` (a generated `cmd::` descriptor).
  template <class Cmd>
  asio::awaitable<outcome<typename Cmd::reply>> call(const typename Cmd::request& req,
                                                      call_options opts = {});

  /// Calls with an already-encoded body; the reply body is returned as bytes (for tools).
  asio::awaitable<outcome<buffer>> call_raw(std::uint16_t command, bytes_view body,
                                            call_options opts = {});

  /// Handles pushes of type `Push` (a generated `[[push]]` message).
  template <class Push>
  void on_push(std::function<void(const Push&)> f) {
    on_push_raw(Push::push_id, [f = std::move(f)](bytes_view body, codec::encoding enc) {
      Push p{};
      if (!codec::decode(body, enc, p)) f(p);
    });
  }
  /// Handles pushes with `push_id` as raw bodies.
  void on_push_raw(std::uint16_t push_id, std::function<void(bytes_view, codec::encoding)> f);
  /// Called once when the session ends (with why): closed, refused, or not resumed.
  void on_close(std::function<void(std::error_code)> f);
  /// Called after each resume of the session on a new connection.
  void on_resumed(std::function<void()> f);
  /// Called when a lost session could not be resumed (`on_close` follows with
  /// `errc::session_expired`): the game logs in again.
  void on_expired(std::function<void()> f);

  /// Ends the session (the server is told, so nothing waits for a resume); calls in flight
  /// fail with `errc::disconnected`.
  void close();
  /// Drops the connection as a lost network would, keeping the session: a resumable client
  /// reconnects and resumes (e.g. when the device changed networks); others end.
  void drop_connection();
  /// Where the next resume connects (by default, where `connect` did): e.g. another
  /// client-facing server of the cluster, which relays the client to its session.
  void resume_at(std::string host, std::uint16_t port);
  bool connected() const noexcept;
  /// The server keeps this session for a resume after a lost connection.
  bool resumable() const noexcept;
  /// The connection is lost and the client is resuming.
  bool resuming() const noexcept;
  /// How many times the session was resumed.
  std::uint64_t resumes() const noexcept;
  /// The session id the server announced in its handshake (native framing).
  std::uint64_t session_id() const noexcept;
  /// The highest push sequence number received (pushes of a session count from 1).
  std::uint32_t last_push_seq() const noexcept;
  /// Calls waiting for their reply.
  std::size_t in_flight() const noexcept;

 /// Decodes a reply body into `out` (the caller's typed reply).
  using decode_fn = net::detail::decode_fn;

 private:
  /// Sends a typed request; `decode` fills the caller's reply. Not a template, so that
  /// `call<Cmd>` needs no more than this header.
  asio::awaitable<failure> call_erased(std::uint16_t command, body_writer body,
                                       call_options opts, decode_fn decode, void* out);

  std::shared_ptr<detail::client_core> core_;
};

template <class Cmd>
asio::awaitable<outcome<typename Cmd::reply>> client::call(const typename Cmd::request& req,
                                                            call_options opts) {
  return net::detail::typed_call<typename Cmd::reply>(
      [this, &req, opts](decode_fn decode, void* out) {
        return call_erased(Cmd::id, body_writer(req), opts, decode, out);
      });
}

}  // namespace ember::net

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/net/impl/client.hpp"
#endif
