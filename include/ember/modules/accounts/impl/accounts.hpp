// ember: bodies of the accounts module's command handler (included by
// ember/modules/accounts/accounts.hpp, or compiled once into libember-accounts with
// EMBER_SEPARATE_COMPILATION).
#pragma once

#include "ember/modules/accounts/accounts.hpp"

#include <string>
#include <utility>

#include "ember/modules/accounts/secrets.hpp"

namespace ember::modules::accounts {

EMBER_DECL asio::awaitable<ember_accounts::sign_in_password_reply> handler::sign_in_password(
    net::session& s, const ember_accounts::sign_in_password_request& req) {
  auto t = co_await svc_.sign_in_password(req.username, req.password, req.create, address_of(s));
  co_await svc_.bind(s, t.account_id, hash_hex(t.token), sign_in_method::password);
  co_return ember_accounts::sign_in_password_reply(std::move(t));
}

EMBER_DECL asio::awaitable<ember_accounts::sign_in_device_reply> handler::sign_in_device(
    net::session& s, const ember_accounts::sign_in_device_request& req) {
  auto t = co_await svc_.sign_in_device(req.device_id, req.create, address_of(s));
  co_await svc_.bind(s, t.account_id, hash_hex(t.token), sign_in_method::device);
  co_return ember_accounts::sign_in_device_reply(std::move(t));
}

EMBER_DECL asio::awaitable<ember_accounts::sign_in_custom_reply> handler::sign_in_custom(
    net::session& s, const ember_accounts::sign_in_custom_request& req) {
  auto t = co_await svc_.sign_in_custom(req.credential, req.create, address_of(s));
  co_await svc_.bind(s, t.account_id, hash_hex(t.token), sign_in_method::custom);
  co_return ember_accounts::sign_in_custom_reply(std::move(t));
}

EMBER_DECL asio::awaitable<ember_accounts::sign_in_token_reply> handler::sign_in_token(
    net::session& s, const ember_accounts::sign_in_token_request& req) {
  auto info = co_await svc_.check_token(req.token);
  if (!info) fail(error::invalid_token);
  co_await svc_.bind(s, info->account_id, hash_hex(req.token), sign_in_method::token);
  co_return ember_accounts::sign_in_token_reply(info->account_id, info->expires_at_ms);
}

EMBER_DECL asio::awaitable<ember_accounts::refresh_session_reply> handler::refresh_session(
    net::session& s, const ember_accounts::refresh_session_request& req) {
  auto t = co_await svc_.refresh(req.refresh_token);
  co_await svc_.bind(s, t.account_id, hash_hex(t.token), sign_in_method::refresh);
  co_return ember_accounts::refresh_session_reply(std::move(t));
}

EMBER_DECL asio::awaitable<ember_accounts::sign_out_reply> handler::sign_out(
    net::session& s, const ember_accounts::sign_out_request&) {
  signed_in(s);
  const auto token = s.attribute(service::token_attribute);
  std::string token_hash = token ? std::string(*token) : std::string();
  s.bind_user(0);
  s.set_attribute(service::token_attribute, {});
  if (!token_hash.empty()) co_await svc_.revoke_pair(std::move(token_hash));
  co_return ember_accounts::sign_out_reply{};
}

EMBER_DECL asio::awaitable<ember_accounts::link_password_reply> handler::link_password(
    net::session& s, const ember_accounts::link_password_request& req) {
  const auto account = co_await active(s);
  co_await svc_.link_password(account, req.username, req.password);
  co_return ember_accounts::link_password_reply{};
}

EMBER_DECL asio::awaitable<ember_accounts::link_device_reply> handler::link_device(
    net::session& s, const ember_accounts::link_device_request& req) {
  const auto account = co_await active(s);
  co_await svc_.link_device(account, req.device_id);
  co_return ember_accounts::link_device_reply{};
}

EMBER_DECL asio::awaitable<ember_accounts::link_custom_reply> handler::link_custom(
    net::session& s, const ember_accounts::link_custom_request& req) {
  const auto account = co_await active(s);
  co_await svc_.link_custom(account, req.credential);
  co_return ember_accounts::link_custom_reply{};
}

EMBER_DECL asio::awaitable<ember_accounts::unlink_password_reply> handler::unlink_password(
    net::session& s, const ember_accounts::unlink_password_request&) {
  const auto account = co_await active(s);
  co_await svc_.unlink_password(account);
  co_return ember_accounts::unlink_password_reply{};
}

EMBER_DECL asio::awaitable<ember_accounts::unlink_device_reply> handler::unlink_device(
    net::session& s, const ember_accounts::unlink_device_request& req) {
  const auto account = co_await active(s);
  co_await svc_.unlink_device(account, req.device_id);
  co_return ember_accounts::unlink_device_reply{};
}

EMBER_DECL asio::awaitable<ember_accounts::unlink_custom_reply> handler::unlink_custom(
    net::session& s, const ember_accounts::unlink_custom_request&) {
  const auto account = co_await active(s);
  co_await svc_.unlink_custom(account);
  co_return ember_accounts::unlink_custom_reply{};
}

EMBER_DECL asio::awaitable<ember_accounts::get_account_reply> handler::get_account(
    net::session& s, const ember_accounts::get_account_request&) {
  const auto account = co_await active(s);
  auto info = co_await svc_.info(account);
  co_return ember_accounts::get_account_reply(std::move(info));
}

EMBER_DECL std::int64_t handler::signed_in(const net::session& s) {
  auto u = s.user();
  if (!u || *u == 0) fail(error::not_signed_in);
  return static_cast<std::int64_t>(*u);
}

EMBER_DECL asio::awaitable<std::int64_t> handler::active(net::session& s) {
  const auto id = signed_in(s);
  if (co_await svc_.is_banned(id)) {
    s.bind_user(0);
    s.set_attribute(service::token_attribute, {});
    fail(error::banned);
  }
  co_return id;
}

}  // namespace ember::modules::accounts
