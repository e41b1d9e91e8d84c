// The owner process of the tournaments suite: it opens a store (replaying its journal) with the
// wallet, inventory, mail, leaderboard and tournaments on it, at a time the test gives, so that
// a test can kill it with SIGKILL in the middle of a grant and start it again.
//
//   tournament_worker MEMCACHED CONNECTION JOURNAL ITEM_TYPES NOW_MS write|grant [STOP_RANK]
//     write: players 1..6 score 1..6 in "weekend"; prints "written".
//     grant: grants the period of 5 January 2026; prints "granted mailed=M already=A complete=C".
//       STOP_RANK: prints "staged" and waits (to be killed) inside the transaction of that
//       rank's reward — its mail staged, its rows locked, nothing of it committed.
//   Either stops the store cleanly and exits 0.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <asio/io_context.hpp>

#include "ember/data/database.hpp"
#include "ember/data/memcache.hpp"
#include "ember/data/store.hpp"
#include "ember/modules/tournaments/tournaments.hpp"
#include "support/run.hpp"
#include "support/worker.hpp"

namespace {

constexpr std::int64_t jan_5 = 1767571200000;  // 2026-01-05 00:00 UTC, a Monday

}  // namespace

using ember::test::wait_to_be_killed;

int main(int argc, char** argv) {
  if (argc < 7) {
    std::fprintf(stderr, "usage: tournament_worker MEMCACHED CONNECTION JOURNAL ITEM_TYPES NOW_MS write|grant [STOP_RANK]\n");
    return 2;
  }
  const std::int64_t now = std::stoll(argv[5]);
  const std::string mode = argv[6];
  const std::uint64_t stop_rank = argc > 7 ? std::stoull(argv[7]) : 0;
  try {
    asio::io_context io;
    ember::data::memcache cache({.servers = {argv[1]}, .key_prefix = "t:"});
    ember::data::database db(argv[2]);
    ember::data::store store(cache, db, {.journal = argv[3]});
    ember::modules::event_bus bus;
    ember::test::no_players players;
    ember::app::data_slot<ember::modules::inventory::item_types> types(argv[4]);
    if (!types.reload()) throw std::runtime_error("item types do not load");
    ember::modules::wallet::options wo;
    wo.currencies = {{"gold", 0}};
    ember::modules::wallet::service wallet(store, bus, players, wo);
    ember::modules::inventory::service inventory(store, bus, players, types);
    ember::modules::mail::service mail(store, bus, players, wallet, inventory);
    namespace lb = ember::modules::leaderboard;
    namespace tn = ember::modules::tournaments;
    lb::options lo;
    lo.boards.push_back(lb::options::parse_board("weekend_b desc best authoritative reset=0 0 * * 1"));
    lb::service boards(store, bus, lo, [now] { return now; });
    tn::options to;
    to.tournaments.push_back(tn::options::parse("weekend board=weekend_b open=432000000+86400000 "
                                                "reward=1:$gold*500,trophy*1 reward=2-10:$gold*10"));
    tn::hooks h;
    if (stop_rank != 0)
      h.before_grant_commit = [stop_rank](std::uint64_t, std::uint64_t rank) {
        if (rank == stop_rank) wait_to_be_killed("staged");
      };
    tn::service cups(store, bus, boards, mail, to, [now] { return now; }, std::move(h));
    ember::test::run(io, store.open());
    ember::test::run(io, [&]() -> asio::awaitable<void> {
      co_await boards.start();
      if (mode == "write") {
        for (std::uint64_t p = 1; p <= 6; ++p) {
          lb::write_request w;  // named first: a braced list inside a co_await trips g++ 12
          w.score = static_cast<std::int64_t>(p);
          co_await cups.write("weekend", p, std::move(w));
        }
        std::printf("written\n");
      } else {
        auto g = co_await cups.grant("weekend", jan_5);
        std::printf("granted mailed=%u already=%u complete=%d\n", g.mailed, g.already, g.complete ? 1 : 0);
      }
      std::fflush(stdout);
      co_await store.stop();
    }(), std::chrono::seconds(90));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tournament_worker: %s\n", e.what());
    return 1;
  }
}
