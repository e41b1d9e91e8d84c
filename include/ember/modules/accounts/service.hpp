// ember accounts module: the service — sign-in by password, device or custom id (creating the
// account on first sign-in), linking and unlinking sign-in methods, session and refresh tokens,
// bans. The game and other modules call it; `handler` (accounts.hpp) is its client face.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <asio/awaitable.hpp>

#include "ember/data/error.hpp"
#include "ember/data/store.hpp"
#include "ember/data/table.hpp"
#include "ember/modules/accounts/attempt_limiter.hpp"
#include "ember/modules/accounts/detail/ember_accounts.hpp"
#include "ember/modules/accounts/options.hpp"
#include "ember/modules/accounts/password_hasher.hpp"
#include "ember/modules/accounts/secrets.hpp"
#include "ember/modules/events.hpp"
#include "ember/modules/players.hpp"
#include "ember/net/session.hpp"
#include "ember/separate_compilation.hpp"

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
std::string address_of(const net::session& s);

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
                                                   std::string address);

  asio::awaitable<session_tokens> sign_in_device(std::string device_id, bool create, std::string address);

  /// `credential` goes through hooks::verify_custom first (a refused one fails like an unknown
  /// account).
  asio::awaitable<session_tokens> sign_in_custom(std::string credential, bool create, std::string address);

  /// Trades a refresh token for a new pair; the old pair is revoked (a refresh token works once).
  asio::awaitable<session_tokens> refresh(std::string refresh_token);

  /// The account of a valid, unexpired session token of an account not banned (e.g. to resume
  /// a player on another server), else nullopt.
  asio::awaitable<std::optional<token_info>> check_token(std::string token);

  /// Revokes the pair of the token whose hash is `token_hash` (a session's token_attribute).
  asio::awaitable<void> revoke_pair(std::string token_hash);

  /// Revokes `token` (session or refresh) and the other token of its pair: sign-out.
  asio::awaitable<void> revoke(std::string token);

  /// Revokes every token of `account`.
  asio::awaitable<void> revoke_all(std::int64_t account);

  /// Binds `s` to the account of `t` after a sign-in: the session's user becomes the account
  /// (every module sees it as `s.user()`), and `signed_in` is published.
  asio::awaitable<void> bind(net::session& s, std::int64_t account, std::string token_hash, sign_in_method how);

  // --- sign-in methods of an account

  asio::awaitable<void> link_password(std::int64_t account, std::string username, std::string password);

  asio::awaitable<void> link_device(std::int64_t account, std::string device_id);

  asio::awaitable<void> link_custom(std::int64_t account, std::string credential);

  asio::awaitable<void> unlink_password(std::int64_t account);

  asio::awaitable<void> unlink_device(std::int64_t account, std::string device_id);

  asio::awaitable<void> unlink_custom(std::int64_t account);

  /// The account as its owner sees it; no_such_account if there is none.
  asio::awaitable<ember_accounts::account_info> info(std::int64_t account);

  /// The stored row of `account` (nullopt: none).
  asio::awaitable<std::optional<ember_accounts::account>> find(std::int64_t account);

  // --- bans

  /// Bans `account` until `until`: its tokens are revoked, its session is told
  /// (banned_notice) and ended at once (hooks::end_session), and sign-ins fail with `banned`.
  asio::awaitable<void> ban(std::int64_t account, std::string reason, std::chrono::system_clock::time_point until);

  asio::awaitable<void> unban(std::int64_t account);

  asio::awaitable<bool> is_banned(std::int64_t account);

 private:
  static constexpr std::size_t max_token_size = 128;

  template <class T>
  using table = data::table<T>;

  static bool banned(const ember_accounts::account& a);
  static void refuse_if_banned(const ember_accounts::account& a);
  static std::string lowercase(std::string s);
  static bool alnum(char c);

  /// The username's key (lowercased), or invalid_username.
  std::string checked_username(const std::string& u) const;

  /// A new password must have password_min code points; one signing in need not (the minimum
  /// may have grown since it was chosen).
  void check_password(const std::string& p, bool is_new) const;

  void check_id(const std::string& id, std::size_t min) const;

  asio::awaitable<std::optional<std::string>> custom_id_of(std::string credential);

  asio::awaitable<void> refuse_if_blocked(std::string by_name, std::string by_address);

  asio::awaitable<void> count_failure(std::string by_name, std::string by_address);

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

  asio::awaitable<session_tokens> created(std::int64_t account, sign_in_method how);

  asio::awaitable<ember_accounts::account> existing(std::int64_t account);

  asio::awaitable<void> refuse_if_last(const ember_accounts::account& a);

  asio::awaitable<void> rehash(std::int64_t account, std::string old_hash, std::string password);

  /// A new token pair for `account`. The account keeps at most max_sessions pairs: expired
  /// tokens are dropped and the oldest pairs revoked first, so its tokens stay bounded.
  asio::awaitable<session_tokens> issue(std::int64_t account, bool was_created);

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

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/modules/accounts/impl/service.hpp"
#endif
