// ember: bodies of the quests module (included by ember/modules/quests/quests.hpp, or compiled
// once into libember-quests with EMBER_SEPARATE_COMPILATION).
#pragma once

#include "ember/modules/quests/quests.hpp"

#include <algorithm>
#include <climits>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <sodium.h>

#include "ember/app/module_options.hpp"
#include "ember/log.hpp"
#include "ember/modules/detail/periods.hpp"
#include "ember/modules/detail/rows.hpp"
#include "ember/modules/text.hpp"
#include "ember/spawn.hpp"

namespace ember::modules::quests {

namespace detail {

namespace eq = ember_quests;

inline std::string progress_key(std::uint64_t player, const std::string& quest) {
  return std::to_string(player) + ':' + quest;
}

/// The row key of a counted event: PLAYER:HASH, a 128-bit hash of the source and the event id
/// (which may be long; the key of a cached row may not).
inline std::string event_key(std::uint64_t player, const std::string& source, const std::string& event_id) {
  const std::string both = source + '\n' + event_id;
  unsigned char hash[16];
  crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(both.data()), both.size(), nullptr, 0);
  char hex[sizeof hash * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
  return std::to_string(player) + ':' + hex;
}

/// What is wrong with quest `q` alone (its prerequisites are checked against the file after).
inline std::string problem_of(const eq::quest& q) {
  const auto bad_name = [](const std::string& s) { return check_text(s, quest_book::max_id) != text_problem::none; };
  if (check_text(q.id, quest_book::max_quest_id) != text_problem::none)
    return fmt::format("its id is empty, over {} code points, not UTF-8 or has control characters",
                       quest_book::max_quest_id);
  if (bad_name(q.counts)) return "'counts' (the source it counts) is empty, too long or not plain text";
  if (check_text(q.filter, quest_book::max_filter, false, true) != text_problem::none)
    return "'filter' is too long or not plain text";
  if (q.target == 0) return "'target' must be at least 1";
  if (q.prerequisites.size() > quest_book::max_prerequisites)
    return fmt::format("more than {} prerequisites", quest_book::max_prerequisites);
  if (q.currencies.size() + q.items.size() > quest_book::max_rewards)
    return fmt::format("more than {} rewards", quest_book::max_rewards);
  for (const auto& c : q.currencies)
    if (bad_name(c.currency) || c.amount <= 0) return "a currency reward needs a name and an amount above 0";
  for (const auto& i : q.items)
    if (bad_name(i.type) || i.count == 0) return "an item reward needs a type and a count above 0";
  if (q.reset != eq::reset::never && q.reset != eq::reset::daily && q.reset != eq::reset::weekly)
    return "'reset' is none of never, daily, weekly";
  return {};
}

}  // namespace detail

// --- the definitions

EMBER_DECL outcome<std::shared_ptr<const quest_book>, app::data_error> quest_book::parse(std::string_view text,
                                                                                        const std::string& file) {
  auto rows = table::parse(text, file);
  if (!rows) return rows.error();
  const auto& all = (*rows)->rows();
  const auto refuse = [&](std::string message) { return app::data_error{file, 0, std::move(message)}; };
  if (all.size() > max_quests)
    return refuse(fmt::format("{} quests: a file holds at most {}", all.size(), max_quests));
  auto book = std::make_shared<quest_book>();
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto& q = all[i];
    if (auto p = detail::problem_of(q); !p.empty()) return refuse(fmt::format("quest [{}] '{}': {}", i, q.id, p));
    for (const auto& pre : q.prerequisites)
      if (pre == q.id || !(*rows)->find(pre))
        return refuse(fmt::format("quest '{}': prerequisite '{}' is not another quest of the file", q.id, pre));
    auto& same = book->by_source_[q.counts];
    if (same.size() == max_per_source)
      return refuse(fmt::format("quest '{}': more than {} quests count '{}'", q.id, max_per_source, q.counts));
    same.push_back(i);
  }
  // prerequisites may not loop (nothing in a loop could ever start): depth-first, colouring
  std::vector<int> state(all.size(), 0);  // 0 new, 1 on the path, 2 done
  const auto index_of = [&](const std::string& id) {
    return static_cast<std::size_t>((*rows)->find(id) - all.data());
  };
  std::function<bool(std::size_t)> loops = [&](std::size_t i) {
    if (state[i] == 1) return true;
    if (state[i] == 2) return false;
    state[i] = 1;
    for (const auto& pre : all[i].prerequisites)
      if (loops(index_of(pre))) return true;
    state[i] = 2;
    return false;
  };
  for (std::size_t i = 0; i < all.size(); ++i)
    if (loops(i)) return refuse(fmt::format("quest '{}': its prerequisites loop back to it", all[i].id));
  book->rows_ = std::move(*rows);
  return std::shared_ptr<const quest_book>(std::move(book));
}

EMBER_DECL outcome<std::shared_ptr<const quest_book>, app::data_error> quest_book::load(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return app::data_error{file.string(), 0, "cannot read the file"};
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), file.string());
}

EMBER_DECL const std::vector<std::size_t>& quest_book::counting(const std::string& source) const {
  static const std::vector<std::size_t> none;
  auto it = by_source_.find(source);
  return it == by_source_.end() ? none : it->second;
}

// --- the service

EMBER_DECL options options::read(app::module_options& o) {
  options out;
  out.utc_offset_minutes = static_cast<std::int32_t>(o.integer("utc_offset_minutes", out.utc_offset_minutes, -14 * 60, 14 * 60));
  out.week_starts = o.count("week_starts", out.week_starts, 0, 6);
  out.page = o.count("page", out.page, 1, 1'000);
  out.max_event_id = o.count("max_event_id", static_cast<std::uint32_t>(out.max_event_id), 1, 4'096);
  o.done();
  return out;
}

EMBER_DECL std::int64_t service::now_ms() const {
  return hooks_.clock ? hooks_.clock() : static_cast<std::int64_t>(data::unix_ms());
}

EMBER_DECL std::int64_t service::period_of(const ember_quests::quest& q, std::int64_t now) const noexcept {
  return modules::detail::period_of(static_cast<modules::detail::period_kind>(q.reset), now,
                                    options_.utc_offset_minutes, options_.week_starts);
}

EMBER_DECL std::int64_t service::resets_at(const ember_quests::quest& q, std::int64_t now) const noexcept {
  return modules::detail::period_end(static_cast<modules::detail::period_kind>(q.reset), now,
                                     options_.utc_offset_minutes, options_.week_starts);
}

EMBER_DECL void service::start(const std::string& source, tally t) {
  if (book_.current()->counting(source).empty()) return;  // nothing counts it: no work, no row
  ++counting_;
  ember::spawn(ex_, record_logged(source, std::move(t)), "quests: counting an event");
}

EMBER_DECL asio::awaitable<void> service::record_logged(std::string source, tally t) {
  struct done {
    std::size_t& n;
    ~done() { --n; }
  } d{counting_};
  const auto player = t.player;
  try {
    co_await record(std::move(source), std::move(t));
  } catch (const std::exception& e) {
    // the event stays uncounted; the same event heard again (another process) may count it
    log::error("quests: an event of player {} was not counted: {}", player, e.what());
  }
}

EMBER_DECL asio::awaitable<bool> service::record(std::string source, tally t) {
  if (t.player == 0 || t.player > static_cast<std::uint64_t>(INT64_MAX)) ember_quests::fail(ember_quests::error::not_signed_in);
  if (check_text(t.event_id, options_.max_event_id) != text_problem::none ||
      check_text(t.filter, quest_book::max_filter, false, true) != text_problem::none)
    ember_quests::fail(ember_quests::error::bad_text);
  const auto book = book_.current();  // one snapshot for the whole count
  std::vector<const ember_quests::quest*> matching;
  for (const auto i : book->counting(source)) {
    const auto& q = book->rows()[i];
    if (q.filter.empty() || q.filter == t.filter) matching.push_back(&q);
  }
  if (matching.empty()) co_return false;
  const auto now = now_ms();
  const auto player = static_cast<std::int64_t>(t.player);
  const auto ev_key = detail::event_key(t.player, source, t.event_id);
  // every progress row the count reads: the matching quests' and their prerequisites'
  std::vector<std::string> keys;
  for (const auto* q : matching) {
    keys.push_back(detail::progress_key(t.player, q->id));
    for (const auto& pre : q->prerequisites) keys.push_back(detail::progress_key(t.player, pre));
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());

  struct outcome_of_count {
    bool applied = false;
    std::vector<ember_quests::quest_status> changed;
    std::vector<ember_quests::quest_completed> completed;
  };
  auto result = std::make_shared<outcome_of_count>();
  co_await data::transact_retrying(store_, [&](data::change_set& tx) -> asio::awaitable<void> {
    *result = {};
    co_await modules::detail::insert_if_absent(events_, ember_quests::quest_event(ev_key, player, false, 0));
    if (auto seen = co_await events_.get(ev_key); seen && seen->counted) co_return;  // heard before
    for (const auto& k : keys) {
      const auto quest = k.substr(k.find(':') + 1);
      co_await modules::detail::insert_if_absent(progress_, ember_quests::quest_progress(k, player, quest));
    }
    auto ev = tx.row(events_, ev_key);
    std::map<std::string, data::tx_handle<ember_quests::quest_progress_table>> rows;
    for (const auto& k : keys) rows.emplace(k, tx.row(progress_, k));
    // decided with every row locked: the same event counted meanwhile is built again (and
    // found counted); prerequisites are read as they were before this event
    tx.step([this, ev, rows, matching, t, now, result] {
      if (ev->counted) throw data::stale_read();
      ev->counted = true;
      ev->at_ms = now;
      std::vector<bool> unlocked;
      for (const auto* q : matching) {
        bool ok = true;
        for (const auto& pre : q->prerequisites)
          ok = ok && rows.at(detail::progress_key(t.player, pre))->first_completed_ms != 0;
        unlocked.push_back(ok);
      }
      for (std::size_t i = 0; i < matching.size(); ++i) {
        const auto& q = *matching[i];
        auto& r = *rows.at(detail::progress_key(t.player, q.id));
        const auto period = period_of(q, now);
        if (r.period != period) {  // a new day or week
          r.period = period;
          r.progress = 0;
          r.completed_ms = 0;
          r.claimed = false;
        }
        if (!unlocked[i] || r.progress >= std::int64_t{q.target}) continue;
        r.progress = std::min<std::int64_t>(q.target, r.progress + t.amount);
        const bool done = r.progress >= std::int64_t{q.target};
        if (done) {
          r.completed_ms = now;
          if (r.first_completed_ms == 0) r.first_completed_ms = now;
          result->completed.emplace_back(t.player, q.id, period);
        }
        result->changed.emplace_back(q.id, static_cast<std::uint32_t>(r.progress), q.target, done, false, false,
                                     resets_at(q, now));
      }
      result->applied = true;
    });
    tx.on_commit([this, result, player = t.player] {
      for (const auto& s : result->changed) players_.push(player, ember_quests::quest_progressed{s});
      for (const auto& c : result->completed) bus_.publish(c);
    });
  });
  if (hooks_.on_counted) hooks_.on_counted(source, t, result->applied);
  co_return result->applied;
}

EMBER_DECL asio::awaitable<ember_quests::list_quests_reply> service::list(std::uint64_t player, std::string cursor,
                                                                         std::uint32_t limit) {
  if (check_text(cursor, quest_book::max_quest_id, false, true) != text_problem::none)
    ember_quests::fail(ember_quests::error::bad_cursor);
  if (player == 0 || player > static_cast<std::uint64_t>(INT64_MAX)) ember_quests::fail(ember_quests::error::not_signed_in);
  if (limit == 0 || limit > options_.page) limit = options_.page;
  const auto book = book_.current();
  const auto& all = book->rows();
  std::size_t i = 0;
  if (!cursor.empty()) {
    const auto* after = book->find(cursor);
    if (!after) ember_quests::fail(ember_quests::error::bad_cursor);
    i = static_cast<std::size_t>(after - all.data()) + 1;
  }
  const auto now = now_ms();
  ember_quests::list_quests_reply out;
  // a chunk of quests at a time (hidden ones may drop out), with their prerequisites' rows
  while (i < all.size() && out.quests.size() < limit) {
    const auto end = std::min(all.size(), i + limit);
    std::vector<std::string> keys;
    for (auto k = i; k < end; ++k) {
      keys.push_back(detail::progress_key(player, all[k].id));
      for (const auto& pre : all[k].prerequisites) keys.push_back(detail::progress_key(player, pre));
    }
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    const auto rows = co_await progress_.get_many(keys);
    std::map<std::string, const ember_quests::quest_progress*> by_key;
    for (std::size_t k = 0; k < keys.size(); ++k)
      if (rows[k]) by_key.emplace(keys[k], &*rows[k]);
    const auto row_of = [&](const std::string& quest) -> const ember_quests::quest_progress* {
      auto it = by_key.find(detail::progress_key(player, quest));
      return it == by_key.end() ? nullptr : it->second;
    };
    for (; i < end && out.quests.size() < limit; ++i) {
      const auto& q = all[i];
      const auto* r = row_of(q.id);
      if (q.hidden && (!r || r->first_completed_ms == 0)) continue;
      ember_quests::quest_status s;
      s.quest = q.id;
      s.target = q.target;
      s.resets_at_ms = resets_at(q, now);
      if (r && r->period == period_of(q, now)) {
        s.progress = static_cast<std::uint32_t>(r->progress);
        s.completed = r->completed_ms != 0;
        s.claimed = r->claimed;
      }
      for (const auto& pre : q.prerequisites) {
        const auto* p = row_of(pre);
        s.locked = s.locked || !p || p->first_completed_ms == 0;
      }
      out.quests.push_back(std::move(s));
    }
  }
  if (out.quests.size() == limit && i < all.size()) out.next_cursor = out.quests.back().quest;
  co_return out;
}

EMBER_DECL asio::awaitable<ember_quests::claim_result> service::claim(std::uint64_t player, std::string quest) {
  if (check_text(quest, quest_book::max_quest_id) != text_problem::none) ember_quests::fail(ember_quests::error::bad_text);
  if (player == 0 || player > static_cast<std::uint64_t>(INT64_MAX)) ember_quests::fail(ember_quests::error::not_signed_in);
  const auto book = book_.current();
  const auto* found = book->find(quest);
  if (!found) ember_quests::fail(ember_quests::error::unknown_quest);
  const auto q = std::make_shared<const ember_quests::quest>(*found);
  validate(*q);
  const auto now = now_ms();
  const auto period = period_of(*q, now);
  const auto key = detail::progress_key(player, q->id);
  const auto op = fmt::format("quests:{}:{}:{}", player, q->id, period);
  ember_quests::claim_result out(false, q->id, period, q->currencies, q->items);
  auto applied = std::make_shared<bool>(false);
  ember_wallet::change_result paid;
  ember_inventory::op_result given;
  try {
    co_await data::transact_retrying(store_, [&](data::change_set& tx) -> asio::awaitable<void> {
      *applied = false;
      const auto now_row = co_await progress_.get(key);
      if (!now_row || now_row->period != period || now_row->completed_ms == 0)
        ember_quests::fail(ember_quests::error::not_completed);
      if (now_row->claimed) co_return;  // a retry: the first claim's result, not applied
      auto row = tx.row(progress_, key);
      tx.step([row, period] {
        if (row->period != period || row->completed_ms == 0 || row->claimed) throw data::stale_read();
        row->claimed = true;
      });
      if (!q->currencies.empty()) {
        std::vector<ember_wallet::change> changes;
        for (const auto& c : q->currencies) changes.emplace_back(player, c.currency, c.amount);
        co_await wallet_.stage(tx, op, std::move(changes), "quests", paid);
      }
      if (!q->items.empty()) {
        std::vector<ember_inventory::grant_item> items;
        for (const auto& i : q->items) items.emplace_back(i.type, i.count, i.bound);
        co_await inventory_.stage_grant(tx, op, player, std::move(items), given);
      }
      tx.step([applied] { *applied = true; });
      tx.on_commit([this, applied, player, q, period, op, now] {
        if (!*applied) return;
        bus_.publish(ember_quests::reward_claimed(player, q->id, period, op));
        players_.push(player, ember_quests::quest_progressed{ember_quests::quest_status(
                                  q->id, q->target, q->target, true, true, false, resets_at(*q, now))});
      });
    });
  } catch (const game_error& e) {
    rethrow_as_quests_error(e);
  }
  out.applied = *applied;
  co_return out;
}

EMBER_DECL void service::validate(const ember_quests::quest& q) const {
  const auto& known = wallet_.config().currencies;
  for (const auto& c : q.currencies)
    if (std::none_of(known.begin(), known.end(), [&](const auto& k) { return k.name == c.currency; }))
      ember_quests::fail(ember_quests::error::bad_quest);
}

EMBER_DECL void service::rethrow_as_quests_error(const game_error& e) {
  const auto c = e.code();
  if (c == static_cast<std::uint16_t>(ember_inventory::error::inventory_full) ||
      c == static_cast<std::uint16_t>(ember_wallet::error::balance_cap))
    ember_quests::fail(ember_quests::error::no_room);
  if (c >= 60400 && c <= 60599) ember_quests::fail(ember_quests::error::bad_quest);  // the inventory's and wallet's blocks
  throw;
}

// --- the client commands

EMBER_DECL asio::awaitable<ember_quests::list_quests_reply> handler::list_quests(
    net::session& s, const ember_quests::list_quests_request& r) {
  co_return co_await service_.list(signed_in(s), r.cursor, r.limit);
}

EMBER_DECL asio::awaitable<ember_quests::claim_reply> handler::claim(net::session& s,
                                                                    const ember_quests::claim_request& r) {
  co_return ember_quests::claim_reply{co_await service_.claim(signed_in(s), r.quest)};
}

EMBER_DECL std::uint64_t handler::signed_in(net::session& s) {
  const auto u = s.user();
  if (!u) ember_quests::fail(ember_quests::error::not_signed_in);
  return *u;
}

}  // namespace ember::modules::quests
