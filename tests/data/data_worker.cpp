// A process of the data suite: it opens a store on the memcached and database it is given and
// does one job, so the tests can run several writers at once, kill one, and restart it.
//
//   data_worker MEMCACHED CONNECTION JOURNAL JOB [ARGS...]
//     increment FIRST_KEY ROWS COUNT [hold]
//                                      COUNT increments of gold spread over ROWS players
//                                      (keys FIRST_KEY...), printing "acked N" after each;
//                                      with "hold", no write-back until the stop
//     insert COUNT                     COUNT players inserted; prints each generated key
//     trade A B ITEM COUNT             COUNT trades of ITEM for 1 gold between players A and B,
//                                      each one the other way round
//     lock A B ITEM                    a trade of ITEM between players A and B that prints
//                                      "locked" with every row locked, then waits there for
//                                      ever (the test kills it: its locks stay in memcached)
//     replay                           opens the store (replaying the journal) and flushes
// Exits 0 after a clean stop (every dirty row written back), 1 on an error.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include "datatest.hpp"
#include "ember/data/transaction.hpp"

namespace dt = datatest;
using ember::data::table;

namespace {

struct worker {
  ember::data::store& store;
  table<dt::player_table>& players;
  table<dt::item_table>& items;
};

asio::awaitable<void> increment(worker& w, std::int64_t first, int rows, int count) {
  for (int i = 0; i < count; ++i) {
    co_await w.players.update(first + i % rows, [](dt::player& p) { p.gold += 1; });
    std::printf("acked %d\n", i + 1);
    std::fflush(stdout);
  }
}

asio::awaitable<void> insert(worker& w, int count) {
  for (int i = 0; i < count; ++i) {
    auto p = co_await w.players.insert(dt::player(0, "p" + std::to_string(i)));
    std::printf("key %lld\n", static_cast<long long>(p.id));
  }
}

asio::awaitable<void> trade(worker& w, std::int64_t a, std::int64_t b, std::int64_t item, int count) {
  for (int i = 0; i < count; ++i) {
    co_await ember::data::transact(
        w.store,
        [&](dt::player& pa, dt::player& pb, dt::item& it) {
          // the item changes hands for one gold, whichever way it stands now
          auto& buyer = it.owner == pa.id ? pb : pa;
          auto& seller = it.owner == pa.id ? pa : pb;
          buyer.gold -= 1;
          seller.gold += 1;
          it.owner = buyer.id;
        },
        ember::data::at(w.players, a), ember::data::at(w.players, b), ember::data::at(w.items, item));
  }
  std::printf("traded %d\n", count);
}

asio::awaitable<void> lock_and_hang(worker& w, std::int64_t a, std::int64_t b, std::int64_t item) {
  co_await ember::data::transact(
      w.store,
      [&](dt::player& pa, dt::player& pb, dt::item& it) {
        pa.gold -= 1;
        pb.gold += 1;
        it.owner = pb.id;
        std::printf("locked\n");
        std::fflush(stdout);
        for (;;) pause();  // the change never commits: the test kills this process here
      },
      ember::data::at(w.players, a), ember::data::at(w.players, b), ember::data::at(w.items, item));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s MEMCACHED CONNECTION JOURNAL JOB [ARGS...]\n", argv[0]);
    return EXIT_FAILURE;
  }
  const std::vector<std::string> args(argv + 1, argv + argc);
  asio::io_context io;
  ember::data::memcache cache({.servers = {args[0]}, .key_prefix = "t:"});  // as tests/support/data_env.hpp
  ember::data::database db(args[1]);
  ember::data::store store(cache, db, {.journal = args[2]});
  table<dt::player_table> players(store);
  table<dt::item_table> items(store);
  worker w{store, players, items};
  int rc = EXIT_SUCCESS;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    co_await store.open();
    const auto& job = args[3];
    // "increment ... hold": no background write-back, so a kill finds every change unwritten
    if (!(job == "increment" && args.size() > 7 && args[7] == "hold")) store.start(io.get_executor());
    if (job == "increment") {
      co_await increment(w, std::stoll(args[4]), std::stoi(args[5]), std::stoi(args[6]));
    } else if (job == "insert") {
      co_await insert(w, std::stoi(args[4]));
    } else if (job == "trade") {
      co_await trade(w, std::stoll(args[4]), std::stoll(args[5]), std::stoll(args[6]), std::stoi(args[7]));
    } else if (job == "lock") {
      co_await lock_and_hang(w, std::stoll(args[4]), std::stoll(args[5]), std::stoll(args[6]));
    } else if (job != "replay") {
      throw std::invalid_argument("unknown job " + job);
    }
    std::printf("dirty at stop %zu\n", store.dirty_count());
    const auto left = co_await store.stop();
    if (left != 0) throw std::runtime_error(std::to_string(left) + " rows still dirty at stop");
  }, [&](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        std::fprintf(stderr, "data_worker: %s\n", x.what());
      }
      rc = EXIT_FAILURE;
    }
    io.stop();
  });
  io.run();
  std::printf("done\n");
  return rc;
}
