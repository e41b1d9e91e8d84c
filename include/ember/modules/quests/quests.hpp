// ember's quests module (docs/modules/quests.md): quests and achievements defined in game data
// (hot reloadable); each counts the events of a source the game registers over the event bus
// (items bought, friends made, chat lines...), optionally filtered (one product, one channel),
// up to a target; prerequisites; daily and weekly resets in the game's time zone (a fixed UTC
// offset); rewards granted through the wallet and the inventory once per player, quest and
// period.
//
//   ember::app::data_slot<ember::modules::quests::quest_book> book{"data/quests.json"};
//   book.reload();
//   ember::modules::quests::service quests(io.get_executor(), store, bus, players, wallet,
//                                          inventory, book, options);
//   quests.count<ember_shop::product_purchased>("shop.purchase", quests::sources::purchases);
//   ember::modules::quests::handler commands(quests);
//   ember_quests::register_commands(table, commands);
//
// Exactly once: every counted event is a row (key PLAYER:HASH of the source's event id),
// marked in the same transaction as the progress it adds, so the same event heard twice — by
// two processes that both run the service and both hear it through the cluster's relay, or
// replayed — counts once.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "ember/app/game_data.hpp"
#include "ember/data/transaction.hpp"
#include "ember/modules/events.hpp"
#include "ember/modules/inventory/inventory.hpp"
#include "ember/modules/players.hpp"
#include "ember/modules/quests/detail/ember_quests.hpp"
#include "ember/modules/quests/detail/ember_quests_server.hpp"
#include "ember/modules/wallet/wallet.hpp"
#include "ember/outcome.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::app {
class module_options;  // ember/app/module_options.hpp
}

namespace ember::modules::quests {

/// The quest definitions of the game data (a JSON array of `ember_quests::quest`), checked as
/// a whole when loaded: a file over a cap, a quest without a target, a prerequisite that does
/// not exist or a cycle of them is refused, and the definitions in use stay.
class quest_book {
 public:
  using table = app::data_table<ember_quests::quest, &ember_quests::quest::id>;

  static constexpr std::size_t max_quests = 1000;          ///< quests in one file
  static constexpr std::size_t max_per_source = 64;        ///< quests counting one source (one event's transaction)
  static constexpr std::size_t max_prerequisites = 8;      ///< of one quest
  static constexpr std::size_t max_rewards = 16;           ///< currencies and item kinds of one quest
  /// Code points of a quest id: the claim's operation id `quests:PLAYER:QUEST:PERIOD` must fit
  /// the wallet's `max_op_id` (64): 7 + 19 + 1 + 28 + 1 + 5 (a day's number) = 61.
  static constexpr std::size_t max_quest_id = 28;
  static constexpr std::size_t max_id = 64;                ///< code points of a source or reward name
  static constexpr std::size_t max_filter = 128;           ///< code points of a filter

  quest_book() : rows_(std::make_shared<const table>()) {}

  /// Parses and checks `text` (the contents of `file`, which only appears in errors).
  static outcome<std::shared_ptr<const quest_book>, app::data_error> parse(std::string_view text,
                                                                                      const std::string& file);
  /// Reads, parses and checks `file` (what `app::data_slot::reload` calls).
  static outcome<std::shared_ptr<const quest_book>, app::data_error> load(const std::filesystem::path& file);

  const ember_quests::quest* find(const std::string& id) const { return rows_->find(id); }
  const std::vector<ember_quests::quest>& rows() const noexcept { return rows_->rows(); }
  std::size_t size() const noexcept { return rows_->size(); }
  /// The quests counting `source`, in the data's order (positions in `rows()`).
  const std::vector<std::size_t>& counting(const std::string& source) const;

 private:
  std::shared_ptr<const table> rows_;
  std::map<std::string, std::vector<std::size_t>, std::less<>> by_source_;
};

/// One event as a quest counts it, for one player.
struct tally {
  std::uint64_t player = 0;
  std::string filter;        ///< compared with a quest's `filter` (a product, a channel); may be empty
  std::uint32_t amount = 1;  ///< what it adds to the progress
  /// The event's identity for this player: the same in every process that hears the event,
  /// different for every other event of the source (a purchase id, a channel and line number).
  std::string event_id;

  // a constructor, not aggregate initialisation: g++ 12 destroys an aggregate temporary inside
  // a `co_await` expression twice (`co_await quests.record("x", tally{...})`)
  tally() = default;
  tally(std::uint64_t player_, std::string filter_, std::uint32_t amount_, std::string event_id_)
      : player(player_), filter(std::move(filter_)), amount(amount_), event_id(std::move(event_id_)) {}
};

/// The quests' settings (config.json's `modules.quests`).
struct options {
  std::int32_t utc_offset_minutes = 0;  ///< the time zone of daily and weekly resets (east of UTC)
  std::uint32_t week_starts = 1;        ///< the day a weekly quest resets: 0 Sunday .. 6 Saturday
  std::uint32_t page = 50;              ///< most quests per list page (a larger limit is cut)
  std::size_t max_event_id = 256;       ///< code points of a tally's event id (longer: not counted)

  /// From config.json's `modules.quests` (the same names).
  static options read(app::module_options& o);
};

/// What a game plugs in; each may be empty.
struct hooks {
  /// After a tally some quest matched was counted (`applied`) or found counted before (a
  /// duplicate).
  std::function<void(const std::string& source, const tally& t, bool applied)> on_counted;
  /// The time, in UTC ms (default the system's): periods are read from it.
  std::function<std::int64_t()> clock;
};

/// The typed interface of the quests: what the game and other modules call.
class service {
 public:
  /// Makes the quests' tables on `store` (before `store.open()`). Counting runs on `ex` (the
  /// event loop of the store); rewards are granted through `wallet` and `inventory`, on the
  /// same store; definitions come from `book` (reloadable; each piece of work uses one
  /// snapshot). Destroy the service once `counting()` is 0.
  service(asio::any_io_executor ex, data::store& store, event_bus& bus, players& to_players, wallet::service& wallet,
          inventory::service& inventory, const app::data_slot<quest_book>& book, options o = {}, hooks h = {})
      : ex_(std::move(ex)), store_(store), bus_(bus), players_(to_players), wallet_(wallet), inventory_(inventory),
        book_(book), options_(std::move(o)), hooks_(std::move(h)), progress_(store), events_(store) {}

  const options& config() const noexcept { return options_; }
  hooks& on() noexcept { return hooks_; }
  std::int64_t now_ms() const;

  /// Counts the events `E` of the bus (published here or relayed from another process) for
  /// the quests whose `counts` is `source`: `tallies(e)` says for whom, with which filter
  /// value and event id (`std::vector<tally>`; empty: the event counts for nobody). See
  /// ember/modules/quests/sources.hpp for ember's own events.
  template <class E, class Fn>
    requires std::convertible_to<std::invoke_result_t<Fn&, const E&>, std::vector<tally>>
  void count(std::string source, Fn tallies) {
    subscriptions_.push_back(bus_.subscribe<E>([this, source = std::move(source), fn = std::move(tallies)](const E& e) {
      for (auto& t : fn(e)) start(source, std::move(t));
    }));
  }

  /// Counts one tally of `source` now (what `count` does for each event): true if it was
  /// counted, false if that event was counted before (or no quest counts it). Invalid tallies
  /// (no player, a bad event id or filter) are refused with `bad_text`.
  asio::awaitable<bool> record(std::string source, tally t);

  /// Tallies being counted now (started by `count`'s events, not finished).
  std::size_t counting() const noexcept { return counting_; }

  /// `player`'s quests now, in the data's order (hidden ones once completed), after quest
  /// `cursor` ("" from the first): up to `limit` (at most `page`; 0 a full page). `bad_cursor`.
  asio::awaitable<ember_quests::list_quests_reply> list(std::uint64_t player, std::string cursor, std::uint32_t limit);

  /// Grants the rewards of `quest`, completed in its current period, once per player, quest
  /// and period (the operation id of the wallet and the inventory is derived from them): a
  /// retry returns the same result with `applied` false. `unknown_quest`, `not_completed`,
  /// `no_room`, `bad_quest`, `bad_text`.
  asio::awaitable<ember_quests::claim_result> claim(std::uint64_t player, std::string quest);

 private:
  void start(const std::string& source, tally t);
  asio::awaitable<void> record_logged(std::string source, tally t);
  /// The rewards' currencies as the wallet accepts them.
  void validate(const ember_quests::quest& q) const;
  /// A refusal of the wallet or the inventory during a claim, as the quests' own error.
  [[noreturn]] static void rethrow_as_quests_error(const game_error& e);
  std::int64_t period_of(const ember_quests::quest& q, std::int64_t now) const noexcept;
  std::int64_t resets_at(const ember_quests::quest& q, std::int64_t now) const noexcept;

  asio::any_io_executor ex_;
  data::store& store_;
  event_bus& bus_;
  players& players_;
  wallet::service& wallet_;
  inventory::service& inventory_;
  const app::data_slot<quest_book>& book_;
  options options_;
  hooks hooks_;
  data::table<ember_quests::quest_progress_table> progress_;
  data::table<ember_quests::quest_event_table> events_;
  std::vector<subscription> subscriptions_;
  std::size_t counting_ = 0;
};

/// The quests' client commands, for the signed-in player.
class handler final : public ember_quests::quests_handler {
 public:
  explicit handler(service& s) : service_(s) {}

  asio::awaitable<ember_quests::list_quests_reply> list_quests(net::session& s,
                                                               const ember_quests::list_quests_request& r) override;
  asio::awaitable<ember_quests::claim_reply> claim(net::session& s, const ember_quests::claim_request& r) override;

 private:
  static std::uint64_t signed_in(net::session& s);

  service& service_;
};

}  // namespace ember::modules::quests

#if defined(EMBER_SEPARATE_COMPILATION)
// Registering the module's commands compiles once, in its library (impl/src.hpp), not in
// every file that registers them.
extern template void ember_quests::register_commands<0>(ember::net::dispatch_table&,
    ember_quests::quests_handler&);
#else
#include "ember/modules/quests/impl/quests.hpp"
#endif
