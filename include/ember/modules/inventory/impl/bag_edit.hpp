// ember: bodies of the inventory's bag rules (included by ember/modules/inventory/bag_edit.hpp,
// or compiled once into libember-inventory with EMBER_SEPARATE_COMPILATION).
#pragma once

#include "ember/modules/inventory/bag_edit.hpp"

#include <algorithm>
#include <charconv>
#include <string>

#include "ember/data/transaction.hpp"

namespace ember::modules::inventory::detail {

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

EMBER_DECL std::vector<std::int64_t> bag_edit::ids() const {
  std::vector<std::int64_t> out;
  for (auto* r : rows_)
    if (r->owner == owner()) out.push_back(r->id);
  return out;
}

EMBER_DECL std::vector<item_row*> bag_edit::items() const {
  std::vector<item_row*> out;
  for (auto* r : rows_)
    if (live(*r)) out.push_back(r);
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->slot != b->slot ? a->slot < b->slot : a->id < b->id; });
  return out;
}

EMBER_DECL item_row& bag_edit::find(std::int64_t id) const {
  for (auto* r : rows_)
    if (r->id == id && live(*r)) return *r;
  ember_inventory::fail(ember_inventory::error::item_not_found);
}

EMBER_DECL item_row* bag_edit::at(std::int32_t slot) const {
  for (auto* r : rows_)
    if (live(*r) && r->slot == slot) return r;
  return nullptr;
}

EMBER_DECL std::int32_t bag_edit::free_slot() const {
  std::vector<bool> used(capacity_);
  for (auto* r : items())
    if (r->slot >= 0 && static_cast<std::uint32_t>(r->slot) < capacity_) used[static_cast<std::size_t>(r->slot)] = true;
  for (std::uint32_t s = 0; s < capacity_; ++s)
    if (!used[s]) return static_cast<std::int32_t>(s);
  return -1;
}

EMBER_DECL std::int32_t bag_edit::stack_limit(std::string_view type) const {
  const auto* t = types_.find(std::string(type));
  if (!t) ember_inventory::fail(ember_inventory::error::unknown_item_type);
  return static_cast<std::int32_t>(std::clamp<std::uint32_t>(t->stack_limit, 1, 1'000'000'000));
}

EMBER_DECL item_row& bag_edit::create(const item_row& like, std::int32_t count, std::int32_t slot, change_kind why) {
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

EMBER_DECL void bag_edit::remove(item_row& r, change_kind why) {
  const auto left = r.count;
  r.count = 0;
  r.owner = 0;
  note(r, why, -left);
}

EMBER_DECL void bag_edit::adopt(item_row& r, change_kind why) {
  const auto slot = free_slot();
  if (slot < 0) ember_inventory::fail(ember_inventory::error::inventory_full);
  r.owner = owner();
  r.slot = slot;
  r.locked = false;
  rows_.push_back(&r);
  note(r, why, r.count);
}

EMBER_DECL void bag_edit::drop_expired() {
  for (auto* r : rows_)
    if (r->owner == owner() && r->count > 0 && expired(*r)) remove(*r, change_kind::expired);
}

EMBER_DECL void bag_edit::note(const item_row& r, change_kind why, std::int32_t delta) {
  log_.emplace_back(player_, r.id, r.type, why, delta, static_cast<std::uint32_t>(std::max(r.count, 0)),
                    static_cast<std::uint32_t>(std::max(r.slot, 0)));
}

}  // namespace ember::modules::inventory::detail
