// ember-data-bench: the data layer (include/ember/data/) against plain use of the clients it is
// built on, each figure next to a baseline measured in the same run (these machines are noisy,
// so the ratios are what to read):
//
//   get        table.get, C coroutines, rows already cached   vs  memcache::get of the same keys
//   get_many   table.get_many of 16 keys                      vs  memcache::get_multi of them
//   cas        table.update(k, ++gold) on H hot rows          vs  memcache get + cas loop (retry on exists)
//   flush      store.flush_all() of N inserted rows           vs  plain ODBC parameter-array INSERTs
//   flush-upd  store.flush_all() of N updated rows            vs  plain ODBC parameter-array UPDATEs
//
// It starts nothing: give it a memcached (--memcached host:port) and an ODBC connection string
// (--odbc). It drops and recreates its two tables (bench_row, bench_baseline) there, and uses a
// fresh memcached key prefix per run. Rates also come with the CPU time this process (and, with
// --memcached-pid, the memcached server) spent per row, which a noisy neighbour cannot hide.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "bench_support.hpp"
#include "databench.hpp"
#include "ember/data/table.hpp"

namespace {

using ember::bench::cpu_model;
using ember::bench::json_escape;
using ember::bench::own_cpu_seconds;
using ember::bench::run_all;

namespace data = ember::data;
namespace odbc = ember::data::odbc;
using clock_type = std::chrono::steady_clock;
using bench_table = databench::bench_row_table;
using row = databench::bench_row;

struct settings {
  std::string memcached = "127.0.0.1:11211";
  std::string odbc;
  std::string label;  // the database's name in the output (default: the dialect)
  std::string phases = "get,get_many,cas,flush,flush_updates";
  int concurrency = 64;
  int batch = 16;        // keys per get_many
  int hot = 16;          // rows updated by the cas phase
  int rows = 50000;      // rows inserted (and flushed)
  double duration = 2;   // seconds measured per round
  double warmup = 0.5;   // seconds before measuring
  int rounds = 3;        // baseline/ember pairs per timed phase (median reported)
  int flush_rounds = 2;  // the same for the write-back phases (each inserts or updates --rows rows)
  std::size_t mc_workers = 4;
  std::size_t db_connections = 2;
  int memcached_pid = 0;
  std::string journal_dir;
  bool json = false;
  bool quiet = false;
};

// --- measurement helpers ------------------------------------------------------------------

/// user + system CPU seconds of this process (every thread).
/// utime + stime of another process, in seconds (-1 if unreadable).
double process_cpu_seconds(int pid) {
  if (pid <= 0) return -1;
  std::ifstream f(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(f)), {});
  const auto close_paren = text.rfind(')');
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

/// One timed window: what it counted, how long it took, and the CPU spent.
struct sample {
  double rate = 0;         // units per second
  double cpu_us = 0;       // this process's CPU µs per unit
  double mc_cpu_us = -1;   // memcached's CPU µs per unit (with --memcached-pid)
  std::uint64_t units = 0;
  double seconds = 0;
};

/// Starts a window; `finish(units)` turns it into a sample.
struct window {
  explicit window(int mc_pid) : mc_pid(mc_pid), t0(clock_type::now()), cpu0(own_cpu_seconds()),
                                mc0(process_cpu_seconds(mc_pid)) {}
  sample finish(std::uint64_t units) const {
    sample s;
    s.units = units;
    s.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
    s.rate = s.seconds > 0 ? double(units) / s.seconds : 0;
    s.cpu_us = units ? (own_cpu_seconds() - cpu0) * 1e6 / double(units) : 0;
    if (mc0 >= 0 && units) s.mc_cpu_us = (process_cpu_seconds(mc_pid) - mc0) * 1e6 / double(units);
    return s;
  }
  int mc_pid;
  clock_type::time_point t0;
  double cpu0, mc0;
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/// A phase's result: baseline and ember samples (one pair per round) and what they counted.
struct result {
  std::string id;  // the --phases name
  std::string phase, unit, baseline_name, ember_name;
  std::optional<double> target_rate, target_ratio;  // the data layer's targets, for the summary
  std::vector<sample> baseline, ember;
  // write-back: plain ODBC arrays of the table's own versioned upsert (or none), which tells the
  // SQL statement's cost from the layer's
  std::string reference_name;
  std::vector<sample> reference;
  // cas: attempts that lost (exists) per successful update, and updates that gave up
  double baseline_retries = -1, ember_retries = -1;
  std::uint64_t errors = 0;
  std::vector<std::string> problems;  // failed checks

  result(std::string id, std::string phase, std::string unit, std::string baseline_name, std::string ember_name)
      : id(std::move(id)),
        phase(std::move(phase)), unit(std::move(unit)), baseline_name(std::move(baseline_name)),
        ember_name(std::move(ember_name)) {}

  double base_rate() const { return median(rates(baseline)); }
  double ember_rate() const { return median(rates(ember)); }
  double ratio() const { return base_rate() > 0 ? ember_rate() / base_rate() : 0; }
  static std::vector<double> rates(const std::vector<sample>& v) {
    std::vector<double> out;
    for (const auto& s : v) out.push_back(s.rate);
    return out;
  }
  static double med(const std::vector<sample>& v, double sample::*field) {
    std::vector<double> out;
    for (const auto& s : v) out.push_back(s.*field);
    return median(out);
  }
};

/// Shared by the coroutines of one timed run: they loop until `stop`, counting as they go.
struct load_state {
  bool stop = false;
  std::uint64_t units = 0;     // rows read, updates made
  std::uint64_t attempts = 0;  // cas: tries, successful or not
  std::uint64_t errors = 0;
  std::string first_error;
};

asio::awaitable<void> sleep_for(double seconds) {
  asio::steady_timer t(co_await asio::this_coro::executor,
                       std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(seconds)));
  co_await t.async_wait(asio::use_awaitable);
}

/// `c` coroutines run `op(worker, state)` in a loop; after the warm-up, units counted over
/// `duration` seconds make the sample.
template <class Op>
asio::awaitable<sample> timed(const settings& s, Op op, load_state& st) {
  auto body = [&](int worker) -> asio::awaitable<void> {
    while (!st.stop) {
      try {
        co_await op(worker, st);
      } catch (const std::exception& e) {
        if (st.errors++ == 0) st.first_error = e.what();
        if (st.errors > 1000) st.stop = true;  // something is broken: don't spin on it
      }
    }
  };
  // The measuring coroutine stops the workers once the window has passed.
  sample out;
  std::exception_ptr failed;
  auto measure = [&]() -> asio::awaitable<void> {
    co_await sleep_for(s.warmup);
    const auto before = st.units;
    window w(s.memcached_pid);
    co_await sleep_for(s.duration);
    out = w.finish(st.units - before);
    st.stop = true;
  };
  asio::co_spawn(co_await asio::this_coro::executor, measure(), [&](std::exception_ptr e) {
    failed = e;
    st.stop = true;
  });
  co_await run_all(s.concurrency, body);
  // The workers stop when the window ends, so `measure` has finished by now.
  if (failed) std::rethrow_exception(failed);
  co_return out;
}

// --- the bench ----------------------------------------------------------------------------

/// The table's generated SQL for its copy, bench_upsert.
std::string renamed(std::string_view sql) {
  std::string out(sql);
  const std::string from = "\"bench_row\"", to = "\"bench_upsert\"";
  for (auto at = out.find(from); at != std::string::npos; at = out.find(from, at + to.size())) out.replace(at, from.size(), to);
  return out;
}

row make_row(std::int64_t id, std::int64_t i) {
  return row(id, fmt::format("player-{:06}", i), 1000 + i, static_cast<std::int32_t>(i % 100),
             i % 4 == 0 ? std::optional<std::string>(fmt::format("title-{}", i)) : std::nullopt);
}

std::string row_key(std::int64_t id) { return data::cache_key("r", bench_table::name, {}, std::to_string(id)); }

class bench {
 public:
  bench(const settings& s, data::memcache& cache, data::database& db, data::store& store, data::table<bench_table>& t)
      : s_(s), cache_(cache), db_(db), store_(store), table_(t) {}

  std::vector<result> results;
  std::string dialect_name;

  asio::awaitable<void> run() {
    co_await store_.open();
    dialect_name = std::string(data::to_string(db_.dialect()));
    // The rows every phase uses: inserted through the table (so cached, and dirty).
    co_await insert_rows(s_.rows, wants("flush") ? "insert (dirties rows for flush)" : "insert");
    if (wants("flush")) {
      co_await flush_phase(false);
    } else {
      window w(0);
      if (const auto left = co_await store_.flush_all()) throw std::runtime_error(fmt::format("{} rows stayed dirty", left));
      progress("flush (untimed): {} rows in {:.2f} s", s_.rows, w.finish(1).seconds);
    }
    if (wants("get")) co_await get_phase();
    if (wants("get_many")) co_await get_many_phase();
    if (wants("cas")) co_await cas_phase();
    if (wants("flush_updates")) co_await flush_phase(true);
  }

 private:
  bool wants(std::string_view phase) const {
    std::string_view list = s_.phases;
    while (!list.empty()) {
      const auto comma = list.find(',');
      if (list.substr(0, comma) == phase) return true;
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
    return false;
  }

  template <class... Args>
  void progress(fmt::format_string<Args...> f, Args&&... args) const {
    if (!s_.quiet) fmt::print(stderr, "ember-data-bench: {}\n", fmt::format(f, std::forward<Args>(args)...));
  }

  void report_round(const result& r, int round, int total) const {
    const auto& b = r.baseline.back();
    const auto& e = r.ember.back();
    progress("{} round {}/{}: {} {:.0f} {}, {} {:.0f} {} ({:.2f}x); CPU {:.2f} vs {:.2f} us", r.phase, round + 1,
             total, r.baseline_name, b.rate, r.unit, r.ember_name, e.rate, r.unit,
             b.rate > 0 ? e.rate / b.rate : 0, b.cpu_us, e.cpu_us);
  }

  void report_reference(const result& r) const {
    if (!r.reference.empty())
      progress("{}: {} {:.0f} {}", r.phase, r.reference_name, r.reference.back().rate, r.unit);
  }

  void check_errors(result& r, const load_state& st, const char* who) {
    if (st.errors == 0) return;
    r.errors += st.errors;
    r.problems.push_back(fmt::format("{}: {} errors, first: {}", who, st.errors, st.first_error));
  }

  // Inserts `n` rows through the table with C coroutines; their keys go to keys_.
  asio::awaitable<void> insert_rows(int n, const char* what) {
    keys_.clear();
    keys_.reserve(static_cast<std::size_t>(n));
    int next = 0;
    auto body = [&](int) -> asio::awaitable<void> {
      while (next < n) {
        const int i = next++;
        auto r = make_row(0, i);
        auto stored = co_await table_.insert(std::move(r));
        keys_.push_back(stored.id);
      }
    };
    window w(0);
    co_await run_all(s_.concurrency, body);
    const auto sm = w.finish(static_cast<std::uint64_t>(n));
    std::sort(keys_.begin(), keys_.end());
    progress("{}: {} rows through table.insert in {:.2f} s ({:.0f} rows/s, {:.1f} us CPU/row)", what, n, sm.seconds,
             sm.rate, sm.cpu_us);
    if (static_cast<int>(store_.dirty_count()) < n)
      throw std::runtime_error(fmt::format("{} rows inserted but only {} dirty", n, store_.dirty_count()));
  }

  // --- reads

  asio::awaitable<void> get_phase() {
    result r("get", "get", "rows/s", "memcache.get", "table.get");
    for (int round = 0; round < s_.rounds; ++round) {
      for (int who = 0; who < 2; ++who) {
        load_state st;
        std::vector<std::minstd_rand> rng = rngs(round);
        std::uint64_t missing = 0;
        auto op = [&](int w, load_state& st) -> asio::awaitable<void> {
          const auto k = keys_[rng[w]() % keys_.size()];
          if (who == 0) {
            auto key = row_key(k);
            auto item = co_await cache_.get(std::move(key));
            if (!item) ++missing;
          } else {
            auto got = co_await table_.get(k);
            if (!got || got->id != k) ++missing;
          }
          ++st.units;
        };
        auto sm = co_await timed(s_, op, st);
        check_errors(r, st, who ? "table.get" : "memcache.get");
        if (missing) r.problems.push_back(fmt::format("{} cached rows missing", missing));
        (who ? r.ember : r.baseline).push_back(sm);
      }
      report_round(r, round, s_.rounds);
    }
    r.target_rate = 150000;
    results.push_back(std::move(r));
  }

  asio::awaitable<void> get_many_phase() {
    result r("get_many", fmt::format("get_many x{}", s_.batch), "rows/s", "memcache.get_multi", "table.get_many");
    const auto n = static_cast<std::size_t>(s_.batch);
    for (int round = 0; round < s_.rounds; ++round) {
      for (int who = 0; who < 2; ++who) {
        load_state st;
        std::vector<std::minstd_rand> rng = rngs(round);
        std::uint64_t missing = 0;
        auto op = [&](int w, load_state& st) -> asio::awaitable<void> {
          std::vector<std::int64_t> ks(n);
          for (auto& k : ks) k = keys_[rng[w]() % keys_.size()];
          if (who == 0) {
            std::vector<std::string> mkeys;
            mkeys.reserve(n);
            for (auto k : ks) mkeys.push_back(row_key(k));
            auto items = co_await cache_.get_multi(std::move(mkeys));
            for (const auto& i : items)
              if (!i) ++missing;
          } else {
            const auto want = ks;
            auto rows = co_await table_.get_many(std::move(ks));
            for (std::size_t i = 0; i < n; ++i)
              if (!rows[i] || rows[i]->id != want[i]) ++missing;
          }
          st.units += n;
        };
        auto sm = co_await timed(s_, op, st);
        check_errors(r, st, who ? "table.get_many" : "memcache.get_multi");
        if (missing) r.problems.push_back(fmt::format("{} cached rows missing", missing));
        (who ? r.ember : r.baseline).push_back(sm);
      }
      report_round(r, round, s_.rounds);
    }
    r.target_rate = 150000;
    results.push_back(std::move(r));
  }

  std::vector<std::minstd_rand> rngs(int round) const {
    std::vector<std::minstd_rand> out;
    for (int i = 0; i < s_.concurrency; ++i) out.emplace_back(static_cast<unsigned>(round * 100003 + i + 1));
    return out;
  }

  // --- compare-and-swap under contention

  asio::awaitable<void> cas_phase() {
    result r("cas", fmt::format("cas, {} hot rows", s_.hot), "updates/s", "memcache get+cas", "table.update");
    r.target_ratio = 0.8;
    const auto hot = static_cast<std::size_t>(std::min<int>(s_.hot, static_cast<int>(keys_.size())));
    const std::vector<std::int64_t> hot_keys(keys_.begin(), keys_.begin() + static_cast<std::ptrdiff_t>(hot));
    // The baseline's rows: plain keys holding an 8-byte counter padded to a cached row's size.
    auto first_key = row_key(hot_keys.front());
    const auto entry = co_await cache_.get(std::move(first_key));
    if (!entry) throw std::runtime_error("a hot row is not cached");
    const auto size = std::max<std::size_t>(entry->value.size(), 8);
    std::uint64_t base_total = 0, ember_total = 0, base_lost = 0, ember_attempts = 0;
    for (int round = 0; round < s_.rounds; ++round) {
      for (int who = 0; who < 2; ++who) {
        load_state st;
        std::vector<std::minstd_rand> rng = rngs(round);
        std::vector<std::string> base_keys;
        std::vector<std::int64_t> gold_before;
        if (who == 0) {
          for (std::size_t i = 0; i < hot; ++i) {
            base_keys.push_back(fmt::format("cas-baseline:{}:{}", round, i));
            auto key = base_keys.back();
            co_await cache_.set(std::move(key), std::string(size, '\0'));
          }
        } else {
          auto ks = hot_keys;
          const auto got = co_await table_.get_many(std::move(ks));
          for (const auto& g : got) gold_before.push_back(g ? g->gold : -1);
        }
        std::uint64_t done = 0, attempts = 0;  // over the whole run, warm-up included, for the check
        auto op = [&](int w, load_state& st) -> asio::awaitable<void> {
          const auto at = rng[w]() % hot;
          if (who == 0) {
            for (;;) {
              auto key = base_keys[at];
              auto item = co_await cache_.get(std::move(key));
              if (!item) throw std::runtime_error("baseline key missing");
              ++attempts;
              std::uint64_t counter = 0;
              std::memcpy(&counter, item->value.data(), 8);
              ++counter;
              std::memcpy(item->value.data(), &counter, 8);
              auto key2 = base_keys[at];
              if (co_await cache_.cas(std::move(key2), std::move(item->value), item->cas) == data::store_result::stored) break;
            }
          } else {
            co_await table_.update(hot_keys[at], [&attempts](row& x) {
              ++attempts;  // the function runs once per attempt
              ++x.gold;
            });
          }
          ++done;
          ++st.units;
        };
        auto sm = co_await timed(s_, op, st);
        check_errors(r, st, who ? "table.update" : "memcache get+cas");
        // Every success counted exactly once in the rows.
        std::uint64_t sum = 0;
        if (who == 0) {
          auto ks = base_keys;
          const auto items = co_await cache_.get_multi(std::move(ks));
          for (const auto& item : items) {
            std::uint64_t c = 0;
            if (item) std::memcpy(&c, item->value.data(), 8);
            sum += c;
          }
          base_total += done;
          base_lost += attempts - done;
        } else {
          auto ks = hot_keys;
          const auto after = co_await table_.get_many(std::move(ks));
          for (std::size_t i = 0; i < hot; ++i) sum += static_cast<std::uint64_t>((after[i] ? after[i]->gold : 0) - gold_before[i]);
          ember_total += done;
          ember_attempts += attempts;
        }
        if (sum != done)
          r.problems.push_back(fmt::format("{}: {} updates acknowledged but the rows sum to {}", who ? "table" : "baseline",
                                           done, sum));
        (who ? r.ember : r.baseline).push_back(sm);
      }
      report_round(r, round, s_.rounds);
    }
    r.baseline_retries = base_total ? double(base_lost) / double(base_total) : 0;
    r.ember_retries = ember_total ? double(ember_attempts - ember_total) / double(ember_total) : 0;
    progress("{}: retries per update: baseline {:.2f}, table {:.2f}", r.phase, r.baseline_retries, r.ember_retries);
    // The hot rows are dirty now: write them back before the next phase (untimed).
    co_await store_.flush_all();
    results.push_back(std::move(r));
  }

  // --- write-back

  /// The baseline: the same rows as parameter arrays of flush_batch rows, each batch its own
  /// transaction, on one connection of its own (blocking; nothing else runs meanwhile): plain
  /// INSERTs into an empty table, or UPDATEs by key. With `upsert`, the table's own versioned
  /// upsert statement into a copy of its table (bench_upsert) instead, as `version`: what the
  /// SQL statement itself costs, without the layer.
  sample baseline_write(bool update, bool upsert, std::uint64_t version) {
    odbc::connection c(s_.odbc);
    if (!update) c.execute(upsert ? "DELETE FROM bench_upsert" : "DELETE FROM bench_baseline");
    const auto upsert_sql = renamed(bench_table::sql[static_cast<std::size_t>(c.dialect())].upsert);
    const std::string_view sql =
        upsert ? std::string_view(upsert_sql)
        : update ? "UPDATE bench_baseline SET name = ?, gold = ?, level = ?, title = ?, ember_version = ? WHERE id = ?"
                 : "INSERT INTO bench_baseline (id, name, gold, level, title, ember_version) VALUES (?, ?, ?, ?, ?, ?)";
    auto& stmt = c.prepare(sql);
    const bool key_last = update && !upsert;
    std::vector<row> rows;
    rows.reserve(keys_.size());
    for (std::size_t i = 0; i < keys_.size(); ++i)
      rows.push_back(make_row(static_cast<std::int64_t>(i + 1), static_cast<std::int64_t>(i + version)));
    window w(0);
    std::int64_t affected = 0;
    for (std::size_t at = 0; at < rows.size(); at += bench_table::flush_batch) {
      const auto end = std::min(rows.size(), at + bench_table::flush_batch);
      std::vector<odbc::params> batch;
      batch.reserve(end - at);
      for (std::size_t i = at; i < end; ++i) {
        auto p = data::row_values<bench_table>(rows[i], version);
        if (key_last) std::rotate(p.begin(), p.begin() + 1, p.end());  // for WHERE id = ?
        batch.push_back(std::move(p));
      }
      affected += stmt.execute_batch(batch).rows_affected;
    }
    auto sm = w.finish(rows.size());
    if (affected != static_cast<std::int64_t>(rows.size()))
      throw std::runtime_error(fmt::format("baseline ({}): {} rows affected of {}", sql.substr(0, 30), affected, rows.size()));
    return sm;
  }

  std::int64_t count(const char* sql) {
    odbc::connection c(s_.odbc);
    auto cur = c.prepare(sql).query();
    return cur.next() ? cur.get<std::int64_t>(0) : -1;
  }

  asio::awaitable<void> flush_phase(bool update) {
    result r(update ? "flush_updates" : "flush", fmt::format("{} {}", update ? "flush updates" : "flush inserts", dialect_name), "rows/s", update ? "ODBC array UPDATE" : "ODBC array INSERT", "store.flush_all");
    r.target_rate = db_.dialect() == data::dialect::postgresql ? 40000 : 150000;
    r.reference_name = "ODBC array upsert (table's SQL)";
    const auto n = keys_.size();
    if (update && count("SELECT COUNT(*) FROM bench_baseline") != static_cast<std::int64_t>(n)) {
      baseline_write(false, false, 1);  // the rows the UPDATEs change (the flush phase did not run)
      baseline_write(false, true, 1);
    }
    for (int round = 0; round < s_.flush_rounds; ++round) {
      // The rows are dirty: inserted (first round of inserts) or updated now.
      if (round > 0 && !update) {
        co_await insert_rows(static_cast<int>(n), "insert (dirties rows for flush)");
      }
      if (update) {
        std::size_t next = 0;
        auto body = [&](int) -> asio::awaitable<void> {
          while (next < n) {
            const auto k = keys_[next++];
            co_await table_.update(k, [](row& x) {
              x.gold += 7;
              x.level = (x.level + 1) % 100;
            });
          }
        };
        window w(0);
        co_await run_all(s_.concurrency, body);
        const auto sm = w.finish(n);
        progress("update: {} rows through table.update in {:.2f} s ({:.0f} rows/s, {:.1f} us CPU/row)", n, sm.seconds,
                 sm.rate, sm.cpu_us);
      }
      if (store_.dirty_count() < n)
        throw std::runtime_error(fmt::format("{} dirty rows, expected {}", store_.dirty_count(), n));
      const std::uint64_t version = update ? 2 + static_cast<std::uint64_t>(round) : 1;
      r.baseline.push_back(baseline_write(update, false, version));
      r.reference.push_back(baseline_write(update, true, version));
      window w(s_.memcached_pid);
      const auto left = co_await store_.flush_all();
      r.ember.push_back(w.finish(n));
      if (left) r.problems.push_back(fmt::format("{} rows stayed dirty after flush_all", left));
      report_round(r, round, s_.flush_rounds);
      report_reference(r);
    }
    // What reached the database, counted with plain queries.
    const auto in_table = count(update ? "SELECT COUNT(*) FROM bench_row WHERE ember_version >= 2"
                                       : "SELECT COUNT(*) FROM bench_row");
    const auto expected = static_cast<std::int64_t>(update ? n : n * static_cast<std::size_t>(s_.flush_rounds));
    if (in_table != expected)
      r.problems.push_back(fmt::format("bench_row holds {} rows, expected {}", in_table, expected));
    const auto in_base = count("SELECT COUNT(*) FROM bench_baseline");
    if (in_base != static_cast<std::int64_t>(n))
      r.problems.push_back(fmt::format("bench_baseline holds {} rows, expected {}", in_base, n));
    rows_in_db_ = in_table;
    results.push_back(std::move(r));
  }

 public:
  std::int64_t rows_in_db_ = -1;

 private:
  const settings& s_;
  data::memcache& cache_;
  data::database& db_;
  data::store& store_;
  data::table<bench_table>& table_;
  std::vector<std::int64_t> keys_;
};

/// Drops the bench's tables and creates the baseline's.
void reset_tables(const std::string& connection) {
  odbc::connection c(connection);
  c.execute("DROP TABLE IF EXISTS bench_row");
  c.execute("DROP TABLE IF EXISTS bench_baseline");
  c.execute("DROP TABLE IF EXISTS bench_upsert");
  c.execute(renamed(bench_table::sql[static_cast<std::size_t>(c.dialect())].create));
  const bool pg = c.dialect() == data::dialect::postgresql;
  c.execute(fmt::format("CREATE TABLE bench_baseline (id {0} NOT NULL PRIMARY KEY, name TEXT NOT NULL, gold {0} NOT NULL, "
                        "level INTEGER NOT NULL, title TEXT, ember_version {0} NOT NULL)",
                        pg ? "BIGINT" : "INTEGER"));
}

void print_json(const settings& s, const bench& b) {
  std::string out = fmt::format(
      "{{\"database\":\"{}\",\"label\":\"{}\",\"rows\":{},\"concurrency\":{},\"batch\":{},\"hot\":{},\"rounds\":{},\"flush_rounds\":{},"
      "\"duration\":{},\"memcache_workers\":{},\"db_connections\":{},\"nproc\":{},\"cpu\":\"{}\","
      "\"rows_in_db\":{},\"results\":[",
      b.dialect_name, json_escape(s.label.empty() ? b.dialect_name : s.label), s.rows, s.concurrency, s.batch, s.hot,
      s.rounds, s.flush_rounds, s.duration, s.mc_workers, s.db_connections, sysconf(_SC_NPROCESSORS_ONLN), json_escape(cpu_model()),
      b.rows_in_db_);
  bool first = true;
  for (const auto& r : b.results) {
    auto samples = [](const std::vector<sample>& v) {
      std::string o;
      for (const auto& x : v) o += fmt::format("{}{:.1f}", o.empty() ? "" : ",", x.rate);
      return o;
    };
    std::string problems;
    for (const auto& p : r.problems) problems += fmt::format("{}\"{}\"", problems.empty() ? "" : ",", json_escape(p));
    out += fmt::format(
        "{}{{\"id\":\"{}\",\"phase\":\"{}\",\"unit\":\"{}\",\"baseline_name\":\"{}\",\"ember_name\":\"{}\",\"baseline\":{:.1f},"
        "\"ember\":{:.1f},\"ratio\":{:.4f},\"baseline_samples\":[{}],\"ember_samples\":[{}],"
        "\"baseline_cpu_us\":{:.3f},\"ember_cpu_us\":{:.3f},\"baseline_mc_cpu_us\":{:.3f},\"ember_mc_cpu_us\":{:.3f},"
        "\"baseline_retries\":{:.3f},\"ember_retries\":{:.3f},\"target_rate\":{},\"target_ratio\":{},\"errors\":{},"
        "\"reference_name\":\"{}\",\"reference\":{:.1f},\"reference_samples\":[{}],\"reference_cpu_us\":{:.3f},"
        "\"problems\":[{}]}}",
        first ? "" : ",", r.id, json_escape(r.phase), r.unit, r.baseline_name, r.ember_name, r.base_rate(), r.ember_rate(),
        r.ratio(), samples(r.baseline), samples(r.ember), result::med(r.baseline, &sample::cpu_us),
        result::med(r.ember, &sample::cpu_us), result::med(r.baseline, &sample::mc_cpu_us),
        result::med(r.ember, &sample::mc_cpu_us), r.baseline_retries, r.ember_retries,
        r.target_rate ? fmt::format("{:.0f}", *r.target_rate) : "null",
        r.target_ratio ? fmt::format("{}", *r.target_ratio) : "null", r.errors, json_escape(r.reference_name),
        median(result::rates(r.reference)), samples(r.reference), result::med(r.reference, &sample::cpu_us), problems);
    first = false;
  }
  out += "]}\n";
  fmt::print("{}", out);
}

void print_table(const settings& s, const bench& b) {
  fmt::print("ember-data-bench: {} ({}), {} rows, {} coroutines, median of {} rounds of {:g} s, nproc {}, {}\n",
             s.label.empty() ? b.dialect_name : s.label, b.dialect_name, s.rows, s.concurrency, s.rounds, s.duration,
             sysconf(_SC_NPROCESSORS_ONLN), cpu_model());
  fmt::print("{:<26} {:<20} {:>12} {:<16} {:>12} {:>6}  {:>17}  {}\n", "phase", "baseline", "rate", "ember", "rate",
             "ratio", "CPU us/unit b/e", "target");
  for (const auto& r : b.results) {
    std::string target;
    if (r.target_rate) target = fmt::format(">= {:.0f} {} {}", *r.target_rate, r.unit, r.ember_rate() >= *r.target_rate ? "met" : "MISSED");
    if (r.target_ratio) target = fmt::format(">= {:.1f}x baseline {}", *r.target_ratio, r.ratio() >= *r.target_ratio ? "met" : "MISSED");
    fmt::print("{:<26} {:<20} {:>12.0f} {:<16} {:>12.0f} {:>5.2f}x  {:>8.2f}/{:<8.2f}  {}\n", r.phase, r.baseline_name,
               r.base_rate(), r.ember_name, r.ember_rate(), r.ratio(), result::med(r.baseline, &sample::cpu_us),
               result::med(r.ember, &sample::cpu_us), target);
    if (!r.reference.empty())
      fmt::print("{:<26} {} {:.0f} {} ({:.2f} us CPU/row): store.flush_all is {:.2f}x of it\n", "", r.reference_name,
                 median(result::rates(r.reference)), r.unit, result::med(r.reference, &sample::cpu_us),
                 r.ember_rate() / std::max(1.0, median(result::rates(r.reference))));
    if (r.ember_retries >= 0)
      fmt::print("{:<26} retries per update: baseline {:.2f}, table {:.2f}\n", "", r.baseline_retries, r.ember_retries);
    for (const auto& p : r.problems) fmt::print("{:<26} PROBLEM: {}\n", "", p);
  }
}

}  // namespace

int main(int argc, char** argv) {
  settings s;
  CLI::App app{"ember-data-bench: the data layer's tables against plain memcached and ODBC, in one run"};
  app.add_option("-m,--memcached", s.memcached, "memcached host:port (a throw-away one: keys are left behind)");
  app.add_option("-o,--odbc", s.odbc, "ODBC connection string (its bench_row and bench_baseline tables are dropped)")
      ->required();
  app.add_option("--label", s.label, "the database's name in the output");
  app.add_option("--phases", s.phases, "comma-separated: get,get_many,cas,flush,flush_updates");
  app.add_option("-c,--concurrency", s.concurrency, "coroutines issuing requests")->check(CLI::Range(1, 100000));
  app.add_option("--batch", s.batch, "keys per get_many")->check(CLI::Range(1, 1000));
  app.add_option("--hot", s.hot, "rows the cas phase updates")->check(CLI::Range(1, 100000));
  app.add_option("-n,--rows", s.rows, "rows inserted, read and written back")->check(CLI::Range(16, 10000000));
  app.add_option("--duration", s.duration, "seconds measured per round")->check(CLI::Range(0.05, 3600.0));
  app.add_option("--warmup", s.warmup, "seconds before measuring")->check(CLI::Range(0.0, 600.0));
  app.add_option("--rounds", s.rounds, "baseline/ember pairs per phase (the median is reported)")->check(CLI::Range(1, 100));
  app.add_option("--flush-rounds", s.flush_rounds, "baseline/ember pairs per write-back phase")->check(CLI::Range(1, 100));
  app.add_option("--memcache-workers", s.mc_workers, "memcache worker threads")->check(CLI::Range(1, 64));
  app.add_option("--db-connections", s.db_connections, "database pool connections")->check(CLI::Range(1, 64));
  app.add_option("--memcached-pid", s.memcached_pid, "report memcached's CPU time per unit (/proc/PID/stat)");
  app.add_option("--journal-dir", s.journal_dir, "where the store's journal goes (default: a temp directory)");
  app.add_flag("--json", s.json, "print the results as JSON");
  app.add_flag("-q,--quiet", s.quiet, "no progress lines");
  CLI11_PARSE(app, argc, argv);

  namespace fs = std::filesystem;
  fs::path dir;
  if (s.journal_dir.empty()) {
    auto tmpl = (fs::temp_directory_path() / "ember-data-bench-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) {
      std::fprintf(stderr, "ember-data-bench: cannot create a temp directory\n");
      return 2;
    }
    dir = tmpl;
  } else {
    dir = s.journal_dir;
    fs::create_directories(dir);
  }
  int status = 0;
  try {
    reset_tables(s.odbc);
    const auto prefix = fmt::format("edb{}.{}:", ::getpid(),
                                    std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch()).count());
    data::memcache_options mo;
    mo.servers = {s.memcached};
    mo.key_prefix = prefix;
    mo.workers = s.mc_workers;
    data::memcache cache(mo);
    data::database_options dbo;
    dbo.connections = s.db_connections;
    data::database db(s.odbc, dbo);
    data::store_options so;
    so.journal = dir / "bench.journal";
    data::store store(cache, db, so);
    data::table<bench_table> table(store);
    bench b(s, cache, db, store, table);

    asio::io_context io(1);
    std::exception_ptr error;
    asio::co_spawn(io, b.run(), [&](std::exception_ptr e) { error = e; });
    io.run();
    if (error) std::rethrow_exception(error);
    if (s.json) print_json(s, b);
    else print_table(s, b);
    for (const auto& r : b.results)
      if (!r.problems.empty()) status = 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ember-data-bench: %s\n", e.what());
    status = 2;
  }
  std::error_code ec;
  if (s.journal_dir.empty()) fs::remove_all(dir, ec);
  return status;
}
