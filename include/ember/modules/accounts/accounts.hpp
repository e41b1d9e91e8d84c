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

#include <asio/awaitable.hpp>

#include "ember/modules/accounts/detail/ember_accounts_server.hpp"
#include "ember/modules/accounts/options.hpp"
#include "ember/modules/accounts/service.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::modules::accounts {

class handler final : public ember_accounts::accounts_handler {
 public:
  explicit handler(service& s) : svc_(s) {}

  asio::awaitable<ember_accounts::sign_in_password_reply> sign_in_password(
      net::session& s, const ember_accounts::sign_in_password_request& req) override;

  asio::awaitable<ember_accounts::sign_in_device_reply> sign_in_device(
      net::session& s, const ember_accounts::sign_in_device_request& req) override;

  asio::awaitable<ember_accounts::sign_in_custom_reply> sign_in_custom(
      net::session& s, const ember_accounts::sign_in_custom_request& req) override;

  asio::awaitable<ember_accounts::sign_in_token_reply> sign_in_token(
      net::session& s, const ember_accounts::sign_in_token_request& req) override;

  asio::awaitable<ember_accounts::refresh_session_reply> refresh_session(
      net::session& s, const ember_accounts::refresh_session_request& req) override;

  asio::awaitable<ember_accounts::sign_out_reply> sign_out(net::session& s,
                                                           const ember_accounts::sign_out_request&) override;

  asio::awaitable<ember_accounts::link_password_reply> link_password(
      net::session& s, const ember_accounts::link_password_request& req) override;

  asio::awaitable<ember_accounts::link_device_reply> link_device(
      net::session& s, const ember_accounts::link_device_request& req) override;

  asio::awaitable<ember_accounts::link_custom_reply> link_custom(
      net::session& s, const ember_accounts::link_custom_request& req) override;

  asio::awaitable<ember_accounts::unlink_password_reply> unlink_password(
      net::session& s, const ember_accounts::unlink_password_request&) override;

  asio::awaitable<ember_accounts::unlink_device_reply> unlink_device(
      net::session& s, const ember_accounts::unlink_device_request& req) override;

  asio::awaitable<ember_accounts::unlink_custom_reply> unlink_custom(
      net::session& s, const ember_accounts::unlink_custom_request&) override;

  asio::awaitable<ember_accounts::get_account_reply> get_account(
      net::session& s, const ember_accounts::get_account_request&) override;

 private:
  /// The session's account, or not_signed_in.
  static std::int64_t signed_in(const net::session& s);

  /// The session's account, if it is not banned. Without an end_session hook a banned
  /// player's session lives on: its first command here unbinds it (closing it would lose this
  /// reply), so every module sees no user there any more.
  asio::awaitable<std::int64_t> active(net::session& s);

  service& svc_;
};

}  // namespace ember::modules::accounts

#if defined(EMBER_SEPARATE_COMPILATION)
// Registering the module's commands compiles once, in its library (impl/src.hpp), not in
// every file that registers them.
extern template void ember_accounts::register_commands<0>(ember::net::dispatch_table&,
    ember_accounts::accounts_handler&);
#else
#include "ember/modules/accounts/impl/accounts.hpp"
#endif
