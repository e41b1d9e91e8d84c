// The cluster example's lobby logic (world_logic.hpp): the one owner of the leaderboard's
// boards and of the matchmaking pools. Both modules keep what they own in memory (ranks,
// waiting tickets) over the data layer and route nothing to an owner among several yet
// (docs/modules/leaderboard.md and matchmaking.md, "Not yet"), so the example places them on
// a server type of one instance, `lobby`, which every net server forwards their commands to.
#include <deque>
#include <functional>

#include "ember/app/module_options.hpp"
#include "ember/modules/cluster_players.hpp"
#include "ember/modules/leaderboard/leaderboard.hpp"
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
    for (const auto& s : h.config().servers)
      if (s.type == "game") games.push_back(s.name);
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

  // One point per purchase; the purchase's id makes a relayed copy heard again apply once.
  void rank(const ember_shop::product_purchased& e) {
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
                   co_await m.boards.start();
                   m.ready = true;
                   for (; !m.waiting.empty(); m.waiting.pop_front()) m.rank(m.waiting.front());
                   co_await m.matches.start();
                   ember::log::info("lobby: boards and matchmaking pools read; matching");
                 }
                 co_await m.matches.run();
               }(*modules_, std::move(keep)),
               "lobby: boards and matchmaking");
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
