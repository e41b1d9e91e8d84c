// ember: a client session: connects, handshakes, calls commands with deadlines and receives
// pushes. Tests, bots and ember-bench use it; generated `client_stub`s give it typed methods.
#pragma once

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
#include "ember/net/detail/call_table.hpp"
#include "ember/net/server_options.hpp"
#include "ember/net/session.hpp"
#include "ember/outcome.hpp"
#include "ember/wire/buffer.hpp"

namespace ember {

/// Per-call settings.
struct call_options {
  std::chrono::milliseconds timeout{0};  ///< 0: the client's default timeout
};

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
};

namespace detail {
class client_core;
}

/// A connection to an ember server. Calls may overlap (many in flight); each ends with its
/// reply, the remote error, `errc::timeout` or `errc::disconnected` — never waits forever.
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
  /// Called once when the connection ends (with why).
  void on_close(std::function<void(std::error_code)> f);

  /// Closes the connection; calls in flight fail with `errc::disconnected`.
  void close();
  bool connected() const noexcept;
  /// The session id the server announced in its handshake (native framing).
  std::uint64_t session_id() const noexcept;
  /// The highest push sequence number received.
  std::uint32_t last_push_seq() const noexcept;
  /// Calls waiting for their reply.
  std::size_t in_flight() const noexcept;

 /// Decodes a reply body into `out` (the caller's typed reply).
  using decode_fn = net::detail::decode_fn;

 private:
  std::shared_ptr<detail::client_core> core_;
};

}  // namespace ember

#include "ember/net/impl/client.hpp"
