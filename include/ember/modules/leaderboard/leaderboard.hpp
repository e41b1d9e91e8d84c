// ember's leaderboard module (docs/modules/leaderboard.md): boards ascending or descending,
// write operators best / set / incr / decr (a write may override its board's), ties broken by
// subscore then by who reached the score first, metadata per record, periods reset on a cron
// schedule with past periods still readable, top N with cursors, around a player, a player's
// rank, among a list of players or a player's friends.
//
// The database is the truth: every write is a record row written through the data layer
// (memcached, the journal, write-back). The service is the board's one owner: it keeps each
// board's ranks and metadata in memory (rank_index.hpp) in step with the writes it makes, and
// rebuilds them from the database with one query per board at `start()`.
//
//   ember::modules::leaderboard::service boards(store, bus, options);
//   store.open(); co_await boards.start();
//   ember::modules::leaderboard::handler commands(boards);
//   ember_leaderboard::register_commands(table, commands);
//   co_await boards.write("weekly", player, 1200, 3, "{\"car\":\"red\"}");
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "ember/data/table.hpp"
#include "ember/modules/events.hpp"
#include "ember/modules/leaderboard/cron.hpp"
#include "ember/modules/leaderboard/rank_index.hpp"
#include "ember/separate_compilation.hpp"
#include "ember/modules/leaderboard/detail/ember_leaderboard.hpp"
#include "ember/modules/leaderboard/detail/ember_leaderboard_server.hpp"

namespace ember::app {
class module_options;  // ember/app/module_options.hpp
}

namespace ember::modules::leaderboard {

/// One board as the game defines it.
struct board {
  std::string id;
  ember_leaderboard::sort_order order = ember_leaderboard::sort_order::descending;
  ember_leaderboard::write_operator op = ember_leaderboard::write_operator::best;
  std::string reset;            ///< cron schedule (5 fields, UTC); empty: one period forever
  bool authoritative = false;   ///< only the server writes (clients read)
  std::uint32_t max_metadata = 256;  ///< bytes of a record's metadata
};

/// The leaderboards' limits (config.json's `modules.leaderboard`).
struct options {
  std::vector<board> boards;
  std::uint32_t max_page = 100;      ///< most records of a page (a larger limit is cut)
  std::uint32_t max_players = 200;   ///< owners of one `players` request (and friends read)
  std::uint32_t past_periods = 8;    ///< how many periods back a board stays readable
  std::size_t max_op_id = 64;        ///< code points of an operation id

  /// From config.json's `modules.leaderboard`: `"boards": ["weekly desc best reset=0 0 * * 1",
  /// "races asc set authoritative metadata=64"]` (each: id, `asc`/`desc`, an operator, then
  /// `authoritative`, `metadata=BYTES`, and last `reset=CRON`), `max_page`, `max_players`,
  /// `past_periods`, `max_op_id`.
  static options read(app::module_options& o);
  /// One board of the `boards` syntax; throws std::invalid_argument naming what is wrong.
  static board parse_board(std::string_view spec);
};

/// One period of a board as its owner holds it: the ranks, and the records' metadata (owners
/// with an empty one have no entry), so that a page or a rank is answered from memory.
struct period_ranks : rank_index {
  using rank_index::rank_index;
  std::unordered_map<std::uint64_t, std::string> metadata;

  /// `key.owner`'s record and metadata.
  void put(const rank_key& key, std::string m) {
    set(key);
    if (m.empty()) metadata.erase(key.owner);
    else metadata.insert_or_assign(key.owner, std::move(m));
  }
  /// Removes `owner`'s record; false if it had none.
  bool drop(std::uint64_t owner) {
    metadata.erase(owner);
    return erase(owner);
  }
  std::string metadata_of(std::uint64_t owner) const {
    auto it = metadata.find(owner);
    return it == metadata.end() ? std::string() : it->second;
  }
};

/// Now, Unix ms (tests give the service a clock they move).
using clock_fn = std::function<std::int64_t()>;
/// A player's friends (the game connects the friends module's list here).
using friends_fn = std::function<asio::awaitable<std::vector<std::uint64_t>>(std::uint64_t)>;

/// What one `write` does.
struct write_request {
  std::int64_t score = 0;
  std::int64_t subscore = 0;
  std::string metadata;
  ember_leaderboard::write_operator op = ember_leaderboard::write_operator::board;  ///< board: the board's
  std::string op_id;  ///< a retry of the record's last write applies once (empty: no check)
};

/// A page and where it leaves off.
struct page {
  std::vector<ember_leaderboard::record> records;
  std::optional<ember_leaderboard::record_cursor> next;  ///< absent after the last record
  std::uint64_t total = 0;                               ///< records of the period
  std::int64_t period = 0;
};

/// The typed interface of the leaderboards: what the game and other modules call.
class service {
 public:
  /// Makes the module's tables on `store` (before `store.open()`). Throws
  /// std::invalid_argument for a board defined wrong (a bad schedule, an id twice).
  service(data::store& store, event_bus& bus, options o = {}, clock_fn clock = {});
  ~service();
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  const options& config() const noexcept { return options_; }
  /// A player's friends, for `friends()` (unset: `no_friends`).
  void set_friends(friends_fn f) { friends_ = std::move(f); }

  /// Which boards `start` serves: all of them (one process owns every board), or only those
  /// `adopt` takes later (several processes, each board owned by one; docs/cluster.md).
  enum class serving { all, adopted };

  /// After `store.open()`: writes back what the journal replayed, records the boards, and
  /// loads every board's current period from the database (one query each, on the database's
  /// workers); with `serving::adopted`, loads none and serves none until `adopt`. Nothing is
  /// served before.
  asio::awaitable<void> start(serving which = serving::all);

  /// Asked when a call names a board this process does not serve: it may make this process
  /// the board's owner cluster-wide and `adopt` it. A call whose board is still not served
  /// afterwards fails with `status::unavailable` (retry: another process owns it, or will).
  using claim_fn = std::function<asio::awaitable<void>(const std::string& board_id)>;
  void set_claim(claim_fn f) { claim_ = std::move(f); }

  /// Serves `board_id` from now on, taking it over from whichever process had it: waits until
  /// every writer of the database has written back what it acknowledged before now (a
  /// killed owner's journal too, once it runs again: `data::restart_fence::caught_up`), then
  /// loads the board's current period. Throws `data::data_error` `writers_behind` when a
  /// writer stays behind for the store's `fence_timeout`. Call it only as the board's owner.
  asio::awaitable<void> adopt(std::string board_id);

  /// Stops serving `board_id` (before another process adopts it): new calls are refused with
  /// `unavailable`, the calls running on it finish, every row is written back, and its ranks
  /// leave memory.
  asio::awaitable<void> drop(std::string board_id);

  /// True while this process serves `board_id`.
  bool serves(const std::string& board_id) const;

  /// Writes `owner`'s score on `board_id` in the current period with the board's operator (or
  /// `w.op`). `from_client`: refused on an authoritative board. Returns the record as stored,
  /// ranked. Errors: unknown_board, authoritative, bad_metadata, bad_op_id, bad_operator,
  /// score_overflow.
  asio::awaitable<ember_leaderboard::record> write(std::string board_id, std::uint64_t owner, write_request w,
                                                   bool from_client = false);

  /// Deletes `owner`'s record of the current period; false if it had none.
  asio::awaitable<bool> remove(std::string board_id, std::uint64_t owner, bool from_client = false);

  /// Up to `limit` records from the top (or below `after`) of `period` (0: the current one).
  asio::awaitable<page> top(std::string board_id, std::int64_t period, std::uint32_t limit,
                            std::optional<ember_leaderboard::record_cursor> after = std::nullopt);
  /// Up to `limit` records centred on `owner`'s.
  asio::awaitable<page> around(std::string board_id, std::int64_t period, std::uint64_t owner, std::uint32_t limit);
  /// `owner`'s record with its rank, if it has one.
  asio::awaitable<std::optional<ember_leaderboard::record>> rank(std::string board_id, std::int64_t period,
                                                                 std::uint64_t owner);
  /// The records of `owners` that have one, in rank order (ranks on the whole board).
  asio::awaitable<std::vector<ember_leaderboard::record>> players(std::string board_id, std::int64_t period,
                                                                  std::vector<std::uint64_t> owners);
  /// `owner`'s and its friends' records, in rank order.
  asio::awaitable<std::vector<ember_leaderboard::record>> friends(std::string board_id, std::int64_t period,
                                                                  std::uint64_t owner);

  /// How many records `period` (0: the current one) has, and that period's start.
  asio::awaitable<std::pair<std::uint64_t, std::int64_t>> count(std::string board_id, std::int64_t period);

  /// The current period of a board (its start, Unix ms; 0 for a board that never resets).
  std::int64_t current_period(const std::string& board_id);
  /// Records of the current period in memory (0 for an unknown board).
  std::size_t size(const std::string& board_id) const;

 private:
  struct board_state;

  board_state& find(const std::string& id);
  /// A call on a board: counts it running (so that `drop` waits for it) once the board is served.
  class call_guard;
  asio::awaitable<call_guard> enter(const std::string& id);
  void roll(board_state& b);
  /// The ranks of `period` (0: current): in memory, or loaded from the database.
  asio::awaitable<std::shared_ptr<const period_ranks>> ranks(board_state& b, std::int64_t period, std::int64_t& resolved);
  asio::awaitable<std::shared_ptr<period_ranks>> load(const board_state& b, std::int64_t period);
  period_ranks* live(board_state& b, std::int64_t period);
  static std::vector<ember_leaderboard::record> with_metadata(const period_ranks& idx, const std::vector<ranked>& rows);

  data::store& store_;
  event_bus& bus_;
  options options_;
  clock_fn clock_;
  friends_fn friends_;
  data::table<ember_leaderboard::leaderboard_board_table> boards_;
  data::table<ember_leaderboard::leaderboard_record_table> records_;
  std::map<std::string, std::unique_ptr<board_state>, std::less<>> state_;
  claim_fn claim_;
  bool started_ = false;
};

/// The key of a record row: BOARD:PERIOD:OWNER.
EMBER_DECL std::string record_key(std::string_view board, std::int64_t period, std::uint64_t owner);

/// The leaderboards' client commands, each over the service for the signed-in player.
class handler final : public ember_leaderboard::leaderboard_handler {
 public:
  explicit handler(service& s) : service_(s) {}

  asio::awaitable<ember_leaderboard::write_score_reply> write_score(net::session& s, const ember_leaderboard::write_score_request& req) override;
  asio::awaitable<ember_leaderboard::list_top_reply> list_top(net::session& s, const ember_leaderboard::list_top_request& req) override;
  asio::awaitable<ember_leaderboard::list_around_reply> list_around(net::session& s, const ember_leaderboard::list_around_request& req) override;
  asio::awaitable<ember_leaderboard::my_rank_reply> my_rank(net::session& s, const ember_leaderboard::my_rank_request& req) override;
  asio::awaitable<ember_leaderboard::list_players_reply> list_players(net::session& s, const ember_leaderboard::list_players_request& req) override;
  asio::awaitable<ember_leaderboard::list_friends_reply> list_friends(net::session& s, const ember_leaderboard::list_friends_request& req) override;
  asio::awaitable<ember_leaderboard::delete_score_reply> delete_score(net::session& s, const ember_leaderboard::delete_score_request& req) override;

 private:
  static std::uint64_t signed_in(net::session& s);

  service& service_;
};

}  // namespace ember::modules::leaderboard

#if defined(EMBER_SEPARATE_COMPILATION)
// Registering the module's commands compiles once, in its library (impl/src.hpp), not in
// every file that registers them.
extern template void ember_leaderboard::register_commands<0>(ember::net::dispatch_table&,
    ember_leaderboard::leaderboard_handler&);
#else
#include "ember/modules/leaderboard/impl/leaderboard.hpp"
#endif
