// ember's mail module (docs/modules/mail.md): system mail with attachments (currencies through
// the wallet, items through the inventory), text mail between players, read and keep flags,
// expiry, paging, batch delete, and mail to all players without a row per player.
//
//   ember::modules::mail::service mail(store, bus, players, wallet, inventory, options);
//   ember::modules::mail::handler commands(mail);
//   ember_mail::register_commands(table, commands);
//   co_await mail.send_system(player, "Welcome", "A gift", {{{"gold", 100}}, {{"potion", 5, false}}});
//   co_await mail.send_all("Festival", "For everyone", gifts, festival_end_ms);
//
// An attachment is claimed exactly once: the claim flag of the mail (or of the player's state of
// a mail to all), the wallet's grant and the inventory's grant are ONE transaction, whose grant
// operation id is derived from the mail and the recipient. A retry, a second device or a replay
// finds the flag set (or the grant's operation applied) and grants nothing more; a process killed
// before the commit stored nothing, so the claim is still there to make.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "ember/data/transaction.hpp"
#include "ember/modules/detail/rows.hpp"
#include "ember/modules/events.hpp"
#include "ember/modules/inventory/inventory.hpp"
#include "ember/modules/mail/detail/ember_mail.hpp"
#include "ember/modules/mail/detail/ember_mail_server.hpp"
#include "ember/modules/players.hpp"
#include "ember/modules/wallet/wallet.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::app {
class module_options;  // ember/app/module_options.hpp
}

namespace ember::modules::mail {

/// The mail's limits (config.json's `modules.mail`).
struct options {
  std::size_t max_inbox = 100;             ///< live mails of one player (mail to all not counted)
  std::size_t max_broadcasts = 50;         ///< live mails to all players
  std::size_t max_subject = 64;            ///< code points
  std::size_t max_body = 2000;             ///< code points (newlines and tabs allowed)
  std::size_t max_attachments = 10;        ///< currencies + items of one mail
  std::int64_t max_amount = 1'000'000'000; ///< one currency attachment
  std::uint32_t max_count = 1'000'000;     ///< one item attachment
  std::uint32_t page = 20;                 ///< most mails per page (a larger limit is cut)
  std::size_t max_batch = 50;              ///< ids of one delete
  std::size_t max_op_id = 64;              ///< code points of a client's operation id
  std::uint32_t max_sends_per_minute = 10; ///< player mails one player sends (0: no limit)
  std::int64_t ttl_ms = 30LL * 24 * 3600 * 1000;  ///< a mail's life unless kept; 0: forever

  /// From config.json's `modules.mail` (the same names).
  static options read(app::module_options& o);
};

/// What a game plugs in (notifications, game rules, tests). Each may be empty.
struct hooks {
  /// After a mail to `player` is stored (the push `mail_received` is already sent).
  std::function<void(std::uint64_t player, const ember_mail::mail&)> on_received;
  /// After a mail to all players is stored.
  std::function<void(const ember_mail::mail&)> on_broadcast;
  /// Inside a claim's transaction, every row locked and the grants staged, just before the
  /// commit: may throw (a schema error) to refuse the claim; nothing is stored then.
  std::function<void(std::uint64_t player, std::int64_t mail)> before_claim_commit;
  /// After a claim is stored (the event `mail_claimed` is already published).
  std::function<void(const ember_mail::mail_claimed&)> on_claimed;
};

namespace detail {

inline constexpr std::int32_t placeholder = 0, live = 1, deleted = 2;
inline constexpr std::string_view everyone = "all";

// The row keys (here, not in impl/: the template service::set_flag uses them).
inline std::string message_key(std::uint64_t player, std::int64_t seq) {
  return std::to_string(player) + ':' + std::to_string(seq);
}
inline std::string state_key(std::uint64_t player, std::int64_t broadcast) {
  return std::to_string(player) + ':' + std::to_string(broadcast);
}

}  // namespace detail

/// The typed interface of the mail: what the game and other modules call.
class service {
 public:
  /// Makes the mail's tables on `store` (before `store.open()`). Grants go through `wallet`
  /// and `inventory`, which must be on the same store.
  service(data::store& store, event_bus& bus, players& to_players, wallet::service& wallet,
          inventory::service& inventory, options o = {}, hooks h = {})
      : store_(store), bus_(bus), players_(to_players), wallet_(wallet), inventory_(inventory),
        options_(std::move(o)), hooks_(std::move(h)), boxes_(store), messages_(store), broadcasts_(store),
        states_(store) {}

  const options& config() const noexcept { return options_; }
  hooks& on() noexcept { return hooks_; }

  /// A mail from the system to `to`, with attachments; `ttl_ms` < 0: the options' ttl, 0:
  /// never expires. Its id (> 0). `inbox_full`, `bad_text`, `bad_attachment`.
  asio::awaitable<std::int64_t> send_system(std::uint64_t to, std::string subject, std::string body,
                                            ember_mail::attachments attached = {}, std::int64_t ttl_ms = -1);

  /// `send_system` staged into the caller's transaction `tx`, so that the mail is stored with
  /// the caller's own rows, all or nothing (a tournament's reward and its "granted" mark): a
  /// process that dies before `tx` commits sent nothing, one that committed sent it once. `*id`
  /// is the mail's id once `tx` commits. Same errors, thrown by the build or by a step.
  asio::awaitable<void> stage_system(data::change_set& tx, std::uint64_t to, std::string subject, std::string body,
                                     ember_mail::attachments attached, std::shared_ptr<std::int64_t> id,
                                     std::int64_t ttl_ms = -1);

  /// A text mail from player `from` to player `to` (no attachments: items and currencies
  /// change hands through trades, where both sides agree). `bad_recipient`, `inbox_full`,
  /// `bad_text`, `too_many_sends` (over `max_sends_per_minute`; counted in the sender's box,
  /// in the same transaction, so every server of the cluster shares the count).
  asio::awaitable<std::int64_t> send_player(std::uint64_t from, std::uint64_t to, std::string subject,
                                            std::string body);

  /// A mail to all players: ONE row; each player's flags are made when the player first acts
  /// on it. Every player who opens the mailbox before `expires_at_ms` sees it (players who
  /// join meanwhile too); 0: now + the options' ttl. Its id (< 0). `too_many_broadcasts`.
  asio::awaitable<std::int64_t> send_all(std::string subject, std::string body,
                                         ember_mail::attachments attached = {},
                                         std::int64_t expires_at_ms = 0);

  /// Removes the mails to all players whose time is over (and so, lazily, their flags); the
  /// count removed. A game runs it now and then; lists skip them meanwhile anyway.
  asio::awaitable<std::size_t> expire_broadcasts();

  /// `player`'s mail, newest first, after `cursor` ("" from the newest): up to `limit` (at most
  /// `page`; 0 a full page). Expired own mails (not kept) are removed on the way.
  asio::awaitable<ember_mail::list_mail_reply> list(std::uint64_t player, std::string cursor,
                                                    std::uint32_t limit, bool unread_only);

  /// One mail of `player`, marked read. `no_such_mail`.
  asio::awaitable<ember_mail::mail> read(std::uint64_t player, std::int64_t id);

  /// Sets (or clears) the keep flag: a kept own mail does not expire (a mail to all ends at
  /// its time whatever the flag). `no_such_mail`.
  asio::awaitable<void> keep(std::uint64_t player, std::int64_t id, bool kept);

  /// Grants mail `id`'s attachments to `player`, exactly once: a retry (same or another
  /// device, a resume, a replay) returns what the first claim granted with `applied` false.
  /// `no_such_mail`, `nothing_to_claim`, `no_room` (the bag or a wallet cap; nothing is
  /// claimed), `bad_attachment` (an item type the game no longer has).
  asio::awaitable<ember_mail::claim_result> claim(std::uint64_t player, std::int64_t id);

  /// Deletes `ids` of `player`, all or none: a mail with attachments not claimed only when
  /// `force`. The count deleted. `too_many_ids`, `no_such_mail`, `unclaimed_attachments`.
  asio::awaitable<std::uint32_t> remove(std::uint64_t player, std::vector<std::int64_t> ids, bool force);

 private:
  // --- sending

  void validate_text(const std::string& subject, const std::string& body) const;
  void validate(const ember_mail::attachments& a) const;

  /// Stores a mail in `to`'s box: the box's sequence and live count and the mail row change in
  /// one transaction, so the inbox cap holds against concurrent senders.
  asio::awaitable<std::int64_t> deliver(std::uint64_t to, std::uint64_t sender, std::string subject,
                                        std::string body, ember_mail::attachments attached,
                                        std::int64_t ttl_ms);
  /// `deliver`'s rows and steps in `tx` (the push and the event on its commit); `*seq` is the
  /// mail's id once `tx` commits.
  asio::awaitable<void> stage_deliver(data::change_set& tx, std::uint64_t to, std::uint64_t sender, std::string subject,
                                      std::string body, ember_mail::attachments attached, std::int64_t ttl_ms,
                                      std::shared_ptr<std::int64_t> seq);

  // --- reading

  asio::awaitable<ember_mail::mail_broadcast> live_broadcast(std::int64_t id);

  /// Every mail `player` sees, newest first (bounded: `max_inbox` own + `max_broadcasts`).
  /// Tidies on the way: expired own mails, deleted leftovers, flags of mails to all now gone.
  asio::awaitable<std::vector<ember_mail::mail>> mailbox(std::uint64_t player);

  /// Marks `keys` (own mails of `player` found expired) deleted and frees their places.
  asio::awaitable<void> expire(std::uint64_t player, const std::vector<std::string>& keys);

  asio::awaitable<ember_mail::mail> one(std::uint64_t player, std::int64_t id);

  /// Applies `fn` to the row of flags of mail `id` (the mail's own row, or the player's state
  /// of a mail to all, made now if it is the first time).
  template <class Fn>
  asio::awaitable<void> set_flag(std::uint64_t player, std::int64_t id, Fn fn) {
    try {
      if (id > 0) {
        bool gone = false;
        co_await messages_.update(detail::message_key(player, id), [&](ember_mail::mail_message& r) {
          gone = r.state != detail::live;
          if (!gone) fn(r);
        });
        if (gone) ember_mail::fail(ember_mail::error::no_such_mail);
        co_return;
      }
      co_await live_broadcast(id);
      const auto key = detail::state_key(player, -id);
      co_await modules::detail::insert_if_absent(states_, ember_mail::mail_broadcast_state(key, static_cast<std::int64_t>(player), -id));
      bool gone = false;
      co_await states_.update(key, [&](ember_mail::mail_broadcast_state& s) {
        gone = s.deleted;
        if (!gone) fn(s);
      });
      if (gone) ember_mail::fail(ember_mail::error::no_such_mail);
    } catch (const data::data_error& e) {
      if (e.code() != data::data_errc::not_found) throw;
      ember_mail::fail(ember_mail::error::no_such_mail);
    }
  }

  /// A refusal of the wallet or the inventory during a claim, as the mail's own error.
  [[noreturn]] static void rethrow_as_mail_error(const game_error& e);

  data::store& store_;
  event_bus& bus_;
  players& players_;
  wallet::service& wallet_;
  inventory::service& inventory_;
  options options_;
  hooks hooks_;
  data::table<ember_mail::mail_box_table> boxes_;
  data::table<ember_mail::mail_message_table> messages_;
  data::table<ember_mail::mail_broadcast_table> broadcasts_;
  data::table<ember_mail::mail_broadcast_state_table> states_;
};

/// The mail's client commands, for the signed-in player.
class handler final : public ember_mail::mail_handler {
 public:
  explicit handler(service& s) : service_(s) {}

  asio::awaitable<ember_mail::list_mail_reply> list_mail(net::session& s,
                                                         const ember_mail::list_mail_request& r) override;
  asio::awaitable<ember_mail::read_mail_reply> read_mail(net::session& s,
                                                         const ember_mail::read_mail_request& r) override;
  /// The client's op id is checked but not needed: the claim is once per mail and player.
  asio::awaitable<ember_mail::claim_mail_reply> claim_mail(net::session& s,
                                                           const ember_mail::claim_mail_request& r) override;
  asio::awaitable<ember_mail::keep_mail_reply> keep_mail(net::session& s,
                                                         const ember_mail::keep_mail_request& r) override;
  asio::awaitable<ember_mail::delete_mail_reply> delete_mail(net::session& s,
                                                             const ember_mail::delete_mail_request& r) override;
  asio::awaitable<ember_mail::send_mail_reply> send_mail(net::session& s,
                                                         const ember_mail::send_mail_request& r) override;

 private:
  static std::uint64_t signed_in(net::session& s);

  service& service_;
};

}  // namespace ember::modules::mail

#if defined(EMBER_SEPARATE_COMPILATION)
// Registering the module's commands compiles once, in its library (impl/src.hpp), not in
// every file that registers them.
extern template void ember_mail::register_commands<0>(ember::net::dispatch_table&,
    ember_mail::mail_handler&);
#else
#include "ember/modules/mail/impl/mail.hpp"
#endif
