// The cluster example's lobby logic (world_logic.hpp): the leaderboard's boards and the
// matchmaking pools, on the `lobby` servers. Each board and each pool has one owner among the
// lobbies at a time, under a key of the players' owner registry on the gate: the net servers
// send a board's commands (and `queue` for a pool) to the lobby rendezvous hashing picks for
// it, which acquires it and reads it from the database; when that lobby dies, the next pick
// takes it over the same way (docs/cluster.md, "Boards and pools").
#include <deque>
#include <functional>

#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "ember/app/module_options.hpp"
#include "ember/cluster/ownership.hpp"
#include "ember/cluster/rendezvous.hpp"
#include "ember/modules/cluster_players.hpp"
#include "ember/modules/leaderboard/cluster.hpp"
#include "ember/modules/leaderboard/leaderboard.hpp"
#include "ember/modules/matchmaking/cluster.hpp"
#include "ember/modules/matchmaking/matchmaking.hpp"
#include "ember/modules/shop/detail/ember_shop.hpp"
#include "ember/spawn.hpp"
#include "world_logic.hpp"

namespace world_example {

namespace mods = ember::modules;

/// The board the lobby keeps: purchases in the shop, one point each (an authoritative board:
/// only this server writes it, from the shop's events).
inline constexpr std::string_view shoppers_board = "shoppers";

struct lobby_modules {
  explicit lobby_modules(ember::app::host& h)
      : host(h),
        players(h),
        boards(*h.store(), h.events(), read<mods::leaderboard::options>(h, "leaderboard")),
        matches(*h.store(), h.events(), players, read<mods::matchmaking::options>(h, "matchmaking")),
        boards_commands(boards),
        matches_commands(matches) {
    for (const auto& s : h.config().servers) {
      if (s.type == "game") games.push_back(s.name);
      if (s.type == h.self().type) lobbies.push_back(s.name);
    }
    // A board or a pool that a request names and this lobby does not hold: it becomes the
    // owner (the registry first makes any other owner write back and let go), then reads it.
    boards.set_claim([this](const std::string& board) -> asio::awaitable<void> {
      co_await acquire(mods::leaderboard::board_key(board));
      co_await boards.adopt(board);
    });
    matches.on().owns = [this](const std::string& mode) {
      auto* o = host.ownership();
      return o && o->owns(mods::matchmaking::pool_key(mode));
    };
    matches.on().claim = [this](const std::string& mode) -> asio::awaitable<void> {
      co_await acquire(mods::matchmaking::pool_key(mode));
      co_await matches.adopt(mode);
    };
    // A match is hosted by one of the game servers, the same one for the same match id.
    matches.on().host = [this](const ember_matchmaking::match& m) -> asio::awaitable<std::string> {
      if (games.empty()) throw std::runtime_error("no game server to host a match");
      co_return games[std::hash<std::string>{}(m.id) % games.size()];
    };
    // Every purchase of either game reaches here once (the cluster relays events); until
    // the boards are read from the database they wait, in a bounded queue.
    purchases = h.events().subscribe<ember_shop::product_purchased>([this](const ember_shop::product_purchased& e) {
      if (!ready) {
        if (waiting.size() < max_waiting) waiting.push_back(e);
        else ember::log::warn("lobby: a purchase of player {} not ranked: the boards are not read yet", e.player);
        return;
      }
      rank(e);
    });
  }

  template <class Options>
  static Options read(ember::app::host& h, std::string_view module) {
    ember::app::module_options o(h.config(), module);
    return Options::read(o);
  }

  asio::awaitable<void> acquire(std::uint64_t key) {
    auto* o = host.ownership();
    if (!o) throw ember::game_error(ember::status::unavailable, "the lobby has no link to the owner registry yet; retry");
    if (auto r = co_await o->acquire(key); !r) throw ember::game_error(ember::status::unavailable, r.error().message);
  }

  // The registry gives `key` to another lobby: what it names is written back and let go.
  asio::awaitable<void> release(std::uint64_t key) {
    for (const auto& b : boards.config().boards)
      if (mods::leaderboard::board_key(b.id) == key) co_return co_await boards.drop(b.id);
    for (const auto& m : matches.config().modes)
      if (mods::matchmaking::pool_key(m.id) == key) co_return co_await matches.drop(m.id);
  }

  // The lobby the net servers send `key`'s requests to while every lobby runs.
  bool picked_for(std::uint64_t key) const {
    const auto i = ember::cluster::rendezvous_pick(key, lobbies,
                                                   [](const std::string& n) { return ember::cluster::name_hash(n); });
    return i < lobbies.size() && lobbies[i] == host.self().name;
  }
  bool picked_for(std::string_view board) const { return picked_for(mods::leaderboard::board_key(board)); }

  // At start (a restart too): the pools this lobby is picked for are taken at once, so their
  // waiting tickets are matched without waiting for a new `queue` (failures are logged; the
  // next `queue` of the mode claims again).
  asio::awaitable<void> take_picked_pools() {
    asio::steady_timer pause(host.context());
    for (const auto& m : matches.config().modes) {
      if (!picked_for(mods::matchmaking::pool_key(m.id))) continue;
      // The link to the registry comes up by itself: a few tries, a tenth of a second apart.
      for (int attempt = 1;; ++attempt) {
        try {
          co_await acquire(mods::matchmaking::pool_key(m.id));
          co_await matches.adopt(m.id);
          break;
        } catch (const std::exception& e) {
          if (attempt == 50) {
            ember::log::warn("lobby: the pool of mode '{}' is not taken yet: {}", m.id, e.what());
            break;
          }
        }
        pause.expires_after(std::chrono::milliseconds(100));
        co_await pause.async_wait(asio::use_awaitable);
      }
    }
  }

  // One point per purchase; the purchase's id makes a relayed copy heard again apply once.
  // Every lobby hears every purchase: the board's owner ranks it, or the lobby picked for the
  // board, which then takes it (a purchase heard while that lobby is down and no other holds
  // the board is not ranked: events are not stored).
  void rank(const ember_shop::product_purchased& e) {
    if (!boards.serves(std::string(shoppers_board)) && !picked_for(shoppers_board)) return;
    mods::leaderboard::write_request w;
    w.score = 1;
    w.op_id = fmt::format("{}:{}", e.player, e.purchase);
    ember::spawn(host.context().get_executor(),
                 [](mods::leaderboard::service& b, std::uint64_t player,
                    mods::leaderboard::write_request w) -> asio::awaitable<void> {
                   co_await b.write(std::string(shoppers_board), player, std::move(w));
                 }(boards, e.player, std::move(w)),
                 "lobby: ranking a purchase");
  }

  static constexpr std::size_t max_waiting = 10'000;
  ember::app::host& host;
  std::vector<std::string> games;
  std::vector<std::string> lobbies;  // every server of this type in the config
  mods::cluster_players players;
  mods::leaderboard::service boards;
  mods::matchmaking::service matches;
  mods::leaderboard::handler boards_commands;
  mods::matchmaking::handler matches_commands;
  bool begun = false;  // started once
  bool ready = false;  // the boards are read: purchases are ranked as they come
  std::deque<ember_shop::product_purchased> waiting;
  ember::modules::subscription purchases;
};

lobby_logic::lobby_logic(ember::app::host& h) : host_(h) {
  if (h.self().type != "lobby") return;
  if (!h.store())
    throw std::invalid_argument("servers." + h.self().name +
                                ": the lobby keeps boards and pools: give it \"db\": true and \"mem\": true");
  modules_ = std::make_unique<lobby_modules>(h);
}

lobby_logic::~lobby_logic() = default;

void lobby_logic::register_commands(ember::net::dispatch_table& t) {
  if (!modules_) return;
  ember_leaderboard::register_commands(t, modules_->boards_commands);
  ember_matchmaking::register_commands(t, modules_->matches_commands);
}

void lobby_logic::started(std::shared_ptr<const void> keep) {
  if (!modules_) return;
  // Once per build: the boards and the pools are read from the database; a refused reload
  // starts the same build again, which then only resumes matching.
  ember::spawn(host_.context().get_executor(),
               [](lobby_modules& m, std::shared_ptr<const void>) -> asio::awaitable<void> {
                 if (!m.begun) {
                   m.begun = true;
                   co_await m.boards.start(mods::leaderboard::service::serving::adopted);
                   m.ready = true;
                   for (; !m.waiting.empty(); m.waiting.pop_front()) m.rank(m.waiting.front());
                   co_await m.matches.start();
                   co_await m.take_picked_pools();
                   ember::log::info("lobby: boards and matchmaking pools read; matching");
                 }
                 co_await m.matches.run();
               }(*modules_, std::move(keep)),
               "lobby: boards and matchmaking");
}

asio::awaitable<void> lobby_logic::release(std::uint64_t key) {
  if (modules_) co_await modules_->release(key);
}

void lobby_logic::stopping() {
  if (modules_) modules_->matches.stop();
}

void lobby_logic::session_closed(session& s, std::shared_ptr<const void> keep) {
  const auto user = s.user();
  if (!modules_ || !user) return;
  // The player's ticket and party end with the session (matchmaking.md, "Ownership").
  ember::spawn(host_.context().get_executor(),
               [](lobby_modules& m, std::uint64_t user, std::shared_ptr<const void>) -> asio::awaitable<void> {
                 co_await m.matches.disconnected(user);
               }(*modules_, *user, std::move(keep)),
               "lobby: a session ended");
}

}  // namespace world_example
