// A game process of the mail suite: it opens a store (replaying its journal) with the wallet,
// the inventory and the mail on it and claims one mail, so a test can kill it with SIGKILL
// in the middle of the claim and start it again.
//
//   mail_worker MEMCACHED CONNECTION JOURNAL ITEM_TYPES PLAYER MAIL [STOP]
//     STOP: "before_commit" — prints "staged" and waits (to be killed) with the claim flag and
//           the grants staged and every row locked, nothing committed;
//           "after_commit" — prints "committed" and waits, the claim stored.
//   Otherwise prints "claimed applied=0|1", stops the store cleanly and exits 0.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include "ember/data/database.hpp"
#include "ember/data/memcache.hpp"
#include "ember/data/store.hpp"
#include "ember/modules/mail/mail.hpp"
#include "support/run.hpp"
#include "support/worker.hpp"

using ember::test::wait_to_be_killed;

int main(int argc, char** argv) {
  if (argc < 7) {
    std::fprintf(stderr, "usage: mail_worker MEMCACHED CONNECTION JOURNAL ITEM_TYPES PLAYER MAIL [STOP]\n");
    return 2;
  }
  const std::string stop = argc > 7 ? argv[7] : "";
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
    wo.currencies = {{"gold", 0}, {"gems", 1000}};
    ember::modules::wallet::service wallet(store, bus, players, wo);
    ember::modules::inventory::service inventory(store, bus, players, types);
    ember::modules::mail::hooks h;
    if (stop == "before_commit") h.before_claim_commit = [](std::uint64_t, std::int64_t) { wait_to_be_killed("staged"); };
    if (stop == "after_commit") h.on_claimed = [](const ember_mail::mail_claimed&) { wait_to_be_killed("committed"); };
    ember::modules::mail::service mail(store, bus, players, wallet, inventory, {}, std::move(h));
    ember::test::run(io, store.open());
    ember::test::run(io, [&]() -> asio::awaitable<void> {
      auto r = co_await mail.claim(std::stoull(argv[5]), std::stoll(argv[6]));
      std::printf("claimed applied=%d\n", r.applied ? 1 : 0);
      std::fflush(stdout);
      co_await store.stop();
    }(), std::chrono::seconds(60));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mail_worker: %s\n", e.what());
    return 1;
  }
}
