// A game process of the leaderboard suite that owns a board: it opens a store (replaying its
// journal), starts the leaderboard service (rebuilding the board from the database), then
//
//   leaderboard_worker MEMCACHED CONNECTION JOURNAL write   — writes without end, one at a time:
//       write k sets owner k % 50 + 1 to score k; after each acknowledged write it prints
//       "ack OWNER SCORE" (a test kills it with SIGKILL meanwhile);
//   leaderboard_worker MEMCACHED CONNECTION JOURNAL list    — prints "rec OWNER SCORE RANK" for
//       every record of the board, then "listed", stops the store cleanly and exits 0.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include "ember/data/database.hpp"
#include "ember/data/memcache.hpp"
#include "ember/data/store.hpp"
#include "ember/modules/leaderboard/leaderboard.hpp"
#include "support/run.hpp"

namespace lb = ember::modules::leaderboard;

int main(int argc, char** argv) {
  if (argc != 5 || (std::strcmp(argv[4], "write") && std::strcmp(argv[4], "list"))) {
    std::fprintf(stderr, "usage: leaderboard_worker MEMCACHED CONNECTION JOURNAL write|list\n");
    return 2;
  }
  const bool writing = !std::strcmp(argv[4], "write");
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
    store.start(io.get_executor());  // write-back runs as in a server: some rows reach the database
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
      std::optional<ember_leaderboard::record_cursor> at;
      for (;;) {
        auto p = co_await boards.top("kills", 0, 100, at);
        for (const auto& r : p.records)
          std::printf("rec %llu %lld %llu\n", static_cast<unsigned long long>(r.owner), static_cast<long long>(r.score),
                      static_cast<unsigned long long>(r.rank));
        if (!p.next) break;
        at = p.next;
      }
      std::printf("listed\n");
      std::fflush(stdout);
      co_await store.stop();
    }(), std::chrono::seconds(60));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "leaderboard_worker: %s\n", e.what());
    return 1;
  }
}
