// ember-bench: a closed-loop load generator built on ember's client. N connections keep D
// echo requests in flight each for a duration after a warm-up, then print throughput, latency
// percentiles (from a log-linear histogram) and errors by kind; --json for machines.
// With --server-pid it also reports the server's CPU time per request (/proc/PID/stat), the
// figure a load generator that is itself the bottleneck cannot hide; given several times (a
// gateway and the backends behind it), their sum and each process's share.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

#include <CLI/CLI.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "bench.hpp"
#include "bench_server.hpp"
#include "ember/cluster/node.hpp"
#include "ember/cluster/root.hpp"
#include "ember/detail/histogram.hpp"
#include "ember/log.hpp"
#include "ember/net/client.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

struct settings {
  std::string host = "127.0.0.1";
  std::uint16_t port = 7100;
  int connections = 100;
  int depth = 1;
  std::size_t payload = 64;
  double duration = 5;
  double warmup = 1;
  std::string framing = "native";
  int threads = 1;
  std::vector<int> server_pids;
  bool json = false;
  bool quiet = false;
  int idle = 0;
  bool park = false;
  bool no_resume = false;
  int broadcast = 0;
  int rounds = 20;
  bool link = false;
};

/// What one io thread measured.
struct worker_stats {
  ember::detail::histogram latency;
  std::uint64_t ok = 0;
  std::map<std::string, std::uint64_t> errors;
  int connect_failures = 0;
};

/// Shared between threads: the phase and the live counters the progress line shows.
struct run_state {
  std::atomic<bool> measuring{false};
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> done{0};
  std::atomic<std::uint64_t> failed{0};
};

asio::awaitable<void> one_connection(const settings& s, const ember::buffer& body, run_state& st,
                                     worker_stats& w) {
  ember::net::client_options o;
  o.framing = s.framing == "firefly" ? ember::net::framing::firefly : ember::net::framing::native;
  o.default_timeout = std::chrono::seconds(10);
  o.resume = !s.no_resume;
  auto ex = co_await asio::this_coro::executor;
  auto conn = std::make_shared<ember::net::client>(ex, o);
  if (auto ec = co_await conn->connect(s.host, s.port)) {
    ++w.connect_failures;
    ++w.errors["connect: " + ec.message()];
    co_return;
  }
  int running = s.depth;
  for (int d = 0; d < s.depth; ++d) {
    asio::co_spawn(ex, [&, conn]() -> asio::awaitable<void> {
      while (!st.stop.load(std::memory_order_relaxed)) {
        auto t0 = clock_type::now();
        auto r = co_await conn->call_raw(bench::cmd::echo::id, body.view());
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - t0).count();
        bool counted = st.measuring.load(std::memory_order_relaxed);
        if (r) {
          st.done.fetch_add(1, std::memory_order_relaxed);
          if (counted) {
            ++w.ok;
            w.latency.record(static_cast<std::uint64_t>(ns));
          }
        } else {
          st.failed.fetch_add(1, std::memory_order_relaxed);
          if (counted) ++w.errors[r.error().remote() ? fmt::format("status {}", r.error().status) : r.error().code.message()];
          if (!conn->connected()) break;
        }
      }
      --running;
    }, [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
  }
  asio::steady_timer t(ex);
  while (running > 0) {
    t.expires_after(std::chrono::milliseconds(20));
    co_await t.async_wait(asio::use_awaitable);
  }
  conn->close();
}

/// utime + stime of a process, in seconds.
double cpu_seconds(int pid) {
  std::ifstream f(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(f)), {});
  auto close_paren = text.rfind(')');
  if (close_paren == std::string::npos) return -1;
  std::istringstream rest(text.substr(close_paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

/// Resident memory of a process, in bytes (/proc/PID/status VmRSS).
long resident_bytes(int pid) {
  std::ifstream f(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6)) * 1024;
  return -1;
}

void raise_file_limit() {
  rlimit files{};  // every session is a descriptor here too
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);
}

/// Idle mode: opens sessions and holds them, reporting what each costs the server.
int run_idle(const settings& s) {
  if (s.server_pids.size() != 1) {
    std::fprintf(stderr, "--idle needs one --server-pid (a local server whose memory to read)\n");
    return 2;
  }
  raise_file_limit();
  asio::io_context io(1);
  std::vector<std::unique_ptr<ember::net::client>> sessions;
  int failures = 0;
  auto open = [&](int n) -> asio::awaitable<void> {
    for (int i = 0; i < n; ++i) {
      auto c = std::make_unique<ember::net::client>(io.get_executor());
      if (co_await c->connect(s.host, s.port)) ++failures;
      sessions.push_back(std::move(c));
      if (!s.quiet && sessions.size() % 1000 == 0)
        std::fprintf(stderr, "\ropened %zu sessions   ", sessions.size());
    }
  };
  auto settle = [&]() -> asio::awaitable<void> {
    asio::steady_timer t(io, std::chrono::milliseconds(500));
    co_await t.async_wait(asio::use_awaitable);
  };
  long before = 0, after = 0, parked = 0;
  ember::detail::histogram resume_ns;
  int resumed = 0;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    co_await open(100);  // warm-up: one-time allocations of the server are not counted
    co_await settle();
    before = resident_bytes(s.server_pids[0]);
    co_await open(s.idle);
    co_await settle();
    after = resident_bytes(s.server_pids[0]);
    if (s.park) {
      // Resume latency: one session at a time drops its connection and resumes.
      const int probes = std::min<int>(1000, int(sessions.size()));
      for (int i = 0; i < probes; ++i) {
        auto& c = *sessions[i];
        const auto before_resumes = c.resumes();
        const auto t0 = std::chrono::steady_clock::now();
        c.drop_connection();
        asio::steady_timer poll(io);
        while (c.resumes() == before_resumes && c.resuming()) {
          poll.expires_after(std::chrono::microseconds(20));
          co_await poll.async_wait(asio::use_awaitable);
        }
        if (c.resumes() == before_resumes) continue;
        ++resumed;
        resume_ns.record(std::uint64_t(std::chrono::nanoseconds(
            std::chrono::steady_clock::now() - t0).count()));
      }
      // Parked memory: every session loses its connection and cannot come back (its resumes
      // go to a closed port), so the server holds them all parked.
      asio::ip::tcp::acceptor gone(io, {asio::ip::make_address("127.0.0.1"), 0});
      const auto nowhere = gone.local_endpoint().port();
      gone.close();
      for (auto& c : sessions) {
        c->resume_at("127.0.0.1", nowhere);
        c->drop_connection();
      }
      co_await settle();
      parked = resident_bytes(s.server_pids[0]);
    }
    for (auto& c : sessions) c->close();
  }, [&](std::exception_ptr e) {
    io.stop();
    if (e) std::rethrow_exception(e);
  });
  io.run();
  if (!s.quiet) std::fputs("\n", stderr);
  double per_session = double(after - before) / s.idle;
  if (s.park) {
    const double per_parked = double(parked - before) / s.idle;
    auto us = [&](double q) { return double(resume_ns.quantile(q)) / 1e3; };
    if (s.json)
      fmt::print("{{\"idle_sessions\":{},\"failures\":{},\"bytes_per_session\":{:.0f},"
                 "\"bytes_per_parked_session\":{:.0f},\"resumes\":{},\"resume_p50_us\":{:.0f},"
                 "\"resume_p99_us\":{:.0f},\"resume_max_us\":{:.0f}}}\n",
                 s.idle, failures, per_session, per_parked, resumed, us(0.5), us(0.99),
                 double(resume_ns.max()) / 1e3);
    else
      fmt::print("{} sessions ({} failed): {:.0f} bytes per connected session, {:.0f} per parked "
                 "session (connection lost, waiting for a resume); {} resumes one at a time: "
                 "p50 {:.0f} us, p99 {:.0f} us, max {:.0f} us\n",
                 s.idle, failures, per_session, per_parked, resumed, us(0.5), us(0.99),
                 double(resume_ns.max()) / 1e3);
    return failures ? 1 : 0;
  }
  if (s.json)
    fmt::print("{{\"idle_sessions\":{},\"failures\":{},\"rss_before\":{},\"rss_after\":{},"
               "\"bytes_per_session\":{:.0f}}}\n", s.idle, failures, before, after, per_session);
  else
    fmt::print("{} idle sessions ({} failed): server resident memory {:.1f} -> {:.1f} MiB, "
               "{:.0f} bytes per session\n", s.idle, failures, before / 1048576.0,
               after / 1048576.0, per_session);
  return failures ? 1 : 0;
}

/// Broadcast mode (against bench_echo_server): N sessions; the first asks the server to push
/// `tick` to every session, round after round, each round ending when the last session has its
/// push. Measures the time from the request to the first and to the last push received (this
/// process decodes all N pushes on one thread, so that is in the figure too), and the server's
/// own time to queue the N pushes.
int run_broadcast(const settings& s) {
  raise_file_limit();
  asio::io_context io(1);
  std::vector<std::unique_ptr<ember::net::client>> sessions;
  std::uint32_t round = 0;  // the round whose pushes are counted
  std::size_t got = 0, expected = 0;
  std::uint64_t stray = 0;  // a push of another round, or a second one of this round's
  clock_type::time_point first, last;
  ember::detail::histogram to_first, to_last, queued;
  int failures = 0, incomplete = 0;
  double server_cpu = 0;
  std::vector<std::uint32_t> seen;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < s.broadcast; ++i) {
      auto c = std::make_unique<ember::net::client>(io.get_executor());
      c->on_push<bench::tick>([&, i](const bench::tick& t) {
        auto& mine = seen[static_cast<std::size_t>(i)];
        if (t.round != round || mine == round) return void(++stray);
        mine = round;
        const auto now = clock_type::now();
        if (got++ == 0) first = now;
        if (got == expected) last = now;
      });
      if (co_await c->connect(s.host, s.port)) ++failures;
      else ++expected;
      sessions.push_back(std::move(c));
      if (!s.quiet && sessions.size() % 1000 == 0) std::fprintf(stderr, "\ropened %zu sessions   ", sessions.size());
    }
    seen.assign(sessions.size(), 0);
    asio::steady_timer t(io);
    bench::broadcast_request req;
    req.payload.assign(s.payload, std::byte{'x'});
    for (int r = 0; r <= s.rounds && !sessions.empty(); ++r) {  // round 0 warms up
      t.expires_after(std::chrono::milliseconds(50));
      co_await t.async_wait(asio::use_awaitable);
      if (r == 1 && !s.server_pids.empty()) server_cpu = -cpu_seconds(s.server_pids[0]);
      round = req.round = static_cast<std::uint32_t>(r + 1);
      got = 0;
      const auto sent = clock_type::now();
      auto reply = co_await sessions.front()->call<bench::cmd::broadcast>(req);
      // the pushes arrive while the reply is on its way; wait for the rest (bounded)
      for (int waited = 0; got < expected && waited < 5000; ++waited) {
        t.expires_after(std::chrono::milliseconds(1));
        co_await t.async_wait(asio::use_awaitable);
      }
      if (!reply || got < expected) {
        ++incomplete;
        continue;
      }
      if (r == 0) continue;
      to_first.record(static_cast<std::uint64_t>(std::chrono::nanoseconds(first - sent).count()));
      to_last.record(static_cast<std::uint64_t>(std::chrono::nanoseconds(last - sent).count()));
      queued.record(std::uint64_t{reply->queued_us} * 1000);
      if (!s.quiet)
        std::fprintf(stderr, "\rround %d/%d: last push after %.2f ms   ", r, s.rounds,
                     std::chrono::duration<double, std::milli>(last - sent).count());
    }
    if (!s.server_pids.empty()) server_cpu += cpu_seconds(s.server_pids[0]);
    for (auto& c : sessions) c->close();
  }, [&](std::exception_ptr e) {
    io.stop();
    if (e) std::rethrow_exception(e);
  });
  io.run();
  if (!s.quiet) std::fputs("\n", stderr);
  // the server's CPU per push sent (its whole process, measured rounds only)
  const double pushes = double(to_last.count()) * double(expected);
  const double cpu_us = !s.server_pids.empty() && pushes > 0 ? server_cpu * 1e6 / pushes : -1;
  auto ms = [](const ember::detail::histogram& h, double q) { return double(h.quantile(q)) / 1e6; };
  if (s.json)
    fmt::print("{{\"sessions\":{},\"failures\":{},\"rounds\":{},\"incomplete\":{},\"stray\":{},"
               "\"last_p50_ms\":{:.3f},\"last_max_ms\":{:.3f},\"first_p50_ms\":{:.3f},"
               "\"server_queue_p50_ms\":{:.3f},\"server_queue_max_ms\":{:.3f},\"server_cpu_us_per_push\":{:.3f}}}\n",
               expected, failures, to_last.count(), incomplete, stray, ms(to_last, 0.5),
               double(to_last.max()) / 1e6, ms(to_first, 0.5), ms(queued, 0.5), double(queued.max()) / 1e6, cpu_us);
  else
    fmt::print("{} sessions ({} failed to connect), {} rounds ({} incomplete, {} stray pushes)\n"
               "last session has the push  p50 {:.2f} ms  max {:.2f} ms   (first: p50 {:.2f} ms)\n"
               "server queues all pushes   p50 {:.2f} ms  max {:.2f} ms\n"
               "server CPU per push sent   {:.2f} us\n",
               expected, failures, to_last.count(), incomplete, stray, ms(to_last, 0.5),
               double(to_last.max()) / 1e6, ms(to_first, 0.5), ms(queued, 0.5), double(queued.max()) / 1e6, cpu_us);
  return failures || incomplete || stray ? 1 : 0;
}

struct echo_service final : bench::echo_handler {
  asio::awaitable<bench::echo_reply> echo(ember::net::session&, const bench::echo_request& req) override {
    co_return bench::echo_reply{req.payload};
  }
};

/// Link mode: a root and a node in this process, each on an io thread of its own (as two
/// servers would be), joined by one link over loopback; the node keeps D echo calls in flight
/// to the root. Reports calls/s, latency, and this process's CPU per call (both ends).
int run_link(const settings& s) {
  ember::log::set_level(ember::log::level::warn);  // not the join and leave lines
  asio::io_context root_io(1), node_io(1);
  echo_service service;
  auto table = std::make_shared<ember::net::dispatch_table>();
  bench::register_commands(*table, service);
  ember::cluster::root_options ro;
  ro.name = "bench-root";
  ro.secret = "bench";
  ember::cluster::root root(root_io.get_executor(), ro, table);
  root.start();
  ember::cluster::node_options no;
  no.name = "bench-node";
  no.secret = "bench";
  no.root_port = root.port();
  no.root_name = ro.name;
  ember::cluster::node_connector node(node_io.get_executor(), no);
  node.start();
  auto work = asio::make_work_guard(root_io);
  std::thread root_thread([&] { root_io.run(); });

  bench::echo_request req;
  req.payload.assign(s.payload, std::byte{'x'});
  ember::buffer body;
  ember::codec::encode(body, req, ember::codec::encoding::binary);
  const ember::bytes_view body_bytes = body.view();
  worker_stats w;
  double cpu = 0, elapsed = 0;
  asio::co_spawn(node_io, [&]() -> asio::awaitable<void> {
    asio::steady_timer t(node_io);
    for (int i = 0; i < 500 && !node.connected(); ++i) {
      t.expires_after(std::chrono::milliseconds(10));
      co_await t.async_wait(asio::use_awaitable);
    }
    auto l = node.current();
    if (!l || !l->is_open()) {
      ++w.errors["the node did not link to the root in 5 s"];
      co_return;
    }
    const auto start = clock_type::now();
    const auto measure_from = start + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(s.warmup));
    const auto end = measure_from + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(s.duration));
    double cpu0 = -1;
    int running = s.depth;
    for (int d = 0; d < s.depth; ++d)
      asio::co_spawn(node_io, [&]() -> asio::awaitable<void> {
        for (auto now = clock_type::now(); now < end; now = clock_type::now()) {
          if (cpu0 < 0 && now >= measure_from) cpu0 = cpu_seconds(getpid());
          auto r = co_await l->call(bench::cmd::echo::id, ember::net::body_writer::encoded(body_bytes));
          const auto done = clock_type::now();
          if (done < measure_from || done >= end) continue;
          if (!r) {
            ++w.errors[r.error().message];
            continue;
          }
          ++w.ok;
          w.latency.record(static_cast<std::uint64_t>(std::chrono::nanoseconds(done - now).count()));
        }
        --running;
      }, asio::detached);
    while (running > 0) {
      t.expires_after(std::chrono::milliseconds(5));
      co_await t.async_wait(asio::use_awaitable);
    }
    cpu = cpu_seconds(getpid()) - cpu0;
    elapsed = std::chrono::duration<double>(end - measure_from).count();
  }, [&](std::exception_ptr e) {
    node_io.stop();
    if (e) std::rethrow_exception(e);
  });
  node_io.run();
  work.reset();
  root_io.stop();
  root_thread.join();
  std::uint64_t errors = 0;
  for (auto& [k, v] : w.errors) errors += v;
  const double rps = elapsed > 0 ? double(w.ok) / elapsed : 0;
  const double cpu_us = w.ok ? cpu * 1e6 / double(w.ok) : -1;
  auto us = [&](double q) { return double(w.latency.quantile(q)) / 1000.0; };
  if (s.json)
    fmt::print("{{\"link_depth\":{},\"payload\":{},\"seconds\":{:.3f},\"calls\":{},\"cps\":{:.1f},"
               "\"p50_us\":{:.1f},\"p99_us\":{:.1f},\"max_us\":{:.1f},\"cpu_us_per_call\":{:.3f},\"errors\":{}}}\n",
               s.depth, s.payload, elapsed, w.ok, rps, us(0.5), us(0.99), double(w.latency.max()) / 1000.0, cpu_us,
               errors);
  else {
    fmt::print("one link, {} calls in flight, {} B payload, {:.1f} s: {} calls ({:.0f}/s)\n", s.depth, s.payload,
               elapsed, w.ok, rps);
    fmt::print("latency   p50 {:.1f} us  p99 {:.1f} us  max {:.1f} us\n", us(0.5), us(0.99),
               double(w.latency.max()) / 1000.0);
    fmt::print("CPU       {:.2f} us per call (root and node together)\n", cpu_us);
    fmt::print("errors    {}\n", errors);
    for (auto& [k, v] : w.errors) fmt::print("  {:>8}  {}\n", v, k);
  }
  return errors || w.ok == 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  settings s;
  CLI::App app{"ember-bench: closed-loop echo load against an ember (or baseline) server"};
  app.add_option("--host", s.host, "server address");
  app.add_option("-p,--port", s.port, "server port");
  app.add_option("-c,--connections", s.connections, "connections")->check(CLI::Range(1, 100000));
  app.add_option("-d,--depth", s.depth, "requests in flight per connection")->check(CLI::Range(1, 4096));
  app.add_option("--payload", s.payload, "payload bytes per request")->check(CLI::Range(0, 1 << 20));
  app.add_option("--duration", s.duration, "seconds measured")->check(CLI::Range(0.1, 3600.0));
  app.add_option("--warmup", s.warmup, "seconds before measuring")->check(CLI::Range(0.0, 600.0));
  app.add_option("--framing", s.framing, "native or firefly")->check(CLI::IsMember({"native", "firefly"}));
  app.add_option("-t,--threads", s.threads, "io threads of the load generator")->check(CLI::Range(1, 64));
  app.add_option("--server-pid", s.server_pids, "report this local server's CPU time per request "
                 "(repeat it for several processes: their sum and each one's)");
  app.add_flag("--json", s.json, "print the summary as JSON");
  app.add_option("--idle", s.idle, "idle mode: open N sessions, hold them, report the server's "
                 "memory per session (needs --server-pid)")->check(CLI::Range(1, 1000000));
  app.add_flag("--no-resume", s.no_resume, "native: sessions end with their connection (no "
               "acknowledgements, nothing kept for a resume), to measure what resuming costs");
  app.add_flag("--park", s.park, "with --idle: also time 1,000 resumes one at a time, then lose every "
               "connection for good and report the memory of a parked session");
  app.add_option("--broadcast", s.broadcast, "broadcast mode: open N sessions; one asks bench_echo_server "
                 "to push to all of them, --rounds times; report the time until the last has it")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--rounds", s.rounds, "broadcasts measured in broadcast mode")->check(CLI::Range(1, 100000));
  app.add_flag("--link", s.link, "link mode: a root and a node in this process (a thread each), the node "
               "keeping --depth echo calls in flight on their one link; no server needed");
  app.add_flag("-q,--quiet", s.quiet, "no progress line");
  CLI11_PARSE(app, argc, argv);
  if (s.link) return run_link(s);
  if (s.idle) return run_idle(s);
  if (s.broadcast) return run_broadcast(s);

  bench::echo_request req;
  req.payload.assign(s.payload, std::byte{'x'});
  ember::buffer body;
  ember::codec::encode(body, req, ember::codec::encoding::binary);

  run_state st;
  std::vector<worker_stats> stats(static_cast<std::size_t>(s.threads));
  std::vector<std::thread> threads;
  for (int t = 0; t < s.threads; ++t) {
    threads.emplace_back([&, t] {
      asio::io_context io(1);
      int mine = s.connections / s.threads + (t < s.connections % s.threads ? 1 : 0);
      for (int c = 0; c < mine; ++c)
        asio::co_spawn(io, one_connection(s, body, st, stats[static_cast<std::size_t>(t)]),
                       [](std::exception_ptr e) {
                         if (e) std::rethrow_exception(e);
                       });
      io.run();
    });
  }

  auto progress = [&](const char* phase, double seconds) {
    auto start = clock_type::now();
    std::uint64_t last = st.done.load();
    const std::chrono::duration<double> length(seconds);
    while (clock_type::now() - start < length) {
      std::chrono::duration<double> left = length - (clock_type::now() - start);
      std::this_thread::sleep_for(std::min(std::chrono::duration<double>(1.0), left));
      std::uint64_t now = st.done.load();
      if (!s.quiet)
        std::fprintf(stderr, "\r%-8s %5.1fs  %10.0f req/s  %llu errors   ", phase,
                     std::chrono::duration<double>(clock_type::now() - start).count(),
                     double(now - last), static_cast<unsigned long long>(st.failed.load()));
      last = now;
    }
  };
  progress("warm-up", s.warmup);
  std::vector<double> cpu0;
  for (int pid : s.server_pids) cpu0.push_back(cpu_seconds(pid));
  auto t0 = clock_type::now();
  st.measuring = true;
  progress("measure", s.duration);
  st.measuring = false;
  double elapsed = std::chrono::duration<double>(clock_type::now() - t0).count();
  std::vector<double> cpu_each;  // CPU µs per request of each server process
  for (std::size_t i = 0; i < s.server_pids.size(); ++i)
    cpu_each.push_back(cpu_seconds(s.server_pids[i]) - cpu0[i]);
  st.stop = true;
  for (auto& th : threads) th.join();
  if (!s.quiet) std::fputs("\n", stderr);

  worker_stats all;
  for (auto& w : stats) {
    all.latency.merge(w.latency);
    all.ok += w.ok;
    all.connect_failures += w.connect_failures;
    for (auto& [k, v] : w.errors) all.errors[k] += v;
  }
  std::uint64_t error_count = 0;
  for (auto& [k, v] : all.errors) error_count += v;
  double rps = double(all.ok) / elapsed;
  auto us = [&](double q) { return double(all.latency.quantile(q)) / 1000.0; };
  double cpu_us = (!cpu_each.empty() && all.ok) ? 0 : -1;
  for (auto& c : cpu_each) {
    c = all.ok ? c * 1e6 / double(all.ok) : -1;
    if (cpu_us >= 0) cpu_us += c;
  }
  std::string each_json, each_text;
  for (double c : cpu_each) {
    each_json += fmt::format("{}{:.3f}", each_json.empty() ? "" : ",", c);
    each_text += fmt::format("{}{:.2f}", each_text.empty() ? "" : " + ", c);
  }
  if (s.json) {
    std::string errors;
    for (auto& [k, v] : all.errors) errors += fmt::format("{}\"{}\":{}", errors.empty() ? "" : ",", k, v);
    fmt::print("{{\"connections\":{},\"depth\":{},\"payload\":{},\"framing\":\"{}\",\"seconds\":{:.3f},"
               "\"requests\":{},\"rps\":{:.1f},\"p50_us\":{:.1f},\"p90_us\":{:.1f},\"p99_us\":{:.1f},"
               "\"p999_us\":{:.1f},\"max_us\":{:.1f},\"server_cpu_us_per_request\":{:.3f},"
               "\"server_cpu_us_per_request_each\":[{}],\"errors\":{{{}}}}}\n",
               s.connections, s.depth, s.payload, s.framing, elapsed, all.ok, rps, us(0.5), us(0.9),
               us(0.99), us(0.999), double(all.latency.max()) / 1000.0, cpu_us, each_json, errors);
  } else {
    fmt::print("{} connections x {} in flight, {} B payload, {} framing, {:.1f} s\n", s.connections,
               s.depth, s.payload, s.framing, elapsed);
    fmt::print("requests  {} ({:.0f}/s)\n", all.ok, rps);
    fmt::print("latency   p50 {:.1f} us  p90 {:.1f} us  p99 {:.1f} us  p99.9 {:.1f} us  max {:.1f} us\n",
               us(0.5), us(0.9), us(0.99), us(0.999), double(all.latency.max()) / 1000.0);
    if (cpu_us >= 0)
      fmt::print("server    {:.2f} us CPU per request{}\n", cpu_us,
                 cpu_each.size() > 1 ? " (" + each_text + ")" : std::string());
    fmt::print("errors    {}\n", error_count);
    for (auto& [k, v] : all.errors) fmt::print("  {:>8}  {}\n", v, k);
  }
  return all.connect_failures == s.connections || all.ok == 0 ? 1 : 0;
}
