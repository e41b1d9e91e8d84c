// The cluster example's logic, shared by world_server (its own main()) and the world module
// that ember-server loads (and reloads):
//   gate  the root: answers `cluster_online` by asking every game (a fan-out call)
//   net   client-facing: forwards game commands to the games; answers `online` by asking gate
//   game  a backend: logs players in, moves them, relays chat across every net server
#pragma once

#include <cstdint>
#include <map>
#include <sstream>
#include <string>

#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "ember/app/game_data.hpp"
#include "ember/app/host.hpp"
#include "world_server.hpp"

/// Which build of the logic this is (whoami tells; the reload test builds a "v2").
#ifndef WORLD_BUILD
#define WORLD_BUILD "v1"
#endif

namespace world_example {

using ember::session;

inline std::uint64_t user_id_of(std::string_view name) {
  return ember::cluster::name_hash(name) >> 24;  // stable across servers and restarts
}

/// The items of the game data, by id.
using item_table = ember::app::data_table<world::item, &world::item::id>;

class game_logic final : public world::game_handler {
 public:
  explicit game_logic(ember::app::host& h)
      : host_(h), items_(h.data_dir() / "data" / "items.json") {}

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
        it != players_.end() && it->second.current == &s) {
      save_and_drop(*u);
      host_.ownership()->release(*u);
    }
  }

  /// Another game takes the player over (a login there): save it first, then let go.
  asio::awaitable<void> release_player(std::uint64_t user) {
    save_and_drop(user);
    co_return;
  }

  /// The players, as text, for the next build of this logic (a hot reload); sessions are
  /// the host's, so the pointer that identifies each player's session stays valid.
  std::string save_state() const {
    std::string out;
    for (const auto& [id, p] : players_)
      out += fmt::format("{} {} {} {} {}\n", id, p.x, p.y,
                         reinterpret_cast<std::uintptr_t>(p.current), p.name);
    return out;
  }
  void load_state(std::string_view text) {
    std::istringstream in{std::string(text)};
    std::uint64_t id;
    std::uintptr_t current;
    player p;
    while (in >> id >> p.x >> p.y >> current && std::getline(in >> std::ws, p.name)) {
      p.current = reinterpret_cast<const session*>(current);
      players_[id] = p;
    }
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
    players_[id] = player{req.name, 0, 0, &s};
    ember::log::info("loaded player {} ({})", req.name, id);
    co_return world::login_reply{id, host_.self().name};
  }

  asio::awaitable<world::move_reply> move(session& s, const world::move_request& req) override {
    auto& p = require_player(s);
    p.x = req.x;
    p.y = req.y;
    co_return world::move_reply{p.x, p.y};
  }

  asio::awaitable<world::join_room_reply> join_room(session& s,
                                                   const world::join_room_request& req) override {
    require_player(s);
    s.join("room:" + req.room);
    co_return world::join_room_reply{};
  }

  asio::awaitable<world::say_reply> say(session& s, const world::say_request& req) override {
    auto& p = require_player(s);
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
  struct player {
    std::string name;
    std::int32_t x = 0, y = 0;
    const session* current = nullptr;  // the session that logged in last (identity only)
  };
  // A real game writes the player to its database here.
  void save_and_drop(std::uint64_t user) {
    if (auto it = players_.find(user); it != players_.end()) {
      ember::log::info("saved player {} ({})", it->second.name, user);
      players_.erase(it);
    }
  }

  player& require_player(session& s) {
    auto u = s.user();
    auto it = u ? players_.find(*u) : players_.end();
    if (it == players_.end()) world::fail(world::error::not_logged_in);
    return it->second;
  }

  ember::app::host& host_;
  ember::app::data_slot<item_table> items_;
  std::map<std::uint64_t, player> players_;
};

class net_logic final : public world::net_handler {
 public:
  explicit net_logic(ember::app::host& h) : host_(h) {}

  asio::awaitable<world::online_reply> online(session&, const world::online_request&) override {
    auto* gate = host_.node("gate");
    if (!gate) world::fail(world::error::not_logged_in);
    auto r = co_await gate->call<world::cmd::cluster_online>({});
    if (!r) throw ember::game_error(static_cast<std::uint16_t>(ember::status::unavailable),
                                    "gate: " + r.error().message);
    co_return world::online_reply{r->total, r->servers};
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
