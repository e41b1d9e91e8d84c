// ember's chat module (docs/modules/chat.md): rooms, a group's channel (guilds, parties: the
// game says who belongs) and direct messages. Every line gets its channel's next sequence
// number (one compare-and-swap on the channel's row, shared by every process), is kept in the
// channel's history (unless the game says not to keep that channel), and is broadcast to the
// channel's session group on every client-facing server; clients order lines by seq.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "ember/data/error.hpp"
#include "ember/data/table.hpp"
#include "ember/modules/chat/channel_id.hpp"
#include "ember/modules/chat/detail/ember_chat.hpp"
#include "ember/modules/chat/detail/ember_chat_server.hpp"
#include "ember/modules/chat/fanout.hpp"
#include "ember/modules/chat/word_filter.hpp"
#include "ember/modules/events.hpp"
#include "ember/modules/players.hpp"
#include "ember/net/session.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::app {
class module_options;  // ember/app/module_options.hpp
}

namespace ember::modules::chat {

struct options {
  std::size_t max_text_chars = 500;         ///< of one line
  std::size_t max_room_chars = 64;          ///< of a room's name
  std::size_t max_members = 500;            ///< joined players of one channel
  std::size_t max_channels_per_user = 20;   ///< channels one player is joined to
  std::size_t history_per_channel = 1000;   ///< lines kept per channel (older ones are deleted)
  std::size_t max_page = 100;               ///< lines in one history page
  double lines_per_second = 1.0;            ///< a player's rate: refill of the token bucket
  double burst = 5.0;                       ///< and its size
  std::size_t max_op_id_chars = 64;
  std::vector<std::string> banned_words;    ///< used when there is no words_file
  std::filesystem::path words_file;         ///< one banned word per line; `reload_words` reads it again

  /// From config.json's `modules.chat`: the same names, but the rate as whole
  /// `lines_per_minute` and `burst`, and `words_file` relative to `data_dir` (the host's).
  static options read(app::module_options& o, const std::filesystem::path& data_dir = ".");
};

/// The game's rules, as C++ hooks. Every one is optional.
struct hooks {
  /// May `user` join group `group`'s channel (a member of the guild, the party)? Unset: no one may.
  std::function<bool(std::uint64_t user, std::uint64_t group)> may_join_group;
  /// Is `user` a moderator of `channel` (may mute there)? Unset: no player is.
  std::function<bool(std::uint64_t user, std::string_view channel)> is_moderator;
  /// Does the channel keep history? Unset: every channel does.
  std::function<bool(std::string_view channel)> keeps_history;
  /// Is `user` connected anywhere? Unset: everyone is (no offline direct messages then).
  std::function<bool(std::uint64_t user)> is_online;
  /// A direct message to a player who is not connected (the game makes it a notification).
  std::function<void(std::uint64_t to, const ember_chat::chat_line& line)> on_offline_direct_message;
};

/// The typed interface the game and other modules call.
class service {
 public:
  /// Loads the banned words (`options::words_file`, else `options::banned_words`); throws
  /// std::runtime_error if the file cannot be read.
  service(data::store& s, event_bus& bus, players& p, fanout& f, options o = {}, hooks h = {});

  const options& limits() const noexcept { return options_; }

  /// The channel `text` names for `user` (bad_channel if none).
  channel_id channel(std::string_view text, std::uint64_t user) const;

  /// Makes `user` a member of the channel and tells its members (presence); returns the
  /// channel and its last seq. The caller's session joins `group_of(channel.id)` (the
  /// handler does). Joining again is harmless.
  asio::awaitable<std::pair<channel_id, std::uint64_t>> join(std::uint64_t user, std::string_view text);

  /// Ends `user`'s membership of the channel and tells its members.
  asio::awaitable<void> leave(std::uint64_t user, std::string_view text);

  /// Ends every membership of `user` (the game calls it when the player disconnects).
  asio::awaitable<void> leave_all(std::uint64_t user);

  /// `user` says `text` in the channel: checks, masks banned words, numbers, keeps and
  /// delivers the line. A non-empty `op_id` makes a retry say it once (the first seq returns).
  asio::awaitable<ember_chat::chat_line> send(std::uint64_t user, std::string_view channel_text,
                                              std::string text, std::string op_id = {});

  /// A page of the channel's kept lines: older than `cursor` (0: from the newest), newest
  /// first, or with `forward` newer than `cursor`, oldest first; and the cursor of the next
  /// page in that direction (0: no more).
  asio::awaitable<std::pair<std::vector<ember_chat::chat_line>, std::uint64_t>> history(
      std::uint64_t user, std::string_view text, std::uint64_t cursor, bool forward, std::size_t limit);

  /// Mutes `user` in the channel until `until_ms` (Unix ms; 0 lifts it). The server's call: no
  /// permission check.
  asio::awaitable<void> mute(std::string_view channel_id_text, std::uint64_t user, std::uint64_t until_ms);

  /// A player's mute: `moderator` must be one (hooks::is_moderator) of the channel.
  asio::awaitable<void> mute_by(std::uint64_t moderator, std::string_view channel_text, std::uint64_t user,
                                std::uint64_t until_ms);

  /// Reads the banned-word file again (keeps the old list and throws if it cannot); returns
  /// the number of words.
  std::size_t reload_words();

 private:
  void check_access(std::uint64_t user, const channel_id& c) const;

  template <class Traits>
  static asio::awaitable<void> ensure_row(data::table<Traits>& t, typename Traits::row r) {
    if (co_await t.get(Traits::key_of(r))) co_return;
    try {
      co_await t.insert(std::move(r));
    } catch (const data::data_error& e) {
      if (e.code() != data::data_errc::constraint) throw;  // made meanwhile: fine
    }
  }

  /// One token of `user`'s bucket, or rate_limited.
  asio::awaitable<void> take_token(std::uint64_t user);

  /// Keeps the line (if its channel keeps history) and deletes the one that falls out.
  asio::awaitable<void> keep(const ember_chat::chat_line& line);

  /// To the channel's joined sessions on every server; a direct message also to its
  /// addressee when not joined to the conversation (a push, or the offline hook).
  asio::awaitable<void> deliver(const channel_id& c, const ember_chat::chat_line& line);

  void presence(const std::string& channel, std::uint64_t user, bool joined);

  data::store& store_;
  event_bus& bus_;
  players& players_;
  fanout& fanout_;
  options options_;
  hooks hooks_;
  word_filter words_;
  data::table<ember_chat::chat_channel_table> channels_;
  data::table<ember_chat::chat_message_table> messages_;
  data::table<ember_chat::chat_member_table> members_;
  data::table<ember_chat::chat_mute_table> mutes_;
  data::table<ember_chat::chat_rate_table> rates_;
  data::table<ember_chat::chat_sent_table> sent_;
};

/// The client commands, thin over the service; joining and leaving also join and leave the
/// session's broadcast group of the channel.
class handler final : public ember_chat::chat_handler {
 public:
  explicit handler(service& s) : service_(s) {}

  asio::awaitable<ember_chat::join_reply> join(net::session& s, const ember_chat::join_request& req) override;
  asio::awaitable<ember_chat::leave_reply> leave(net::session& s,
                                                 const ember_chat::leave_request& req) override;
  asio::awaitable<ember_chat::send_reply> send(net::session& s, const ember_chat::send_request& req) override;
  asio::awaitable<ember_chat::history_reply> history(net::session& s,
                                                     const ember_chat::history_request& req) override;
  asio::awaitable<ember_chat::mute_reply> mute(net::session& s, const ember_chat::mute_request& req) override;
  asio::awaitable<ember_chat::reload_words_reply> reload_words(
      net::session&, const ember_chat::reload_words_request&) override;

 private:
  static std::uint64_t user(net::session& s);

  service& service_;
};

}  // namespace ember::modules::chat

#if defined(EMBER_SEPARATE_COMPILATION)
// Registering the module's commands compiles once, in its library (impl/src.hpp), not in
// every file that registers them.
extern template void ember_chat::register_commands<0>(ember::net::dispatch_table&,
    ember_chat::chat_handler&);
#else
#include "ember/modules/chat/impl/chat.hpp"
#endif
