// Bots for fault tests (tools/partition): each signs in on a net server and, until the time is
// up, buys items, sells them and reads its bag, writing every attempt of every operation and
// its outcome as one JSON line of a history file, for tools/partition/check.py to verify
// against the database after the run. Unlike world_bot, failures are expected (servers are
// killed, stopped and cut off meanwhile): a buy or sell that ends "not run" (unavailable) or
// "outcome unknown" is sent again with the same operation id, as a careful client does, until
// it gets an answer or its own deadline passes; a lost connection is opened again and the bot
// signs in again. At the end every bot reads its bag (gold and items) once the faults have
// healed, and records it.
//
// --broken double-apply makes the bots careless on purpose: no request ids, and a retry of a
// buy or sell after a reply that may have run carries a new operation id, so one that did run
// is applied twice. The checker must catch it (tools/partition's test runs it so).
//
// usage: history_bot --connect HOST:PORT [--connect HOST:PORT ...] [--bots N] [--seconds S]
//                    --history FILE [--names PREFIX] [--seed X] [--broken double-apply]
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ember/net/client.hpp"
#include "world_client.hpp"

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

constexpr auto call_deadline = 5s;       // one call, its client-side retries included
constexpr auto connect_deadline = 3s;
constexpr auto op_deadline = 40s;        // an operation's attempts stop then (a lease is 10 s)
constexpr auto final_deadline = 40s;     // for the last bag read, after the run
constexpr auto retry_pause = 250ms;      // between attempts of an operation

// Milliseconds of the monotonic clock (CLOCK_MONOTONIC, the same in every network namespace):
// the harness stamps its faults with the same clock.
std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now().time_since_epoch()).count();
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const unsigned char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += static_cast<char>(c);
    else if (c < 0x20) out += fmt::format("\\u{:04x}", c);
    else out += static_cast<char>(c);
  }
  return out + '"';
}

struct world_state {
  std::vector<std::pair<std::string, std::uint16_t>> servers;  // net servers: bot i uses the i-th
  std::FILE* history = nullptr;
  clock_type::time_point deadline;
  std::uint64_t run = 0;  // in operation ids: every run's are new
  std::string names = "hbot";  // bot i signs in as NAMES{i+1}
  bool double_apply = false;
  std::size_t finished = 0;
  int failed_bots = 0;
};

void record(world_state& w, const std::string& line) {
  std::fputs(line.c_str(), w.history);
  std::fputc('\n', w.history);
  std::fflush(w.history);  // a killed run keeps what it recorded
}

asio::awaitable<void> pause(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

// How a failed call ends, for the history: "unavailable" (not run), "unknown" (may have run),
// "refused" (a game error: an answer), or "error" (anything else the server said).
std::string_view outcome_of(const ember::failure& f) {
  if (!f.remote()) return "unknown";  // our timeout, a lost connection: the request may have run
  if (f.status == static_cast<std::uint16_t>(ember::status::unavailable) ||
      f.status == static_cast<std::uint16_t>(ember::status::overloaded) ||
      f.status == static_cast<std::uint16_t>(ember::status::shutting_down))
    return "unavailable";
  if (f.status == static_cast<std::uint16_t>(ember::status::outcome_unknown) ||
      f.status == static_cast<std::uint16_t>(ember::status::timeout))
    return "unknown";
  if (f.status >= static_cast<std::uint16_t>(ember::status::first_game_error)) return "refused";
  return "error";
}

class bot {
 public:
  bot(world_state& w, std::size_t i, std::uint64_t seed)
      : w_(w), i_(i), name_(fmt::format("{}{}", w.names, i + 1)), server_(w.servers[i % w.servers.size()]), rng_(seed + i) {}

  asio::awaitable<void> play() {
    while (clock_type::now() < w_.deadline) {
      if (lost()) {
        co_await sign_in();
        continue;
      }
      if (gold_ < 2 && bag_.empty()) {
        // Spent out: a new account of this bot (100 gold), so the run keeps writing.
        ++generation_;
        conn_.reset();
        continue;
      }
      const int roll = pick(0, 99);
      if (gold_ < 10 && !bag_.empty()) co_await sell();
      else if (roll < 50 || bag_.empty() || w_.double_apply) co_await buy();  // the careless: buys, while it can pay
      else if (roll < 80) co_await sell();
      else co_await read_bag("bag");
      co_await pause(std::chrono::milliseconds(pick(20, 120)));
    }
    // The faults have healed by now (the harness heals them before the bots' time is up):
    // the bot's bag as the game says it, for the checker to compare with the database.
    const auto until = clock_type::now() + final_deadline;
    while (clock_type::now() < until) {
      if (lost()) {
        co_await sign_in();
        continue;
      }
      if (co_await read_bag("final")) {
        conn_.reset();  // closes it: nothing of this bot is left on the io_context
        co_return;
      }
      co_await pause(retry_pause);
    }
    ++w_.failed_bots;
    fmt::print("{}: could not read its bag at the end\n", name_);
  }

 private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  ember::net::call_options call() const {
    ember::net::call_options o;
    o.timeout = call_deadline;
    // The client's own retries, under one request id (docs/sessions.md, "Retries"); the
    // careless client of --broken double-apply makes none and sends a new operation id instead.
    o.retries = w_.double_apply ? 0 : 8;
    return o;
  }

  std::string head(std::string_view kind, std::int64_t t0) const {
    return fmt::format(R"({{"kind":"{}","bot":"{}","user":{},"net":"{}:{}","t0":{},"t1":{})", kind, name_, user_,
                       server_.first, server_.second, t0, now_ms());
  }
  std::string failed(const ember::failure& f) const {
    return fmt::format(R"(,"status":{},"outcome":"{}","message":{})", f.status, outcome_of(f),
                       json_string(ember::describe(f)));
  }

  // Connects (a new connection each time: a lost one is not reused) and signs in.
  asio::awaitable<void> sign_in() {
    conn_.reset();
    auto executor = co_await asio::this_coro::executor;
    ember::net::client_options options;
    options.default_timeout = call_deadline;
    options.connect_timeout = connect_deadline;
    conn_ = std::make_unique<ember::net::client>(executor, options);
    auto closed = std::make_shared<bool>(false);
    closed_flag_ = closed;
    conn_->on_close([closed](std::error_code) { *closed = true; });
    const auto t0 = now_ms();
    if (auto ec = co_await conn_->connect(server_.first, server_.second)) {
      record(w_, head("connect", t0) + fmt::format(R"(,"outcome":"unavailable","message":{}}})", json_string(ec.message())));
      conn_.reset();
      co_await pause(retry_pause);
      co_return;
    }
    world::client_stub stub(*conn_);
    const auto account = generation_ == 0 ? name_ : fmt::format("{}-{}", name_, generation_);
    auto r = co_await stub.login({account, "secret-" + account}, call());
    if (!r) {
      record(w_, head("login", t0) + failed(r.error()) + "}");
      conn_.reset();
      co_await pause(retry_pause);
      co_return;
    }
    user_ = r->user_id;
    record(w_, head("login", t0) + fmt::format(R"(,"outcome":"ok","account":{},"server":{}}})", json_string(account),
                                               json_string(r->server)));
    co_await read_bag("bag");
  }

  bool lost() const { return !conn_ || (closed_flag_ && *closed_flag_); }

  // One buy or sell, under its operation id, until an answer or its deadline. Every attempt
  // is a line of the history; `op` names the operation, `wire` the id the game was sent.
  template <class Send>
  asio::awaitable<void> operation(std::string_view kind, const std::string& op, std::string extra, Send send) {
    const auto until = clock_type::now() + op_deadline;
    std::string wire = op;
    for (int attempt = 0;; ++attempt) {
      const auto t0 = now_ms();
      if (lost()) {
        co_await sign_in();
        if (lost()) {
          if (clock_type::now() >= until) co_return;
          continue;
        }
      }
      world::client_stub stub(*conn_);
      auto line = head(kind, t0) + fmt::format(R"(,"op":"{}","wire":"{}","attempt":{}{})", op, wire, attempt, extra);
      const bool ended = co_await send(stub, wire, line);
      record(w_, line + "}");
      if (ended || clock_type::now() >= until) co_return;
      if (w_.double_apply) wire = fmt::format("{}.r{}", op, attempt + 1);  // the deliberate bug
      co_await pause(retry_pause);
    }
  }

  asio::awaitable<void> buy() {
    // The careless client buys herbs only (2 gold): its repeated buy can still be paid.
    const auto item = w_.double_apply ? 3u : static_cast<std::uint32_t>(pick(1, 3));
    const auto op = fmt::format("h{}-{}-{}", w_.run % 1000000, i_ + 1, ++op_no_);
    co_await operation("buy", op, fmt::format(R"(,"item":{})", item),
                       [&](world::client_stub& stub, const std::string& wire, std::string& line) -> asio::awaitable<bool> {
                         auto r = co_await stub.buy(world::buy_request{item, wire}, call());
                         if (r) {
                           line += fmt::format(R"(,"outcome":"ok","gold":{},"bag_item":{})", r->gold, r->bag_item);
                           bag_.push_back({r->bag_item, item});
                           gold_ = r->gold;
                           co_return true;
                         }
                         line += failed(r.error());
                         const auto o = outcome_of(r.error());
                         co_return o == "refused" || o == "error";
                       });
  }

  asio::awaitable<void> sell() {
    const auto at = static_cast<std::size_t>(pick(0, static_cast<int>(bag_.size()) - 1));
    const auto item = bag_[at].first;  // not a structured binding: the lambda below uses it
    const auto kind = bag_[at].second;
    bag_.erase(bag_.begin() + static_cast<std::ptrdiff_t>(at));
    const auto op = fmt::format("h{}-{}-{}", w_.run % 1000000, i_ + 1, ++op_no_);
    co_await operation("sell", op, fmt::format(R"(,"bag_item":{},"item":{})", item, kind),
                       [&](world::client_stub& stub, const std::string& wire, std::string& line) -> asio::awaitable<bool> {
                         auto r = co_await stub.sell(world::sell_request{item, wire}, call());
                         if (r) {
                           line += fmt::format(R"(,"outcome":"ok","gold":{})", r->gold);
                           gold_ = r->gold;
                           co_return true;
                         }
                         line += failed(r.error());
                         const auto o = outcome_of(r.error());
                         co_return o == "refused" || o == "error";
                       });
  }

  // Reads the bag (a read: always safe to repeat); true when it answered.
  asio::awaitable<bool> read_bag(std::string_view kind) {
    if (lost()) co_return false;
    const auto t0 = now_ms();
    world::client_stub stub(*conn_);
    auto r = co_await stub.bag({}, call());
    if (!r) {
      record(w_, head(kind, t0) + failed(r.error()) + "}");
      co_return false;
    }
    bag_.clear();
    std::vector<std::string> items;
    for (const auto& it : r->items) {
      bag_.push_back({it.id, it.item_id});
      items.push_back(fmt::format("[{},{}]", it.id, it.item_id));
    }
    gold_ = r->gold;
    record(w_, head(kind, t0) + fmt::format(R"(,"outcome":"ok","gold":{},"items":[{}]}})", r->gold, fmt::join(items, ",")));
    co_return true;
  }

  world_state& w_;
  std::size_t i_;
  std::string name_;
  std::pair<std::string, std::uint16_t> server_;
  std::mt19937_64 rng_;
  std::unique_ptr<ember::net::client> conn_;
  std::shared_ptr<bool> closed_flag_;
  std::uint64_t user_ = 0;
  std::uint64_t op_no_ = 0;
  int generation_ = 0;  // its accounts: a spent-out bot signs in as a new one
  std::int64_t gold_ = 100;
  std::vector<std::pair<std::int64_t, std::uint32_t>> bag_;  // its items and their shop ids, as the game last said
};

int usage(const char* argv0, bool help = false) {
  std::fprintf(help ? stdout : stderr,
               "usage: %s --connect HOST:PORT [--connect HOST:PORT ...] [--bots N] [--seconds S] --history FILE\n"
               "       [--names PREFIX] [--seed X] [--broken double-apply]\n",
               argv0);
  return help ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  world_state w;
  int bots = 4, seconds = 10;
  std::string history;
  std::uint64_t seed = std::random_device{}();
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    const bool has_value = a + 1 < argc;
    if (arg == "--help" || arg == "-h") return usage(argv[0], true);
    else if (arg == "--connect" && has_value) {
      const std::string_view hp = argv[++a];
      const auto colon = hp.rfind(':');
      const int port = colon == std::string_view::npos ? 0 : std::atoi(std::string(hp.substr(colon + 1)).c_str());
      if (port < 1 || port > 65535) return usage(argv[0]);
      w.servers.emplace_back(std::string(hp.substr(0, colon)), static_cast<std::uint16_t>(port));
    }
    else if (arg == "--bots" && has_value) bots = std::atoi(argv[++a]);
    else if (arg == "--seconds" && has_value) seconds = std::atoi(argv[++a]);
    else if (arg == "--history" && has_value) history = argv[++a];
    else if (arg == "--names" && has_value) w.names = argv[++a];
    else if (arg == "--seed" && has_value) seed = std::strtoull(argv[++a], nullptr, 10);
    else if (arg == "--broken" && has_value && std::string_view(argv[a + 1]) == "double-apply") w.double_apply = true, ++a;
    else return usage(argv[0]);
  }
  if (w.servers.empty() || w.names.empty() || w.names.size() > 32 || bots < 1 || bots > 1000 || seconds < 1 ||
      history.empty())
    return usage(argv[0]);
  w.history = std::fopen(history.c_str(), "w");
  if (!w.history) {
    std::fprintf(stderr, "history_bot: cannot write %s\n", history.c_str());
    return 1;
  }
  w.run = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  std::vector<std::string> servers;
  for (const auto& [host, port] : w.servers) servers.push_back(fmt::format("{}:{}", host, port));
  fmt::print("history_bot: {} bots on {} for {} s (seed {}){}\n", bots, fmt::join(servers, ", "), seconds, seed,
             w.double_apply ? ", BROKEN: retries carry new operation ids" : "");
  std::fflush(stdout);

  asio::io_context io(1);
  w.deadline = clock_type::now() + std::chrono::seconds(seconds);
  std::vector<std::unique_ptr<bot>> all;
  for (int b = 0; b < bots; ++b) {
    all.push_back(std::make_unique<bot>(w, static_cast<std::size_t>(b), seed));
    asio::co_spawn(io, all.back()->play(), [&w, &io, &all, b](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& x) {
          ++w.failed_bots;
          fmt::print("{}{}: failed: {}\n", w.names, b + 1, x.what());
        }
      }
      if (++w.finished == all.size()) io.stop();  // a closing connection's timers need not run out
    });
  }
  // The play, an operation's last attempts, and the final read fit in this bound.
  io.run_for(std::chrono::seconds(seconds) + op_deadline + final_deadline + 10s);
  std::fclose(w.history);
  const auto unfinished = static_cast<int>(all.size() - w.finished);
  fmt::print("history_bot: {} bots done, {} failed, {} did not finish\n", w.finished, w.failed_bots, unfinished);
  return w.failed_bots + unfinished == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
