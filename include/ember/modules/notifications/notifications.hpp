// ember's notifications module (docs/modules/notifications.md): notices to a player, stored
// (persistent) or only pushed (transient), pushed at once to a connected player wherever they
// are connected, listed later with a cursor, deleted by their owner. Codes below 1000 are the
// system's (`ember_notifications::system_code`); a game's own codes start at 1000.
//
//   ember::modules::notifications::service notes(store, players, bus);
//   co_await notes.send(user, {.code = 1001, .subject = "Raid tonight", .content = R"({"at":"20:00"})"});
//   ember::modules::notifications::handler commands(notes);
//   ember_notifications::register_commands(table, commands);
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "ember/data/table.hpp"
#include "ember/modules/events.hpp"
#include "ember/modules/notifications/detail/ember_notifications.hpp"
#include "ember/modules/notifications/detail/ember_notifications_server.hpp"
#include "ember/modules/players.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::app {
class module_options;  // ember/app/module_options.hpp
}

namespace ember::modules::notifications {

namespace en = ember_notifications;

/// The first code a game may use; the codes below are ember's (`en::system_code`).
inline constexpr std::int32_t first_game_code = 1000;

/// Limits (config.json's `modules.notifications`).
struct options {
  /// Stored notifications per player; a send beyond it drops the oldest (a new notice matters
  /// more than an old one, and a system notice must not fail on a full inbox).
  std::size_t max_stored = 100;
  std::size_t max_subject_chars = 200;
  std::size_t max_content_bytes = 4096;
  std::size_t max_op_chars = 64;
  std::uint32_t default_page = 20;
  std::uint32_t max_page = 100;
  /// Ids in one delete request.
  std::size_t max_delete_ids = 100;

  /// From config.json's `modules.notifications` (the same names).
  static options read(app::module_options& o);
};

/// A notification to send.
struct outgoing {
  std::int32_t code = 0;
  std::string subject;
  /// A JSON object ("" means {}).
  std::string content;
  /// The player it is from; 0: the system.
  std::uint64_t sender = 0;
  /// Stored until deleted (and listed); false: only pushed, lost if the player is offline.
  bool persistent = true;
  /// Operation id (persistent only): a retried send with the same op stores and pushes once.
  std::string op;
};

/// A page of `service::list`.
struct page {
  std::vector<en::notification> notifications;
  std::string cursor;
  bool more = false;
};

class service {
 public:
  service(data::store& s, players& p, event_bus& bus, options o = {})
      : items_(s), players_(p), bus_(bus), options_(o) {}

  const options& limits() const noexcept { return options_; }

  /// Sends a game's notification (code 1000 or more, else `reserved_code`): stored if
  /// persistent, pushed at once if the player is connected. Returns it as sent (id 0 when
  /// transient). Refuses a bad subject or content (`bad_subject`, `bad_content`).
  asio::awaitable<en::notification> send(std::uint64_t user, outgoing n);

  /// Sends one of the system's notifications (ember's modules: friend request, banned, ...).
  asio::awaitable<en::notification> send_system(std::uint64_t user, en::system_code code, outgoing n);

  /// `user`'s stored notifications, oldest first, `limit` (0: the default; capped) after
  /// `cursor` (empty: from the oldest). The cursor of the last page, kept, later lists only
  /// what came since.
  asio::awaitable<page> list(std::uint64_t user, std::uint32_t limit, std::string_view cursor);

  /// Deletes `ids`, all `user`'s (else none is deleted: `unknown_notification`); returns how
  /// many were deleted (a repeated id counts once).
  asio::awaitable<std::uint32_t> remove(std::uint64_t user, std::vector<std::int64_t> ids);

 private:
  using position = std::pair<std::int64_t, std::int64_t>;  // created_ms, id
  static position position_of(const en::notifications_item& r) { return {r.created_ms, r.id}; }
  // A cursor is opaque to clients: "n.CREATED.ID" of the last notification they got.
  static std::string cursor_of(position p);
  static std::optional<position> parse_cursor(std::string_view c);

  static en::notification to_notification(const en::notifications_item& r);

  /// The user's stored notifications, oldest first.
  asio::awaitable<std::vector<en::notifications_item>> stored(std::uint64_t user);

  void check(std::uint64_t user, outgoing& n) const;

  static bool is_json_object(const std::string& s);

  asio::awaitable<en::notification> deliver(std::uint64_t user, outgoing n);

  /// Stores `n`: under a random id, or under the hash of (user, op) so that a replay finds the
  /// first one (returned with false). Then drops the oldest beyond the cap.
  asio::awaitable<std::pair<en::notification, bool>> store(std::uint64_t user, const outgoing& n,
                                                           std::int64_t now);

  asio::awaitable<void> drop_beyond_cap(std::uint64_t user);

  static std::int64_t positive(std::uint64_t v);
  static std::int64_t random_id();
  static std::int64_t op_id(std::uint64_t user, std::string_view op);

  data::table<en::notifications_item_table> items_;
  players& players_;
  event_bus& bus_;
  options options_;
};

/// The client commands: a player's own notifications.
class handler final : public en::notifications_handler {
 public:
  explicit handler(service& s) : service_(s) {}

  asio::awaitable<en::list_notifications_reply> list_notifications(
      net::session& s, const en::list_notifications_request& req) override;

  asio::awaitable<en::delete_notifications_reply> delete_notifications(
      net::session& s, const en::delete_notifications_request& req) override;

 private:
  static std::uint64_t user_of(const net::session& s);
  service& service_;
};

}  // namespace ember::modules::notifications

#if defined(EMBER_SEPARATE_COMPILATION)
// Registering the module's commands compiles once, in its library (impl/src.hpp), not in
// every file that registers them.
extern template void ember_notifications::register_commands<0>(ember::net::dispatch_table&,
    ember_notifications::notifications_handler&);
#else
#include "ember/modules/notifications/impl/notifications.hpp"
#endif
