// ember-modules-bench: the gameplay modules (docs/modules/) over a real memcached (one it starts
// and stops by PID) and a real database (a temporary SQLite file, or with --pg a throw-away
// PostgreSQL it starts), each figure next to a baseline measured in the same run (these
// machines are noisy, so the ratios are what to read):
//
//   sign_in   accounts.sign_in_device (new devices, then existing ones)      no baseline
//             accounts.sign_in_password (existing accounts, Argon2id)        vs crypto_pwhash_str_verify
//                                                                               on as many threads
//   friends   friends.list of a player with N friends                         vs table.get_many of N rows
//   mail      mail.claim (gold and an item, one transaction, exactly once)    vs wallet.change alone
//   wallet    wallet.change transfers among a few players (contended)         vs transfers between
//                                                                               distinct players
//   chat      chat.send to a channel of M members, sessions of real clients   vs the backend's broadcast
//             split over two cluster::gateways in this process, the chat        of the same push
//             service on a backend linked to both (--chat-via servers: two
//             net::servers serving chat themselves)
//
// Every loop is bounded by a count and a time. Checks (a failed one is a PROBLEM line and exit
// status 1): every claim granted once (balances and items counted, a second claim grants
// nothing), transfers leave the total gold unchanged (through the service and in the
// database after write-back), every chat line reached every member exactly once.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <sodium.h>

#include "bench_support.hpp"
#include "databench.hpp"
#include "ember/cluster/backend.hpp"
#include "ember/cluster/gateway.hpp"
#include "ember/cluster/node.hpp"
#include "ember/cluster/root.hpp"
#include "ember/data/table.hpp"
#include "ember/modules/accounts/accounts.hpp"
#include "ember/modules/chat/chat.hpp"
#include "ember/modules/chat/detail/ember_chat_client.hpp"
#include "ember/modules/friends/friends.hpp"
#include "ember/modules/inventory/inventory.hpp"
#include "ember/modules/mail/mail.hpp"
#include "ember/modules/notifications/notifications.hpp"
#include "ember/modules/wallet/wallet.hpp"
#include "ember/net/client.hpp"
#include "ember/net/server.hpp"
#include "support/memcached.hpp"
#include "support/postgres.hpp"

namespace {

using ember::bench::cpu_model;
using ember::bench::json_escape;
using ember::bench::own_cpu_seconds;
using ember::bench::run_all;

namespace data = ember::data;
namespace mod = ember::modules;
namespace acc = ember::modules::accounts;
namespace ch = ember::modules::chat;
namespace ec = ember_chat;
namespace em = ember_mail;
using clock_type = std::chrono::steady_clock;

struct settings {
  std::string phases = "sign_in,friends,mail,wallet,chat";
  double duration = 3;          // seconds, at most, of one measured loop
  std::uint64_t max_ops = 200000;  // operations, at most, of one measured loop
  int concurrency = 64;         // coroutines of a loop
  std::size_t hashing_threads = 2;
  bool fast_hash = false;       // libsodium's smallest limits (the smoke test)
  int friends = 100;
  int mails = 3200;             // mails sent (and claimable) for the claim loop
  int players = 8;              // players of the contended transfers
  int members = 1000;           // chat channel members, sessions split over two servers
  int lines = 200;              // chat lines, one at a time (then as many again, pipelined)
  std::string chat_via = "gateways";  // or "servers": two net::servers of this process
  bool pg = false;
  bool json = false;
  bool quiet = false;
};

// --- measurement ---------------------------------------------------------------------------

double micros(clock_type::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto at = static_cast<std::size_t>(p * double(v.size() - 1) + 0.5);
  return v[std::min(at, v.size() - 1)];
}

/// One measured loop: operations done, how long, latencies, CPU of this process per op.
struct stats {
  std::uint64_t ops = 0, errors = 0;
  double seconds = 0, rate = 0, p50_us = 0, p99_us = 0, cpu_us = 0;
  std::string first_error;
};

stats summarize(std::vector<double>& lat, std::uint64_t ops, double seconds, double cpu) {
  stats s;
  s.ops = ops;
  s.seconds = seconds;
  s.rate = seconds > 0 ? double(ops) / seconds : 0;
  s.p50_us = percentile(lat, 0.5);
  s.p99_us = percentile(lat, 0.99);
  s.cpu_us = ops ? cpu * 1e6 / double(ops) : 0;
  return s;
}

/// A phase's result: the module's figure and its baseline's.
struct result {
  result(std::string id, std::string phase, std::string unit = "ops/s")
      : id(std::move(id)), phase(std::move(phase)), unit(std::move(unit)) {}
  std::string id, phase, unit;
  stats ember;
  std::string baseline_name;
  std::optional<stats> baseline;
  std::vector<std::string> notes, problems;
  double ratio() const { return baseline && baseline->rate > 0 ? ember.rate / baseline->rate : 0; }
};

asio::awaitable<void> sleep_for(std::chrono::microseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

/// `workers` coroutines run `op(worker, i)` (an awaitable<bool>: false when that worker has
/// nothing left) until `max_ops` were started or `seconds` passed; errors are counted (the
/// loop gives up after 100).
template <class Op>
asio::awaitable<stats> measure(int workers, std::uint64_t max_ops, double seconds, Op& op) {
  std::vector<double> lat;
  std::uint64_t next = 0, done = 0, errors = 0;
  std::string first;
  const auto t0 = clock_type::now();
  const auto deadline = t0 + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(seconds));
  const double cpu0 = own_cpu_seconds();
  auto body = [&](int w) -> asio::awaitable<void> {
    while (next < max_ops && clock_type::now() < deadline && errors < 100) {
      const auto i = next++;
      const auto a = clock_type::now();
      bool more = true;
      try {
        more = co_await op(w, i);
        if (more) {
          lat.push_back(micros(clock_type::now() - a));
          ++done;
        }
      } catch (const std::exception& e) {
        if (errors++ == 0) first = e.what();
      }
      if (!more) co_return;
    }
  };
  co_await run_all(workers, body);
  auto s = summarize(lat, done, std::chrono::duration<double>(clock_type::now() - t0).count(), own_cpu_seconds() - cpu0);
  s.errors = errors;
  s.first_error = first;
  co_return s;
}

/// A module that pushes to no one (the benchmark's services have no connected players, but
/// chat's members).
struct no_players final : mod::players {
  void push_body(std::uint64_t, std::uint16_t, const ember::net::body_writer&) override { ++pushes; }
  std::uint64_t pushes = 0;
};

/// Chat's fanout over the client-facing servers of this process.
struct front_servers final : ch::fanout {
  std::vector<ember::net::server*> servers;
  ember::cluster::backend* backend = nullptr;  ///< set: through it to every gateway, as cluster_fanout
  void broadcast_body(std::string_view group, std::uint16_t push_id, const ember::net::body_writer& body) override {
    if (backend) backend->broadcast_body(group, push_id, body);
    for (auto* s : servers) s->broadcast_body(group, push_id, body);
  }
};

/// The benchmark's sign-in for chat's client sessions: binds the session to the user id it is
/// sent (chat needs only a bound user; the accounts module is measured on its own).
struct sign_in {
  static constexpr std::uint16_t id = 59998;
  static constexpr std::string_view name = "sign_in";
  static constexpr std::string_view server = "chat";  // served where chat is
  static constexpr bool ordered = true;
  static constexpr bool internal = false;
  using request = ec::leave_request;  // a message with one string: the user id
  using reply = ec::leave_reply;
};
struct sign_in_handler {
  asio::awaitable<ec::leave_reply> sign(ember::net::session& s, const ec::leave_request& r) {
    s.bind_user(std::stoull(r.channel));
    co_return ec::leave_reply{};
  }
};

acc::options account_options(const settings& s) {
  acc::options o;
  o.hashing_threads = s.hashing_threads;
  if (s.fast_hash) {
    o.opslimit = crypto_pwhash_OPSLIMIT_MIN;
    o.memlimit = crypto_pwhash_MEMLIMIT_MIN;
  }
  return o;
}

std::filesystem::path write_item_types(const std::filesystem::path& dir) {
  const auto file = dir / "item_types.json";
  std::ofstream(file) << R"([{"id": "potion", "stack_limit": 1000000}])";
  return file;
}

/// Every module on one store, as one game process has them; made before the store opens.
struct world {
  world(const settings& s, const std::string& memcached, const std::string& odbc, const std::filesystem::path& dir)
      : cache({.servers = {memcached}, .key_prefix = "mb:"}),
        db(odbc),
        store(cache, db, {.journal = dir / "bench.journal"}),
        accounts(store, players, bus, account_options(s)),
        notes(store, players, bus),
        friends(store, players, bus, notes, friend_options(s)),
        wallet(store, bus, players),
        types(write_item_types(dir)),
        inventory(store, bus, players, types),
        mail(store, bus, players, wallet, inventory, mail_options(s)),
        chat(store, bus, players, fanout, chat_options(s)),
        rows(store) {
    if (!types.reload()) throw std::runtime_error("item types did not load");
  }
  static mod::friends::options friend_options(const settings& s) {
    mod::friends::options o;
    o.max_edges = std::max<std::size_t>(o.max_edges, static_cast<std::size_t>(s.friends) + 10);
    o.max_page = std::max<std::uint32_t>(o.max_page, static_cast<std::uint32_t>(s.friends));
    return o;
  }
  static mod::mail::options mail_options(const settings& s) {
    mod::mail::options o;
    o.max_inbox = std::max<std::size_t>(o.max_inbox, static_cast<std::size_t>(s.mails / std::max(1, s.concurrency) + 1));
    return o;
  }
  static ch::options chat_options(const settings& s) {
    ch::options o;
    o.max_members = static_cast<std::size_t>(s.members) + 10;
    o.lines_per_second = 1e6;  // one sender says every line: the rate limit is not measured
    o.burst = 1e6;
    return o;
  }

  data::memcache cache;
  data::database db;
  data::store store;
  no_players players;
  mod::event_bus bus;
  acc::service accounts;
  mod::notifications::service notes;
  mod::friends::service friends;
  mod::wallet::service wallet;
  ember::app::data_slot<mod::inventory::item_types> types;
  mod::inventory::service inventory;
  mod::mail::service mail;
  front_servers fanout;
  ch::service chat;
  data::table<databench::bench_row_table> rows;  // the baseline of the friend list
};

// --- the bench -----------------------------------------------------------------------------

class bench {
 public:
  bench(const settings& s, world& w, asio::io_context& io) : s_(s), w_(w), io_(io) {}

  std::vector<result> results;

  asio::awaitable<void> run() {
    co_await w_.store.open();
    if (wants("sign_in")) co_await sign_in_phase();
    if (wants("friends")) co_await friends_phase();
    if (wants("mail")) co_await mail_phase();
    if (wants("wallet")) co_await wallet_phase();
    if (wants("chat")) co_await chat_phase();
    const auto left = co_await w_.store.flush_all();
    progress("write-back: {} rows left dirty", left);
    co_await w_.store.stop();
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
    if (!s_.quiet) fmt::print(stderr, "ember-modules-bench: {}\n", fmt::format(f, std::forward<Args>(args)...));
  }

  void report(const result& r) const {
    if (r.baseline)
      progress("{}: {:.0f} {} (p50 {:.0f} us, p99 {:.0f} us); {} {:.0f} {} ({:.2f}x)", r.phase, r.ember.rate, r.unit,
               r.ember.p50_us, r.ember.p99_us, r.baseline_name, r.baseline->rate, r.unit, r.ratio());
    else
      progress("{}: {:.0f} {} (p50 {:.0f} us, p99 {:.0f} us)", r.phase, r.ember.rate, r.unit, r.ember.p50_us,
               r.ember.p99_us);
    for (const auto& p : r.problems) progress("{}: PROBLEM: {}", r.phase, p);
  }

  void check_errors(result& r, const stats& st, const char* who) {
    if (st.errors) r.problems.push_back(fmt::format("{}: {} errors, first: {}", who, st.errors, st.first_error));
    if (st.ops == 0) r.problems.push_back(fmt::format("{}: nothing measured", who));
  }

  void keep(result r) {
    report(r);
    results.push_back(std::move(r));
  }

  // --- accounts

  asio::awaitable<void> sign_in_phase() {
    auto& a = w_.accounts;
    const std::string addr = "127.0.0.1";
    std::vector<std::string> devices;
    {
      result r{"sign_in_device_new", "sign-in by device, new"};
      std::uint64_t not_created = 0;
      auto op = [&](int, std::uint64_t i) -> asio::awaitable<bool> {
        auto id = fmt::format("bench-device-{:08}", i);
        auto t = co_await a.sign_in_device(id, true, addr);
        if (!t.created) ++not_created;
        devices.push_back(std::move(id));
        co_return true;
      };
      r.ember = co_await measure(s_.concurrency, s_.max_ops, s_.duration, op);
      check_errors(r, r.ember, "sign_in_device");
      if (not_created) r.problems.push_back(fmt::format("{} new devices found an account", not_created));
      r.notes.push_back("creates the account, links the device, issues a token pair");
      keep(std::move(r));
    }
    if (!devices.empty()) {
      result r{"sign_in_device", "sign-in by device, existing"};
      std::uint64_t created = 0;
      std::vector<std::minstd_rand> rng;
      for (int i = 0; i < s_.concurrency; ++i) rng.emplace_back(1000 + i);
      auto op = [&](int w, std::uint64_t) -> asio::awaitable<bool> {
        auto t = co_await a.sign_in_device(devices[rng[w]() % devices.size()], false, addr);
        if (t.created) ++created;
        co_return true;
      };
      r.ember = co_await measure(s_.concurrency, s_.max_ops, s_.duration, op);
      check_errors(r, r.ember, "sign_in_device");
      if (created) r.problems.push_back(fmt::format("{} existing devices made an account", created));
      r.notes.push_back(fmt::format("{} devices, picked at random", devices.size()));
      keep(std::move(r));
    }
    {
      result r{"sign_in_password", "sign-in by password (Argon2id)"};
      const auto o = a.settings();
      const int accounts = static_cast<int>(2 * s_.hashing_threads);
      const std::string password = "correct horse battery";
      const auto t0 = clock_type::now();
      for (int k = 0; k < accounts; ++k) co_await a.sign_in_password(fmt::format("bench_{}", k), password, true, addr);
      progress("sign-in by password: {} accounts made in {:.2f} s", accounts,
               std::chrono::duration<double>(clock_type::now() - t0).count());
      std::uint64_t wrong = 0;
      auto op = [&](int w, std::uint64_t) -> asio::awaitable<bool> {
        auto t = co_await a.sign_in_password(fmt::format("bench_{}", w % accounts), password, false, addr);
        if (t.created || t.account_id <= 0) ++wrong;
        co_return true;
      };
      // As many in flight as the pool has threads, twice: the hash is the bound, more only queue.
      const auto hash_ops = std::max<std::uint64_t>(4, std::min<std::uint64_t>(s_.max_ops, 2000));
      r.ember = co_await measure(accounts, hash_ops, s_.duration, op);
      check_errors(r, r.ember, "sign_in_password");
      if (wrong) r.problems.push_back(fmt::format("{} sign-ins to a wrong account", wrong));
      r.baseline_name = fmt::format("crypto_pwhash_str_verify x{} threads", s_.hashing_threads);
      // On threads of its own; the io thread waits on a timer, not on them.
      std::atomic<bool> hashed{false};
      stats raw;
      std::exception_ptr raw_error;
      std::thread hashing([&] {
        try {
          raw = pwhash_baseline(o.opslimit, o.memlimit, password, hash_ops);
        } catch (...) {
          raw_error = std::current_exception();
        }
        hashed = true;
      });
      while (!hashed) co_await sleep_for(std::chrono::milliseconds(5));
      hashing.join();
      if (raw_error) std::rethrow_exception(raw_error);
      r.baseline = raw;
      r.notes.push_back(fmt::format("opslimit {}, memlimit {} MiB, {} hashing threads, {} in flight", o.opslimit,
                                    o.memlimit >> 20, s_.hashing_threads, accounts));
      keep(std::move(r));
    }
  }

  /// The raw hash: crypto_pwhash_str_verify of one stored hash on hashing_threads threads.
  stats pwhash_baseline(unsigned long long ops, std::size_t mem, const std::string& password, std::uint64_t max) const {
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hash, password.data(), password.size(), ops, mem) != 0)
      throw std::runtime_error("crypto_pwhash_str: out of memory");
    std::mutex m;
    std::vector<double> lat;
    std::atomic<std::uint64_t> next{0}, failed{0};
    const auto t0 = clock_type::now();
    const auto deadline = t0 + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(s_.duration));
    const double cpu0 = own_cpu_seconds();
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < s_.hashing_threads; ++t)
      threads.emplace_back([&] {
        std::vector<double> mine;
        while (next++ < max && clock_type::now() < deadline) {
          const auto a = clock_type::now();
          if (crypto_pwhash_str_verify(hash, password.data(), password.size()) != 0) ++failed;
          mine.push_back(micros(clock_type::now() - a));
        }
        std::lock_guard l(m);
        lat.insert(lat.end(), mine.begin(), mine.end());
      });
    for (auto& t : threads) t.join();
    const auto n = lat.size();
    auto s = summarize(lat, n, std::chrono::duration<double>(clock_type::now() - t0).count(), own_cpu_seconds() - cpu0);
    s.errors = failed;
    return s;
  }

  // --- friends

  asio::awaitable<void> friends_phase() {
    auto& f = w_.friends;
    const std::uint64_t me = 1;
    const auto n = static_cast<std::size_t>(s_.friends);
    const auto t0 = clock_type::now();
    for (std::uint64_t k = 2; k < 2 + n; ++k) {
      co_await f.add(me, k);
      co_await f.add(k, me);
    }
    progress("friends: {} friendships made in {:.2f} s", n, std::chrono::duration<double>(clock_type::now() - t0).count());
    // The baseline's rows: as many, through a table of the data layer's benchmark schema.
    std::vector<std::int64_t> keys;
    for (std::size_t i = 0; i < n; ++i) {
      auto row = co_await w_.rows.insert(databench::bench_row(0, fmt::format("player-{:06}", i), 1000,
                                                              static_cast<std::int32_t>(i % 100), std::nullopt));
      keys.push_back(row.id);
    }
    result r{"friends_list", fmt::format("friend list of {} friends", n), "lists/s"};
    std::uint64_t short_lists = 0, missing = 0;
    auto op = [&](int, std::uint64_t) -> asio::awaitable<bool> {
      auto page = co_await f.list(me, std::nullopt, static_cast<std::uint32_t>(n), "");
      std::size_t friends = 0;
      for (const auto& e : page.friends) friends += e.state == mod::friends::friend_state::friend_;
      if (friends != n) ++short_lists;
      co_return true;
    };
    auto base = [&](int, std::uint64_t) -> asio::awaitable<bool> {
      auto got = co_await w_.rows.get_many(keys);
      for (const auto& g : got) missing += !g;
      co_return true;
    };
    r.ember = co_await measure(s_.concurrency, s_.max_ops, s_.duration, op);
    r.baseline = co_await measure(s_.concurrency, s_.max_ops, s_.duration, base);
    r.baseline_name = fmt::format("table.get_many of {} rows", n);
    check_errors(r, r.ember, "friends.list");
    check_errors(r, *r.baseline, "table.get_many");
    if (short_lists) r.problems.push_back(fmt::format("{} lists without every friend", short_lists));
    if (missing) r.problems.push_back(fmt::format("{} rows missing from get_many", missing));
    r.notes.push_back(fmt::format("a list reads the player's {} edges by index and {} presence rows (get_many)", n, n));
    keep(std::move(r));
  }

  // --- mail

  asio::awaitable<void> mail_phase() {
    auto& m = w_.mail;
    const int workers = s_.concurrency;
    const auto per = static_cast<std::size_t>(std::max(1, s_.mails / workers));
    const std::int64_t gold = 10;
    auto player = [](int w) { return static_cast<std::uint64_t>(10000 + w); };
    std::vector<std::vector<std::int64_t>> ids(static_cast<std::size_t>(workers));
    {
      const auto t0 = clock_type::now();
      auto send = [&](int w) -> asio::awaitable<void> {
        for (std::size_t i = 0; i < per; ++i) {
          em::attachments a;
          a.currencies.emplace_back("gold", gold);
          a.items.emplace_back("potion", 1u, false);
          ids[static_cast<std::size_t>(w)].push_back(co_await m.send_system(player(w), "Gift", "from the bench", a));
        }
      };
      co_await run_all(workers, send);
      progress("mail: {} mails with attachments sent in {:.2f} s", per * static_cast<std::size_t>(workers),
               std::chrono::duration<double>(clock_type::now() - t0).count());
    }
    result r{"mail_claim", "mail claim (gold + item)", "claims/s"};
    std::vector<std::size_t> claimed(static_cast<std::size_t>(workers));
    std::uint64_t not_applied = 0;
    auto op = [&](int w, std::uint64_t) -> asio::awaitable<bool> {
      auto& c = claimed[static_cast<std::size_t>(w)];
      const auto& mine = ids[static_cast<std::size_t>(w)];
      if (c >= mine.size()) co_return false;
      auto res = co_await m.claim(player(w), mine[c]);
      ++c;
      if (!res.applied) ++not_applied;
      co_return true;
    };
    r.ember = co_await measure(workers, s_.max_ops, s_.duration, op);
    // The baseline: a wallet change of as much gold, to other players, under its own op id.
    auto base = [&](int w, std::uint64_t i) -> asio::awaitable<bool> {
      std::vector<ember_wallet::change> c;
      c.emplace_back(static_cast<std::uint64_t>(20000 + w), "gold", gold);
      auto res = co_await w_.wallet.change(fmt::format("base:{}", i), std::move(c), "bench");
      if (!res.applied) ++not_applied;
      co_return true;
    };
    r.baseline = co_await measure(workers, s_.max_ops, s_.duration, base);
    r.baseline_name = "wallet.change (gold)";
    check_errors(r, r.ember, "mail.claim");
    check_errors(r, *r.baseline, "wallet.change");
    if (not_applied) r.problems.push_back(fmt::format("{} claims or changes not applied", not_applied));
    // Exactly once: each player holds what its claims granted; a second claim grants nothing.
    std::uint64_t wrong = 0, regranted = 0;
    for (int w = 0; w < workers; ++w) {
      const auto c = claimed[static_cast<std::size_t>(w)];
      if (c == 0) continue;
      auto again = co_await m.claim(player(w), ids[static_cast<std::size_t>(w)][0]);
      if (again.applied) ++regranted;
      const auto g = co_await w_.wallet.balance(player(w), "gold");
      std::uint64_t potions = 0;
      for (const auto& i : (co_await w_.inventory.list(player(w))).items)
        if (i.type == "potion") potions += i.count;
      if (g != gold * static_cast<std::int64_t>(c) || potions != c) ++wrong;
    }
    if (wrong) r.problems.push_back(fmt::format("{} players hold other than their claims granted", wrong));
    if (regranted) r.problems.push_back(fmt::format("{} second claims granted again", regranted));
    r.notes.push_back(fmt::format("{} players, {} mails each, each claim its own player's; checked: balances and items "
                                  "equal the claims, a second claim grants nothing", workers, per));
    keep(std::move(r));
  }

  // --- wallet

  /// Transfers among `players` (ids from `first`), by `workers` coroutines; worker w of the
  /// uncontended run uses its own pair. Returns the stats and the retries (contention).
  asio::awaitable<std::pair<stats, std::uint64_t>> transfers(std::uint64_t first, int players, bool own_pair,
                                                             const std::string& tag, int workers) {
    std::uint64_t retries = 0, refused = 0;
    std::vector<std::minstd_rand> rng;
    for (int i = 0; i < workers; ++i) rng.emplace_back(77 + i);
    auto op = [&](int w, std::uint64_t i) -> asio::awaitable<bool> {
      auto& g = rng[static_cast<std::size_t>(w)];
      std::uint64_t from, to;
      if (own_pair) {
        from = first + 2 * static_cast<std::uint64_t>(w) + (i & 1);
        to = first + 2 * static_cast<std::uint64_t>(w) + 1 - (i & 1);
      } else {
        from = first + g() % static_cast<std::uint64_t>(players);
        to = first + (from - first + 1 + g() % static_cast<std::uint64_t>(players - 1)) % static_cast<std::uint64_t>(players);
      }
      const auto amount = static_cast<std::int64_t>(1 + g() % 10);
      const auto id = fmt::format("{}:{}", tag, i);
      for (int attempt = 0;; ++attempt) {
        std::vector<ember_wallet::change> c;
        c.emplace_back(from, "gold", -amount);
        c.emplace_back(to, "gold", amount);
        bool contended = false;
        try {
          auto res = co_await w_.wallet.change(id, std::move(c), "transfer");
          if (!res.applied) ++refused;
        } catch (const data::data_error& e) {
          if (e.code() != data::data_errc::contention || attempt >= 20) throw;
          contended = true;
        }
        if (!contended) break;
        ++retries;  // the same op id again: applied once whatever happened
      }
      co_return true;
    };
    auto st = co_await measure(workers, s_.max_ops, s_.duration, op);
    if (refused) st.errors += refused, st.first_error = "a transfer was not applied";
    co_return std::pair{st, retries};
  }

  asio::awaitable<std::int64_t> total_gold(std::uint64_t first, int players) {
    std::int64_t sum = 0;
    for (int p = 0; p < players; ++p) sum += co_await w_.wallet.balance(first + static_cast<std::uint64_t>(p), "gold");
    co_return sum;
  }

  asio::awaitable<void> seed(std::uint64_t first, int players, std::int64_t each) {
    for (int p = 0; p < players; ++p) {
      std::vector<ember_wallet::change> c;
      c.emplace_back(first + static_cast<std::uint64_t>(p), "gold", each);
      co_await w_.wallet.change(fmt::format("seed:{}", first + static_cast<std::uint64_t>(p)), std::move(c), "seed");
    }
  }

  /// SUM of the players' gold in the database, after write-back.
  asio::awaitable<std::int64_t> gold_in_database(std::uint64_t first, int players) {
    if (const auto left = co_await w_.store.flush_all()) throw std::runtime_error(fmt::format("{} rows stayed dirty", left));
    const auto sql = fmt::format("SELECT SUM(amount) FROM wallet_balance WHERE currency = 'gold' AND player >= {} AND player < {}",
                                 first, first + static_cast<std::uint64_t>(players));
    // (the query in a named function object and the result in a local: g++ 12 frees a
    // temporary lambda of `co_return co_await` twice)
    auto query = [&sql](data::odbc::connection& c) -> std::int64_t {
      auto cur = c.prepare(sql).query();
      return cur.next() ? cur.get<std::optional<std::int64_t>>(0).value_or(-1) : -1;
    };
    const std::int64_t sum = co_await w_.db.run(std::ref(query));
    co_return sum;
  }

  asio::awaitable<void> wallet_phase() {
    const std::int64_t each = 1'000'000;
    const std::uint64_t hot = 30000, cold = 40000;
    const int cold_players = 2 * s_.concurrency;
    co_await seed(hot, s_.players, each);
    co_await seed(cold, cold_players, each);
    result r{"wallet_transfer", fmt::format("wallet transfers, {} players, {} in flight", s_.players, s_.concurrency),
             "transfers/s"};
    // (no structured binding of a co_await: g++ 12 destroys its temporary twice)
    const auto contended_run = co_await transfers(hot, s_.players, false, "hot", s_.concurrency);
    const auto free_run = co_await transfers(cold, cold_players, true, "cold", s_.concurrency);
    // The same players with as many transfers in flight as there are players.
    const auto few_run = co_await transfers(hot, s_.players, false, "few", s_.players);
    const auto retries = contended_run.second, free_retries = free_run.second;
    r.ember = contended_run.first;
    r.baseline = free_run.first;
    const auto& free = free_run.first;
    r.baseline_name = fmt::format("{} in flight, each its own 2 players", s_.concurrency);
    check_errors(r, r.ember, "contended transfers");
    check_errors(r, free, "uncontended transfers");
    const auto hot_sum = co_await total_gold(hot, s_.players);
    const auto cold_sum = co_await total_gold(cold, cold_players);
    if (hot_sum != each * s_.players)
      r.problems.push_back(fmt::format("contended players hold {} gold, expected {}", hot_sum, each * s_.players));
    if (cold_sum != each * cold_players)
      r.problems.push_back(fmt::format("uncontended players hold {} gold, expected {}", cold_sum, each * cold_players));
    const auto hot_db = co_await gold_in_database(hot, s_.players);
    const auto cold_db = co_await gold_in_database(cold, cold_players);
    if (hot_db != hot_sum || cold_db != cold_sum)
      r.problems.push_back(fmt::format("the database holds {} and {} gold after write-back, the cache {} and {}", hot_db,
                                       cold_db, hot_sum, cold_sum));
    r.notes.push_back(fmt::format("retries (contention errors, retried with the same op id): contended {}, uncontended {}",
                                  retries, free_retries));
    r.notes.push_back(fmt::format("total gold unchanged: {} (service) and {} (database, after write-back), of {}",
                                  hot_sum, hot_db, each * s_.players));
    retries_ = {retries, free_retries};
    keep(std::move(r));
    result f{"wallet_transfer_few", fmt::format("wallet transfers, {} players, {} in flight", s_.players, s_.players),
             "transfers/s"};
    f.ember = few_run.first;
    f.baseline = free;
    f.baseline_name = fmt::format("{} in flight, each its own 2 players", s_.concurrency);
    check_errors(f, f.ember, "contended transfers, fewer in flight");
    f.notes.push_back(fmt::format("retries {}; the total is checked with the run above", few_run.second));
    keep(std::move(f));
  }

  // --- chat

  /// One member's client: its connection and the stub that hears the lines.
  struct member {
    std::unique_ptr<ember::net::client> client;
    std::unique_ptr<ec::client_stub> stub;
  };

  asio::awaitable<void> chat_phase() {
    auto& io = io_;
    const int members = s_.members;
    const int lines = s_.lines;
    const std::string room = "room:bench";
    const std::uint64_t sender = 1;
    // Two client-facing servers in this process. Through gateways: each a net::server with a
    // root and a cluster::gateway forwarding the chat commands and the sign-in to one chat
    // backend linked to both roots, whose broadcasts reach both. Otherwise each server serves
    // the chat commands and the sign-in itself.
    namespace cl = ember::cluster;
    const bool via_gateways = s_.chat_via == "gateways";
    const std::string secret = "ember-modules-bench-cluster-secret";
    sign_in_handler signer;
    ch::handler commands(w_.chat);
    auto chat_table = [&] {
      ember::net::dispatch_table t;
      ec::register_commands(t, commands);
      t.add<sign_in, &sign_in_handler::sign>(signer);
      return t;
    };
    std::vector<ember::command_info> routed(ec::command_list.begin(), ec::command_list.end());
    routed.push_back({sign_in::id, sign_in::name, sign_in::server, sign_in::ordered, sign_in::internal});
    std::vector<std::unique_ptr<cl::root>> roots;
    std::vector<std::unique_ptr<ember::net::server>> servers;
    std::vector<std::unique_ptr<cl::gateway>> gateways;
    std::unique_ptr<cl::backend> backend;
    std::vector<std::unique_ptr<cl::node_connector>> links;
    for (int i = 0; i < 2; ++i) {
      ember::net::server_options so;
      so.name = fmt::format("net{}", i);
      so.max_request_rate = 0;
      if (!via_gateways) {
        servers.push_back(std::make_unique<ember::net::server>(io, so, chat_table()));
        servers.back()->start();
        w_.fanout.servers.push_back(servers.back().get());
        continue;
      }
      cl::root_options ro;
      ro.name = so.name;
      ro.secret = secret;
      roots.push_back(std::make_unique<cl::root>(io.get_executor(), ro));
      servers.push_back(std::make_unique<ember::net::server>(io, so, ember::net::dispatch_table{}));
      gateways.push_back(std::make_unique<cl::gateway>(*servers.back(), *roots.back(), cl::gateway_options{so.name}));
      ember::net::dispatch_table t;
      gateways.back()->add_routes(t, routed, "net");
      servers.back()->set_table(std::move(t));
      roots.back()->start();
      servers.back()->start();
    }
    if (via_gateways) {
      backend = std::make_unique<cl::backend>(io.get_executor(), cl::backend_options{"chat1", "chat"},
                                              std::make_shared<const ember::net::dispatch_table>(chat_table()));
      for (int i = 0; i < 2; ++i) {
        cl::node_options o;
        o.name = "chat1";
        o.type = "chat";
        o.secret = secret;
        o.root_port = roots[static_cast<std::size_t>(i)]->port();
        o.root_name = fmt::format("net{}", i);
        links.push_back(std::make_unique<cl::node_connector>(io.get_executor(), o));
        auto* b = backend.get();
        links.back()->on_connected([b](const cl::node_connector::link_ptr& l) { b->attach(l); });
        links.back()->start();
      }
      const auto until = clock_type::now() + std::chrono::seconds(10);
      while ((roots[0]->of_type("chat").empty() || roots[1]->of_type("chat").empty()) && clock_type::now() < until)
        co_await sleep_for(std::chrono::milliseconds(5));
      if (roots[0]->of_type("chat").empty() || roots[1]->of_type("chat").empty())
        throw std::runtime_error("the chat backend did not link to both gateways");
      w_.fanout.backend = backend.get();
    }
    // Members join on the server side first (each join tells the sessions already in the
    // channel: nobody yet), then their sessions join its group through the join command.
    const auto t0 = clock_type::now();
    co_await w_.chat.join(sender, room);
    for (int k = 0; k < members; ++k) co_await w_.chat.join(static_cast<std::uint64_t>(50000 + k), room);
    // Their clients, on a thread and io_context of their own (the second core).
    const int total_lines = 3 * lines;  // one at a time, pipelined, and the baseline's
    std::vector<std::atomic<std::int64_t>> sent_ns(static_cast<std::size_t>(total_lines));
    std::vector<std::atomic<int>> heard(static_cast<std::size_t>(total_lines));
    std::vector<std::atomic<std::int64_t>> last_ns(static_cast<std::size_t>(total_lines));
    std::vector<std::vector<double>> delivery(2);  // per-member latency, on the clients' thread
    std::atomic<std::uint64_t> strays{0};
    std::atomic<int> phase{0};
    asio::io_context cio(1);
    auto guard = asio::make_work_guard(cio);
    std::vector<member> clients(static_cast<std::size_t>(members));
    // Stops and joins the clients' thread however this phase ends (before `clients` go).
    struct runner {
      asio::io_context& io;
      std::thread t;
      ~runner() {
        io.stop();
        if (t.joinable()) t.join();
      }
    } client_thread{cio, std::thread([&] { cio.run(); })};
    std::atomic<int> joined{0}, failed{0};
    auto now_ns = [] { return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now().time_since_epoch()).count(); };
    for (int k = 0; k < members; ++k)
      asio::co_spawn(cio, [&, k]() -> asio::awaitable<void> {
        auto& m = clients[static_cast<std::size_t>(k)];
        m.client = std::make_unique<ember::net::client>(co_await asio::this_coro::executor);
        if (auto err = co_await m.client->connect("127.0.0.1", servers[static_cast<std::size_t>(k % 2)]->port())) {
          ++failed;
          co_return;
        }
        auto signed_in = co_await m.client->call<sign_in>(ec::leave_request(std::to_string(50000 + k)));
        m.stub = std::make_unique<ec::client_stub>(*m.client);
        m.stub->on_line_said([&](const ec::line_said& s) {
          const auto n = std::strtol(s.line.text.c_str() + 1, nullptr, 10);
          if (s.line.text.empty() || s.line.text[0] != 'L' || n < 0 || n >= total_lines) {
            ++strays;
            return;
          }
          const auto at = now_ns();
          const auto i = static_cast<std::size_t>(n);
          delivery[static_cast<std::size_t>(phase.load() == 1)].push_back(double(at - sent_ns[i].load()) / 1000.0);
          if (++heard[i] == members) last_ns[i] = at;
        });
        auto j = co_await m.stub->join(ec::join_request(room));
        if (!signed_in || !j) ++failed;
        else ++joined;
      }, asio::detached);
    while (joined + failed < members && clock_type::now() - t0 < std::chrono::seconds(120))
      co_await sleep_for(std::chrono::milliseconds(5));
    progress("chat: {} members joined, {} sessions on each of 2 {}, in {:.2f} s ({} failed)", joined.load(),
             members / 2, via_gateways ? "gateways" : "servers", std::chrono::duration<double>(clock_type::now() - t0).count(), failed.load());

    // Waits until line `i` reached every member (bounded); its last member's latency in µs.
    auto wait_line = [&](int i) -> asio::awaitable<double> {
      const auto limit = clock_type::now() + std::chrono::seconds(10);
      while (heard[static_cast<std::size_t>(i)] < members && clock_type::now() < limit)
        co_await sleep_for(std::chrono::microseconds(200));
      if (heard[static_cast<std::size_t>(i)] < members) co_return -1.0;
      co_return double(last_ns[static_cast<std::size_t>(i)] - sent_ns[static_cast<std::size_t>(i)]) / 1000.0;
    };
    const auto deadline = [&] { return clock_type::now() + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(s_.duration)); };
    // 1. One line at a time through chat.send; the latency is to the last member.
    result r{"chat_line", fmt::format("chat line to {} members, one at a time", members), "lines/s"};
    auto one_at_a_time = [&](int offset, bool raw) -> asio::awaitable<stats> {
      std::vector<double> last;
      int done = 0;
      const auto start = clock_type::now();
      const auto until = deadline();
      const double cpu0 = own_cpu_seconds();
      for (int i = offset; i < offset + lines && clock_type::now() < until; ++i) {
        sent_ns[static_cast<std::size_t>(i)] = now_ns();
        if (raw) {
          ec::chat_line line("room:bench", static_cast<std::uint64_t>(i), sender, fmt::format("L{}", i), 0);
          w_.fanout.broadcast(ch::group_of("room:bench"), ec::line_said(line));
        } else {
          co_await w_.chat.send(sender, room, fmt::format("L{}", i));
        }
        const auto l = co_await wait_line(i);
        if (l < 0) break;
        last.push_back(l);
        ++done;
      }
      co_return summarize(last, static_cast<std::uint64_t>(done),
                          std::chrono::duration<double>(clock_type::now() - start).count(), own_cpu_seconds() - cpu0);
    };
    phase = 0;
    r.ember = co_await one_at_a_time(0, false);
    r.baseline = co_await one_at_a_time(2 * lines, true);
    r.baseline_name = via_gateways ? "cluster::backend::broadcast of the push" : "net::server::broadcast of the push";
    check_errors(r, r.ember, "chat.send");
    check_errors(r, *r.baseline, "broadcast");
    // 2. Lines pipelined: 8 sends in flight, for as many lines; lines/s to the last delivery.
    result p{"chat_lines", fmt::format("chat lines to {} members, 8 sends in flight", members), "lines/s"};
    {
      phase = 1;
      int next = lines;
      std::uint64_t errors = 0;
      std::string first_error;
      const auto start = clock_type::now();
      const auto until = deadline();
      const double cpu0 = own_cpu_seconds();
      auto body = [&](int) -> asio::awaitable<void> {
        while (next < 2 * lines && clock_type::now() < until) {
          const int i = next++;
          sent_ns[static_cast<std::size_t>(i)] = now_ns();
          try {
            co_await w_.chat.send(sender, room, fmt::format("L{}", i));
          } catch (const std::exception& e) {
            if (errors++ == 0) first_error = e.what();
          }
        }
      };
      co_await run_all(8, body);
      std::vector<double> last;
      for (int i = lines; i < next; ++i)
        if (const auto l = co_await wait_line(i); l >= 0) last.push_back(l);
      const auto end = clock_type::now();  // the last line's delivery, within a poll's 200 µs
      p.ember = summarize(last, last.size(), std::chrono::duration<double>(end - start).count(), own_cpu_seconds() - cpu0);
      p.ember.errors = errors;
      p.ember.first_error = first_error;
      check_errors(p, p.ember, "chat.send pipelined");
      if (static_cast<int>(last.size()) != next - lines)
        p.problems.push_back(fmt::format("{} of {} lines did not reach every member", next - lines - static_cast<int>(last.size()), next - lines));
    }
    // Every line sent reached each member once (counted on the clients' thread, which is idle
    // once every line was heard).
    std::uint64_t over = 0, under = 0;
    for (int i = 0; i < total_lines; ++i) {
      const auto h = heard[static_cast<std::size_t>(i)].load();
      if (sent_ns[static_cast<std::size_t>(i)] == 0) continue;
      if (h > members) ++over;
      if (h < members) ++under;
    }
    if (over || under || strays)
      r.problems.push_back(fmt::format("lines heard more than once by a member: {}, by fewer than all: {}; strays {}", over,
                                       under, strays.load()));
    if (failed) r.problems.push_back(fmt::format("{} members failed to connect or join", failed.load()));
    // Stop the clients on their thread, then the servers.
    std::atomic<bool> closed{false};
    asio::post(cio, [&] {
      for (auto& m : clients) {
        if (m.client) m.client->close();
      }
      closed = true;
    });
    while (!closed) co_await sleep_for(std::chrono::milliseconds(1));
    // The per-member latencies (written on the clients' thread, done by now).
    std::vector<double> d0, d1;
    asio::post(cio, [&] {
      d0 = delivery[0];
      d1 = delivery[1];
      clients.clear();
      closed = false;
    });
    while (closed) co_await sleep_for(std::chrono::milliseconds(1));
    guard.reset();
    cio.stop();
    client_thread.t.join();
    for (auto& l : links) l->stop();
    for (auto& s : servers) co_await s->stop(std::chrono::milliseconds(500));
    for (auto& r : roots) r->stop();
    w_.fanout.servers.clear();
    w_.fanout.backend = nullptr;
    r.notes.push_back(via_gateways
                          ? fmt::format("{} members: {} sessions on each of two cluster::gateways in this process, the "
                                        "chat service on a backend linked to both (loopback links), the clients on a "
                                        "second thread", members, members / 2)
                          : fmt::format("{} members: {} sessions on each of two net::servers in this process, the "
                                        "clients on a second thread; not through cluster gateways", members, members / 2));
    r.notes.push_back(fmt::format("latency to the last member (p50/p99 above); to each member, raw and chat.send "
                                  "together: p50 {:.0f} us, p99 {:.0f} us",
                                  percentile(d0, 0.5), percentile(d0, 0.99)));
    p.notes.push_back(fmt::format("latency to each member p50 {:.0f} us, p99 {:.0f} us; to the last member above",
                                  percentile(d1, 0.5), percentile(d1, 0.99)));
    keep(std::move(r));
    keep(std::move(p));
  }

 public:
  std::pair<std::uint64_t, std::uint64_t> retries_{0, 0};

 private:
  const settings& s_;
  world& w_;
  asio::io_context& io_;
};

std::string stats_json(const stats& s) {
  return fmt::format("{{\"rate\":{:.2f},\"ops\":{},\"seconds\":{:.3f},\"p50_us\":{:.1f},\"p99_us\":{:.1f},\"cpu_us\":{:.2f},"
                     "\"errors\":{}}}",
                     s.rate, s.ops, s.seconds, s.p50_us, s.p99_us, s.cpu_us, s.errors);
}

void print_json(const settings& s, const std::string& database, const bench& b) {
  std::string out = fmt::format(
      "{{\"database\":\"{}\",\"concurrency\":{},\"duration\":{},\"hashing_threads\":{},\"fast_hash\":{},\"friends\":{},"
      "\"mails\":{},\"players\":{},\"members\":{},\"lines\":{},\"chat_via\":\"{}\",\"nproc\":{},\"cpu\":\"{}\","
      "\"retries\":{{\"contended\":{},\"uncontended\":{}}},\"results\":[",
      database, s.concurrency, s.duration, s.hashing_threads, s.fast_hash, s.friends, s.mails, s.players, s.members,
      s.lines, s.chat_via, sysconf(_SC_NPROCESSORS_ONLN), json_escape(cpu_model()), b.retries_.first, b.retries_.second);
  bool first = true;
  for (const auto& r : b.results) {
    std::string notes, problems;
    for (const auto& n : r.notes) notes += fmt::format("{}\"{}\"", notes.empty() ? "" : ",", json_escape(n));
    for (const auto& p : r.problems) problems += fmt::format("{}\"{}\"", problems.empty() ? "" : ",", json_escape(p));
    out += fmt::format("{}{{\"id\":\"{}\",\"phase\":\"{}\",\"unit\":\"{}\",\"ember\":{},\"baseline_name\":\"{}\","
                       "\"baseline\":{},\"ratio\":{:.4f},\"notes\":[{}],\"problems\":[{}]}}",
                       first ? "" : ",", r.id, json_escape(r.phase), r.unit, stats_json(r.ember),
                       json_escape(r.baseline_name), r.baseline ? stats_json(*r.baseline) : "null", r.ratio(), notes,
                       problems);
    first = false;
  }
  out += "]}\n";
  fmt::print("{}", out);
}

void print_table(const settings& s, const std::string& database, const bench& b) {
  fmt::print("ember-modules-bench: {}, {} coroutines, loops of at most {:g} s, nproc {}, {}\n", database, s.concurrency,
             s.duration, sysconf(_SC_NPROCESSORS_ONLN), cpu_model());
  fmt::print("{:<44} {:>10} {:>9} {:>9}   {:<40} {:>10} {:>9} {:>9} {:>6}\n", "phase", "rate", "p50 us", "p99 us",
             "baseline", "rate", "p50 us", "p99 us", "ratio");
  for (const auto& r : b.results) {
    if (r.baseline)
      fmt::print("{:<44} {:>10.1f} {:>9.0f} {:>9.0f}   {:<40} {:>10.1f} {:>9.0f} {:>9.0f} {:>5.2f}x\n", r.phase,
                 r.ember.rate, r.ember.p50_us, r.ember.p99_us, r.baseline_name, r.baseline->rate, r.baseline->p50_us,
                 r.baseline->p99_us, r.ratio());
    else
      fmt::print("{:<44} {:>10.1f} {:>9.0f} {:>9.0f}   {:<40}\n", r.phase, r.ember.rate, r.ember.p50_us, r.ember.p99_us,
                 "-");
    fmt::print("{:<44} ({}, {} ops in {:.2f} s, {:.1f} us CPU/op)\n", "", r.unit, r.ember.ops, r.ember.seconds, r.ember.cpu_us);
    for (const auto& n : r.notes) fmt::print("{:<44} {}\n", "", n);
    for (const auto& p : r.problems) fmt::print("{:<44} PROBLEM: {}\n", "", p);
  }
}

/// Raises the soft limit of open files (a chat member is two sockets in this process).
void raise_open_files(rlim_t n) {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur >= n) return;
  lim.rlim_cur = std::min(n, lim.rlim_max);
  setrlimit(RLIMIT_NOFILE, &lim);
}

}  // namespace

int main(int argc, char** argv) {
  settings s;
  CLI::App app{"ember-modules-bench: the gameplay modules over a real memcached and database, against baselines"};
  app.add_option("--phases", s.phases, "comma-separated: sign_in,friends,mail,wallet,chat");
  app.add_option("--duration", s.duration, "seconds, at most, of each measured loop")->check(CLI::Range(0.05, 600.0));
  app.add_option("--max-ops", s.max_ops, "operations, at most, of each measured loop")->check(CLI::Range(1, 100000000));
  app.add_option("-c,--concurrency", s.concurrency, "coroutines of a loop (transfers in flight)")->check(CLI::Range(1, 4096));
  app.add_option("--hashing-threads", s.hashing_threads, "the accounts module's hashing threads")->check(CLI::Range(1, 64));
  app.add_flag("--fast-hash", s.fast_hash, "libsodium's smallest Argon2id limits (tests), not INTERACTIVE");
  app.add_option("--friends", s.friends, "friends of the listed player")->check(CLI::Range(1, 5000));
  app.add_option("--mails", s.mails, "mails sent, then claimed")->check(CLI::Range(1, 1000000));
  app.add_option("--players", s.players, "players of the contended transfers")->check(CLI::Range(2, 100000));
  app.add_option("--members", s.members, "chat channel members (client sessions)")->check(CLI::Range(2, 9000));
  app.add_option("--lines", s.lines, "chat lines of each chat loop")->check(CLI::Range(1, 100000));
  app.add_option("--chat-via", s.chat_via, "gateways: two cluster::gateways and a chat backend linked to both; "
                 "servers: two net::servers serving chat themselves")->check(CLI::IsMember({"gateways", "servers"}));
  app.add_flag("--pg", s.pg, "a throw-away PostgreSQL instead of SQLite");
  app.add_flag("--json", s.json, "print the results as JSON");
  app.add_flag("-q,--quiet", s.quiet, "no progress lines");
  CLI11_PARSE(app, argc, argv);

  if (sodium_init() < 0) {
    std::fprintf(stderr, "ember-modules-bench: libsodium did not initialise\n");
    return 2;
  }
  raise_open_files(20000);
  namespace fs = std::filesystem;
  auto tmpl = (fs::temp_directory_path() / "ember-modules-bench-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) {
    std::fprintf(stderr, "ember-modules-bench: cannot create a temp directory\n");
    return 2;
  }
  const fs::path dir = tmpl;
  int status = 0;
  try {
    // Our own memcached (killed by PID when this ends) and database.
    ember::test::memcached_server mc(ember::test::memcached_config{.memory_mb = 256});
    std::optional<ember::test::postgres> pg;
    std::string odbc = "Driver=SQLite3;Database=" + (dir / "bench.db").string() + ";";
    if (s.pg) {
      pg.emplace();
      odbc = pg->connection_string();
    }
    const std::string database = s.pg ? "postgresql" : "sqlite";
    if (!s.quiet)
      fmt::print(stderr, "ember-modules-bench: memcached pid {} on {}, {} database\n", mc.pid(), mc.address(), database);
    world w(s, mc.address(), odbc, dir);
    asio::io_context io(1);
    bench b(s, w, io);
    std::exception_ptr error;
    asio::co_spawn(io, b.run(), [&](std::exception_ptr e) { error = e; });
    io.run();
    if (error) std::rethrow_exception(error);
    if (s.json) print_json(s, database, b);
    else print_table(s, database, b);
    for (const auto& r : b.results)
      if (!r.problems.empty()) status = 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ember-modules-bench: %s\n", e.what());
    status = 2;
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  return status;
}
