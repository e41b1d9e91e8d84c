// ember's matchmaking module (docs/modules/matchmaking.md): parties (a leader, invitations, a
// size cap) and one matchmaking pool per mode (pool.hpp: exact properties, ranges that widen
// while a ticket waits, match sizes min..max in multiples, a timeout). A party queues as one
// ticket. A match is made once — the ticket rows are marked with it in one transaction with the
// members' rows — then pushed to every member with the game server the game's hook chose.
//
//   ember::modules::matchmaking::service mm(store, bus, players, options);
//   mm.on().host = pick_game_server;  // which game server instance hosts a match
//   store.open(); co_await mm.start();  // rebuilds the pools this process owns
//   asio::co_spawn(io, mm.run(), ...);  // matches every `interval`
//   ember::modules::matchmaking::handler commands(mm);
//   ember_matchmaking::register_commands(table, commands);
//   // and when a session closes: co_await mm.disconnected(user);
//
// One writer per pool: the pool of a mode lives in one process (`hooks::owns`; with several
// instances, `pool_owner` picks one by rendezvous hashing). Tickets are written through to the
// data layer, so a restarted owner rebuilds its pools at `start()`; parties and the players'
// rows are shared by every process.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

#include "ember/data/table.hpp"
#include "ember/modules/events.hpp"
#include "ember/modules/matchmaking/detail/ember_matchmaking.hpp"
#include "ember/modules/matchmaking/detail/ember_matchmaking_server.hpp"
#include "ember/modules/matchmaking/pool.hpp"
#include "ember/modules/players.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::app {
class module_options;  // ember/app/module_options.hpp
}

namespace ember::modules::matchmaking {

/// The module's limits (config.json's `modules.matchmaking`).
struct options {
  std::vector<mode> modes;
  std::uint32_t max_party = 4;          ///< members of a party, the leader included
  std::uint32_t max_invites = 8;        ///< pending invitations of a party
  std::uint32_t max_tickets = 100'000;  ///< tickets waiting in one mode's pool
  std::size_t max_value = 64;           ///< code points of a string property's value
  std::chrono::milliseconds interval{1'000};  ///< how often `run()` matches
  std::uint32_t scan_limit = 256;       ///< candidates an anchor looks at per interval

  /// From config.json's `modules.matchmaking`: `"modes": ["duel min=2 max=2 exact=region
  /// range=rating:100:50:1000 timeout_ms=60000"]` (each: an id, then `min=`, `max=`,
  /// `multiple=`, `exact=NAME,NAME`, `range=NAME:INITIAL:WIDEN_PER_S:MAX` (repeatable),
  /// `timeout_ms=`, `fill_wait_ms=`), `max_party`, `max_invites`, `max_tickets`, `max_value`,
  /// `interval_ms`, `scan_limit`.
  static options read(app::module_options& o);
  /// One mode of the `modes` syntax; throws std::invalid_argument naming what is wrong.
  static mode parse_mode(std::string_view spec);
};

/// What a game plugs in; each may be empty.
struct hooks {
  /// The game server instance that hosts `m` (its members, mode and id are set). Empty hook:
  /// no server is named. A throw leaves the tickets in the pool for the next interval.
  std::function<asio::awaitable<std::string>(const ember_matchmaking::match& m)> host;
  /// After a match is stored and pushed (the event `match_made` is published already).
  std::function<void(const ember_matchmaking::match&)> on_matched;
  /// Does this process own `mode`'s pool? Empty: it owns every mode (one instance).
  std::function<bool(const std::string& mode)> owns;
  /// Asked when `queue` names a mode this process does not own: it may make this process the
  /// pool's owner cluster-wide (the owner registry, docs/cluster.md) and `adopt` the pool.
  /// Still not owned afterwards: `not_owner`.
  std::function<asio::awaitable<void>(const std::string& mode)> claim;
  /// The time, in UTC ms (default the system's): waiting, windows and timeouts read it.
  std::function<std::int64_t()> clock;
};

/// The instance among `instances` (names of the server type the module is placed on) that
/// owns `mode`'s pool: rendezvous hashing, the same answer in every process; "" when none.
EMBER_DECL std::string pool_owner(std::string_view mode, std::span<const std::string> instances);

/// A player's ticket while it waits, and the last match made for the player.
struct status {
  std::optional<ember_matchmaking::ticket> ticket;
  std::optional<ember_matchmaking::match> match;
};

/// The typed interface of matchmaking and parties: what the game and other modules call.
class service {
 public:
  /// Makes the module's tables on `store` (before `store.open()`). Throws
  /// std::invalid_argument for a mode defined wrong (sizes, an id twice).
  service(data::store& store, event_bus& bus, players& p, options o = {}, hooks h = {});
  ~service();
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  const options& config() const noexcept { return options_; }
  hooks& on() noexcept { return hooks_; }
  std::int64_t now_ms() const;

  /// After `store.open()`: writes back what the journal replayed, then rebuilds the pool of
  /// every mode this process owns from the ticket rows (one query per mode); tickets that were
  /// matched or ended, or whose members moved on, are dropped. Nothing is queued before.
  asio::awaitable<void> start();
  /// Takes `mode`'s pool over (this process has just become its owner): waits until every
  /// writer of the database has written back what it acknowledged before now (a killed
  /// owner's journal too, once it runs again), then puts back the mode's waiting tickets from
  /// their rows as `start` does, keeping those queued here meanwhile. Throws
  /// `data::data_error` `writers_behind` when a writer stays behind for the store's
  /// `fence_timeout`.
  asio::awaitable<void> adopt(std::string mode);
  /// Lets `mode`'s pool go (another process takes it over): the `queue` calls running on it
  /// finish, every row is written back, and the pool leaves memory. Its tickets stay in their
  /// rows, waiting, for the next owner's `adopt`.
  asio::awaitable<void> drop(std::string mode);

  /// Matches every `interval` until `stop()`.
  asio::awaitable<void> run();
  void stop();
  /// One interval now: expires what waited too long, matches, stores and pushes the matches.
  /// Returns the matches made.
  asio::awaitable<std::vector<ember_matchmaking::match>> tick();
  /// Tickets waiting in `mode`'s pool here (0 when not owned).
  std::size_t waiting(const std::string& mode) const;

  // --- parties
  /// A new party led by `user`. in_party.
  asio::awaitable<ember_matchmaking::party> create_party(std::uint64_t user);
  /// `leader` invites `user` (pushed `party_invited`; again: no change). no_party,
  /// not_leader, in_party (the invitee is a member), party_full.
  asio::awaitable<ember_matchmaking::party> invite(std::uint64_t leader, std::uint64_t user);
  /// `user` joins party `id` that invited it. not_invited, in_party, party_full, party_queued.
  asio::awaitable<ember_matchmaking::party> accept(std::uint64_t user, std::string id);
  /// `user` leaves its party (its ticket ends, `party_changed`); false if in none.
  asio::awaitable<bool> leave_party(std::uint64_t user);
  /// `leader` hands the party to member `user`. no_party, not_leader, not_member.
  asio::awaitable<ember_matchmaking::party> promote(std::uint64_t leader, std::uint64_t user);
  /// `leader` removes member `user` (its ticket ends) or withdraws `user`'s invitation.
  asio::awaitable<ember_matchmaking::party> kick(std::uint64_t leader, std::uint64_t user);
  /// `user`'s party, if any.
  asio::awaitable<std::optional<ember_matchmaking::party>> party_of(std::uint64_t user);

  // --- matchmaking
  /// Queues `user` alone, or its whole party when `user` leads one, in `mode`'s pool.
  /// unknown_mode, not_owner, bad_properties, not_leader, party_too_big, already_queued,
  /// queue_full.
  asio::awaitable<ember_matchmaking::ticket> queue(std::uint64_t user, std::string mode,
                                                   std::vector<ember_matchmaking::string_property> strings,
                                                   std::vector<ember_matchmaking::number_property> numbers);
  /// Ends `user`'s ticket (a party's for every member); false if it has none (or it was
  /// matched already).
  asio::awaitable<bool> unqueue(std::uint64_t user);
  /// `user`'s waiting ticket and last match.
  asio::awaitable<status> status_of(std::uint64_t user);
  /// `user`'s session closed: its ticket ends (a party's for every member: `disconnected`)
  /// and it leaves its party.
  asio::awaitable<void> disconnected(std::uint64_t user);

 private:
  struct player_change;
  struct current_party;

  bool owns(const std::string& mode) const;
  /// Puts back `mode`'s waiting tickets from their rows (those not in the pool already).
  asio::awaitable<void> rebuild(const std::string& mode, pool& p);
  asio::awaitable<void> ensure_player(std::uint64_t user);
  asio::awaitable<current_party> party_row(std::uint64_t user);
  asio::awaitable<bool> commit_party(const std::string& id, std::vector<std::byte> before,
                                     std::vector<std::byte> after, std::vector<player_change> changes);
  asio::awaitable<ember_matchmaking::party> leader_change(std::uint64_t leader, std::uint64_t user, bool kick);
  asio::awaitable<bool> remove_member(std::uint64_t user, std::uint64_t by);
  /// Ends ticket `id` unless it was matched: every member's row lets go of it.
  asio::awaitable<bool> end_ticket(std::string id, ember_matchmaking::end_reason why);
  /// A waiting ticket `user` holds (its row says so and the ticket row agrees), or "".
  asio::awaitable<std::string> ticket_of(const ember_matchmaking::matchmaking_player& row);
  /// Stores and pushes the match of `group` (taken out of its pool), or puts back what may
  /// still be matched. Throws when the data layer fails (the caller puts the group back).
  asio::awaitable<std::optional<ember_matchmaking::match>> commit_match(const std::vector<ember_matchmaking::ticket>& group,
                                                                        std::int64_t now);
  void push_party(const ember_matchmaking::party& p, std::uint64_t also_gone = 0);

  data::store& store_;
  event_bus& bus_;
  players& players_;
  options options_;
  hooks hooks_;
  data::table<ember_matchmaking::matchmaking_player_table> player_rows_;
  data::table<ember_matchmaking::matchmaking_party_table> parties_;
  data::table<ember_matchmaking::matchmaking_ticket_table> tickets_;
  data::table<ember_matchmaking::matchmaking_match_table> matches_;
  std::map<std::string, pool, std::less<>> pools_;
  std::set<std::string, std::less<>> adopted_;       // pools taken over by `adopt`, not dropped
  std::map<std::string, std::size_t, std::less<>> queueing_;  // `queue` calls running per mode
  std::shared_ptr<asio::steady_timer> timer_;
  bool started_ = false, stopped_ = false, ticking_ = false;
};

/// Matchmaking and parties' client commands, for the signed-in player.
class handler final : public ember_matchmaking::matchmaking_handler {
 public:
  explicit handler(service& s) : service_(s) {}

  asio::awaitable<ember_matchmaking::create_party_reply> create_party(net::session& s, const ember_matchmaking::create_party_request& r) override;
  asio::awaitable<ember_matchmaking::invite_reply> invite(net::session& s, const ember_matchmaking::invite_request& r) override;
  asio::awaitable<ember_matchmaking::accept_reply> accept(net::session& s, const ember_matchmaking::accept_request& r) override;
  asio::awaitable<ember_matchmaking::leave_party_reply> leave_party(net::session& s, const ember_matchmaking::leave_party_request& r) override;
  asio::awaitable<ember_matchmaking::promote_reply> promote(net::session& s, const ember_matchmaking::promote_request& r) override;
  asio::awaitable<ember_matchmaking::kick_reply> kick(net::session& s, const ember_matchmaking::kick_request& r) override;
  asio::awaitable<ember_matchmaking::my_party_reply> my_party(net::session& s, const ember_matchmaking::my_party_request& r) override;
  asio::awaitable<ember_matchmaking::queue_reply> queue(net::session& s, const ember_matchmaking::queue_request& r) override;
  asio::awaitable<ember_matchmaking::unqueue_reply> unqueue(net::session& s, const ember_matchmaking::unqueue_request& r) override;
  asio::awaitable<ember_matchmaking::queue_status_reply> queue_status(net::session& s, const ember_matchmaking::queue_status_request& r) override;

 private:
  static std::uint64_t signed_in(net::session& s);

  service& service_;
};

}  // namespace ember::modules::matchmaking

#if defined(EMBER_SEPARATE_COMPILATION)
// Registering the module's commands compiles once, in its library (impl/src.hpp), not in
// every file that registers them.
extern template void ember_matchmaking::register_commands<0>(ember::net::dispatch_table&,
    ember_matchmaking::matchmaking_handler&);
#else
#include "ember/modules/matchmaking/impl/matchmaking.hpp"
#endif
