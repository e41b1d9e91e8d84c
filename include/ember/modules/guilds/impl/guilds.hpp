// ember: bodies of the guilds module (included by ember/modules/guilds/guilds.hpp, or compiled
// once into libember-guilds with EMBER_SEPARATE_COMPILATION).
#pragma once

#include "ember/modules/guilds/guilds.hpp"

#include <algorithm>
#include <climits>
#include <exception>
#include <stdexcept>

#include "ember/app/module_options.hpp"
#include "ember/log.hpp"
#include "ember/modules/detail/rows.hpp"
#include "ember/modules/text.hpp"

namespace ember::modules::guilds {

namespace detail {

inline constexpr std::int64_t day_ms = 24LL * 3'600'000;

/// Days since the epoch at `now_ms` in a zone `offset_minutes` east of UTC (rounded down).
inline std::int64_t local_day(std::int64_t now_ms, std::int32_t offset_minutes) {
  const auto t = now_ms + std::int64_t{offset_minutes} * 60'000;
  return t >= 0 ? t / day_ms : -((-t + day_ms - 1) / day_ms);
}

inline eg::roster read_roster(const eg::guild& g) {
  if (g.roster.empty()) return {};
  return modules::detail::from_bytes<eg::roster>(g.roster, "guilds: a stored roster");
}

inline eg::guild_member* find_member(eg::roster& r, std::uint64_t player) {
  auto it = std::find_if(r.members.begin(), r.members.end(), [&](const auto& m) { return m.player == player; });
  return it == r.members.end() ? nullptr : &*it;
}
inline const eg::guild_member* find_member(const eg::roster& r, std::uint64_t player) {
  return find_member(const_cast<eg::roster&>(r), player);
}
inline bool has_request(const eg::roster& r, std::uint64_t player) {
  return std::any_of(r.requests.begin(), r.requests.end(), [&](const auto& q) { return q.player == player; });
}
inline bool drop_request(eg::roster& r, std::uint64_t player) {
  return std::erase_if(r.requests, [&](const auto& q) { return q.player == player; }) > 0;
}
inline bool is_banned(const eg::roster& r, std::uint64_t player) {
  return std::find(r.bans.begin(), r.bans.end(), player) != r.bans.end();
}

/// A player id as the tables key it; 0 and ids past INT64_MAX are no player.
inline bool valid_id(std::uint64_t id) { return id != 0 && id <= static_cast<std::uint64_t>(INT64_MAX); }

/// A code point folded to its small letter (the scripts `fold_name` names), else itself.
inline std::uint32_t fold(std::uint32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;      // Latin-1
  if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 32;   // Greek
  if (c >= 0x410 && c <= 0x42F) return c + 32;                 // Cyrillic
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  return c;
}

inline void append_utf8(std::string& out, std::uint32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

}  // namespace detail

/// Holds a (player, guild) pair `admits` says yes to, from the membership check to the end of
/// the chat call it covers.
class service::admission {
 public:
  admission(service& s, std::uint64_t player, std::uint64_t guild)
      : s_(s), it_(s.admitted_.emplace(player, guild)) {}
  admission(const admission&) = delete;
  admission& operator=(const admission&) = delete;
  ~admission() { s_.admitted_.erase(it_); }

 private:
  service& s_;
  std::multiset<std::pair<std::uint64_t, std::uint64_t>>::iterator it_;
};

EMBER_DECL std::uint32_t permissions_of(const std::vector<std::string>& names, std::string_view where) {
  static constexpr std::pair<std::string_view, std::uint32_t> known[] = {
      {"accept", permission::accept},     {"kick", permission::kick},         {"ban", permission::ban},
      {"announce", permission::announce}, {"settings", permission::settings}, {"promote", permission::promote}};
  std::uint32_t out = 0;
  for (const auto& n : names) {
    auto it = std::find_if(std::begin(known), std::end(known), [&](const auto& k) { return k.first == n; });
    if (it == std::end(known))
      throw std::invalid_argument(std::string(where) + ": unknown permission '" + n +
                                  "' (accept, kick, ban, announce, settings, promote)");
    out |= it->second;
  }
  return out;
}

EMBER_DECL std::string fold_name(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (std::size_t i = 0; i < name.size();) {
    const auto c = static_cast<unsigned char>(name[i]);
    const std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    if (i + len > name.size()) break;  // checked UTF-8 only reaches here
    std::uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(name[i + k]) & 0x3F);
    detail::append_utf8(out, detail::fold(cp));
    i += len;
  }
  return out;
}

EMBER_DECL std::uint32_t options::cap(std::int32_t level) const {
  const auto extra = std::uint64_t{members_per_level} * static_cast<std::uint64_t>(std::max(0, level - 1));
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(max_members + extra, 1'000));
}

EMBER_DECL std::int32_t options::level_of(std::int64_t xp) const {
  const auto l = 1 + std::max<std::int64_t>(0, xp) / std::max<std::int64_t>(1, xp_per_level);
  return static_cast<std::int32_t>(std::min<std::int64_t>(l, max_level));
}

EMBER_DECL options options::read(app::module_options& o) {
  options out;
  out.max_members = o.count("max_members", out.max_members, 1, 1'000);
  out.members_per_level = o.count("members_per_level", out.members_per_level, 0, 1'000);
  out.max_level = o.count("max_level", out.max_level, 1, 1'000);
  out.xp_per_level = o.integer("xp_per_level", out.xp_per_level, 1, INT64_MAX / 2);
  out.max_requests = o.count("max_requests", out.max_requests, 0, 1'000);
  out.max_bans = o.count("max_bans", out.max_bans, 0, 10'000);
  out.max_name = o.count("max_name", static_cast<std::uint32_t>(out.max_name), 1, 64);
  out.min_name = o.count("min_name", static_cast<std::uint32_t>(out.min_name), 1, static_cast<std::uint32_t>(out.max_name));
  out.max_announcement = o.count("max_announcement", static_cast<std::uint32_t>(out.max_announcement), 0, 10'000);
  out.max_op_id = o.count("max_op_id", static_cast<std::uint32_t>(out.max_op_id), 1, 64);
  const auto names = [](std::uint32_t bits) {
    std::vector<std::string> v;
    for (const auto& [n, b] : {std::pair{"accept", permission::accept}, std::pair{"kick", permission::kick},
                               std::pair{"ban", permission::ban}, std::pair{"announce", permission::announce},
                               std::pair{"settings", permission::settings}, std::pair{"promote", permission::promote}})
      if (bits & b) v.emplace_back(n);
    return v;
  };
  out.officer_permissions = permissions_of(o.texts("officer_permissions", names(out.officer_permissions)),
                                           "modules.guilds.officer_permissions");
  out.member_permissions = permissions_of(o.texts("member_permissions", names(out.member_permissions)),
                                          "modules.guilds.member_permissions");
  out.donation_currency = o.text("donation_currency", out.donation_currency);
  out.daily_donation_limit = o.integer("daily_donation_limit", out.daily_donation_limit, 0, INT64_MAX / 2);
  out.utc_offset_minutes = static_cast<std::int32_t>(o.integer("utc_offset_minutes", out.utc_offset_minutes, -14 * 60, 14 * 60));
  out.max_attempts = static_cast<int>(o.count("max_attempts", static_cast<std::uint32_t>(out.max_attempts), 1, 1'000));
  o.done();
  return out;
}

EMBER_DECL service::service(data::store& store, event_bus& bus, players& to_players, wallet::service& wallet,
                            chat::service& chat, options o, hooks h)
    : store_(store), bus_(bus), players_(to_players), wallet_(wallet), chat_(chat), options_(std::move(o)),
      hooks_(std::move(h)), guilds_(store), names_(store), player_rows_(store), ops_(store) {
  const auto& currencies = wallet_.config().currencies;
  if (options_.daily_donation_limit > 0 &&
      std::none_of(currencies.begin(), currencies.end(), [&](const auto& c) { return c.name == options_.donation_currency; }))
    throw std::invalid_argument("modules.guilds.donation_currency: '" + options_.donation_currency +
                                "' is not a currency of the wallet");
}

EMBER_DECL bool service::admits(std::uint64_t player, std::uint64_t group) const {
  return admitted_.contains({player, group});
}

EMBER_DECL std::int64_t service::now_ms() const {
  return hooks_.clock ? hooks_.clock() : static_cast<std::int64_t>(data::unix_ms());
}

EMBER_DECL std::int64_t service::as_key(std::uint64_t id) { return static_cast<std::int64_t>(id); }

EMBER_DECL eg::guild_info service::info_of(const guild_row& g) const {
  return eg::guild_info(static_cast<std::uint64_t>(g.id), g.name, g.open, static_cast<std::uint64_t>(g.leader),
                        static_cast<std::uint32_t>(g.members), options_.cap(g.level), static_cast<std::uint32_t>(g.level),
                        g.xp, g.funds, g.announcement, g.created_ms, channel_of(static_cast<std::uint64_t>(g.id)));
}

EMBER_DECL asio::awaitable<void> service::ensure_player(std::uint64_t player) {
  // Awaited apart from the `if`: g++ 12 miscompiles a co_await in a condition followed by co_return.
  const auto have = co_await player_rows_.get(as_key(player));
  if (!have) co_await modules::detail::insert_if_absent(player_rows_, player_row(as_key(player), 0, 0, 0));
}

EMBER_DECL asio::awaitable<std::uint64_t> service::guild_of(std::uint64_t player) {
  if (!detail::valid_id(player)) co_return 0;
  auto p = co_await player_rows_.get(as_key(player));
  co_return p ? static_cast<std::uint64_t>(p->guild) : 0;
}

EMBER_DECL asio::awaitable<std::uint64_t> service::guild_of_member(std::uint64_t actor) {
  if (!detail::valid_id(actor)) eg::fail(eg::error::not_signed_in);
  const auto g = co_await guild_of(actor);
  if (g == 0) eg::fail(eg::error::not_member);
  co_return g;
}

template <class Fn, class... T>
asio::awaitable<eg::roster> service::change(std::uint64_t guild, Fn fn, data::row_ref<T>... more) {
  if (!detail::valid_id(guild)) eg::fail(eg::error::no_guild);
  for (int attempt = 1;; ++attempt) {
    eg::roster after;
    bool lost = false;
    try {
      co_await data::transact(
          store_,
          [&](guild_row& g, typename T::row&... rows) {
            if (g.disbanded) eg::fail(eg::error::no_guild);
            auto r = detail::read_roster(g);
            fn(g, r, rows...);
            g.members = static_cast<std::int32_t>(r.members.size());
            g.roster = modules::detail::to_bytes(r);
            after = std::move(r);
          },
          data::at(guilds_, as_key(guild)), more...);
    } catch (const data::data_error& e) {
      if (e.code() == data::data_errc::not_found) eg::fail(eg::error::no_guild);
      if (e.code() != data::data_errc::contention || attempt >= options_.max_attempts) throw;
      lost = true;
    }
    if (!lost) co_return after;
    co_await data::detail::retry_backoff(attempt);
  }
}

EMBER_DECL void service::remove_member(eg::roster& r, std::uint64_t player) {
  std::erase_if(r.members, [&](const auto& m) { return m.player == player; });
}

EMBER_DECL const eg::guild_member& service::require(const eg::roster& r, std::uint64_t actor,
                                                    std::uint32_t needed) const {
  const auto* m = detail::find_member(r, actor);
  if (!m) eg::fail(eg::error::not_member);
  const std::uint32_t has = m->role == guild_role::leader    ? ~0u
                            : m->role == guild_role::officer ? options_.officer_permissions
                                                             : options_.member_permissions;
  if ((has & needed) != needed) eg::fail(eg::error::not_allowed);
  return *m;
}

EMBER_DECL void service::tell(const eg::roster& r, const eg::guild_event& e, std::uint64_t also) {
  for (const auto& m : r.members) players_.push(m.player, e);
  if (also != 0 && !detail::find_member(r, also)) players_.push(also, e);
}

EMBER_DECL asio::awaitable<void> service::chat_join(std::uint64_t player, std::uint64_t guild) {
  try {
    admission a(*this, player, guild);
    co_await chat_.join(player, channel_of(guild));
  } catch (const std::exception& e) {
    log::warn("guilds: {} joined guild {} but not its chat channel: {}", player, guild, e.what());
  }
}

EMBER_DECL asio::awaitable<void> service::chat_leave(std::uint64_t player, std::uint64_t guild) {
  try {
    co_await chat_.leave(player, channel_of(guild));
  } catch (const std::exception& e) {
    log::warn("guilds: {} left guild {} but not its chat channel: {}", player, guild, e.what());
  }
}

// --- guilds

EMBER_DECL asio::awaitable<eg::guild_info> service::create(std::uint64_t player, std::string name, bool open) {
  if (!detail::valid_id(player)) eg::fail(eg::error::not_signed_in);
  if (check_text(name, options_.max_name) != text_problem::none || utf8_length(name) < static_cast<std::ptrdiff_t>(options_.min_name) ||
      name.front() == ' ' || name.back() == ' ')
    eg::fail(eg::error::bad_name);
  const auto key = fold_name(name);
  co_await ensure_player(player);
  const auto founder = co_await player_rows_.get(as_key(player));
  if (founder && founder->guild != 0) eg::fail(eg::error::already_in_guild);
  co_await modules::detail::insert_if_absent(names_, eg::guild_name(key, 0));
  const auto taken = co_await names_.get(key);
  if (taken && taken->guild != 0) eg::fail(eg::error::name_taken);

  // A placeholder (disbanded: no one sees it) gets the guild its id; the name, the founder and
  // the guild are then claimed together. The placeholder of a creation that lost is deleted.
  const auto now = now_ms();
  const auto placeholder =
      co_await guilds_.insert(guild_row(0, name, key, open, as_key(player), 0, 1, 0, 0, "", now, true, {}));
  guild_row made;
  std::exception_ptr failed;
  for (int attempt = 1;; ++attempt) {
    bool lost = false;
    try {
      co_await data::transact(
          store_,
          [&](guild_row& g, eg::guild_name& n, player_row& p) {
            if (n.guild != 0) eg::fail(eg::error::name_taken);
            if (p.guild != 0) eg::fail(eg::error::already_in_guild);
            n.guild = g.id;
            p.guild = g.id;
            g.disbanded = false;
            g.members = 1;
            eg::roster r;
            r.members.emplace_back(player, guild_role::leader, now, 0);
            g.roster = modules::detail::to_bytes(r);
            made = g;
          },
          data::at(guilds_, placeholder.id), data::at(names_, key), data::at(player_rows_, as_key(player)));
    } catch (const data::data_error& e) {
      if (e.code() == data::data_errc::contention && attempt < options_.max_attempts) lost = true;
      else failed = std::current_exception();
    } catch (...) {
      failed = std::current_exception();
    }
    if (!lost) break;
    co_await data::detail::retry_backoff(attempt);
  }
  if (failed) {
    co_await guilds_.remove(placeholder.id);
    std::rethrow_exception(failed);
  }
  const auto id = static_cast<std::uint64_t>(made.id);
  co_await chat_join(player, id);
  bus_.publish(eg::guild_created(id, made.name, player));
  co_return info_of(made);
}

EMBER_DECL asio::awaitable<eg::guild_info> service::info(std::uint64_t guild) {
  if (!detail::valid_id(guild)) eg::fail(eg::error::no_guild);
  auto g = co_await guilds_.get(as_key(guild));
  if (!g || g->disbanded) eg::fail(eg::error::no_guild);
  co_return info_of(*g);
}

EMBER_DECL asio::awaitable<eg::guild_info> service::find(std::string name) {
  if (check_text(name, options_.max_name) != text_problem::none) eg::fail(eg::error::bad_name);
  auto n = co_await names_.get(fold_name(name));
  if (!n || n->guild == 0) eg::fail(eg::error::no_guild);
  co_return co_await info(static_cast<std::uint64_t>(n->guild));
}

EMBER_DECL asio::awaitable<std::vector<eg::guild_member>> service::members(std::uint64_t guild) {
  if (!detail::valid_id(guild)) eg::fail(eg::error::no_guild);
  auto g = co_await guilds_.get(as_key(guild));
  if (!g || g->disbanded) eg::fail(eg::error::no_guild);
  auto out = detail::read_roster(*g).members;
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::pair(static_cast<int>(a.role), a.joined_ms) < std::pair(static_cast<int>(b.role), b.joined_ms);
  });
  co_return out;
}

// --- membership

EMBER_DECL asio::awaitable<bool> service::join(std::uint64_t player, std::uint64_t guild) {
  if (!detail::valid_id(player)) eg::fail(eg::error::not_signed_in);
  co_await ensure_player(player);
  bool joined = false, changed = false;
  const auto now = now_ms();
  auto after = co_await change(
      guild,
      [&](guild_row& g, eg::roster& r, player_row& p) {
        changed = false;
        joined = p.guild == g.id;
        if (joined) return;  // a member already
        if (p.guild != 0) eg::fail(eg::error::already_in_guild);
        if (detail::is_banned(r, player)) eg::fail(eg::error::banned);
        if (g.open) {
          if (r.members.size() >= options_.cap(g.level)) eg::fail(eg::error::guild_full);
          detail::drop_request(r, player);
          r.members.emplace_back(player, guild_role::member, now, 0);
          p.guild = g.id;
          joined = changed = true;
        } else if (!detail::has_request(r, player)) {
          if (r.requests.size() >= options_.max_requests) eg::fail(eg::error::too_many_requests);
          r.requests.emplace_back(player, now);
          changed = true;
        }
      },
      data::at(player_rows_, as_key(player)));
  if (!changed) co_return joined;
  if (joined) {
    co_await chat_join(player, guild);
    tell(after, eg::guild_event(guild, eg::guild_change::joined, player, player, guild_role::member, ""));
    bus_.publish(eg::guild_joined(guild, player, player));
  } else {  // to those who may accept it
    const eg::guild_event e(guild, eg::guild_change::requested, player, player, guild_role::member, "");
    for (const auto& m : after.members) {
      const auto has = m.role == guild_role::leader    ? ~0u
                       : m.role == guild_role::officer ? options_.officer_permissions
                                                       : options_.member_permissions;
      if (has & permission::accept) players_.push(m.player, e);
    }
  }
  co_return joined;
}

EMBER_DECL asio::awaitable<std::vector<eg::join_request>> service::requests(std::uint64_t actor) {
  const auto guild = co_await guild_of_member(actor);
  auto g = co_await guilds_.get(as_key(guild));
  if (!g || g->disbanded) eg::fail(eg::error::not_member);
  const auto r = detail::read_roster(*g);
  require(r, actor, permission::accept);
  co_return r.requests;
}

EMBER_DECL asio::awaitable<void> service::accept(std::uint64_t actor, std::uint64_t player) {
  const auto guild = co_await guild_of_member(actor);
  if (!detail::valid_id(player)) eg::fail(eg::error::no_request);
  co_await ensure_player(player);
  bool elsewhere = false;
  const auto now = now_ms();
  auto after = co_await change(
      guild,
      [&](guild_row& g, eg::roster& r, player_row& p) {
        elsewhere = false;
        require(r, actor, permission::accept);
        if (!detail::has_request(r, player)) eg::fail(eg::error::no_request);
        if (p.guild != 0) {  // joined another guild meanwhile: the request is dropped
          detail::drop_request(r, player);
          elsewhere = true;
          return;
        }
        if (r.members.size() >= options_.cap(g.level)) eg::fail(eg::error::guild_full);
        detail::drop_request(r, player);
        r.members.emplace_back(player, guild_role::member, now, 0);
        p.guild = g.id;
      },
      data::at(player_rows_, as_key(player)));
  if (elsewhere) eg::fail(eg::error::already_in_guild);
  co_await chat_join(player, guild);
  tell(after, eg::guild_event(guild, eg::guild_change::joined, player, actor, guild_role::member, ""));
  bus_.publish(eg::guild_joined(guild, player, actor));
}

EMBER_DECL asio::awaitable<void> service::refuse(std::uint64_t actor, std::uint64_t player) {
  const auto guild = co_await guild_of_member(actor);
  co_await change(guild, [&](guild_row&, eg::roster& r) {
    require(r, actor, permission::accept);
    if (!detail::drop_request(r, player)) eg::fail(eg::error::no_request);
  });
}

EMBER_DECL asio::awaitable<void> service::leave(std::uint64_t player) {
  const auto guild = co_await guild_of_member(player);
  auto before = co_await guilds_.get(as_key(guild));
  if (!before || before->disbanded) eg::fail(eg::error::not_member);
  bool disbanded = false;
  auto after = co_await change(
      guild,
      [&](guild_row& g, eg::roster& r, player_row& p, eg::guild_name& n) {
        disbanded = false;
        if (p.guild != g.id) eg::fail(eg::error::not_member);
        const auto& me = require(r, player, 0);
        if (me.role == guild_role::leader) {
          if (r.members.size() > 1) eg::fail(eg::error::leader_must_hand_over);
          g.disbanded = disbanded = true;
          if (n.guild == g.id) n.guild = 0;  // the name is free again
          r.requests.clear();
        }
        remove_member(r, player);
        p.guild = 0;
      },
      data::at(player_rows_, as_key(player)), data::at(names_, before->name_key));
  co_await chat_leave(player, guild);
  if (disbanded) {
    players_.push(player, eg::guild_event(guild, eg::guild_change::disbanded, player, player, guild_role::leader, ""));
    bus_.publish(eg::guild_left(guild, player, eg::guild_change::disbanded, player));
    bus_.publish(eg::guild_disbanded(guild, before->name));
    co_return;
  }
  tell(after, eg::guild_event(guild, eg::guild_change::left, player, player, guild_role::member, ""), player);
  bus_.publish(eg::guild_left(guild, player, eg::guild_change::left, player));
}

EMBER_DECL asio::awaitable<void> service::kick(std::uint64_t actor, std::uint64_t player) {
  const auto guild = co_await guild_of_member(actor);
  if (actor == player) eg::fail(eg::error::self);
  if (!detail::valid_id(player)) eg::fail(eg::error::not_in_your_guild);
  co_await ensure_player(player);
  auto after = co_await change(
      guild,
      [&](guild_row& g, eg::roster& r, player_row& p) {
        const auto& a = require(r, actor, permission::kick);
        const auto* t = detail::find_member(r, player);
        if (!t) eg::fail(eg::error::not_in_your_guild);
        if (t->role <= a.role) eg::fail(eg::error::outranked);
        remove_member(r, player);
        if (p.guild == g.id) p.guild = 0;
      },
      data::at(player_rows_, as_key(player)));
  co_await chat_leave(player, guild);
  tell(after, eg::guild_event(guild, eg::guild_change::kicked, player, actor, guild_role::member, ""), player);
  bus_.publish(eg::guild_left(guild, player, eg::guild_change::kicked, actor));
}

EMBER_DECL asio::awaitable<void> service::ban(std::uint64_t actor, std::uint64_t player) {
  const auto guild = co_await guild_of_member(actor);
  if (actor == player) eg::fail(eg::error::self);
  if (!detail::valid_id(player)) eg::fail(eg::error::not_in_your_guild);
  co_await ensure_player(player);
  bool was_member = false, changed = false;
  auto after = co_await change(
      guild,
      [&](guild_row& g, eg::roster& r, player_row& p) {
        was_member = changed = false;
        const auto& a = require(r, actor, permission::ban);
        if (const auto* t = detail::find_member(r, player)) {
          if (t->role <= a.role) eg::fail(eg::error::outranked);
          remove_member(r, player);
          if (p.guild == g.id) p.guild = 0;
          was_member = changed = true;
        }
        changed = detail::drop_request(r, player) || changed;
        if (!detail::is_banned(r, player)) {
          if (r.bans.size() >= options_.max_bans) eg::fail(eg::error::ban_list_full);
          r.bans.push_back(player);
          changed = true;
        }
      },
      data::at(player_rows_, as_key(player)));
  if (!changed) co_return;
  if (was_member) co_await chat_leave(player, guild);
  tell(after, eg::guild_event(guild, eg::guild_change::banned, player, actor, guild_role::member, ""), player);
  if (was_member) bus_.publish(eg::guild_left(guild, player, eg::guild_change::banned, actor));
}

EMBER_DECL asio::awaitable<void> service::unban(std::uint64_t actor, std::uint64_t player) {
  const auto guild = co_await guild_of_member(actor);
  co_await change(guild, [&](guild_row&, eg::roster& r) {
    require(r, actor, permission::ban);
    std::erase(r.bans, player);
  });
}

EMBER_DECL asio::awaitable<void> service::promote(std::uint64_t actor, std::uint64_t player) {
  const auto guild = co_await guild_of_member(actor);
  if (actor == player) eg::fail(eg::error::self);
  auto after = co_await change(guild, [&](guild_row&, eg::roster& r) {
    require(r, actor, permission::promote);
    auto* t = detail::find_member(r, player);
    if (!t) eg::fail(eg::error::not_in_your_guild);
    if (t->role != guild_role::member) eg::fail(eg::error::bad_role);
    t->role = guild_role::officer;
  });
  tell(after, eg::guild_event(guild, eg::guild_change::promoted, player, actor, guild_role::officer, ""));
  bus_.publish(eg::guild_role_changed(guild, player, guild_role::officer, actor));
}

EMBER_DECL asio::awaitable<void> service::demote(std::uint64_t actor, std::uint64_t player) {
  const auto guild = co_await guild_of_member(actor);
  if (actor == player) eg::fail(eg::error::self);
  auto after = co_await change(guild, [&](guild_row&, eg::roster& r) {
    const auto& a = require(r, actor, permission::promote);
    auto* t = detail::find_member(r, player);
    if (!t) eg::fail(eg::error::not_in_your_guild);
    if (t->role != guild_role::officer) eg::fail(eg::error::bad_role);
    if (t->role <= a.role) eg::fail(eg::error::outranked);
    t->role = guild_role::member;
  });
  tell(after, eg::guild_event(guild, eg::guild_change::demoted, player, actor, guild_role::member, ""));
  bus_.publish(eg::guild_role_changed(guild, player, guild_role::member, actor));
}

EMBER_DECL asio::awaitable<void> service::transfer(std::uint64_t actor, std::uint64_t player) {
  const auto guild = co_await guild_of_member(actor);
  if (actor == player) eg::fail(eg::error::self);
  auto after = co_await change(guild, [&](guild_row& g, eg::roster& r) {
    auto* a = detail::find_member(r, actor);
    if (!a) eg::fail(eg::error::not_member);
    if (a->role != guild_role::leader) eg::fail(eg::error::not_allowed);
    auto* t = detail::find_member(r, player);
    if (!t) eg::fail(eg::error::not_in_your_guild);
    a->role = guild_role::officer;
    t->role = guild_role::leader;
    g.leader = as_key(player);
  });
  tell(after, eg::guild_event(guild, eg::guild_change::leader_changed, player, actor, guild_role::leader, ""));
  bus_.publish(eg::guild_role_changed(guild, player, guild_role::leader, actor));
  bus_.publish(eg::guild_role_changed(guild, actor, guild_role::officer, actor));
}

EMBER_DECL asio::awaitable<void> service::announce_text(std::uint64_t actor, std::string text) {
  if (check_text(text, options_.max_announcement, true, true) != text_problem::none) eg::fail(eg::error::bad_text);
  const auto guild = co_await guild_of_member(actor);
  auto after = co_await change(guild, [&](guild_row& g, eg::roster& r) {
    require(r, actor, permission::announce);
    g.announcement = text;
  });
  tell(after, eg::guild_event(guild, eg::guild_change::announcement, actor, actor, guild_role::member, text));
}

EMBER_DECL asio::awaitable<void> service::set_open(std::uint64_t actor, bool open) {
  const auto guild = co_await guild_of_member(actor);
  bool changed = false;
  auto after = co_await change(guild, [&](guild_row& g, eg::roster& r) {
    require(r, actor, permission::settings);
    changed = g.open != open;
    g.open = open;
  });
  if (changed) tell(after, eg::guild_event(guild, eg::guild_change::settings, actor, actor, guild_role::member, ""));
}

// --- funds

EMBER_DECL asio::awaitable<eg::donation_result> service::donate(std::uint64_t player, std::string op_id,
                                                               std::int64_t amount) {
  if (!detail::valid_id(player)) eg::fail(eg::error::not_signed_in);
  if (check_text(op_id, options_.max_op_id) != text_problem::none) eg::fail(eg::error::bad_text);
  if (amount <= 0) eg::fail(eg::error::bad_amount);
  const auto key = "d:" + std::to_string(player) + ':' + op_id;
  co_await modules::detail::insert_if_absent(ops_, eg::guild_op(key, false));
  const auto done = co_await ops_.get(key);
  if (done && done->applied) {
    auto first = modules::detail::from_bytes<eg::donation_result>(done->result, "guilds: a stored donation");
    first.applied = false;
    co_return first;
  }
  if (amount > options_.daily_donation_limit) eg::fail(eg::error::donation_limit);
  const auto guild = co_await guild_of_member(player);
  const auto now = now_ms();
  const auto today = detail::local_day(now, options_.utc_offset_minutes);
  eg::donation_result out;
  eg::guild_donated event;
  ember_wallet::change_result paid;
  try {
    co_await data::transact_retrying(store_, [&](data::change_set& tx) -> asio::awaitable<void> {
      out = {};
      const auto twin = co_await ops_.get(key);
      if (twin && twin->applied) co_return;  // a twin's: nothing to stage
      auto op = tx.row(ops_, key);
      auto g = tx.row(guilds_, as_key(guild));
      auto p = tx.row(player_rows_, as_key(player));
      tx.step([this, op, g, p, guild, player, amount, today, &out] {
        if (op->applied) throw data::stale_read();  // applied meanwhile: build again, find it
        if (p->guild != as_key(guild)) {
          if (p->guild != 0) throw data::stale_read();  // moved to another guild since the read
          eg::fail(eg::error::not_member);
        }
        if (g->disbanded) eg::fail(eg::error::not_member);
        if (p->day != today) {
          p->day = today;
          p->donated_today = 0;
        }
        if (p->donated_today + amount > options_.daily_donation_limit) eg::fail(eg::error::donation_limit);
        p->donated_today += amount;
        auto r = detail::read_roster(*g);
        auto* m = detail::find_member(r, player);
        if (!m) eg::fail(eg::error::not_member);
        m->contributed += amount;
        g->funds += amount;
        g->xp += amount;
        g->level = options_.level_of(g->xp);
        out = eg::donation_result(true, guild, amount, g->funds, m->contributed, p->donated_today,
                                  static_cast<std::uint32_t>(g->level));
        g->roster = modules::detail::to_bytes(r);
      });
      std::vector<ember_wallet::change> debit(1, ember_wallet::change(player, options_.donation_currency, -amount));
      co_await wallet_.stage(tx, "guilds:" + key, std::move(debit), "guild donation", paid);
      tx.step([op, now, &out] {
        op->applied = true;
        op->result = modules::detail::to_bytes(out);
        op->at_ms = now;
      });
    });
  } catch (const game_error& e) {
    if (e.code() == static_cast<std::uint16_t>(ember_wallet::error::insufficient_funds))
      eg::fail(eg::error::insufficient_funds);
    throw;
  }
  if (!out.applied) {  // a twin of this request stored it first: its result
    auto done = co_await ops_.get(key);
    auto first = modules::detail::from_bytes<eg::donation_result>(done->result, "guilds: a stored donation");
    first.applied = false;
    co_return first;
  }
  bus_.publish(eg::guild_donated(guild, player, op_id, options_.donation_currency, amount, out.level));
  co_return out;
}

EMBER_DECL asio::awaitable<std::int64_t> service::spend(std::uint64_t guild, std::string op, std::int64_t amount) {
  if (check_text(op, 64) != text_problem::none) eg::fail(eg::error::bad_text);
  if (amount <= 0) eg::fail(eg::error::bad_amount);
  if (!detail::valid_id(guild)) eg::fail(eg::error::no_guild);
  const auto key = "s:" + std::to_string(guild) + ':' + op;
  co_await modules::detail::insert_if_absent(ops_, eg::guild_op(key, false));
  std::int64_t left = 0;
  for (int attempt = 1;; ++attempt) {
    bool lost = false;
    try {
      co_await data::transact(
          store_,
          [&](eg::guild_op& o, guild_row& g) {
            if (o.applied) {
              left = modules::detail::from_bytes<eg::donation_result>(o.result, "guilds: a stored spending").funds;
              return;
            }
            if (g.disbanded) eg::fail(eg::error::no_guild);
            if (g.funds < amount) eg::fail(eg::error::insufficient_funds);
            g.funds -= amount;
            left = g.funds;
            o.applied = true;
            o.result = modules::detail::to_bytes(eg::donation_result(true, guild, -amount, g.funds));
            o.at_ms = now_ms();
          },
          data::at(ops_, key), data::at(guilds_, as_key(guild)));
    } catch (const data::data_error& e) {
      if (e.code() == data::data_errc::not_found) eg::fail(eg::error::no_guild);
      if (e.code() != data::data_errc::contention || attempt >= options_.max_attempts) throw;
      lost = true;
    }
    if (!lost) co_return left;
    co_await data::detail::retry_backoff(attempt);
  }
}

// --- chat

EMBER_DECL asio::awaitable<std::pair<std::string, std::uint64_t>> service::open_chat(std::uint64_t player) {
  const auto guild = co_await guild_of_member(player);
  admission a(*this, player, guild);
  auto [channel, last] = co_await chat_.join(player, channel_of(guild));
  co_return std::pair{channel.id, last};
}

EMBER_DECL asio::awaitable<ember_chat::chat_line> service::say(std::uint64_t player, std::string text, std::string op_id) {
  const auto guild = co_await guild_of_member(player);
  admission a(*this, player, guild);
  co_await chat_.join(player, channel_of(guild));  // a join that failed when the player joined the guild
  co_return co_await chat_.send(player, channel_of(guild), std::move(text), std::move(op_id));
}

EMBER_DECL asio::awaitable<std::pair<std::vector<ember_chat::chat_line>, std::uint64_t>> service::chat_history(
    std::uint64_t player, std::uint64_t cursor, bool forward, std::size_t limit) {
  const auto guild = co_await guild_of_member(player);
  admission a(*this, player, guild);
  co_await chat_.join(player, channel_of(guild));
  co_return co_await chat_.history(player, channel_of(guild), cursor, forward, limit);
}

// --- the client commands

EMBER_DECL asio::awaitable<eg::create_guild_reply> handler::create_guild(net::session& s,
                                                                        const eg::create_guild_request& r) {
  co_return eg::create_guild_reply{co_await service_.create(signed_in(s), r.name, r.open)};
}

EMBER_DECL asio::awaitable<eg::get_guild_reply> handler::get_guild(net::session& s, const eg::get_guild_request& r) {
  auto guild = r.guild;
  if (guild == 0) {
    guild = co_await service_.guild_of(signed_in(s));
    if (guild == 0) eg::fail(eg::error::not_member);
  }
  co_return eg::get_guild_reply{co_await service_.info(guild)};
}

EMBER_DECL asio::awaitable<eg::find_guild_reply> handler::find_guild(net::session& s, const eg::find_guild_request& r) {
  signed_in(s);
  co_return eg::find_guild_reply{co_await service_.find(r.name)};
}

EMBER_DECL asio::awaitable<eg::list_members_reply> handler::list_members(net::session& s,
                                                                        const eg::list_members_request& r) {
  auto guild = r.guild;
  if (guild == 0) {
    guild = co_await service_.guild_of(signed_in(s));
    if (guild == 0) eg::fail(eg::error::not_member);
  }
  co_return eg::list_members_reply{co_await service_.members(guild)};
}

EMBER_DECL asio::awaitable<eg::join_guild_reply> handler::join_guild(net::session& s, const eg::join_guild_request& r) {
  co_return eg::join_guild_reply{co_await service_.join(signed_in(s), r.guild)};
}

EMBER_DECL asio::awaitable<eg::list_requests_reply> handler::list_requests(net::session& s,
                                                                          const eg::list_requests_request&) {
  co_return eg::list_requests_reply{co_await service_.requests(signed_in(s))};
}

EMBER_DECL asio::awaitable<eg::accept_request_reply> handler::accept_request(net::session& s,
                                                                            const eg::accept_request_request& r) {
  co_await service_.accept(signed_in(s), r.player);
  co_return eg::accept_request_reply{};
}

EMBER_DECL asio::awaitable<eg::refuse_request_reply> handler::refuse_request(net::session& s,
                                                                            const eg::refuse_request_request& r) {
  co_await service_.refuse(signed_in(s), r.player);
  co_return eg::refuse_request_reply{};
}

EMBER_DECL asio::awaitable<eg::leave_guild_reply> handler::leave_guild(net::session& s, const eg::leave_guild_request&) {
  co_await service_.leave(signed_in(s));
  co_return eg::leave_guild_reply{};
}

EMBER_DECL asio::awaitable<eg::kick_reply> handler::kick(net::session& s, const eg::kick_request& r) {
  co_await service_.kick(signed_in(s), r.player);
  co_return eg::kick_reply{};
}

EMBER_DECL asio::awaitable<eg::ban_reply> handler::ban(net::session& s, const eg::ban_request& r) {
  co_await service_.ban(signed_in(s), r.player);
  co_return eg::ban_reply{};
}

EMBER_DECL asio::awaitable<eg::unban_reply> handler::unban(net::session& s, const eg::unban_request& r) {
  co_await service_.unban(signed_in(s), r.player);
  co_return eg::unban_reply{};
}

EMBER_DECL asio::awaitable<eg::promote_reply> handler::promote(net::session& s, const eg::promote_request& r) {
  co_await service_.promote(signed_in(s), r.player);
  co_return eg::promote_reply{};
}

EMBER_DECL asio::awaitable<eg::demote_reply> handler::demote(net::session& s, const eg::demote_request& r) {
  co_await service_.demote(signed_in(s), r.player);
  co_return eg::demote_reply{};
}

EMBER_DECL asio::awaitable<eg::transfer_leader_reply> handler::transfer_leader(net::session& s,
                                                                              const eg::transfer_leader_request& r) {
  co_await service_.transfer(signed_in(s), r.player);
  co_return eg::transfer_leader_reply{};
}

EMBER_DECL asio::awaitable<eg::set_announcement_reply> handler::set_announcement(
    net::session& s, const eg::set_announcement_request& r) {
  co_await service_.announce_text(signed_in(s), r.text);
  co_return eg::set_announcement_reply{};
}

EMBER_DECL asio::awaitable<eg::set_open_reply> handler::set_open(net::session& s, const eg::set_open_request& r) {
  co_await service_.set_open(signed_in(s), r.open);
  co_return eg::set_open_reply{};
}

EMBER_DECL asio::awaitable<eg::donate_reply> handler::donate(net::session& s, const eg::donate_request& r) {
  co_return eg::donate_reply{co_await service_.donate(signed_in(s), r.op_id, r.amount)};
}

EMBER_DECL asio::awaitable<eg::open_chat_reply> handler::open_chat(net::session& s, const eg::open_chat_request&) {
  auto [channel, last] = co_await service_.open_chat(signed_in(s));
  s.join(chat::group_of(channel));
  co_return eg::open_chat_reply(channel, last);
}

EMBER_DECL asio::awaitable<eg::say_reply> handler::say(net::session& s, const eg::say_request& r) {
  co_return eg::say_reply{(co_await service_.say(signed_in(s), r.text, r.op_id)).seq};
}

EMBER_DECL asio::awaitable<eg::chat_history_reply> handler::chat_history(net::session& s,
                                                                        const eg::chat_history_request& r) {
  auto [lines, next] = co_await service_.chat_history(signed_in(s), r.cursor, r.forward, r.limit);
  eg::chat_history_reply out;
  out.next_cursor = next;
  for (auto& l : lines) out.lines.emplace_back(l.seq, l.from, std::move(l.text), l.sent_ms);
  co_return out;
}

EMBER_DECL std::uint64_t handler::signed_in(net::session& s) {
  const auto u = s.user();
  if (!u || *u == 0) eg::fail(eg::error::not_signed_in);
  return *u;
}

}  // namespace ember::modules::guilds
