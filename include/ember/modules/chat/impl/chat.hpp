// ember: bodies of the chat module (included by ember/modules/chat/chat.hpp, or compiled once
// into libember-chat with EMBER_SEPARATE_COMPILATION).
#pragma once

#include "ember/modules/chat/chat.hpp"

#include <algorithm>
#include <cstdio>

#include "ember/app/module_options.hpp"
#include "ember/data/transaction.hpp"
#include "ember/modules/text.hpp"

namespace ember::modules::chat {

namespace detail {

inline std::string pair_key(std::string_view channel, std::uint64_t user) {
  return std::string(channel) + '\x1f' + std::to_string(user);
}
inline std::string message_key(std::string_view channel, std::uint64_t seq) {
  char digits[24];
  std::snprintf(digits, sizeof digits, "%020llu", static_cast<unsigned long long>(seq));
  return std::string(channel) + '\x1f' + digits;
}
inline std::int64_t now_ms() { return static_cast<std::int64_t>(data::unix_ms()); }

}  // namespace detail

EMBER_DECL options options::read(app::module_options& o, const std::filesystem::path& data_dir) {
  const auto size = [&](std::string_view key, std::size_t fallback, std::uint32_t hi) {
    return static_cast<std::size_t>(o.count(key, static_cast<std::uint32_t>(fallback), 1, hi));
  };
  options out;
  out.max_text_chars = size("max_text_chars", out.max_text_chars, 100'000);
  out.max_room_chars = size("max_room_chars", out.max_room_chars, 1024);
  out.max_members = size("max_members", out.max_members, 1'000'000);
  out.max_channels_per_user = size("max_channels_per_user", out.max_channels_per_user, 10'000);
  out.history_per_channel = size("history_per_channel", out.history_per_channel, 1'000'000);
  out.max_page = size("max_page", out.max_page, 10'000);
  out.lines_per_second = o.count("lines_per_minute", static_cast<std::uint32_t>(out.lines_per_second * 60), 1, 600'000) / 60.0;
  out.burst = o.count("burst", static_cast<std::uint32_t>(out.burst), 1, 100'000);
  out.max_op_id_chars = size("max_op_id_chars", out.max_op_id_chars, 1024);
  out.banned_words = o.texts("banned_words", out.banned_words);
  if (auto file = o.text("words_file", ""); !file.empty()) out.words_file = data_dir / file;
  o.done();
  return out;
}

EMBER_DECL service::service(data::store& s, event_bus& bus, players& p, fanout& f, options o, hooks h)
    : store_(s), bus_(bus), players_(p), fanout_(f), options_(std::move(o)), hooks_(std::move(h)),
      channels_(s), messages_(s), members_(s), mutes_(s), rates_(s), sent_(s) {
  if (!options_.words_file.empty()) words_.load(options_.words_file);
  else words_.set(options_.banned_words);
}

EMBER_DECL channel_id service::channel(std::string_view text, std::uint64_t user) const {
  auto c = parse_channel(text, user, options_.max_room_chars);
  if (!c) ember_chat::fail(ember_chat::error::bad_channel);
  return *c;
}

EMBER_DECL asio::awaitable<std::pair<channel_id, std::uint64_t>> service::join(std::uint64_t user,
                                                                              std::string_view text) {
  auto c = channel(text, user);
  check_access(user, c);
  const auto key = detail::pair_key(c.id, user);
  if (!co_await members_.get(key)) {
    if ((co_await members_.find<ember_chat::chat_member_table::by_user>(static_cast<std::int64_t>(user))).size() >=
        options_.max_channels_per_user)
      ember_chat::fail(ember_chat::error::too_many_channels);
    if ((co_await members_.find<ember_chat::chat_member_table::by_channel>(c.id)).size() >= options_.max_members)
      ember_chat::fail(ember_chat::error::channel_full);
    bool added = true;
    try {
      co_await members_.insert(ember_chat::chat_member(key, c.id, static_cast<std::int64_t>(user)));
    } catch (const data::data_error& e) {
      if (e.code() != data::data_errc::constraint) throw;
      added = false;  // joined meanwhile from another session
    }
    if (added) presence(c.id, user, true);
  }
  auto row = co_await channels_.get(c.id);
  co_return std::pair{c, row ? static_cast<std::uint64_t>(row->last_seq) : 0};
}

EMBER_DECL asio::awaitable<void> service::leave(std::uint64_t user, std::string_view text) {
  auto c = channel(text, user);
  if (co_await members_.remove(detail::pair_key(c.id, user))) presence(c.id, user, false);
}

EMBER_DECL asio::awaitable<void> service::leave_all(std::uint64_t user) {
  for (const auto& m : co_await members_.find<ember_chat::chat_member_table::by_user>(static_cast<std::int64_t>(user)))
    if (co_await members_.remove(m.id)) presence(m.channel, user, false);
}

EMBER_DECL asio::awaitable<ember_chat::chat_line> service::send(std::uint64_t user,
                                                               std::string_view channel_text, std::string text,
                                                               std::string op_id) {
  auto c = channel(channel_text, user);
  if (check_text(text, options_.max_text_chars) != text_problem::none) ember_chat::fail(ember_chat::error::bad_text);
  if (!op_id.empty() && check_text(op_id, options_.max_op_id_chars) != text_problem::none)
    ember_chat::fail(ember_chat::error::bad_op_id);
  check_access(user, c);
  if (c.kind != channel_kind::direct && !co_await members_.get(detail::pair_key(c.id, user)))
    ember_chat::fail(ember_chat::error::not_joined);
  if (auto m = co_await mutes_.get(detail::pair_key(c.id, user)); m && m->until_ms > detail::now_ms())
    ember_chat::fail(ember_chat::error::muted);

  ember_chat::chat_line line(c.id, 0, user, words_.mask(std::move(text)), static_cast<std::uint64_t>(detail::now_ms()));
  const auto op_key = std::to_string(user) + ':' + op_id;
  if (!op_id.empty()) {
    if (auto done = co_await sent_.get(op_key); done && done->seq > 0) {
      line.seq = static_cast<std::uint64_t>(done->seq);
      if (auto kept = co_await messages_.get(detail::message_key(c.id, line.seq))) line.text = kept->text;
      co_return line;
    }
  }
  co_await take_token(user);
  co_await ensure_row(channels_, ember_chat::chat_channel(c.id, 0));
  if (op_id.empty()) {
    line.seq = static_cast<std::uint64_t>((co_await channels_.update(c.id, [](auto& ch) { ++ch.last_seq; })).last_seq);
  } else {
    co_await ensure_row(sent_, ember_chat::chat_sent(op_key, 0));
    std::int64_t seq = 0;
    bool twin = false;
    co_await data::transact(
        store_,
        [&](ember_chat::chat_channel& ch, ember_chat::chat_sent& op) {
          twin = op.seq != 0;  // a twin of this request said it meanwhile
          seq = twin ? op.seq : op.seq = ++ch.last_seq;
        },
        data::at(channels_, c.id), data::at(sent_, op_key));
    line.seq = static_cast<std::uint64_t>(seq);
    if (twin) co_return line;  // the twin keeps and delivers it
  }
  co_await keep(line);
  co_await deliver(c, line);
  co_return line;
}

EMBER_DECL asio::awaitable<std::pair<std::vector<ember_chat::chat_line>, std::uint64_t>> service::history(
    std::uint64_t user, std::string_view text, std::uint64_t cursor, bool forward, std::size_t limit) {
  auto c = channel(text, user);
  check_access(user, c);
  if (c.kind != channel_kind::direct && !co_await members_.get(detail::pair_key(c.id, user)))
    ember_chat::fail(ember_chat::error::not_joined);
  limit = limit == 0 ? options_.max_page : std::min(limit, options_.max_page);
  std::pair<std::vector<ember_chat::chat_line>, std::uint64_t> page;
  auto row = co_await channels_.get(c.id);
  const auto last = row ? static_cast<std::uint64_t>(row->last_seq) : 0;
  const auto kept = std::min<std::uint64_t>(last, options_.history_per_channel);
  const auto oldest = last - kept + 1;  // older lines are deleted
  std::vector<std::string> keys;
  if (forward) {
    const auto from = std::max(cursor + 1, oldest);
    if (from <= last) {
      const auto to = std::min(last, from + limit - 1);
      for (auto seq = from; seq <= to; ++seq) keys.push_back(detail::message_key(c.id, seq));
      page.second = to < last ? to : 0;
    }
  } else {
    const auto before = cursor == 0 || cursor > last ? last + 1 : cursor;
    if (before > oldest) {
      const auto to = std::max<std::uint64_t>(oldest, before > limit ? before - limit : 1);
      for (auto seq = before - 1; seq >= to; --seq) keys.push_back(detail::message_key(c.id, seq));
      page.second = to > oldest ? to : 0;
    }
  }
  if (keys.empty()) co_return page;
  for (auto& m : co_await messages_.get_many(std::move(keys)))
    if (m) page.first.emplace_back(m->channel, m->seq, m->sender, m->text, m->sent_ms);
  co_return page;
}

EMBER_DECL asio::awaitable<void> service::mute(std::string_view channel_id_text, std::uint64_t user,
                                               std::uint64_t until_ms) {
  auto c = channel(channel_id_text, user);
  const auto key = detail::pair_key(c.id, user);
  co_await ensure_row(mutes_, ember_chat::chat_mute(key, 0));
  co_await mutes_.update(key, [&](auto& m) { m.until_ms = static_cast<std::int64_t>(until_ms); });
}

EMBER_DECL asio::awaitable<void> service::mute_by(std::uint64_t moderator, std::string_view channel_text,
                                                  std::uint64_t user, std::uint64_t until_ms) {
  auto c = channel(channel_text, moderator);
  if (!hooks_.is_moderator || !hooks_.is_moderator(moderator, c.id)) ember_chat::fail(ember_chat::error::not_moderator);
  co_await mute(c.id, user, until_ms);
}

EMBER_DECL std::size_t service::reload_words() {
  if (options_.words_file.empty()) {
    words_.set(options_.banned_words);
    return words_.size();
  }
  return words_.load(options_.words_file);
}

EMBER_DECL void service::check_access(std::uint64_t user, const channel_id& c) const {
  if (c.kind == channel_kind::group && !(hooks_.may_join_group && hooks_.may_join_group(user, c.group)))
    ember_chat::fail(ember_chat::error::not_allowed);
  if (c.kind == channel_kind::direct && !c.is_party(user)) ember_chat::fail(ember_chat::error::not_allowed);
}

EMBER_DECL asio::awaitable<void> service::take_token(std::uint64_t user) {
  const auto id = static_cast<std::int64_t>(user);
  co_await ensure_row(rates_, ember_chat::chat_rate(id, options_.burst, detail::now_ms()));
  bool limited = false;
  co_await rates_.update(id, [&](ember_chat::chat_rate& r) {
    const auto now = detail::now_ms();
    r.tokens = std::min(options_.burst, r.tokens + static_cast<double>(now - r.at_ms) / 1000.0 * options_.lines_per_second);
    r.at_ms = now;
    limited = r.tokens < 1.0;
    if (!limited) r.tokens -= 1.0;
  });
  if (limited) ember_chat::fail(ember_chat::error::rate_limited);
}

EMBER_DECL asio::awaitable<void> service::keep(const ember_chat::chat_line& line) {
  if (hooks_.keeps_history && !hooks_.keeps_history(line.channel)) co_return;
  co_await messages_.insert(ember_chat::chat_message(detail::message_key(line.channel, line.seq), line.channel,
                                                     static_cast<std::int64_t>(line.seq),
                                                     static_cast<std::int64_t>(line.from), line.text,
                                                     static_cast<std::int64_t>(line.sent_ms)));
  if (line.seq > options_.history_per_channel)
    co_await messages_.remove(detail::message_key(line.channel, line.seq - options_.history_per_channel));
}

EMBER_DECL asio::awaitable<void> service::deliver(const channel_id& c, const ember_chat::chat_line& line) {
  fanout_.broadcast(group_of(c.id), ember_chat::line_said(line));
  bus_.publish(line);
  if (c.kind != channel_kind::direct) co_return;
  const auto to = c.other(line.from);
  if (hooks_.is_online && !hooks_.is_online(to)) {
    if (hooks_.on_offline_direct_message) hooks_.on_offline_direct_message(to, line);
    co_return;
  }
  if (!co_await members_.get(detail::pair_key(c.id, to))) players_.push(to, ember_chat::line_said(line));
}

EMBER_DECL void service::presence(const std::string& channel, std::uint64_t user, bool joined) {
  fanout_.broadcast(group_of(channel), ember_chat::presence(channel, user, joined));
  bus_.publish(ember_chat::channel_joined(channel, user, joined));
}

EMBER_DECL asio::awaitable<ember_chat::join_reply> handler::join(net::session& s,
                                                                 const ember_chat::join_request& req) {
  auto [c, last] = co_await service_.join(user(s), req.channel);
  s.join(group_of(c.id));
  co_return ember_chat::join_reply{c.id, last};
}

EMBER_DECL asio::awaitable<ember_chat::leave_reply> handler::leave(net::session& s,
                                                                   const ember_chat::leave_request& req) {
  const auto u = user(s);
  const auto c = service_.channel(req.channel, u);
  s.leave(group_of(c.id));
  co_await service_.leave(u, c.id);
  co_return ember_chat::leave_reply{};
}

EMBER_DECL asio::awaitable<ember_chat::send_reply> handler::send(net::session& s,
                                                                 const ember_chat::send_request& req) {
  auto line = co_await service_.send(user(s), req.channel, req.text, req.op_id);
  co_return ember_chat::send_reply{line.seq, line.text};
}

EMBER_DECL asio::awaitable<ember_chat::history_reply> handler::history(net::session& s,
                                                                       const ember_chat::history_request& req) {
  auto [lines, next] = co_await service_.history(user(s), req.channel, req.cursor, req.forward, req.limit);
  co_return ember_chat::history_reply{std::move(lines), next};
}

EMBER_DECL asio::awaitable<ember_chat::mute_reply> handler::mute(net::session& s,
                                                                 const ember_chat::mute_request& req) {
  co_await service_.mute_by(user(s), req.channel, req.user, req.until_ms);
  co_return ember_chat::mute_reply{};
}

EMBER_DECL asio::awaitable<ember_chat::reload_words_reply> handler::reload_words(
    net::session&, const ember_chat::reload_words_request&) {
  co_return ember_chat::reload_words_reply{static_cast<std::uint32_t>(service_.reload_words())};
}

EMBER_DECL std::uint64_t handler::user(net::session& s) {
  auto u = s.user();
  if (!u) ember_chat::fail(ember_chat::error::not_signed_in);
  return *u;
}

}  // namespace ember::modules::chat
