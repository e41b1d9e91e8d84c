// ember: the body of app::metrics_endpoint (ember/app/metrics.hpp).
#pragma once

#include "ember/app/metrics.hpp"

#include <chrono>
#include <string_view>
#include <utility>

#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "ember/detail/http.hpp"
#include "ember/log.hpp"
#include "ember/spawn.hpp"

namespace ember::app {

namespace detail {

struct metrics_state {
  metrics_state(asio::any_io_executor ex, metrics_sources s) : acceptor(ex), sources(std::move(s)) {}
  asio::ip::tcp::acceptor acceptor;
  metrics_sources sources;
  bool open = true;  // false once the endpoint is gone: its sources may be gone too
  std::uint16_t port = 0;
};

inline constexpr std::size_t max_metrics_request = 8 * 1024;

// The answer to one request, as a whole HTTP response.
inline std::string metrics_answer(const ember::detail::http_request& req,
                                  const metrics_sources& s) {
  using ember::detail::http_response;
  if (req.path != "/metrics" && req.path != "/healthz" && req.path != "/readyz")
    return http_response(404, "text/plain; charset=utf-8",
                         "unknown path " + req.path + " (GET /metrics, /healthz or /readyz)\n");
  if (req.method != "GET")
    return http_response(405, "text/plain; charset=utf-8", "only GET is served here\n");
  if (req.path == "/healthz") return http_response(200, "text/plain; charset=utf-8", "ok\n");
  if (req.path == "/readyz") {
    const auto why = s.not_ready ? s.not_ready() : std::string();
    return why.empty() ? http_response(200, "text/plain; charset=utf-8", "ready\n")
                       : http_response(503, "text/plain; charset=utf-8", "not ready: " + why + "\n");
  }
  std::string body;
  ember::detail::prometheus_writer w(body);
  if (s.metrics) s.metrics(w);
  return http_response(200, ember::detail::prometheus_writer::content_type, body);
}

inline asio::awaitable<void> serve_metrics_request(std::shared_ptr<metrics_state> st,
                                                   asio::ip::tcp::socket socket) {
  using asio::experimental::as_tuple;
  std::string text, error;
  ember::detail::http_request req;
  char chunk[2048];
  asio::steady_timer deadline(socket.get_executor(), std::chrono::seconds(10));
  deadline.async_wait([&socket](std::error_code ec) {
    if (!ec) socket.close();
  });
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(chunk), as_tuple(asio::use_awaitable));
    if (ec) co_return;
    text.append(chunk, n);
    if (text.size() > max_metrics_request) {
      error = "request too large";
      break;
    }
    req = {};
    if (ember::detail::parse_http(text, req, error)) break;
  }
  deadline.cancel();
  if (!st->open) co_return;
  const auto out = error.empty()
                       ? metrics_answer(req, st->sources)
                       : ember::detail::http_response(400, "text/plain; charset=utf-8", error + "\n");
  co_await asio::async_write(socket, asio::buffer(out), as_tuple(asio::use_awaitable));
  std::error_code ignored;
  socket.shutdown(asio::socket_base::shutdown_both, ignored);
}

inline asio::awaitable<void> accept_metrics_requests(std::shared_ptr<metrics_state> st) {
  using asio::experimental::as_tuple;
  while (st->open) {
    auto [ec, socket] = co_await st->acceptor.async_accept(as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || !st->open) co_return;
    if (ec) continue;
    ember::spawn(st->acceptor.get_executor(), serve_metrics_request(st, std::move(socket)),
                 "metrics request");
  }
}

}  // namespace detail

EMBER_DECL metrics_endpoint::metrics_endpoint(asio::any_io_executor ex, const metrics_config& where,
                                              metrics_sources sources)
    : state_(std::make_shared<detail::metrics_state>(ex, std::move(sources))) {
  const asio::ip::tcp::endpoint ep(asio::ip::make_address(where.host), where.port);
  auto& a = state_->acceptor;
  a.open(ep.protocol());
  a.set_option(asio::ip::tcp::acceptor::reuse_address(true));
  a.bind(ep);
  a.listen();
  state_->port = a.local_endpoint().port();
  ember::spawn(ex, detail::accept_metrics_requests(state_), "metrics accept loop");
}

EMBER_DECL metrics_endpoint::~metrics_endpoint() {
  state_->open = false;
  state_->sources = {};
  std::error_code ignored;
  state_->acceptor.close(ignored);
}

EMBER_DECL std::uint16_t metrics_endpoint::port() const noexcept { return state_->port; }

}  // namespace ember::app
