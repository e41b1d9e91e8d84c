// players_bot: the load of the players-per-core benchmark (tools/bench/players.py drives it).
// N bots of the example game (examples/cluster) in one process, on one thread. Each signs in
// (accounts), joins a room of 50 ("plaza-K"), befriends its pair (bots 2k and 2k+1), joins a
// guild of 20 (bot 20k founds it) and opens its channel; then, about once a second (0.5 to
// 1.5 s apart), it does one thing a player does: walks, talks in its room, tells its friend,
// talks in its guild, buys from the shop (purchase ids), buys or sells the game's items
// (operation ids), reads its bag, mails its friend gold (the friend claims it on the push),
// reads the board or its rank, reads its quests (claims a completed one on the push), queues
// for a match of two. Pushes are counted. Every request's latency goes to a histogram per
// kind; once a second the process prints one JSON line, which the driver merges across
// processes:
//   {"t":S,"bots":N,"signed":N,"lost":N,"errors":N,"pushes":N,"sign_in_retries":N,
//    "first_error":"...","lat":{"move":{"UPPER_US":COUNT,...},...}}
// (the counters are totals; "lat" holds the second's latencies; a sign-in's latency includes its
// retries).
// A bucket is named by its upper bound in microseconds (8 buckets per power of two: +12.5%).
// Refusals the game is meant to give (too little gold, a limit reached, already queued)
// count as answers; any other error counts in "errors".
//
// usage: players_bot --port P [--port P2 ...] [--host H] [--bots N] [--first I] [--rate R]
//                    [--seconds S] [--seed X] [--think-ms MS] [--only KIND]
//   --first: the global index of the first bot (names player<index>; the driver gives each process
//   a block, a multiple of 20, so guilds and pairs stay in one process); --rate: sign-ins
//   started per second; --seconds: the process ends by then (SIGTERM or SIGINT end it sooner);
//   --think-ms: the mean time between a bot's actions (1000; 0: the bots sign in and idle);
//   --only: one kind of action alone (move, say, tell, guild_say, shop_buy, trade, bag, gift,
//   board_top, board_rank, quests, queue), to see what each costs.
#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "ember/net/client.hpp"
#include "ember/spawn.hpp"
#include "ember/modules/chat/detail/ember_chat_client.hpp"
#include "ember/modules/friends/detail/ember_friends_client.hpp"
#include "ember/modules/guilds/detail/ember_guilds_client.hpp"
#include "ember/modules/leaderboard/detail/ember_leaderboard_client.hpp"
#include "ember/modules/mail/detail/ember_mail_client.hpp"
#include "ember/modules/matchmaking/detail/ember_matchmaking_client.hpp"
#include "ember/modules/quests/detail/ember_quests_client.hpp"
#include "ember/modules/shop/detail/ember_shop_client.hpp"
#include "world_client.hpp"

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

constexpr auto call_deadline = 5s;
constexpr std::size_t room_size = 50, guild_size = 20;  // guild_size: config.json's max_members

// Latencies in µs, 8 buckets per power of two.
class histogram {
 public:
  static constexpr std::size_t buckets = 8 * 40;
  void add(std::uint64_t us) { ++counts_[index(std::max<std::uint64_t>(us, 1))]; }
  bool empty() const { return total() == 0; }
  std::uint64_t total() const {
    std::uint64_t n = 0;
    for (auto c : counts_) n += c;
    return n;
  }
  /// {"UPPER":COUNT,...} of the non-empty buckets; then empties it.
  std::string drain() {
    std::string out = "{";
    for (std::size_t i = 0; i < buckets; ++i) {
      if (counts_[i] == 0) continue;
      out += fmt::format("{}\"{}\":{}", out.size() > 1 ? "," : "", upper(i), counts_[i]);
      counts_[i] = 0;
    }
    return out + "}";
  }

 private:
  static std::size_t index(std::uint64_t v) {
    const auto e = static_cast<std::size_t>(std::bit_width(v) - 1);  // 2^e <= v < 2^(e+1)
    if (e < 3) return static_cast<std::size_t>(v);                  // 1..7 exactly
    return std::min(buckets - 1, e * 8 + static_cast<std::size_t>((v >> (e - 3)) & 7));
  }
  static std::uint64_t upper(std::size_t i) {
    if (i < 8) return i;
    const std::size_t e = i / 8, sub = i % 8;
    return ((8 + sub + 1) << (e - 3)) - 1;
  }
  std::array<std::uint64_t, buckets> counts_{};
};

enum kind : std::size_t {
  k_login, k_setup, k_move, k_say, k_tell, k_guild_say, k_shop_buy, k_buy, k_sell, k_bag, k_gift, k_claim_mail,
  k_board_top, k_board_rank, k_quests, k_claim_quest, k_queue, k_count
};
constexpr std::string_view kind_names[k_count] = {
    "login", "setup", "move", "say", "tell", "guild_say", "shop_buy", "buy", "sell", "bag", "gift", "claim_mail",
    "board_top", "board_rank", "quests", "claim_quest", "queue"};

struct bot {
  std::uint64_t user_id = 0;
  bool signed_in = false, setup_done = false, invited = false;
  std::uint64_t guild = 0;  // a founder's guild, which its block joins
};

struct world_state {
  std::string host;
  std::vector<std::uint16_t> ports;
  std::uint64_t first = 0, run = 0, seed = 0;
  std::vector<bot> bots;
  std::array<histogram, k_count> lat;
  std::uint64_t signed_in = 0, lost = 0, errors = 0, pushes = 0, sign_in_retries = 0;
  std::string first_error;
  bool stopping = false;
  int think_ms = 1000;  ///< mean time between a bot's actions (0: signed in, and idle)
  int only = -1;        ///< a roll (0..99) every action uses: one kind of action alone
};

asio::awaitable<void> sleep_for(clock_type::duration d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

template <class E>
bool refused_with(const ember::outcome<E>& r, auto code) {
  return !r && r.error().status == static_cast<std::uint16_t>(code);
}

// Records a request's latency under `k`; counts it as an error unless it succeeded or was a
// refusal `expected` says the game gives.
template <class T>
bool record(world_state& w, kind k, clock_type::time_point t0, const ember::outcome<T>& r, bool expected = false) {
  w.lat[k].add(static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - t0).count()));
  if (r) return true;
  if (expected) return false;
  ++w.errors;
  if (w.first_error.empty()) w.first_error = fmt::format("{}: {}", kind_names[k], ember::describe(r.error()));
  return false;
}

// Waits (at most `limit`) until `ready()`.
template <class F>
asio::awaitable<bool> wait_until(F ready, clock_type::duration limit) {
  const auto until = clock_type::now() + limit;
  while (!ready()) {
    if (clock_type::now() >= until) co_return false;
    co_await sleep_for(50ms);
  }
  co_return true;
}

constexpr std::string_view phrases[] = {"hello everyone", "anyone want to trade?", "brb", "gg", "race you to the fountain"};

asio::awaitable<void> play(world_state& w, std::size_t i) {
  bot& me = w.bots[i];
  const std::uint64_t g = w.first + i;  // the global index
  std::mt19937_64 rng(w.seed + g);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };

  // What the pushes set: declared before the connection, so they outlive its handlers.
  std::vector<std::int64_t> mails;  // received, to claim
  bool quest_ready = false, queued = false;
  ember::net::client_options options;
  options.default_timeout = call_deadline;
  options.connect_timeout = call_deadline;
  ember::net::client conn(co_await asio::this_coro::executor, options);
  world::client_stub stub(conn);
  ember_chat::client_stub chat(conn);
  ember_friends::client_stub friends(conn);
  ember_mail::client_stub mail(conn);
  ember_shop::client_stub shop(conn);
  ember_quests::client_stub quests(conn);
  ember_guilds::client_stub guilds(conn);
  ember_leaderboard::client_stub boards(conn);
  ember_matchmaking::client_stub matching(conn);
  auto closed = std::make_shared<bool>(false);
  conn.on_close([closed](std::error_code) { *closed = true; });
  chat.on_line_said([&w](const ember_chat::line_said&) { ++w.pushes; });
  friends.on_friend_status([&w](const ember_friends::friend_status&) { ++w.pushes; });
  mail.on_mail_received([&w, &mails](const ember_mail::mail_received& m) {
    ++w.pushes;
    if (mails.size() < 100) mails.push_back(m.mail.id);
  });
  quests.on_quest_progressed([&w, &quest_ready](const ember_quests::quest_progressed& p) {
    ++w.pushes;
    if (p.status.completed && !p.status.claimed) quest_ready = true;
  });
  matching.on_matched([&w, &queued](const ember_matchmaking::matched&) { ++w.pushes, queued = false; });
  matching.on_ticket_ended([&w, &queued](const ember_matchmaking::ticket_ended&) { ++w.pushes, queued = false; });

  const auto port = w.ports[g % w.ports.size()];
  auto t0 = clock_type::now();
  if (auto ec = co_await conn.connect(w.host, port)) {
    ++w.errors, ++w.lost;
    if (w.first_error.empty()) w.first_error = fmt::format("connect to {}: {}", port, ec.message());
    co_return;
  }
  // A player whose sign-in timed out tries again, as a client does (a sign-in that ran on the
  // game but whose answer was late signs in the same account again): 4 tries, 1, 2, 4 s apart.
  // A wrong password is final.
  const auto name = fmt::format("player{}", g);
  auto login = co_await stub.login({name, "secret-" + name});
  for (int attempt = 1; !login && attempt < 4 && !w.stopping &&
                        !refused_with(login, world::error::bad_password);
       ++attempt) {
    ++w.sign_in_retries;
    co_await sleep_for(std::chrono::seconds(1 << (attempt - 1)));
    login = co_await stub.login({name, "secret-" + name});
  }
  if (!record(w, k_login, t0, login)) {
    ++w.lost;
    co_return;
  }
  me.user_id = login->user_id;
  me.signed_in = true;
  ++w.signed_in;

  // The setup: a room of 50, a friend (the pair's first invites, its second accepts), a guild.
  t0 = clock_type::now();
  record(w, k_setup, t0, co_await stub.join_room(world::join_room_request{fmt::format("plaza-{}", g / room_size)}));
  const std::size_t partner = (g % 2 == 0) ? i + 1 : i - 1;
  const bool has_partner = partner < w.bots.size();
  if (has_partner && g % 2 == 0) {
    if (co_await wait_until([&] { return w.bots[partner].signed_in || w.stopping; }, 60s) && !w.stopping) {
      t0 = clock_type::now();
      record(w, k_setup, t0, co_await friends.add_friend(ember_friends::add_friend_request{w.bots[partner].user_id}));
    }
    me.invited = true;
  } else if (has_partner) {
    if (co_await wait_until([&] { return w.bots[partner].invited || w.stopping; }, 60s) && w.bots[partner].user_id != 0) {
      t0 = clock_type::now();
      record(w, k_setup, t0, co_await friends.add_friend(ember_friends::add_friend_request{w.bots[partner].user_id}));
    }
  }
  const std::size_t founder = i - g % guild_size;
  if (i == founder) {
    t0 = clock_type::now();
    auto made = co_await guilds.create_guild(ember_guilds::create_guild_request{fmt::format("G{}-{}", w.run, g), true});
    me.guild = record(w, k_setup, t0, made) ? made->guild.id : ~0ULL;
  } else if (founder < w.bots.size()) {
    co_await wait_until([&] { return w.bots[founder].guild != 0 || w.stopping; }, 60s);
    if (const auto id = w.bots[founder].guild; id != 0 && id != ~0ULL) {
      t0 = clock_type::now();
      record(w, k_setup, t0, co_await guilds.join_guild(ember_guilds::join_guild_request{id}));
    }
  }
  t0 = clock_type::now();
  const bool in_guild = record(w, k_setup, t0, co_await guilds.open_chat({}), true);
  me.setup_done = true;

  std::int32_t x = 0, y = 0;
  std::vector<std::int64_t> bag;  // the game's items it bought (to sell)
  std::uint64_t op_no = 0;
  auto op = [&] { return fmt::format("{}-{}-{}", w.run % 1000000000, g, ++op_no); };
  while (!*closed && !w.stopping) {
    if (w.think_ms == 0) {
      co_await sleep_for(1s);
      continue;
    }
    co_await sleep_for(std::chrono::milliseconds(pick(w.think_ms / 2, w.think_ms * 3 / 2)));
    if (*closed || w.stopping) break;
    // What the pushes asked for first: the mails its friend sent, a completed quest.
    if (!mails.empty()) {
      const auto id = mails.back();
      mails.pop_back();
      t0 = clock_type::now();
      record(w, k_claim_mail, t0, co_await mail.claim_mail({id, fmt::format("claim-{}", id)}));
      continue;
    }
    if (quest_ready) {
      quest_ready = false;
      t0 = clock_type::now();
      record(w, k_claim_quest, t0, co_await quests.claim(ember_quests::claim_request{"daily_shopper"}));
      continue;
    }
    const int roll = w.only >= 0 ? w.only : pick(0, 99);
    t0 = clock_type::now();
    if (roll < 35) {
      x = std::clamp(x + pick(-5, 5), -100, 100);
      y = std::clamp(y + pick(-5, 5), -100, 100);
      record(w, k_move, t0, co_await stub.move({x, y}));
    } else if (roll < 50) {
      const auto text = fmt::format("{} ({},{})", phrases[pick(0, static_cast<int>(std::size(phrases)) - 1)], x, y);
      record(w, k_say, t0, co_await stub.say({fmt::format("plaza-{}", g / room_size), text}));
    } else if (roll < 55) {
      if (has_partner) record(w, k_tell, t0, co_await stub.tell({w.bots[partner].user_id, "psst"}));
    } else if (roll < 60) {
      if (in_guild) record(w, k_guild_say, t0, co_await guilds.say(ember_guilds::say_request{"for the guild!", op()}));
    } else if (roll < 70) {
      auto r = co_await shop.buy(ember_shop::buy_request{op(), pick(0, 4) == 0 ? "daily_kit" : "herb_bundle"});
      record(w, k_shop_buy, t0, r, refused_with(r, ember_shop::error::insufficient_funds) ||
                                       refused_with(r, ember_shop::error::limit_reached));
    } else if (roll < 78) {
      if (!bag.empty() && pick(0, 1) == 0) {
        const auto item = bag.back();
        bag.pop_back();
        record(w, k_sell, t0, co_await stub.sell(world::sell_request{item, op()}));
      } else {
        auto r = co_await stub.buy(world::buy_request{static_cast<std::uint32_t>(pick(1, 3)), op()});
        if (record(w, k_buy, t0, r, refused_with(r, world::error::not_enough_gold)) && bag.size() < 20)
          bag.push_back(r->bag_item);
      }
    } else if (roll < 83) {
      record(w, k_bag, t0, co_await stub.bag({}));
    } else if (roll < 88) {
      if (has_partner) {
        record(w, k_gift, t0, co_await stub.gift({w.bots[partner].user_id, 1, op()}));
      }
    } else if (roll < 91) {
      record(w, k_board_top, t0, co_await boards.list_top(ember_leaderboard::list_top_request{"shoppers", 0, 10}));
    } else if (roll < 93) {
      record(w, k_board_rank, t0, co_await boards.my_rank(ember_leaderboard::my_rank_request{"shoppers", 0}));
    } else if (roll < 97) {
      record(w, k_quests, t0, co_await quests.list_quests(ember_quests::list_quests_request{"", 0}));
    } else if (!queued) {
      ember_matchmaking::queue_request q;
      q.mode = "skirmish";
      auto r = co_await matching.queue(q);
      if (record(w, k_queue, t0, r, refused_with(r, ember_matchmaking::error::already_queued))) queued = true;
    }
  }
  if (*closed && !w.stopping) {
    ++w.lost;
    if (w.first_error.empty()) w.first_error = "the server closed a connection";
  }
  conn.close();
}

// Once a second: what the second brought, as one JSON line (see the top).
asio::awaitable<void> report(world_state& w, clock_type::time_point started) {
  auto next = started;
  while (!w.stopping) {
    next += 1s;
    asio::steady_timer t(co_await asio::this_coro::executor, next);
    co_await t.async_wait(asio::use_awaitable);
    std::string lat;
    for (std::size_t k = 0; k < k_count; ++k)
      if (!w.lat[k].empty()) lat += fmt::format("{}\"{}\":{}", lat.empty() ? "" : ",", kind_names[k], w.lat[k].drain());
    std::string err;
    for (char c : w.first_error)
      if (c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20) err += c;
    fmt::print("{{\"t\":{:.3f},\"bots\":{},\"signed\":{},\"lost\":{},\"errors\":{},\"pushes\":{},"
               "\"sign_in_retries\":{},\"first_error\":\"{}\",\"lat\":{{{}}}}}\n",
               std::chrono::duration<double>(clock_type::now() - started).count(), w.bots.size(), w.signed_in, w.lost,
               w.errors, w.pushes, w.sign_in_retries, err, lat);
    std::fflush(stdout);
  }
}

int usage(const char* argv0, bool help = false) {
  std::fprintf(help ? stdout : stderr,
               "usage: %s --port P [--port P2 ...] [--host H] [--bots N] [--first I] [--rate R] [--seconds S] "
               "[--seed X] [--think-ms MS] [--only KIND]\n",
               argv0);
  return help ? EXIT_SUCCESS : 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  world_state w;
  w.host = "127.0.0.1";
  long bots = 100, rate = 500, seconds = 60;
  for (int a = 1; a < argc; ++a) {
    const std::string_view arg = argv[a];
    const bool has_value = a + 1 < argc;
    if (arg == "--help" || arg == "-h") return usage(argv[0], true);
    else if (arg == "--port" && has_value) w.ports.push_back(static_cast<std::uint16_t>(std::atoi(argv[++a])));
    else if (arg == "--host" && has_value) w.host = argv[++a];
    else if (arg == "--bots" && has_value) bots = std::atol(argv[++a]);
    else if (arg == "--first" && has_value) w.first = std::strtoull(argv[++a], nullptr, 10);
    else if (arg == "--rate" && has_value) rate = std::atol(argv[++a]);
    else if (arg == "--seconds" && has_value) seconds = std::atol(argv[++a]);
    else if (arg == "--seed" && has_value) w.seed = std::strtoull(argv[++a], nullptr, 10);
    else if (arg == "--think-ms" && has_value) w.think_ms = std::atoi(argv[++a]);
    else if (arg == "--only" && has_value) {
      // The roll of play()'s choice that picks the kind named.
      const std::string_view only = argv[++a];
      constexpr std::pair<std::string_view, int> rolls[] = {
          {"move", 0},      {"say", 35},    {"tell", 50},        {"guild_say", 55},  {"shop_buy", 60},
          {"trade", 70},    {"bag", 78},    {"gift", 83},        {"board_top", 88},  {"board_rank", 91},
          {"quests", 93},   {"queue", 97}};
      for (const auto& [name, roll] : rolls)
        if (name == only) w.only = roll;
      if (w.only < 0) return usage(argv[0]);
    }
    else return usage(argv[0]);
  }
  // 15,000 sockets at most per process (the machine's limit of descriptors is 20,000).
  if (w.ports.empty() || bots < 1 || bots > 15'000 || rate < 1 || seconds < 1 || w.think_ms < 0) return usage(argv[0]);
  w.bots.resize(static_cast<std::size_t>(bots));
  w.run = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());

  asio::io_context io(1);
  const auto started = clock_type::now();
  asio::signal_set signals(io, SIGINT, SIGTERM);
  auto stop = [&] {
    w.stopping = true;
    io.stop();
  };
  signals.async_wait([&](std::error_code ec, int) {
    if (!ec) stop();
  });
  asio::steady_timer end(io, std::chrono::seconds(seconds));
  end.async_wait([&](std::error_code ec) {
    if (!ec) stop();
  });
  // The sign-ins start `rate` a second.
  ember::spawn(io.get_executor(), [](world_state& w, long rate) -> asio::awaitable<void> {
    const auto gap = std::chrono::nanoseconds(1'000'000'000 / rate);
    auto at = clock_type::now();
    for (std::size_t i = 0; i < w.bots.size() && !w.stopping; ++i) {
      asio::co_spawn(co_await asio::this_coro::executor, play(w, i), [&w](std::exception_ptr e) {
        if (!e) return;
        ++w.lost, ++w.errors;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& x) {
          if (w.first_error.empty()) w.first_error = fmt::format("a bot failed: {}", x.what());
        }
      });
      at += gap;
      asio::steady_timer t(co_await asio::this_coro::executor, at);
      co_await t.async_wait(asio::use_awaitable);
    }
  }(w, rate), "sign-ins");
  ember::spawn(io.get_executor(), report(w, started), "report");
  io.run();
  return EXIT_SUCCESS;
}
