// ember: bodies of the leaderboard module (included by ember/modules/leaderboard/leaderboard.hpp,
// or compiled once into libember-leaderboard with EMBER_SEPARATE_COMPILATION).
#pragma once

#include "ember/modules/leaderboard/leaderboard.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>
#include <unordered_set>

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "ember/app/module_options.hpp"
#include "ember/data/cache_entry.hpp"
#include "ember/data/error.hpp"
#include "ember/log.hpp"
#include "ember/modules/text.hpp"

namespace ember::modules::leaderboard {

namespace el = ember_leaderboard;

/// A board's live state: its definition, its current period's ranks, the period that ended in
/// this process (complete in memory, even before write-back), and the last earlier period a
/// reader asked for (loaded from the database).
struct service::board_state {
  board def;
  std::optional<cron_schedule> schedule;
  std::int64_t period = 0;                                     // current period's start
  std::int64_t next_reset = std::numeric_limits<std::int64_t>::max();
  std::shared_ptr<period_ranks> current;
  std::int64_t past_period = -1;
  std::shared_ptr<period_ranks> past;
  std::int64_t older_period = -1;
  std::shared_ptr<period_ranks> older;
  bool served = true;     // this process owns the board now (start, adopt; not after drop)
  std::size_t running = 0;  // calls on it in progress (drop waits for them)
};

/// Counts a call on a board as running while it lives.
class service::call_guard {
 public:
  explicit call_guard(board_state& b) : board_(&b) { ++b.running; }
  call_guard(call_guard&& o) noexcept : board_(std::exchange(o.board_, nullptr)) {}
  call_guard& operator=(call_guard&&) = delete;
  ~call_guard() {
    if (board_) --board_->running;
  }
  board_state& board() const noexcept { return *board_; }

 private:
  board_state* board_;
};

EMBER_DECL std::string record_key(std::string_view board, std::int64_t period, std::uint64_t owner) {
  std::string k(board);
  k += ':';
  k += std::to_string(period);
  k += ':';
  k += std::to_string(owner);
  return k;
}

namespace detail {

inline sort_order to_order(el::sort_order o) {
  return o == el::sort_order::ascending ? sort_order::ascending : sort_order::descending;
}

inline rank_key key_of(const el::leaderboard_record& r) {
  return {r.score, r.subscore, static_cast<std::uint64_t>(r.updated_ms), static_cast<std::uint64_t>(r.owner)};
}

inline el::record to_record(const ranked& r, std::string metadata = {}) {
  return el::record(r.key.owner, r.rank, r.key.score, r.key.subscore, std::move(metadata),
                    static_cast<std::int64_t>(r.key.time));
}

inline el::record_cursor to_cursor(const rank_key& k) {
  return el::record_cursor(k.score, k.subscore, static_cast<std::int64_t>(k.time), k.owner);
}

/// Holds a record's turn among this process's writes of it (data::row_queue).
struct turn {
  turn(data::row_queue& queue, std::string k) : q(queue), key(std::move(k)) {}
  data::row_queue& q;
  std::string key;
  turn(const turn&) = delete;
  turn& operator=(const turn&) = delete;
  ~turn() { q.release(key); }
};

}  // namespace detail

EMBER_DECL board options::parse_board(std::string_view spec) {
  board b;
  std::string cron_text;
  if (const auto at = spec.find("reset="); at != std::string_view::npos) {
    cron_text = std::string(spec.substr(at + 6));
    spec = spec.substr(0, at);
    if (cron_text.empty()) throw std::invalid_argument("reset= needs a cron schedule");
  }
  std::vector<std::string_view> words;
  while (!spec.empty()) {
    const auto s = spec.find_first_not_of(' ');
    if (s == std::string_view::npos) break;
    spec.remove_prefix(s);
    const auto e = spec.find(' ');
    words.push_back(spec.substr(0, e));
    spec.remove_prefix(e == std::string_view::npos ? spec.size() : e);
  }
  if (words.empty()) throw std::invalid_argument("a board needs an id");
  b.id = std::string(words[0]);
  if (check_text(b.id, 64) != text_problem::none || b.id.find(':') != std::string::npos)
    throw std::invalid_argument("board id '" + b.id + "': 1..64 characters, no ':' or control characters");
  for (std::size_t i = 1; i < words.size(); ++i) {
    const auto w = words[i];
    if (w == "asc") b.order = el::sort_order::ascending;
    else if (w == "desc") b.order = el::sort_order::descending;
    else if (w == "best") b.op = el::write_operator::best;
    else if (w == "set") b.op = el::write_operator::set;
    else if (w == "incr") b.op = el::write_operator::incr;
    else if (w == "decr") b.op = el::write_operator::decr;
    else if (w == "authoritative") b.authoritative = true;
    else if (w.starts_with("metadata=")) {
      const auto n = w.substr(9);
      std::uint32_t v = 0;
      if (n.empty() || n.size() > 6 || n.find_first_not_of("0123456789") != std::string_view::npos)
        throw std::invalid_argument("board '" + b.id + "': metadata=BYTES (0..100000)");
      for (char c : n) v = v * 10 + static_cast<std::uint32_t>(c - '0');
      if (v > 100'000) throw std::invalid_argument("board '" + b.id + "': metadata=BYTES (0..100000)");
      b.max_metadata = v;
    } else {
      throw std::invalid_argument("board '" + b.id + "': unknown word '" + std::string(w) +
                                  "' (expected asc, desc, best, set, incr, decr, authoritative, metadata=N, reset=CRON)");
    }
  }
  b.reset = cron_text;
  return b;
}

EMBER_DECL options options::read(app::module_options& o) {
  options out;
  for (const auto& spec : o.texts("boards")) {
    try {
      out.boards.push_back(parse_board(spec));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("config.json: modules.leaderboard.boards: ") + e.what());
    }
  }
  out.max_page = o.count("max_page", out.max_page, 1, 10'000);
  out.max_players = o.count("max_players", out.max_players, 1, 10'000);
  out.past_periods = o.count("past_periods", out.past_periods, 0, 10'000);
  out.max_op_id = o.count("max_op_id", static_cast<std::uint32_t>(out.max_op_id), 8, 1024);
  o.done();
  return out;
}

EMBER_DECL service::service(data::store& store, event_bus& bus, options o, clock_fn clock)
    : store_(store), bus_(bus), options_(std::move(o)), clock_(std::move(clock)), boards_(store), records_(store) {
  if (!clock_) clock_ = [] { return static_cast<std::int64_t>(data::unix_ms()); };
  for (const auto& b : options_.boards) {
    auto st = std::make_unique<board_state>();
    st->def = b;
    if (b.id.empty() || b.id.find(':') != std::string::npos)
      throw std::invalid_argument("leaderboard: board id '" + b.id + "' is empty or has ':'");
    if (!b.reset.empty()) {
      std::string why;
      st->schedule = cron_schedule::parse(b.reset, &why);
      if (!st->schedule) throw std::invalid_argument("leaderboard: board '" + b.id + "': reset '" + b.reset + "': " + why);
    }
    st->current = std::make_shared<period_ranks>(detail::to_order(b.order));
    if (!state_.emplace(b.id, std::move(st)).second) throw std::invalid_argument("leaderboard: board '" + b.id + "' twice");
  }
}

EMBER_DECL service::~service() = default;

EMBER_DECL asio::awaitable<void> service::start(serving which) {
  // Every row this process acknowledged must be in the database before the boards are read
  // from it: store.open() wrote back what its journal replayed; this writes what came since.
  co_await store_.flush_all();
  auto index_job = [](data::odbc::connection& c) {
    c.execute("CREATE INDEX IF NOT EXISTS leaderboard_record_board_period ON leaderboard_record (board, period)");
  };
  co_await store_.db().run(std::move(index_job));
  for (auto& [id, b] : state_) {
    b->period = b->schedule ? b->schedule->last_at_or_before(clock_()) : 0;
    b->next_reset = b->schedule ? b->schedule->next_after(clock_()) : std::numeric_limits<std::int64_t>::max();
    el::leaderboard_board row(id, b->def.order, b->def.op, b->def.reset, b->def.authoritative, b->def.max_metadata,
                              b->period);
    bool exists = false;
    try {
      co_await boards_.insert(row);
    } catch (const data::data_error& e) {
      if (e.code() != data::data_errc::constraint) throw;
      exists = true;
    }
    if (exists) co_await boards_.update(id, [&row](el::leaderboard_board& r) { r = row; });
    b->served = which == serving::all;
    if (!b->served) continue;
    b->current = co_await load(*b, b->period);
    log::info("leaderboard: board '{}' period {}: {} records loaded", id, b->period, b->current->size());
  }
  started_ = true;
}

EMBER_DECL bool service::serves(const std::string& board_id) const {
  auto it = state_.find(board_id);
  return started_ && it != state_.end() && it->second->served;
}

EMBER_DECL asio::awaitable<service::call_guard> service::enter(const std::string& id) {
  auto* b = &find(id);
  if (!b->served && claim_) {
    co_await claim_(id);
    b = &find(id);
  }
  if (!b->served)
    throw game_error(status::unavailable, "leaderboard: board '" + id + "' is served by another process now; retry");
  co_return call_guard(*b);
}

EMBER_DECL asio::awaitable<void> service::adopt(std::string board_id) {
  // One takeover of a board at a time in this process: calls that arrive meanwhile wait here.
  const auto turn_key = "leaderboard-adopt:" + board_id;
  co_await store_.row_turns().acquire(turn_key);
  detail::turn held{store_.row_turns(), turn_key};
  auto* b = &find(board_id);
  if (b->served) co_return;
  // The rows are the truth, but the last owner's newest ones may not be in the database yet
  // (a kill -9 leaves them in memcached and its journal): read only once every writer has
  // written back what it acknowledged before this moment. This process's own first.
  const auto since = data::unix_ms();
  co_await store_.flush_all();
  co_await store_.fence().caught_up(since, "leaderboard: taking board '" + board_id + "' over");
  b = &find(board_id);
  roll(*b);
  b->past_period = b->older_period = -1;
  b->past.reset();
  b->older.reset();
  b->current = co_await load(*b, b->period);
  b->served = true;
  log::info("leaderboard: board '{}' taken over: period {}, {} records loaded", board_id, b->period,
            b->current->size());
}

EMBER_DECL asio::awaitable<void> service::drop(std::string board_id) {
  auto* b = &find(board_id);
  if (!b->served) co_return;
  b->served = false;
  // The calls running on it end here, before its rows are written back for the next owner
  // (the registry bounds how long a release may take).
  asio::steady_timer wait(co_await asio::this_coro::executor);
  while (b->running != 0) {
    wait.expires_after(std::chrono::milliseconds(1));
    co_await wait.async_wait(asio::use_awaitable);
  }
  co_await store_.flush_all();
  b->current = std::make_shared<period_ranks>(detail::to_order(b->def.order));
  b->past_period = b->older_period = -1;
  b->past.reset();
  b->older.reset();
  log::info("leaderboard: board '{}' released to another process", board_id);
}

EMBER_DECL service::board_state& service::find(const std::string& id) {
  if (!started_) throw std::logic_error("leaderboard: service::start() first");
  auto it = state_.find(id);
  if (it == state_.end()) el::fail(el::error::unknown_board);
  roll(*it->second);
  return *it->second;
}

EMBER_DECL void service::roll(board_state& b) {
  if (!b.schedule) return;
  const auto now = clock_();
  if (now < b.next_reset) return;
  const auto p = b.schedule->last_at_or_before(now);
  b.next_reset = b.schedule->next_after(now);
  if (p == b.period) return;
  // The period that ended stays readable from memory (complete, even before write-back).
  b.past_period = b.period;
  b.past = std::move(b.current);
  b.period = p;
  b.current = std::make_shared<period_ranks>(detail::to_order(b.def.order));
  log::info("leaderboard: board '{}' reset: period {} begins", b.def.id, p);
}

EMBER_DECL period_ranks* service::live(board_state& b, std::int64_t period) {
  if (period == b.period) return b.current.get();
  if (period == b.past_period && b.past) return b.past.get();
  if (period == b.older_period && b.older) return b.older.get();
  return nullptr;
}

EMBER_DECL asio::awaitable<std::shared_ptr<period_ranks>> service::load(const board_state& b, std::int64_t period) {
  // One query over the board's period, read and ranked on a database worker: a million rows
  // never pass through the lookup lists or the io thread.
  const auto order = detail::to_order(b.def.order);
  auto job = [id = b.def.id, period, order](data::odbc::connection& c) {
    std::vector<rank_key> keys;
    auto idx = std::make_shared<period_ranks>(order);
    auto cur = c.prepare("SELECT owner, score, subscore, updated_ms, metadata FROM leaderboard_record WHERE board = ? AND period = ?")
                   .query(id, period);
    while (cur.next()) {
      keys.push_back({cur.get<std::int64_t>(1), cur.get<std::int64_t>(2), static_cast<std::uint64_t>(cur.get<std::int64_t>(3)),
                      static_cast<std::uint64_t>(cur.get<std::int64_t>(0))});
      if (auto m = cur.get<std::string>(4); !m.empty()) idx->metadata.emplace(keys.back().owner, std::move(m));
    }
    idx->assign(std::move(keys));
    return idx;
  };
  co_return co_await store_.db().run(std::move(job));
}

EMBER_DECL asio::awaitable<std::shared_ptr<const period_ranks>> service::ranks(board_state& b, std::int64_t period,
                                                                          std::int64_t& resolved) {
  if (period == 0) period = b.period;
  resolved = period;
  if (live(b, period)) {
    if (period == b.period) co_return b.current;
    co_return period == b.past_period ? b.past : b.older;
  }
  // An earlier period: a start of the schedule, at most past_periods back.
  if (!b.schedule || period < 0 || period > b.period || b.schedule->last_at_or_before(period) != period)
    el::fail(el::error::bad_period);
  std::int64_t p = b.period;
  std::uint32_t back = 0;
  while (p > period && back <= options_.past_periods) {
    p = b.schedule->last_at_or_before(p - 1);
    ++back;
  }
  if (p != period || back > options_.past_periods) el::fail(el::error::bad_period);
  auto loaded = co_await load(b, period);
  if (period != b.period) {  // (a reset may have come meanwhile: keep what is live)
    if (!live(b, period)) {
      b.older_period = period;
      b.older = loaded;
    }
  }
  co_return loaded;
}

EMBER_DECL std::vector<el::record> service::with_metadata(const period_ranks& idx, const std::vector<ranked>& rows) {
  std::vector<el::record> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(detail::to_record(r, idx.metadata_of(r.key.owner)));
  return out;
}

EMBER_DECL asio::awaitable<el::record> service::write(std::string board_id, std::uint64_t owner, write_request w,
                                                      bool from_client) {
  const auto in = co_await enter(board_id);
  auto* bp = &in.board();
  if (from_client && bp->def.authoritative) el::fail(el::error::authoritative);
  if (w.metadata.size() > bp->def.max_metadata || check_text(w.metadata, w.metadata.size() + 1, true, true) != text_problem::none)
    el::fail(el::error::bad_metadata);
  if (check_text(w.op_id, options_.max_op_id, false, true) != text_problem::none) el::fail(el::error::bad_op_id);
  auto op = w.op == el::write_operator::board ? bp->def.op : w.op;
  if (op != el::write_operator::best && op != el::write_operator::set && op != el::write_operator::incr &&
      op != el::write_operator::decr)
    el::fail(el::error::bad_operator);
  const auto period = bp->period;
  const auto key = record_key(board_id, period, owner);
  co_await store_.row_turns().acquire(key);
  detail::turn held{store_.row_turns(), key};

  const auto order = detail::to_order(bp->def.order);
  const auto now = clock_();
  bool changed = false;
  // The operator, on the record as stored (nullptr: none yet). Pure: update() may run it twice.
  auto apply = [&](const el::leaderboard_record* before, el::leaderboard_record& r) {
    changed = false;
    if (before && !w.op_id.empty() && before->op_id == w.op_id) return;  // a retry: once
    std::int64_t score = w.score, sub = w.subscore;
    if (before) {
      switch (op) {
        case el::write_operator::best: {
          const rank_index cmp(order);
          const rank_key mine{w.score, w.subscore, 0, 0}, theirs{before->score, before->subscore, 0, 0};
          const bool better = (mine.score != theirs.score || mine.subscore != theirs.subscore) && cmp.before(mine, theirs);
          if (!better) return;
          break;
        }
        case el::write_operator::set:
          break;
        case el::write_operator::incr:
          if (__builtin_add_overflow(before->score, w.score, &score) || __builtin_add_overflow(before->subscore, w.subscore, &sub))
            el::fail(el::error::score_overflow);
          break;
        default:
          if (__builtin_sub_overflow(before->score, w.score, &score) || __builtin_sub_overflow(before->subscore, w.subscore, &sub))
            el::fail(el::error::score_overflow);
          break;
      }
    } else if (op == el::write_operator::decr) {
      if (__builtin_sub_overflow(std::int64_t{0}, w.score, &score) || __builtin_sub_overflow(std::int64_t{0}, w.subscore, &sub))
        el::fail(el::error::score_overflow);
    }
    const bool moved = !before || score != before->score || sub != before->subscore;
    r.score = score;
    r.subscore = sub;
    if (moved) r.updated_ms = now;  // the time it reached this score: ties rank the earlier first
    r.metadata = w.metadata;
    r.op_id = w.op_id;
    changed = true;
  };

  auto* idx = live(*bp, period);
  std::optional<el::leaderboard_record> stored;
  if (!idx || !idx->find(owner)) {  // no record in memory: a new row (or one a reset left behind)
    el::leaderboard_record fresh(key, board_id, period, static_cast<std::int64_t>(owner));
    apply(nullptr, fresh);
    try {
      stored = co_await records_.insert(fresh);
    } catch (const data::data_error& e) {
      if (e.code() != data::data_errc::constraint) throw;
    }
  } else if (op == el::write_operator::best) {
    // The ranks in memory are the stored records': a score that is not better changes nothing.
    const auto have = *idx->find(owner);
    const rank_index cmp(order);
    const rank_key mine{w.score, w.subscore, 0, 0}, theirs{have.score, have.subscore, 0, 0};
    if (!((mine.score != theirs.score || mine.subscore != theirs.subscore) && cmp.before(mine, theirs)))
      co_return detail::to_record({idx->rank(owner), have}, idx->metadata_of(owner));
  }
  if (!stored) {
    stored = co_await records_.update(key, [&](el::leaderboard_record& r) {
      const el::leaderboard_record before = r;
      apply(&before, r);
    });
  }
  // The ranks follow the row as stored (a reset meanwhile: the period's ranks, if still held).
  auto& b = find(board_id);
  idx = live(b, period);
  const rank_key k = detail::key_of(*stored);
  if (idx && changed) idx->put(k, stored->metadata);
  const std::uint64_t r = idx ? idx->rank(owner) : 0;
  if (changed) bus_.publish(el::score_written(board_id, period, owner, stored->score, stored->subscore, r));
  co_return detail::to_record({r, k}, std::move(stored->metadata));
}

EMBER_DECL asio::awaitable<bool> service::remove(std::string board_id, std::uint64_t owner, bool from_client) {
  const auto in = co_await enter(board_id);
  auto* bp = &in.board();
  if (from_client && bp->def.authoritative) el::fail(el::error::authoritative);
  const auto period = bp->period;
  const auto key = record_key(board_id, period, owner);
  co_await store_.row_turns().acquire(key);
  detail::turn held{store_.row_turns(), key};
  const bool removed = co_await records_.remove(key);
  if (auto* idx = live(find(board_id), period)) idx->drop(owner);
  co_return removed;
}

EMBER_DECL asio::awaitable<page> service::top(std::string board_id, std::int64_t period, std::uint32_t limit,
                                              std::optional<el::record_cursor> after) {
  const auto in = co_await enter(board_id);
  auto& b = find(board_id);
  if (limit == 0 || limit > options_.max_page) limit = options_.max_page;
  page out;
  auto idx = co_await ranks(b, period, out.period);
  out.total = idx->size();
  std::vector<ranked> rows;
  if (after)
    rows = idx->page_after({after->score, after->subscore, static_cast<std::uint64_t>(after->updated_ms), after->owner}, limit);
  else
    rows = idx->page(1, limit);
  if (!rows.empty() && rows.back().rank < out.total) out.next = detail::to_cursor(rows.back().key);
  out.records = with_metadata(*idx, rows);
  co_return out;
}

EMBER_DECL asio::awaitable<page> service::around(std::string board_id, std::int64_t period, std::uint64_t owner,
                                                 std::uint32_t limit) {
  const auto in = co_await enter(board_id);
  auto& b = find(board_id);
  if (limit == 0 || limit > options_.max_page) limit = options_.max_page;
  page out;
  auto idx = co_await ranks(b, period, out.period);
  out.total = idx->size();
  auto rows = idx->around(owner, limit);
  if (!rows.empty() && rows.back().rank < out.total) out.next = detail::to_cursor(rows.back().key);
  out.records = with_metadata(*idx, rows);
  co_return out;
}

EMBER_DECL asio::awaitable<std::optional<el::record>> service::rank(std::string board_id, std::int64_t period,
                                                                    std::uint64_t owner) {
  const auto in = co_await enter(board_id);
  auto& b = find(board_id);
  std::int64_t resolved = 0;
  auto idx = co_await ranks(b, period, resolved);
  const auto k = idx->find(owner);
  if (!k) co_return std::nullopt;
  co_return detail::to_record({idx->rank(owner), *k}, idx->metadata_of(owner));
}

EMBER_DECL asio::awaitable<std::vector<el::record>> service::players(std::string board_id, std::int64_t period,
                                                                     std::vector<std::uint64_t> owners) {
  const auto in = co_await enter(board_id);
  auto& b = find(board_id);
  if (owners.size() > options_.max_players) el::fail(el::error::bad_limit);
  std::int64_t resolved = 0;
  auto idx = co_await ranks(b, period, resolved);
  std::vector<ranked> rows;
  std::unordered_set<std::uint64_t> seen;
  for (auto o : owners) {
    if (!seen.insert(o).second) continue;
    if (auto k = idx->find(o)) rows.push_back({idx->rank(o), *k});
  }
  std::sort(rows.begin(), rows.end(), [](const ranked& a, const ranked& b) { return a.rank < b.rank; });
  co_return with_metadata(*idx, rows);
}

EMBER_DECL asio::awaitable<std::vector<el::record>> service::friends(std::string board_id, std::int64_t period,
                                                                     std::uint64_t owner) {
  { const auto in = co_await enter(board_id); }
  if (!friends_) el::fail(el::error::no_friends);
  auto list = co_await friends_(owner);
  if (list.size() + 1 > options_.max_players) list.resize(options_.max_players - 1);
  list.push_back(owner);
  co_return co_await players(std::move(board_id), period, std::move(list));
}

EMBER_DECL asio::awaitable<std::pair<std::uint64_t, std::int64_t>> service::count(std::string board_id, std::int64_t period) {
  const auto in = co_await enter(board_id);
  auto& b = find(board_id);
  std::int64_t resolved = 0;
  auto idx = co_await ranks(b, period, resolved);
  co_return std::pair<std::uint64_t, std::int64_t>{idx->size(), resolved};
}

EMBER_DECL std::int64_t service::current_period(const std::string& board_id) { return find(board_id).period; }

EMBER_DECL std::size_t service::size(const std::string& board_id) const {
  auto it = state_.find(board_id);
  return it == state_.end() ? 0 : it->second->current->size();
}

// --- the client commands

EMBER_DECL std::uint64_t handler::signed_in(net::session& s) {
  const auto u = s.user();
  if (!u) el::fail(el::error::not_signed_in);
  return *u;
}

EMBER_DECL asio::awaitable<el::write_score_reply> handler::write_score(net::session& s, const el::write_score_request& req) {
  const auto who = signed_in(s);
  write_request w{req.score, req.subscore, req.metadata, req.write_op, req.op_id};
  co_return el::write_score_reply{co_await service_.write(req.board, who, std::move(w), true)};
}

EMBER_DECL asio::awaitable<el::list_top_reply> handler::list_top(net::session& s, const el::list_top_request& req) {
  signed_in(s);
  if (req.limit > service_.config().max_page) el::fail(el::error::bad_limit);
  auto p = co_await service_.top(req.board, req.period, req.limit, req.cursor);
  co_return el::list_top_reply(std::move(p.records), std::move(p.next), p.total, p.period);
}

EMBER_DECL asio::awaitable<el::list_around_reply> handler::list_around(net::session& s, const el::list_around_request& req) {
  const auto who = signed_in(s);
  if (req.limit > service_.config().max_page) el::fail(el::error::bad_limit);
  auto p = co_await service_.around(req.board, req.period, who, req.limit);
  co_return el::list_around_reply(std::move(p.records), p.total, p.period);
}

EMBER_DECL asio::awaitable<el::my_rank_reply> handler::my_rank(net::session& s, const el::my_rank_request& req) {
  const auto who = signed_in(s);
  auto r = co_await service_.rank(req.board, req.period, who);
  const auto [total, period] = co_await service_.count(req.board, req.period);
  co_return el::my_rank_reply(std::move(r), total, period);
}

EMBER_DECL asio::awaitable<el::list_players_reply> handler::list_players(net::session& s, const el::list_players_request& req) {
  signed_in(s);
  co_return el::list_players_reply{co_await service_.players(req.board, req.period, req.owners)};
}

EMBER_DECL asio::awaitable<el::list_friends_reply> handler::list_friends(net::session& s, const el::list_friends_request& req) {
  const auto who = signed_in(s);
  co_return el::list_friends_reply{co_await service_.friends(req.board, req.period, who)};
}

EMBER_DECL asio::awaitable<el::delete_score_reply> handler::delete_score(net::session& s, const el::delete_score_request& req) {
  const auto who = signed_in(s);
  co_return el::delete_score_reply{co_await service_.remove(req.board, who, true)};
}

}  // namespace ember::modules::leaderboard
