// ember: bodies of the matchmaking module (included by ember/modules/matchmaking/matchmaking.hpp,
// or compiled once into libember-matchmaking with EMBER_SEPARATE_COMPILATION).
#pragma once

#include "ember/modules/matchmaking/matchmaking.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <stdexcept>

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <sodium.h>

#include "ember/app/module_options.hpp"
#include "ember/cluster/rendezvous.hpp"
#include "ember/data/transaction.hpp"
#include "ember/log.hpp"
#include "ember/modules/detail/rows.hpp"
#include "ember/modules/text.hpp"
#include "ember/net/detail/use_tuple.hpp"

namespace ember::modules::matchmaking {

namespace em = ember_matchmaking;

namespace detail {

/// A ticket row's `match_id` once the ticket ended without a match (no match id is this).
inline const std::string ended = "-";
/// Code points of a party id a client sends (ours are 25).
inline constexpr std::size_t max_id = 32;
/// How often an operation reads again after another writer changed what it read.
inline constexpr int attempts = 20;

/// A fresh id: `prefix` and 96 random bits in hex.
inline std::string random_id(char prefix) {
  unsigned char bytes[12];
  randombytes_buf(bytes, sizeof bytes);
  char hex[sizeof bytes * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, bytes, sizeof bytes);
  return std::string(1, prefix) + hex;
}

inline bool has(const std::vector<std::uint64_t>& v, std::uint64_t x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

inline std::int64_t key(std::uint64_t user) { return static_cast<std::int64_t>(user); }

inline void check_user(std::uint64_t user) {
  if (user == 0 || user > static_cast<std::uint64_t>(INT64_MAX)) em::fail(em::error::not_signed_in);
}

[[noreturn]] inline void contended(const char* what) {
  throw data::data_error(data::data_errc::contention, std::string("matchmaking: ") + what + ": other writers kept changing it");
}

/// What a match's transaction throws when one of its tickets is no longer waiting (ended,
/// matched by another owner, or a member moved on): that ticket leaves the match.
struct ticket_gone : std::runtime_error {
  explicit ticket_gone(std::string t) : std::runtime_error("matchmaking: ticket " + t + " is gone"), id(std::move(t)) {}
  std::string id;
};

inline double number(std::string_view s, std::string_view what) {
  try {
    std::size_t used = 0;
    const double v = std::stod(std::string(s), &used);
    if (used != s.size() || !std::isfinite(v) || v < 0) throw std::invalid_argument("");
    return v;
  } catch (const std::exception&) {
    throw std::invalid_argument(std::string(what) + ": '" + std::string(s) + "' is not a number >= 0");
  }
}

inline std::int64_t whole(std::string_view s, std::string_view what, std::int64_t lo, std::int64_t hi) {
  const double v = number(s, what);
  if (v != std::floor(v) || v < static_cast<double>(lo) || v > static_cast<double>(hi))
    throw std::invalid_argument(std::string(what) + ": '" + std::string(s) + "' is not a whole number in " +
                                std::to_string(lo) + ".." + std::to_string(hi));
  return static_cast<std::int64_t>(v);
}

inline std::vector<std::string_view> split(std::string_view s, char by) {
  std::vector<std::string_view> out;
  std::size_t at = 0;
  while (at <= s.size()) {
    auto end = s.find(by, at);
    if (end == std::string_view::npos) end = s.size();
    if (end > at) out.push_back(s.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

inline void check_name(std::string_view name, std::string_view what) {
  if (check_text(name, 32) != text_problem::none || name.find_first_of(" =,:") != std::string_view::npos)
    throw std::invalid_argument(std::string(what) + " '" + std::string(name) +
                                "' must be 1..32 characters without spaces, '=', ',' or ':'");
}

}  // namespace detail

struct service::player_change {
  std::uint64_t user;
  std::string expect;  ///< the row's party as read (the change is stale otherwise)
  std::string party;   ///< what it becomes
};

/// A player's party as read: the player row's `party` (maybe stale), and the party if the
/// player really is in it, with the bytes its row held.
struct service::current_party {
  std::string row_party;
  std::vector<std::byte> bytes;
  std::optional<em::party> party;
};

EMBER_DECL std::string pool_owner(std::string_view mode, std::span<const std::string> instances) {
  const auto i = cluster::rendezvous_pick(cluster::name_hash(mode), instances,
                                          [](const std::string& name) { return cluster::name_hash(name); });
  return i < instances.size() ? instances[i] : std::string();
}

EMBER_DECL mode options::parse_mode(std::string_view spec) {
  const auto words = detail::split(spec, ' ');
  if (words.empty()) throw std::invalid_argument("a mode needs an id");
  mode m;
  m.id = std::string(words[0]);
  detail::check_name(m.id, "mode id");
  const auto what = [&](std::string_view k) { return "mode '" + m.id + "': " + std::string(k); };
  for (std::size_t i = 1; i < words.size(); ++i) {
    const auto eq = words[i].find('=');
    if (eq == std::string_view::npos) throw std::invalid_argument(what(words[i]) + ": expected KEY=VALUE");
    const auto k = words[i].substr(0, eq), v = words[i].substr(eq + 1);
    if (k == "min") m.min = static_cast<std::uint32_t>(detail::whole(v, what(k), 1, 1000));
    else if (k == "max") m.max = static_cast<std::uint32_t>(detail::whole(v, what(k), 1, 1000));
    else if (k == "multiple") m.multiple = static_cast<std::uint32_t>(detail::whole(v, what(k), 1, 1000));
    else if (k == "timeout_ms") m.timeout_ms = detail::whole(v, what(k), 1, 86'400'000);
    else if (k == "fill_wait_ms") m.fill_wait_ms = detail::whole(v, what(k), 0, 86'400'000);
    else if (k == "exact") {
      for (auto name : detail::split(v, ',')) {
        detail::check_name(name, what("exact property"));
        m.exact.emplace_back(name);
      }
    } else if (k == "range") {
      const auto parts = detail::split(v, ':');
      if (parts.size() != 4) throw std::invalid_argument(what(k) + ": expected NAME:INITIAL:WIDEN_PER_S:MAX");
      detail::check_name(parts[0], what("range property"));
      range r{std::string(parts[0]), detail::number(parts[1], what("range initial")),
              detail::number(parts[2], what("range widen_per_s")), detail::number(parts[3], what("range max"))};
      if (r.max < r.initial) throw std::invalid_argument(what(k) + ": MAX is below INITIAL");
      m.ranges.push_back(std::move(r));
    } else {
      throw std::invalid_argument(what(k) + ": unknown key (min, max, multiple, exact, range, timeout_ms, fill_wait_ms)");
    }
  }
  return m;
}

EMBER_DECL options options::read(app::module_options& o) {
  options out;
  for (const auto& spec : o.texts("modes")) {
    try {
      out.modes.push_back(parse_mode(spec));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("config.json: modules.matchmaking.modes: ") + e.what());
    }
  }
  out.max_party = o.count("max_party", out.max_party, 1, 1000);
  out.max_invites = o.count("max_invites", out.max_invites, 1, 1000);
  out.max_tickets = o.count("max_tickets", out.max_tickets, 1, 10'000'000);
  out.max_value = o.count("max_value", static_cast<std::uint32_t>(out.max_value), 1, 1024);
  out.interval = o.duration_ms("interval_ms", out.interval);
  out.scan_limit = o.count("scan_limit", out.scan_limit, 1, 1'000'000);
  o.done();
  return out;
}

EMBER_DECL service::service(data::store& store, event_bus& bus, players& p, options o, hooks h)
    : store_(store), bus_(bus), players_(p), options_(std::move(o)), hooks_(std::move(h)), player_rows_(store),
      parties_(store), tickets_(store), matches_(store) {
  if (sodium_init() < 0) throw std::runtime_error("matchmaking: libsodium failed to start");
  if (options_.interval.count() <= 0) throw std::invalid_argument("matchmaking: the interval must be positive");
  for (const auto& m : options_.modes) {
    detail::check_name(m.id, "matchmaking: mode id");
    const auto bad = [&](const std::string& why) { throw std::invalid_argument("matchmaking: mode '" + m.id + "': " + why); };
    if (m.min == 0 || m.min > m.max) bad("min must be 1..max");
    if (m.multiple == 0) bad("multiple must be at least 1");
    bool some_size = false;
    for (auto s = m.min; s <= m.max; ++s) some_size = some_size || s % m.multiple == 0;
    if (!some_size) bad("no size in min..max is a multiple of `multiple`");
    if (m.timeout_ms <= 0) bad("timeout_ms must be positive");
    std::vector<std::string> names = m.exact;
    for (const auto& r : m.ranges) {
      if (!(r.initial >= 0 && r.widen_per_s >= 0 && r.max >= r.initial && std::isfinite(r.max)))
        bad("range '" + r.name + "': needs 0 <= initial <= max, widen_per_s >= 0");
      names.push_back(r.name);
    }
    std::sort(names.begin(), names.end());
    if (std::adjacent_find(names.begin(), names.end()) != names.end()) bad("a property is named twice");
    if (!pools_.emplace(m.id, pool(m, options_.scan_limit)).second) bad("defined twice");
  }
}

EMBER_DECL service::~service() = default;

EMBER_DECL std::int64_t service::now_ms() const {
  return hooks_.clock ? hooks_.clock() : static_cast<std::int64_t>(data::unix_ms());
}

EMBER_DECL bool service::owns(const std::string& mode) const { return !hooks_.owns || hooks_.owns(mode); }

EMBER_DECL std::size_t service::waiting(const std::string& mode) const {
  auto it = pools_.find(mode);
  return it == pools_.end() ? 0 : it->second.size();
}

// --- start and intervals

EMBER_DECL asio::awaitable<void> service::start() {
  // Every ticket this process acknowledged must be in the database before the pools are read
  // from it: store.open() wrote back what its journal replayed; this writes what came since.
  co_await store_.flush_all();
  auto index_job = [](data::odbc::connection& c) {
    c.execute("CREATE INDEX IF NOT EXISTS matchmaking_ticket_mode ON matchmaking_ticket (mode)");
  };
  co_await store_.db().run(std::move(index_job));
  for (auto& [id, p] : pools_)
    if (owns(id)) co_await rebuild(id, p);
  started_ = true;
}

EMBER_DECL asio::awaitable<void> service::rebuild(const std::string& id, pool& p) {
  auto job = [mode = id](data::odbc::connection& c) {
    std::vector<std::string> ids;
    auto cur = c.prepare("SELECT id FROM matchmaking_ticket WHERE mode = ?").query(mode);
    while (cur.next()) ids.push_back(cur.get<std::string>(0));
    return ids;
  };
  const auto ids = co_await store_.db().run(std::move(job));
  std::size_t kept = 0, dropped = 0;
  constexpr std::size_t chunk = 500;
  for (std::size_t at = 0; at < ids.size(); at += chunk) {
    std::vector<std::string> some(ids.begin() + static_cast<std::ptrdiff_t>(at),
                                  ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), at + chunk)));
    // The cache holds the newest of each row (the database may lag behind it).
    const auto rows = co_await tickets_.get_many(some);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (!rows[i] || p.contains(some[i])) continue;  // (queued here during a takeover: kept)
      if (!rows[i]->match_id.empty()) {  // matched or ended before the restart: done with
        co_await tickets_.remove(some[i]);
        continue;
      }
      auto t = modules::detail::from_bytes<em::ticket>(rows[i]->ticket, "matchmaking: a stored ticket");
      std::vector<std::int64_t> keys;
      for (auto u : t.members) keys.push_back(detail::key(u));
      const auto members = co_await player_rows_.get_many(keys);
      const bool held = std::all_of(members.begin(), members.end(), [&](const auto& r) { return r && r->ticket == t.id; });
      if (held && p.add(t)) {
        ++kept;
      } else {
        co_await end_ticket(t.id, em::end_reason::party_changed);  // a member moved on meanwhile
        ++dropped;
      }
    }
  }
  log::info("matchmaking: mode '{}': {} tickets back in the pool, {} dropped", id, kept, dropped);
}

EMBER_DECL asio::awaitable<void> service::adopt(std::string mode) {
  if (!started_) throw std::logic_error("matchmaking: service::start() first");
  auto it = pools_.find(mode);
  if (it == pools_.end()) em::fail(em::error::unknown_mode);
  // One takeover of a pool at a time in this process.
  const auto turn_key = "matchmaking-adopt:" + mode;
  co_await store_.row_turns().acquire(turn_key);
  struct turn {
    data::row_queue& q;
    std::string key;
    ~turn() { q.release(key); }
  } held{store_.row_turns(), turn_key};
  if (adopted_.contains(mode)) co_return;
  // The last owner's newest ticket rows may not be in the database yet (a kill -9 leaves them
  // in memcached and its journal): read once every writer has written back what it
  // acknowledged before this moment.
  const auto since = data::unix_ms();
  co_await store_.flush_all();
  co_await store_.fence().caught_up(since, "matchmaking: taking the pool of mode '" + mode + "' over");
  co_await rebuild(mode, it->second);
  adopted_.insert(mode);
}

EMBER_DECL asio::awaitable<void> service::drop(std::string mode) {
  auto it = pools_.find(mode);
  if (it == pools_.end()) co_return;
  adopted_.erase(mode);
  asio::steady_timer wait(co_await asio::this_coro::executor);
  while (queueing_[mode] != 0) {  // a ticket being queued reaches its row before the move
    wait.expires_after(std::chrono::milliseconds(1));
    co_await wait.async_wait(asio::use_awaitable);
  }
  co_await store_.flush_all();
  it->second = pool(it->second.definition(), options_.scan_limit);
  log::info("matchmaking: the pool of mode '{}' moves to another process", mode);
}

EMBER_DECL asio::awaitable<void> service::run() {
  timer_ = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor);
  const auto timer = timer_;
  while (!stopped_) {
    timer->expires_after(options_.interval);
    co_await timer->async_wait(net::detail::use_tuple);
    if (stopped_) break;
    try {
      co_await tick();
    } catch (const std::exception& e) {
      log::warn("matchmaking: an interval failed: {}", e.what());
    }
  }
}

EMBER_DECL void service::stop() {
  stopped_ = true;
  if (timer_) timer_->cancel();
}

EMBER_DECL asio::awaitable<std::vector<em::match>> service::tick() {
  if (!started_) throw std::logic_error("matchmaking: service::start() first");
  std::vector<em::match> out;
  if (ticking_) co_return out;  // one interval at a time
  ticking_ = true;
  struct reset {
    bool& flag;
    ~reset() { flag = false; }
  } guard{ticking_};
  const auto now = now_ms();
  for (auto& [id, p] : pools_) {
    if (!owns(id)) continue;
    // Named, not temporaries of the range-for: they live across co_await.
    auto expired = p.expire(now);
    for (auto& t : expired) co_await end_ticket(t.id, em::end_reason::expired);
    auto groups = p.match(now);
    for (auto& group : groups) {
      std::optional<em::match> m;
      bool failed = false;
      try {
        m = co_await commit_match(group, now);
      } catch (const std::exception& e) {
        // The data layer failed (memcached or the database away): the tickets wait on; a
        // ticket whose match was stored after all is refused by its row at the next try.
        log::warn("matchmaking: a match of mode '{}' was not stored: {}", id, e.what());
        failed = true;
      }
      if (failed)
        for (const auto& t : group) p.add(t);  // (those back already are not added twice)
      if (m) out.push_back(std::move(*m));
    }
  }
  co_return out;
}

EMBER_DECL asio::awaitable<std::optional<em::match>> service::commit_match(const std::vector<em::ticket>& group,
                                                                          std::int64_t now) {
  auto& p = pools_.at(group.front().mode);
  const auto put_back = [&](const std::string& except) {
    for (auto& t : group)
      if (t.id != except) p.add(t);
  };
  auto m = std::make_shared<em::match>();
  m->id = detail::random_id('m');
  m->mode = group.front().mode;
  m->made_ms = now;
  for (const auto& t : group)
    for (auto u : t.members) m->members.emplace_back(u, t.id, t.party);
  if (hooks_.host) {
    try {
      m->server = co_await hooks_.host(*m);
    } catch (const std::exception& e) {
      log::warn("matchmaking: the host hook refused match {} ({}): its tickets wait for the next interval", m->id, e.what());
      put_back("");
      co_return std::nullopt;
    }
  }
  // The match first: once its tickets name it, it must be there to read.
  co_await matches_.insert(em::matchmaking_match(m->id, modules::detail::to_bytes(*m)));
  std::vector<std::optional<em::matchmaking_party>> party_rows;
  for (const auto& t : group) {  // (no co_await inside ?: — g++ 12 miscompiles it)
    std::optional<em::matchmaking_party> row;
    if (!t.party.empty()) row = co_await parties_.get(t.party);
    party_rows.push_back(std::move(row));
  }
  data::change_set tx;
  for (const auto& t : group) {
    auto row = tx.row(tickets_, t.id);
    tx.step([row, id = t.id, mid = m->id] {
      if (!row->match_id.empty()) throw detail::ticket_gone(id);  // ended, or matched elsewhere
      row->match_id = mid;
    });
  }
  for (std::size_t i = 0; i < group.size(); ++i) {
    const auto& t = group[i];
    for (auto u : t.members) {
      auto row = tx.row(player_rows_, detail::key(u));
      tx.step([row, id = t.id, mid = m->id] {
        if (row->ticket != id) throw detail::ticket_gone(id);  // the member let go of it
        row->ticket.clear();
        row->match_id = mid;
      });
    }
    if (party_rows[i] && !party_rows[i]->state.empty()) {
      auto row = tx.row(parties_, t.party);
      tx.step([row, id = t.id] {
        if (row->state.empty()) return;
        auto party = modules::detail::from_bytes<em::party>(row->state, "matchmaking: a stored party");
        if (party.ticket != id) return;
        party.ticket.clear();
        row->state = modules::detail::to_bytes(party);
      });
    }
  }
  tx.on_commit([this, m] {
    for (const auto& member : m->members) players_.push(member.user, em::matched(*m));
    bus_.publish(em::match_made(*m));
    if (hooks_.on_matched) hooks_.on_matched(*m);
  });
  std::string gone;          // a ticket no longer waiting
  bool row_removed = false;  // a ticket row was removed (ended by another process)
  try {
    co_await data::transact(store_, tx);
  } catch (const detail::ticket_gone& g) {
    gone = g.id;
  } catch (const data::data_error& e) {
    if (e.code() != data::data_errc::not_found) {
      put_back("");
      throw;  // (the orphan match row is never read: no ticket names it)
    }
    row_removed = true;
  }
  if (!gone.empty()) {
    co_await matches_.remove(m->id);
    co_await end_ticket(gone, em::end_reason::party_changed);  // no-op if it ended already
    put_back(gone);
    co_return std::nullopt;
  }
  if (row_removed) {
    co_await matches_.remove(m->id);
    std::vector<std::string> ids;
    for (const auto& t : group) ids.push_back(t.id);
    const auto rows = co_await tickets_.get_many(ids);
    for (std::size_t i = 0; i < rows.size(); ++i)
      if (rows[i] && rows[i]->match_id.empty()) p.add(group[i]);
    co_return std::nullopt;
  }
  for (const auto& t : group) co_await tickets_.remove(t.id);  // matched: nothing to rebuild
  co_return std::move(*m);
}

// --- parties

EMBER_DECL asio::awaitable<void> service::ensure_player(std::uint64_t user) {
  co_await modules::detail::insert_if_absent(player_rows_, em::matchmaking_player(detail::key(user), "", "", ""));
}

EMBER_DECL asio::awaitable<service::current_party> service::party_row(std::uint64_t user) {
  detail::check_user(user);
  current_party out;
  auto row = co_await player_rows_.get(detail::key(user));
  if (!row) co_return out;  // never in a party (the row is made when one is joined)
  out.row_party = row->party;
  if (row->party.empty()) co_return out;
  auto pr = co_await parties_.get(row->party);
  if (!pr || pr->state.empty()) co_return out;  // the party ended: the row's name is stale
  auto p = modules::detail::from_bytes<em::party>(pr->state, "matchmaking: a stored party");
  if (!detail::has(p.members, user)) co_return out;
  out.bytes = std::move(pr->state);
  out.party = std::move(p);
  co_return out;
}

EMBER_DECL asio::awaitable<bool> service::commit_party(const std::string& id, std::vector<std::byte> before,
                                                       std::vector<std::byte> after,
                                                       std::vector<player_change> changes) {
  data::change_set tx;
  auto row = tx.row(parties_, id);
  tx.step([row, before = std::move(before), after = std::move(after)] {
    if (row->state != before) throw data::stale_read();
    row->state = after;
  });
  for (auto& c : changes) {
    auto p = tx.row(player_rows_, detail::key(c.user));
    tx.step([p, c] {
      if (p->party != c.expect) throw data::stale_read();
      p->party = c.party;
    });
  }
  try {
    co_await data::transact(store_, tx);
  } catch (const data::stale_read&) {
    co_return false;
  } catch (const data::data_error& e) {
    if (e.code() != data::data_errc::not_found) throw;
    co_return false;  // the party ended meanwhile
  }
  co_return true;
}

EMBER_DECL void service::push_party(const em::party& p, std::uint64_t also_gone) {
  for (auto u : p.members) players_.push(u, em::party_changed(p));
  if (also_gone) players_.push(also_gone, em::party_changed(std::nullopt));
}

EMBER_DECL asio::awaitable<em::party> service::create_party(std::uint64_t user) {
  detail::check_user(user);
  co_await ensure_player(user);
  for (int i = 0; i < detail::attempts; ++i) {
    auto cur = co_await party_row(user);
    if (cur.party) em::fail(em::error::in_party);
    em::party p(detail::random_id('p'), user, {user}, {}, options_.max_party, "");
    auto bytes = modules::detail::to_bytes(p);
    co_await parties_.insert(em::matchmaking_party(p.id, bytes));
    std::vector<player_change> joins{player_change{user, cur.row_party, p.id}};
    if (co_await commit_party(p.id, bytes, bytes, std::move(joins))) {
      push_party(p);
      co_return p;
    }
    co_await parties_.remove(p.id);
  }
  detail::contended("create_party");
}

EMBER_DECL asio::awaitable<em::party> service::invite(std::uint64_t leader, std::uint64_t user) {
  detail::check_user(user);
  for (int i = 0; i < detail::attempts; ++i) {
    auto cur = co_await party_row(leader);
    if (!cur.party) em::fail(em::error::no_party);
    auto p = *cur.party;
    if (p.leader != leader) em::fail(em::error::not_leader);
    if (detail::has(p.members, user)) em::fail(em::error::in_party);
    if (detail::has(p.invited, user)) co_return p;  // invited already: one invitation
    if (p.members.size() >= p.max_size || p.invited.size() >= options_.max_invites) em::fail(em::error::party_full);
    p.invited.push_back(user);
    if (co_await commit_party(p.id, cur.bytes, modules::detail::to_bytes(p), std::vector<player_change>())) {
      players_.push(user, em::party_invited(p.id, leader));
      push_party(p);
      co_return p;
    }
  }
  detail::contended("invite");
}

EMBER_DECL asio::awaitable<em::party> service::accept(std::uint64_t user, std::string id) {
  if (check_text(id, detail::max_id) != text_problem::none) em::fail(em::error::not_invited);
  detail::check_user(user);
  co_await ensure_player(user);
  for (int i = 0; i < detail::attempts; ++i) {
    auto cur = co_await party_row(user);
    if (cur.party) {
      if (cur.party->id == id) co_return *cur.party;  // a retry: joined already
      em::fail(em::error::in_party);
    }
    auto row = co_await parties_.get(id);
    if (!row || row->state.empty()) em::fail(em::error::not_invited);
    auto p = modules::detail::from_bytes<em::party>(row->state, "matchmaking: a stored party");
    if (!detail::has(p.invited, user)) em::fail(em::error::not_invited);
    if (!p.ticket.empty()) em::fail(em::error::party_queued);
    if (p.members.size() >= p.max_size) em::fail(em::error::party_full);
    std::erase(p.invited, user);
    p.members.push_back(user);
    std::vector<player_change> joins{player_change{user, cur.row_party, id}};
    if (co_await commit_party(id, row->state, modules::detail::to_bytes(p), std::move(joins))) {
      push_party(p);
      co_return p;
    }
  }
  detail::contended("accept");
}

EMBER_DECL asio::awaitable<bool> service::leave_party(std::uint64_t user) { co_return co_await remove_member(user, user); }

EMBER_DECL asio::awaitable<bool> service::remove_member(std::uint64_t user, std::uint64_t by) {
  std::string ended_ticket;
  for (int i = 0; i < detail::attempts; ++i) {
    auto cur = co_await party_row(user);
    if (!cur.party) co_return false;
    auto p = *cur.party;
    if (by != user && p.leader != by) co_return false;  // kicked from a party `by` no longer leads
    if (!p.ticket.empty() && p.ticket != ended_ticket) {
      // A party that changes leaves its pool (as in Nakama): its ticket ends for every member.
      ended_ticket = p.ticket;
      co_await end_ticket(p.ticket, em::end_reason::party_changed);
      continue;
    }
    p.ticket.clear();
    std::erase(p.members, user);
    if (p.leader == user && !p.members.empty()) p.leader = p.members.front();
    const bool last = p.members.empty();
    std::vector<player_change> leaves{player_change{user, cur.row_party, ""}};
    auto after = last ? std::vector<std::byte>() : modules::detail::to_bytes(p);
    if (co_await commit_party(p.id, cur.bytes, std::move(after), std::move(leaves))) {
      if (last) co_await parties_.remove(p.id);
      push_party(p, user);
      co_return true;
    }
  }
  detail::contended("leave_party");
}

EMBER_DECL asio::awaitable<em::party> service::leader_change(std::uint64_t leader, std::uint64_t user, bool kick) {
  detail::check_user(user);
  for (int i = 0; i < detail::attempts; ++i) {
    auto cur = co_await party_row(leader);
    if (!cur.party) em::fail(em::error::no_party);
    auto p = *cur.party;
    if (p.leader != leader) em::fail(em::error::not_leader);
    if (kick && detail::has(p.invited, user)) {  // withdraws an invitation
      std::erase(p.invited, user);
    } else if (user == leader || !detail::has(p.members, user)) {
      if (user == leader && !kick) co_return p;  // the leader already
      em::fail(em::error::not_member);
    } else if (kick) {
      co_await remove_member(user, leader);
      if (auto after = co_await party_row(leader); after.party) co_return *after.party;
      em::fail(em::error::no_party);
    } else {
      std::erase(p.members, user);
      p.members.insert(p.members.begin(), user);
      p.leader = user;
    }
    if (co_await commit_party(p.id, cur.bytes, modules::detail::to_bytes(p), std::vector<player_change>())) {
      push_party(p);
      co_return p;
    }
  }
  detail::contended(kick ? "kick" : "promote");
}

EMBER_DECL asio::awaitable<em::party> service::promote(std::uint64_t leader, std::uint64_t user) {
  co_return co_await leader_change(leader, user, false);
}

EMBER_DECL asio::awaitable<em::party> service::kick(std::uint64_t leader, std::uint64_t user) {
  co_return co_await leader_change(leader, user, true);
}

EMBER_DECL asio::awaitable<std::optional<em::party>> service::party_of(std::uint64_t user) {
  co_return (co_await party_row(user)).party;
}

// --- tickets

EMBER_DECL asio::awaitable<std::string> service::ticket_of(const em::matchmaking_player& row) {
  if (row.ticket.empty()) co_return std::string();
  auto t = co_await tickets_.get(row.ticket);
  if (!t || !t->match_id.empty()) co_return std::string();  // ended or matched: stale
  // A ticket past its mode's timeout, or of a mode no longer defined, holds nobody back even
  // when no owner is there to end it (the owner drops it when it finds it).
  auto it = pools_.find(t->mode);
  if (it == pools_.end()) co_return std::string();
  const auto ticket = modules::detail::from_bytes<em::ticket>(t->ticket, "matchmaking: a stored ticket");
  if (now_ms() - ticket.created_ms >= it->second.definition().timeout_ms) co_return std::string();
  co_return row.ticket;
}

EMBER_DECL asio::awaitable<em::ticket> service::queue(std::uint64_t user, std::string mode_id,
                                                     std::vector<em::string_property> strings,
                                                     std::vector<em::number_property> numbers) {
  detail::check_user(user);
  if (!started_) throw std::logic_error("matchmaking: service::start() first");
  auto it = pools_.find(mode_id);
  if (it == pools_.end()) em::fail(em::error::unknown_mode);
  if (!owns(mode_id) && hooks_.claim) co_await hooks_.claim(mode_id);
  if (!owns(mode_id)) em::fail(em::error::not_owner);
  ++queueing_[mode_id];  // a `drop` of the pool waits for this call
  struct running {
    std::size_t& n;
    ~running() { --n; }
  } counted{queueing_[mode_id]};
  auto& p = it->second;
  const auto& m = p.definition();
  // Exactly the mode's properties, each once: nothing unknown, nothing missing.
  if (strings.size() != m.exact.size() || numbers.size() != m.ranges.size()) em::fail(em::error::bad_properties);
  for (const auto& name : m.exact) {
    const auto n = std::count_if(strings.begin(), strings.end(), [&](const auto& s) { return s.name == name; });
    const auto v = std::find_if(strings.begin(), strings.end(), [&](const auto& s) { return s.name == name; });
    if (n != 1 || check_text(v->value, options_.max_value) != text_problem::none) em::fail(em::error::bad_properties);
  }
  for (const auto& r : m.ranges) {
    const auto n = std::count_if(numbers.begin(), numbers.end(), [&](const auto& x) { return x.name == r.name; });
    const auto v = std::find_if(numbers.begin(), numbers.end(), [&](const auto& x) { return x.name == r.name; });
    if (n != 1 || !std::isfinite(v->value)) em::fail(em::error::bad_properties);
  }
  for (int i = 0; i < detail::attempts; ++i) {
    auto cur = co_await party_row(user);
    std::vector<std::uint64_t> members{user};
    if (cur.party) {
      if (cur.party->leader != user) em::fail(em::error::not_leader);
      members = cur.party->members;
    }
    if (members.size() > m.max) em::fail(em::error::party_too_big);
    if (p.size() >= options_.max_tickets) em::fail(em::error::queue_full);
    std::vector<std::int64_t> keys;
    for (auto u : members) {
      co_await ensure_player(u);
      keys.push_back(detail::key(u));
    }
    const auto rows = co_await player_rows_.get_many(keys);
    std::vector<std::string> expect;
    for (const auto& r : rows) {
      if (!r) detail::contended("queue");  // (a player row is never removed)
      if (!(co_await ticket_of(*r)).empty()) em::fail(em::error::already_queued);
      expect.push_back(r->ticket);
    }
    em::ticket t(detail::random_id('t'), mode_id, user, cur.party ? cur.party->id : "", members, strings, numbers, now_ms());
    co_await tickets_.insert(em::matchmaking_ticket(t.id, mode_id, modules::detail::to_bytes(t), ""));
    data::change_set tx;
    for (std::size_t k = 0; k < members.size(); ++k) {
      auto row = tx.row(player_rows_, keys[k]);
      tx.step([row, was = expect[k], id = t.id] {
        if (row->ticket != was) throw data::stale_read();
        row->ticket = id;
      });
    }
    if (cur.party) {
      auto row = tx.row(parties_, cur.party->id);
      auto queued = *cur.party;
      queued.ticket = t.id;
      tx.step([row, was = cur.bytes, now = modules::detail::to_bytes(queued)] {
        if (row->state != was) throw data::stale_read();
        row->state = now;
      });
    }
    bool stored = false;
    try {
      co_await data::transact(store_, tx);
      stored = true;
    } catch (const data::stale_read&) {
    } catch (const data::data_error& e) {
      if (e.code() != data::data_errc::not_found) throw;
    }
    if (!stored) {
      co_await tickets_.remove(t.id);
      continue;
    }
    p.add(t);
    co_return t;
  }
  detail::contended("queue");
}

EMBER_DECL asio::awaitable<bool> service::end_ticket(std::string id, em::end_reason why) {
  for (int i = 0; i < detail::attempts; ++i) {
    auto row = co_await tickets_.get(id);
    if (!row || !row->match_id.empty()) {
      for (auto& [mode, p] : pools_) p.remove(id);  // ended elsewhere: forget it here too
      co_return false;
    }
    const auto t = modules::detail::from_bytes<em::ticket>(row->ticket, "matchmaking: a stored ticket");
    std::optional<em::matchmaking_party> party;
    if (!t.party.empty()) party = co_await parties_.get(t.party);
    data::change_set tx;
    auto trow = tx.row(tickets_, id);
    tx.step([trow] {
      if (!trow->match_id.empty()) throw data::stale_read();  // matched meanwhile: read again
      trow->match_id = detail::ended;
    });
    for (auto u : t.members) {
      auto prow = tx.row(player_rows_, detail::key(u));
      tx.step([prow, id] {
        if (prow->ticket == id) prow->ticket.clear();
      });
    }
    if (party && !party->state.empty()) {
      auto prow = tx.row(parties_, t.party);
      tx.step([prow, id] {
        if (prow->state.empty()) return;
        auto p = modules::detail::from_bytes<em::party>(prow->state, "matchmaking: a stored party");
        if (p.ticket != id) return;
        p.ticket.clear();
        prow->state = modules::detail::to_bytes(p);
      });
    }
    try {
      co_await data::transact(store_, tx);
    } catch (const data::stale_read&) {
      continue;
    } catch (const data::data_error& e) {
      if (e.code() != data::data_errc::not_found) throw;
      continue;
    }
    if (auto p = pools_.find(t.mode); p != pools_.end()) p->second.remove(id);
    for (auto u : t.members) players_.push(u, em::ticket_ended(id, why));
    co_await tickets_.remove(id);  // ended: nothing to rebuild
    co_return true;
  }
  detail::contended("end a ticket");
}

EMBER_DECL asio::awaitable<bool> service::unqueue(std::uint64_t user) {
  detail::check_user(user);
  auto row = co_await player_rows_.get(detail::key(user));
  if (!row) co_return false;
  const auto id = co_await ticket_of(*row);
  if (id.empty()) co_return false;
  co_return co_await end_ticket(id, em::end_reason::cancelled);
}

EMBER_DECL asio::awaitable<status> service::status_of(std::uint64_t user) {
  detail::check_user(user);
  status out;
  auto row = co_await player_rows_.get(detail::key(user));
  if (!row) co_return out;
  if (const auto id = co_await ticket_of(*row); !id.empty())
    if (auto t = co_await tickets_.get(id))
      out.ticket = modules::detail::from_bytes<em::ticket>(t->ticket, "matchmaking: a stored ticket");
  if (!row->match_id.empty())
    if (auto m = co_await matches_.get(row->match_id))
      out.match = modules::detail::from_bytes<em::match>(m->state, "matchmaking: a stored match");
  co_return out;
}

EMBER_DECL asio::awaitable<void> service::disconnected(std::uint64_t user) {
  detail::check_user(user);
  if (auto row = co_await player_rows_.get(detail::key(user))) {
    if (auto id = co_await ticket_of(*row); !id.empty()) co_await end_ticket(id, em::end_reason::disconnected);
  }
  co_await leave_party(user);
}

// --- the client commands

EMBER_DECL asio::awaitable<em::create_party_reply> handler::create_party(net::session& s, const em::create_party_request&) {
  co_return em::create_party_reply{co_await service_.create_party(signed_in(s))};
}

EMBER_DECL asio::awaitable<em::invite_reply> handler::invite(net::session& s, const em::invite_request& r) {
  co_return em::invite_reply{co_await service_.invite(signed_in(s), r.user)};
}

EMBER_DECL asio::awaitable<em::accept_reply> handler::accept(net::session& s, const em::accept_request& r) {
  co_return em::accept_reply{co_await service_.accept(signed_in(s), r.party)};
}

EMBER_DECL asio::awaitable<em::leave_party_reply> handler::leave_party(net::session& s, const em::leave_party_request&) {
  co_return em::leave_party_reply{co_await service_.leave_party(signed_in(s))};
}

EMBER_DECL asio::awaitable<em::promote_reply> handler::promote(net::session& s, const em::promote_request& r) {
  co_return em::promote_reply{co_await service_.promote(signed_in(s), r.user)};
}

EMBER_DECL asio::awaitable<em::kick_reply> handler::kick(net::session& s, const em::kick_request& r) {
  co_return em::kick_reply{co_await service_.kick(signed_in(s), r.user)};
}

EMBER_DECL asio::awaitable<em::my_party_reply> handler::my_party(net::session& s, const em::my_party_request&) {
  co_return em::my_party_reply{co_await service_.party_of(signed_in(s))};
}

EMBER_DECL asio::awaitable<em::queue_reply> handler::queue(net::session& s, const em::queue_request& r) {
  co_return em::queue_reply{co_await service_.queue(signed_in(s), r.mode, r.strings, r.numbers)};
}

EMBER_DECL asio::awaitable<em::unqueue_reply> handler::unqueue(net::session& s, const em::unqueue_request&) {
  co_return em::unqueue_reply{co_await service_.unqueue(signed_in(s))};
}

EMBER_DECL asio::awaitable<em::queue_status_reply> handler::queue_status(net::session& s, const em::queue_status_request&) {
  auto st = co_await service_.status_of(signed_in(s));
  co_return em::queue_status_reply{std::move(st.ticket), std::move(st.match)};
}

EMBER_DECL std::uint64_t handler::signed_in(net::session& s) {
  const auto u = s.user();
  if (!u) em::fail(em::error::not_signed_in);
  return *u;
}

}  // namespace ember::modules::matchmaking
