// ember's guilds module (docs/modules/guilds.md), Nakama's groups made exact: a guild has a
// name unique whatever its case, is open (anyone joins) or closed (players ask, officers
// accept or refuse), and ranks its members leader > officers > members, each role with the
// permissions the options give it. Who belongs (members, requests, bans) is one row with the
// guild's counts, so every change of membership locks it: the member cap holds against joins
// from any number of processes. A player belongs to one guild at most (its `guild_player` row,
// changed in the same transaction). Donations move wallet currency to the guild's funds in one
// transaction with the wallet's change, once per operation id, within a daily limit per member;
// what was donated is the guild's xp, and its level (and, if the options say so, its cap)
// follows. The guild's chat is the chat module's channel `group:ID`.
//
//   ember::modules::guilds::service guilds(store, bus, players, wallet, chat, options);
//   chat_hooks.may_join_group = [&](auto user, auto group) { return guilds.admits(user, group); };
//   ember::modules::guilds::handler commands(guilds);
//   ember_guilds::register_commands(table, commands);
//   co_await guilds.donate(player, "tap-3", 100);
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "ember/data/transaction.hpp"
#include "ember/modules/chat/chat.hpp"
#include "ember/modules/events.hpp"
#include "ember/modules/guilds/detail/ember_guilds.hpp"
#include "ember/modules/guilds/detail/ember_guilds_server.hpp"
#include "ember/modules/players.hpp"
#include "ember/modules/wallet/wallet.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::app {
class module_options;  // ember/app/module_options.hpp
}

namespace ember::modules::guilds {

namespace eg = ember_guilds;
using eg::guild_role;

/// What a role may do besides what every member does (leave, donate, chat): bits of the
/// options' `officer_permissions` and `member_permissions`. A leader may do everything; kick,
/// ban and demote reach only players of lower rank.
namespace permission {
inline constexpr std::uint32_t accept = 1;     ///< list, accept and refuse join requests
inline constexpr std::uint32_t kick = 2;       ///< remove a member
inline constexpr std::uint32_t ban = 4;        ///< ban and unban players
inline constexpr std::uint32_t announce = 8;   ///< set the announcement
inline constexpr std::uint32_t settings = 16;  ///< open or close the guild
inline constexpr std::uint32_t promote = 32;   ///< make members officers and officers members
}  // namespace permission

/// The permissions named in config.json ("accept", "kick", "ban", "announce", "settings",
/// "promote"); throws std::invalid_argument naming `where` and an unknown name.
EMBER_DECL std::uint32_t permissions_of(const std::vector<std::string>& names, std::string_view where);

/// A name folded for comparison: ASCII, Latin-1, Greek and Cyrillic capitals to small letters
/// (two names that fold alike are one name).
EMBER_DECL std::string fold_name(std::string_view name);

/// The guilds' limits and rules (config.json's `modules.guilds`).
struct options {
  std::uint32_t max_members = 50;        ///< the member cap at level 1
  std::uint32_t members_per_level = 0;   ///< seats each level above 1 adds
  std::uint32_t max_level = 20;
  std::int64_t xp_per_level = 10'000;    ///< donated to reach each next level
  std::uint32_t max_requests = 50;       ///< waiting requests per guild
  std::uint32_t max_bans = 200;          ///< bans per guild
  std::size_t min_name = 3;              ///< code points of a guild's name
  std::size_t max_name = 24;
  std::size_t max_announcement = 500;    ///< code points (newlines and tabs allowed)
  std::size_t max_op_id = 32;            ///< code points of a donation's operation id
  std::uint32_t officer_permissions = permission::accept | permission::kick | permission::announce;
  std::uint32_t member_permissions = 0;
  std::string donation_currency = "gold";
  std::int64_t daily_donation_limit = 1'000;  ///< per member per day (0: donations are off)
  std::int32_t utc_offset_minutes = 0;        ///< the time zone of the donation day
  int max_attempts = 8;                       ///< of one change that loses to others (contention)

  /// The member cap at `level`.
  std::uint32_t cap(std::int32_t level) const;
  /// The level `xp` makes.
  std::int32_t level_of(std::int64_t xp) const;

  /// From config.json's `modules.guilds` (the same names; permissions as arrays of names).
  static options read(app::module_options& o);
};

/// What a game plugs in.
struct hooks {
  /// The time, in UTC ms (default the system's): the donation day is read from it.
  std::function<std::int64_t()> clock;
};

/// The typed interface of the guilds: what the game and other modules call. Every call that
/// names an actor checks the actor's role in the guild's locked row.
class service {
 public:
  /// Makes the guilds' tables on `store` (before `store.open()`). Donations go through
  /// `wallet` (same store); the guild's channel is `chat`'s, whose `may_join_group` hook must
  /// be `admits` (the module joins members to it and speaks for them).
  service(data::store& store, event_bus& bus, players& to_players, wallet::service& wallet, chat::service& chat,
          options o = {}, hooks h = {});

  const options& config() const noexcept { return options_; }
  hooks& on() noexcept { return hooks_; }

  /// For chat's `hooks::may_join_group`: true while this module joins `player` to guild
  /// `group`'s channel or speaks there for them, after checking the membership in the data
  /// layer (chat's hook is synchronous; membership is not). Players reach the channel only
  /// through this module's `open_chat` and `say`.
  bool admits(std::uint64_t player, std::uint64_t group) const;

  /// Creates a guild led by `player` (in no guild yet). Two creations of names that fold alike
  /// (`fold_name`): one wins, the other is `name_taken`. `bad_name`, `already_in_guild`.
  asio::awaitable<eg::guild_info> create(std::uint64_t player, std::string name, bool open);

  /// A guild by id (`no_guild`, also once disbanded).
  asio::awaitable<eg::guild_info> info(std::uint64_t guild);
  /// A guild by name, whatever its case (`no_guild`).
  asio::awaitable<eg::guild_info> find(std::string name);
  /// The guild `player` belongs to; 0: none.
  asio::awaitable<std::uint64_t> guild_of(std::uint64_t player);
  /// A guild's members by rank, then seniority.
  asio::awaitable<std::vector<eg::guild_member>> members(std::uint64_t guild);

  /// `player` joins an open guild (true), or asks to join a closed one (false; asking again
  /// changes nothing). `already_in_guild`, `banned`, `guild_full`, `too_many_requests`.
  asio::awaitable<bool> join(std::uint64_t player, std::uint64_t guild);
  /// The requests to join `actor`'s guild, oldest first (permission accept).
  asio::awaitable<std::vector<eg::join_request>> requests(std::uint64_t actor);
  /// Makes `player`, who asked, a member of `actor`'s guild (permission accept). `no_request`,
  /// `guild_full`; `already_in_guild` when the player joined another guild meanwhile (the
  /// request is dropped).
  asio::awaitable<void> accept(std::uint64_t actor, std::uint64_t player);
  /// Drops `player`'s request (permission accept). `no_request`.
  asio::awaitable<void> refuse(std::uint64_t actor, std::uint64_t player);

  /// `player` leaves their guild. The leader hands over first (`leader_must_hand_over`) unless
  /// alone: then the guild is disbanded and its name is free again.
  asio::awaitable<void> leave(std::uint64_t player);
  /// `actor` removes `player`, of lower rank (permission kick). `not_in_your_guild`, `outranked`.
  asio::awaitable<void> kick(std::uint64_t actor, std::uint64_t player);
  /// `actor` bans `player` (removed if a member of lower rank; their request dropped): their
  /// joins and requests are refused (permission ban). `ban_list_full`, `outranked`.
  asio::awaitable<void> ban(std::uint64_t actor, std::uint64_t player);
  /// Lifts a ban (permission ban); no ban: nothing changes.
  asio::awaitable<void> unban(std::uint64_t actor, std::uint64_t player);
  /// A member becomes an officer (permission promote). `bad_role` for an officer or the leader.
  asio::awaitable<void> promote(std::uint64_t actor, std::uint64_t player);
  /// An officer of lower rank than `actor` becomes a member (permission promote).
  asio::awaitable<void> demote(std::uint64_t actor, std::uint64_t player);
  /// The leader `actor` hands the guild to member `player` and becomes an officer.
  asio::awaitable<void> transfer(std::uint64_t actor, std::uint64_t player);
  /// Sets the announcement (permission announce); every member gets it pushed.
  asio::awaitable<void> announce_text(std::uint64_t actor, std::string text);
  /// Opens or closes the guild (permission settings).
  asio::awaitable<void> set_open(std::uint64_t actor, bool open);

  /// `player` donates `amount` of the donation currency to their guild, once per `op_id` (the
  /// player's own): the wallet's debit, the guild's funds and xp, the member's contribution and
  /// the day's count are one transaction; a retry returns the first result (`applied` false),
  /// even after the player left. `bad_amount`, `donation_limit`, `insufficient_funds`, `bad_text`.
  asio::awaitable<eg::donation_result> donate(std::uint64_t player, std::string op_id, std::int64_t amount);
  /// The game spends `amount` of `guild`'s funds (a guild hall, a buff), once per `op`
  /// (`insufficient_funds` when the funds are lower). Returns the funds left (the first
  /// time's for a retry).
  asio::awaitable<std::int64_t> spend(std::uint64_t guild, std::string op, std::int64_t amount);

  /// Makes `player` a member of their guild's chat channel; returns it ("group:ID") and its
  /// last seq. The caller's session joins `chat::group_of(channel)` (the handler does).
  asio::awaitable<std::pair<std::string, std::uint64_t>> open_chat(std::uint64_t player);
  /// `player` says `text` in their guild's channel (chat's rules: filter, rate, once per `op_id`).
  asio::awaitable<ember_chat::chat_line> say(std::uint64_t player, std::string text, std::string op_id);
  /// A page of the guild channel's kept lines for `player` (a member): chat's `history`,
  /// older than `cursor` (0: from the newest), or with `forward` newer; and the next cursor.
  asio::awaitable<std::pair<std::vector<ember_chat::chat_line>, std::uint64_t>> chat_history(
      std::uint64_t player, std::uint64_t cursor, bool forward, std::size_t limit);

 private:
  using guild_row = eg::guild;
  using player_row = eg::guild_player;

  class admission;  // a (player, guild) pair `admits` says yes to, while it lives

  std::int64_t now_ms() const;
  static std::int64_t as_key(std::uint64_t id);
  static std::string channel_of(std::uint64_t guild) { return "group:" + std::to_string(guild); }
  eg::guild_info info_of(const guild_row& g) const;
  asio::awaitable<void> ensure_player(std::uint64_t player);
  /// The guild `actor` belongs to, or `not_member`.
  asio::awaitable<std::uint64_t> guild_of_member(std::uint64_t actor);

  /// Runs `fn(guild, roster, rows...)` on guild `guild`'s row, its decoded roster and `more`
  /// rows, all locked, in one transaction (retried when it loses to another); the roster and
  /// member count are stored back. Returns the roster as stored. `no_guild`.
  template <class Fn, class... T>
  asio::awaitable<eg::roster> change(std::uint64_t guild, Fn fn, data::row_ref<T>... more);

  /// Removes `player` from a roster (their guild_player row follows in the same change).
  static void remove_member(eg::roster& r, std::uint64_t player);
  /// `actor`'s entry, checked for `needed` (0: any member). `not_member`, `not_allowed`.
  const eg::guild_member& require(const eg::roster& r, std::uint64_t actor, std::uint32_t needed) const;

  /// Pushes `e` to every member of `r`, and to `also` if not one of them.
  void tell(const eg::roster& r, const eg::guild_event& e, std::uint64_t also = 0);
  /// Joins or leaves a player's chat membership; a failure is logged (membership stands; the
  /// player's `open_chat` joins again).
  asio::awaitable<void> chat_join(std::uint64_t player, std::uint64_t guild);
  asio::awaitable<void> chat_leave(std::uint64_t player, std::uint64_t guild);

  data::store& store_;
  event_bus& bus_;
  players& players_;
  wallet::service& wallet_;
  chat::service& chat_;
  options options_;
  hooks hooks_;
  data::table<eg::guild_table> guilds_;
  data::table<eg::guild_name_table> names_;
  data::table<eg::guild_player_table> player_rows_;
  data::table<eg::guild_op_table> ops_;
  std::multiset<std::pair<std::uint64_t, std::uint64_t>> admitted_;
};

/// The guilds' client commands, for the signed-in player.
class handler final : public eg::guilds_handler {
 public:
  explicit handler(service& s) : service_(s) {}

  asio::awaitable<eg::create_guild_reply> create_guild(net::session& s, const eg::create_guild_request& r) override;
  asio::awaitable<eg::get_guild_reply> get_guild(net::session& s, const eg::get_guild_request& r) override;
  asio::awaitable<eg::find_guild_reply> find_guild(net::session& s, const eg::find_guild_request& r) override;
  asio::awaitable<eg::list_members_reply> list_members(net::session& s, const eg::list_members_request& r) override;
  asio::awaitable<eg::join_guild_reply> join_guild(net::session& s, const eg::join_guild_request& r) override;
  asio::awaitable<eg::list_requests_reply> list_requests(net::session& s, const eg::list_requests_request& r) override;
  asio::awaitable<eg::accept_request_reply> accept_request(net::session& s, const eg::accept_request_request& r) override;
  asio::awaitable<eg::refuse_request_reply> refuse_request(net::session& s, const eg::refuse_request_request& r) override;
  asio::awaitable<eg::leave_guild_reply> leave_guild(net::session& s, const eg::leave_guild_request& r) override;
  asio::awaitable<eg::kick_reply> kick(net::session& s, const eg::kick_request& r) override;
  asio::awaitable<eg::ban_reply> ban(net::session& s, const eg::ban_request& r) override;
  asio::awaitable<eg::unban_reply> unban(net::session& s, const eg::unban_request& r) override;
  asio::awaitable<eg::promote_reply> promote(net::session& s, const eg::promote_request& r) override;
  asio::awaitable<eg::demote_reply> demote(net::session& s, const eg::demote_request& r) override;
  asio::awaitable<eg::transfer_leader_reply> transfer_leader(net::session& s,
                                                             const eg::transfer_leader_request& r) override;
  asio::awaitable<eg::set_announcement_reply> set_announcement(net::session& s,
                                                               const eg::set_announcement_request& r) override;
  asio::awaitable<eg::set_open_reply> set_open(net::session& s, const eg::set_open_request& r) override;
  asio::awaitable<eg::donate_reply> donate(net::session& s, const eg::donate_request& r) override;
  asio::awaitable<eg::open_chat_reply> open_chat(net::session& s, const eg::open_chat_request& r) override;
  asio::awaitable<eg::say_reply> say(net::session& s, const eg::say_request& r) override;
  asio::awaitable<eg::chat_history_reply> chat_history(net::session& s, const eg::chat_history_request& r) override;

 private:
  static std::uint64_t signed_in(net::session& s);

  service& service_;
};

}  // namespace ember::modules::guilds

#if defined(EMBER_SEPARATE_COMPILATION)
// Registering the module's commands compiles once, in its library (impl/src.hpp), not in
// every file that registers them.
extern template void ember_guilds::register_commands<0>(ember::net::dispatch_table&,
    ember_guilds::guilds_handler&);
#else
#include "ember/modules/guilds/impl/guilds.hpp"
#endif
