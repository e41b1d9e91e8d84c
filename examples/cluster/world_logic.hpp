// The cluster example's logic, shared by world_server (its own main()) and the world module
// that ember-server loads (and reloads):
//   gate  the root: answers `cluster_online` by asking every game (a fan-out call)
//   net   client-facing: forwards game commands to the games; answers `online` by asking gate
//   game  a backend: logs players in (their rows come from the data layer: memcached, then
//         the database), moves them, sells and buys items, relays chat across every net server
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "ember/app/game_data.hpp"
#include "ember/app/host.hpp"
#include "ember/data/transaction.hpp"
#include "world_server.hpp"

/// Which build of the logic this is (whoami tells; the reload test builds a "v2").
#ifndef WORLD_BUILD
#define WORLD_BUILD "v1"
#endif

namespace world_example {

using ember::net::session;

inline std::uint64_t user_id_of(std::string_view name) {
  return ember::cluster::name_hash(name) >> 24;  // stable across servers and restarts
}

/// The items of the game data, by id.
using item_table = ember::app::data_table<world::item, &world::item::id>;

/// What a new player starts with.
inline constexpr std::int64_t starting_gold = 100;

/// The game's saved rows: players and their bags (a game server's config entry has "db" and
/// "mem", so the host has a store).
struct saved_tables {
  explicit saved_tables(ember::data::store& s) : store(s), players(s), bag(s) {}
  ember::data::store& store;
  ember::data::table<world::player_table> players;
  ember::data::table<world::bag_item_table> bag;
};

class game_logic final : public world::game_handler {
 public:
  explicit game_logic(ember::app::host& h)
      : host_(h), items_(h.data_dir() / "data" / "items.json") {
    if (h.self().type != "game") return;
    if (!h.store())
      throw std::invalid_argument("servers." + h.self().name +
                                  ": a game server saves players: give it \"db\": true and \"mem\": true");
    saved_.emplace(*h.store());
  }

  /// (Re)reads the game data; on failure the data in use stays. Empty when all went well.
  std::string reload_data() {
    auto r = items_.reload();
    if (!r) return r.error().what();
    ember::log::info("game data: {} items (version {})", *r, items_.version());
    return {};
  }

  /// A player whose client left is saved and given up here. Only the player's current
  /// session counts: an older one, closed by a newer login, does not.
  void session_closed(session& s) {
    auto u = s.user();
    if (auto it = u ? players_.find(*u) : players_.end();
        it != players_.end() && is_current(s, it->second)) {
      save_and_drop(*u);
      host_.ownership()->release(*u);
    }
  }

  /// Another game takes the player over (a login there): let go. Its row is in the shared
  /// cache already (and written back from there), so the next game reads it as it is.
  asio::awaitable<void> release_player(std::uint64_t user) {
    save_and_drop(user);
    co_return;
  }

  /// The players, for the next build of this logic (a hot reload, through
  /// `host::hand_over`). Each is tied to its session by its login number, which the session
  /// (the host's) keeps as an attribute, so nothing refers to this build's memory.
  world::kept_players save_state() const {
    world::kept_players out;
    out.logins = logins_;
    for (const auto& [id, p] : players_) out.players.push_back(world::kept_player{id, p.name, p.login});
    return out;
  }
  void load_state(const world::kept_players& kept) {
    logins_ = kept.logins;
    for (const auto& p : kept.players) players_[p.user] = player{p.name, p.login};
  }

  asio::awaitable<world::login_reply> login(session& s, const world::login_request& req) override {
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

  asio::awaitable<world::move_reply> move(session& s, const world::move_request& req) override {
    const auto id = require_player(s).first;
    auto p = co_await saved_->players.update(id, [x = req.x, y = req.y](world::player& p) {
      p.x = x;
      p.y = y;
    });
    co_return world::move_reply{p.x, p.y};
  }

  asio::awaitable<world::buy_reply> buy(session& s, const world::buy_request& req) override {
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

  asio::awaitable<world::sell_reply> sell(session& s, const world::sell_request& req) override {
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

  asio::awaitable<world::bag_reply> bag(session& s, const world::bag_request&) override {
    const auto id = require_player(s).first;
    auto& rows = *saved_;
    auto p = co_await rows.players.get(id);
    auto items = co_await rows.bag.find<world::bag_item_table::by_owner>(id);
    co_return world::bag_reply{p ? p->gold : 0, std::move(items)};
  }

  asio::awaitable<world::join_room_reply> join_room(session& s,
                                                   const world::join_room_request& req) override {
    require_player(s);
    s.join("room:" + req.room);
    co_return world::join_room_reply{};
  }

  asio::awaitable<world::say_reply> say(session& s, const world::say_request& req) override {
    const auto& p = require_player(s).second;
    s.broadcast("room:" + req.room, world::chat_message{req.room, p.name, req.text});
    co_return world::say_reply{};
  }

  asio::awaitable<world::tell_reply> tell(session& s, const world::tell_request& req) override {
    require_player(s);
    host_.backend()->push_to_user(req.to_user, world::told{*s.user(), req.text});
    co_return world::tell_reply{};
  }

  asio::awaitable<world::echo_reply> echo(session&, const world::echo_request& req) override {
    co_return world::echo_reply{req.payload};
  }

  asio::awaitable<world::whoami_reply> whoami(session& s, const world::whoami_request&) override {
    co_return world::whoami_reply{s.user().value_or(0), host_.self().name, WORLD_BUILD};
  }

  asio::awaitable<world::slow_reply> slow(session&, const world::slow_request& req) override {
    asio::steady_timer t(host_.context(), std::chrono::milliseconds(req.ms));
    co_await t.async_wait(asio::use_awaitable);
    co_return world::slow_reply{};
  }

  asio::awaitable<world::price_reply> price(session&, const world::price_request& req) override {
    auto items = items_.current();  // one snapshot for this whole request
    const world::item* it = items->find(req.item_id);
    if (!it) world::fail(world::error::no_such_item);
    co_return world::price_reply{it->name, it->price};
  }

  asio::awaitable<world::game_online_reply> game_online(session&,
                                                       const world::game_online_request&) override {
    co_return world::game_online_reply{
        world::server_count{host_.self().name, static_cast<std::uint32_t>(players_.size())}};
  }

 private:
  /// A player logged in here; what is saved of it is in the `player` table.
  struct player {
    std::string name;
    std::uint64_t login = 0;  // which login of this game: the session that made it keeps it
  };
  /// The session attribute holding the number of the login made on that session. (A session
  /// id is unique on its gateway only; a game serves the sessions of every gateway.)
  static constexpr std::string_view login_attribute = "world.login";
  static bool is_current(const session& s, const player& p) {
    return s.attribute(login_attribute) == std::to_string(p.login);
  }
  // The player's row is saved by the data layer (journal, then write-back), so leaving only
  // forgets the session.
  void save_and_drop(std::uint64_t user) {
    if (auto it = players_.find(user); it != players_.end()) {
      ember::log::info("saved player {} ({}): its row is in the shared cache and the journal", it->second.name, user);
      players_.erase(it);
    }
  }

  /// The player of this session (its row key, and what the game keeps of it here).
  std::pair<std::int64_t, player&> require_player(session& s) {
    auto u = s.user();
    auto it = u ? players_.find(*u) : players_.end();
    if (it == players_.end()) world::fail(world::error::not_logged_in);
    return {static_cast<std::int64_t>(it->first), it->second};
  }

  std::uint32_t price_of(std::uint32_t item_id) const {
    auto items = items_.current();
    const world::item* it = items->find(item_id);
    if (!it) world::fail(world::error::no_such_item);
    return it->price;
  }


  ember::app::host& host_;
  ember::app::data_slot<item_table> items_;
  std::optional<saved_tables> saved_;
  std::map<std::uint64_t, player> players_;
  std::uint64_t logins_ = 0;  // logins served by this game, across reloads
};

class net_logic final : public world::net_handler {
 public:
  explicit net_logic(ember::app::host& h) : host_(h) {}

  asio::awaitable<world::online_reply> online(session&, const world::online_request&) override {
    auto* gate = host_.node("gate");
    if (!gate) world::fail(world::error::not_logged_in);
    // A failed call escapes as call_error: the client hears the gate's status, or unavailable
    // or timeout when the gate did not answer.
    auto r = (co_await gate->call<world::cmd::cluster_online>({})).value();
    co_return world::online_reply{r.total, r.servers};
  }

 private:
  ember::app::host& host_;
};

class gate_logic final : public world::gate_handler {
 public:
  explicit gate_logic(ember::app::host& h) : host_(h) {}

  asio::awaitable<world::cluster_online_reply> cluster_online(
      session&, const world::cluster_online_request&) override {
    world::cluster_online_reply reply;
    // Every game at once; one that does not answer in time is left out, not waited for.
    for (auto& r : co_await host_.root()->call_all<world::cmd::game_online>("game", {})) {
      if (!r) continue;
      reply.total += r->count.players;
      reply.servers.push_back(r->count);
    }
    co_return reply;
  }

 private:
  ember::app::host& host_;
};

}  // namespace world_example
