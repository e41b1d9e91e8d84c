// Test support: a TCP proxy on loopback that can cut its connections (the bytes in transit are
// lost, as when a phone leaves Wi-Fi), refuse new ones for a while (no network), or stall
// (a peer that stops reading).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

namespace ember::test {

class tcp_proxy {
 public:
  /// Listens on a free loopback port and forwards each connection to `target_port`.
  tcp_proxy(asio::io_context& io, std::uint16_t target_port)
      : io_(io), acceptor_(io, {asio::ip::make_address("127.0.0.1"), 0}), target_(target_port) {
    asio::co_spawn(io_, accept_loop(), asio::detached);
  }
  ~tcp_proxy() {
    std::error_code ec;
    acceptor_.close(ec);
    cut();
  }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

  /// Closes every connection now, both ways; what was in transit is lost.
  void cut() {
    for (auto& p : pairs_) p->close();
    pairs_.clear();
  }
  /// While blocked, new connections are accepted and closed at once.
  void block(bool on) { blocked_ = on; }
  /// While stalled, nothing is forwarded in either direction (reading stops).
  void stall(bool on) { stalled_ = on; }
  std::size_t connections() const { return pairs_.size(); }

 private:
  struct pair {
    explicit pair(asio::io_context& io) : a(io), b(io) {}
    asio::ip::tcp::socket a, b;
    void close() {
      std::error_code ec;
      a.close(ec);
      b.close(ec);
    }
  };

  asio::awaitable<void> accept_loop() {
    constexpr auto tuple = asio::experimental::as_tuple(asio::use_awaitable);
    for (;;) {
      auto [ec, s] = co_await acceptor_.async_accept(tuple);
      if (ec) co_return;
      if (blocked_) continue;  // `s` closes as it goes out of scope
      auto p = std::make_shared<pair>(io_);
      p->a = std::move(s);
      auto [cec] = co_await p->b.async_connect({asio::ip::make_address("127.0.0.1"), target_},
                                               tuple);
      if (cec) continue;
      pairs_.push_back(p);
      asio::co_spawn(io_, pipe(p, p->a, p->b), asio::detached);
      asio::co_spawn(io_, pipe(p, p->b, p->a), asio::detached);
    }
  }

  asio::awaitable<void> pipe(std::shared_ptr<pair> keep, asio::ip::tcp::socket& from,
                             asio::ip::tcp::socket& to) {
    constexpr auto tuple = asio::experimental::as_tuple(asio::use_awaitable);
    std::array<char, 16 * 1024> buf;
    asio::steady_timer pause(io_);
    for (;;) {
      while (stalled_ && from.is_open()) {
        pause.expires_after(std::chrono::milliseconds(5));
        co_await pause.async_wait(tuple);
      }
      auto [ec, n] = co_await from.async_read_some(asio::buffer(buf), tuple);
      if (ec) break;
      auto [wec, w] = co_await asio::async_write(to, asio::buffer(buf.data(), n), tuple);
      if (wec) break;
    }
    keep->close();
  }

  asio::io_context& io_;
  asio::ip::tcp::acceptor acceptor_;
  std::uint16_t target_;
  std::vector<std::shared_ptr<pair>> pairs_;
  bool blocked_ = false;
  bool stalled_ = false;
};

}  // namespace ember::test
