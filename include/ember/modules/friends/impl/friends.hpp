// ember: bodies of the friends module (included by ember/modules/friends/friends.hpp, or compiled
// once into libember-friends with EMBER_SEPARATE_COMPILATION).
#pragma once

#include "ember/modules/friends/friends.hpp"

#include <algorithm>
#include <charconv>

#include "ember/app/module_options.hpp"
#include "ember/log.hpp"

namespace ember::modules::friends {

EMBER_DECL options options::read(app::module_options& o) {
  options out;
  out.max_edges = o.count("max_edges", static_cast<std::uint32_t>(out.max_edges), 1, 100'000);
  out.max_page = o.count("max_page", out.max_page, 1, 10'000);
  out.default_page = o.count("default_page", out.default_page, 1, out.max_page);
  out.max_attempts = static_cast<int>(o.count("max_attempts", static_cast<std::uint32_t>(out.max_attempts), 1, 1000));
  o.done();
  return out;
}

EMBER_DECL asio::awaitable<friend_state> service::add(std::uint64_t user, std::uint64_t other) {
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

EMBER_DECL asio::awaitable<bool> service::remove(std::uint64_t user, std::uint64_t other) {
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

EMBER_DECL asio::awaitable<void> service::block(std::uint64_t user, std::uint64_t other) {
  co_await check_pair(user, other);
  if (co_await state(user, other) == friend_state::blocked) co_return;
  co_await change(user, other, [&](edge& a, edge& b, counts& pa, counts& pb) {
    if (a.state == friend_state::none && full(pa)) ef::fail(ef::error::list_full);
    set(a, pa, friend_state::blocked);
    if (b.state != friend_state::blocked && b.state != friend_state::none) set(b, pb, friend_state::none);
  });
  bus_.publish(ef::friend_blocked(user, other));
}

EMBER_DECL asio::awaitable<friend_state> service::state(std::uint64_t user, std::uint64_t other) {
  auto e = co_await edges_.get(edge_key(user, other));
  co_return e ? e->state : friend_state::none;
}

EMBER_DECL asio::awaitable<page> service::list(std::uint64_t user, std::optional<friend_state> only,
                                               std::uint32_t limit, std::string_view cursor) {
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

EMBER_DECL asio::awaitable<void> service::online(std::uint64_t user) {
  int before = 0;
  co_await ensure_counts(user);
  co_await players_rows_.update(as_key(user), [&](counts& c) {
    before = c.sessions;
    c.sessions += 1;
    c.changed_ms = static_cast<std::int64_t>(data::unix_ms());
  });
  if (before == 0) co_await push_status(user, true);
}

EMBER_DECL asio::awaitable<void> service::offline(std::uint64_t user) {
  int before = 0;
  co_await ensure_counts(user);
  co_await players_rows_.update(as_key(user), [&](counts& c) {
    before = c.sessions;
    c.sessions = std::max(0, c.sessions - 1);
    c.changed_ms = static_cast<std::int64_t>(data::unix_ms());
  });
  if (before == 1) co_await push_status(user, false);
}

EMBER_DECL asio::awaitable<bool> service::is_online(std::uint64_t user) {
  auto c = co_await players_rows_.get(as_key(user));
  co_return c && c->sessions > 0;
}

EMBER_DECL std::string service::edge_key(std::uint64_t owner, std::uint64_t other) {
  return std::to_string(owner) + ':' + std::to_string(other);
}

EMBER_DECL service::position service::position_of(const edge& e) {
  return {static_cast<std::int32_t>(e.state), e.since_ms, e.other};
}

EMBER_DECL std::string service::cursor_of(const position& p, std::optional<friend_state> only) {
  return "f." + std::to_string(only ? static_cast<int>(*only) : 9) + '.' + std::to_string(std::get<0>(p)) + '.' +
         std::to_string(std::get<1>(p)) + '.' + std::to_string(std::get<2>(p));
}

EMBER_DECL std::optional<service::position> service::parse_cursor(std::string_view c,
                                                                    std::optional<friend_state> only) {
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

EMBER_DECL bool service::full(const counts& c) const {
  return static_cast<std::size_t>(std::max(0, c.edges)) >= options_.max_edges;
}

EMBER_DECL void service::set(edge& e, counts& owner, friend_state s) {
  const bool had = e.state != friend_state::none, has = s != friend_state::none;
  owner.edges += (has ? 1 : 0) - (had ? 1 : 0);
  e.state = s;
  e.since_ms = static_cast<std::int64_t>(data::unix_ms());
}

EMBER_DECL asio::awaitable<void> service::check_pair(std::uint64_t user, std::uint64_t other) {
  if (user == other) ef::fail(ef::error::self);
  if (other == 0 || user == 0) ef::fail(ef::error::bad_user);
  if (!hooks_.user_exists) co_return;
  const bool known = co_await hooks_.user_exists(other);  // not inside `&&`: g++ 12 miscompiles that
  if (!known) ef::fail(ef::error::bad_user);
}

EMBER_DECL asio::awaitable<void> service::ensure_counts(std::uint64_t user) {
  co_await ensure(players_rows_, as_key(user), counts(as_key(user), 0, 0, 0));
}

EMBER_DECL asio::awaitable<void> service::push_status(std::uint64_t user, bool online) {
  const auto rows = co_await edges_.find<ef::friends_edge_table::by_owner>(as_key(user));
  for (const auto& e : rows)
    if (e.state == friend_state::friend_) players_.push(static_cast<std::uint64_t>(e.other), ef::friend_status(user, online));
}

EMBER_DECL asio::awaitable<void> service::notify(std::uint64_t to, std::uint64_t from,
                                                  notifications::en::system_code code) {
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

EMBER_DECL asio::awaitable<ef::add_friend_reply> handler::add_friend(net::session& s,
                                                                      const ef::add_friend_request& req) {
  co_return ef::add_friend_reply(co_await service_.add(user_of(s), req.user));
}

EMBER_DECL asio::awaitable<ef::remove_friend_reply> handler::remove_friend(net::session& s,
                                                                            const ef::remove_friend_request& req) {
  co_return ef::remove_friend_reply(co_await service_.remove(user_of(s), req.user));
}

EMBER_DECL asio::awaitable<ef::block_user_reply> handler::block_user(net::session& s,
                                                                      const ef::block_user_request& req) {
  co_await service_.block(user_of(s), req.user);
  co_return ef::block_user_reply{};
}

EMBER_DECL asio::awaitable<ef::list_friends_reply> handler::list_friends(net::session& s,
                                                                          const ef::list_friends_request& req) {
  if (req.state && (static_cast<int>(*req.state) < 0 || static_cast<int>(*req.state) > 3)) ef::fail(ef::error::bad_state);
  auto p = co_await service_.list(user_of(s), req.state, req.limit, req.cursor);
  co_return ef::list_friends_reply(std::move(p.friends), std::move(p.cursor));
}

EMBER_DECL std::uint64_t handler::user_of(const net::session& s) {
  auto u = s.user();
  if (!u || *u == 0) ef::fail(ef::error::not_signed_in);
  return *u;
}

}  // namespace ember::modules::friends
