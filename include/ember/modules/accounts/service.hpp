// ember accounts module: the service — sign-in by password, device or custom id (creating the
// account on first sign-in), linking and unlinking sign-in methods, session and refresh tokens,
// bans. The game and other modules call it; `handler` (accounts.hpp) is its client face.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "ember/data/error.hpp"
#include "ember/data/store.hpp"
#include "ember/data/table.hpp"
#include "ember/log.hpp"
#include "ember/modules/accounts/attempt_limiter.hpp"
#include "ember/modules/accounts/detail/ember_accounts.hpp"
#include "ember/modules/accounts/options.hpp"
#include "ember/modules/accounts/password_hasher.hpp"
#include "ember/modules/accounts/secrets.hpp"
#include "ember/modules/events.hpp"
#include "ember/modules/players.hpp"
#include "ember/modules/text.hpp"
#include "ember/net/session.hpp"

namespace ember::modules::accounts {

using ember_accounts::error;
using ember_accounts::fail;
using ember_accounts::session_tokens;
using ember_accounts::sign_in_method;

/// A valid session token: whose, and until when.
struct token_info {
  std::int64_t account_id = 0;
  std::int64_t expires_at_ms = 0;
};

/// The client's address without its port ("1.2.3.4:5678" -> "1.2.3.4"), for the per-address
/// limit. Behind a cluster gateway a session's address names the gateway's session instead.
inline std::string address_of(const net::session& s) {
  auto a = s.remote_address();
  const auto colon = a.rfind(':');
  if (colon != std::string::npos && colon + 1 < a.size() &&
      a.find_first_not_of("0123456789", colon + 1) == std::string::npos)
    a.resize(colon);
  return a;
}

class service {
 public:
  /// The session attribute holding the hash of the session token its sign-in issued.
  static constexpr std::string_view token_attribute = "ember_accounts.token";

  /// Makes the module's tables on `store` (create the service before `store.open()`).
  service(data::store& store, players& players, event_bus& bus, options o = {}, hooks h = {})
      : players_(players), bus_(bus), o_(std::move(o)), hooks_(std::move(h)),
        accounts_(store), usernames_(store), devices_(store), customs_(store), tokens_(store),
        hasher_(o_.hashing_threads, o_.opslimit, o_.memlimit), limiter_(store.cache(), o_) {}

  service(const service&) = delete;
  service& operator=(const service&) = delete;

  const options& settings() const noexcept { return o_; }
  password_hasher& hasher() noexcept { return hasher_; }

  // --- sign-in: each returns a new token pair, or fails with a typed error. `address` is the
  // client's (address_of(session)), for the per-address limit of failures.

  asio::awaitable<session_tokens> sign_in_password(std::string username, std::string password, bool create,
                                                   std::string address) {
    const auto name = checked_username(username);
    check_password(password, create);
    const auto by_name = "u:" + name;
    const auto by_address = "a:" + address;
    co_await refuse_if_blocked(by_name, by_address);
    for (int round = 0; round < 2; ++round) {
      auto owner = co_await usernames_.get(name);
      if (owner) {
        auto acc = co_await accounts_.get(owner->account);
        const std::string stored = acc ? acc->password_hash : std::string();
        if (!co_await hasher_.verify(stored, password) || !acc) {
          co_await count_failure(by_name, by_address);
          fail(error::invalid_credentials);
        }
        co_await limiter_.succeeded(by_name);
        refuse_if_banned(*acc);
        if (hasher_.needs_rehash(stored)) co_await rehash(acc->id, stored, password);
        co_return co_await issue(acc->id, false);
      }
      if (!create) {
        co_await hasher_.verify({}, password);  // as long as a wrong password takes
        co_await count_failure(by_name, by_address);
        fail(error::invalid_credentials);
      }
      auto hash = co_await hasher_.hash(password);
      ember_accounts::account fresh(0, username, std::move(hash));
      fresh.created_at_ms = now_ms();
      auto acc = co_await accounts_.insert(std::move(fresh));
      ember_accounts::account_username claim(name, acc.id);
      if (co_await claimed(usernames_, std::move(claim))) {
        co_return co_await created(acc.id, sign_in_method::password);
      }
      co_await accounts_.remove(acc.id);  // another sign-in created it meanwhile: sign in to it
    }
    fail(error::invalid_credentials);
  }

  asio::awaitable<session_tokens> sign_in_device(std::string device_id, bool create, std::string address) {
    check_id(device_id, o_.device_id_min);
    co_return co_await sign_in_by_id(devices_, std::move(device_id), create, std::move(address),
                                     sign_in_method::device);
  }

  /// `credential` goes through hooks::verify_custom first (a refused one fails like an unknown
  /// account).
  asio::awaitable<session_tokens> sign_in_custom(std::string credential, bool create, std::string address) {
    const auto by_address = "a:" + address;
    co_await refuse_if_blocked({}, by_address);
    auto id = co_await custom_id_of(std::move(credential));
    if (!id) {
      co_await count_failure({}, by_address);
      fail(error::invalid_credentials);
    }
    co_return co_await sign_in_by_id(customs_, std::move(*id), create, std::move(address), sign_in_method::custom);
  }

  /// Trades a refresh token for a new pair; the old pair is revoked (a refresh token works once).
  asio::awaitable<session_tokens> refresh(std::string refresh_token) {
    if (refresh_token.size() > max_token_size) fail(error::invalid_token);
    const auto h = hash_hex(refresh_token);
    auto row = co_await tokens_.get(h);
    if (!row || !row->refresh || row->expires_at_ms <= now_ms()) fail(error::invalid_token);
    if (!co_await tokens_.remove(h)) fail(error::invalid_token);  // used meanwhile
    co_await tokens_.remove(row->pair);
    auto acc = co_await accounts_.get(row->account);
    if (!acc) fail(error::invalid_token);
    refuse_if_banned(*acc);
    co_return co_await issue(acc->id, false);
  }

  /// The account of a valid, unexpired session token of an account not banned (e.g. to resume
  /// a player on another server), else nullopt.
  asio::awaitable<std::optional<token_info>> check_token(std::string token) {
    if (token.size() > max_token_size) co_return std::nullopt;
    auto row = co_await tokens_.get(hash_hex(token));
    if (!row || row->refresh || row->expires_at_ms <= now_ms()) co_return std::nullopt;
    auto acc = co_await accounts_.get(row->account);
    if (!acc || banned(*acc)) co_return std::nullopt;
    co_return token_info{acc->id, row->expires_at_ms};
  }

  /// Revokes the pair of the token whose hash is `token_hash` (a session's token_attribute).
  asio::awaitable<void> revoke_pair(std::string token_hash) {
    auto row = co_await tokens_.get(token_hash);
    if (!row) co_return;
    co_await tokens_.remove(token_hash);
    co_await tokens_.remove(row->pair);
  }

  /// Revokes `token` (session or refresh) and the other token of its pair: sign-out.
  asio::awaitable<void> revoke(std::string token) {
    if (token.size() > max_token_size) co_return;
    co_await revoke_pair(hash_hex(token));
  }

  /// Revokes every token of `account`.
  asio::awaitable<void> revoke_all(std::int64_t account) {
    for (const auto& t : co_await tokens_.find<ember_accounts::account_token_table::by_account>(account))
      co_await tokens_.remove(t.hash);
  }

  /// Binds `s` to the account of `t` after a sign-in: the session's user becomes the account
  /// (every module sees it as `s.user()`), and `signed_in` is published.
  asio::awaitable<void> bind(net::session& s, std::int64_t account, std::string token_hash, sign_in_method how) {
    s.bind_user(static_cast<std::uint64_t>(account));
    s.set_attribute(token_attribute, std::move(token_hash));
    // A ban between the checks of the sign-in and the bind found no session to end: look again.
    auto acc = co_await accounts_.get(account);
    if (!acc || banned(*acc)) {
      s.bind_user(0);
      s.set_attribute(token_attribute, {});
      fail(error::banned);
    }
    bus_.publish(ember_accounts::signed_in(account, how, address_of(s)));
  }

  // --- sign-in methods of an account

  asio::awaitable<void> link_password(std::int64_t account, std::string username, std::string password) {
    const auto name = checked_username(username);
    check_password(password, true);
    auto acc = co_await existing(account);
    if (!acc.username.empty()) fail(error::already_linked);
    auto hash = co_await hasher_.hash(std::move(password));
    ember_accounts::account_username claim(name, account);
    if (!co_await claimed(usernames_, std::move(claim))) fail(error::username_taken);
    bool had_one = false;
    auto set = [&](ember_accounts::account& a) {
      had_one = !a.username.empty();
      if (!had_one) {
        a.username = username;
        a.password_hash = hash;
      }
    };
    co_await accounts_.update(account, set);
    if (had_one) {  // linked by another request meanwhile
      co_await usernames_.remove(name);
      fail(error::already_linked);
    }
  }

  asio::awaitable<void> link_device(std::int64_t account, std::string device_id) {
    check_id(device_id, o_.device_id_min);
    co_await existing(account);
    auto mine = co_await devices_.find<ember_accounts::account_device_table::by_account>(account);
    for (const auto& d : mine)
      if (d.device_id == device_id) co_return;
    if (mine.size() >= o_.max_devices) fail(error::limit_reached);
    co_await link_id(devices_, std::move(device_id), account);
  }

  asio::awaitable<void> link_custom(std::int64_t account, std::string credential) {
    auto id = co_await custom_id_of(std::move(credential));
    if (!id) fail(error::invalid_credentials);
    auto acc = co_await existing(account);
    if (acc.custom_id == *id) co_return;
    if (!acc.custom_id.empty()) fail(error::already_linked);
    co_await link_id(customs_, *id, account);
    bool had_one = false;
    auto set = [&](ember_accounts::account& a) {
      had_one = !a.custom_id.empty() && a.custom_id != *id;
      if (!had_one) a.custom_id = *id;
    };
    co_await accounts_.update(account, set);
    if (had_one) {
      co_await customs_.remove(*id);
      fail(error::already_linked);
    }
  }

  asio::awaitable<void> unlink_password(std::int64_t account) {
    auto acc = co_await existing(account);
    if (acc.username.empty()) fail(error::not_linked);
    co_await refuse_if_last(acc);
    auto clear = [](ember_accounts::account& a) {
      a.username.clear();
      a.password_hash.clear();
    };
    co_await accounts_.update(account, clear);
    co_await usernames_.remove(lowercase(acc.username));
  }

  asio::awaitable<void> unlink_device(std::int64_t account, std::string device_id) {
    if (device_id.size() > 4 * o_.id_max) fail(error::invalid_id);
    auto row = co_await devices_.get(device_id);
    if (!row || row->account != account) fail(error::not_linked);
    co_await refuse_if_last(co_await existing(account));
    co_await devices_.remove(device_id);
  }

  asio::awaitable<void> unlink_custom(std::int64_t account) {
    auto acc = co_await existing(account);
    if (acc.custom_id.empty()) fail(error::not_linked);
    co_await refuse_if_last(acc);
    auto clear = [](ember_accounts::account& a) { a.custom_id.clear(); };
    co_await accounts_.update(account, clear);
    co_await customs_.remove(acc.custom_id);
  }

  /// The account as its owner sees it; no_such_account if there is none.
  asio::awaitable<ember_accounts::account_info> info(std::int64_t account) {
    auto acc = co_await existing(account);
    ember_accounts::account_info out(acc.id, acc.username);
    for (auto& d : co_await devices_.find<ember_accounts::account_device_table::by_account>(account))
      out.devices.push_back(std::move(d.device_id));
    std::sort(out.devices.begin(), out.devices.end());
    out.has_custom_id = !acc.custom_id.empty();
    out.created_at_ms = acc.created_at_ms;
    co_return out;
  }

  /// The stored row of `account` (nullopt: none).
  asio::awaitable<std::optional<ember_accounts::account>> find(std::int64_t account) {
    co_return co_await accounts_.get(account);
  }

  // --- bans

  /// Bans `account` until `until`: its tokens are revoked, its session is told
  /// (banned_notice) and ended at once (hooks::end_session), and sign-ins fail with `banned`.
  asio::awaitable<void> ban(std::int64_t account, std::string reason, std::chrono::system_clock::time_point until) {
    if (check_text(reason, o_.ban_reason_max, false, true) != text_problem::none) fail(error::invalid_reason);
    const auto until_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(until.time_since_epoch()).count();
    auto set = [&](ember_accounts::account& a) {
      a.banned_until_ms = until_ms;
      a.ban_reason = reason;
    };
    try {
      co_await accounts_.update(account, set);
    } catch (const data::data_error& e) {
      if (e.code() != data::data_errc::not_found) throw;
      fail(error::no_such_account);
    }
    co_await revoke_all(account);
    const auto user = static_cast<std::uint64_t>(account);
    players_.push(user, ember_accounts::banned_notice(reason, until_ms));
    if (hooks_.end_session) hooks_.end_session(user, "banned: " + reason);
    bus_.publish(ember_accounts::account_banned(account, reason, until_ms));
  }

  asio::awaitable<void> unban(std::int64_t account) {
    auto clear = [](ember_accounts::account& a) {
      a.banned_until_ms = 0;
      a.ban_reason.clear();
    };
    try {
      co_await accounts_.update(account, clear);
    } catch (const data::data_error& e) {
      if (e.code() != data::data_errc::not_found) throw;
      fail(error::no_such_account);
    }
  }

  asio::awaitable<bool> is_banned(std::int64_t account) {
    auto acc = co_await accounts_.get(account);
    co_return acc && banned(*acc);
  }

 private:
  static constexpr std::size_t max_token_size = 128;

  template <class T>
  using table = data::table<T>;

  static bool banned(const ember_accounts::account& a) { return a.banned_until_ms > now_ms(); }

  static void refuse_if_banned(const ember_accounts::account& a) {
    if (banned(a)) fail(error::banned, "this account is banned: " + a.ban_reason);
  }

  static std::string lowercase(std::string s) {
    for (auto& c : s)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
  }

  static bool alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

  /// The username's key (lowercased), or invalid_username.
  std::string checked_username(const std::string& u) const {
    if (u.size() < o_.username_min || u.size() > o_.username_max || !alnum(u[0])) fail(error::invalid_username);
    for (char c : u)
      if (!alnum(c) && c != '_' && c != '.' && c != '-') fail(error::invalid_username);
    return lowercase(u);
  }

  /// A new password must have password_min code points; one signing in need not (the minimum
  /// may have grown since it was chosen).
  void check_password(const std::string& p, bool is_new) const {
    if (check_text(p, o_.password_max) != text_problem::none) fail(error::invalid_password);
    if (is_new && static_cast<std::size_t>(utf8_length(p)) < o_.password_min) fail(error::invalid_password);
  }

  void check_id(const std::string& id, std::size_t min) const {
    if (check_text(id, o_.id_max) != text_problem::none || static_cast<std::size_t>(utf8_length(id)) < min)
      fail(error::invalid_id);
  }

  asio::awaitable<std::optional<std::string>> custom_id_of(std::string credential) {
    if (check_text(credential, 4 * o_.id_max) != text_problem::none) fail(error::invalid_id);
    std::optional<std::string> id;
    if (hooks_.verify_custom)
      id = co_await hooks_.verify_custom(std::move(credential));
    else
      id = std::move(credential);
    if (id) check_id(*id, o_.custom_id_min);
    co_return id;
  }

  asio::awaitable<void> refuse_if_blocked(std::string by_name, std::string by_address) {
    auto wait = co_await limiter_.blocked_for(std::move(by_address));
    if (!by_name.empty()) wait = std::max(wait, co_await limiter_.blocked_for(std::move(by_name)));
    if (wait.count() > 0)
      fail(error::too_many_attempts,
           "too many failed sign-ins; try again in " + std::to_string((wait.count() + 999) / 1000) + " s");
  }

  asio::awaitable<void> count_failure(std::string by_name, std::string by_address) {
    co_await limiter_.failed(std::move(by_address));
    if (!by_name.empty()) co_await limiter_.failed(std::move(by_name));
  }

  /// Inserts `row` (a unique key); false if the key is taken.
  template <class T>
  static asio::awaitable<bool> claimed(table<T>& rows, typename T::row row) {
    try {
      co_await rows.insert(std::move(row));
    } catch (const data::data_error& e) {
      if (e.code() != data::data_errc::constraint) throw;
      co_return false;
    }
    co_return true;
  }

  /// Links `id` (a device or custom id) to `account`: id_in_use if another account has it.
  template <class T>
  asio::awaitable<void> link_id(table<T>& rows, std::string id, std::int64_t account) {
    typename T::row row(id, account);
    if (co_await claimed(rows, std::move(row))) co_return;
    auto owner = co_await rows.get(id);
    if (!owner || owner->account != account) fail(error::id_in_use);
  }

  template <class T>
  asio::awaitable<session_tokens> sign_in_by_id(table<T>& rows, std::string id, bool create, std::string address,
                                                sign_in_method how) {
    const auto by_address = "a:" + address;
    co_await refuse_if_blocked({}, by_address);
    for (int round = 0; round < 2; ++round) {
      auto owner = co_await rows.get(id);
      if (owner) {
        auto acc = co_await accounts_.get(owner->account);
        if (acc) {
          refuse_if_banned(*acc);
          co_return co_await issue(acc->id, false);
        }
        co_await rows.remove(id);  // an account that is gone: the id is free again
      }
      if (!create) {
        co_await count_failure({}, by_address);
        fail(error::invalid_credentials);
      }
      ember_accounts::account fresh(0, std::string());
      if (how == sign_in_method::custom) fresh.custom_id = id;
      fresh.created_at_ms = now_ms();
      auto acc = co_await accounts_.insert(std::move(fresh));
      typename T::row link(id, acc.id);
      if (co_await claimed(rows, std::move(link))) co_return co_await created(acc.id, how);
      co_await accounts_.remove(acc.id);  // created by another sign-in meanwhile: sign in to it
    }
    fail(error::invalid_credentials);
  }

  asio::awaitable<session_tokens> created(std::int64_t account, sign_in_method how) {
    bus_.publish(ember_accounts::account_created(account, how));
    co_return co_await issue(account, true);
  }

  asio::awaitable<ember_accounts::account> existing(std::int64_t account) {
    auto acc = co_await accounts_.get(account);
    if (!acc) fail(error::no_such_account);
    co_return std::move(*acc);
  }

  asio::awaitable<void> refuse_if_last(const ember_accounts::account& a) {
    const auto devices = co_await devices_.find<ember_accounts::account_device_table::by_account>(a.id);
    const auto methods = devices.size() + (a.username.empty() ? 0 : 1) + (a.custom_id.empty() ? 0 : 1);
    if (methods <= 1) fail(error::last_method);
  }

  asio::awaitable<void> rehash(std::int64_t account, std::string old_hash, std::string password) {
    auto fresh = co_await hasher_.hash(std::move(password));
    auto set = [&](ember_accounts::account& a) {
      if (a.password_hash == old_hash) a.password_hash = fresh;
    };
    co_await accounts_.update(account, set);
  }

  /// A new token pair for `account`. The account keeps at most max_sessions pairs: expired
  /// tokens are dropped and the oldest pairs revoked first, so its tokens stay bounded.
  asio::awaitable<session_tokens> issue(std::int64_t account, bool was_created) {
    const auto now = now_ms();
    auto held = co_await tokens_.find<ember_accounts::account_token_table::by_account>(account);
    std::vector<ember_accounts::account_token> live;
    for (auto& t : held) {
      if (t.expires_at_ms <= now)
        co_await tokens_.remove(t.hash);
      else if (t.refresh)
        live.push_back(std::move(t));
    }
    std::sort(live.begin(), live.end(), [](const auto& a, const auto& b) { return a.created_at_ms < b.created_at_ms; });
    for (std::size_t i = 0; i + o_.max_sessions <= live.size() && i < live.size(); ++i) {
      co_await tokens_.remove(live[i].pair);
      co_await tokens_.remove(live[i].hash);
    }
    session_tokens out(account, random_token());
    out.refresh_token = random_token();
    out.token_expires_at_ms = now + std::chrono::duration_cast<std::chrono::milliseconds>(o_.token_lifetime).count();
    out.refresh_expires_at_ms = now + std::chrono::duration_cast<std::chrono::milliseconds>(o_.refresh_lifetime).count();
    out.created = was_created;
    const auto token_hash = hash_hex(out.token);
    const auto refresh_hash = hash_hex(out.refresh_token);
    ember_accounts::account_token session_row(token_hash, account, false, out.token_expires_at_ms, refresh_hash, now);
    ember_accounts::account_token refresh_row(refresh_hash, account, true, out.refresh_expires_at_ms, token_hash, now);
    co_await tokens_.insert(std::move(session_row));
    co_await tokens_.insert(std::move(refresh_row));
    co_return out;
  }

  players& players_;
  event_bus& bus_;
  const options o_;
  const hooks hooks_;
  table<ember_accounts::account_table> accounts_;
  table<ember_accounts::account_username_table> usernames_;
  table<ember_accounts::account_device_table> devices_;
  table<ember_accounts::account_custom_table> customs_;
  table<ember_accounts::account_token_table> tokens_;
  password_hasher hasher_;
  attempt_limiter limiter_;
};

}  // namespace ember::modules::accounts
