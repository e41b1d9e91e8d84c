// A game process of the leaderboard suite that owns a board: it opens a store (replaying its
// journal), starts the leaderboard service (rebuilding the board from the database), then
//
//   leaderboard_worker MEMCACHED CONNECTION JOURNAL write   — writes without end, one at a time:
//       write k sets owner k % 50 + 1 to score k; after each acknowledged write it prints
//       "ack OWNER SCORE" (a test kills it with SIGKILL meanwhile);
//   leaderboard_worker MEMCACHED CONNECTION JOURNAL list    — prints "rec OWNER SCORE RANK" for
//       every record of the board, then "listed", stops the store cleanly and exits 0.
//
// One of several owners of board `kills` (a lobby of a cluster; docs/modules/leaderboard.md,
// "Several owners"), joined as NAME to the owner registry on 127.0.0.1:PORT:
//
//   leaderboard_worker MEMCACHED CONNECTION JOURNAL own NAME PORT OFFSET
//       serves nothing until SIGUSR1; then acquires the board (retrying while refused), prints
//       "owner NAME T", adopts it ("adopted RECORDS T", then "took OWNER SCORE RANK" for each
//       record as it found them, then "took all"), and writes as `write` does with scores
//       OFFSET + k, printing "ack OWNER SCORE T", until the registry moves the board away
//       ("released NAME T"; the next SIGUSR1 takes it again). SIGUSR2: lists the board as
//       `list` does and exits. T: CLOCK_MONOTONIC in ns, one clock for every process here.
//   leaderboard_worker MEMCACHED CONNECTION JOURNAL recover — a killed owner run again as a
//       master would: its journal is written back; then it stops cleanly ("recovered").
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "ember/cluster/node.hpp"
#include "ember/cluster/ownership.hpp"
#include "ember/modules/leaderboard/cluster.hpp"
#include "ember/spawn.hpp"

#include "ember/data/database.hpp"
#include "ember/data/memcache.hpp"
#include "ember/data/store.hpp"
#include "ember/modules/leaderboard/leaderboard.hpp"
#include "support/run.hpp"

namespace lb = ember::modules::leaderboard;

namespace {

long long monotonic_ns() {
  return static_cast<long long>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    std::chrono::steady_clock::now().time_since_epoch())
                                    .count());
}

void say(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

asio::awaitable<void> list_board(lb::service& boards, const char* word = "rec") {
  std::optional<ember_leaderboard::record_cursor> at;
  for (;;) {
    auto p = co_await boards.top("kills", 0, 100, at);
    for (const auto& r : p.records)
      std::printf("%s %llu %lld %llu\n", word, static_cast<unsigned long long>(r.owner), static_cast<long long>(r.score),
                  static_cast<unsigned long long>(r.rank));
    if (!p.next) break;
    at = p.next;
  }
  say(std::string(word) == "rec" ? "listed" : "took all");
}

// One owner among several (see the top of this file).
int own(asio::io_context& io, ember::data::store& store, lb::service& boards, const std::string& name,
        std::uint16_t port, std::int64_t offset) {
  ember::cluster::node_options no;
  no.name = name;
  no.type = "lobby";
  no.secret = "leaderboard suite secret";
  no.root_port = port;
  no.root_name = "gate";
  no.min_backoff = std::chrono::milliseconds(20);
  no.max_backoff = std::chrono::milliseconds(100);
  ember::cluster::node_connector registry(io.get_executor(), no);
  ember::cluster::player_ownership owned(io.get_executor(), registry, std::chrono::milliseconds(1'000));
  const auto key = lb::board_key("kills");
  owned.on_release([&](std::uint64_t k) -> asio::awaitable<void> {
    if (k != key) co_return;
    co_await boards.drop("kills");
    say("released " + name + " " + std::to_string(monotonic_ns()));
  });
  registry.start();
  std::int64_t k = 0;
  bool writing = false, stop_writing = false;  // SIGUSR2 lists once the writes have stopped
  auto take = [&]() -> asio::awaitable<void> {
    asio::steady_timer wait(io);
    while (!(co_await owned.acquire(key))) {  // refused while another may hold it: retry
      wait.expires_after(std::chrono::milliseconds(50));
      co_await wait.async_wait(asio::use_awaitable);
    }
    say("owner " + name + " " + std::to_string(monotonic_ns()));
    co_await boards.adopt("kills");
    say("adopted " + std::to_string(boards.size("kills")) + " " + std::to_string(monotonic_ns()));
    co_await list_board(boards, "took");  // the board as the takeover found it
    writing = true;
    while (boards.serves("kills") && !stop_writing) {
      ++k;
      const auto owner = static_cast<std::uint64_t>(k % 50 + 1);
      lb::write_request w{offset + k, 0, {}, ember_leaderboard::write_operator::board, {}};
      try {
        auto r = co_await boards.write("kills", owner, std::move(w));
        std::printf("ack %llu %lld %lld\n", static_cast<unsigned long long>(owner), static_cast<long long>(r.score),
                    monotonic_ns());
        std::fflush(stdout);
      } catch (const ember::game_error& e) {
        if (e.code() != static_cast<std::uint16_t>(ember::status::unavailable)) throw;
        --k;  // refused, not written: the board moved away meanwhile
      }
    }
    writing = false;
  };
  asio::signal_set signals(io, SIGUSR1, SIGUSR2);
  int rc = 0;
  std::function<void()> listen = [&] {
    signals.async_wait([&](std::error_code ec, int sig) {
      if (ec) return;
      if (sig == SIGUSR1) {
        ember::spawn(io.get_executor(), take(), "leaderboard_worker: taking the board");
        listen();
        return;
      }
      asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        stop_writing = true;
        asio::steady_timer wait(io);
        while (writing) {  // the writer coroutine clears it
          wait.expires_after(std::chrono::milliseconds(1));
          co_await wait.async_wait(asio::use_awaitable);
        }
        co_await list_board(boards);
        co_await store.stop();
      }, [&](std::exception_ptr e) {
        if (e) rc = 1;
        ember::log_escaped("leaderboard_worker: listing", e);
        registry.stop();
        io.stop();
      });
    });
  };
  listen();
  say("ready " + name);
  io.restart();  // (ember::test::run stopped it)
  io.run();
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 4 ? argv[4] : "";
  if (!((argc == 5 && (mode == "write" || mode == "list" || mode == "recover")) || (argc == 8 && mode == "own"))) {
    std::fprintf(stderr, "usage: leaderboard_worker MEMCACHED CONNECTION JOURNAL write|list|recover\n"
                         "       leaderboard_worker MEMCACHED CONNECTION JOURNAL own NAME PORT OFFSET\n");
    return 2;
  }
  const bool writing = mode == "write";
  try {
    asio::io_context io;
    ember::data::memcache cache({.servers = {argv[1]}, .key_prefix = "t:"});
    ember::data::database db(argv[2]);
    ember::data::store store(cache, db, {.journal = argv[3]});
    ember::modules::event_bus bus;
    lb::options o;
    o.boards.push_back(lb::options::parse_board("kills desc set"));
    o.max_page = 100;
    lb::service boards(store, bus, o);
    ember::test::run(io, store.open());
    if (mode == "recover") {  // store.open() wrote back what the journal replayed
      ember::test::run(io, store.stop());
      say("recovered");
      return 0;
    }
    store.start(io.get_executor());  // write-back runs as in a server: some rows reach the database
    if (mode == "own") {
      ember::test::run(io, boards.start(lb::service::serving::adopted), std::chrono::seconds(60));
      return own(io, store, boards, argv[5], static_cast<std::uint16_t>(std::stoi(argv[6])), std::stoll(argv[7]));
    }
    ember::test::run(io, boards.start(), std::chrono::seconds(60));
    if (writing) {
      ember::test::run(io, [&]() -> asio::awaitable<void> {
        for (std::int64_t k = 1;; ++k) {
          const auto owner = static_cast<std::uint64_t>(k % 50 + 1);
          lb::write_request w{k, 0, {}, ember_leaderboard::write_operator::board, {}};
          auto r = co_await boards.write("kills", owner, std::move(w));
          std::printf("ack %llu %lld\n", static_cast<unsigned long long>(owner), static_cast<long long>(r.score));
          std::fflush(stdout);
        }
      }(), std::chrono::hours(1));
      return 0;
    }
    ember::test::run(io, [&]() -> asio::awaitable<void> {
      co_await list_board(boards);
      co_await store.stop();
    }(), std::chrono::seconds(60));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "leaderboard_worker: %s\n", e.what());
    return 1;
  }
}
