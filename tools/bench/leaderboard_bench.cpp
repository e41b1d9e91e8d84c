// leaderboard_bench: one board of N records in ember's rank index (the in-memory half of the
// leaderboard module): writes/s, and the latency of a player's rank and of a page of 100 at
// random places, beside std::set doing the same writes (a balanced tree that keeps order but
// not ranks) in the same run.
//
// usage: leaderboard_bench [--records N] [--writes N] [--queries N]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "ember/modules/leaderboard/rank_index.hpp"

using namespace ember::modules::leaderboard;
using clk = std::chrono::steady_clock;

namespace {

double seconds_since(clk::time_point t) { return std::chrono::duration<double>(clk::now() - t).count(); }

double percentile(std::vector<double>& v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<std::size_t>(p * double(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t records = 1'000'000, writes = 1'000'000, queries = 20'000;
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
    else if (!std::strcmp(argv[i], "--help")) {
      std::puts("usage: leaderboard_bench [--records N] [--writes N] [--queries N]\n"
                "One leaderboard of N records in ember's rank index: writes/s (new scores of random\n"
                "players), then p50/p99 of a player's rank and of a page of 100 from a random rank;\n"
                "the same writes into std::set (order without ranks) as the baseline.");
      return 0;
    } else {
      std::fprintf(stderr, "unknown argument %s (try --help)\n", argv[i]);
      return 2;
    }
  }
  if (records == 0) records = 1;
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
