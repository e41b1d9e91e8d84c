// The cluster example's bots: each logs in on a net server, joins the room "plaza", and until
// the time is up walks about, talks in the room, tells other bots things, buys and sells items
// (its gold and bag are saved by the game servers' data layer) and asks who is online. Several bots run in one process, on one thread; bot i uses the i-th port given
// (round-robin), so a room spans both net servers. At the end it prints what each bot did and
// fails if a bot could not log in, a request failed, or a bot heard nobody on another net server.
//
// usage: world_bot --port P [--port P2 ...] [--host H] [--bots N] [--seconds S] [--seed X]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ember/net/client.hpp"
#include "ember/spawn.hpp"
#include "world_client.hpp"

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

constexpr auto call_deadline = 3s;    // every request ends by then, answered or not
constexpr auto connect_deadline = 3s;
constexpr auto grace = 700ms;         // after the end, to hear the others' last lines

// What one bot did.
struct bot_stats {
  std::string name;
  std::uint16_t port = 0;
  std::string server;  // the game that served its login
  std::uint64_t user_id = 0;
  bool logged_in = false;
  bool lost = false;   // its connection ended before the time was up
  bool done = false;
  std::uint64_t ok = 0, failed = 0;
  std::uint64_t heard = 0, heard_other_net = 0, told = 0;
  std::uint64_t bought = 0, sold = 0, too_poor = 0;
  std::int64_t gold = 0;              // as the game last said
  std::vector<std::int64_t> bag;      // its items' keys
  std::string first_error;
};

// What the bots share (one thread: no locks).
struct world_state {
  std::string host;
  std::vector<bot_stats> bots;
  std::map<std::string, std::size_t, std::less<>> index_of;  // bot name -> index
  clock_type::time_point started, deadline;
  std::optional<world::online_reply> last_online;
  std::size_t finished = 0;
};

asio::awaitable<void> sleep_until(clock_type::time_point t) {
  asio::steady_timer timer(co_await asio::this_coro::executor, t);
  co_await timer.async_wait(asio::use_awaitable);
}

template <class T>
bool counted(bot_stats& me, const ember::outcome<T>& r, std::string_view what) {
  if (r) {
    ++me.ok;
    return true;
  }
  ++me.failed;
  if (me.first_error.empty())
    me.first_error = fmt::format("{}: {}", what, ember::describe(r.error()));
  return false;
}

constexpr std::string_view phrases[] = {
    "hello everyone", "anyone want to trade?", "nice weather on the plaza", "brb",
    "who is on the other server?", "race you to the fountain", "lag? what lag?", "gg",
};

asio::awaitable<void> play(world_state& w, std::size_t i, std::uint64_t seed) {
  bot_stats& me = w.bots[i];
  std::mt19937_64 rng(seed + i);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };

  ember::net::client_options options;
  options.default_timeout = call_deadline;
  options.connect_timeout = connect_deadline;
  ember::net::client conn(co_await asio::this_coro::executor, options);
  world::client_stub stub(conn);
  // The handlers touch only `w`, which outlives every connection.
  auto closed = std::make_shared<bool>(false);
  conn.on_close([closed](std::error_code) { *closed = true; });
  stub.on_chat_message([&w, i](const world::chat_message& m) {
    auto& b = w.bots[i];
    ++b.heard;
    if (auto it = w.index_of.find(m.from); it != w.index_of.end() && w.bots[it->second].port != b.port)
      ++b.heard_other_net;
  });
  stub.on_told([&w, i](const world::told&) { ++w.bots[i].told; });

  if (auto ec = co_await conn.connect(w.host, me.port)) {
    me.first_error = fmt::format("cannot connect to {}:{}: {}", w.host, me.port, ec.message());
    fmt::print("{}: {}\n", me.name, me.first_error);
    co_return;
  }
  auto login = co_await stub.login({me.name, "secret"});
  if (!counted(me, login, "login")) {
    fmt::print("{}: {}\n", me.name, me.first_error);
    co_return;
  }
  me.logged_in = true;
  me.user_id = login->user_id;
  me.server = login->server;
  fmt::print("{}: logged in on port {} as user {}, served by {}\n", me.name, me.port, me.user_id,
             me.server);
  std::fflush(stdout);
  counted(me, co_await stub.join_room(world::join_room_request{"plaza"}), "join_room");
  if (auto bag = co_await stub.bag({}); counted(me, bag, "bag")) {
    me.gold = bag->gold;
    for (const auto& it : bag->items) me.bag.push_back(it.id);
  }

  std::int32_t x = 0, y = 0;
  int said = 0;
  while (clock_type::now() < w.deadline && !*closed) {
    const int roll = pick(0, 99);
    if (roll < 45) {
      x = std::clamp(x + pick(-5, 5), -100, 100);
      y = std::clamp(y + pick(-5, 5), -100, 100);
      counted(me, co_await stub.move({x, y}), "move");
    } else if (roll < 93) {
      // Mostly to the room; now and then to one other bot, wherever it is connected.
      std::vector<std::size_t> others;
      for (std::size_t j = 0; j < w.bots.size(); ++j)
        if (j != i && w.bots[j].logged_in) others.push_back(j);
      const auto text = fmt::format("{} #{} ({},{})", phrases[pick(0, static_cast<int>(std::size(phrases)) - 1)],
                                    ++said, x, y);
      if (roll < 80 || others.empty()) {
        counted(me, co_await stub.say({"plaza", text}), "say");
      } else {
        const auto& to = w.bots[others[pick(0, static_cast<int>(others.size()) - 1)]];
        counted(me, co_await stub.tell({to.user_id, text}), "tell");
      }
    } else if (roll < 97) {
      // Trade with the shop: sell now and then, else buy one of the three items.
      if (!me.bag.empty() && pick(0, 2) == 0) {
        const auto at = static_cast<std::size_t>(pick(0, static_cast<int>(me.bag.size()) - 1));
        auto sold = co_await stub.sell(world::sell_request{me.bag[at]});
        if (counted(me, sold, "sell")) {
          me.gold = sold->gold;
          me.bag.erase(me.bag.begin() + static_cast<std::ptrdiff_t>(at));
          ++me.sold;
        }
      } else {
        auto bought = co_await stub.buy(world::buy_request{static_cast<std::uint32_t>(pick(1, 3))});
        if (!bought && bought.error().status == static_cast<std::uint16_t>(world::error::not_enough_gold)) {
          ++me.ok;  // a refusal the game is meant to give
          ++me.too_poor;
        } else if (counted(me, bought, "buy")) {
          me.gold = bought->gold;
          me.bag.push_back(bought->bag_item);
          ++me.bought;
        }
      }
    } else {
      auto online = co_await stub.online({});
      if (counted(me, online, "online")) w.last_online = *online;
    }
    co_await sleep_until(std::min(clock_type::now() + std::chrono::milliseconds(pick(20, 120)),
                                  w.deadline));
  }
  if (*closed && clock_type::now() < w.deadline) {
    me.lost = true;
    if (me.first_error.empty()) me.first_error = "the server closed the connection";
    fmt::print("{}: connection lost after {:.1f} s\n", me.name,
               std::chrono::duration<double>(clock_type::now() - w.started).count());
    co_return;
  }
  co_await sleep_until(w.deadline + grace);  // the others' last lines arrive
  conn.close();
}

// Once a second while the bots play: elapsed, requests per second, errors (terminals only).
asio::awaitable<void> progress(world_state& w) {
  std::uint64_t before = 0;
  auto next = w.started;
  while (w.finished < w.bots.size()) {
    next += 1s;
    co_await sleep_until(next);
    if (w.finished == w.bots.size()) break;
    std::uint64_t requests = 0, errors = 0;
    std::size_t playing = 0;
    for (auto& b : w.bots) {
      requests += b.ok + b.failed;
      errors += b.failed + (b.lost ? 1 : 0);
      playing += b.logged_in && !b.lost && !b.done;
    }
    fmt::print("{:4.0f} s  {:6} requests/s  {} errors  {} bots playing\n",
               std::chrono::duration<double>(clock_type::now() - w.started).count(),
               requests - before, errors, playing);
    std::fflush(stdout);
    before = requests;
  }
}

int usage(const char* argv0, bool help = false) {
  std::fprintf(help ? stdout : stderr,
               "usage: %s --port P [--port P2 ...] [--host H] [--bots N] [--seconds S] [--seed X]\n",
               argv0);
  return help ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  world_state w;
  w.host = "127.0.0.1";
  std::vector<std::uint16_t> ports;
  int bots = 4, seconds = 10;
  std::uint64_t seed = std::random_device{}();
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    const bool has_value = a + 1 < argc;
    if (arg == "--help" || arg == "-h") return usage(argv[0], true);
    else if (arg == "--port" && has_value) ports.push_back(static_cast<std::uint16_t>(std::atoi(argv[++a])));
    else if (arg == "--host" && has_value) w.host = argv[++a];
    else if (arg == "--bots" && has_value) bots = std::atoi(argv[++a]);
    else if (arg == "--seconds" && has_value) seconds = std::atoi(argv[++a]);
    else if (arg == "--seed" && has_value) seed = std::strtoull(argv[++a], nullptr, 10);
    else return usage(argv[0]);
  }
  if (ports.empty() || bots < 1 || seconds < 1) return usage(argv[0]);

  for (int b = 0; b < bots; ++b) {
    bot_stats s;
    s.name = fmt::format("bot{}", b + 1);
    s.port = ports[static_cast<std::size_t>(b) % ports.size()];
    w.index_of[s.name] = w.bots.size();
    w.bots.push_back(std::move(s));
  }
  fmt::print("world_bot: {} bots on ports {} for {} s (seed {})\n", bots, fmt::join(ports, ", "),
             seconds, seed);
  std::fflush(stdout);

  asio::io_context io(1);
  w.started = clock_type::now();
  w.deadline = w.started + std::chrono::seconds(seconds);
  for (std::size_t i = 0; i < w.bots.size(); ++i) {
    asio::co_spawn(io, play(w, i, seed), [&w, i](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& x) {
          w.bots[i].lost = true;
          w.bots[i].first_error = fmt::format("the bot failed: {}", x.what());
        }
      }
      w.bots[i].done = true;
      ++w.finished;
    });
  }
  if (isatty(STDOUT_FILENO)) ember::spawn(io.get_executor(), progress(w), "progress");
  // Logins, the play, the last call's deadline and the grace all fit in this bound.
  io.run_for(std::chrono::seconds(seconds) + connect_deadline + 4 * call_deadline + grace + 2s);
  const double elapsed = std::chrono::duration<double>(clock_type::now() - w.started).count();

  // The summary.
  std::vector<std::string> problems;
  bot_stats total;
  fmt::print("\n{:<7} {:>5}  {:<8} {:>9} {:>7} {:>7} {:>11} {:>6} {:>7} {:>5} {:>5}\n", "bot", "port", "game",
             "requests", "failed", "heard", "other net", "tells", "bought", "sold", "gold");
  for (auto& b : w.bots) {
    fmt::print("{:<7} {:>5}  {:<8} {:>9} {:>7} {:>7} {:>11} {:>6} {:>7} {:>5} {:>5}\n", b.name, b.port,
               b.server.empty() ? "-" : b.server, b.ok, b.failed, b.heard, b.heard_other_net,
               b.told, b.bought, b.sold, b.gold);
    total.bought += b.bought;
    total.sold += b.sold;
    total.ok += b.ok;
    total.failed += b.failed;
    total.heard += b.heard;
    total.heard_other_net += b.heard_other_net;
    total.told += b.told;
    const bool has_peer_elsewhere = std::any_of(w.bots.begin(), w.bots.end(),
                                                [&](const bot_stats& o) { return o.port != b.port; });
    if (!b.done) problems.push_back(fmt::format("{} did not finish in time", b.name));
    else if (!b.logged_in) problems.push_back(fmt::format("{} did not log in: {}", b.name, b.first_error));
    else if (b.lost) problems.push_back(fmt::format("{}: {}", b.name, b.first_error));
    if (b.failed)
      problems.push_back(fmt::format("{}: {} requests failed, the first: {}", b.name, b.failed,
                                     b.first_error));
    if (b.logged_in && b.heard == 0) problems.push_back(fmt::format("{} heard nothing", b.name));
    else if (b.logged_in && has_peer_elsewhere && b.heard_other_net == 0)
      problems.push_back(fmt::format("{} heard no bot of another net server", b.name));
  }
  fmt::print("{:<7} {:>5}  {:<8} {:>9} {:>7} {:>7} {:>11} {:>6} {:>7} {:>5}\n", "total", "", "", total.ok,
             total.failed, total.heard, total.heard_other_net, total.told, total.bought, total.sold);
  fmt::print("{:.1f} s, {:.0f} requests/s answered", elapsed,
             static_cast<double>(total.ok) / seconds);
  if (w.last_online) {
    std::vector<std::string> per_server;
    for (auto& s : w.last_online->servers) per_server.push_back(fmt::format("{} {}", s.server, s.players));
    fmt::print("; the last `online`: {} players ({})", w.last_online->total,
               fmt::join(per_server, ", "));
  }
  fmt::print("\n");
  if (problems.empty()) {
    fmt::print("ok: every bot logged in, no request failed, every bot heard {}\n",
               ports.size() > 1 ? "bots of the other net server" : "the others");
    return EXIT_SUCCESS;
  }
  for (auto& p : problems) fmt::print("FAILED: {}\n", p);
  return EXIT_FAILURE;
}
