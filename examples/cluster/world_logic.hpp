// The cluster example's logic, shared by world_server (its own main()) and the world module
// that ember-server loads (and reloads):
//   gate  the root: answers `cluster_online` by asking every game (a fan-out call)
//   net   client-facing: forwards game commands to the games; answers `online` by asking gate
//   game  a backend: serves ember's gameplay modules (accounts, notifications, friends, chat,
//         mail, inventory, wallet: their state is in the data layer, memcached then the
//         database) and the game's own commands over them: login (the accounts sign-in, then
//         "enter the world"), moves, buying and selling (wallet + inventory in one
//         transaction), rooms and tells (the chat module), gifts to friends (the mail module);
//         the shop, the quests and guilds (with their chat channels) are served here too
//   lobby the one owner of the leaderboard's boards (a board of shop purchases, written from
//         the shop's events) and of the matchmaking pools (each match hosted by a game)
// This header declares; game_logic.cpp and front_logic.cpp define, each including only the
// parts of ember it uses, as a game's files would (one file per server type keeps each file's
// compile small).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "ember/app/game_data.hpp"
#include "ember/app/host.hpp"
#include "world_server.hpp"

/// Which build of the logic this is (whoami tells; the reload test builds a "v2").
#ifndef WORLD_BUILD
#define WORLD_BUILD "v1"
#endif

namespace world_example {

using ember::net::session;

/// The items of the game data, by id.
using item_table = ember::app::data_table<world::item, &world::item::id>;

/// What a new player starts with.
inline constexpr std::int64_t starting_gold = 100;

/// The game's saved rows and the gameplay modules' services (game_logic.cpp), the lobby's
/// (lobby_logic.cpp).
struct saved_tables;
struct game_modules;
struct lobby_modules;

class game_logic final : public world::game_handler {
 public:
  /// `build` names this build of the logic (whoami tells it); its default is the WORLD_BUILD
  /// of the file that makes the logic, so the logic's own files compile once for every build.
  explicit game_logic(ember::app::host& h, std::string build = WORLD_BUILD);
  ~game_logic() override;

  /// (Re)reads the game data; on failure the data in use stays. Empty when all went well.
  std::string reload_data();
  /// A player whose client left is saved and given up here. Only the player's current
  /// session counts: an older one, closed by a newer login, does not.
  /// The modules hear of it in a coroutine that holds `keep` (the module's `keep_loaded()`
  /// under ember-server) until it is done.
  void session_closed(session& s, std::shared_ptr<const void> keep = {});
  /// Another game takes the player over (a login there): let go. Its row is in the shared
  /// cache already (and written back from there), so the next game reads it as it is.
  asio::awaitable<void> release_player(std::uint64_t user);

  /// The players, for the next build of this logic (a hot reload, through
  /// `host::hand_over`). Each is tied to its session by its login number, which the session
  /// (the host's) keeps as an attribute, so nothing refers to this build's memory.
  world::kept_players save_state() const;
  void load_state(const world::kept_players& kept);

  asio::awaitable<world::login_reply> login(session& s, const world::login_request& req) override;
  asio::awaitable<world::move_reply> move(session& s, const world::move_request& req) override;
  asio::awaitable<world::buy_reply> buy(session& s, const world::buy_request& req) override;
  asio::awaitable<world::sell_reply> sell(session& s, const world::sell_request& req) override;
  asio::awaitable<world::bag_reply> bag(session& s, const world::bag_request&) override;
  asio::awaitable<world::join_room_reply> join_room(session& s,
                                                   const world::join_room_request& req) override;
  asio::awaitable<world::say_reply> say(session& s, const world::say_request& req) override;
  asio::awaitable<world::tell_reply> tell(session& s, const world::tell_request& req) override;
  asio::awaitable<world::echo_reply> echo(session&, const world::echo_request& req) override;
  asio::awaitable<world::whoami_reply> whoami(session& s, const world::whoami_request&) override;
  asio::awaitable<world::slow_reply> slow(session&, const world::slow_request& req) override;
  asio::awaitable<world::price_reply> price(session&, const world::price_request& req) override;
  asio::awaitable<world::gift_reply> gift(session& s, const world::gift_request& req) override;
  asio::awaitable<world::game_online_reply> game_online(session&,
                                                       const world::game_online_request&) override;

  /// Registers the world's commands and the modules' (on game servers).
  void register_commands(ember::net::dispatch_table& t);

 private:
  /// A player logged in here; what is saved of it is in the `player` table.
  struct player {
    std::string name;
    std::uint64_t login = 0;  // which login of this game: the session that made it keeps it
  };
  /// The session attribute holding the number of the login made on that session. (A session
  /// id is unique on its gateway only; a game serves the sessions of every gateway.)
  static constexpr std::string_view login_attribute = "world.login";
  /// Set on a session the friends module counted as online (so its end counts once).
  static constexpr std::string_view online_attribute = "world.online";
  /// An operation id for the modules: the client's (prefixed with the player) or a fresh one.
  std::string op_id(std::string_view kind, std::int64_t player, const std::string& client_op);
  static bool is_current(const session& s, const player& p);
  void save_and_drop(std::uint64_t user);
  /// The player of this session (its row key). A player signed in whom this game does not
  /// hold came from a game that failed: taken over here, without a new login (failover).
  asio::awaitable<std::int64_t> require_player(session& s);
  asio::awaitable<void> take_over(session& s, std::uint64_t id);
  asio::awaitable<void> acquire(std::uint64_t id);
  void still_owned(std::uint64_t id) const;
  std::uint32_t price_of(std::uint32_t item_id) const;

  ember::app::host& host_;
  ember::app::data_slot<item_table> items_;
  std::unique_ptr<saved_tables> saved_;  // on game servers
  std::unique_ptr<game_modules> modules_;  // on game servers
  std::map<std::uint64_t, player> players_;
  std::uint64_t logins_ = 0;  // logins served by this game, across reloads
  // Logins and takeovers running here, by player: the end of the player's older session
  // does not give its ownership up under them (see still_owned).
  std::map<std::uint64_t, int> entering_;
  struct entering {
    std::map<std::uint64_t, int>& in;
    std::uint64_t id;
    entering(std::map<std::uint64_t, int>& m, std::uint64_t user) : in(m), id(user) { ++in[id]; }
    entering(const entering&) = delete;
    entering& operator=(const entering&) = delete;
    ~entering() {
      if (--in[id] == 0) in.erase(id);
    }
  };
  std::string build_;
};

/// The lobby: the leaderboard and matchmaking, which keep what they own in memory, on the
/// server type of one instance (on other types this does nothing).
class lobby_logic {
 public:
  explicit lobby_logic(ember::app::host& h);
  ~lobby_logic();
  void register_commands(ember::net::dispatch_table& t);
  /// Once the store is open: reads the boards' ranks and the pools, then matches every
  /// interval; `keep` keeps this build loaded meanwhile.
  void started(std::shared_ptr<const void> keep);
  /// The owner registry gives a board or a pool (its key) to another lobby: written back and
  /// let go here.
  asio::awaitable<void> release(std::uint64_t key);
  /// Stops matching (a reload or the server's stop).
  void stopping();
  /// A player's session ended: its matchmaking ticket and party end.
  void session_closed(session& s, std::shared_ptr<const void> keep);

 private:
  ember::app::host& host_;
  std::unique_ptr<lobby_modules> modules_;
};

class net_logic final : public world::net_handler {
 public:
  explicit net_logic(ember::app::host& h) : host_(h) {}
  /// Once the host started: the gateway sends a board's commands, and `queue` of a pool, to
  /// the lobby that owns it rather than by the player.
  void route_to_owners();
  asio::awaitable<world::online_reply> online(session&, const world::online_request&) override;

 private:
  ember::app::host& host_;
};

class gate_logic final : public world::gate_handler {
 public:
  explicit gate_logic(ember::app::host& h) : host_(h) {}
  asio::awaitable<world::cluster_online_reply> cluster_online(
      session&, const world::cluster_online_request&) override;

 private:
  ember::app::host& host_;
};

}  // namespace world_example
