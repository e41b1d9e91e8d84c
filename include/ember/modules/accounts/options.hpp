// ember accounts module: its limits (options) and the game's hooks.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <asio/awaitable.hpp>
#include <sodium.h>

#include "ember/separate_compilation.hpp"

namespace ember::app {
class module_options;  // ember/app/module_options.hpp
}
namespace ember::net {
class server;  // ember/net/server.hpp
}

namespace ember::modules::accounts {

struct options {
  /// Threads that hash and verify passwords (Argon2id takes ~100 ms and 64 MiB each with the
  /// INTERACTIVE limits: never on the io thread).
  std::size_t hashing_threads = 1;
  /// crypto_pwhash limits of new hashes. Tests may use crypto_pwhash_*_MIN for speed; a
  /// sign-in rehashes a password stored with other limits.
  unsigned long long opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
  std::size_t memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;

  std::size_t username_min = 3, username_max = 32;  ///< ASCII characters
  std::size_t password_min = 8, password_max = 128;  ///< code points
  std::size_t device_id_min = 10, custom_id_min = 6, id_max = 128;  ///< code points
  std::size_t ban_reason_max = 256;  ///< code points
  std::size_t max_devices = 10;  ///< devices linked to one account
  /// Token pairs an account keeps; a new sign-in beyond revokes the oldest pair.
  std::size_t max_sessions = 10;

  std::chrono::seconds token_lifetime = std::chrono::hours(2);
  std::chrono::seconds refresh_lifetime = std::chrono::hours(24 * 30);

  /// Failed sign-ins of one account (or from one address) within `failure_window` before
  /// sign-ins are refused (too_many_attempts) for `first_delay`, doubling with each further
  /// failure up to `max_delay`.
  std::uint32_t max_failures = 5;
  std::chrono::milliseconds failure_window = std::chrono::minutes(15);
  std::chrono::milliseconds first_delay = std::chrono::seconds(1);
  std::chrono::milliseconds max_delay = std::chrono::minutes(15);

  /// From config.json's `modules.accounts`: the same names; the lifetimes as
  /// `token_lifetime_s` and `refresh_lifetime_s`, the durations as `failure_window_ms`,
  /// `first_delay_ms`, `max_delay_ms`, and the hashing limits as `opslimit`, `memlimit`.
  static options read(app::module_options& o);
};

/// What the game plugs in.
struct hooks {
  /// Ends the session of `user` at once (a ban): e.g. `close_sessions_on(server)`, or the
  /// cluster's way to close a user's session on its gateway. Without it a ban only revokes
  /// the tokens and refuses further sign-ins.
  std::function<void(std::uint64_t user, std::string_view reason)> end_session;
  /// Turns the credential a client sends to sign_in_custom / link_custom (a ticket of the
  /// game's own identity service) into the custom id, or nullopt if it is refused. Without it
  /// the credential is the custom id (trusted as Nakama trusts it).
  std::function<asio::awaitable<std::optional<std::string>>(std::string credential)> verify_custom;
};

/// An `end_session` hook for players connected to `server` (one process serving clients).
std::function<void(std::uint64_t, std::string_view)> close_sessions_on(net::server& server);

}  // namespace ember::modules::accounts

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/modules/accounts/impl/options.hpp"
#endif
