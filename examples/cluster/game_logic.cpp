// The cluster example's game logic (world_logic.hpp): players, their rows and bags, chat.
#include <chrono>
#include <exception>
#include <stdexcept>

#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "ember/cluster/backend.hpp"
#include "ember/cluster/ownership.hpp"
#include "ember/cluster/rendezvous.hpp"
#include "ember/data/transaction.hpp"
#include "world_logic.hpp"

namespace world_example {

namespace {
std::uint64_t user_id_of(std::string_view name) {
  return ember::cluster::name_hash(name) >> 24;  // stable across servers and restarts
}
}  // namespace

/// The game's saved rows: players and their bags (a game server's config entry has "db" and
/// "mem", so the host has a store).
struct saved_tables {
  explicit saved_tables(ember::data::store& s) : store(s), players(s), bag(s) {}
  ember::data::store& store;
  ember::data::table<world::player_table> players;
  ember::data::table<world::bag_item_table> bag;
};

game_logic::game_logic(ember::app::host& h)
    : host_(h), items_(h.data_dir() / "data" / "items.json") {
  if (h.self().type != "game") return;
  if (!h.store())
    throw std::invalid_argument("servers." + h.self().name +
                                ": a game server saves players: give it \"db\": true and \"mem\": true");
  saved_ = std::make_unique<saved_tables>(*h.store());
}

game_logic::~game_logic() = default;

std::string game_logic::reload_data() {
  auto r = items_.reload();
  if (!r) return r.error().what();
  ember::log::info("game data: {} items (version {})", *r, items_.version());
  return {};
}

void game_logic::session_closed(session& s) {
  auto u = s.user();
  if (auto it = u ? players_.find(*u) : players_.end();
      it != players_.end() && is_current(s, it->second)) {
    save_and_drop(*u);
    host_.ownership()->release(*u);
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

asio::awaitable<world::login_reply> game_logic::login(session& s, const world::login_request& req) {
  if (req.name.empty() || req.password.empty() || req.password == "wrong")
    world::fail(world::error::bad_password);
  const auto id = user_id_of(req.name);
  // One owner per player: if another game holds it, that game saves and drops it first.
  auto owned = co_await host_.ownership()->acquire(id);
  if (!owned)
    throw ember::game_error(ember::status::unavailable,
                            "player is busy elsewhere, try again: " + owned.error().message);
  s.bind_user(id);                // closes an older session of this user, on any net server
  host_.backend()->bind_here(s);  // this player's commands come here from now on
  auto& rows = *saved_;
  const auto key = static_cast<std::int64_t>(id);
  auto row = co_await rows.players.get(key);
  if (!row) {
    bool created_elsewhere = false;
    try {
      row = co_await rows.players.insert(world::player(key, req.name, starting_gold));
    } catch (const ember::data::data_error& e) {
      if (e.code() != ember::data::data_errc::constraint) throw;
      created_elsewhere = true;  // by a login on another game meanwhile
    }
    if (created_elsewhere) row = co_await rows.players.get(key);
  }
  players_[id] = player{req.name, ++logins_};
  s.set_attribute(login_attribute, std::to_string(logins_));
  ember::log::info("loaded player {} ({}): {} gold at ({}, {})", req.name, id, row->gold, row->x, row->y);
  co_return world::login_reply{id, host_.self().name};
}

asio::awaitable<world::move_reply> game_logic::move(session& s, const world::move_request& req) {
  const auto id = require_player(s).first;
  auto p = co_await saved_->players.update(id, [x = req.x, y = req.y](world::player& p) {
    p.x = x;
    p.y = y;
  });
  co_return world::move_reply{p.x, p.y};
}

asio::awaitable<world::buy_reply> game_logic::buy(session& s, const world::buy_request& req) {
  const auto id = require_player(s).first;
  const auto price = static_cast<std::int64_t>(price_of(req.item_id));
  auto& rows = *saved_;
  // The item is made for the shop (owner 0), then gold and ownership change together.
  auto item = co_await rows.bag.insert(world::bag_item(0, 0, req.item_id));
  std::int64_t gold = 0;
  std::exception_ptr failed;
  try {
    co_await ember::data::transact(
        rows.store,
        [&](world::player& p, world::bag_item& b) {
          if (p.gold < price) world::fail(world::error::not_enough_gold);
          p.gold -= price;
          b.owner = id;
          gold = p.gold;
        },
        ember::data::at(rows.players, id), ember::data::at(rows.bag, item.id));
  } catch (...) {
    failed = std::current_exception();
  }
  if (failed) {
    try {
      co_await rows.bag.remove(item.id);  // the shop's item goes again
    } catch (const std::exception& e) {
      ember::log::warn("bag item {} of a failed purchase stays with the shop: {}", item.id, e.what());
    }
    std::rethrow_exception(failed);
  }
  co_return world::buy_reply{gold, item.id};
}

asio::awaitable<world::sell_reply> game_logic::sell(session& s, const world::sell_request& req) {
  const auto id = require_player(s).first;
  auto& rows = *saved_;
  const auto item = co_await rows.bag.get(req.bag_item);
  if (!item || item->owner != id) world::fail(world::error::not_in_bag);
  const auto refund = static_cast<std::int64_t>(price_of(item->item_id) / 2);
  std::int64_t gold = 0;
  co_await ember::data::transact(
      rows.store,
      [&](world::player& p, world::bag_item& b) {
        if (b.owner != id) world::fail(world::error::not_in_bag);  // sold meanwhile
        b.owner = 0;
        p.gold += refund;
        gold = p.gold;
      },
      ember::data::at(rows.players, id), ember::data::at(rows.bag, item->id));
  co_return world::sell_reply{gold};
}

asio::awaitable<world::bag_reply> game_logic::bag(session& s, const world::bag_request&) {
  const auto id = require_player(s).first;
  auto& rows = *saved_;
  auto p = co_await rows.players.get(id);
  auto items = co_await rows.bag.find<world::bag_item_table::by_owner>(id);
  co_return world::bag_reply{p ? p->gold : 0, std::move(items)};
}

asio::awaitable<world::join_room_reply> game_logic::join_room(session& s,
                                                 const world::join_room_request& req) {
  require_player(s);
  s.join("room:" + req.room);
  co_return world::join_room_reply{};
}

asio::awaitable<world::say_reply> game_logic::say(session& s, const world::say_request& req) {
  const auto& p = require_player(s).second;
  s.broadcast("room:" + req.room, world::chat_message{req.room, p.name, req.text});
  co_return world::say_reply{};
}

asio::awaitable<world::tell_reply> game_logic::tell(session& s, const world::tell_request& req) {
  require_player(s);
  host_.backend()->push_to_user(req.to_user, world::told{*s.user(), req.text});
  co_return world::tell_reply{};
}

asio::awaitable<world::echo_reply> game_logic::echo(session&, const world::echo_request& req) {
  co_return world::echo_reply{req.payload};
}

asio::awaitable<world::whoami_reply> game_logic::whoami(session& s, const world::whoami_request&) {
  co_return world::whoami_reply{s.user().value_or(0), host_.self().name, WORLD_BUILD};
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

std::pair<std::int64_t, game_logic::player&> game_logic::require_player(session& s) {
  auto u = s.user();
  auto it = u ? players_.find(*u) : players_.end();
  if (it == players_.end()) world::fail(world::error::not_logged_in);
  return {static_cast<std::int64_t>(it->first), it->second};
}

std::uint32_t game_logic::price_of(std::uint32_t item_id) const {
  auto items = items_.current();
  const world::item* it = items->find(item_id);
  if (!it) world::fail(world::error::no_such_item);
  return it->price;
}

}  // namespace world_example
