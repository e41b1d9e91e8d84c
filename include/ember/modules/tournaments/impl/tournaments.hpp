// ember: bodies of the tournaments module (included by ember/modules/tournaments/tournaments.hpp,
// or compiled once into libember-tournaments with EMBER_SEPARATE_COMPILATION).
#pragma once

#include "ember/modules/tournaments/tournaments.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <limits>
#include <set>
#include <stdexcept>

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "ember/app/module_options.hpp"
#include "ember/data/error.hpp"
#include "ember/data/transaction.hpp"
#include "ember/log.hpp"
#include "ember/modules/detail/rows.hpp"
#include "ember/modules/leaderboard/cron.hpp"
#include "ember/modules/text.hpp"

namespace ember::modules::tournaments {

namespace et = ember_tournaments;

/// A tournament's definition and its board's schedule (none: one period forever).
struct service::state {
  definition def;
  std::optional<leaderboard::cron_schedule> schedule;
};

EMBER_DECL std::string period_key(std::string_view tournament, std::int64_t period) {
  std::string k(tournament);
  k += ':';
  k += std::to_string(period);
  return k;
}

EMBER_DECL std::string player_key(std::string_view tournament, std::int64_t period, std::uint64_t owner) {
  auto k = period_key(tournament, period);
  k += ':';
  k += std::to_string(owner);
  return k;
}

namespace detail {

inline constexpr std::int32_t placeholder = 0, in = 1;

/// A step found the reward mailed already (by a run that committed since this one read).
struct granted_already {};

inline std::int64_t number(std::string_view s, std::string_view what) {
  std::int64_t v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || r.ec != std::errc{} || r.ptr != s.data() + s.size() || v < 0)
    throw std::invalid_argument(std::string(what) + ": '" + std::string(s) + "' is not a whole number >= 0");
  return v;
}

inline std::vector<std::string_view> split(std::string_view s, char by) {
  std::vector<std::string_view> out;
  while (true) {
    const auto at = s.find(by);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

/// `FIRST[-LAST]:$CURRENCY*AMOUNT,ITEM*COUNT,...`
inline et::reward parse_reward(std::string_view spec) {
  const auto colon = spec.find(':');
  if (colon == std::string_view::npos) throw std::invalid_argument("reward= needs RANKS:WHAT");
  et::reward r;
  const auto ranks = spec.substr(0, colon);
  const auto dash = ranks.find('-');
  const auto first = number(ranks.substr(0, dash), "reward ranks");
  const auto last = dash == std::string_view::npos ? first : number(ranks.substr(dash + 1), "reward ranks");
  if (first < 1 || last < first || last > std::numeric_limits<std::uint32_t>::max())
    throw std::invalid_argument("reward ranks '" + std::string(ranks) + "': FIRST >= 1, LAST >= FIRST");
  r.first_rank = static_cast<std::uint32_t>(first);
  r.last_rank = static_cast<std::uint32_t>(last);
  for (auto part : split(spec.substr(colon + 1), ',')) {
    const auto star = part.rfind('*');
    if (star == std::string_view::npos || star == 0)
      throw std::invalid_argument("reward '" + std::string(part) + "': NAME*AMOUNT ($NAME for a currency)");
    const auto n = number(part.substr(star + 1), "reward amount");
    if (n == 0) throw std::invalid_argument("reward '" + std::string(part) + "': an amount of 0");
    auto name = part.substr(0, star);
    const bool currency = name.front() == '$';
    if (currency) name.remove_prefix(1);
    if (check_text(name, 64) != text_problem::none)
      throw std::invalid_argument("reward '" + std::string(part) + "': a name of 1..64 characters");
    if (currency) {
      r.currencies.emplace_back(std::string(name), n);
    } else {
      if (n > std::numeric_limits<std::uint32_t>::max()) throw std::invalid_argument("reward '" + std::string(part) + "': too many");
      r.items.emplace_back(std::string(name), static_cast<std::uint32_t>(n));
    }
  }
  return r;
}

inline ember_mail::attachments attachments_of(const et::reward& r) {
  ember_mail::attachments a;
  for (const auto& c : r.currencies) a.currencies.emplace_back(c.currency, c.amount);
  for (const auto& i : r.items) a.items.emplace_back(i.type, i.count, false);
  return a;
}

inline et::record to_record(const ember_leaderboard::record& r) {
  return et::record(r.owner, r.rank, r.score, r.subscore, r.metadata, r.updated_ms);
}

/// Counts a write in flight while it lives.
struct in_flight {
  std::map<std::string, std::uint32_t, std::less<>>& writing;
  std::string key;
  in_flight(std::map<std::string, std::uint32_t, std::less<>>& w, std::string k) : writing(w), key(std::move(k)) {
    ++writing[key];
  }
  in_flight(const in_flight&) = delete;
  in_flight& operator=(const in_flight&) = delete;
  ~in_flight() {
    if (auto it = writing.find(key); it != writing.end() && --it->second == 0) writing.erase(it);
  }
};

}  // namespace detail

EMBER_DECL definition options::parse(std::string_view spec) {
  definition d;
  std::vector<std::string_view> words;
  for (auto w : detail::split(spec, ' '))
    if (!w.empty()) words.push_back(w);
  if (words.empty()) throw std::invalid_argument("a tournament needs an id");
  d.id = std::string(words[0]);
  if (check_text(d.id, 64) != text_problem::none || d.id.find(':') != std::string::npos)
    throw std::invalid_argument("tournament id '" + d.id + "': 1..64 characters, no ':' or control characters");
  for (std::size_t i = 1; i < words.size(); ++i) {
    const auto w = words[i];
    const auto eq = w.find('=');
    const auto key = w.substr(0, eq);
    const auto value = eq == std::string_view::npos ? std::string_view() : w.substr(eq + 1);
    if (w == "join") d.join_required = true;
    else if (w == "authoritative") d.authoritative = true;
    else if (key == "board" && !value.empty()) d.board = std::string(value);
    else if (key == "start") d.start_ms = detail::number(value, "start");
    else if (key == "end") d.end_ms = detail::number(value, "end");
    else if (key == "max") {
      const auto n = detail::number(value, "max");
      if (n > std::numeric_limits<std::uint32_t>::max()) throw std::invalid_argument("max: too large");
      d.max_size = static_cast<std::uint32_t>(n);
    } else if (key == "open") {
      const auto plus = value.find('+');
      if (plus == std::string_view::npos) throw std::invalid_argument("open= needs AFTER_MS+FOR_MS");
      d.open_after_ms = detail::number(value.substr(0, plus), "open");
      d.open_for_ms = detail::number(value.substr(plus + 1), "open");
    } else if (key == "reward") {
      d.rewards.push_back(detail::parse_reward(value));
    } else {
      throw std::invalid_argument("tournament '" + d.id + "': unknown word '" + std::string(w) +
                                  "' (expected board=, start=, end=, open=, join, max=, authoritative, reward=)");
    }
  }
  if (d.board.empty()) throw std::invalid_argument("tournament '" + d.id + "': board= is required");
  if (d.end_ms != 0 && d.end_ms <= d.start_ms) throw std::invalid_argument("tournament '" + d.id + "': end= must come after start=");
  return d;
}

EMBER_DECL options options::read(app::module_options& o) {
  options out;
  out.max_page = o.count("max_page", out.max_page, 1, 10'000);
  out.max_rewarded = o.count("max_rewarded", out.max_rewarded, 1, 100'000);
  out.reward_ttl_ms = o.integer("reward_ttl_ms", out.reward_ttl_ms, -1);
  for (const auto& spec : o.texts("tournaments")) {
    try {
      out.tournaments.push_back(parse(spec));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("config.json: modules.tournaments.tournaments: " + std::string(e.what()));
    }
  }
  o.done();
  return out;
}

EMBER_DECL service::service(data::store& store, event_bus& bus, leaderboard::service& boards, mail::service& mail,
                            options o, clock_fn clock, hooks h)
    : store_(store), bus_(bus), boards_(boards), mail_(mail), options_(std::move(o)), clock_(std::move(clock)),
      hooks_(std::move(h)), periods_(store), members_(store), grants_(store) {
  if (!clock_) clock_ = [] { return static_cast<std::int64_t>(data::unix_ms()); };
  for (const auto& d : options_.tournaments) {
    const auto bad = [&](const std::string& why) { throw std::invalid_argument("tournament '" + d.id + "': " + why); };
    if (state_.contains(d.id)) bad("defined twice");
    const auto& defs = boards_.config().boards;
    const auto b = std::find_if(defs.begin(), defs.end(), [&](const auto& x) { return x.id == d.board; });
    if (b == defs.end()) bad("no leaderboard board '" + d.board + "'");
    // Clients must not reach the board past the tournament's rules through the leaderboard's own write_score.
    if (!b->authoritative) bad("board '" + d.board + "' must be authoritative");
    for (const auto& [other, t] : state_)
      if (t->def.board == d.board) bad("board '" + d.board + "' ranks tournament '" + other + "' already");
    auto s = std::make_unique<state>();
    s->def = d;
    if (!b->reset.empty()) s->schedule = leaderboard::cron_schedule::parse(b->reset);
    if (!s->schedule && (d.open_after_ms != 0 || d.open_for_ms != 0)) bad("open= needs a board that resets");
    std::uint32_t after = 0;
    for (const auto& r : d.rewards) {
      if (r.first_rank <= after || r.last_rank < r.first_rank) bad("rewards overlap or are out of order");
      if (r.last_rank > options_.max_rewarded) bad("a reward past rank max_rewarded");
      if (r.currencies.size() + r.items.size() > mail_.config().max_attachments) bad("a reward over the mail's max_attachments");
      if (r.currencies.empty() && r.items.empty()) bad("a reward of nothing");
      for (const auto& c : r.currencies)
        if (c.amount > mail_.config().max_amount) bad("a currency reward over the mail's max_amount");
      for (const auto& i : r.items)
        if (i.count > mail_.config().max_count) bad("an item reward over the mail's max_count");
      after = r.last_rank;
    }
    state_.emplace(d.id, std::move(s));
  }
}

EMBER_DECL service::~service() = default;

EMBER_DECL service::state& service::find(const std::string& id) {
  auto it = state_.find(id);
  if (it == state_.end()) et::fail(et::error::unknown_tournament);
  return *it->second;
}

EMBER_DECL window service::window_of(const state& t, std::int64_t period) const {
  window w;
  std::int64_t period_end = 0;
  if (t.schedule) {
    period_end = t.schedule->next_after(period);
    w.opens_ms = period + t.def.open_after_ms;
    w.closes_ms = t.def.open_for_ms > 0 ? std::min(w.opens_ms + t.def.open_for_ms, period_end) : period_end;
  }
  w.opens_ms = std::max(w.opens_ms, t.def.start_ms);
  if (t.def.end_ms != 0) w.closes_ms = w.closes_ms == 0 ? t.def.end_ms : std::min(w.closes_ms, t.def.end_ms);
  return w;
}

EMBER_DECL std::pair<std::int64_t, window> service::current(const std::string& id) {
  auto& t = find(id);
  const auto p = boards_.current_period(t.def.board);
  return {p, window_of(t, p)};
}

EMBER_DECL asio::awaitable<std::vector<et::tournament>> service::list(std::uint64_t player) {
  const auto now = clock_();
  std::vector<et::tournament> out;
  for (auto& [id, t] : state_) {
    if (t->def.end_ms != 0 && now >= t->def.end_ms) continue;
    const auto p = boards_.current_period(t->def.board);
    const auto w = window_of(*t, p);
    et::tournament info;
    info.id = id;
    info.board = t->def.board;
    info.start_ms = t->def.start_ms;
    info.end_ms = t->def.end_ms;
    info.period = p;
    info.opens_ms = w.opens_ms;
    info.closes_ms = w.closes_ms;
    info.open = w.contains(now);
    info.join_required = t->def.join_required;
    info.max_size = t->def.max_size;
    info.authoritative = t->def.authoritative;
    info.rewards = t->def.rewards;
    // (each co_await into a named variable first: g++ 12 miscompiles some shapes, see README)
    auto row = co_await periods_.get(period_key(id, p));
    if (row) info.size = static_cast<std::uint32_t>(row->size);
    if (player != 0) {
      auto m = co_await members_.get(player_key(id, p, player));
      info.joined = m && m->state == detail::in;
    }
    out.push_back(std::move(info));
  }
  co_return out;
}

EMBER_DECL asio::awaitable<std::pair<bool, std::uint32_t>> service::enter(const state& t, std::int64_t period,
                                                                          std::uint64_t owner) {
  const auto& id = t.def.id;
  const auto mkey = player_key(id, period, owner);
  const auto pkey = period_key(id, period);
  auto member = co_await members_.get(mkey);
  if (member && member->state == detail::in) {
    auto p = co_await periods_.get(pkey);
    co_return std::pair<bool, std::uint32_t>{false, p ? static_cast<std::uint32_t>(p->size) : 0};
  }
  co_await modules::detail::insert_if_absent(periods_, et::tournament_period(pkey, id, period));
  co_await modules::detail::insert_if_absent(members_, et::tournament_member(mkey, id, period, static_cast<std::int64_t>(owner)));
  bool joined = false;
  std::uint32_t size = 0;
  const auto now = clock_();
  const auto cap = t.def.max_size;
  // The member's row and the period's count change together: the cap holds against joins in
  // any process.
  co_await data::transact_retrying(store_, [&](data::change_set& tx) -> asio::awaitable<void> {
    auto prow = tx.row(periods_, pkey);
    auto mrow = tx.row(members_, mkey);
    tx.step([&, prow, mrow] {
      joined = false;
      if (mrow->state != detail::in) {
        if (cap != 0 && prow->size >= static_cast<std::int64_t>(cap)) et::fail(et::error::tournament_full);
        mrow->state = detail::in;
        mrow->joined_ms = now;
        prow->size += 1;
        joined = true;
      }
      size = static_cast<std::uint32_t>(prow->size);
    });
    co_return;
  });
  co_return std::pair<bool, std::uint32_t>{joined, size};
}

EMBER_DECL asio::awaitable<std::pair<bool, std::uint32_t>> service::join(std::string id, std::uint64_t player) {
  auto& t = find(id);
  const auto now = clock_();
  if (now < t.def.start_ms || (t.def.end_ms != 0 && now >= t.def.end_ms)) et::fail(et::error::not_open);
  const auto period = boards_.current_period(t.def.board);
  co_return co_await enter(t, period, player);
}

EMBER_DECL asio::awaitable<et::record> service::write(std::string id, std::uint64_t owner, leaderboard::write_request w,
                                                      bool from_client) {
  auto& t = find(id);
  if (from_client && t.def.authoritative) et::fail(et::error::authoritative);
  const auto period = boards_.current_period(t.def.board);
  if (!window_of(t, period).contains(clock_())) et::fail(et::error::not_open);
  auto m = co_await members_.get(player_key(id, period, owner));
  if (!m || m->state != detail::in) {
    if (t.def.join_required) et::fail(et::error::not_joined);
    co_await enter(t, period, owner);
  }
  // Checked again with nothing awaited before the leaderboard takes its period: the score lands
  // in the period that was checked, inside its window.
  if (boards_.current_period(t.def.board) != period || !window_of(t, period).contains(clock_()))
    et::fail(et::error::not_open);
  detail::in_flight counted(writing_, period_key(id, period));
  auto r = co_await boards_.write(t.def.board, owner, std::move(w), false);
  co_return detail::to_record(r);
}

EMBER_DECL asio::awaitable<page> service::top(std::string id, std::int64_t period, std::uint32_t limit,
                                              std::optional<et::record_cursor> after) {
  auto& t = find(id);
  if (limit == 0 || limit > options_.max_page) limit = options_.max_page;
  std::optional<ember_leaderboard::record_cursor> from;
  if (after) from = ember_leaderboard::record_cursor(after->score, after->subscore, after->updated_ms, after->owner);
  auto p = co_await boards_.top(t.def.board, period, limit, from);
  page out;
  out.total = p.total;
  out.period = p.period;
  for (const auto& r : p.records) out.records.push_back(detail::to_record(r));
  if (p.next) out.next = et::record_cursor(p.next->score, p.next->subscore, p.next->updated_ms, p.next->owner);
  co_return out;
}

EMBER_DECL asio::awaitable<std::optional<et::record>> service::rank(std::string id, std::int64_t period, std::uint64_t owner) {
  auto& t = find(id);
  auto r = co_await boards_.rank(t.def.board, period, owner);
  if (!r) co_return std::nullopt;
  co_return detail::to_record(*r);
}

EMBER_DECL asio::awaitable<bool> service::grant_one(const state& t, std::int64_t period, std::uint64_t owner,
                                                    std::uint64_t rank, const et::reward& r) {
  const auto& id = t.def.id;
  const auto key = player_key(id, period, owner);  // also the grant's operation id
  auto stored = co_await grants_.get(key);
  if (stored && stored->state == detail::in) co_return false;
  co_await modules::detail::insert_if_absent(grants_, et::tournament_grant(key, id, period, static_cast<std::int64_t>(owner)));
  auto text = hooks_.mail_text ? hooks_.mail_text(t.def, period, rank)
                               : std::pair<std::string, std::string>{"Tournament reward", id + ": rank " + std::to_string(rank)};
  const auto attached = detail::attachments_of(r);
  auto mail_id = std::make_shared<std::int64_t>(0);
  const auto now = clock_();
  try {
    // The grant's row and the mail: one transaction. Killed before the commit, neither is
    // stored and the next run mails it; committed, the row says so and no run mails it again.
    co_await data::transact_retrying(store_, [&](data::change_set& tx) -> asio::awaitable<void> {
      auto row = tx.row(grants_, key);
      tx.step([row] {
        if (row->state == detail::in) throw detail::granted_already{};
      });
      co_await mail_.stage_system(tx, owner, text.first, text.second, attached, mail_id, options_.reward_ttl_ms);
      tx.step([this, row, rank, mail_id, now, owner] {
        if (hooks_.before_grant_commit) hooks_.before_grant_commit(owner, rank);
        row->state = detail::in;
        row->rank = static_cast<std::int64_t>(rank);
        row->mail = *mail_id;
        row->granted_ms = now;
      });
      tx.on_commit([this, id, period, owner, rank, mail_id] {
        bus_.publish(et::reward_granted(id, period, owner, rank, *mail_id));
      });
    });
  } catch (const detail::granted_already&) {
    co_return false;
  }
  co_return true;
}

EMBER_DECL asio::awaitable<grant_result> service::grant(std::string id, std::int64_t period) {
  auto& t = find(id);
  const auto current = boards_.current_period(t.def.board);
  if (period == 0) period = current;
  grant_result out;
  out.tournament = id;
  out.period = period;
  const auto w = window_of(t, period);
  const bool ended = period < current || (w.closes_ms != 0 && clock_() >= w.closes_ms);
  if (!ended) et::fail(et::error::not_ended);
  const auto pkey = period_key(id, period);
  auto marked = co_await periods_.get(pkey);
  if (marked && marked->granted) {
    out.complete = true;
    co_return out;
  }
  // Scores accepted before the window closed are ranked before the rewards are.
  auto ex = co_await asio::this_coro::executor;
  for (int i = 0; writing_.contains(pkey) && i < 3000; ++i) {
    asio::steady_timer pause(ex, std::chrono::milliseconds(10));
    co_await pause.async_wait(asio::use_awaitable);
  }
  if (writing_.contains(pkey)) throw data::data_error(data::data_errc::contention, "tournaments: writes still in flight after 30 s");

  const std::uint64_t last = t.def.rewards.empty() ? 0 : t.def.rewards.back().last_rank;
  std::optional<et::record_cursor> after;
  bool more = last > 0;
  while (more) {
    auto p = co_await top(id, period, options_.max_page, after);
    for (const auto& rec : p.records) {
      if (rec.rank > last) {
        more = false;
        break;
      }
      const auto r = std::find_if(t.def.rewards.begin(), t.def.rewards.end(),
                                  [&](const auto& x) { return rec.rank >= x.first_rank && rec.rank <= x.last_rank; });
      if (r == t.def.rewards.end()) continue;
      try {
        const bool mailed = co_await grant_one(t, period, rec.owner, rec.rank, *r);
        if (mailed) ++out.mailed;
        else ++out.already;
      } catch (const game_error& e) {
        // A mail refused (an inbox full): not granted, the next run tries again.
        log::warn("tournaments: '{}' period {}: the reward of rank {} to {} is pending: {}", id, period, rec.rank,
                  rec.owner, e.what());
        ++out.pending;
      }
    }
    if (!p.next) more = false;
    after = p.next;
  }
  if (out.pending == 0) {
    co_await modules::detail::insert_if_absent(periods_, et::tournament_period(pkey, id, period));
    const auto now = clock_();
    co_await periods_.update(pkey, [now](et::tournament_period& r) {
      r.granted = true;
      r.granted_ms = now;
    });
    out.complete = true;
  }
  co_return out;
}

EMBER_DECL asio::awaitable<std::vector<grant_result>> service::grant_due() {
  std::vector<grant_result> out;
  const auto now = clock_();
  for (auto& [id, t] : state_) {
    if (t->def.rewards.empty()) continue;
    const auto current = boards_.current_period(t->def.board);
    std::vector<std::int64_t> due;
    // A period whose window is empty (wholly before the start or after the end) took no scores.
    const auto took_scores = [](const window& w) { return w.closes_ms == 0 || w.opens_ms < w.closes_ms; };
    if (t->schedule && current > 0) {
      const auto previous = t->schedule->last_at_or_before(current - 1);
      if (took_scores(window_of(*t, previous))) due.push_back(previous);
    }
    if (const auto w = window_of(*t, current); w.closes_ms != 0 && now >= w.closes_ms && took_scores(w))
      due.push_back(current);
    for (auto p : due) out.push_back(co_await grant(id, p));
  }
  co_return out;
}

// --- the client commands

EMBER_DECL std::uint64_t handler::signed_in(net::session& s) {
  const auto u = s.user();
  if (!u) et::fail(et::error::not_signed_in);
  return *u;
}

EMBER_DECL asio::awaitable<et::list_tournaments_reply> handler::list_tournaments(net::session& s,
                                                                                const et::list_tournaments_request&) {
  co_return et::list_tournaments_reply{co_await service_.list(signed_in(s))};
}

EMBER_DECL asio::awaitable<et::join_tournament_reply> handler::join_tournament(net::session& s,
                                                                              const et::join_tournament_request& req) {
  const auto [joined, size] = co_await service_.join(req.tournament, signed_in(s));
  co_return et::join_tournament_reply(joined, size);
}

EMBER_DECL asio::awaitable<et::write_tournament_score_reply> handler::write_tournament_score(
    net::session& s, const et::write_tournament_score_request& req) {
  const auto who = signed_in(s);
  leaderboard::write_request w{req.score, req.subscore, req.metadata, ember_leaderboard::write_operator::board, req.op_id};
  co_return et::write_tournament_score_reply{co_await service_.write(req.tournament, who, std::move(w), true)};
}

EMBER_DECL asio::awaitable<et::list_tournament_top_reply> handler::list_tournament_top(
    net::session& s, const et::list_tournament_top_request& req) {
  const auto who = signed_in(s);
  if (req.limit > service_.config().max_page) et::fail(et::error::bad_limit);
  auto p = co_await service_.top(req.tournament, req.period, req.limit, req.cursor);
  auto mine = co_await service_.rank(req.tournament, p.period, who);
  co_return et::list_tournament_top_reply(std::move(p.records), std::move(p.next), p.total, p.period, std::move(mine));
}

}  // namespace ember::modules::tournaments
