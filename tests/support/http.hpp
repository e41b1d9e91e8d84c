// Test support: one HTTP/1.0 GET (or another method) to 127.0.0.1, for the tests of metrics
// and health endpoints and of a Prometheus the tests start.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>

#include <asio/awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

namespace ember::test {

/// An HTTP answer: status (0 when there was none), head and body.
struct http_answer {
  int status = 0;
  std::string head, body;
};

/// Sends `method target` to 127.0.0.1:`port` and reads the answer until the server closes.
inline asio::awaitable<http_answer> http_get(std::uint16_t port, std::string target,
                                             std::string method = "GET") {
  using asio::experimental::as_tuple;
  asio::ip::tcp::socket s(co_await asio::this_coro::executor);
  auto [ec] = co_await s.async_connect({asio::ip::make_address("127.0.0.1"), port},
                                       as_tuple(asio::use_awaitable));
  if (ec) co_return http_answer{};
  const auto req = method + " " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  auto [wec, written] = co_await asio::async_write(s, asio::buffer(req), as_tuple(asio::use_awaitable));
  if (wec) co_return http_answer{};
  (void)written;
  std::string text;
  auto [rec, n] = co_await asio::async_read(s, asio::dynamic_buffer(text), as_tuple(asio::use_awaitable));
  (void)rec, (void)n;  // the end of the answer is the end of the stream
  http_answer a;
  const auto end = text.find("\r\n\r\n");
  if (text.size() < 12 || end == std::string::npos) co_return a;
  a.status = std::atoi(text.c_str() + 9);
  a.head = text.substr(0, end);
  a.body = text.substr(end + 4);
  co_return a;
}

}  // namespace ember::test
