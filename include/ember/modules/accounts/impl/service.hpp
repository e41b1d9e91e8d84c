// ember: bodies of the accounts module's service (included by ember/modules/accounts/service.hpp,
// or compiled once into libember-accounts with EMBER_SEPARATE_COMPILATION).
#pragma once

#include "ember/modules/accounts/service.hpp"

#include <algorithm>
#include <vector>

#include "ember/modules/text.hpp"

namespace ember::modules::accounts {

EMBER_DECL std::string address_of(const net::session& s) {
  auto a = s.remote_address();
  const auto colon = a.rfind(':');
  if (colon != std::string::npos && colon + 1 < a.size() &&
      a.find_first_not_of("0123456789", colon + 1) == std::string::npos)
    a.resize(colon);
  return a;
}

EMBER_DECL asio::awaitable<session_tokens> service::sign_in_password(std::string username, std::string password,
                                                                     bool create, std::string address) {
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

EMBER_DECL asio::awaitable<session_tokens> service::sign_in_device(std::string device_id, bool create,
                                                                   std::string address) {
  check_id(device_id, o_.device_id_min);
  co_return co_await sign_in_by_id(devices_, std::move(device_id), create, std::move(address),
                                   sign_in_method::device);
}

EMBER_DECL asio::awaitable<session_tokens> service::sign_in_custom(std::string credential, bool create,
                                                                   std::string address) {
  const auto by_address = "a:" + address;
  co_await refuse_if_blocked({}, by_address);
  auto id = co_await custom_id_of(std::move(credential));
  if (!id) {
    co_await count_failure({}, by_address);
    fail(error::invalid_credentials);
  }
  co_return co_await sign_in_by_id(customs_, std::move(*id), create, std::move(address), sign_in_method::custom);
}

EMBER_DECL asio::awaitable<session_tokens> service::refresh(std::string refresh_token) {
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

EMBER_DECL asio::awaitable<std::optional<token_info>> service::check_token(std::string token) {
  if (token.size() > max_token_size) co_return std::nullopt;
  auto row = co_await tokens_.get(hash_hex(token));
  if (!row || row->refresh || row->expires_at_ms <= now_ms()) co_return std::nullopt;
  auto acc = co_await accounts_.get(row->account);
  if (!acc || banned(*acc)) co_return std::nullopt;
  co_return token_info{acc->id, row->expires_at_ms};
}

EMBER_DECL asio::awaitable<void> service::revoke_pair(std::string token_hash) {
  auto row = co_await tokens_.get(token_hash);
  if (!row) co_return;
  co_await tokens_.remove(token_hash);
  co_await tokens_.remove(row->pair);
}

EMBER_DECL asio::awaitable<void> service::revoke(std::string token) {
  if (token.size() > max_token_size) co_return;
  co_await revoke_pair(hash_hex(token));
}

EMBER_DECL asio::awaitable<void> service::revoke_all(std::int64_t account) {
  for (const auto& t : co_await tokens_.find<ember_accounts::account_token_table::by_account>(account))
    co_await tokens_.remove(t.hash);
}

EMBER_DECL asio::awaitable<void> service::bind(net::session& s, std::int64_t account, std::string token_hash,
                                               sign_in_method how) {
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

EMBER_DECL asio::awaitable<void> service::link_password(std::int64_t account, std::string username,
                                                        std::string password) {
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

EMBER_DECL asio::awaitable<void> service::link_device(std::int64_t account, std::string device_id) {
  check_id(device_id, o_.device_id_min);
  co_await existing(account);
  auto mine = co_await devices_.find<ember_accounts::account_device_table::by_account>(account);
  for (const auto& d : mine)
    if (d.device_id == device_id) co_return;
  if (mine.size() >= o_.max_devices) fail(error::limit_reached);
  co_await link_id(devices_, std::move(device_id), account);
}

EMBER_DECL asio::awaitable<void> service::link_custom(std::int64_t account, std::string credential) {
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

EMBER_DECL asio::awaitable<void> service::unlink_password(std::int64_t account) {
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

EMBER_DECL asio::awaitable<void> service::unlink_device(std::int64_t account, std::string device_id) {
  if (device_id.size() > 4 * o_.id_max) fail(error::invalid_id);
  auto row = co_await devices_.get(device_id);
  if (!row || row->account != account) fail(error::not_linked);
  co_await refuse_if_last(co_await existing(account));
  co_await devices_.remove(device_id);
}

EMBER_DECL asio::awaitable<void> service::unlink_custom(std::int64_t account) {
  auto acc = co_await existing(account);
  if (acc.custom_id.empty()) fail(error::not_linked);
  co_await refuse_if_last(acc);
  auto clear = [](ember_accounts::account& a) { a.custom_id.clear(); };
  co_await accounts_.update(account, clear);
  co_await customs_.remove(acc.custom_id);
}

EMBER_DECL asio::awaitable<ember_accounts::account_info> service::info(std::int64_t account) {
  auto acc = co_await existing(account);
  ember_accounts::account_info out(acc.id, acc.username);
  for (auto& d : co_await devices_.find<ember_accounts::account_device_table::by_account>(account))
    out.devices.push_back(std::move(d.device_id));
  std::sort(out.devices.begin(), out.devices.end());
  out.has_custom_id = !acc.custom_id.empty();
  out.created_at_ms = acc.created_at_ms;
  co_return out;
}

EMBER_DECL asio::awaitable<std::optional<ember_accounts::account>> service::find(std::int64_t account) {
  co_return co_await accounts_.get(account);
}

EMBER_DECL asio::awaitable<void> service::ban(std::int64_t account, std::string reason,
                                              std::chrono::system_clock::time_point until) {
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

EMBER_DECL asio::awaitable<void> service::unban(std::int64_t account) {
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

EMBER_DECL asio::awaitable<bool> service::is_banned(std::int64_t account) {
  auto acc = co_await accounts_.get(account);
  co_return acc && banned(*acc);
}

EMBER_DECL bool service::banned(const ember_accounts::account& a) {
  return a.banned_until_ms > now_ms();
}

EMBER_DECL void service::refuse_if_banned(const ember_accounts::account& a) {
  if (banned(a)) fail(error::banned, "this account is banned: " + a.ban_reason);
}

EMBER_DECL std::string service::lowercase(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

EMBER_DECL bool service::alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

EMBER_DECL std::string service::checked_username(const std::string& u) const {
  if (u.size() < o_.username_min || u.size() > o_.username_max || !alnum(u[0])) fail(error::invalid_username);
  for (char c : u)
    if (!alnum(c) && c != '_' && c != '.' && c != '-') fail(error::invalid_username);
  return lowercase(u);
}

EMBER_DECL void service::check_password(const std::string& p, bool is_new) const {
  if (check_text(p, o_.password_max) != text_problem::none) fail(error::invalid_password);
  if (is_new && static_cast<std::size_t>(utf8_length(p)) < o_.password_min) fail(error::invalid_password);
}

EMBER_DECL void service::check_id(const std::string& id, std::size_t min) const {
  if (check_text(id, o_.id_max) != text_problem::none || static_cast<std::size_t>(utf8_length(id)) < min)
    fail(error::invalid_id);
}

EMBER_DECL asio::awaitable<std::optional<std::string>> service::custom_id_of(std::string credential) {
  if (check_text(credential, 4 * o_.id_max) != text_problem::none) fail(error::invalid_id);
  std::optional<std::string> id;
  if (hooks_.verify_custom)
    id = co_await hooks_.verify_custom(std::move(credential));
  else
    id = std::move(credential);
  if (id) check_id(*id, o_.custom_id_min);
  co_return id;
}

EMBER_DECL asio::awaitable<void> service::refuse_if_blocked(std::string by_name, std::string by_address) {
  auto wait = co_await limiter_.blocked_for(std::move(by_address));
  if (!by_name.empty()) wait = std::max(wait, co_await limiter_.blocked_for(std::move(by_name)));
  if (wait.count() > 0)
    fail(error::too_many_attempts,
         "too many failed sign-ins; try again in " + std::to_string((wait.count() + 999) / 1000) + " s");
}

EMBER_DECL asio::awaitable<void> service::count_failure(std::string by_name, std::string by_address) {
  co_await limiter_.failed(std::move(by_address));
  if (!by_name.empty()) co_await limiter_.failed(std::move(by_name));
}

EMBER_DECL asio::awaitable<session_tokens> service::created(std::int64_t account, sign_in_method how) {
  bus_.publish(ember_accounts::account_created(account, how));
  co_return co_await issue(account, true);
}

EMBER_DECL asio::awaitable<ember_accounts::account> service::existing(std::int64_t account) {
  auto acc = co_await accounts_.get(account);
  if (!acc) fail(error::no_such_account);
  co_return std::move(*acc);
}

EMBER_DECL asio::awaitable<void> service::refuse_if_last(const ember_accounts::account& a) {
  const auto devices = co_await devices_.find<ember_accounts::account_device_table::by_account>(a.id);
  const auto methods = devices.size() + (a.username.empty() ? 0 : 1) + (a.custom_id.empty() ? 0 : 1);
  if (methods <= 1) fail(error::last_method);
}

EMBER_DECL asio::awaitable<void> service::rehash(std::int64_t account, std::string old_hash,
                                                 std::string password) {
  auto fresh = co_await hasher_.hash(std::move(password));
  auto set = [&](ember_accounts::account& a) {
    if (a.password_hash == old_hash) a.password_hash = fresh;
  };
  co_await accounts_.update(account, set);
}

EMBER_DECL asio::awaitable<session_tokens> service::issue(std::int64_t account, bool was_created) {
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

}  // namespace ember::modules::accounts
