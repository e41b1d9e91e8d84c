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

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "ember/data/table.hpp"
#include "ember/data/transaction.hpp"
#include "ember/modules/events.hpp"
#include "ember/modules/friends/detail/ember_friends.hpp"
#include "ember/modules/friends/detail/ember_friends_server.hpp"
#include "ember/modules/notifications/notifications.hpp"
#include "ember/modules/players.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::app {
class module_options;  // ember/app/module_options.hpp
}

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
  static options read(app::module_options& o);
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
  asio::awaitable<friend_state> add(std::uint64_t user, std::uint64_t other);

  /// Removes `user`'s edge to `other` (a friend, an invite either way, or `user`'s block) and
  /// `other`'s edge to `user` unless it is a block. False when there was nothing to remove.
  asio::awaitable<bool> remove(std::uint64_t user, std::uint64_t other);

  /// `user` blocks `other`: `other`'s edge to `user` goes (unless it is a block), and
  /// `other`'s invites are refused until `user` removes the block. Counts toward the cap.
  asio::awaitable<void> block(std::uint64_t user, std::uint64_t other);

  /// `user`'s edge to `other` (none if there is none).
  asio::awaitable<friend_state> state(std::uint64_t user, std::uint64_t other);

  /// `user`'s edges in `only` (all states when absent), ordered by state, then age, then
  /// player: `limit` (0: the default; capped) after `cursor` (empty: from the start).
  asio::awaitable<page> list(std::uint64_t user, std::optional<friend_state> only, std::uint32_t limit,
                             std::string_view cursor);

  /// `user` has a new session (call it after sign-in, wherever it happened). The first one
  /// makes `user` online: their friends get `friend_status`.
  asio::awaitable<void> online(std::uint64_t user);

  /// A session of `user` ended; the last one makes `user` offline (friends get `friend_status`).
  asio::awaitable<void> offline(std::uint64_t user);

  /// Whether `user` has a session somewhere.
  asio::awaitable<bool> is_online(std::uint64_t user);

 private:
  using edge = ef::friends_edge;
  using counts = ef::friends_player;
  using position = std::tuple<std::int32_t, std::int64_t, std::int64_t>;  // state, since, other

  static std::int64_t as_key(std::uint64_t user) { return static_cast<std::int64_t>(user); }
  static std::string edge_key(std::uint64_t owner, std::uint64_t other);
  static position position_of(const edge& e);

  // A cursor is opaque to clients: "f.FILTER.STATE.SINCE.OTHER" of the last entry they got
  // (FILTER: the state listed, or 9 for all), so a cursor of another filter is refused.
  static std::string cursor_of(const position& p, std::optional<friend_state> only);
  static std::optional<position> parse_cursor(std::string_view c, std::optional<friend_state> only);

  bool full(const counts& c) const;

  /// Sets an edge's state, keeping its owner's count of edges.
  static void set(edge& e, counts& owner, friend_state s);

  asio::awaitable<void> check_pair(std::uint64_t user, std::uint64_t other);

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
  asio::awaitable<void> ensure_counts(std::uint64_t user);

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

  asio::awaitable<void> push_status(std::uint64_t user, bool online);

  /// The friendship is made whatever happens to its notice: a failure is logged.
  asio::awaitable<void> notify(std::uint64_t to, std::uint64_t from, notifications::en::system_code code);

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

  asio::awaitable<ef::add_friend_reply> add_friend(net::session& s, const ef::add_friend_request& req) override;
  asio::awaitable<ef::remove_friend_reply> remove_friend(net::session& s, const ef::remove_friend_request& req) override;
  asio::awaitable<ef::block_user_reply> block_user(net::session& s, const ef::block_user_request& req) override;
  asio::awaitable<ef::list_friends_reply> list_friends(net::session& s, const ef::list_friends_request& req) override;

 private:
  static std::uint64_t user_of(const net::session& s);
  service& service_;
};

}  // namespace ember::modules::friends

#if defined(EMBER_SEPARATE_COMPILATION)
// Registering the module's commands compiles once, in its library (impl/src.hpp), not in
// every file that registers them.
extern template void ember_friends::register_commands<0>(ember::net::dispatch_table&,
    ember_friends::friends_handler&);
#else
#include "ember/modules/friends/impl/friends.hpp"
#endif
