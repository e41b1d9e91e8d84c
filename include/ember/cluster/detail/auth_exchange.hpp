// ember: the link handshake on a connected socket, before the link's frame loop starts
// (internal). Handshake frames are read with exact-size reads, so no byte of what follows is
// consumed here; the whole exchange is bounded by a timer that closes the socket.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <system_error>

#include <asio/awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "ember/cluster/auth.hpp"
#include "ember/error.hpp"
#include "ember/net/detail/tls_channel.hpp"
#include "ember/separate_compilation.hpp"
#include "ember/wire/encoder.hpp"

namespace ember::cluster::detail {

/// Handshake bodies are small: a larger one is a protocol fault, not a frame to buffer.
inline constexpr std::size_t max_auth_body = 1024;

/// What one side learned from a handshake.
struct auth_result {
  std::string reason;     ///< empty on success, else why the peer was refused
  std::string peer_name;  ///< the node's name (root side) or the root's name (node side)
  std::string peer_type;  ///< the node's type (root side only)
  bool ok() const noexcept { return reason.empty(); }
};

/// Sends one handshake frame (through `tls` when it is not null).
template <class Body>
asio::awaitable<std::error_code> write_auth_frame(asio::ip::tcp::socket& s,
                                                  net::detail::tls_channel* tls, auth_step step,
                                                  const Body& body) {
  buffer out;
  wire::frame_header h;
  h.kind = wire::frame_kind::handshake;
  h.command = static_cast<std::uint16_t>(step);
  if (auto ec = wire::append_frame(out, h, [&](buffer& b) { body.encode(b); }, max_auth_body))
    co_return ec;
  co_return co_await net::detail::write_all(s, tls, out.view());
}

/// Reads one handshake frame of `step` into `body`; returns why not, as text.
EMBER_DECL asio::awaitable<std::string> read_auth_frame(asio::ip::tcp::socket& s,
                                                        net::detail::tls_channel* tls,
                                                        auth_step step, buffer& body);

/// The same on plain TCP.
template <class Body>
asio::awaitable<std::error_code> write_auth_frame(asio::ip::tcp::socket& s, auth_step step,
                                                  const Body& body) {
  return write_auth_frame(s, nullptr, step, body);
}
inline asio::awaitable<std::string> read_auth_frame(asio::ip::tcp::socket& s, auth_step step,
                                                    buffer& body) {
  return read_auth_frame(s, nullptr, step, body);
}

/// One side's handshake under way: what it learned so far, and its deadline, which closes the
/// socket when `timeout` passes first (the handshake's reads then fail).
class auth_attempt {
 public:
  auth_attempt(asio::ip::tcp::socket& s, std::chrono::milliseconds timeout);
  ~auth_attempt();
  auth_attempt(const auth_attempt&) = delete;
  auth_attempt& operator=(const auth_attempt&) = delete;

  bool expired() const noexcept { return *expired_; }
  /// The refusal: `why`, or "authentication timed out" when the deadline passed.
  auth_result fail(std::string why);
  /// The outcome once every step passed: accepted, unless the deadline passed meanwhile.
  auth_result finish();

  auth_result result;

 private:
  asio::steady_timer timer_;
  std::shared_ptr<bool> expired_;
};

/// The root's half: challenge, check the node's MAC, answer with its own. With `tls`, the TLS
/// handshake (the node's certificate checked against the cluster's CA) comes first, under the
/// same deadline, and the exchange runs inside it.
EMBER_DECL asio::awaitable<auth_result> authenticate_node(asio::ip::tcp::socket& s,
                                                          net::detail::tls_channel* tls,
                                                          const link_key& key,
                                                          std::string root_name,
                                                          std::chrono::milliseconds timeout);

/// The node's half: answer the challenge, then check the root's MAC and name.
EMBER_DECL asio::awaitable<auth_result> authenticate_root(asio::ip::tcp::socket& s,
                                                          net::detail::tls_channel* tls,
                                                          const link_key& key, std::string name,
                                                          std::string type,
                                                          std::string expected_root,
                                                          std::chrono::milliseconds timeout);

}  // namespace ember::cluster::detail

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/cluster/detail/impl/auth_exchange.hpp"
#endif
