// ember accounts module (docs/modules/accounts.md): sign-in by username and password, device id
// or custom id; linked sign-in methods; session and refresh tokens; bans; a limit on failed
// sign-ins. `service` (service.hpp) is the typed interface; `handler` serves the client
// commands of schemas/ember/accounts.toml as thin coroutines over it.
//
//   ember::modules::accounts::service accounts(store, players, bus, options,
//       {.end_session = ember::modules::accounts::close_sessions_on(server)});
//   ember::modules::accounts::handler accounts_commands(accounts);
//   ember_accounts::register_commands(table, accounts_commands);
#pragma once

#include <cstdint>
#include <string>

#include <asio/awaitable.hpp>

#include "ember/modules/accounts/detail/ember_accounts_server.hpp"
#include "ember/modules/accounts/options.hpp"
#include "ember/modules/accounts/service.hpp"

namespace ember::modules::accounts {

class handler final : public ember_accounts::accounts_handler {
 public:
  explicit handler(service& s) : svc_(s) {}

  asio::awaitable<ember_accounts::sign_in_password_reply> sign_in_password(
      net::session& s, const ember_accounts::sign_in_password_request& req) override {
    auto t = co_await svc_.sign_in_password(req.username, req.password, req.create, address_of(s));
    co_await svc_.bind(s, t.account_id, hash_hex(t.token), sign_in_method::password);
    co_return ember_accounts::sign_in_password_reply(std::move(t));
  }

  asio::awaitable<ember_accounts::sign_in_device_reply> sign_in_device(
      net::session& s, const ember_accounts::sign_in_device_request& req) override {
    auto t = co_await svc_.sign_in_device(req.device_id, req.create, address_of(s));
    co_await svc_.bind(s, t.account_id, hash_hex(t.token), sign_in_method::device);
    co_return ember_accounts::sign_in_device_reply(std::move(t));
  }

  asio::awaitable<ember_accounts::sign_in_custom_reply> sign_in_custom(
      net::session& s, const ember_accounts::sign_in_custom_request& req) override {
    auto t = co_await svc_.sign_in_custom(req.credential, req.create, address_of(s));
    co_await svc_.bind(s, t.account_id, hash_hex(t.token), sign_in_method::custom);
    co_return ember_accounts::sign_in_custom_reply(std::move(t));
  }

  asio::awaitable<ember_accounts::sign_in_token_reply> sign_in_token(
      net::session& s, const ember_accounts::sign_in_token_request& req) override {
    auto info = co_await svc_.check_token(req.token);
    if (!info) fail(error::invalid_token);
    co_await svc_.bind(s, info->account_id, hash_hex(req.token), sign_in_method::token);
    co_return ember_accounts::sign_in_token_reply(info->account_id, info->expires_at_ms);
  }

  asio::awaitable<ember_accounts::refresh_session_reply> refresh_session(
      net::session& s, const ember_accounts::refresh_session_request& req) override {
    auto t = co_await svc_.refresh(req.refresh_token);
    co_await svc_.bind(s, t.account_id, hash_hex(t.token), sign_in_method::refresh);
    co_return ember_accounts::refresh_session_reply(std::move(t));
  }

  asio::awaitable<ember_accounts::sign_out_reply> sign_out(net::session& s,
                                                           const ember_accounts::sign_out_request&) override {
    signed_in(s);
    const auto token = s.attribute(service::token_attribute);
    std::string token_hash = token ? std::string(*token) : std::string();
    s.bind_user(0);
    s.set_attribute(service::token_attribute, {});
    if (!token_hash.empty()) co_await svc_.revoke_pair(std::move(token_hash));
    co_return ember_accounts::sign_out_reply{};
  }

  asio::awaitable<ember_accounts::link_password_reply> link_password(
      net::session& s, const ember_accounts::link_password_request& req) override {
    const auto account = co_await active(s);
    co_await svc_.link_password(account, req.username, req.password);
    co_return ember_accounts::link_password_reply{};
  }

  asio::awaitable<ember_accounts::link_device_reply> link_device(
      net::session& s, const ember_accounts::link_device_request& req) override {
    const auto account = co_await active(s);
    co_await svc_.link_device(account, req.device_id);
    co_return ember_accounts::link_device_reply{};
  }

  asio::awaitable<ember_accounts::link_custom_reply> link_custom(
      net::session& s, const ember_accounts::link_custom_request& req) override {
    const auto account = co_await active(s);
    co_await svc_.link_custom(account, req.credential);
    co_return ember_accounts::link_custom_reply{};
  }

  asio::awaitable<ember_accounts::unlink_password_reply> unlink_password(
      net::session& s, const ember_accounts::unlink_password_request&) override {
    const auto account = co_await active(s);
    co_await svc_.unlink_password(account);
    co_return ember_accounts::unlink_password_reply{};
  }

  asio::awaitable<ember_accounts::unlink_device_reply> unlink_device(
      net::session& s, const ember_accounts::unlink_device_request& req) override {
    const auto account = co_await active(s);
    co_await svc_.unlink_device(account, req.device_id);
    co_return ember_accounts::unlink_device_reply{};
  }

  asio::awaitable<ember_accounts::unlink_custom_reply> unlink_custom(
      net::session& s, const ember_accounts::unlink_custom_request&) override {
    const auto account = co_await active(s);
    co_await svc_.unlink_custom(account);
    co_return ember_accounts::unlink_custom_reply{};
  }

  asio::awaitable<ember_accounts::get_account_reply> get_account(
      net::session& s, const ember_accounts::get_account_request&) override {
    const auto account = co_await active(s);
    auto info = co_await svc_.info(account);
    co_return ember_accounts::get_account_reply(std::move(info));
  }

 private:
  /// The session's account, or not_signed_in.
  static std::int64_t signed_in(const net::session& s) {
    auto u = s.user();
    if (!u || *u == 0) fail(error::not_signed_in);
    return static_cast<std::int64_t>(*u);
  }

  /// The session's account, if it is not banned. Without an end_session hook a banned
  /// player's session lives on: its first command here unbinds it (closing it would lose this
  /// reply), so every module sees no user there any more.
  asio::awaitable<std::int64_t> active(net::session& s) {
    const auto id = signed_in(s);
    if (co_await svc_.is_banned(id)) {
      s.bind_user(0);
      s.set_attribute(service::token_attribute, {});
      fail(error::banned);
    }
    co_return id;
  }

  service& svc_;
};

}  // namespace ember::modules::accounts
