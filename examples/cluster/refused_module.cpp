// Builds that ember-server must refuse, for the reload test: one made for another schema
// (-DREFUSED_SCHEMA), one whose initialisation throws (-DREFUSED_THROWS), one that takes the
// players the running build hands over as another type (-DREFUSED_TAKES_OTHER). They leave
// the world logic out, so they cost a fraction of its compile time.
#include <stdexcept>

#include "ember/app/module.hpp"
#include "world.hpp"

namespace {

class refused_module final : public ember::app::module {
 public:
  explicit refused_module([[maybe_unused]] ember::app::host& h) {
#ifdef REFUSED_THROWS
    throw std::runtime_error("this build refuses to start (reload test)");
#endif
#ifdef REFUSED_TAKES_OTHER
    (void)h.take_over<world::server_count>("world.players");  // world_module hands kept_players
#endif
  }
  void register_commands(ember::net::dispatch_table&) override {}
  std::span<const ember::command_info> commands() const override { return world::command_list; }
};

}  // namespace

#ifdef REFUSED_SCHEMA
EMBER_MODULE(refused_module, 0x1234)
#else
EMBER_MODULE(refused_module, world::schema_hash)
#endif
