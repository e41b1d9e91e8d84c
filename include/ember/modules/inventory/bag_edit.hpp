// ember's inventory module: the rules of one player's bag, applied to its rows — stacking,
// free slots, expiry, locks — with every change noted for the operation's log. The same code
// runs twice per operation: once on copies before locking (to learn which rows it touches and
// how many new stacks it makes) and once on the locked rows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string_view>
#include <utility>
#include <vector>

#include "ember/app/game_data.hpp"
#include "ember/separate_compilation.hpp"
#include "ember/modules/inventory/detail/ember_inventory.hpp"

namespace ember::modules::inventory {

/// The item types of the game data (a JSON array of `ember_inventory::item_type`), by id.
using item_types = app::data_table<ember_inventory::item_type, &ember_inventory::item_type::id>;

namespace detail {

using item_row = ember_inventory::inventory_item;
using ember_inventory::change_kind;

/// One player's bag during an operation: its rows (owner == player), rows reserved for new
/// stacks, and the log of what changed.
class bag_edit {
 public:
  bag_edit(std::uint64_t player, std::uint32_t capacity, std::int64_t now_ms, const item_types& types,
           std::vector<item_row*> rows, std::vector<item_row*> reserved, bool dry,
           std::vector<ember_inventory::item_change>& log)
      : player_(player), capacity_(capacity), now_(now_ms), types_(types), rows_(std::move(rows)),
        reserved_(std::move(reserved)), dry_(dry), log_(log) {}

  std::uint64_t player() const noexcept { return player_; }
  std::int64_t owner() const noexcept { return static_cast<std::int64_t>(player_); }
  std::uint32_t capacity() const noexcept { return capacity_; }
  /// Reserved rows taken for new stacks.
  std::size_t created() const noexcept { return created_; }
  /// The rows that stay in this bag (to list in the bag row).
  std::vector<std::int64_t> ids() const;

  bool expired(const item_row& r) const noexcept { return r.expires_at_ms != 0 && r.expires_at_ms <= now_; }
  bool live(const item_row& r) const noexcept { return r.owner == owner() && r.count > 0 && !expired(r); }

  /// The live items, by slot.
  std::vector<item_row*> items() const;

  /// Live item `id`, or `item_not_found`.
  item_row& find(std::int64_t id) const;
  /// The live item in `slot`, or null.
  item_row* at(std::int32_t slot) const;
  /// The lowest free slot, or -1.
  std::int32_t free_slot() const;
  /// How many of `type` stack in one slot (`unknown_item_type` if the game data lacks it).
  std::int32_t stack_limit(std::string_view type) const;
  static bool same_kind(const item_row& a, const item_row& b) {
    return a.type == b.type && a.bound == b.bound && a.expires_at_ms == b.expires_at_ms;
  }

  /// A new stack in `slot` (a reserved row becomes it).
  item_row& create(const item_row& like, std::int32_t count, std::int32_t slot, change_kind why);
  /// `r` leaves the game (its row is deleted once the operation is stored).
  void remove(item_row& r, change_kind why);
  /// `r` (of another bag) comes into this one, in a free slot.
  void adopt(item_row& r, change_kind why);
  /// Removes what has expired (lazily: on the bag's next change).
  void drop_expired();
  void note(const item_row& r, change_kind why, std::int32_t delta);

 private:
  std::uint64_t player_;
  std::uint32_t capacity_;
  std::int64_t now_;
  const item_types& types_;
  std::vector<item_row*> rows_;
  std::vector<item_row*> reserved_;
  bool dry_;
  std::vector<ember_inventory::item_change>& log_;
  std::deque<item_row> scratch_;  // the dry run's new stacks
  std::size_t created_ = 0;
};

}  // namespace detail
}  // namespace ember::modules::inventory

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/modules/inventory/impl/bag_edit.hpp"
#endif
