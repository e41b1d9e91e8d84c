// ember: a server's metrics and health over HTTP (config.json's `metricsport`, loopback unless
// it names a host): `GET /metrics` answers in Prometheus' text format, `GET /healthz` says the
// process is alive, `GET /readyz` says whether it is ready to serve (200) or why not (503).
// Unauthenticated, as Prometheus expects; each answer costs a few /proc reads and a walk of the
// counters, nothing on the request path. The host runs one (`host::serve_metrics`); the list
// of metrics is in docs/operations.md.
//
//   ember::app::metrics_endpoint m(io.get_executor(), {"127.0.0.1", 9100},
//       {[&](ember::detail::prometheus_writer& w) { ... }, [&] { return std::string(); }});
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <asio/any_io_executor.hpp>

#include "ember/app/config.hpp"
#include "ember/detail/prometheus.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::app {

namespace detail {
struct metrics_state;
}

/// What a metrics endpoint answers with.
struct metrics_sources {
  /// Writes every metric family of a scrape.
  std::function<void(ember::detail::prometheus_writer&)> metrics;
  /// "" when ready to serve, else why not (the body of a 503 from `/readyz`).
  std::function<std::string()> not_ready;
};

/// An HTTP listener answering `/metrics`, `/healthz` and `/readyz`, one request per
/// connection (requests over 8 KiB or slower than 10 s are dropped).
class metrics_endpoint {
 public:
  /// Binds `where` and starts answering; throws `std::system_error` when it cannot bind.
  metrics_endpoint(asio::any_io_executor ex, const metrics_config& where, metrics_sources sources);
  /// Stops listening; a request being answered is dropped.
  ~metrics_endpoint();
  metrics_endpoint(const metrics_endpoint&) = delete;
  metrics_endpoint& operator=(const metrics_endpoint&) = delete;

  /// The port it listens on.
  std::uint16_t port() const noexcept;

 private:
  std::shared_ptr<detail::metrics_state> state_;
};

}  // namespace ember::app

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/app/impl/metrics.hpp"
#endif
