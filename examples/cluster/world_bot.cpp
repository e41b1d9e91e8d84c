// The cluster example's bots, on ember's gameplay modules: each signs in on a net server
// (command 101: the accounts module's username + password sign-in, then entering the world),
// befriends the next bot (an invite, accepted by that bot on the other net server), joins the
// room "plaza", and until the time is up walks about, talks in the room (chat module), tells
// its friend things directly (a dm channel), buys and sells items (wallet + inventory in one
// transaction, each with an operation id, sometimes sent twice), gifts its friend gold by
// mail and claims the gifts it gets (twice: the second must grant nothing), and asks who is
// online. They also buy from the shop's catalogue with purchase ids (some sent twice), claim
// the daily quest those purchases complete (twice: once granted), join one guild and talk in
// its channel, queue for matches of two (each names the game server hosting it), and read the
// leaderboard of shop purchases the lobby keeps (top 3, their own rank). Several bots run in one process, on one thread; bot i uses the i-th port given
// (round-robin), so friends and the room span both net servers. At the end each bot checks
// its wallet ledger, balance and bag against what it did (shop purchases and quest rewards
// included), its quest and its leaderboard record against its purchases, and the process
// fails if anything was lost or doubled, a bot could not sign in, a request failed, or a bot heard nobody on
// another net server.
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
#include <set>
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
#include "ember/modules/chat/detail/ember_chat_client.hpp"
#include "ember/modules/friends/detail/ember_friends_client.hpp"
#include "ember/modules/guilds/detail/ember_guilds_client.hpp"
#include "ember/modules/leaderboard/detail/ember_leaderboard_client.hpp"
#include "ember/modules/mail/detail/ember_mail_client.hpp"
#include "ember/modules/matchmaking/detail/ember_matchmaking_client.hpp"
#include "ember/modules/quests/detail/ember_quests_client.hpp"
#include "ember/modules/shop/detail/ember_shop_client.hpp"
#include "ember/modules/wallet/detail/ember_wallet_client.hpp"
#include "world_client.hpp"

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

constexpr auto call_deadline = 3s;    // every request ends by then, answered or not
constexpr auto connect_deadline = 3s;
constexpr auto grace = 700ms;         // after the end, to hear the others' last lines
constexpr auto settle = 3s;           // at the end, for events to reach the quests and the board

// The game data the bots play with (data/shop.json, data/quests.json, config.json).
constexpr std::string_view daily_quest = "daily_shopper";
constexpr std::uint32_t daily_target = 3;
constexpr std::string_view shoppers_board = "shoppers";
struct product {
  std::string_view id;
  std::int64_t gold;
  std::uint32_t item, count;  // what it grants: `count` of the shop item `item` (data/items.json)
};
constexpr product products[] = {{"herb_bundle", 3, 3, 2}, {"daily_kit", 12, 0, 2}};  // the kit: a sword and a cap

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
  std::uint64_t bought = 0, sold = 0, too_poor = 0, retried = 0;
  std::uint64_t befriended = 0, status_heard = 0;
  std::uint64_t gifts_sent = 0, gift_gold_sent = 0, claims = 0, claim_gold = 0, reclaims = 0;
  // shop, quests, guilds, leaderboard, matchmaking
  std::uint64_t shop_bought = 0, shop_refused = 0, shop_retried = 0;
  std::uint64_t quest_claims = 0, quest_reclaims = 0, quest_progress = 0;
  bool quest_ready = false;           // the daily quest said it is complete
  std::uint64_t guild = 0, guild_said = 0, guild_heard = 0;
  bool queued = false;
  std::uint64_t queues = 0, matches = 0;
  std::int64_t board_start = 0, board_score = 0;
  std::uint64_t board_rank = 0;
  std::int64_t gold = 0;              // as the game last said
  std::vector<std::int64_t> bag;      // its items' keys
  // What the bot did, to check its wallet and bag against at the end.
  std::int64_t expected_gold = 100;   // a new player's gold
  std::set<std::string> ops;          // the wallet operations it made (each once)
  std::vector<std::int64_t> mails_to_claim;
  std::map<std::int64_t, std::uint32_t> kind_of;  // its bag items' shop item ids
  std::uint64_t found_lost = 0, found_doubled = 0;  // at the end: gold or items lost, or applied twice
  std::vector<std::string> mismatches;
  bool checked = false;
  std::string first_error;
};

// What the bots share (one thread: no locks).
struct world_state {
  std::string host;
  std::vector<bot_stats> bots;
  std::map<std::string, std::size_t, std::less<>> index_of;  // bot name -> index
  clock_type::time_point started, deadline;
  std::optional<world::online_reply> last_online;
  std::string guild_name;
  std::uint64_t guild_id = 0;          // bot1's guild, which the others join
  std::map<std::string, std::string> matches;  // match id -> the game server hosting it
  std::vector<ember_leaderboard::record> top;  // the board's top 3, as the last bot read it
  std::size_t finished = 0;
  std::uint64_t run = 0;  // in operation ids: a later run's are new operations
  std::size_t signed_in = 0, invited = 0, accepted = 0;  // bots past each step of the start
  clock_type::time_point start_by;        // the start's steps wait no longer
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

// Waits (bounded by the start's deadline) until `n` of the bots have passed a step.
asio::awaitable<void> wait_for(world_state& w, const std::size_t& passed) {
  while (passed < w.bots.size() && clock_type::now() < w.start_by) co_await sleep_until(clock_type::now() + 20ms);
}

// What the bot's wallet ledger, balance and bag say against what it did: every operation it
// made once in the ledger (a missing one: lost; twice, or one it never made: doubled), the
// balance as it counted, the bag holding what it bought and did not sell.
asio::awaitable<void> check(bot_stats& me, world::client_stub& stub, ember_wallet::client_stub& wallet) {
  std::map<std::string, int> seen;
  std::int64_t sum = 0;
  std::int64_t cursor = 0;
  for (int page = 0; page < 100; ++page) {
    auto l = co_await wallet.ledger({cursor, 50});
    if (!counted(me, l, "ledger")) co_return;
    for (const auto& e : l->entries) {
      ++seen[e.op];
      sum += e.delta;
    }
    cursor = l->next_cursor;
    if (cursor == 0) break;
  }
  for (const auto& op : me.ops)
    if (!seen.contains(op)) ++me.found_lost, me.mismatches.push_back("not in the ledger: " + op);
  for (const auto& [op, n] : seen)
    if (n > 1 || !me.ops.contains(op)) ++me.found_doubled, me.mismatches.push_back(fmt::format("in the ledger {} times: {}", n, op));
  auto bag = co_await stub.bag({});
  if (!counted(me, bag, "bag")) co_return;
  me.gold = bag->gold;
  if (bag->gold != me.expected_gold || sum != bag->gold) {
    (bag->gold < me.expected_gold ? me.found_lost : me.found_doubled) += 1;
    me.mismatches.push_back(fmt::format("gold {} (ledger sum {}), expected {}", bag->gold, sum, me.expected_gold));
  }
  std::multiset<std::int64_t> have, want(me.bag.begin(), me.bag.end());
  for (const auto& it : bag->items) have.insert(it.id);
  if (have != want) {
    (have.size() < want.size() ? me.found_lost : me.found_doubled) += 1;
    me.mismatches.push_back(fmt::format("bag of {} items, expected {}", have.size(), want.size()));
  }
  me.checked = true;
}

template <class E>
bool refused_with(const ember::outcome<E>& r, auto code) {
  return !r && r.error().status == static_cast<std::uint16_t>(code);
}

// Buys a product of the shop's catalogue under a purchase id (sometimes twice, as a client
// retrying after a lost reply: the retry must grant nothing). The wallet's ledger then holds
// the shop's operation, and the bag the product's items (the new ones, read from the bag).
asio::awaitable<void> shop_buy(bot_stats& me, world::client_stub& stub, ember_shop::client_stub& shop,
                               const product& p, const std::string& purchase_id, bool twice) {
  auto r = co_await shop.buy(ember_shop::buy_request{purchase_id, std::string(p.id)});
  if (refused_with(r, ember_shop::error::insufficient_funds) || refused_with(r, ember_shop::error::limit_reached)) {
    ++me.ok;  // refusals the shop is meant to give (too poor; the daily kit once a day)
    ++me.shop_refused;
    co_return;
  }
  if (!counted(me, r, "shop buy")) co_return;
  if (!r->result.applied) {
    ++me.found_doubled, me.mismatches.push_back("a new purchase id was applied before: " + purchase_id);
    co_return;
  }
  ++me.shop_bought;
  for (const auto& c : r->result.paid)
    if (c.currency == "gold") me.expected_gold -= c.amount;
  me.ops.insert(fmt::format("shop:{}:{}", me.user_id, purchase_id));  // the shop's wallet operation
  if (auto bag = co_await stub.bag({}); counted(me, bag, "bag")) {
    std::multiset<std::int64_t> known(me.bag.begin(), me.bag.end());
    std::uint32_t added = 0;
    for (const auto& it : bag->items) {
      if (auto k = known.find(it.id); k != known.end()) {
        known.erase(k);
        continue;
      }
      me.bag.push_back(it.id);
      me.kind_of[it.id] = it.item_id;
      ++added;
    }
    if (added != p.count) {
      (added < p.count ? me.found_lost : me.found_doubled) += 1;
      me.mismatches.push_back(fmt::format("{} gave {} items, expected {}", p.id, added, p.count));
    }
  }
  if (twice) {
    auto again = co_await shop.buy(ember_shop::buy_request{purchase_id, std::string(p.id)});
    if (counted(me, again, "shop buy again")) {
      ++me.shop_retried;
      if (again->result.applied) ++me.found_doubled, me.mismatches.push_back("a retried purchase applied again: " + purchase_id);
    }
  }
}

// Claims the daily quest's reward (twice: the second must grant nothing).
asio::awaitable<void> claim_quest(bot_stats& me, ember_quests::client_stub& quests) {
  me.quest_ready = false;
  auto r = co_await quests.claim(ember_quests::claim_request{std::string(daily_quest)});
  if (!counted(me, r, "claim quest")) co_return;
  if (r->result.applied) {
    ++me.quest_claims;
    for (const auto& c : r->result.currencies)
      if (c.currency == "gold") me.expected_gold += c.amount;
    me.ops.insert(fmt::format("quests:{}:{}:{}", me.user_id, daily_quest, r->result.period));  // the quests' operation
  }
  auto again = co_await quests.claim(ember_quests::claim_request{std::string(daily_quest)});
  if (counted(me, again, "claim quest again")) {
    ++me.quest_reclaims;
    if (again->result.applied) ++me.found_doubled, me.mismatches.push_back("the daily quest's reward was granted twice");
  }
}

// The daily quest as the quests module says it (nullopt: not listed, or the call failed).
asio::awaitable<std::optional<ember_quests::quest_status>> daily_status(bot_stats& me, ember_quests::client_stub& quests) {
  auto l = co_await quests.list_quests(ember_quests::list_quests_request{"", 0});
  if (!counted(me, l, "list_quests")) co_return std::nullopt;
  for (const auto& q : l->quests)
    if (q.quest == daily_quest) co_return q;
  co_return std::nullopt;
}

// The bot's record on the shoppers board (0: none yet).
asio::awaitable<std::optional<std::int64_t>> board_score(bot_stats& me, ember_leaderboard::client_stub& boards) {
  auto r = co_await boards.my_rank(ember_leaderboard::my_rank_request{std::string(shoppers_board), 0});
  if (!counted(me, r, "my_rank")) co_return std::nullopt;
  me.board_rank = r->record ? r->record->rank : 0;
  co_return r->record ? r->record->score : 0;
}

// At the end, once the purchases' events reached the quests (on the games) and the board (on
// the lobby): the quest's progress and the bot's record match its purchases, and a completed
// quest is claimed once.
asio::awaitable<void> check_modules(bot_stats& me, world_state& w, ember_quests::client_stub& quests,
                                    ember_leaderboard::client_stub& boards) {
  const auto until = clock_type::now() + settle;
  const auto want_progress = std::min<std::uint64_t>(daily_target, me.quest_progress + me.shop_bought);
  std::optional<ember_quests::quest_status> q;
  while (true) {
    q = co_await daily_status(me, quests);
    if (!q || q->progress >= want_progress || clock_type::now() >= until) break;
    co_await sleep_until(clock_type::now() + 100ms);
  }
  if (q && q->progress != want_progress) {
    (q->progress < want_progress ? me.found_lost : me.found_doubled) += 1;
    me.mismatches.push_back(fmt::format("daily quest at {}, expected {}", q->progress, want_progress));
  }
  if (q && q->completed && !q->claimed) co_await claim_quest(me, quests);
  const auto want_score = me.board_start + static_cast<std::int64_t>(me.shop_bought);
  std::optional<std::int64_t> score;
  while (true) {
    score = co_await board_score(me, boards);
    if (!score || *score >= want_score || clock_type::now() >= until) break;
    co_await sleep_until(clock_type::now() + 100ms);
  }
  if (score) {
    me.board_score = *score;
    if (*score != want_score) {
      (*score < want_score ? me.found_lost : me.found_doubled) += 1;
      me.mismatches.push_back(fmt::format("{} board score {}, expected {}", shoppers_board, *score, want_score));
    }
  }
  if (auto top = co_await boards.list_top(ember_leaderboard::list_top_request{std::string(shoppers_board), 0, 3});
      counted(me, top, "list_top"))
    w.top = top->records;
}

// Claims the mails waiting (each twice: the retry must grant nothing), counting the gold.
asio::awaitable<void> claim_waiting(bot_stats& me, ember_mail::client_stub& mail) {
  while (!me.mails_to_claim.empty()) {
    const auto id = me.mails_to_claim.back();
    me.mails_to_claim.pop_back();
    const auto op = fmt::format("claim-{}", id);
    auto r = co_await mail.claim_mail({id, op});
    if (!counted(me, r, "claim_mail")) continue;
    if (r->result.applied) {
      ++me.claims;
      me.ops.insert(fmt::format("mail:{}:{}", me.user_id, id));  // the mail module's grant op
      for (const auto& c : r->result.attachments.currencies)
        if (c.currency == "gold") me.expected_gold += c.amount, me.claim_gold += static_cast<std::uint64_t>(c.amount);
    }
    auto again = co_await mail.claim_mail({id, op});
    if (counted(me, again, "claim_mail again")) {
      ++me.reclaims;
      if (again->result.applied) ++me.found_doubled, me.mismatches.push_back(fmt::format("mail {} claimed twice", id));
    }
  }
}

asio::awaitable<void> play(world_state& w, std::size_t i, std::uint64_t seed) {
  bot_stats& me = w.bots[i];
  std::mt19937_64 rng(seed + i);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };

  ember::net::client_options options;
  options.default_timeout = call_deadline;
  options.connect_timeout = connect_deadline;
  ember::net::client conn(co_await asio::this_coro::executor, options);
  world::client_stub stub(conn);
  ember_chat::client_stub chat(conn);
  ember_friends::client_stub friends(conn);
  ember_mail::client_stub mail(conn);
  ember_wallet::client_stub wallet(conn);
  ember_shop::client_stub shop(conn);
  ember_quests::client_stub quests(conn);
  ember_guilds::client_stub guilds(conn);
  ember_leaderboard::client_stub boards(conn);
  ember_matchmaking::client_stub matching(conn);
  // The handlers touch only `w`, which outlives every connection.
  auto closed = std::make_shared<bool>(false);
  conn.on_close([closed](std::error_code) { *closed = true; });
  chat.on_line_said([&w, i](const ember_chat::line_said& m) {
    auto& b = w.bots[i];
    if (m.line.channel.starts_with("group:")) {
      if (m.line.from != b.user_id) ++b.guild_heard;
      return;
    }
    if (m.line.channel.starts_with("dm:")) {
      ++b.told;
      return;
    }
    ++b.heard;
    for (const auto& o : w.bots)
      if (o.user_id == m.line.from && o.port != b.port) ++b.heard_other_net;
  });
  friends.on_friend_status([&w, i](const ember_friends::friend_status&) { ++w.bots[i].status_heard; });
  mail.on_mail_received([&w, i](const ember_mail::mail_received& m) { w.bots[i].mails_to_claim.push_back(m.mail.id); });
  quests.on_quest_progressed([&w, i](const ember_quests::quest_progressed& p) {
    if (p.status.quest == daily_quest && p.status.completed && !p.status.claimed) w.bots[i].quest_ready = true;
  });
  matching.on_matched([&w, i](const ember_matchmaking::matched& m) {
    auto& b = w.bots[i];
    b.queued = false;
    ++b.matches;
    const bool mine = std::any_of(m.match.members.begin(), m.match.members.end(),
                                  [&](const auto& x) { return x.user == b.user_id; });
    if (!mine || !m.match.server.starts_with("game"))
      ++b.found_doubled, b.mismatches.push_back(fmt::format("match {} of others or hosted by '{}'", m.match.id, m.match.server));
    w.matches[m.match.id] = m.match.server;
  });
  matching.on_ticket_ended([&w, i](const ember_matchmaking::ticket_ended&) { w.bots[i].queued = false; });

  if (auto ec = co_await conn.connect(w.host, me.port)) {
    me.first_error = fmt::format("cannot connect to {}:{}: {}", w.host, me.port, ec.message());
    fmt::print("{}: {}\n", me.name, me.first_error);
    ++w.signed_in, ++w.invited, ++w.accepted;
    co_return;
  }
  auto login = co_await stub.login({me.name, "secret-" + me.name});
  if (!counted(me, login, "login")) {
    fmt::print("{}: {}\n", me.name, me.first_error);
    ++w.signed_in, ++w.invited, ++w.accepted;
    co_return;
  }
  me.logged_in = true;
  me.user_id = login->user_id;
  me.server = login->server;
  me.ops.insert(fmt::format("start:{}", me.user_id));  // the starting gold
  fmt::print("{}: signed in on port {} as account {}, served by {}\n", me.name, me.port, me.user_id,
             me.server);
  std::fflush(stdout);
  ++w.signed_in;
  // Friends: invite the next bot (on the other net server), then accept the previous one's.
  co_await wait_for(w, w.signed_in);
  const auto& next = w.bots[(i + 1) % w.bots.size()];
  const auto& prev = w.bots[(i + w.bots.size() - 1) % w.bots.size()];
  const bool has_friend = w.bots.size() > 1 && next.logged_in;
  if (has_friend) counted(me, co_await friends.add_friend(ember_friends::add_friend_request{next.user_id}), "add_friend (invite)");
  ++w.invited;
  co_await wait_for(w, w.invited);
  if (w.bots.size() > 1 && prev.logged_in) {
    auto r = co_await friends.add_friend(ember_friends::add_friend_request{prev.user_id});
    if (counted(me, r, "add_friend (accept)") && r->state == ember_friends::friend_state::friend_) ++me.befriended;
  }
  ++w.accepted;
  co_await wait_for(w, w.accepted);  // its friend accepted it too: gifts may go
  counted(me, co_await stub.join_room(world::join_room_request{"plaza"}), "join_room");
  std::map<std::uint32_t, std::int64_t> price;  // the shop's, as the game said
  for (std::uint32_t item = 1; item <= 3; ++item)
    if (auto p = co_await stub.price(world::price_request{item}); counted(me, p, "price")) price[item] = p->price;
  if (auto bag = co_await stub.bag({}); counted(me, bag, "bag")) {
    me.gold = me.expected_gold = bag->gold;  // a bot of an earlier run may have some already
    for (const auto& it : bag->items) me.bag.push_back(it.id), me.kind_of[it.id] = it.item_id;
    // Its earlier runs' operations are the ledger's already (checked from here on as well).
    std::int64_t cursor = 0;
    for (int page = 0; page < 100; ++page) {
      auto l = co_await wallet.ledger({cursor, 50});
      if (!counted(me, l, "ledger")) break;
      for (const auto& entry : l->entries) me.ops.insert(entry.op);
      cursor = l->next_cursor;
      if (cursor == 0) break;
    }
  }

  // The start of the daily quest and of the board (an earlier run's purchases count there).
  if (auto q = co_await daily_status(me, quests)) me.quest_progress = q->progress;
  if (auto b = co_await board_score(me, boards)) me.board_start = *b;
  // One guild for all: bot1 founds it (open), the others join; each opens its channel.
  if (i == 0) {
    auto g = co_await guilds.create_guild(ember_guilds::create_guild_request{w.guild_name, true});
    if (refused_with(g, ember_guilds::error::already_in_guild)) {  // a bot of an earlier run
      ++me.ok;
      if (auto mine = co_await guilds.get_guild(ember_guilds::get_guild_request{0}); counted(me, mine, "get_guild"))
        w.guild_id = mine->guild.id;
    } else if (counted(me, g, "create_guild")) {
      w.guild_id = g->guild.id;
    }
    if (w.guild_id == 0) w.guild_id = ~0ULL;  // none: the others stop waiting
  }
  while (w.guild_id == 0 && clock_type::now() < w.start_by) co_await sleep_until(clock_type::now() + 20ms);
  if (i != 0 && w.guild_id != 0 && w.guild_id != ~0ULL) {
    auto j = co_await guilds.join_guild(ember_guilds::join_guild_request{w.guild_id});
    if (refused_with(j, ember_guilds::error::already_in_guild)) ++me.ok;
    else counted(me, j, "join_guild");
  }
  if (auto c = co_await guilds.open_chat({}); counted(me, c, "open_chat")) me.guild = w.guild_id;

  std::int32_t x = 0, y = 0;
  int said = 0, op_no = 0;
  while (clock_type::now() < w.deadline && !*closed) {
    co_await claim_waiting(me, mail);
    if (me.quest_ready) co_await claim_quest(me, quests);
    const int roll = pick(0, 99);
    if (roll < 35) {
      x = std::clamp(x + pick(-5, 5), -100, 100);
      y = std::clamp(y + pick(-5, 5), -100, 100);
      counted(me, co_await stub.move({x, y}), "move");
    } else if (roll < 62) {
      // Mostly to the room; now and then to its friend, wherever it is connected.
      const auto text = fmt::format("{} #{} ({},{})", phrases[pick(0, static_cast<int>(std::size(phrases)) - 1)],
                                    ++said, x, y);
      if (roll < 55 || !has_friend) counted(me, co_await stub.say({"plaza", text}), "say");
      else counted(me, co_await stub.tell({next.user_id, text}), "tell");
    } else if (roll < 68) {
      if (me.guild != 0) {  // a line in the guild's channel (chat's group:ID, through the guilds)
        const auto op = fmt::format("g{}-{}", w.run % 1000000, ++op_no);
        if (counted(me, co_await guilds.say(ember_guilds::say_request{fmt::format("guild line #{}", ++said), op}), "guild say"))
          ++me.guild_said;
      }
    } else if (roll < 76) {
      // Buy from the shop's catalogue with a purchase id, now and then sent twice.
      const auto& p = products[pick(0, 4) == 0 ? 1 : 0];
      const auto purchase = fmt::format("p{}-{}", w.run % 1000000000, ++op_no);
      co_await shop_buy(me, stub, shop, p, purchase, pick(0, 3) == 0);
    } else if (roll < 84) {
      // Trade with the shop, each with an operation id; now and then the same request twice
      // (a retry after a lost reply): it must apply once.
      const bool twice = pick(0, 3) == 0;
      const auto op = fmt::format("{}-{}-{}", me.name, w.run, ++op_no);
      if (!me.bag.empty() && pick(0, 2) == 0) {
        const auto at = static_cast<std::size_t>(pick(0, static_cast<int>(me.bag.size()) - 1));
        auto sold = co_await stub.sell(world::sell_request{me.bag[at], op});
        if (twice && sold) {
          auto again = co_await stub.sell(world::sell_request{me.bag[at], op});
          if (counted(me, again, "sell again")) ++me.retried;
        }
        if (counted(me, sold, "sell")) {
          me.expected_gold += price[me.kind_of[me.bag[at]]] / 2;  // half the price back
          me.gold = sold->gold;
          me.ops.insert(fmt::format("sell:{}:{}", me.user_id, op));
          me.bag.erase(me.bag.begin() + static_cast<std::ptrdiff_t>(at));
          ++me.sold;
        }
      } else {
        const auto item = static_cast<std::uint32_t>(pick(1, 3));
        auto bought = co_await stub.buy(world::buy_request{item, op});
        if (!bought && bought.error().status == static_cast<std::uint16_t>(world::error::not_enough_gold)) {
          ++me.ok;  // a refusal the game is meant to give
          ++me.too_poor;
        } else if (counted(me, bought, "buy")) {
          me.expected_gold -= price[item];
          me.gold = bought->gold;
          me.bag.push_back(bought->bag_item);
          me.kind_of[bought->bag_item] = item;
          me.ops.insert(fmt::format("buy:{}:{}", me.user_id, op));
          ++me.bought;
          if (twice) {
            auto again = co_await stub.buy(world::buy_request{item, op});
            if (counted(me, again, "buy again")) {
              ++me.retried;
              if (again->bag_item != bought->bag_item) ++me.found_doubled, me.mismatches.push_back("a retried buy made another item");
            }
          }
        }
      }
    } else if (roll < 88) {
      if (has_friend) {
        // A gift to its friend by mail (the friend claims it); sometimes sent twice.
        const auto op = fmt::format("gift-{}-{}", w.run, ++op_no);
        const auto gold = static_cast<std::uint32_t>(pick(1, 3));
        auto sent = co_await stub.gift({next.user_id, gold, op});
        if (counted(me, sent, "gift")) {
          ++me.gifts_sent;
          me.gift_gold_sent += gold;
          if (pick(0, 2) == 0) counted(me, co_await stub.gift({next.user_id, gold, op}), "gift again");
        }
      }
    } else if (roll < 93) {
      // Into the queue for a match of two (the lobby matches every 250 ms; `matched` names
      // the game server hosting it).
      if (!me.queued) {
        ember_matchmaking::queue_request q;
        q.mode = "skirmish";
        auto t = co_await matching.queue(q);
        if (refused_with(t, ember_matchmaking::error::already_queued)) ++me.ok;
        else if (counted(me, t, "queue")) me.queued = true, ++me.queues;
      }
    } else if (roll < 96) {
      if (auto top = co_await boards.list_top(ember_leaderboard::list_top_request{std::string(shoppers_board), 0, 3});
          counted(me, top, "list_top"))
        w.top = top->records;
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
  co_await sleep_until(w.deadline + grace);  // the others' last lines and gifts arrive
  // Every gift in the mailbox is claimed (a push missed would leave one): the list says.
  if (auto box = co_await mail.list_mail({"", 100, false}); counted(me, box, "list_mail"))
    for (const auto& m : box->mails)
      if (!m.claimed && !m.attachments.currencies.empty() &&
          std::find(me.mails_to_claim.begin(), me.mails_to_claim.end(), m.id) == me.mails_to_claim.end())
        me.mails_to_claim.push_back(m.id);
  co_await claim_waiting(me, mail);
  if (me.queued) counted(me, co_await matching.unqueue({}), "unqueue");
  co_await check_modules(me, w, quests, boards);
  co_await check(me, stub, wallet);
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

  w.run = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch()).count());
  w.guild_name = fmt::format("Bots {}", w.run % 100000);
  asio::io_context io(1);
  w.started = clock_type::now();
  w.deadline = w.started + std::chrono::seconds(seconds);
  w.start_by = w.started + connect_deadline + 3 * call_deadline;
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
  io.run_for(std::chrono::seconds(seconds) + connect_deadline + 10 * call_deadline + grace + settle + 2s);
  const double elapsed = std::chrono::duration<double>(clock_type::now() - w.started).count();

  // The summary.
  std::vector<std::string> problems;
  bot_stats total;
  const auto row = "{:<7} {:>5}  {:<6} {:>8} {:>6} {:>6} {:>6} {:>5} {:>7} {:>6} {:>5} {:>7} {:>6} {:>5} {:>5} {:>7}\n";
  fmt::print("\n");
  fmt::print(fmt::runtime(row), "bot", "port", "game", "requests", "failed", "heard", "other", "tells", "friends",
             "bought", "sold", "retries", "gifts", "claims", "gold", "lost/dbl");
  for (auto& b : w.bots) {
    fmt::print(fmt::runtime(row), b.name, b.port, b.server.empty() ? "-" : b.server, b.ok, b.failed, b.heard,
               b.heard_other_net, b.told, b.befriended, b.bought, b.sold, b.retried, b.gifts_sent, b.claims, b.gold,
               fmt::format("{}/{}", b.found_lost, b.found_doubled));
    total.bought += b.bought;
    total.sold += b.sold;
    total.ok += b.ok;
    total.failed += b.failed;
    total.heard += b.heard;
    total.heard_other_net += b.heard_other_net;
    total.told += b.told;
    total.befriended += b.befriended;
    total.retried += b.retried;
    total.gifts_sent += b.gifts_sent;
    total.gift_gold_sent += b.gift_gold_sent;
    total.claims += b.claims;
    total.claim_gold += b.claim_gold;
    total.reclaims += b.reclaims;
    total.found_lost += b.found_lost;
    total.found_doubled += b.found_doubled;
    total.status_heard += b.status_heard;
    total.shop_bought += b.shop_bought;
    total.shop_refused += b.shop_refused;
    total.shop_retried += b.shop_retried;
    total.quest_claims += b.quest_claims;
    total.quest_reclaims += b.quest_reclaims;
    total.guild_said += b.guild_said;
    total.guild_heard += b.guild_heard;
    total.queues += b.queues;
    total.matches += b.matches;
    if (b.guild != 0) ++total.guild;
    const bool has_peer_elsewhere = std::any_of(w.bots.begin(), w.bots.end(),
                                                [&](const bot_stats& o) { return o.port != b.port; });
    if (!b.done) problems.push_back(fmt::format("{} did not finish in time", b.name));
    else if (!b.logged_in) problems.push_back(fmt::format("{} did not sign in: {}", b.name, b.first_error));
    else if (b.lost) problems.push_back(fmt::format("{}: {}", b.name, b.first_error));
    else if (!b.checked) problems.push_back(fmt::format("{} could not check its wallet and bag", b.name));
    if (b.failed)
      problems.push_back(fmt::format("{}: {} requests failed, the first: {}", b.name, b.failed,
                                     b.first_error));
    for (const auto& m : b.mismatches) problems.push_back(fmt::format("{}: {}", b.name, m));
    if (b.logged_in && w.bots.size() > 1 && b.befriended == 0)
      problems.push_back(fmt::format("{} made no friend", b.name));
    if (b.logged_in && b.guild == 0) problems.push_back(fmt::format("{} is in no guild channel", b.name));
    else if (b.logged_in && b.guild_heard == 0 && std::any_of(w.bots.begin(), w.bots.end(), [&](const bot_stats& o) {
               return &o != &b && o.guild_said > 0;
             }))
      problems.push_back(fmt::format("{} heard nothing in the guild's channel", b.name));
    if (b.logged_in && b.heard == 0) problems.push_back(fmt::format("{} heard nothing", b.name));
    else if (b.logged_in && has_peer_elsewhere && b.heard_other_net == 0)
      problems.push_back(fmt::format("{} heard no bot of another net server", b.name));
  }
  // Every gift's gold reached its friend's wallet, once.
  if (total.claim_gold != total.gift_gold_sent) {
    (total.claim_gold < total.gift_gold_sent ? total.found_lost : total.found_doubled) += 1;
    problems.push_back(fmt::format("gifts sent {} gold, claims granted {}", total.gift_gold_sent, total.claim_gold));
  }
  fmt::print(fmt::runtime(row), "total", "", "", total.ok, total.failed, total.heard, total.heard_other_net,
             total.told, total.befriended, total.bought, total.sold, total.retried, total.gifts_sent, total.claims, "",
             fmt::format("{}/{}", total.found_lost, total.found_doubled));
  fmt::print("{:.1f} s, {:.0f} requests/s answered", elapsed,
             static_cast<double>(total.ok) / seconds);
  if (w.last_online) {
    std::vector<std::string> per_server;
    for (auto& s : w.last_online->servers) per_server.push_back(fmt::format("{} {}", s.server, s.players));
    fmt::print("; the last `online`: {} players ({})", w.last_online->total,
               fmt::join(per_server, ", "));
  }
  fmt::print("\n");
  // What happened, module by module (run_cluster.sh and the demo show these lines).
  std::map<std::string, int> hosted;
  for (const auto& [id, server] : w.matches) ++hosted[server];
  std::vector<std::string> hosts, top;
  for (const auto& [server, n] : hosted) hosts.push_back(fmt::format("{} on {}", n, server));
  for (const auto& r : w.top) {
    auto who = std::find_if(w.bots.begin(), w.bots.end(), [&](const bot_stats& b) { return b.user_id == r.owner; });
    top.push_back(fmt::format("#{} {} ({})", r.rank, who == w.bots.end() ? std::to_string(r.owner) : who->name, r.score));
  }
  std::size_t quest_done = 0;
  for (const auto& b : w.bots) quest_done += b.quest_claims > 0 || b.quest_progress + b.shop_bought >= daily_target;
  fmt::print("\nper module:\n");
  fmt::print("  accounts, friends   {} bots signed in, {} friendships, {} friend status changes heard\n",
             std::count_if(w.bots.begin(), w.bots.end(), [](const bot_stats& b) { return b.logged_in; }),
             total.befriended, total.status_heard);
  fmt::print("  chat                {} room lines heard ({} from the other net server), {} tells\n", total.heard,
             total.heard_other_net, total.told);
  fmt::print("  wallet, inventory   {} buys and {} sales of the game's own ({} sent twice, applied once)\n",
             total.bought, total.sold, total.retried);
  fmt::print("  mail                {} gifts ({} gold) claimed {} times, {} repeated claims granted nothing\n",
             total.gifts_sent, total.gift_gold_sent, total.claims, total.reclaims);
  fmt::print("  shop                {} purchases from the catalogue ({} sent twice, applied once), {} refused (gold, daily limit)\n",
             total.shop_bought, total.shop_retried, total.shop_refused);
  fmt::print("  quests              '{}' completed by {} bots, its reward claimed {} times, {} repeated claims granted nothing\n",
             daily_quest, quest_done, total.quest_claims, total.quest_reclaims);
  fmt::print("  guilds              '{}': {} members in its channel, {} lines said, {} heard\n", w.guild_name,
             total.guild, total.guild_said, total.guild_heard);
  fmt::print("  leaderboard         top {}: {} (each bot checks its record against its purchases)\n", shoppers_board,
             top.empty() ? std::string("none") : fmt::format("{}", fmt::join(top, ", ")));
  fmt::print("  matchmaking         {} queued, {} matches of two ({})\n", total.queues, w.matches.size(),
             hosts.empty() ? std::string("none") : fmt::format("{}", fmt::join(hosts, ", ")));
  fmt::print("exactly once: {} purchases and sales, {} shop purchases ({} sent twice), {} quest rewards, {} gifts "
             "({} gold) claimed {} times ({} claims repeated); lost {}, doubled {}\n",
             total.bought + total.sold, total.shop_bought, total.retried + total.shop_retried, total.quest_claims,
             total.gifts_sent, total.gift_gold_sent, total.claims, total.reclaims + total.quest_reclaims,
             total.found_lost, total.found_doubled);
  if (problems.empty()) {
    fmt::print("ok: every bot signed in, made a friend, lost and doubled nothing, no request failed, every bot heard {}\n",
               ports.size() > 1 ? "bots of the other net server" : "the others");
    return EXIT_SUCCESS;
  }
  for (auto& p : problems) fmt::print("FAILED: {}\n", p);
  return EXIT_FAILURE;
}
