// The cluster example's logic as a module for ember-server: `ember-server config.json game1`
// loads it (the config's "app"), and loads a new build of it on SIGHUP while players stay
// connected. The players of a game survive a reload as a schema struct handed from one build
// to the next through the host (a build that takes another type is refused).
#include "ember/app/module.hpp"
#include "world_logic.hpp"

namespace {

using namespace world_example;

class world_module final : public ember::app::module {
 public:
  explicit world_module(ember::app::host& h) : host_(h), game_(h), lobby_(h), net_(h), gate_(h) {
    if (auto kept = h.take_over<world::kept_players>(players_key)) game_.load_state(*kept);
    if (h.self().type == "game") {
      // A build starts with good data or not at all (the old build serves on).
      if (auto why = game_.reload_data(); !why.empty()) throw std::runtime_error(why);
    }
  }
  std::string reload_data() override { return game_.reload_data(); }

  void register_commands(ember::net::dispatch_table& t) override {
    const auto& type = host_.self().type;
    if (type == "game") game_.register_commands(t);
    if (type == "net") world::register_commands(t, net_);
    if (type == "gate") world::register_commands(t, gate_);
    if (type == "lobby") lobby_.register_commands(t);
  }
  std::span<const ember::command_info> commands() const override { return world::command_list; }
  void session_closed(ember::net::session& s) override {
    game_.session_closed(s, keep_loaded());
    lobby_.session_closed(s, keep_loaded());
  }
  asio::awaitable<void> release_player(std::uint64_t user) override {
    if (host_.self().type == "lobby") return lobby_.release(user);  // a board's or a pool's key
    return game_.release_player(user);
  }
  void started() override {
    if (host_.self().type == "net") net_.route_to_owners();
    lobby_.started(keep_loaded());
  }
  void stopping() override {
    lobby_.stopping();
    host_.hand_over(players_key, game_.save_state());
  }

 private:
  static constexpr const char* players_key = "world.players";
  ember::app::host& host_;
  game_logic game_;
  lobby_logic lobby_;
  net_logic net_;
  gate_logic gate_;
};

}  // namespace

EMBER_MODULE(world_module, world::schema_hash)
