// The cluster example's game logic (world_logic.hpp): players and their rows, served on
// ember's gameplay modules (docs/modules/README.md, "Using modules in a game").
#include <charconv>
#include <chrono>
#include <exception>
#include <stdexcept>

#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "ember/app/module_options.hpp"
#include "ember/cluster/backend.hpp"
#include "ember/cluster/ownership.hpp"
#include "ember/data/transaction.hpp"
#include "ember/modules/accounts/accounts.hpp"
#include "ember/modules/accounts/admin.hpp"
#include "ember/modules/chat/chat.hpp"
#include "ember/modules/chat/cluster_fanout.hpp"
#include "ember/modules/cluster_players.hpp"
#include "ember/modules/friends/friends.hpp"
#include "ember/modules/guilds/guilds.hpp"
#include "ember/modules/inventory/inventory.hpp"
#include "ember/modules/mail/mail.hpp"
#include "ember/modules/notifications/notifications.hpp"
#include "ember/modules/quests/quests.hpp"
#include "ember/modules/quests/sources.hpp"
#include "ember/modules/shop/shop.hpp"
#include "ember/modules/wallet/wallet.hpp"
#include "ember/spawn.hpp"
#include "world_logic.hpp"

namespace world_example {

namespace mods = ember::modules;

/// The game's saved rows: players (where they stand) and the gifts sent (a game server's
/// config entry has "db" and "mem", so the host has a store).
struct saved_tables {
  explicit saved_tables(ember::data::store& s) : store(s), players(s), gifts(s) {}
  ember::data::store& store;
  ember::data::table<world::player_table> players;
  ember::data::table<world::gift_table> gifts;
};

/// The gameplay modules this game assembles, made on the game servers (config.json places
/// them there) with the limits config.json sets. Their state is all in the data layer, so a
/// reloaded build makes them anew over the same tables, and two game servers serve them side
/// by side (the leaderboard and matchmaking need one owner: the lobby's, lobby_logic.cpp).
struct game_modules {
  explicit game_modules(ember::app::host& h)
      : players(h),
        fanout(h),
        item_types(h.data_dir() / "data" / "item_types.json"),
        products(h.data_dir() / "data" / "shop.json"),
        quest_book(h.data_dir() / "data" / "quests.json"),
        accounts(*h.store(), players, h.events(), read<mods::accounts::options>(h, "accounts")),
        notes(*h.store(), players, h.events(), read<mods::notifications::options>(h, "notifications")),
        friends(*h.store(), players, h.events(), notes, read<mods::friends::options>(h, "friends")),
        chat(*h.store(), h.events(), players, fanout, chat_options(h), chat_hooks()),
        wallet(*h.store(), h.events(), players, read<mods::wallet::options>(h, "wallet")),
        inventory(*h.store(), h.events(), players, item_types, read<mods::inventory::options>(h, "inventory")),
        mail(*h.store(), h.events(), players, wallet, inventory, read<mods::mail::options>(h, "mail")),
        shop(*h.store(), h.events(), wallet, inventory, products, read<mods::shop::options>(h, "shop")),
        quests(h.context().get_executor(), *h.store(), h.events(), players, wallet, inventory, quest_book,
               read<mods::quests::options>(h, "quests")),
        guilds(*h.store(), h.events(), players, wallet, chat, read<mods::guilds::options>(h, "guilds")),
        accounts_commands(accounts),
        notes_commands(notes),
        friends_commands(friends),
        chat_commands(chat),
        wallet_commands(wallet),
        inventory_commands(inventory),
        mail_commands(mail),
        shop_commands(shop),
        quests_commands(quests),
        guilds_commands(guilds),
        admin_bans(h, accounts) {
    // The quests count the shop's purchases (data/quests.json: "counts": "shop.purchase"),
    // heard here or relayed from the other game: each counts once (the quests' event rows).
    quests.count<ember_shop::product_purchased>("shop.purchase", mods::quests::sources::purchases);
  }

  template <class Options>
  static Options read(ember::app::host& h, std::string_view module) {
    ember::app::module_options o(h.config(), module);
    return Options::read(o);
  }
  static mods::chat::options chat_options(ember::app::host& h) {
    ember::app::module_options o(h.config(), "chat");
    return mods::chat::options::read(o, h.data_dir());
  }

  /// The guild's channel (chat's group:ID) admits whom the guilds module admits.
  mods::chat::hooks chat_hooks() {
    mods::chat::hooks hk;
    hk.may_join_group = [this](std::uint64_t user, std::uint64_t group) { return guilds.admits(user, group); };
    return hk;
  }

  void register_commands(ember::net::dispatch_table& t) {
    ember_accounts::register_commands(t, accounts_commands);
    ember_notifications::register_commands(t, notes_commands);
    ember_friends::register_commands(t, friends_commands);
    ember_chat::register_commands(t, chat_commands);
    ember_wallet::register_commands(t, wallet_commands);
    ember_inventory::register_commands(t, inventory_commands);
    ember_mail::register_commands(t, mail_commands);
    ember_shop::register_commands(t, shop_commands);
    ember_quests::register_commands(t, quests_commands);
    ember_guilds::register_commands(t, guilds_commands);
  }

  mods::cluster_players players;  // pushes reach the player on any net server
  mods::chat::cluster_fanout fanout;
  ember::app::data_slot<mods::inventory::item_types> item_types;
  ember::app::data_slot<mods::shop::catalogue> products;  // data/shop.json
  ember::app::data_slot<mods::quests::quest_book> quest_book;  // data/quests.json
  mods::accounts::service accounts;
  mods::notifications::service notes;
  mods::friends::service friends;
  mods::chat::service chat;
  mods::wallet::service wallet;
  mods::inventory::service inventory;
  mods::mail::service mail;
  mods::shop::service shop;
  mods::quests::service quests;
  mods::guilds::service guilds;
  mods::accounts::handler accounts_commands;
  mods::notifications::handler notes_commands;
  mods::friends::handler friends_commands;
  mods::chat::handler chat_commands;
  mods::wallet::handler wallet_commands;
  mods::inventory::handler inventory_commands;
  mods::mail::handler mail_commands;
  mods::shop::handler shop_commands;
  mods::quests::handler quests_commands;
  mods::guilds::handler guilds_commands;
  mods::accounts::admin_bans admin_bans;  // the master's `ember-cli ban` and the console's Ban
};

namespace {
/// The inventory type of a shop item of data/items.json (data/item_types.json lists them).
std::string type_of(std::uint32_t item_id) { return std::to_string(item_id); }
/// The shop item of an inventory type (0: not a shop item).
std::uint32_t item_of(std::string_view type) {
  std::uint32_t id = 0;
  auto [end, ec] = std::from_chars(type.data(), type.data() + type.size(), id);
  return ec == std::errc() && end == type.data() + type.size() ? id : 0;
}
/// The user a session was counted online for (friends), if it was.
std::uint64_t counted_user(const ember::net::session& s, std::string_view attribute) {
  auto a = s.attribute(attribute);
  std::uint64_t user = 0;
  if (a) std::from_chars(a->data(), a->data() + a->size(), user);
  return user;
}
}  // namespace

game_logic::game_logic(ember::app::host& h, std::string build)
    : host_(h), items_(h.data_dir() / "data" / "items.json"), build_(std::move(build)) {
  if (h.self().type != "game") return;
  if (!h.store())
    throw std::invalid_argument("servers." + h.self().name +
                                ": a game server saves players: give it \"db\": true and \"mem\": true");
  saved_ = std::make_unique<saved_tables>(*h.store());
  modules_ = std::make_unique<game_modules>(h);
}

game_logic::~game_logic() = default;

void game_logic::register_commands(ember::net::dispatch_table& t) {
  world::register_commands(t, *this);
  if (modules_) modules_->register_commands(t);
}

std::string game_logic::reload_data() {
  auto r = items_.reload();
  if (!r) return r.error().what();
  ember::log::info("game data: {} items (version {})", *r, items_.version());
  if (modules_) {
    auto t = modules_->item_types.reload();
    if (!t) return t.error().what();
    auto p = modules_->products.reload();
    if (!p) return p.error().what();
    auto q = modules_->quest_book.reload();
    if (!q) return q.error().what();
  }
  return {};
}

void game_logic::session_closed(session& s, std::shared_ptr<const void> keep) {
  const auto u = s.user().value_or(0);
  // The modules hear of every session of the player that counted: friends see the status
  // change (the last session makes the player offline), chat memberships end with the
  // player's current session. Spawned: nothing here waits on the io thread; `keep` keeps
  // this build loaded until the work is done (a reload may come meanwhile).
  const auto counted = counted_user(s, online_attribute);
  bool current = false;
  if (auto it = u ? players_.find(u) : players_.end(); it != players_.end() && is_current(s, it->second)) {
    current = true;
    save_and_drop(u);
    // A login of the player running here (a second login closes the first session) keeps it.
    if (!entering_.contains(u)) host_.ownership()->release(u);
  }
  if (modules_ && (counted != 0 || current)) {
    ember::spawn(host_.context().get_executor(),
                 [](game_modules& m, std::uint64_t user, std::uint64_t counted, bool current,
                    std::shared_ptr<const void>) -> asio::awaitable<void> {
                   if (counted != 0) co_await m.friends.offline(counted);
                   if (current) co_await m.chat.leave_all(user);
                 }(*modules_, u, counted, current, std::move(keep)),
                 "world: a session ended");
  }
}

asio::awaitable<void> game_logic::release_player(std::uint64_t user) {
  save_and_drop(user);
  co_return;
}

world::kept_players game_logic::save_state() const {
  world::kept_players out;
  out.logins = logins_;
  for (const auto& [id, p] : players_) out.players.push_back(world::kept_player{id, p.name, p.login});
  return out;
}

void game_logic::load_state(const world::kept_players& kept) {
  logins_ = kept.logins;
  for (const auto& p : kept.players) players_[p.user] = player{p.name, p.login};
}

// Decision (docs/decisions.md): command 101 signs in through the accounts module (username +
// password, the account made at the first sign-in) and then enters the world on this game.
asio::awaitable<world::login_reply> game_logic::login(session& s, const world::login_request& req) {
  auto& m = *modules_;
  mods::accounts::session_tokens t;
  try {
    t = co_await m.accounts.sign_in_password(req.name, req.password, true, mods::accounts::address_of(s));
  } catch (const ember::game_error& e) {
    if (e.code() == static_cast<std::uint16_t>(ember_accounts::error::invalid_credentials))
      world::fail(world::error::bad_password);
    throw;  // the accounts module's own refusal (too many attempts, banned, a bad name)
  }
  const auto id = static_cast<std::uint64_t>(t.account_id);
  const entering guard(entering_, id);
  co_await acquire(id);
  // Binds the session to the account (closes an older session of this user, on any net
  // server); the accounts module keeps the token's hash with it.
  co_await m.accounts.bind(s, t.account_id, mods::accounts::hash_hex(t.token),
                           mods::accounts::sign_in_method::password);
  host_.backend()->bind_here(s);  // this player's commands come here from now on
  auto& rows = *saved_;
  const auto key = t.account_id;
  auto row = co_await rows.players.get(key);
  if (!row) {
    bool created_elsewhere = false;
    try {
      row = co_await rows.players.insert(world::player(key, req.name));
    } catch (const ember::data::data_error& e) {
      if (e.code() != ember::data::data_errc::constraint) throw;
      created_elsewhere = true;  // by a login on another game meanwhile
    }
    if (created_elsewhere) row = co_await rows.players.get(key);
  }
  // What a new player starts with: once per account, whichever game and however often.
  std::vector<ember_wallet::change> start;  // (named: GCC's coroutines reject a braced list here)
  start.push_back(ember_wallet::change{id, "gold", starting_gold});
  co_await m.wallet.change("start:" + std::to_string(id), std::move(start), "starting gold");
  still_owned(id);
  players_[id] = player{req.name, ++logins_};
  s.set_attribute(login_attribute, std::to_string(logins_));
  // Friends hear it, wherever they are connected; a session counts once, for its user (a
  // login of another user on the same session moves the count).
  if (const auto before = counted_user(s, online_attribute); before != id) {
    s.set_attribute(online_attribute, std::to_string(id));
    if (before != 0) co_await m.friends.offline(before);
    co_await m.friends.online(id);
  }
  ember::log::info("loaded player {} ({}): at ({}, {})", req.name, id, row->x, row->y);
  co_return world::login_reply{id, host_.self().name};
}

asio::awaitable<world::move_reply> game_logic::move(session& s, const world::move_request& req) {
  const auto id = co_await require_player(s);
  auto p = co_await saved_->players.update(id, [x = req.x, y = req.y](world::player& p) {
    p.x = x;
    p.y = y;
  });
  co_return world::move_reply{p.x, p.y};
}

std::string game_logic::op_id(std::string_view kind, std::int64_t player, const std::string& client_op) {
  if (client_op.empty() || client_op.size() > 48) {
    if (!client_op.empty()) world::fail(world::error::bad_op);
    // No id from the client: a fresh one (a retry of such a request is a new operation).
    return fmt::format("{}:{}:{}:{}", kind, player, host_.self().name,
                       std::chrono::system_clock::now().time_since_epoch().count());
  }
  return fmt::format("{}:{}:{}", kind, player, client_op);
}

// Buying: the wallet takes the price and the inventory grants the item, in one transaction,
// once per operation id (a retry returns what the first attempt did).
asio::awaitable<world::buy_reply> game_logic::buy(session& s, const world::buy_request& req) {
  const auto id = co_await require_player(s);
  const auto user = static_cast<std::uint64_t>(id);
  const auto price = static_cast<std::int64_t>(price_of(req.item_id));
  auto& m = *modules_;
  const auto op = op_id("buy", id, req.op);
  ember_wallet::change_result paid;
  ember_inventory::op_result given;
  try {
    std::vector<ember_wallet::change> pay;
    pay.push_back(ember_wallet::change{user, "gold", -price});
    std::vector<ember_inventory::grant_item> grant;
    grant.push_back(ember_inventory::grant_item{type_of(req.item_id), 1, false, 0});
    co_await ember::data::transact_retrying(saved_->store, [&](ember::data::change_set& tx) -> asio::awaitable<void> {
      co_await m.wallet.stage(tx, op, pay, "shop", paid);
      co_await m.inventory.stage_grant(tx, op, user, grant, given);
    });
  } catch (const ember::game_error& e) {
    if (e.code() == static_cast<std::uint16_t>(ember_wallet::error::insufficient_funds))
      world::fail(world::error::not_enough_gold);
    throw;
  }
  std::int64_t item = 0;
  for (const auto& c : given.changes)  // the new instance (the first time's, for a retry)
    if (c.type == type_of(req.item_id) && c.delta > 0) item = c.item;
  co_return world::buy_reply{co_await m.wallet.balance(user, "gold"), item};
}

// Selling: the inventory takes that very item and the wallet pays half its price, together.
asio::awaitable<world::sell_reply> game_logic::sell(session& s, const world::sell_request& req) {
  const auto id = co_await require_player(s);
  const auto user = static_cast<std::uint64_t>(id);
  auto& m = *modules_;
  const auto op = op_id("sell", id, req.op);
  std::optional<std::uint32_t> item_id;
  for (const auto& it : (co_await m.inventory.list(user)).items)
    if (it.id == req.bag_item) item_id = item_of(it.type);
  if (!item_id) {
    // Sold already: a retry of that very sale answers as the sale did.
    if (auto done = co_await m.inventory.log(op); !done || req.op.empty()) world::fail(world::error::not_in_bag);
    co_return world::sell_reply{co_await m.wallet.balance(user, "gold")};
  }
  const auto refund = static_cast<std::int64_t>(price_of(*item_id) / 2);
  ember_wallet::change_result paid;
  ember_inventory::op_result taken;
  const auto bag_item = req.bag_item;
  try {
    const std::vector<std::uint64_t> who(1, user);
    const mods::inventory::plan_fn take = [bag_item](std::vector<mods::inventory::detail::bag_edit*>& b) {
      auto& bag = *b[0];
      auto& it = bag.find(bag_item);  // item_not_found if it went meanwhile
      if (it.locked) ember_inventory::fail(ember_inventory::error::item_locked);
      bag.remove(it, ember_inventory::change_kind::discarded);
    };
    std::vector<ember_wallet::change> pay;
    pay.push_back(ember_wallet::change{user, "gold", refund});
    co_await ember::data::transact_retrying(saved_->store, [&](ember::data::change_set& tx) -> asio::awaitable<void> {
      co_await m.inventory.stage(tx, op, who, take, taken);
      if (refund > 0) co_await m.wallet.stage(tx, op, pay, "shop", paid);
    });
  } catch (const ember::game_error& e) {
    if (e.code() == static_cast<std::uint16_t>(ember_inventory::error::item_not_found))
      world::fail(world::error::not_in_bag);
    throw;
  }
  co_return world::sell_reply{co_await m.wallet.balance(user, "gold")};
}

asio::awaitable<world::bag_reply> game_logic::bag(session& s, const world::bag_request&) {
  const auto user = static_cast<std::uint64_t>(co_await require_player(s));
  auto& m = *modules_;
  world::bag_reply out;
  out.gold = co_await m.wallet.balance(user, "gold");
  for (const auto& it : (co_await m.inventory.list(user)).items)
    for (std::uint32_t k = 0; k < it.count; ++k)
      out.items.push_back(world::bag_entry{it.id, item_of(it.type)});
  co_return out;
}

// A friendship gift: the game mails `gold` to a friend (a system mail with the gold attached;
// the friend claims it through the mail module, once). Once per operation id of the sender.
asio::awaitable<world::gift_reply> game_logic::gift(session& s, const world::gift_request& req) {
  const auto from = static_cast<std::uint64_t>(co_await require_player(s));
  if (req.gold < 1 || req.gold > 10 || req.op.empty() || req.op.size() > 48) world::fail(world::error::bad_gift);
  auto& m = *modules_;
  if (co_await m.friends.state(from, req.to_user) != ember_friends::friend_state::friend_)
    world::fail(world::error::not_friends);
  const auto key = std::to_string(from) + ':' + req.op;
  auto& gifts = saved_->gifts;
  // The gift's row is made first (a retry finds it), then the mail, then the row keeps its id.
  bool mine = true;
  try {
    co_await gifts.insert(world::gift(key, 0));
  } catch (const ember::data::data_error& e) {
    if (e.code() != ember::data::data_errc::constraint) throw;
    mine = false;
  }
  if (!mine) {
    auto row = co_await gifts.get(key);
    co_return world::gift_reply{row ? row->mail_id : 0};
  }
  ember_mail::attachments reward;
  reward.currencies.push_back(ember_mail::currency_attachment{"gold", static_cast<std::int64_t>(req.gold)});
  const auto& name = players_.at(from).name;
  std::int64_t mail = 0;
  std::exception_ptr failed;
  try {
    mail = co_await m.mail.send_system(req.to_user, "a gift from " + name, "from your friend " + name,
                                       std::move(reward));
  } catch (...) {
    failed = std::current_exception();  // e.g. the friend's inbox is full: a retry may send it
  }
  if (failed) {
    co_await gifts.remove(key);
    std::rethrow_exception(failed);
  }
  co_await gifts.update(key, [mail](world::gift& g) { g.mail_id = mail; });
  co_return world::gift_reply{mail};
}

// Rooms are the chat module's channels room:NAME; tells its direct channels dm:A:B. Every
// line reaches its members as ember_chat::line_said, on whichever net server they are.
asio::awaitable<world::join_room_reply> game_logic::join_room(session& s,
                                                 const world::join_room_request& req) {
  const auto user = static_cast<std::uint64_t>(co_await require_player(s));
  auto [c, last] = co_await modules_->chat.join(user, "room:" + req.room);
  s.join(mods::chat::group_of(c.id));
  co_return world::join_room_reply{};
}

asio::awaitable<world::say_reply> game_logic::say(session& s, const world::say_request& req) {
  const auto user = static_cast<std::uint64_t>(co_await require_player(s));
  co_await modules_->chat.send(user, "room:" + req.room, req.text);
  co_return world::say_reply{};
}

asio::awaitable<world::tell_reply> game_logic::tell(session& s, const world::tell_request& req) {
  const auto user = static_cast<std::uint64_t>(co_await require_player(s));
  co_await modules_->chat.send(user, "dm:" + std::to_string(req.to_user), req.text);
  co_return world::tell_reply{};
}

asio::awaitable<world::echo_reply> game_logic::echo(session&, const world::echo_request& req) {
  co_return world::echo_reply{req.payload};
}

asio::awaitable<world::whoami_reply> game_logic::whoami(session& s, const world::whoami_request&) {
  co_return world::whoami_reply{s.user().value_or(0), host_.self().name, build_};
}

asio::awaitable<world::slow_reply> game_logic::slow(session&, const world::slow_request& req) {
  asio::steady_timer t(host_.context(), std::chrono::milliseconds(req.ms));
  co_await t.async_wait(asio::use_awaitable);
  co_return world::slow_reply{};
}

asio::awaitable<world::price_reply> game_logic::price(session&, const world::price_request& req) {
  auto items = items_.current();  // one snapshot for this whole request
  const world::item* it = items->find(req.item_id);
  if (!it) world::fail(world::error::no_such_item);
  co_return world::price_reply{it->name, it->price};
}

asio::awaitable<world::game_online_reply> game_logic::game_online(session&,
                                                     const world::game_online_request&) {
  co_return world::game_online_reply{
      world::server_count{host_.self().name, static_cast<std::uint32_t>(players_.size())}};
}

bool game_logic::is_current(const session& s, const player& p) {
  return s.attribute(login_attribute) == std::to_string(p.login);
}

// The player's row is saved by the data layer (journal, then write-back), so leaving only
// forgets the session.
void game_logic::save_and_drop(std::uint64_t user) {
  if (auto it = players_.find(user); it != players_.end()) {
    ember::log::info("saved player {} ({}): its row is in the shared cache and the journal", it->second.name, user);
    players_.erase(it);
  }
}

asio::awaitable<std::int64_t> game_logic::require_player(session& s) {
  const auto u = s.user();
  if (!u) world::fail(world::error::not_logged_in);
  if (!players_.contains(*u)) co_await take_over(s, *u);
  co_return static_cast<std::int64_t>(*u);
}

// One owner per player: if another game holds it, that game saves and drops it first. A
// refusal (the owner did not let go, or its lease runs), an unreachable registry, or one that
// did not answer (it may have granted the player: acquiring again is safe) is "not run,
// retry" for the request, whose handler has done nothing yet.
asio::awaitable<void> game_logic::acquire(std::uint64_t id) {
  auto owned = co_await host_.ownership()->acquire(id);
  if (!owned)
    throw ember::game_error(ember::status::unavailable, "not run, try again: " + owned.error().message);
}

// A login or a takeover runs outside the player's queue, so the registry may have moved the
// player to another game while it waited (the release found nothing here to save). Recording
// the player then would make two owners: the request is "not run, retry" instead (what it did
// meanwhile — the session's binding, the starting gold by its operation id — is idempotent).
// (The end of the player's older session, which a second login causes, does not release it
// meanwhile: `entering_`.)
void game_logic::still_owned(std::uint64_t id) const {
  if (!host_.ownership()->owns(id))
    throw ember::game_error(ember::status::unavailable,
                            "not run, try again: the player moved to another game meanwhile");
}

// Failover (docs/cluster.md, "When a backend fails") and drains (docs/operations.md): the
// session is signed in (its gateway bound the user at login) but routed here because its game
// failed or gave the player up. The registry makes sure
// no other game holds the player (a restarted game frees its old players at once; a lost one
// only after its lease), and the player's state is the data layer's, as at login.
asio::awaitable<void> game_logic::take_over(session& s, std::uint64_t id) {
  const entering guard(entering_, id);
  co_await acquire(id);
  auto row = co_await saved_->players.get(static_cast<std::int64_t>(id));
  if (!row) world::fail(world::error::not_logged_in);  // signed in, never entered the world
  host_.backend()->bind_here(s);
  still_owned(id);
  if (!players_.contains(id)) {  // (a request of the same player may have taken it meanwhile)
    players_[id] = player{row->name, ++logins_};
    s.set_attribute(login_attribute, std::to_string(logins_));
  }
  // Friends count the player's session here too: the game it came from counts it off when
  // the session ends there (a drained game that stops ends its side of every session).
  if (modules_ && counted_user(s, online_attribute) != id) {
    s.set_attribute(online_attribute, std::to_string(id));
    co_await modules_->friends.online(id);
  }
  ember::log::info("took over player {} ({}) from a game that failed or drained", row->name, id);
}

std::uint32_t game_logic::price_of(std::uint32_t item_id) const {
  auto items = items_.current();
  const world::item* it = items->find(item_id);
  if (!it) world::fail(world::error::no_such_item);
  return it->price;
}

}  // namespace world_example
