// ember: bodies of the inventory module (included by ember/modules/inventory/inventory.hpp, or
// compiled once into libember-inventory with EMBER_SEPARATE_COMPILATION).
#pragma once

#include "ember/modules/inventory/inventory.hpp"

#include <algorithm>
#include <memory>
#include <tuple>

#include <asio/this_coro.hpp>

#include "ember/app/module_options.hpp"
#include "ember/log.hpp"
#include "ember/spawn.hpp"
#include "ember/modules/detail/rows.hpp"
#include "ember/modules/inventory/impl/bag_edit.hpp"
#include "ember/modules/text.hpp"

namespace ember::modules::inventory {

namespace detail {

inline ember_inventory::item to_item(const item_row& r) {
  return {r.id, r.type, static_cast<std::uint32_t>(r.count), static_cast<std::uint32_t>(r.slot), r.locked, r.bound, r.expires_at_ms};
}

}  // namespace detail

EMBER_DECL options options::read(app::module_options& o) {
  options out;
  out.slots = o.count("slots", out.slots, 1, 100'000);
  out.max_slots = o.count("max_slots", out.max_slots, out.slots, 1'000'000);
  out.max_entries = o.count("max_entries", static_cast<std::uint32_t>(out.max_entries), 1, 10'000);
  out.max_count = o.count("max_count", out.max_count, 1, 1'000'000'000);
  out.max_op_id = o.count("max_op_id", static_cast<std::uint32_t>(out.max_op_id), 8, 1024);
  out.max_client_op_id = o.count("max_client_op_id", static_cast<std::uint32_t>(out.max_client_op_id), 8, 1024);
  o.done();
  return out;
}

EMBER_DECL asio::awaitable<ember_inventory::op_result> service::grant(
    std::string op, std::uint64_t player, std::vector<ember_inventory::grant_item> items) {
  co_return co_await run(std::move(op), bags_of(player), grant_plan(std::move(items)));
}

EMBER_DECL asio::awaitable<void> service::stage_grant(
    data::change_set& tx, const std::string& op, std::uint64_t player,
    std::vector<ember_inventory::grant_item> items, ember_inventory::op_result& out) {
  co_await stage(tx, op, bags_of(player), grant_plan(std::move(items)), out);
}

EMBER_DECL asio::awaitable<ember_inventory::op_result> service::consume(
    std::string op, std::uint64_t player, std::vector<ember_inventory::take_item> items) {
  co_return co_await run(std::move(op), bags_of(player), consume_plan(std::move(items)));
}

EMBER_DECL asio::awaitable<void> service::stage_consume(
    data::change_set& tx, const std::string& op, std::uint64_t player,
    std::vector<ember_inventory::take_item> items, ember_inventory::op_result& out) {
  co_await stage(tx, op, bags_of(player), consume_plan(std::move(items)), out);
}

EMBER_DECL asio::awaitable<ember_inventory::op_result> service::transfer(
    std::string op, std::uint64_t from, std::uint64_t to, std::vector<ember_inventory::move_item> items) {
  if (from == to) ember_inventory::fail(ember_inventory::error::bad_transfer);
  if (items.empty() || items.size() > options_.max_entries) ember_inventory::fail(ember_inventory::error::too_many);
  plan_fn plan = [items = std::move(items)](std::vector<detail::bag_edit*>& b) {
    auto& src = *b[0];
    auto& dst = *b[1];
    for (const auto& m : items) {
      auto& it = src.find(m.item);
      if (it.locked) ember_inventory::fail(ember_inventory::error::item_locked);
      if (it.bound) ember_inventory::fail(ember_inventory::error::item_bound);
      const auto n = m.count == 0 ? it.count : static_cast<std::int32_t>(std::min<std::uint32_t>(m.count, INT32_MAX));
      if (n > it.count) ember_inventory::fail(ember_inventory::error::bad_count);
      if (n == it.count) {
        src.note(it, detail::change_kind::transferred_out, -n);
        dst.adopt(it, detail::change_kind::transferred_in);
      } else {
        const auto slot = dst.free_slot();
        if (slot < 0) ember_inventory::fail(ember_inventory::error::inventory_full);
        it.count -= n;
        src.note(it, detail::change_kind::transferred_out, -n);
        dst.create(it, n, slot, detail::change_kind::transferred_in);
      }
    }
  };
  ember_inventory::op_result out;
  co_await data::transact_retrying(store_, [&](data::change_set& tx) -> asio::awaitable<void> {
    co_await stage(tx, op, bags_of(from, to), plan, out);
    tx.on_commit([this, &out, op, from, to] {
      if (!out.applied) return;
      for (const auto& c : out.changes)
        if (c.kind == detail::change_kind::transferred_out)
          bus_.publish(ember_inventory::item_transferred(from, to, c.type, static_cast<std::uint32_t>(-c.delta), op));
    });
  });
  co_return out;
}

EMBER_DECL asio::awaitable<ember_inventory::op_result> service::split(
    std::string op, std::uint64_t player, std::int64_t item, std::uint32_t count) {
  co_return co_await run(std::move(op), bags_of(player), [item, count](std::vector<detail::bag_edit*>& b) {
    auto& bag = *b[0];
    auto& it = bag.find(item);
    if (it.locked) ember_inventory::fail(ember_inventory::error::item_locked);
    if (count == 0 || count >= static_cast<std::uint32_t>(it.count)) ember_inventory::fail(ember_inventory::error::bad_count);
    const auto slot = bag.free_slot();
    if (slot < 0) ember_inventory::fail(ember_inventory::error::inventory_full);
    const auto n = static_cast<std::int32_t>(count);
    it.count -= n;
    bag.note(it, detail::change_kind::split, -n);
    bag.create(it, n, slot, detail::change_kind::split);
  });
}

EMBER_DECL asio::awaitable<ember_inventory::op_result> service::merge(
    std::string op, std::uint64_t player, std::int64_t from, std::int64_t into) {
  co_return co_await run(std::move(op), bags_of(player), [from, into](std::vector<detail::bag_edit*>& b) {
    auto& bag = *b[0];
    auto& f = bag.find(from);
    auto& i = bag.find(into);
    if (f.locked || i.locked) ember_inventory::fail(ember_inventory::error::item_locked);
    if (&f == &i || !detail::bag_edit::same_kind(f, i)) ember_inventory::fail(ember_inventory::error::cannot_merge);
    const auto room = bag.stack_limit(i.type) - i.count;
    if (room <= 0) ember_inventory::fail(ember_inventory::error::cannot_merge);
    const auto n = std::min(room, f.count);
    i.count += n;
    f.count -= n;
    bag.note(i, detail::change_kind::merged, n);
    if (f.count == 0) bag.remove(f, detail::change_kind::merged);
    else bag.note(f, detail::change_kind::merged, -n);
  });
}

EMBER_DECL asio::awaitable<ember_inventory::op_result> service::move(
    std::string op, std::uint64_t player, std::int64_t item, std::uint32_t slot) {
  co_return co_await run(std::move(op), bags_of(player), [item, slot](std::vector<detail::bag_edit*>& b) {
    auto& bag = *b[0];
    auto& it = bag.find(item);
    if (slot >= bag.capacity()) ember_inventory::fail(ember_inventory::error::bad_slot);
    if (it.locked) ember_inventory::fail(ember_inventory::error::item_locked);
    const auto to = static_cast<std::int32_t>(slot);
    if (it.slot == to) return;
    if (auto* other = bag.at(to)) {
      if (other->locked) ember_inventory::fail(ember_inventory::error::item_locked);
      other->slot = it.slot;
      bag.note(*other, detail::change_kind::moved, 0);
    }
    it.slot = to;
    bag.note(it, detail::change_kind::moved, 0);
  });
}

EMBER_DECL asio::awaitable<ember_inventory::op_result> service::sort(std::string op, std::uint64_t player) {
  co_return co_await run(std::move(op), bags_of(player), [](std::vector<detail::bag_edit*>& b) {
    auto& bag = *b[0];
    auto all = bag.items();
    std::vector<bool> pinned(bag.capacity());
    std::vector<detail::item_row*> loose;
    for (auto* r : all) {
      if (r->locked && r->slot >= 0 && static_cast<std::uint32_t>(r->slot) < bag.capacity())
        pinned[static_cast<std::size_t>(r->slot)] = true;
      else
        loose.push_back(r);
    }
    std::sort(loose.begin(), loose.end(), [](auto* x, auto* y) {
      return std::tie(x->type, x->bound, x->expires_at_ms, y->count, x->id) <
             std::tie(y->type, y->bound, y->expires_at_ms, x->count, y->id);
    });
    std::int32_t slot = 0;
    for (auto* r : loose) {
      while (static_cast<std::uint32_t>(slot) < bag.capacity() && pinned[static_cast<std::size_t>(slot)]) ++slot;
      if (r->slot != slot) {
        r->slot = slot;
        bag.note(*r, detail::change_kind::moved, 0);
      }
      ++slot;
    }
  });
}

EMBER_DECL asio::awaitable<ember_inventory::op_result> service::discard(
    std::string op, std::uint64_t player, std::int64_t item, std::uint32_t count) {
  co_return co_await run(std::move(op), bags_of(player), [item, count](std::vector<detail::bag_edit*>& b) {
    auto& bag = *b[0];
    auto& it = bag.find(item);
    if (it.locked) ember_inventory::fail(ember_inventory::error::item_locked);
    if (count > static_cast<std::uint32_t>(it.count)) ember_inventory::fail(ember_inventory::error::bad_count);
    const auto n = count == 0 ? it.count : static_cast<std::int32_t>(count);
    if (n == it.count) {
      bag.remove(it, detail::change_kind::discarded);
    } else {
      it.count -= n;
      bag.note(it, detail::change_kind::discarded, -n);
    }
  });
}

EMBER_DECL asio::awaitable<ember_inventory::op_result> service::set_locked(
    std::string op, std::uint64_t player, std::int64_t item, bool locked) {
  co_return co_await run(std::move(op), bags_of(player), [item, locked](std::vector<detail::bag_edit*>& b) {
    auto& it = b[0]->find(item);
    it.locked = locked;
    b[0]->note(it, locked ? detail::change_kind::locked : detail::change_kind::unlocked, 0);
  });
}

EMBER_DECL asio::awaitable<void> service::set_extra_slots(std::uint64_t player, std::uint32_t extra) {
  if (std::uint64_t{options_.slots} + extra > options_.max_slots) ember_inventory::fail(ember_inventory::error::too_many);
  co_await modules::detail::insert_if_absent(bags_, ember_inventory::inventory_bag(key(player), 0));
  co_await bags_.update(key(player), [extra](ember_inventory::inventory_bag& b) {
    b.extra_slots = static_cast<std::int32_t>(extra);
    ++b.revision;  // a change built on the old capacity is built again
  });
}

EMBER_DECL asio::awaitable<ember_inventory::list_items_reply> service::list(std::uint64_t player) {
  ember_inventory::list_items_reply out;
  const auto bag = co_await bags_.get(key(player));
  out.capacity = capacity(bag ? bag->extra_slots : 0);
  if (!bag) co_return out;
  const auto now = static_cast<std::int64_t>(data::unix_ms());
  for (auto& r : co_await items_.get_many(detail::parse_ids(bag->items)))
    if (r && r->owner == key(player) && r->count > 0 && !(r->expires_at_ms != 0 && r->expires_at_ms <= now))
      out.items.push_back(detail::to_item(*r));
  std::sort(out.items.begin(), out.items.end(), [](auto& a, auto& b) { return a.slot < b.slot; });
  co_return out;
}

EMBER_DECL asio::awaitable<std::optional<ember_inventory::op_result>> service::log(std::string op) {
  auto row = co_await ops_.get(op);
  if (!row || !row->applied) co_return std::nullopt;
  co_return modules::detail::from_bytes<ember_inventory::op_result>(row->result, "inventory: a stored operation result");
}

EMBER_DECL asio::awaitable<void> service::stage(
    data::change_set& tx, const std::string& op, std::vector<std::uint64_t> who, plan_fn plan,
    ember_inventory::op_result& out) {
  if (check_text(op, options_.max_op_id) != text_problem::none) ember_inventory::fail(ember_inventory::error::bad_text);
  co_await modules::detail::insert_if_absent(ops_, ember_inventory::inventory_op(op, false));
  if (auto done = co_await ops_.get(op); done && done->applied) {
    out = modules::detail::from_bytes<ember_inventory::op_result>(done->result, "inventory: a stored operation result");
    out.applied = false;
    co_return;
  }
  struct bag_state {
    std::uint64_t player;
    std::int64_t revision;
    std::uint32_t capacity;
    std::vector<detail::item_row> rows;  // as read
    std::vector<bool> touched;
    std::vector<data::tx_handle<ember_inventory::inventory_item_table>> handles;  // per row (touched ones)
    std::vector<data::tx_handle<ember_inventory::inventory_item_table>> reserved;
    data::tx_handle<ember_inventory::inventory_bag_table> bag;
  };
  struct state {
    std::shared_ptr<const item_types> types;
    std::int64_t now;
    std::vector<bag_state> bags;
    std::string op;
    plan_fn plan;
    bool applied = false;
    std::vector<std::int64_t> gone;
  };
  auto st = std::make_shared<state>();
  st->types = types_.current();
  st->now = static_cast<std::int64_t>(data::unix_ms());
  st->op = op;
  st->plan = std::move(plan);
  for (auto p : who) {
    co_await modules::detail::insert_if_absent(bags_, ember_inventory::inventory_bag(key(p), 0));
    const auto bag = co_await bags_.get(key(p));
    bag_state b{p, bag->revision, capacity(bag->extra_slots), {}, {}, {}, {}, tx.row(bags_, key(p))};
    for (auto& r : co_await items_.get_many(detail::parse_ids(bag->items)))
      if (r && r->owner == key(p)) b.rows.push_back(std::move(*r));
    st->bags.push_back(std::move(b));
  }
  // The dry run, on copies: which rows change, how many new stacks. A refusal here is
  // decided again on the locked rows.
  std::vector<std::size_t> needed;
  {
    std::vector<std::vector<detail::item_row>> copies;
    for (auto& b : st->bags) copies.push_back(b.rows);
    std::vector<ember_inventory::item_change> log;
    std::vector<std::unique_ptr<detail::bag_edit>> edits;
    std::vector<detail::bag_edit*> ptrs;
    for (std::size_t i = 0; i < st->bags.size(); ++i) {
      std::vector<detail::item_row*> rows;
      for (auto& r : copies[i]) rows.push_back(&r);
      edits.push_back(std::make_unique<detail::bag_edit>(st->bags[i].player, st->bags[i].capacity, st->now, *st->types,
                                                         std::move(rows), std::vector<detail::item_row*>{}, true, log));
      ptrs.push_back(edits.back().get());
    }
    try {
      for (auto* e : ptrs) e->drop_expired();
      st->plan(ptrs);
    } catch (const game_error&) {
    }
    for (std::size_t i = 0; i < st->bags.size(); ++i) {
      auto& b = st->bags[i];
      for (std::size_t j = 0; j < b.rows.size(); ++j) b.touched.push_back(!(copies[i][j] == b.rows[j]));
      needed.push_back(edits[i]->created());
    }
  }
  for (std::size_t i = 0; i < st->bags.size(); ++i) {
    auto& b = st->bags[i];
    for (std::size_t j = 0; j < b.rows.size(); ++j)
      b.handles.push_back(b.touched[j] ? tx.row(items_, b.rows[j].id) : data::tx_handle<ember_inventory::inventory_item_table>{});
    for (auto id : co_await reserve(b.player, needed[i])) b.reserved.push_back(tx.row(items_, id));
  }
  auto op_row = tx.row(ops_, op);
  tx.step([st, op_row, &out] {
    if (op_row->applied) {
      out = modules::detail::from_bytes<ember_inventory::op_result>(op_row->result, "inventory: a stored operation result");
      out.applied = false;
      return;
    }
    std::vector<ember_inventory::item_change> log;
    std::vector<std::vector<detail::item_row>> untouched;  // copies of the rows not locked
    std::vector<std::unique_ptr<detail::bag_edit>> edits;
    std::vector<detail::bag_edit*> ptrs;
    for (auto& b : st->bags) {
      if (b.bag->revision != b.revision) throw data::stale_read();
      std::vector<detail::item_row*> reserved;
      for (auto& h : b.reserved) {
        if (h->owner != -static_cast<std::int64_t>(b.player)) throw data::stale_read();
        reserved.push_back(&*h);
      }
      auto& copies = untouched.emplace_back(b.rows);
      std::vector<detail::item_row*> rows;
      for (std::size_t j = 0; j < b.rows.size(); ++j) rows.push_back(b.touched[j] ? &*b.handles[j] : &copies[j]);
      edits.push_back(std::make_unique<detail::bag_edit>(b.player, b.capacity, st->now, *st->types, std::move(rows),
                                                         std::move(reserved), false, log));
      ptrs.push_back(edits.back().get());
    }
    for (auto* e : ptrs) e->drop_expired();
    st->plan(ptrs);
    for (std::size_t i = 0; i < st->bags.size(); ++i) {
      auto& b = st->bags[i];
      for (std::size_t j = 0; j < b.rows.size(); ++j) {
        if (!b.touched[j] && !(untouched[i][j] == b.rows[j])) throw data::stale_read();  // not locked: build again
        if (b.touched[j] && b.handles[j]->owner == 0) st->gone.push_back(b.rows[j].id);
      }
      auto reserved_left = detail::parse_ids(b.bag->reserved);
      for (std::size_t k = 0; k < edits[i]->created(); ++k) std::erase(reserved_left, b.reserved[k]->id);
      b.bag->reserved = detail::join_ids(reserved_left);
      b.bag->items = detail::join_ids(edits[i]->ids());
      ++b.bag->revision;
    }
    ember_inventory::op_result result{true, std::move(log)};
    op_row->applied = true;
    op_row->result = modules::detail::to_bytes(result);
    op_row->at_ms = st->now;
    out = std::move(result);
    st->applied = true;
  });
  auto ex = co_await asio::this_coro::executor;
  tx.on_commit([this, st, &out, ex] {
    if (!st->applied) return;
    for (const auto& c : out.changes) {
      if (c.kind == detail::change_kind::granted)
        bus_.publish(ember_inventory::item_granted(c.player, c.type, static_cast<std::uint32_t>(c.delta), st->op));
      else if (c.kind == detail::change_kind::consumed || c.kind == detail::change_kind::discarded ||
               c.kind == detail::change_kind::expired)
        bus_.publish(ember_inventory::item_consumed(c.player, c.type, static_cast<std::uint32_t>(-c.delta), c.kind, st->op));
    }
    for (const auto& b : st->bags) {
      ember_inventory::items_changed push;
      for (const auto& c : out.changes)
        if (c.player == b.player) push.changes.push_back(c);
      if (!push.changes.empty()) players_.push(b.player, push);
    }
    if (!st->gone.empty())  // rows of items gone: deleted once stored (nothing lists them)
      ember::spawn(ex, remove_rows(st->gone), "inventory: removing the rows of items gone");
  });
}

EMBER_DECL asio::awaitable<void> service::remove_rows(std::vector<std::int64_t> gone) {
  for (auto id : gone) co_await items_.remove(id);
}

EMBER_DECL std::uint32_t service::capacity(std::int32_t extra) const {
  return std::min<std::uint32_t>(options_.max_slots, options_.slots + static_cast<std::uint32_t>(std::max(extra, 0)));
}

EMBER_DECL asio::awaitable<ember_inventory::op_result> service::run(
    std::string op, std::vector<std::uint64_t> who, plan_fn plan) {
  ember_inventory::op_result out;
  co_await data::transact_retrying(store_, [&](data::change_set& tx) -> asio::awaitable<void> {
    co_await stage(tx, op, who, plan, out);
  });
  co_return out;
}

EMBER_DECL asio::awaitable<std::vector<std::int64_t>> service::reserve(std::uint64_t player, std::size_t n) {
  std::vector<std::int64_t> out;
  if (n == 0) co_return out;
  const auto bag = co_await bags_.get(key(player));
  const auto listed = detail::parse_ids(bag->reserved);
  const auto rows = co_await items_.get_many(listed);
  for (std::size_t i = 0; i < listed.size() && out.size() < n; ++i) {
    if (rows[i] && rows[i]->owner == -key(player)) {
      out.push_back(listed[i]);
    } else if (!rows[i]) {
      // Listed by a reservation that failed before its row was stored: the row is made now.
      co_await modules::detail::insert_if_absent_at(items_, detail::item_row(listed[i], -key(player)));
      out.push_back(listed[i]);
    }
  }
  // New rows are listed in the bag first, then stored: a failure between (memcached out of
  // reach) leaves an id that names no row, filled by the next reservation — never a stored
  // row that no bag lists, which nothing would ever use or remove.
  std::vector<std::int64_t> added;
  while (out.size() + added.size() < n) added.push_back(co_await items_.reserve_key());
  if (added.empty()) co_return out;
  co_await bags_.update(key(player), [&added](ember_inventory::inventory_bag& b) {
    auto ids = detail::parse_ids(b.reserved);
    ids.insert(ids.end(), added.begin(), added.end());
    b.reserved = detail::join_ids(ids);
  });
  for (auto id : added) {
    co_await modules::detail::insert_if_absent_at(items_, detail::item_row(id, -key(player)));
    out.push_back(id);
  }
  co_return out;
}

EMBER_DECL plan_fn service::grant_plan(std::vector<ember_inventory::grant_item> items) const {
  if (items.empty() || items.size() > options_.max_entries) ember_inventory::fail(ember_inventory::error::too_many);
  for (const auto& g : items)
    if (g.count == 0 || g.count > options_.max_count) ember_inventory::fail(ember_inventory::error::bad_count);
  return [items = std::move(items)](std::vector<detail::bag_edit*>& b) {
    auto& bag = *b[0];
    for (const auto& g : items) {
      detail::item_row like(0, bag.owner(), g.type, 0, 0, false, g.bound, g.expires_at_ms);
      const auto limit = bag.stack_limit(g.type);
      auto left = static_cast<std::int32_t>(g.count);
      for (auto* it : bag.items()) {
        if (left == 0) break;
        if (it->locked || !detail::bag_edit::same_kind(*it, like) || it->count >= limit) continue;
        const auto n = std::min(left, limit - it->count);
        it->count += n;
        bag.note(*it, detail::change_kind::granted, n);
        left -= n;
      }
      while (left > 0) {
        const auto slot = bag.free_slot();
        if (slot < 0) ember_inventory::fail(ember_inventory::error::inventory_full);
        const auto n = std::min(left, limit);
        bag.create(like, n, slot, detail::change_kind::granted);
        left -= n;
      }
    }
  };
}

EMBER_DECL plan_fn service::consume_plan(std::vector<ember_inventory::take_item> items) const {
  if (items.empty() || items.size() > options_.max_entries) ember_inventory::fail(ember_inventory::error::too_many);
  for (const auto& t : items)
    if (t.count == 0 || t.count > options_.max_count) ember_inventory::fail(ember_inventory::error::bad_count);
  return [items = std::move(items)](std::vector<detail::bag_edit*>& b) {
    auto& bag = *b[0];
    for (const auto& t : items) {
      bag.stack_limit(t.type);  // an unknown type is refused as such
      std::vector<detail::item_row*> stacks;
      std::int64_t have = 0;
      for (auto* it : bag.items())
        if (it->type == t.type && !it->locked) {
          stacks.push_back(it);
          have += it->count;
        }
      if (have < t.count) ember_inventory::fail(ember_inventory::error::not_enough_items);
      std::sort(stacks.begin(), stacks.end(), [](auto* x, auto* y) {
        const auto ex = x->expires_at_ms ? x->expires_at_ms : INT64_MAX, ey = y->expires_at_ms ? y->expires_at_ms : INT64_MAX;
        return std::tie(ex, x->count, x->id) < std::tie(ey, y->count, y->id);
      });
      auto left = static_cast<std::int32_t>(t.count);
      for (auto* it : stacks) {
        if (left == 0) break;
        const auto n = std::min(left, it->count);
        left -= n;
        if (n == it->count) {
          bag.remove(*it, detail::change_kind::consumed);
        } else {
          it->count -= n;
          bag.note(*it, detail::change_kind::consumed, -n);
        }
      }
    }
  };
}

EMBER_DECL asio::awaitable<ember_inventory::list_items_reply> handler::list_items(
    net::session& s, const ember_inventory::list_items_request&) {
  co_return co_await service_.list(signed_in(s));
}

EMBER_DECL asio::awaitable<ember_inventory::split_reply> handler::split(
    net::session& s, const ember_inventory::split_request& r) {
  const auto p = signed_in(s);
  co_return ember_inventory::split_reply{co_await service_.split(op_of(p, r.op), p, r.item, r.count)};
}

EMBER_DECL asio::awaitable<ember_inventory::merge_reply> handler::merge(
    net::session& s, const ember_inventory::merge_request& r) {
  const auto p = signed_in(s);
  co_return ember_inventory::merge_reply{co_await service_.merge(op_of(p, r.op), p, r.from, r.into)};
}

EMBER_DECL asio::awaitable<ember_inventory::move_reply> handler::move(
    net::session& s, const ember_inventory::move_request& r) {
  const auto p = signed_in(s);
  co_return ember_inventory::move_reply{co_await service_.move(op_of(p, r.op), p, r.item, r.slot)};
}

EMBER_DECL asio::awaitable<ember_inventory::sort_reply> handler::sort(
    net::session& s, const ember_inventory::sort_request& r) {
  const auto p = signed_in(s);
  co_return ember_inventory::sort_reply{co_await service_.sort(op_of(p, r.op), p)};
}

EMBER_DECL asio::awaitable<ember_inventory::discard_reply> handler::discard(
    net::session& s, const ember_inventory::discard_request& r) {
  const auto p = signed_in(s);
  co_return ember_inventory::discard_reply{co_await service_.discard(op_of(p, r.op), p, r.item, r.count)};
}

EMBER_DECL std::uint64_t handler::signed_in(net::session& s) {
  const auto u = s.user();
  if (!u) ember_inventory::fail(ember_inventory::error::not_signed_in);
  return *u;
}

EMBER_DECL std::string handler::op_of(std::uint64_t player, const std::string& op) const {
  if (check_text(op, service_.config().max_client_op_id) != text_problem::none)
    ember_inventory::fail(ember_inventory::error::bad_text);
  return "c:" + std::to_string(player) + ':' + op;
}

}  // namespace ember::modules::inventory
