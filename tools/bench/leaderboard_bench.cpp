// leaderboard_bench: one board of N records in ember's rank index (the in-memory half of the
// leaderboard module): writes/s, and the latency of a player's rank and of a page of 100 at
// random places, beside std::set doing the same writes (a balanced tree that keeps order but
// not ranks) in the same run.
//
// With --service, the whole module instead: N records written through
// ember::modules::leaderboard::service (each a record row through the data layer: memcached,
// the journal, write-back to SQLite or, with --pg, a throw-away PostgreSQL), then writes that
// change existing records, the write-back drained, the rank and page latencies through the
// service (records with their metadata), and the rebuild of the board from the database by a
// fresh process's start().
//
// usage: leaderboard_bench [--records N] [--writes N] [--queries N]
//        leaderboard_bench --service [--pg] [--records N] [--writes N] [--queries N] [--concurrency N]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <optional>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "ember/data/store.hpp"
#include "ember/modules/leaderboard/leaderboard.hpp"
#include "ember/modules/leaderboard/rank_index.hpp"
#include "support/memcached.hpp"
#include "support/postgres.hpp"

using namespace ember::modules::leaderboard;
using clk = std::chrono::steady_clock;

namespace {

double seconds_since(clk::time_point t) { return std::chrono::duration<double>(clk::now() - t).count(); }

double percentile(std::vector<double>& v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<std::size_t>(p * double(v.size())))];
}

/// CPU seconds (user + system) this process and `other` (a pid: memcached) used so far.
double cpu_seconds(int other) {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  double s = double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  if (FILE* f = std::fopen(("/proc/" + std::to_string(other) + "/stat").c_str(), "r")) {
    char buf[1024] = {};
    const auto n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = 0;
    // fields after the command's closing parenthesis: state is field 3, utime 14, stime 15
    if (const char* p = std::strrchr(buf, ')')) {
      unsigned long long ut = 0, st = 0;
      if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
        s += double(ut + st) / double(::sysconf(_SC_CLK_TCK));
    }
  }
  return s;
}

struct service_run {
  std::size_t records, writes, queries, concurrency;
  bool pg;
};

/// Runs `count` calls of `one(i)` with `concurrency` of them in flight; returns the seconds.
template <class One>
asio::awaitable<double> in_flight(std::size_t count, std::size_t concurrency, One one) {
  const auto t = clk::now();
  std::size_t next = 0, running = 0;
  std::exception_ptr failed;
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer done(ex, asio::steady_timer::time_point::max());
  auto worker = [&]() -> asio::awaitable<void> {
    try {
      while (next < count && !failed) co_await one(next++);
    } catch (...) {
      failed = std::current_exception();
    }
    if (--running == 0) done.cancel();
  };
  for (std::size_t i = 0; i < concurrency; ++i) {
    ++running;
    asio::co_spawn(ex, worker(), asio::detached);
  }
  try {
    co_await done.async_wait(asio::use_awaitable);
  } catch (...) {
  }
  if (failed) std::rethrow_exception(failed);
  co_return seconds_since(t);
}

int run_service(const service_run& r) {
  namespace fs = std::filesystem;
  namespace el = ember_leaderboard;
  const auto dir = fs::temp_directory_path() / ("ember-lb-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  ember::test::memcached_server mc(ember::test::memcached_config{.memory_mb = 2048});
  std::optional<ember::test::postgres> pg;
  std::string odbc = "Driver=SQLite3;Database=" + (dir / "bench.db").string() + ";";
  if (r.pg) {
    pg.emplace();
    odbc = pg->connection_string();
  }
  options o;
  o.boards.push_back(options::parse_board("bench desc best metadata=64"));
  std::mt19937_64 rng(42);
  std::vector<double> rank_us, page_us;
  double fill = 0, update = 0, drain = 0, rebuild = 0, fill_cpu = 0, update_cpu = 0;
  const int mc_pid = static_cast<int>(mc.pid());
  std::size_t rebuilt = 0;
  {
    asio::io_context io(1);
    ember::data::memcache cache({.servers = {mc.address()}, .key_prefix = "b:"});
    ember::data::database db(odbc, {.connections = 2});
    ember::data::store store(cache, db, {.journal = dir / "a.journal"});
    ember::modules::event_bus bus;
    service s(store, bus, o);
    std::exception_ptr error;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      co_await store.open();
      store.start(io.get_executor());
      co_await s.start();
      std::printf("writing %zu new records through the service (%zu in flight)...\n", r.records, r.concurrency);
      auto c0 = cpu_seconds(mc_pid);
      fill = co_await in_flight(r.records, r.concurrency, [&](std::size_t i) -> asio::awaitable<void> {
        write_request w{static_cast<std::int64_t>(rng() % 1'000'000), 0, "{\"lvl\":" + std::to_string(i % 90) + "}",
                        el::write_operator::board, {}};
        co_await s.write("bench", i + 1, std::move(w));
      });
      fill_cpu = cpu_seconds(mc_pid) - c0;
      std::printf("%zu writes changing existing records (set)...\n", r.writes);
      c0 = cpu_seconds(mc_pid);
      update = co_await in_flight(r.writes, r.concurrency, [&](std::size_t) -> asio::awaitable<void> {
        write_request w{static_cast<std::int64_t>(rng() % 1'000'000), 0, {}, el::write_operator::set, {}};
        co_await s.write("bench", rng() % r.records + 1, std::move(w));
      });
      update_cpu = cpu_seconds(mc_pid) - c0;
      // The write-back of those writes first, so that the reads below measure the read path
      // rather than the flush sharing the io thread.
      std::printf("draining write-back...\n");
      const auto t = clk::now();
      if (co_await store.flush_all() != 0) throw std::runtime_error("rows left unwritten");
      drain = seconds_since(t);
      std::printf("%zu ranks and %zu pages of 100, one at a time...\n", r.queries, r.queries);
      for (std::size_t i = 0; i < r.queries; ++i) {
        auto q = clk::now();
        auto mine = co_await s.rank("bench", 0, rng() % r.records + 1);
        rank_us.push_back(seconds_since(q) * 1e6);
        if (!mine) throw std::runtime_error("a record has no rank");
        const auto at = rng() % r.records + 1;
        q = clk::now();
        auto p = co_await s.around("bench", 0, at, 100);
        page_us.push_back(seconds_since(q) * 1e6);
        if (p.records.size() != 100) throw std::runtime_error("a page is short");
      }
      co_await store.stop();
    }(), [&](std::exception_ptr e) { error = e; });
    io.run();
    if (error) std::rethrow_exception(error);
  }
  {
    // A fresh process takes the board over: the ranks come from the database.
    asio::io_context io(1);
    ember::data::memcache cache({.servers = {mc.address()}, .key_prefix = "b:"});
    ember::data::database db(odbc, {.connections = 2});
    ember::data::store store(cache, db, {.journal = dir / "b.journal"});
    ember::modules::event_bus bus;
    service s(store, bus, o);
    std::exception_ptr error;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      co_await store.open();
      const auto t = clk::now();
      co_await s.start();
      rebuild = seconds_since(t);
      rebuilt = s.size("bench");
      co_await store.stop();
    }(), [&](std::exception_ptr e) { error = e; });
    io.run();
    if (error) std::rethrow_exception(error);
  }
  std::printf("\nthe leaderboard service, one board, %s, one process (io thread + 2 database workers)\n",
              r.pg ? "PostgreSQL" : "SQLite");
  std::printf("%-40s %12.0f /s  (%zu records, %.1f s; %.0f per CPU-second of it and memcached)\n",
              "new records (insert a row each)", double(r.records) / fill, r.records, fill, double(r.records) / fill_cpu);
  std::printf("%-40s %12.0f /s  (%zu writes, %.1f s; %.0f per CPU-second of it and memcached)\n",
              "writes to existing records (set)", double(r.writes) / update, r.writes, update, double(r.writes) / update_cpu);
  std::printf("%-40s %9.1f µs p50 %9.1f µs p99\n", "a player's rank (with its metadata)", percentile(rank_us, 0.5),
              percentile(rank_us, 0.99));
  std::printf("%-40s %9.1f µs p50 %9.1f µs p99\n", "a page of 100 around a player", percentile(page_us, 0.5),
              percentile(page_us, 0.99));
  std::printf("%-40s %12.1f s\n", "write-back left after the writes, drained", drain);
  std::printf("%-40s %12.1f s  (%zu records)\n", "rebuild from the database (start)", rebuild, rebuilt);
  std::error_code ec;
  fs::remove_all(dir, ec);
  return rebuilt == r.records ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t records = 1'000'000, writes = 1'000'000, queries = 20'000, concurrency = 256;
  bool service_mode = false, pg = false;
  for (int i = 1; i < argc; ++i) {
    auto arg = [&](std::size_t& out) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a number\n", argv[i]);
        std::exit(2);
      }
      out = std::strtoull(argv[++i], nullptr, 10);
    };
    if (!std::strcmp(argv[i], "--records")) arg(records);
    else if (!std::strcmp(argv[i], "--writes")) arg(writes);
    else if (!std::strcmp(argv[i], "--queries")) arg(queries);
    else if (!std::strcmp(argv[i], "--concurrency")) arg(concurrency);
    else if (!std::strcmp(argv[i], "--service")) service_mode = true;
    else if (!std::strcmp(argv[i], "--pg")) pg = true;
    else if (!std::strcmp(argv[i], "--help")) {
      std::puts("usage: leaderboard_bench [--records N] [--writes N] [--queries N]\n"
                "One leaderboard of N records in ember's rank index: writes/s (new scores of random\n"
                "players), then p50/p99 of a player's rank and of a page of 100 from a random rank;\n"
                "the same writes into std::set (order without ranks) as the baseline.\n"
                "--service [--pg] [--concurrency N]: the same board through the leaderboard service, each\n"
                "write a record row through the data layer (SQLite, or PostgreSQL with --pg), then the\n"
                "write-back drained and the board rebuilt from the database by a fresh start().");
      return 0;
    } else {
      std::fprintf(stderr, "unknown argument %s (try --help)\n", argv[i]);
      return 2;
    }
  }
  if (records == 0) records = 1;
  if (service_mode) {
    try {
      return run_service({records, writes, queries, std::max<std::size_t>(concurrency, 1), pg});
    } catch (const std::exception& e) {
      std::fprintf(stderr, "leaderboard_bench: %s\n", e.what());
      return 2;
    }
  }
  std::mt19937_64 rng(42);
  auto score = [&] { return static_cast<std::int64_t>(rng() % 1'000'000); };

  rank_index idx;
  auto compare = [&](const rank_key& a, const rank_key& b) { return idx.before(a, b); };
  std::set<rank_key, decltype(compare)> tree(compare);
  std::vector<rank_key> current(records);

  std::printf("filling %zu records...\n", records);
  auto t = clk::now();
  for (std::uint64_t o = 0; o < records; ++o) {
    current[o] = {score(), 0, o, o + 1};
    idx.set(current[o]);
  }
  const double fill = seconds_since(t);
  for (auto& k : current) tree.insert(k);

  std::printf("%zu writes of new scores to random players...\n", writes);
  std::vector<rank_key> next(writes);
  for (std::size_t i = 0; i < writes; ++i) {
    const auto o = rng() % records;
    next[i] = {score(), 0, records + i, o + 1};
  }
  t = clk::now();
  for (auto& k : next) idx.set(k);
  const double index_writes = seconds_since(t);
  t = clk::now();
  for (auto& k : next) {
    tree.erase(current[k.owner - 1]);
    tree.insert(k);
    current[k.owner - 1] = k;
  }
  const double set_writes = seconds_since(t);

  std::printf("%zu rank queries and %zu pages of 100...\n", queries, queries);
  std::vector<double> rank_us, page_us;
  std::uint64_t sink = 0;
  for (std::size_t i = 0; i < queries; ++i) {
    const auto o = rng() % records + 1;
    auto q = clk::now();
    sink += idx.rank(o);
    rank_us.push_back(seconds_since(q) * 1e6);
    const auto first = rng() % records + 1;
    q = clk::now();
    sink += idx.page(first, 100).size();
    page_us.push_back(seconds_since(q) * 1e6);
  }
  std::printf("\none board of %zu records\n", records);
  std::printf("%-34s %12.0f /s\n", "fill (new records)", double(records) / fill);
  std::printf("%-34s %12.0f /s\n", "writes, rank index", double(writes) / index_writes);
  std::printf("%-34s %12.0f /s   (index/set %.2f)\n", "writes, std::set (baseline)", double(writes) / set_writes,
              set_writes / index_writes);
  std::printf("%-34s %9.2f µs p50 %9.2f µs p99\n", "a player's rank", percentile(rank_us, 0.5), percentile(rank_us, 0.99));
  std::printf("%-34s %9.2f µs p50 %9.2f µs p99\n", "a page of 100 from a random rank", percentile(page_us, 0.5),
              percentile(page_us, 0.99));
  std::printf("(checksum %llu)\n", static_cast<unsigned long long>(sink));
  return 0;
}
