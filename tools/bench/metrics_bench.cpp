// ember-metrics-bench: what a Prometheus scrape costs a server with 100 commands (issue 21:
// under 10 ms). One `app::host` with a client listener and a metrics endpoint, 100 commands
// registered (each with its pre-sized slot) and 1,000 requests recorded on each, with a few
// failure statuses; then the time of `host::write_metrics` alone (every family written to a
// string, /proc read included), and of a whole `GET /metrics` over loopback as Prometheus makes
// it (connect, request, answer, close), each repeated and reported as median, p90 and max.
// "CPU" is the server thread's CPU time (CLOCK_THREAD_CPUTIME_ID), what a scrape takes from
// the server whatever else runs on the machine; "wall" includes waiting for a core.
//
//   ember-metrics-bench [SCRAPES]        (default 200)
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>

#include "ember/app/config.hpp"
#include "ember/app/host.hpp"
#include "ember/detail/prometheus.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

struct figures {
  double median_ms, p90_ms, max_ms;
};

figures summarise(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[ms.size() * 9 / 10], ms.back()};
}

// This thread's CPU time, in ms.
double thread_cpu_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

std::uint16_t free_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

}  // namespace

int main(int argc, char** argv) {
  const int scrapes = argc > 1 ? std::atoi(argv[1]) : 200;
  if (argc > 2 || scrapes < 1) {
    std::fprintf(stderr, "usage: %s [SCRAPES]\n", argv[0]);
    return EXIT_FAILURE;
  }
  constexpr int commands = 100;
  const auto client_port = free_port(), metrics_port = free_port();
  auto config = ember::app::parse_config(fmt::format(R"({{
  "secret": "a-secret-of-the-metrics-bench",
  "servers": {{ "game": {{ "netport": {}, "metricsport": {} }} }}
}})", client_port, metrics_port), "bench.json");
  if (!config) {
    std::fprintf(stderr, "%s\n", config.error().what().c_str());
    return EXIT_FAILURE;
  }
  asio::io_context io;
  ember::app::host h(io, *config, "game");
  // 100 commands as a schema would list them: ids, names, this server's type.
  std::deque<std::string> names;
  std::vector<ember::command_info> list;
  ember::net::dispatch_table table;
  for (int i = 0; i < commands; ++i) {
    names.push_back(fmt::format("command_number_{}", i));
    const auto id = static_cast<std::uint16_t>(100 + i);
    list.push_back(ember::command_info{id, names.back(), "game", true, false});
    ember::net::command_entry e;
    e.id = id;
    e.name = names.back();
    table.add_entry(e);
  }
  h.start(std::move(table), list);
  auto* stats = h.clients()->table()->stats();
  for (int i = 0; i < commands; ++i)
    for (int n = 0; n < 1000; ++n) {
      const std::uint16_t status = n % 50 == 0 ? 1000 + n % 3 : n % 97 == 0 ? 7 : 0;
      stats->record(static_cast<std::uint16_t>(100 + i),
                    std::chrono::microseconds(50 + (n * 7919) % 200'000), status);
    }

  std::vector<double> write_ms, write_cpu_ms, http_ms;
  std::size_t bytes = 0;
  for (int i = 0; i < scrapes; ++i) {
    std::string text;
    ember::detail::prometheus_writer w(text);
    const auto t0 = clock_type::now();
    const double c0 = thread_cpu_ms();
    h.write_metrics(w);
    write_cpu_ms.push_back(thread_cpu_ms() - c0);
    write_ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
    bytes = text.size();
  }
  // A scraper on another thread, the server's io_context on this one.
  std::string last;
  std::thread scraper([&] {
    for (int i = 0; i < scrapes; ++i) {
      asio::io_context cio;
      asio::ip::tcp::socket s(cio);
      const auto t0 = clock_type::now();
      s.connect({asio::ip::make_address("127.0.0.1"), metrics_port});
      const std::string req = "GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
      asio::write(s, asio::buffer(req));
      std::string answer;
      std::error_code ec;
      asio::read(s, asio::dynamic_buffer(answer), ec);
      http_ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
      last = std::move(answer);
    }
    asio::post(io, [&] { io.stop(); });
  });
  const double served_c0 = thread_cpu_ms();
  io.run();
  const double served_cpu_ms = thread_cpu_ms() - served_c0;
  scraper.join();
  if (last.find("ember_requests_total{command=\"command_number_99\",status=\"ok\"}") == std::string::npos) {
    std::fprintf(stderr, "the scrape lacks a command's figures:\n%s\n", last.substr(0, 2000).c_str());
    return EXIT_FAILURE;
  }
  const auto w = summarise(write_ms), wc = summarise(write_cpu_ms), g = summarise(http_ms);
  std::printf("%d commands, %d scrapes, %zu bytes per scrape\n", commands, scrapes, bytes);
  std::printf("host::write_metrics CPU: median %.3f ms, p90 %.3f ms, max %.3f ms\n", wc.median_ms,
              wc.p90_ms, wc.max_ms);
  std::printf("host::write_metrics wall: median %.3f ms, p90 %.3f ms, max %.3f ms\n", w.median_ms,
              w.p90_ms, w.max_ms);
  std::printf("GET /metrics, server CPU per scrape (accept, parse, write, send): %.3f ms\n",
              served_cpu_ms / scrapes);
  std::printf("GET /metrics wall, at the scraper: median %.3f ms, p90 %.3f ms, max %.3f ms\n",
              g.median_ms, g.p90_ms, g.max_ms);
  return EXIT_SUCCESS;
}
