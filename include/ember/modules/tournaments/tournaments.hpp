// ember's tournaments module (docs/modules/tournaments.md): leaderboards with a start and an
// end, an active window in each period, joining required or not, a maximum size per period, and
// rewards by rank mailed when a period ends — exactly once, even if the process granting them
// dies part-way.
//
// A tournament ranks on an authoritative board of the leaderboard module (its periods are the
// board's, reset by the board's cron schedule) and mails its rewards through the mail module:
// each reward is ONE transaction of the player's grant row (key TOURNAMENT:PERIOD:OWNER, the
// grant's operation id) and the mail, so a grant run again after a crash mails each reward once.
//
//   ember::modules::tournaments::service cups(store, bus, boards, mail, options);
//   ember::modules::tournaments::handler commands(cups);
//   ember_tournaments::register_commands(table, commands);
//   co_await cups.write("weekend_cup", player, {.score = 1200});   // the server's score
//   co_await cups.grant_due();                              // the owner, now and then
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "ember/data/table.hpp"
#include "ember/modules/events.hpp"
#include "ember/modules/leaderboard/leaderboard.hpp"
#include "ember/modules/mail/mail.hpp"
#include "ember/modules/tournaments/detail/ember_tournaments.hpp"
#include "ember/modules/tournaments/detail/ember_tournaments_server.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::app {
class module_options;  // ember/app/module_options.hpp
}

namespace ember::modules::tournaments {

/// One tournament as the game defines it.
struct definition {
  std::string id;
  std::string board;               ///< an authoritative board of the leaderboard module
  std::int64_t start_ms = 0;       ///< no score before (Unix ms)
  std::int64_t end_ms = 0;         ///< no score from then on; 0: never ends
  std::int64_t open_after_ms = 0;  ///< the window opens this long after a period starts
  std::int64_t open_for_ms = 0;    ///< and stays open this long; 0: until the period ends
  bool join_required = false;      ///< a player joins a period before scoring in it
  std::uint32_t max_size = 0;      ///< players of one period; 0: no cap
  bool authoritative = false;      ///< only the server writes scores (clients read)
  std::vector<ember_tournaments::reward> rewards;  ///< by rank ranges, disjoint, in order
};

/// The tournaments' limits (config.json's `modules.tournaments`).
struct options {
  std::vector<definition> tournaments;
  std::uint32_t max_page = 100;        ///< records of a page (a larger limit is cut)
  std::uint32_t max_rewarded = 1000;   ///< the lowest rank a reward may name
  std::int64_t reward_ttl_ms = -1;     ///< a reward mail's life; < 0: the mail's ttl, 0: forever

  /// From config.json's `modules.tournaments`: `"tournaments": ["weekend_cup board=weekly
  /// open=432000000+172800000 join max=100 reward=1:$gold*500,trophy*1 reward=2-10:$gold*100"]`
  /// (see `parse`), `max_page`, `max_rewarded`, `reward_ttl_ms`.
  static options read(app::module_options& o);
  /// One tournament: `ID board=BOARD [start=MS] [end=MS] [open=AFTER_MS+FOR_MS] [join]
  /// [max=N] [authoritative] [reward=FIRST[-LAST]:$CURRENCY*AMOUNT,ITEM*COUNT,...]...`; throws
  /// std::invalid_argument naming what is wrong.
  static definition parse(std::string_view spec);
};

/// Now, Unix ms (tests give the service a clock they move: the leaderboard's).
using clock_fn = std::function<std::int64_t()>;

/// What a game plugs in (tests). Each may be empty.
struct hooks {
  /// The subject and body of a reward mail (default: "Tournament reward", "ID: rank N").
  std::function<std::pair<std::string, std::string>(const definition&, std::int64_t period, std::uint64_t rank)> mail_text;
  /// Inside a reward's transaction, the mail staged, just before the commit: may throw to
  /// abandon it (nothing of it is stored; the grant run stops there with that exception).
  std::function<void(std::uint64_t owner, std::uint64_t rank)> before_grant_commit;
};

/// When a period of a tournament takes scores.
struct window {
  std::int64_t opens_ms = 0;
  std::int64_t closes_ms = 0;  ///< 0: never closes
  bool contains(std::int64_t now) const noexcept { return now >= opens_ms && (closes_ms == 0 || now < closes_ms); }
};

/// What one `grant` did.
struct grant_result {
  std::string tournament;
  std::int64_t period = 0;
  std::uint32_t mailed = 0;         ///< rewards mailed by this run
  std::uint32_t already = 0;        ///< rewards an earlier run had mailed
  std::uint32_t pending = 0;        ///< rewards the mail refused (an inbox full): the next run tries again
  bool complete = false;            ///< every reward of the period is mailed (marked in the period's row)
};

/// A page of a tournament's period.
struct page {
  std::vector<ember_tournaments::record> records;
  std::optional<ember_tournaments::record_cursor> next;  ///< absent after the last record
  std::uint64_t total = 0;
  std::int64_t period = 0;
};

/// The typed interface of the tournaments: what the game and other modules call. The service
/// belongs with the boards' owner (the leaderboard service it is given).
class service {
 public:
  /// Makes the module's tables on `store` (before `store.open()`). Throws std::invalid_argument
  /// for a tournament defined wrong (an unknown or non-authoritative board, a window on a board
  /// without resets, rewards that overlap or exceed the mail's limits, an id twice).
  service(data::store& store, event_bus& bus, leaderboard::service& boards, mail::service& mail, options o = {},
          clock_fn clock = {}, hooks h = {});
  ~service();
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  const options& config() const noexcept { return options_; }
  hooks& on() noexcept { return hooks_; }

  /// Every tournament that has not ended, as `player` (0: nobody) sees it now.
  asio::awaitable<std::vector<ember_tournaments::tournament>> list(std::uint64_t player);

  /// `player` joins the current period of `id` (between its start and its end, also outside
  /// the window). Returns (joined now, the period's size); joined already: (false, size).
  /// Errors: unknown_tournament, not_open (before the start or after the end), tournament_full.
  asio::awaitable<std::pair<bool, std::uint32_t>> join(std::string id, std::uint64_t player);

  /// Writes `owner`'s score in the current period of `id` with its board's operator (or
  /// `w.op`), inside the period's window; a player not in the period joins it first unless
  /// joining is required. `from_client`: refused on an authoritative tournament. Errors:
  /// unknown_tournament, authoritative, not_open, not_joined, tournament_full, and the
  /// leaderboard's (bad_metadata, bad_op_id, score_overflow, ...).
  asio::awaitable<ember_tournaments::record> write(std::string id, std::uint64_t owner, leaderboard::write_request w,
                                                   bool from_client = false);

  /// Up to `limit` records from the top (or below `after`) of `period` (0: the current one).
  asio::awaitable<page> top(std::string id, std::int64_t period, std::uint32_t limit,
                            std::optional<ember_tournaments::record_cursor> after = std::nullopt);
  /// `owner`'s record with its rank, if it has one.
  asio::awaitable<std::optional<ember_tournaments::record>> rank(std::string id, std::int64_t period, std::uint64_t owner);

  /// Mails the rewards of `period` (a start of the board's schedule; 0 for a board without
  /// resets) of `id`, each exactly once: a run again — after a crash, by a second call — mails
  /// only what no run mailed. Errors: unknown_tournament, not_ended (the period's window has
  /// not closed), the leaderboard's bad_period (too far back).
  asio::awaitable<grant_result> grant(std::string id, std::int64_t period);

  /// `grant` for every tournament's periods that ended and are not marked granted: the last
  /// ended period, and the current one if its window has closed. The owner runs it now and then.
  asio::awaitable<std::vector<grant_result>> grant_due();

  /// The current period of `id` and when it takes scores.
  std::pair<std::int64_t, window> current(const std::string& id);

 private:
  struct state;

  state& find(const std::string& id);
  window window_of(const state& t, std::int64_t period) const;
  /// `owner` in `period` (joining now if not yet): (joined now, size).
  asio::awaitable<std::pair<bool, std::uint32_t>> enter(const state& t, std::int64_t period, std::uint64_t owner);
  /// One reward, exactly once: false if an earlier run mailed it.
  asio::awaitable<bool> grant_one(const state& t, std::int64_t period, std::uint64_t owner, std::uint64_t rank,
                                  const ember_tournaments::reward& r);

  data::store& store_;
  event_bus& bus_;
  leaderboard::service& boards_;
  mail::service& mail_;
  options options_;
  clock_fn clock_;
  hooks hooks_;
  data::table<ember_tournaments::tournament_period_table> periods_;
  data::table<ember_tournaments::tournament_member_table> members_;
  data::table<ember_tournaments::tournament_grant_table> grants_;
  std::map<std::string, std::unique_ptr<state>, std::less<>> state_;
  /// Writes in flight by TOURNAMENT:PERIOD: a grant waits for them, so a score taken just
  /// before the window closed is ranked before the rewards are.
  std::map<std::string, std::uint32_t, std::less<>> writing_;
};

/// The key of a period's row: TOURNAMENT:PERIOD.
EMBER_DECL std::string period_key(std::string_view tournament, std::int64_t period);
/// The key of a player's rows of a period (member, grant): TOURNAMENT:PERIOD:OWNER.
EMBER_DECL std::string player_key(std::string_view tournament, std::int64_t period, std::uint64_t owner);

/// The tournaments' client commands, each over the service for the signed-in player.
class handler final : public ember_tournaments::tournaments_handler {
 public:
  explicit handler(service& s) : service_(s) {}

  asio::awaitable<ember_tournaments::list_tournaments_reply> list_tournaments(
      net::session& s, const ember_tournaments::list_tournaments_request& req) override;
  asio::awaitable<ember_tournaments::join_tournament_reply> join_tournament(
      net::session& s, const ember_tournaments::join_tournament_request& req) override;
  asio::awaitable<ember_tournaments::write_tournament_score_reply> write_tournament_score(
      net::session& s, const ember_tournaments::write_tournament_score_request& req) override;
  asio::awaitable<ember_tournaments::list_tournament_top_reply> list_tournament_top(
      net::session& s, const ember_tournaments::list_tournament_top_request& req) override;

 private:
  static std::uint64_t signed_in(net::session& s);

  service& service_;
};

}  // namespace ember::modules::tournaments

#if defined(EMBER_SEPARATE_COMPILATION)
// Registering the module's commands compiles once, in its library (impl/src.hpp), not in
// every file that registers them.
extern template void ember_tournaments::register_commands<0>(ember::net::dispatch_table&,
    ember_tournaments::tournaments_handler&);
#else
#include "ember/modules/tournaments/impl/tournaments.hpp"
#endif
