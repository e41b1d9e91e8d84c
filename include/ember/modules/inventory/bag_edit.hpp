// ember's inventory module: the rules of one player's bag, applied to its rows — stacking,
// free slots, expiry, locks — with every change noted for the operation's log. The same code
// runs twice per operation: once on copies before locking (to learn which rows it touches and
// how many new stacks it makes) and once on the locked rows.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "ember/app/game_data.hpp"
#include "ember/data/transaction.hpp"
#include "ember/modules/inventory/detail/ember_inventory.hpp"

namespace ember::modules::inventory {

/// The item types of the game data (a JSON array of `ember_inventory::item_type`), by id.
using item_types = app::data_table<ember_inventory::item_type, &ember_inventory::item_type::id>;

namespace detail {

using item_row = ember_inventory::inventory_item;
using ember_inventory::change_kind;

/// "1,2,3" <-> ids (the bag's lists).
inline std::vector<std::int64_t> parse_ids(std::string_view s) {
  std::vector<std::int64_t> out;
  while (!s.empty()) {
    const auto comma = s.find(',');
    const auto part = s.substr(0, comma);
    std::int64_t v = 0;
    std::from_chars(part.data(), part.data() + part.size(), v);
    out.push_back(v);
    s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
  }
  return out;
}
inline std::string join_ids(const std::vector<std::int64_t>& ids) {
  std::string out;
  for (auto id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
  return out;
}

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
  std::vector<std::int64_t> ids() const {
    std::vector<std::int64_t> out;
    for (auto* r : rows_)
      if (r->owner == owner()) out.push_back(r->id);
    return out;
  }

  bool expired(const item_row& r) const noexcept { return r.expires_at_ms != 0 && r.expires_at_ms <= now_; }
  bool live(const item_row& r) const noexcept { return r.owner == owner() && r.count > 0 && !expired(r); }

  /// The live items, by slot.
  std::vector<item_row*> items() const {
    std::vector<item_row*> out;
    for (auto* r : rows_)
      if (live(*r)) out.push_back(r);
    std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->slot != b->slot ? a->slot < b->slot : a->id < b->id; });
    return out;
  }

  /// Live item `id`, or `item_not_found`.
  item_row& find(std::int64_t id) const {
    for (auto* r : rows_)
      if (r->id == id && live(*r)) return *r;
    ember_inventory::fail(ember_inventory::error::item_not_found);
  }
  /// The live item in `slot`, or null.
  item_row* at(std::int32_t slot) const {
    for (auto* r : rows_)
      if (live(*r) && r->slot == slot) return r;
    return nullptr;
  }
  /// The lowest free slot, or -1.
  std::int32_t free_slot() const {
    std::vector<bool> used(capacity_);
    for (auto* r : items())
      if (r->slot >= 0 && static_cast<std::uint32_t>(r->slot) < capacity_) used[static_cast<std::size_t>(r->slot)] = true;
    for (std::uint32_t s = 0; s < capacity_; ++s)
      if (!used[s]) return static_cast<std::int32_t>(s);
    return -1;
  }
  /// How many of `type` stack in one slot (`unknown_item_type` if the game data lacks it).
  std::int32_t stack_limit(std::string_view type) const {
    const auto* t = types_.find(std::string(type));
    if (!t) ember_inventory::fail(ember_inventory::error::unknown_item_type);
    return static_cast<std::int32_t>(std::clamp<std::uint32_t>(t->stack_limit, 1, 1'000'000'000));
  }
  static bool same_kind(const item_row& a, const item_row& b) {
    return a.type == b.type && a.bound == b.bound && a.expires_at_ms == b.expires_at_ms;
  }

  /// A new stack in `slot` (a reserved row becomes it).
  item_row& create(const item_row& like, std::int32_t count, std::int32_t slot, change_kind why) {
    item_row* r = nullptr;
    if (dry_) {
      r = &scratch_.emplace_back();
      r->id = -1 - static_cast<std::int64_t>(created_);
    } else {
      if (created_ >= reserved_.size()) throw data::stale_read();  // the dry run needed fewer
      r = reserved_[created_];
    }
    ++created_;
    const auto id = r->id;
    *r = like;
    r->id = id;
    r->owner = owner();
    r->count = count;
    r->slot = slot;
    r->locked = false;
    rows_.push_back(r);
    note(*r, why, count);
    return *r;
  }
  /// `r` leaves the game (its row is deleted once the operation is stored).
  void remove(item_row& r, change_kind why) {
    const auto left = r.count;
    r.count = 0;
    r.owner = 0;
    note(r, why, -left);
  }
  /// `r` (of another bag) comes into this one, in a free slot.
  void adopt(item_row& r, change_kind why) {
    const auto slot = free_slot();
    if (slot < 0) ember_inventory::fail(ember_inventory::error::inventory_full);
    r.owner = owner();
    r.slot = slot;
    r.locked = false;
    rows_.push_back(&r);
    note(r, why, r.count);
  }
  /// Removes what has expired (lazily: on the bag's next change).
  void drop_expired() {
    for (auto* r : rows_)
      if (r->owner == owner() && r->count > 0 && expired(*r)) remove(*r, change_kind::expired);
  }
  void note(const item_row& r, change_kind why, std::int32_t delta) {
    log_.emplace_back(player_, r.id, r.type, why, delta, static_cast<std::uint32_t>(std::max(r.count, 0)),
                      static_cast<std::uint32_t>(std::max(r.slot, 0)));
  }

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
