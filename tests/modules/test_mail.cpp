// The mail module (docs/modules/mail.md) over real memcached, SQLite and PostgreSQL: every rule
// of the issue — an attachment claimed exactly once under races, retries and a kill -9 between
// claim and grant (a mail_worker process), flags, expiry, paging, batch delete, mail to all
// players without a row per player — and the client commands through a real server and client.
#define BOOST_TEST_MODULE mail
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <thread>

#include <asio/detached.hpp>

#include "ember/modules/mail/detail/ember_mail_client.hpp"
#include "ember/modules/mail/mail.hpp"
#include "ember/net/client.hpp"
#include "ember/net/server.hpp"
#include "support/data_env.hpp"
#include "support/error_of.hpp"
#include "support/test_players.hpp"
#include "support/process.hpp"
#include "support/run.hpp"

namespace m = ember::modules::mail;
namespace em = ember_mail;
namespace inv = ember::modules::inventory;
using namespace std::chrono_literals;

using ember::test::error_of;

namespace {

std::filesystem::path write_types(const std::filesystem::path& dir) {
  const auto file = dir / "item_types.json";
  if (!std::filesystem::exists(file))
    std::ofstream(file) << R"([{"id": "potion", "stack_limit": 20}, {"id": "sword", "stack_limit": 1}])";
  return file;
}

ember::modules::wallet::options wallet_options() {
  ember::modules::wallet::options o;
  o.currencies = {{"gold", 0}, {"gems", 1000}};
  return o;
}

inv::options small_bag() {
  inv::options o;
  o.slots = 3;
  o.max_slots = 3;
  return o;
}

m::options mail_options() {
  m::options o;
  o.max_inbox = 5;
  o.max_broadcasts = 3;
  o.page = 4;
  o.max_subject = 16;
  o.max_body = 100;
  o.max_attachments = 3;
  o.max_batch = 6;
  o.max_sends_per_minute = 3;
  return o;
}

/// A process of the game: the wallet, the inventory and the mail on one store.
struct mail_node {
  mail_node(ember::test::data_env& e, asio::io_context& io, const std::string& journal = "node.journal")
      : node(e, io, journal), types(write_types(e.dir)), wallet(node.store, bus, players, wallet_options()),
        inventory(node.store, bus, players, types, small_bag()),
        mail(node.store, bus, players, wallet, inventory, mail_options()) {
    BOOST_REQUIRE(types.reload());
    node.open();
  }
  asio::awaitable<std::uint32_t> items(std::uint64_t player, std::string type) {
    std::uint32_t n = 0;
    for (const auto& i : (co_await inventory.list(player)).items)
      if (i.type == type) n += i.count;
    co_return n;
  }
  ember::test::data_env::node node;
  ember::modules::event_bus bus;
  ember::test::test_players players;
  ember::app::data_slot<inv::item_types> types;
  ember::modules::wallet::service wallet;
  inv::service inventory;
  m::service mail;
};

int code(em::error e) { return static_cast<int>(e); }

// Id lists as one argument (a braced list inside a co_await expression trips g++ 12).
std::vector<std::int64_t> ids(std::int64_t a) { return {a}; }
std::vector<std::int64_t> ids(std::int64_t a, std::int64_t b) { return {a, b}; }
std::vector<std::int64_t> ids(std::int64_t a, std::int64_t b, std::int64_t c) { return {a, b, c}; }

em::attachments gift(std::int64_t gold, std::uint32_t potions = 0) {
  em::attachments a;
  if (gold) a.currencies.emplace_back("gold", gold);
  if (potions) a.items.emplace_back("potion", potions, false);
  return a;
}

}  // namespace

EMBER_ON_BOTH_DATABASES(system_mail_with_attachments_is_read_and_claimed_through_the_wallet_and_the_inventory) {
  asio::io_context io;
  mail_node n(e, io);
  std::vector<em::mail_claimed> heard;
  auto sub = n.bus.subscribe<em::mail_claimed>([&](const em::mail_claimed& c) { heard.push_back(c); });
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    const auto id = co_await n.mail.send_system(7, "Welcome", "Line one\nline two", gift(100, 5));
    BOOST_TEST(id == 1);
    BOOST_TEST(n.players.pushed_to() == std::vector<std::uint64_t>{7});
    auto page = co_await n.mail.list(7, "", 0, false);
    BOOST_TEST_REQUIRE(page.mails.size() == 1u);
    BOOST_TEST(!page.mails[0].read);
    BOOST_TEST(page.mails[0].attachments.currencies[0].amount == 100);
    auto r = co_await n.mail.read(7, id);
    BOOST_TEST(r.read);
    BOOST_TEST(r.body == "Line one\nline two");
    BOOST_TEST((co_await n.mail.list(7, "", 0, true)).mails.empty());  // unread only
    auto c = co_await n.mail.claim(7, id);
    BOOST_TEST(c.applied);
    BOOST_TEST(co_await n.wallet.balance(7, "gold") == 100);
    BOOST_TEST(co_await n.items(7, "potion") == 5u);
    auto again = co_await n.mail.claim(7, id);
    BOOST_TEST(!again.applied);
    BOOST_TEST(again.attachments.items[0].count == 5u);
    BOOST_TEST(co_await n.wallet.balance(7, "gold") == 100);
    BOOST_TEST(co_await n.items(7, "potion") == 5u);
    BOOST_TEST((co_await n.mail.read(7, id)).claimed);
    // a mail without attachments has nothing to claim; another player's id is not theirs
    const auto text = co_await n.mail.send_system(7, "Note", "");
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.mail.claim(7, text); }) ==
               code(em::error::nothing_to_claim));
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.mail.claim(8, id); }) ==
               code(em::error::no_such_mail));
    co_await n.node.store.stop();
  }());
  BOOST_TEST_REQUIRE(heard.size() == 1u);
  BOOST_TEST(heard[0].player == 7u);
  BOOST_TEST(heard[0].op == "mail:7:1");
  BOOST_TEST(e.scalar("SELECT amount FROM wallet_balance WHERE id = '7:gold'") == 100);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM mail_message WHERE claimed <> 0") == 1);
}

EMBER_ON_BOTH_DATABASES(a_claim_raced_from_two_sessions_and_retried_grants_once) {
  asio::io_context io;
  mail_node n(e, io);
  int claimed_events = 0;
  auto sub = n.bus.subscribe<em::mail_claimed>([&](const em::mail_claimed&) { ++claimed_events; });
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    const auto id = co_await n.mail.send_system(3, "Gift", "", gift(40, 2));
    std::vector<em::claim_result> results(6);
    int finished = 0;
    for (auto& r : results)
      asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        r = co_await n.mail.claim(3, id);
        ++finished;
      }, asio::detached);
    BOOST_TEST(co_await ember::test::wait_until([&] { return finished == 6; }, 30s));
    BOOST_TEST(std::count_if(results.begin(), results.end(), [](auto& r) { return r.applied; }) == 1);
    BOOST_TEST((co_await n.mail.claim(3, id)).applied == false);  // the retry after it all
    BOOST_TEST(co_await n.wallet.balance(3, "gold") == 40);
    BOOST_TEST(co_await n.items(3, "potion") == 2u);
    co_await n.node.store.stop();
  }());
  BOOST_TEST(claimed_events == 1);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM wallet_ledger WHERE player = 3 AND op <> ''") == 1);
}

EMBER_ON_BOTH_DATABASES(a_claim_from_two_processes_at_once_grants_once) {
  std::int64_t id = 0;
  {
    asio::io_context io;
    mail_node setup(e, io, "setup.journal");
    ember::test::run(io, [&]() -> asio::awaitable<void> {
      id = co_await setup.mail.send_system(5, "Gift", "", gift(11, 1));
      co_await setup.node.store.stop();
    }());
  }
  std::atomic<int> applied{0}, failed{0};
  auto process = [&](std::string journal) {
    asio::io_context io;
    mail_node n(e, io, journal);
    ember::test::run(io, [&]() -> asio::awaitable<void> {
      for (int i = 0; i < 3; ++i) try {
          if ((co_await n.mail.claim(5, id)).applied) ++applied;
        } catch (const std::exception& x) {
          ++failed;
          BOOST_TEST_MESSAGE("claim failed: " << x.what());
        }
      co_await n.node.store.stop();
    }(), 120s);
  };
  std::thread a([&] { process("a.journal"); });
  std::thread b([&] { process("b.journal"); });
  a.join();
  b.join();
  BOOST_TEST(failed == 0);
  BOOST_TEST(applied == 1);
  BOOST_TEST(e.scalar("SELECT amount FROM wallet_balance WHERE id = '5:gold'") == 11);
  BOOST_TEST(e.scalar("SELECT SUM(count) FROM inventory_item WHERE owner = 5") == 1);
}

EMBER_ON_BOTH_DATABASES(a_claim_that_does_not_fit_the_bag_claims_nothing_and_can_be_claimed_later) {
  asio::io_context io;
  mail_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    em::attachments swords = gift(9);
    swords.items.emplace_back("sword", 4, false);  // four slots' worth in a bag of three
    const auto id = co_await n.mail.send_system(2, "Arms", "", swords);
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.mail.claim(2, id); }) ==
               code(em::error::no_room));
    BOOST_TEST(co_await n.wallet.balance(2, "gold") == 0);  // not the gold either
    BOOST_TEST(!(co_await n.mail.read(2, id)).claimed);
    // an item type the game no longer has: refused as a bad attachment, nothing granted
    em::attachments odd;
    odd.items.emplace_back("shield", 1, false);
    const auto bad = co_await n.mail.send_system(2, "Odd", "", odd);
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.mail.claim(2, bad); }) ==
               code(em::error::bad_attachment));
    // smaller: fits, claimed once
    const auto ok = co_await n.mail.send_system(2, "Arms", "", gift(9, 1));
    BOOST_TEST((co_await n.mail.claim(2, ok)).applied);
    BOOST_TEST(co_await n.wallet.balance(2, "gold") == 9);
    co_await n.node.store.stop();
  }());
}

// --- a game process killed with kill -9 between the claim and the grant

namespace {

ember::test::child_process claim_worker(ember::test::data_env& e, const std::string& journal, std::uint64_t player,
                                        std::int64_t id, std::string stop = "") {
  std::vector<std::string> argv{EMBER_MAIL_WORKER, e.mc.address(), e.connection, (e.dir / journal).string(),
                                write_types(e.dir).string(), std::to_string(player), std::to_string(id)};
  if (!stop.empty()) argv.push_back(stop);
  return ember::test::child_process(argv, e.dir / (journal + ".log"));
}

std::int64_t send_one(ember::test::data_env& e, std::uint64_t player) {
  asio::io_context io;
  mail_node setup(e, io, "setup.journal");
  std::int64_t id = 0;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    id = co_await setup.mail.send_system(player, "Gift", "", gift(50, 3));
    co_await setup.node.store.stop();
  }());
  return id;
}

/// The totals as the database holds them once every process stopped.
struct totals {
  std::int64_t gold, potions, claimed, ledger;
};
totals totals_of(ember::test::data_env& e, std::uint64_t player) {
  const auto p = std::to_string(player);
  return {e.scalar("SELECT COALESCE(SUM(amount), 0) FROM wallet_balance WHERE player = " + p),
          e.scalar("SELECT COALESCE(SUM(count), 0) FROM inventory_item WHERE owner = " + p),
          e.scalar("SELECT COUNT(*) FROM mail_message WHERE player = " + p + " AND claimed <> 0"),
          e.scalar("SELECT COUNT(*) FROM wallet_ledger WHERE player = " + p + " AND op <> ''")};
}

}  // namespace

EMBER_ON_BOTH_DATABASES(a_process_killed_with_kill_9_between_claim_and_grant_loses_nothing_and_grants_nothing_twice) {
  const auto id = send_one(e, 9);
  {
    auto w = claim_worker(e, "game.journal", 9, id, "before_commit");
    BOOST_TEST_REQUIRE(ember::test::wait_for_text(w.log(), "staged", 60s), ember::test::read_text(w.log()));
    w.kill_now();  // SIGKILL: the rows stay locked until their lease passes
  }
  auto t = totals_of(e, 9);
  BOOST_TEST(t.gold == 0);  // nothing granted ...
  BOOST_TEST(t.potions == 0);
  BOOST_TEST(t.claimed == 0);  // ... and the claim still there to make
  {
    auto again = claim_worker(e, "game.journal", 9, id);  // the process restarts (journal replay)
    BOOST_TEST_REQUIRE(again.wait_exit(120s) == 0, ember::test::read_text(again.log()));
    BOOST_TEST(ember::test::count_in(again.log(), "claimed applied=1") == 1u, ember::test::read_text(again.log()));
  }
  t = totals_of(e, 9);
  BOOST_TEST(t.gold == 50);
  BOOST_TEST(t.potions == 3);
  BOOST_TEST(t.claimed == 1);
  BOOST_TEST(t.ledger == 1);
}

EMBER_ON_BOTH_DATABASES(a_process_killed_with_kill_9_after_the_claim_committed_grants_nothing_twice) {
  const auto id = send_one(e, 10);
  {
    auto w = claim_worker(e, "game.journal", 10, id, "after_commit");
    BOOST_TEST_REQUIRE(ember::test::wait_for_text(w.log(), "committed", 60s), ember::test::read_text(w.log()));
    w.kill_now();
  }
  auto t = totals_of(e, 10);
  BOOST_TEST(t.gold == 50);  // the claim and both grants, stored together
  BOOST_TEST(t.potions == 3);
  BOOST_TEST(t.claimed == 1);
  for (const auto* journal : {"game.journal", "other.journal"}) {  // a replay, and another device's retry
    auto again = claim_worker(e, journal, 10, id);
    BOOST_TEST_REQUIRE(again.wait_exit(120s) == 0, ember::test::read_text(again.log()));
    BOOST_TEST(ember::test::count_in(again.log(), "claimed applied=0") == 1u, ember::test::read_text(again.log()));
  }
  t = totals_of(e, 10);
  BOOST_TEST(t.gold == 50);
  BOOST_TEST(t.potions == 3);
  BOOST_TEST(t.ledger == 1);
}

// --- mail to all players

EMBER_ON_BOTH_DATABASES(mail_to_all_players_is_one_row_and_each_player_claims_it_once) {
  asio::io_context io;
  mail_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    const auto id = co_await n.mail.send_all("Festival", "For everyone", gift(25), 0);
    BOOST_TEST(id < 0);
    for (std::uint64_t p = 100; p < 103; ++p) {
      auto page = co_await n.mail.list(p, "", 0, false);
      BOOST_TEST_REQUIRE(page.mails.size() == 1u);
      BOOST_TEST(page.mails[0].id == id);
      BOOST_TEST(!page.mails[0].claimed);
    }
    co_await n.node.store.flush_all();
    BOOST_TEST(e.scalar("SELECT COUNT(*) FROM mail_broadcast") == 1);
    BOOST_TEST(e.scalar("SELECT COUNT(*) FROM mail_broadcast_state") == 0);  // nothing per player up front
    BOOST_TEST((co_await n.mail.claim(100, id)).applied);
    BOOST_TEST(!(co_await n.mail.claim(100, id)).applied);
    BOOST_TEST((co_await n.mail.claim(101, id)).applied);
    BOOST_TEST(co_await n.wallet.balance(100, "gold") == 25);
    BOOST_TEST(co_await n.wallet.balance(101, "gold") == 25);
    BOOST_TEST(co_await n.wallet.balance(102, "gold") == 0);
    BOOST_TEST((co_await n.mail.read(100, id)).claimed);
    BOOST_TEST(!(co_await n.mail.read(102, id)).claimed);
    // a player deletes it (claimed: no force needed); the others still see it
    BOOST_TEST(co_await n.mail.remove(100, ids(id), false) == 1u);
    BOOST_TEST((co_await n.mail.list(100, "", 0, false)).mails.empty());
    BOOST_TEST((co_await n.mail.list(101, "", 0, false)).mails.size() == 1u);
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.mail.remove(102, ids(id), false); }) ==
               code(em::error::unclaimed_attachments));
    // the cap of live mails to all
    co_await n.mail.send_all("b", "", {}, 0);
    co_await n.mail.send_all("c", "", {}, 0);
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.mail.send_all("d", "", {}, 0); }) ==
               code(em::error::too_many_broadcasts));
    co_await n.node.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM mail_broadcast_state") <= 3);  // only the players who acted
}

EMBER_ON_BOTH_DATABASES(expired_mail_disappears_unless_kept_and_expired_mail_to_all_is_removed) {
  asio::io_context io;
  mail_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    // 3 s: the five calls before the first list may take a while under ASan on a busy machine
    const auto short_lived = co_await n.mail.send_system(4, "Soon gone", "", gift(1), 3000);
    const auto kept = co_await n.mail.send_system(4, "Kept", "", {}, 3000);
    const auto forever = co_await n.mail.send_system(4, "Forever", "", {}, 0);
    co_await n.mail.keep(4, kept, true);
    const auto all = co_await n.mail.send_all("Brief", "", gift(1), static_cast<std::int64_t>(ember::data::unix_ms()) + 3000);
    BOOST_TEST((co_await n.mail.list(4, "", 0, false)).mails.size() == 4u);
    co_await ember::test::sleep(3500ms);
    auto page = co_await n.mail.list(4, "", 0, false);
    BOOST_TEST_REQUIRE(page.mails.size() == 2u);
    BOOST_TEST(page.mails[0].id == forever);
    BOOST_TEST(page.mails[1].id == kept);
    BOOST_TEST(page.mails[1].kept);
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.mail.claim(4, short_lived); }) ==
               code(em::error::no_such_mail));
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.mail.claim(4, all); }) ==
               code(em::error::no_such_mail));
    BOOST_TEST(co_await n.mail.expire_broadcasts() == 1u);
    // the expired mail's place in the inbox is free again: five more fit (the cap is five)
    for (int i = 0; i < 3; ++i) co_await n.mail.send_system(4, "More", "");
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.mail.send_system(4, "Over", ""); }) ==
               code(em::error::inbox_full));
    co_await n.node.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM mail_broadcast") == 0);
  BOOST_TEST(e.scalar("SELECT live FROM mail_box WHERE player = 4") == 5);
}

EMBER_ON_BOTH_DATABASES(the_list_pages_newest_first_by_cursor_and_filters_unread) {
  asio::io_context io;
  mail_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    std::vector<std::int64_t> ids;
    for (int i = 0; i < 4; ++i) {
      ids.push_back(co_await n.mail.send_system(6, "m" + std::to_string(i), ""));
      co_await ember::test::sleep(5ms);  // distinct times (ties are ordered by id anyway)
    }
    co_await ember::test::sleep(5ms);
    ids.push_back(co_await n.mail.send_all("all", "", {}, 0));
    std::vector<std::int64_t> seen;
    std::string cursor;
    int pages = 0;
    do {
      auto page = co_await n.mail.list(6, cursor, 2, false);
      BOOST_TEST(page.mails.size() <= 2u);
      for (auto& x : page.mails) seen.push_back(x.id);
      cursor = page.next_cursor;
      ++pages;
    } while (!cursor.empty() && pages < 10);
    BOOST_TEST(pages == 3);
    const std::vector<std::int64_t> newest_first{ids[4], ids[3], ids[2], ids[1], ids[0]};
    BOOST_TEST(seen == newest_first);
    BOOST_TEST((co_await n.mail.list(6, "", 100, false)).mails.size() == 4u);  // cut to the page
    co_await n.mail.read(6, ids[1]);
    co_await n.mail.read(6, ids[4]);
    auto unread = co_await n.mail.list(6, "", 0, true);
    BOOST_TEST_REQUIRE(unread.mails.size() == 3u);
    BOOST_TEST(unread.mails[0].id == ids[3]);
    BOOST_TEST(unread.mails[2].id == ids[0]);
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.mail.list(6, "x:y", 0, false); }) ==
               code(em::error::bad_cursor));
    co_await n.node.store.stop();
  }());
}

EMBER_ON_BOTH_DATABASES(a_batch_delete_is_all_or_nothing_and_refuses_unclaimed_attachments_unless_forced) {
  asio::io_context io;
  mail_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    const auto a = co_await n.mail.send_system(1, "a", "");
    const auto b = co_await n.mail.send_system(1, "b", "", gift(3));
    const auto c = co_await n.mail.send_system(1, "c", "");
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.mail.remove(1, ids(a, b), false); }) ==
               code(em::error::unclaimed_attachments));
    BOOST_TEST((co_await n.mail.list(1, "", 0, false)).mails.size() == 3u);  // a is still there
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.mail.remove(1, ids(a, 999), false); }) ==
               code(em::error::no_such_mail));
    BOOST_TEST(co_await n.mail.remove(1, ids(a, c, a), false) == 2u);
    BOOST_TEST(co_await n.mail.remove(1, ids(b), true) == 1u);  // forced: the gold is given up
    BOOST_TEST((co_await n.mail.list(1, "", 0, false)).mails.empty());
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.mail.read(1, a); }) ==
               code(em::error::no_such_mail));
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> {
      co_await n.mail.remove(1, std::vector<std::int64_t>(7, 1), false);
    }) == code(em::error::too_many_ids));
    co_await n.node.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT live FROM mail_box WHERE player = 1") == 0);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM mail_message WHERE player = 1 AND state = 1") == 0);
}

EMBER_ON_BOTH_DATABASES(the_inbox_cap_holds_against_concurrent_senders) {
  asio::io_context io;
  mail_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    int sent = 0, full = 0, finished = 0;
    for (int i = 0; i < 12; ++i)
      asio::co_spawn(io, [&, i]() -> asio::awaitable<void> {
        const auto err = co_await error_of([&]() -> asio::awaitable<void> {
          co_await n.mail.send_player(1000 + static_cast<std::uint64_t>(i), 12, "hi", "");
        });
        if (err == 0) ++sent;
        if (err == code(em::error::inbox_full)) ++full;
        ++finished;
      }, asio::detached);
    BOOST_TEST(co_await ember::test::wait_until([&] { return finished == 12; }, 60s));
    BOOST_TEST(sent == 5);
    BOOST_TEST(full == 7);
    BOOST_TEST((co_await n.mail.list(12, "", 0, false)).mails.size() == 4u);  // one page
    co_await n.node.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM mail_message WHERE player = 12 AND state = 1") == 5);
}

EMBER_ON_BOTH_DATABASES(a_player_sends_at_most_max_sends_per_minute_and_system_mail_is_not_limited) {
  asio::io_context io;
  mail_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    for (std::uint64_t to = 51; to < 54; ++to) co_await n.mail.send_player(50, to, "hi", "");
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.mail.send_player(50, 54, "hi", ""); }) ==
               code(em::error::too_many_sends));
    BOOST_TEST((co_await n.mail.list(54, "", 0, false)).mails.empty());  // the refused mail was not stored
    co_await n.mail.send_player(49, 54, "hi", "");                        // another sender has its own count
    for (int i = 0; i < 4; ++i) co_await n.mail.send_system(55, "sys", "");
    co_await n.node.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT sends FROM mail_box WHERE player = 50") == 3);
}

EMBER_ON_BOTH_DATABASES(bad_input_is_refused_with_typed_errors_and_changes_nothing) {
  asio::io_context io;
  mail_node n(e, io);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    auto sent = [&](std::string subject, std::string body, em::attachments a) {
      return error_of([&, subject, body, a]() -> asio::awaitable<void> { co_await n.mail.send_system(1, subject, body, a); });
    };
    BOOST_TEST(co_await sent("", "", {}) == code(em::error::bad_text));
    BOOST_TEST(co_await sent(std::string(17, 's'), "", {}) == code(em::error::bad_text));
    BOOST_TEST(co_await sent("\xff\xfe", "", {}) == code(em::error::bad_text));
    BOOST_TEST(co_await sent("tab\there", "", {}) == code(em::error::bad_text));
    BOOST_TEST(co_await sent("ok", std::string(101, 'b'), {}) == code(em::error::bad_text));
    BOOST_TEST(co_await sent("ok", "\xc3", {}) == code(em::error::bad_text));
    BOOST_TEST(co_await sent("ok", "bell\x07", {}) == code(em::error::bad_text));
    BOOST_TEST(co_await sent("\xc3\xa9t\xc3\xa9", std::string(100, 'b'), {}) == 0);  // code points, not bytes
    em::attachments silver;
    silver.currencies.emplace_back("silver", 1);
    BOOST_TEST(co_await sent("ok", "", silver) == code(em::error::bad_attachment));
    BOOST_TEST(co_await sent("ok", "", gift(-5)) == code(em::error::bad_attachment));
    em::attachments twice = gift(1);
    twice.currencies.emplace_back("gold", 2);
    BOOST_TEST(co_await sent("ok", "", twice) == code(em::error::bad_attachment));
    em::attachments many = gift(1, 1);
    many.items.emplace_back("sword", 1, false);
    many.items.emplace_back("sword", 1, true);
    BOOST_TEST(co_await sent("ok", "", many) == code(em::error::bad_attachment));
    BOOST_TEST(co_await sent("ok", "", gift(0, 0)) == 0);
    em::attachments none_of_them;
    none_of_them.items.emplace_back("potion", 0, false);
    BOOST_TEST(co_await sent("ok", "", none_of_them) == code(em::error::bad_attachment));
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.mail.send_player(1, 1, "me", ""); }) ==
               code(em::error::bad_recipient));
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.mail.send_player(1, 0, "x", ""); }) ==
               code(em::error::bad_recipient));
    BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.mail.send_system(0, "x", ""); }) ==
               code(em::error::bad_recipient));
    for (std::int64_t unknown : {std::int64_t{42}, std::int64_t{-42}, std::int64_t{0}}) {
      BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.mail.read(1, unknown); }) ==
                 code(em::error::no_such_mail));
      BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.mail.keep(1, unknown, true); }) ==
                 code(em::error::no_such_mail));
      BOOST_TEST(co_await error_of([&]() -> asio::awaitable<void> { co_await n.mail.claim(1, unknown); }) ==
                 code(em::error::no_such_mail));
    }
    BOOST_TEST((co_await n.mail.list(1, "", 0, false)).mails.size() == 2u);  // the two good ones
    co_await n.node.store.stop();
  }());
}

// --- the client commands through a real server and clients

namespace {

/// The mail's commands with a sign-in step for the test: a session's first request binds it to
/// `next_user` (once).
struct signing_handler final : em::mail_handler {
  explicit signing_handler(m::handler& h) : real(h) {}
  m::handler& real;
  std::uint64_t next_user = 0;
  void sign_in(ember::net::session& s) {
    if (!s.user() && next_user) s.bind_user(std::exchange(next_user, 0));
  }
  asio::awaitable<em::list_mail_reply> list_mail(ember::net::session& s, const em::list_mail_request& r) override {
    sign_in(s);
    co_return co_await real.list_mail(s, r);
  }
  asio::awaitable<em::read_mail_reply> read_mail(ember::net::session& s, const em::read_mail_request& r) override {
    sign_in(s);
    co_return co_await real.read_mail(s, r);
  }
  asio::awaitable<em::claim_mail_reply> claim_mail(ember::net::session& s, const em::claim_mail_request& r) override {
    sign_in(s);
    co_return co_await real.claim_mail(s, r);
  }
  asio::awaitable<em::keep_mail_reply> keep_mail(ember::net::session& s, const em::keep_mail_request& r) override {
    sign_in(s);
    co_return co_await real.keep_mail(s, r);
  }
  asio::awaitable<em::delete_mail_reply> delete_mail(ember::net::session& s, const em::delete_mail_request& r) override {
    sign_in(s);
    co_return co_await real.delete_mail(s, r);
  }
  asio::awaitable<em::send_mail_reply> send_mail(ember::net::session& s, const em::send_mail_request& r) override {
    sign_in(s);
    co_return co_await real.send_mail(s, r);
  }
};

struct mail_server {
  /// `pushes`: this server delivers the node's pushes (one server of a test does).
  mail_server(asio::io_context& io, mail_node& n, bool pushes = true) : commands(n.mail), h(commands), srv(io, options(), table()) {
    srv.start();
    if (pushes) n.players.server = &srv;
  }
  static ember::net::server_options options() {
    ember::net::server_options so;
    so.name = "mail";
    return so;
  }
  ember::net::dispatch_table table() {
    ember::net::dispatch_table t;
    em::register_commands(t, h);
    return t;
  }
  /// A client signed in as `user` (its first request, a list, binds it).
  asio::awaitable<std::unique_ptr<ember::net::client>> signed_in(asio::io_context& io, std::uint64_t user) {
    auto c = std::make_unique<ember::net::client>(io.get_executor());
    BOOST_REQUIRE(!(co_await c->connect("127.0.0.1", srv.port())));
    h.next_user = user;
    BOOST_REQUIRE(!!(co_await em::client_stub(*c).list_mail({"", 0, false})));
    co_return c;
  }
  m::handler commands;
  signing_handler h;
  ember::net::server srv;
};

}  // namespace

EMBER_ON_BOTH_DATABASES(a_claim_from_two_devices_at_once_and_retried_after_a_dropped_connection_grants_once) {
  asio::io_context io;
  mail_node n(e, io);
  mail_server s(io, n), other(io, n, false);  // a player has one session per server: two servers
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    auto phone = co_await s.signed_in(io, 21);
    auto laptop = co_await other.signed_in(io, 21);
    std::vector<em::mail_received> pushed;
    em::client_stub(*phone).on_mail_received([&](const em::mail_received& p) { pushed.push_back(p); });
    const auto id = co_await n.mail.send_system(21, "Gift", "", gift(30, 2));
    BOOST_TEST_REQUIRE(co_await ember::test::wait_until([&] { return pushed.size() == 1; }));
    BOOST_TEST(pushed[0].mail.id == id);
    // both devices at once
    int done = 0, applied = 0;
    for (auto* c : {phone.get(), laptop.get()})
      asio::co_spawn(io, [&, c]() -> asio::awaitable<void> {
        auto r = co_await em::client_stub(*c).claim_mail({id, "tap-1"});
        if (r && r->result.applied) ++applied;
        BOOST_TEST(!!r);
        ++done;
      }, asio::detached);
    BOOST_TEST(co_await ember::test::wait_until([&] { return done == 2; }, 30s));
    BOOST_TEST(applied == 1);
    // a second mail: the request goes out, the connection drops before the reply; the retry
    // on a new connection gets the first claim's attachments, not a second grant
    const auto id2 = co_await n.mail.send_system(21, "Gift 2", "", gift(5));
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      co_await em::client_stub(*laptop).claim_mail({id2, "tap-2"});
    }, asio::detached);
    laptop->close();
    auto again = co_await other.signed_in(io, 21);
    auto retry = co_await em::client_stub(*again).claim_mail({id2, "tap-2"});
    BOOST_TEST_REQUIRE(!!retry);
    auto retry2 = co_await em::client_stub(*again).claim_mail({id2, "tap-2"});
    BOOST_TEST(!retry2->result.applied);
    BOOST_TEST(co_await n.wallet.balance(21, "gold") == 35);
    BOOST_TEST(co_await n.items(21, "potion") == 2u);
    phone->close();
    again->close();
    co_await other.srv.stop(1s);
    co_await s.srv.stop(1s);
    co_await n.node.store.stop();
  }(), 90s);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM wallet_ledger WHERE player = 21 AND op <> ''") == 2);
}

EMBER_ON_BOTH_DATABASES(clients_list_read_keep_delete_and_send_and_bad_requests_leave_the_session_usable) {
  asio::io_context io;
  mail_node n(e, io);
  mail_server s(io, n);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    ember::net::client anon(io.get_executor());
    BOOST_REQUIRE(!(co_await anon.connect("127.0.0.1", s.srv.port())));
    auto r0 = co_await em::client_stub(anon).list_mail({"", 0, false});
    BOOST_TEST_REQUIRE(!r0);
    BOOST_TEST(r0.error().status == code(em::error::not_signed_in));

    auto alice = co_await s.signed_in(io, 31);
    auto bob = co_await s.signed_in(io, 32);
    em::client_stub a(*alice), b(*bob);
    std::vector<em::mail_received> to_bob;
    b.on_mail_received([&](const em::mail_received& p) { to_bob.push_back(p); });
    auto sent = co_await a.send_mail({32, "Hello", "See you\nat noon"});
    BOOST_TEST_REQUIRE(!!sent);
    BOOST_TEST_REQUIRE(co_await ember::test::wait_until([&] { return to_bob.size() == 1; }));
    BOOST_TEST(to_bob[0].mail.sender == 31u);
    // bad requests: typed errors, the session goes on
    auto bad0 = co_await a.send_mail({32, std::string(17, 'x'), ""});
    BOOST_TEST(bad0.error().status == code(em::error::bad_text));
    auto bad1 = co_await a.send_mail({32, "ctrl\x01", ""});
    BOOST_TEST(bad1.error().status == code(em::error::bad_text));
    auto not_utf8 = co_await a.send_mail({32, "\xff", ""});  // the codec refuses it before the handler
    BOOST_TEST(not_utf8.error().status == static_cast<int>(ember::status::bad_request));
    auto bad2 = co_await a.send_mail({31, "me", ""});
    BOOST_TEST(bad2.error().status == code(em::error::bad_recipient));
    auto bad3 = co_await b.claim_mail({sent->id, std::string(65, 'o')});
    BOOST_TEST(bad3.error().status == code(em::error::bad_text));
    auto bad4 = co_await b.read_mail(em::read_mail_request(777));
    BOOST_TEST(bad4.error().status == code(em::error::no_such_mail));
    auto bad5 = co_await b.list_mail({"nope", 0, false});
    BOOST_TEST(bad5.error().status == code(em::error::bad_cursor));
    auto bad6 = co_await b.delete_mail({std::vector<std::int64_t>(7, 1), false});
    BOOST_TEST(bad6.error().status == code(em::error::too_many_ids));
    auto got = co_await b.read_mail(em::read_mail_request(sent->id));
    BOOST_TEST_REQUIRE(!!got);
    BOOST_TEST(got->mail.read);
    BOOST_TEST(got->mail.body == "See you\nat noon");
    BOOST_TEST(!!(co_await b.keep_mail({sent->id, true})));
    auto list = co_await b.list_mail({"", 0, false});
    BOOST_TEST_REQUIRE(list->mails.size() == 1u);
    BOOST_TEST(list->mails[0].kept);
    BOOST_TEST((co_await a.list_mail({"", 0, false}))->mails.empty());  // alice's box is her own
    auto del = co_await b.delete_mail(em::delete_mail_request(ids(sent->id), false));
    BOOST_TEST_REQUIRE(!!del);
    BOOST_TEST(del->deleted == 1u);
    BOOST_TEST((co_await b.list_mail({"", 0, false}))->mails.empty());
    auto still = co_await em::client_stub(anon).read_mail(em::read_mail_request(1));  // still not signed in, unaffected
    BOOST_TEST(still.error().status == code(em::error::not_signed_in));
    anon.close();
    alice->close();
    bob->close();
    co_await s.srv.stop(1s);
    co_await n.node.store.stop();
  }(), 60s);
}
