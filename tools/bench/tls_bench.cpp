// ember-tls-bench: what TLS costs on a client listener, against plain TCP in the same run.
// One process, two threads: the server's io_context on one, ember clients on the other.
//   - handshake: connections opened one after another (TCP connect, TLS handshake when on,
//     the native handshake), each closed before the next: microseconds per connection;
//   - echo: C connections with W calls each in flight (16-byte payloads) for D seconds:
//     replies per second.
// The phases alternate TCP and TLS `--rounds` times; the best figure of each is reported.
// Certificates (a CA and a P-256 server certificate for 127.0.0.1) are made with the openssl
// command in a temporary directory.
//
// usage: ember-tls-bench [--connections C] [--window W] [--seconds D] [--handshakes N]
//                        [--rounds R]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <time.h>
#include <future>
#include <malloc.h>

#include <openssl/crypto.h>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "bench_client.hpp"
#include "bench_server.hpp"
#include "ember/log.hpp"
#include "ember/net/client.hpp"
#include "ember/net/server.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

// OpenSSL's heap, counted per thread (its allocations go through these): what the server's
// TLS sessions hold, apart from the clients in the same process.
thread_local long long openssl_bytes = 0;
constexpr std::size_t header = 16;  // the size in front of each block, alignment kept
void* ossl_malloc(std::size_t n, const char*, int) {
  auto* p = static_cast<std::size_t*>(std::malloc(n + header));
  if (!p) return nullptr;
  *p = n;
  openssl_bytes += static_cast<long long>(n);
  return reinterpret_cast<char*>(p) + header;
}
void* ossl_realloc(void* q, std::size_t n, const char* f, int l) {
  if (!q) return ossl_malloc(n, f, l);
  auto* p = reinterpret_cast<std::size_t*>(static_cast<char*>(q) - header);
  const std::size_t old = *p;
  auto* np = static_cast<std::size_t*>(std::realloc(p, n + header));
  if (!np) return nullptr;
  *np = n;
  openssl_bytes += static_cast<long long>(n) - static_cast<long long>(old);
  return reinterpret_cast<char*>(np) + header;
}
void ossl_free(void* q, const char*, int) {
  if (!q) return;
  auto* p = reinterpret_cast<std::size_t*>(static_cast<char*>(q) - header);
  openssl_bytes -= static_cast<long long>(*p);
  std::free(p);
}

// CPU time of the whole process (server and client threads): steadier than wall time on a
// loaded machine.
double cpu_us() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) * 1e6 + double(t.tv_nsec) / 1e3;
}

struct echo_service final : bench::echo_handler {
  asio::awaitable<bench::echo_reply> echo(ember::net::session&,
                                          const bench::echo_request& req) override {
    co_return bench::echo_reply{req.payload};
  }
};

struct certificates {
  std::filesystem::path dir;
  std::string ca, cert, key;
  certificates() {
    char tmpl[] = "/tmp/ember-tls-bench-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir = tmpl;
    ca = (dir / "ca.pem").string();
    cert = (dir / "server.pem").string();
    key = (dir / "server.key").string();
    const std::string d = dir.string();
    std::ofstream(dir / "ext.cnf") << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    sh("openssl req -x509" + ec + " -keyout " + d + "/ca.key -out " + ca + " -days 2 -subj /CN=bench-ca");
    sh("openssl req" + ec + " -keyout " + key + " -out " + d + "/server.csr -subj /CN=localhost");
    sh("openssl x509 -req -in " + d + "/server.csr -CA " + ca + " -CAkey " + d +
       "/ca.key -CAcreateserial -out " + cert + " -days 2 -extfile " + d + "/ext.cnf");
  }
  ~certificates() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  static void sh(const std::string& cmd) {
    if (std::system((cmd + " 2>/dev/null").c_str()) != 0) throw std::runtime_error("failed: " + cmd);
  }
};

struct settings {
  int connections = 100, window = 16, handshakes = 300, rounds = 2;
  double seconds = 3;
};

ember::net::client_options client_options(bool tls, const certificates& c) {
  ember::net::client_options o;
  o.resume = false;
  if (tls) o.tls = ember::net::tls_client_options{.ca_file = c.ca};
  return o;
}

// Microseconds per connection (connect + handshakes + close), over `n` in a row by one client;
// `cpu`: CPU
// microseconds per connection, both ends together.
double handshake_us(asio::io_context& io, std::uint16_t port, bool tls, const certificates& c,
                    int n, double& cpu) {
  double us = 0;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    const double c0 = cpu_us();
    const auto t0 = clock_type::now();
    // One client reconnecting: its TLS context (CA loaded) is built once, as in a game.
    ember::net::client cl(io.get_executor(), client_options(tls, c));
    for (int i = 0; i < n; ++i) {
      if (auto ec = co_await cl.connect("127.0.0.1", port))
        throw std::runtime_error("connect failed: " + ec.message());
      cl.close();
    }
    us = std::chrono::duration<double, std::micro>(clock_type::now() - t0).count() / n;
    cpu = (cpu_us() - c0) / n;
  }, [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
  io.restart();
  io.run();
  return us;
}

// Heap bytes per idle connection, both ends together: `n` clients connected and handshaken,
// then left alone.
double idle_bytes(asio::io_context& io, std::uint16_t port, bool tls, const certificates& c, int n,
                  asio::io_context& server_io, double& server_openssl) {
  double per = 0;
  auto server_bytes = [&] {
    std::promise<long long> got;
    asio::post(server_io, [&] { got.set_value(openssl_bytes); });
    return got.get_future().get();
  };
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    std::vector<std::unique_ptr<ember::net::client>> clients;
    clients.reserve(n);
    auto opts = client_options(tls, c);
    asio::steady_timer t(io);
    t.expires_after(std::chrono::milliseconds(100));
    co_await t.async_wait(asio::use_awaitable);
    const auto before = mallinfo2().uordblks;
    const long long server_before = server_bytes();
    for (int i = 0; i < n; ++i) {
      clients.push_back(std::make_unique<ember::net::client>(io.get_executor(), opts));
      if (auto ec = co_await clients.back()->connect("127.0.0.1", port))
        throw std::runtime_error("connect failed: " + ec.message());
    }
    t.expires_after(std::chrono::milliseconds(300));  // every write done, buffers trimmed
    co_await t.async_wait(asio::use_awaitable);
    per = (double(mallinfo2().uordblks) - double(before)) / n;
    server_openssl = double(server_bytes() - server_before) / n;
    for (auto& cl : clients) cl->close();
  }, [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
  io.restart();
  io.run();
  return per;
}

// Replies per second with `s.connections` x `s.window` calls in flight.
double echo_rate(asio::io_context& io, std::uint16_t port, bool tls, const certificates& c,
                 const settings& s, double& cpu) {
  std::vector<std::unique_ptr<ember::net::client>> clients;
  std::uint64_t replies = 0, failures = 0;
  bool counting = false, stop = false;
  double rate = 0;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < s.connections; ++i) {
      clients.push_back(std::make_unique<ember::net::client>(io.get_executor(), client_options(tls, c)));
      if (auto ec = co_await clients.back()->connect("127.0.0.1", port))
        throw std::runtime_error("connect failed: " + ec.message());
    }
    int running = 0;
    for (auto& cl : clients)
      for (int w = 0; w < s.window; ++w) {
        ++running;
        asio::co_spawn(io, [&, stub = bench::client_stub(*cl)]() mutable -> asio::awaitable<void> {
          bench::echo_request req;
          req.payload.assign(16, std::byte{0x5a});
          while (!stop) {
            auto r = co_await stub.echo(req);
            if (!r) ++failures;
            else if (counting) ++replies;
          }
          --running;
        }, asio::detached);
      }
    asio::steady_timer t(io);
    t.expires_after(std::chrono::milliseconds(500));  // warm-up
    co_await t.async_wait(asio::use_awaitable);
    counting = true;
    const double c0 = cpu_us();
    const auto t0 = clock_type::now();
    t.expires_after(std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(s.seconds)));
    co_await t.async_wait(asio::use_awaitable);
    counting = false;
    rate = double(replies) / std::chrono::duration<double>(clock_type::now() - t0).count();
    cpu = (cpu_us() - c0) / double(std::max<std::uint64_t>(replies, 1));
    stop = true;
    while (running > 0) {
      t.expires_after(std::chrono::milliseconds(5));
      co_await t.async_wait(asio::use_awaitable);
    }
    for (auto& cl : clients) cl->close();
  }, [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
  io.restart();
  io.run();
  if (failures) std::fprintf(stderr, "  (%llu calls failed)\n", static_cast<unsigned long long>(failures));
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::atof(argv[++i]) : 0.0; };
    if (a == "--connections") s.connections = int(next());
    else if (a == "--window") s.window = int(next());
    else if (a == "--seconds") s.seconds = next();
    else if (a == "--handshakes") s.handshakes = int(next());
    else if (a == "--rounds") s.rounds = int(next());
    else {
      const bool help = a == "--help" || a == "-h";
      std::fprintf(help ? stdout : stderr,
                   "usage: %s [--connections C] [--window W] [--seconds D] [--handshakes N] "
                   "[--rounds R]\n", argv[0]);
      return help ? EXIT_SUCCESS : EXIT_FAILURE;
    }
  }
  ember::log::set_level(ember::log::level::warn);
  CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free);  // before OpenSSL's first
  certificates certs;
  // Two servers on one io thread: plain and TLS, the same in every other respect.
  asio::io_context server_io;
  echo_service service;
  auto make = [&](bool tls) {
    ember::net::server_options o;
    o.name = tls ? "tls" : "tcp";
    o.max_request_rate = 0;
    o.max_sessions_per_address = o.max_sessions;
    o.resume_grace = std::chrono::milliseconds(0);
    if (tls) o.tls = ember::net::tls_server_options{.cert_file = certs.cert, .key_file = certs.key};
    ember::net::dispatch_table t;
    bench::register_commands(t, service);
    auto srv = std::make_unique<ember::net::server>(server_io, o, std::move(t));
    srv->start();
    return srv;
  };
  auto tcp = make(false);
  auto tls = make(true);
  auto guard = asio::make_work_guard(server_io);
  std::thread server_thread([&] { server_io.run(); });

  asio::io_context client_io;
  double best_hs[2] = {1e18, 1e18}, best_rate[2] = {0, 0};
  double best_hs_cpu[2] = {1e18, 1e18}, best_echo_cpu[2] = {1e18, 1e18};
  for (int r = 0; r < s.rounds; ++r)
    for (int mode = 0; mode < 2; ++mode) {
      const std::uint16_t port = mode ? tls->port() : tcp->port();
      double hs_cpu = 0, echo_cpu = 0;
      const double us = handshake_us(client_io, port, mode == 1, certs, s.handshakes, hs_cpu);
      const double rate = echo_rate(client_io, port, mode == 1, certs, s, echo_cpu);
      std::printf("round %d %-3s: %8.1f us per connection (%6.1f us CPU), %9.0f echoes/s "
                  "(%dx%d; %.2f us CPU each)\n", r + 1, mode ? "tls" : "tcp", us, hs_cpu, rate,
                  s.connections, s.window, echo_cpu);
      best_hs_cpu[mode] = std::min(best_hs_cpu[mode], hs_cpu);
      best_echo_cpu[mode] = std::min(best_echo_cpu[mode], echo_cpu);
      std::fflush(stdout);
      best_hs[mode] = std::min(best_hs[mode], us);
      best_rate[mode] = std::max(best_rate[mode], rate);
    }
  std::printf("best: connection %.1f us (tcp) vs %.1f us (tls): TLS adds %.1f us, x%.2f\n",
              best_hs[0], best_hs[1], best_hs[1] - best_hs[0], best_hs[1] / best_hs[0]);
  std::printf("best: echo %.0f/s (tcp) vs %.0f/s (tls): tls/tcp = %.2f\n", best_rate[0],
              best_rate[1], best_rate[1] / best_rate[0]);
  // Memory of idle connections (once, after the timed phases).
  double ossl_tcp = 0, ossl_tls = 0;
  const double idle_tcp = idle_bytes(client_io, tcp->port(), false, certs, 500, server_io, ossl_tcp);
  const double idle_tls = idle_bytes(client_io, tls->port(), true, certs, 500, server_io, ossl_tls);
  std::printf("idle connection, heap of both ends (a client's own TLS context included): %.0f B "
              "(tcp) vs %.0f B (tls); OpenSSL's heap per idle server session: %.0f B\n",
              idle_tcp, idle_tls, ossl_tls);
  std::printf("best CPU: connection %.1f us (tcp) vs %.1f us (tls), x%.2f; echo %.2f us (tcp) "
              "vs %.2f us (tls), x%.2f\n", best_hs_cpu[0], best_hs_cpu[1],
              best_hs_cpu[1] / best_hs_cpu[0], best_echo_cpu[0], best_echo_cpu[1],
              best_echo_cpu[1] / best_echo_cpu[0]);
  guard.reset();
  server_io.stop();
  server_thread.join();
  return EXIT_SUCCESS;
}
