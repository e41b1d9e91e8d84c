// ember: a client connection relayed, byte for byte, to the client-facing server that holds
// its session — how a client resumes through another server of the cluster (internal).
#pragma once

#include <array>
#include <memory>
#include <string>
#include <system_error>
#include <tuple>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "ember/buffer.hpp"
#include "ember/spawn.hpp"

namespace ember::net::detail {

/// Two sockets joined until either side closes. The session, its outbox and its numbering
/// stay where they are; this server only carries bytes.
class relay : public std::enable_shared_from_this<relay> {
 public:
  explicit relay(asio::ip::tcp::socket client) : client_(std::move(client)), home_(client_.get_executor()) {}

  /// Connects to the session's home, sends `first` (the client's resume handshake), then
  /// carries bytes both ways. `on_fail(error)` runs if the home cannot be reached, with the
  /// client socket still open (to tell the client).
  template <class OnFail>
  void start(std::string host, std::uint16_t port, buffer first, OnFail on_fail) {
    spawn(client_.get_executor(), run(std::move(host), port, std::move(first), std::move(on_fail)),
          "resume relay");
  }

  void close() {
    std::error_code ec;
    client_.close(ec);
    home_.close(ec);
  }
  asio::ip::tcp::socket& client() noexcept { return client_; }

 private:
  template <class OnFail>
  asio::awaitable<void> run(std::string host, std::uint16_t port, buffer first, OnFail on_fail) {
    auto self = shared_from_this();
    constexpr auto tuple = asio::experimental::as_tuple(asio::use_awaitable);
    std::error_code ec;
    const auto address = asio::ip::make_address(host, ec);
    if (!ec) std::tie(ec) = co_await home_.async_connect({address, port}, tuple);
    if (!ec) std::tie(ec, std::ignore) =
        co_await asio::async_write(home_, asio::buffer(first.data(), first.size()), tuple);
    if (ec) {
      on_fail(ec);
      co_return;
    }
    std::error_code ignored;
    home_.set_option(asio::ip::tcp::no_delay(true), ignored);
    client_.set_option(asio::ip::tcp::no_delay(true), ignored);
    spawn(client_.get_executor(), pipe(client_, home_), "resume relay pipe");
    co_await pipe(home_, client_);
  }

  asio::awaitable<void> pipe(asio::ip::tcp::socket& from, asio::ip::tcp::socket& to) {
    auto self = shared_from_this();
    constexpr auto tuple = asio::experimental::as_tuple(asio::use_awaitable);
    std::array<std::byte, 16 * 1024> buf;
    for (;;) {
      auto [ec, n] = co_await from.async_read_some(asio::buffer(buf), tuple);
      if (ec) break;
      auto [wec, w] = co_await asio::async_write(to, asio::buffer(buf.data(), n), tuple);
      if (wec) break;
    }
    close();  // either side gone: both go (the client resumes again, the home parks it)
  }

  asio::ip::tcp::socket client_;
  asio::ip::tcp::socket home_;
};

}  // namespace ember::net::detail
