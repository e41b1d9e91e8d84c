// ember's inventory module (docs/modules/inventory.md): item instances with ids in a bag of
// slots; stacking up to each item type's limit (game data); a capacity checked before anything
// is added; split, merge, move, sort, discard; locked, bound and expiring items; every change
// logged under its operation id, so that a retried operation applies once.
//
//   ember::app::data_slot<ember::modules::inventory::item_types> types{"data/item_types.json"};
//   types.reload();
//   ember::modules::inventory::service inventory(store, bus, players, types, options);
//   ember::modules::inventory::handler commands(inventory);
//   ember_inventory::register_commands(table, commands);
//   co_await inventory.grant("quest:42:7", player, {ember_inventory::grant_item{"potion", 3}});
//
// Another module (mail) adds a grant to its own transaction with `stage_grant`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "ember/codec/codec.hpp"
#include "ember/data/transaction.hpp"
#include "ember/modules/events.hpp"
#include "ember/modules/inventory/bag_edit.hpp"
#include "ember/modules/inventory/detail/ember_inventory_server.hpp"
#include "ember/modules/players.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::app {
class module_options;  // ember/app/module_options.hpp
}

namespace ember::modules::inventory {

/// The inventory's limits (config.json's `modules.inventory`).
struct options {
  std::uint32_t slots = 50;             ///< a bag's slots, before a player's extra ones
  std::uint32_t max_slots = 500;        ///< slots + extra slots, at most
  std::size_t max_entries = 32;         ///< entries of one grant, consume or transfer
  std::uint32_t max_count = 1'000'000;  ///< the count of one entry
  std::size_t max_op_id = 96;           ///< code points of an operation id the service is given
  std::size_t max_client_op_id = 64;    ///< of one a client sends (the handler prefixes its player)

  /// From config.json's `modules.inventory` (the same names).
  static options read(app::module_options& o);
};

/// The changes of one or two bags (a transfer), run on each bag's rows.
using plan_fn = std::function<void(std::vector<detail::bag_edit*>& bags)>;

/// The typed interface of the inventory: what the game and other modules call. Every change
/// takes an operation id: a retry with the same id changes nothing and returns the first
/// result (`applied` false). A refused operation changes nothing and is not recorded.
class service {
 public:
  /// Makes the inventory's tables on `store` (before `store.open()`); item types come from
  /// `types` (reloadable game data; each operation uses one snapshot).
  service(data::store& store, event_bus& bus, players& to_players, const app::data_slot<item_types>& types,
          options o = {})
      : store_(store), bus_(bus), players_(to_players), types_(types), options_(std::move(o)),
        bags_(store), items_(store), ops_(store) {}

  const options& config() const noexcept { return options_; }

  /// Adds `items` to `player`'s bag: onto stacks of the same type (and bound flag and expiry)
  /// up to the type's stack limit, then into free slots. All or nothing: `inventory_full`,
  /// `unknown_item_type`, `bad_count`, `too_many`.
  asio::awaitable<ember_inventory::op_result> grant(std::string op, std::uint64_t player,
                                                    std::vector<ember_inventory::grant_item> items);
  /// `grant` inside another module's transaction (`tx`, run with `data::transact_retrying`);
  /// `out` is set when it runs.
  asio::awaitable<void> stage_grant(data::change_set& tx, const std::string& op, std::uint64_t player,
                                    std::vector<ember_inventory::grant_item> items,
                                    ember_inventory::op_result& out);

  /// Takes `items` by type from unlocked stacks (soonest expiring first): `not_enough_items`.
  asio::awaitable<ember_inventory::op_result> consume(std::string op, std::uint64_t player,
                                                      std::vector<ember_inventory::take_item> items);
  asio::awaitable<void> stage_consume(data::change_set& tx, const std::string& op, std::uint64_t player,
                                      std::vector<ember_inventory::take_item> items,
                                      ember_inventory::op_result& out);

  /// Gives item instances (or part of a stack) of `from` to `to`, all or nothing. Bound items
  /// are refused (`item_bound`), and locked ones (`item_locked`). A whole instance keeps its id.
  asio::awaitable<ember_inventory::op_result> transfer(std::string op, std::uint64_t from, std::uint64_t to,
                                                       std::vector<ember_inventory::move_item> items);

  /// Moves `count` of an item into a new stack in the first free slot.
  asio::awaitable<ember_inventory::op_result> split(std::string op, std::uint64_t player, std::int64_t item,
                                                    std::uint32_t count);

  /// Moves as much of `from` onto `into` as its stack limit allows (same type, bound flag and
  /// expiry: else `cannot_merge`); `from` is gone when all of it moved.
  asio::awaitable<ember_inventory::op_result> merge(std::string op, std::uint64_t player, std::int64_t from,
                                                    std::int64_t into);

  /// Puts an item in `slot`; the item there (if any) takes the item's old slot.
  asio::awaitable<ember_inventory::op_result> move(std::string op, std::uint64_t player, std::int64_t item,
                                                   std::uint32_t slot);

  /// Orders the bag by type (then bound, expiry, fuller stacks first) from slot 0; locked items
  /// keep their slots.
  asio::awaitable<ember_inventory::op_result> sort(std::string op, std::uint64_t player);

  /// Destroys `count` of an item (0: all of it).
  asio::awaitable<ember_inventory::op_result> discard(std::string op, std::uint64_t player, std::int64_t item,
                                                      std::uint32_t count);

  /// Locks or unlocks an item: a locked item cannot be moved, consumed, split, merged,
  /// discarded or traded.
  asio::awaitable<ember_inventory::op_result> set_locked(std::string op, std::uint64_t player,
                                                         std::int64_t item, bool locked);

  /// Sets `player`'s slots beyond the options' (idempotent: a value, not an increment);
  /// `too_many` past `max_slots`. Fewer slots than items hold keep the items (nothing is
  /// added until there is room again).
  asio::awaitable<void> set_extra_slots(std::uint64_t player, std::uint32_t extra);

  /// `player`'s live items by slot (expired ones are gone) and capacity.
  asio::awaitable<ember_inventory::list_items_reply> list(std::uint64_t player);

  /// The log entry of operation `op`: what it changed, or nullopt if it never applied.
  asio::awaitable<std::optional<ember_inventory::op_result>> log(std::string op);

  /// Adds an operation over the bags of `who` (one or two players) to `tx`: reads them,
  /// runs `plan` on copies to learn which rows it touches and how many new stacks it makes,
  /// reserves rows for those, and adds the rows and a step that runs `plan` on the locked
  /// rows. Run `tx` with `data::transact_retrying`.
  asio::awaitable<void> stage(data::change_set& tx, const std::string& op, std::vector<std::uint64_t> who,
                              plan_fn plan, ember_inventory::op_result& out);

 private:
  // Rows of items gone; one left behind is removed by a later change of its bag.
  asio::awaitable<void> remove_rows(std::vector<std::int64_t> gone);
  static std::int64_t key(std::uint64_t player) { return static_cast<std::int64_t>(player); }
  // Not braced lists: g++ 12 miscompiles an initializer_list inside a co_await expression.
  static std::vector<std::uint64_t> bags_of(std::uint64_t a) { return std::vector<std::uint64_t>(1, a); }
  static std::vector<std::uint64_t> bags_of(std::uint64_t a, std::uint64_t b) {
    std::vector<std::uint64_t> v(1, a);
    v.push_back(b);
    return v;
  }
  std::uint32_t capacity(std::int32_t extra) const;

  asio::awaitable<ember_inventory::op_result> run(std::string op, std::vector<std::uint64_t> who,
                                                  plan_fn plan);

  /// `n` rows reserved for `player`'s new stacks: those its bag lists, and new ones.
  asio::awaitable<std::vector<std::int64_t>> reserve(std::uint64_t player, std::size_t n);

  plan_fn grant_plan(std::vector<ember_inventory::grant_item> items) const;
  plan_fn consume_plan(std::vector<ember_inventory::take_item> items) const;

  data::store& store_;
  event_bus& bus_;
  players& players_;
  const app::data_slot<item_types>& types_;
  options options_;
  data::table<ember_inventory::inventory_bag_table> bags_;
  data::table<ember_inventory::inventory_item_table> items_;
  data::table<ember_inventory::inventory_op_table> ops_;
};

/// The inventory's client commands on the signed-in player's own bag. A client never grants
/// itself anything: grants come from the game and other modules, through the service. A
/// client's operation ids are its own: the handler keeps them apart from other players'.
class handler final : public ember_inventory::inventory_handler {
 public:
  explicit handler(service& s) : service_(s) {}

  asio::awaitable<ember_inventory::list_items_reply> list_items(net::session& s,
                                                                const ember_inventory::list_items_request&) override;
  asio::awaitable<ember_inventory::split_reply> split(net::session& s,
                                                      const ember_inventory::split_request& r) override;
  asio::awaitable<ember_inventory::merge_reply> merge(net::session& s,
                                                      const ember_inventory::merge_request& r) override;
  asio::awaitable<ember_inventory::move_reply> move(net::session& s,
                                                    const ember_inventory::move_request& r) override;
  asio::awaitable<ember_inventory::sort_reply> sort(net::session& s,
                                                    const ember_inventory::sort_request& r) override;
  asio::awaitable<ember_inventory::discard_reply> discard(net::session& s,
                                                          const ember_inventory::discard_request& r) override;

 private:
  static std::uint64_t signed_in(net::session& s);
  /// The client's op id, checked, in the player's own namespace ("c:PLAYER:OP").
  std::string op_of(std::uint64_t player, const std::string& op) const;

  service& service_;
};

}  // namespace ember::modules::inventory

#if defined(EMBER_SEPARATE_COMPILATION)
// Registering the module's commands compiles once, in its library (impl/src.hpp), not in
// every file that registers them.
extern template void ember_inventory::register_commands<0>(ember::net::dispatch_table&,
    ember_inventory::inventory_handler&);
#else
#include "ember/modules/inventory/impl/inventory.hpp"
#endif
