// ember's friends module (docs/modules/friends.md), Nakama's model: each player has an edge to
// another — friend, invite sent, invite received or blocked — stored per viewer (two rows per
// pair) and changed together with the other side's in one `ember::data::transact`. Adding a
// player who invited you makes you friends; a block is one-sided and refuses the blocked
// player's invites; removing clears both sides but keeps the other's block. A cap per player
// (every state counts). The online status of friends is pushed when it changes, wherever the
// friend is connected (`players&`); presence is a count of sessions in the data layer, so it
// holds across processes.
//
//   ember::modules::notifications::service notes(store, players, bus);
//   ember::modules::friends::service friends(store, players, bus, notes);
//   co_await friends.online(user);       // after sign-in; friends.offline(user) when it ends
//   ember::modules::friends::handler commands(friends);
//   ember_friends::register_commands(table, commands);
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "ember/app/module_options.hpp"
#include "ember/data/table.hpp"
#include "ember/data/transaction.hpp"
#include "ember/log.hpp"
#include "ember/modules/events.hpp"
#include "ember/modules/friends/detail/ember_friends.hpp"
#include "ember/modules/friends/detail/ember_friends_server.hpp"
#include "ember/modules/notifications/notifications.hpp"
#include "ember/modules/players.hpp"

namespace ember::modules::friends {

namespace ef = ember_friends;
using ef::friend_state;

/// Limits (config.json's `modules.friends`).
struct options {
  /// Edges per player, every state counted (friends, invites both ways, blocks), as Nakama's
  /// edge count: a player cannot be flooded with invites past it either.
  std::size_t max_edges = 500;
  std::uint32_t default_page = 50;
  std::uint32_t max_page = 100;
  /// Attempts of one change when its transaction loses to another (data_error contention).
  int max_attempts = 5;

  /// From config.json's `modules.friends` (the same names).
  static options read(app::module_options& o) {
    options out;
    out.max_edges = o.count("max_edges", static_cast<std::uint32_t>(out.max_edges), 1, 100'000);
    out.max_page = o.count("max_page", out.max_page, 1, 10'000);
    out.default_page = o.count("default_page", out.default_page, 1, out.max_page);
    out.max_attempts = static_cast<int>(o.count("max_attempts", static_cast<std::uint32_t>(out.max_attempts), 1, 1000));
    o.done();
    return out;
  }
};

/// The game's rules.
struct hooks {
  /// Whether `user` is a player; an unknown one is refused (`bad_user`). Default: any id but 0.
  std::function<asio::awaitable<bool>(std::uint64_t)> user_exists;
};

/// A page of `service::list`.
struct page {
  std::vector<ef::friend_entry> friends;
  std::string cursor;  ///< empty: no more
};

class service {
 public:
  service(data::store& s, players& p, event_bus& bus, notifications::service& notes, options o = {}, hooks h = {})
      : store_(s), edges_(s), players_rows_(s), players_(p), bus_(bus), notes_(notes), options_(o), hooks_(std::move(h)) {}

  const options& limits() const noexcept { return options_; }

  /// `user` invites `other`, or accepts `other`'s invite. Returns `user`'s edge afterwards
  /// (invite_sent or friend); a repeat changes nothing. Refused: `you_blocked`,
  /// `invite_refused` (other blocked user), `list_full`, `their_list_full`, `self`, `bad_user`.
  /// Notifies `other` (friend_request or friend_accepted).
  asio::awaitable<friend_state> add(std::uint64_t user, std::uint64_t other) {
    co_await check_pair(user, other);
    const auto mine = co_await state(user, other);
    if (mine == friend_state::friend_ || mine == friend_state::invite_sent) co_return mine;  // nothing to do
    friend_state now = friend_state::none;
    co_await change(user, other, [&](edge& a, edge& b, counts& pa, counts& pb) {
      if (a.state == friend_state::blocked) ef::fail(ef::error::you_blocked);
      if (b.state == friend_state::blocked) ef::fail(ef::error::invite_refused);
      if (a.state == friend_state::friend_ || a.state == friend_state::invite_sent) {
        now = a.state;
      } else if (a.state == friend_state::invite_received || b.state == friend_state::invite_sent) {
        set(a, pa, friend_state::friend_);
        set(b, pb, friend_state::friend_);
        now = friend_state::friend_;
      } else {
        if (full(pa)) ef::fail(ef::error::list_full);
        if (b.state == friend_state::none && full(pb)) ef::fail(ef::error::their_list_full);
        set(a, pa, friend_state::invite_sent);
        set(b, pb, friend_state::invite_received);
        now = friend_state::invite_sent;
      }
    });
    if (now != mine) {
      bus_.publish(ef::friend_added(user, other, now));
      const bool accepted = now == friend_state::friend_;
      co_await notify(other, user, accepted ? notifications::en::system_code::friend_accepted
                                            : notifications::en::system_code::friend_request);
    }
    co_return now;
  }

  /// Removes `user`'s edge to `other` (a friend, an invite either way, or `user`'s block) and
  /// `other`'s edge to `user` unless it is a block. False when there was nothing to remove.
  asio::awaitable<bool> remove(std::uint64_t user, std::uint64_t other) {
    co_await check_pair(user, other);
    friend_state was = friend_state::none;
    bool changed = false;
    co_await change(user, other, [&](edge& a, edge& b, counts& pa, counts& pb) {
      was = a.state;
      changed = false;
      if (a.state != friend_state::none) set(a, pa, friend_state::none), changed = true;
      if (b.state != friend_state::blocked && b.state != friend_state::none) set(b, pb, friend_state::none), changed = true;
    });
    if (changed) bus_.publish(ef::friend_removed(user, other, was));
    co_return changed;
  }

  /// `user` blocks `other`: `other`'s edge to `user` goes (unless it is a block), and
  /// `other`'s invites are refused until `user` removes the block. Counts toward the cap.
  asio::awaitable<void> block(std::uint64_t user, std::uint64_t other) {
    co_await check_pair(user, other);
    if (co_await state(user, other) == friend_state::blocked) co_return;
    co_await change(user, other, [&](edge& a, edge& b, counts& pa, counts& pb) {
      if (a.state == friend_state::none && full(pa)) ef::fail(ef::error::list_full);
      set(a, pa, friend_state::blocked);
      if (b.state != friend_state::blocked && b.state != friend_state::none) set(b, pb, friend_state::none);
    });
    bus_.publish(ef::friend_blocked(user, other));
  }

  /// `user`'s edge to `other` (none if there is none).
  asio::awaitable<friend_state> state(std::uint64_t user, std::uint64_t other) {
    auto e = co_await edges_.get(edge_key(user, other));
    co_return e ? e->state : friend_state::none;
  }

  /// `user`'s edges in `only` (all states when absent), ordered by state, then age, then
  /// player: `limit` (0: the default; capped) after `cursor` (empty: from the start).
  asio::awaitable<page> list(std::uint64_t user, std::optional<friend_state> only, std::uint32_t limit,
                             std::string_view cursor) {
    const auto after = parse_cursor(cursor, only);
    auto rows = co_await edges_.find<ef::friends_edge_table::by_owner>(as_key(user));
    std::erase_if(rows, [&](const edge& e) { return e.state == friend_state::none || (only && e.state != *only); });
    std::sort(rows.begin(), rows.end(), [](const edge& a, const edge& b) { return position_of(a) < position_of(b); });
    limit = limit == 0 ? options_.default_page : std::min(limit, options_.max_page);
    auto it = after ? std::upper_bound(rows.begin(), rows.end(), *after,
                                       [](const position& p, const edge& e) { return p < position_of(e); })
                    : rows.begin();
    const auto first = it;
    const auto end = it + std::min<std::ptrdiff_t>(limit, rows.end() - it);
    std::vector<std::int64_t> friends;
    for (auto i = first; i != end; ++i)
      if (i->state == friend_state::friend_) friends.push_back(i->other);
    auto presence = co_await players_rows_.get_many(friends);
    page out;
    std::size_t f = 0;
    for (auto i = first; i != end; ++i) {
      bool online = false;
      if (i->state == friend_state::friend_) online = presence[f] && presence[f]->sessions > 0, ++f;
      out.friends.emplace_back(static_cast<std::uint64_t>(i->other), i->state, i->since_ms, online);
    }
    if (end != rows.end()) out.cursor = cursor_of(position_of(*(end - 1)), only);
    co_return out;
  }

  /// `user` has a new session (call it after sign-in, wherever it happened). The first one
  /// makes `user` online: their friends get `friend_status`.
  asio::awaitable<void> online(std::uint64_t user) {
    int before = 0;
    co_await ensure_counts(user);
    co_await players_rows_.update(as_key(user), [&](counts& c) {
      before = c.sessions;
      c.sessions += 1;
      c.changed_ms = static_cast<std::int64_t>(data::unix_ms());
    });
    if (before == 0) co_await push_status(user, true);
  }

  /// A session of `user` ended; the last one makes `user` offline (friends get `friend_status`).
  asio::awaitable<void> offline(std::uint64_t user) {
    int before = 0;
    co_await ensure_counts(user);
    co_await players_rows_.update(as_key(user), [&](counts& c) {
      before = c.sessions;
      c.sessions = std::max(0, c.sessions - 1);
      c.changed_ms = static_cast<std::int64_t>(data::unix_ms());
    });
    if (before == 1) co_await push_status(user, false);
  }

  /// Whether `user` has a session somewhere.
  asio::awaitable<bool> is_online(std::uint64_t user) {
    auto c = co_await players_rows_.get(as_key(user));
    co_return c && c->sessions > 0;
  }

 private:
  using edge = ef::friends_edge;
  using counts = ef::friends_player;
  using position = std::tuple<std::int32_t, std::int64_t, std::int64_t>;  // state, since, other

  static std::int64_t as_key(std::uint64_t user) { return static_cast<std::int64_t>(user); }
  static std::string edge_key(std::uint64_t owner, std::uint64_t other) {
    return std::to_string(owner) + ':' + std::to_string(other);
  }
  static position position_of(const edge& e) { return {static_cast<std::int32_t>(e.state), e.since_ms, e.other}; }

  // A cursor is opaque to clients: "f.FILTER.STATE.SINCE.OTHER" of the last entry they got
  // (FILTER: the state listed, or 9 for all), so a cursor of another filter is refused.
  static std::string cursor_of(const position& p, std::optional<friend_state> only) {
    return "f." + std::to_string(only ? static_cast<int>(*only) : 9) + '.' + std::to_string(std::get<0>(p)) + '.' +
           std::to_string(std::get<1>(p)) + '.' + std::to_string(std::get<2>(p));
  }
  static std::optional<position> parse_cursor(std::string_view c, std::optional<friend_state> only) {
    if (c.empty()) return std::nullopt;
    if (!c.starts_with("f.")) ef::fail(ef::error::bad_cursor);
    std::int64_t v[4] = {};
    const char* p = c.data() + 2;
    const char* end = c.data() + c.size();
    for (int i = 0; i < 4; ++i) {
      auto [next, ec] = std::from_chars(p, end, v[i]);
      if (ec != std::errc() || (i < 3 ? (next == end || *next != '.') : next != end)) ef::fail(ef::error::bad_cursor);
      p = next + 1;
    }
    if (v[0] != (only ? static_cast<int>(*only) : 9) || v[1] < 0 || v[1] > 3) ef::fail(ef::error::bad_cursor);
    return position{static_cast<std::int32_t>(v[1]), v[2], v[3]};
  }

  bool full(const counts& c) const { return static_cast<std::size_t>(std::max(0, c.edges)) >= options_.max_edges; }

  /// Sets an edge's state, keeping its owner's count of edges.
  static void set(edge& e, counts& owner, friend_state s) {
    const bool had = e.state != friend_state::none, has = s != friend_state::none;
    owner.edges += (has ? 1 : 0) - (had ? 1 : 0);
    e.state = s;
    e.since_ms = static_cast<std::int64_t>(data::unix_ms());
  }

  asio::awaitable<void> check_pair(std::uint64_t user, std::uint64_t other) {
    if (user == other) ef::fail(ef::error::self);
    if (other == 0 || user == 0) ef::fail(ef::error::bad_user);
    if (!hooks_.user_exists) co_return;
    const bool known = co_await hooks_.user_exists(other);  // not inside `&&`: g++ 12 miscompiles that
    if (!known) ef::fail(ef::error::bad_user);
  }

  /// Inserts a row if there is none (a concurrent insert of it is as good).
  template <class Table, class Row>
  static asio::awaitable<void> ensure(Table& t, const typename Table::key_type& k, Row fresh) {
    if (co_await t.get(k)) co_return;
    try {
      co_await t.insert(std::move(fresh));
    } catch (const data::data_error& e) {
      if (e.code() != data::data_errc::constraint) throw;
    }
  }
  asio::awaitable<void> ensure_counts(std::uint64_t user) {
    co_await ensure(players_rows_, as_key(user), counts(as_key(user), 0, 0, 0));
  }

  /// Runs `fn(user's edge, other's edge, user's counts, other's counts)` on the four rows
  /// together (edges that do not exist yet are made first, as state none; an edge that ends
  /// stays a row of state none). `fn` may fail (a schema error) to change nothing.
  template <class Fn>
  asio::awaitable<void> change(std::uint64_t user, std::uint64_t other, Fn fn) {
    const auto ka = edge_key(user, other), kb = edge_key(other, user);
    co_await ensure(edges_, ka, edge(ka, as_key(user), as_key(other), friend_state::none, 0));
    co_await ensure(edges_, kb, edge(kb, as_key(other), as_key(user), friend_state::none, 0));
    co_await ensure_counts(user);
    co_await ensure_counts(other);
    for (int attempt = 1;; ++attempt) {
      try {
        co_await data::transact(store_, fn, data::at(edges_, ka), data::at(edges_, kb),
                                data::at(players_rows_, as_key(user)), data::at(players_rows_, as_key(other)));
        co_return;
      } catch (const data::data_error& e) {
        if (e.code() != data::data_errc::contention || attempt >= options_.max_attempts) throw;
      }
    }
  }

  asio::awaitable<void> push_status(std::uint64_t user, bool online) {
    const auto rows = co_await edges_.find<ef::friends_edge_table::by_owner>(as_key(user));
    for (const auto& e : rows)
      if (e.state == friend_state::friend_) players_.push(static_cast<std::uint64_t>(e.other), ef::friend_status(user, online));
  }

  /// The friendship is made whatever happens to its notice: a failure is logged.
  asio::awaitable<void> notify(std::uint64_t to, std::uint64_t from, notifications::en::system_code code) {
    notifications::outgoing n;
    n.subject = code == notifications::en::system_code::friend_accepted ? "friend request accepted" : "friend request";
    n.content = "{\"user\":\"" + std::to_string(from) + "\"}";
    n.sender = from;
    try {
      co_await notes_.send_system(to, code, std::move(n));
    } catch (const std::exception& e) {
      log::warn("friends: the notice to {} of {}'s friend request was not sent: {}", to, from, e.what());
    }
  }

  data::store& store_;
  data::table<ef::friends_edge_table> edges_;
  data::table<ef::friends_player_table> players_rows_;
  players& players_;
  event_bus& bus_;
  notifications::service& notes_;
  options options_;
  hooks hooks_;
};

/// The client commands, on the signed-in player's own edges.
class handler final : public ef::friends_handler {
 public:
  explicit handler(service& s) : service_(s) {}

  asio::awaitable<ef::add_friend_reply> add_friend(net::session& s, const ef::add_friend_request& req) override {
    co_return ef::add_friend_reply(co_await service_.add(user_of(s), req.user));
  }
  asio::awaitable<ef::remove_friend_reply> remove_friend(net::session& s, const ef::remove_friend_request& req) override {
    co_return ef::remove_friend_reply(co_await service_.remove(user_of(s), req.user));
  }
  asio::awaitable<ef::block_user_reply> block_user(net::session& s, const ef::block_user_request& req) override {
    co_await service_.block(user_of(s), req.user);
    co_return ef::block_user_reply{};
  }
  asio::awaitable<ef::list_friends_reply> list_friends(net::session& s, const ef::list_friends_request& req) override {
    if (req.state && (static_cast<int>(*req.state) < 0 || static_cast<int>(*req.state) > 3)) ef::fail(ef::error::bad_state);
    auto p = co_await service_.list(user_of(s), req.state, req.limit, req.cursor);
    co_return ef::list_friends_reply(std::move(p.friends), std::move(p.cursor));
  }

 private:
  static std::uint64_t user_of(const net::session& s) {
    auto u = s.user();
    if (!u || *u == 0) ef::fail(ef::error::not_signed_in);
    return *u;
  }
  service& service_;
};

}  // namespace ember::modules::friends
