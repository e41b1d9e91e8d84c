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

#include "ember/app/module_options.hpp"
#include "ember/net/server.hpp"

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
  static options read(app::module_options& o) {
    const auto size = [&](std::string_view key, std::size_t fallback, std::uint32_t lo, std::uint32_t hi) {
      return static_cast<std::size_t>(o.count(key, static_cast<std::uint32_t>(fallback), lo, hi));
    };
    const auto seconds = [&](std::string_view key, std::chrono::seconds fallback) {
      return std::chrono::seconds(o.integer(key, fallback.count(), 1, std::int64_t{10} * 365 * 24 * 3600));
    };
    options out;
    out.hashing_threads = size("hashing_threads", out.hashing_threads, 1, 256);
    out.opslimit = static_cast<unsigned long long>(o.integer("opslimit", static_cast<std::int64_t>(out.opslimit),
                                                            crypto_pwhash_OPSLIMIT_MIN, 64));
    out.memlimit = static_cast<std::size_t>(o.integer("memlimit", static_cast<std::int64_t>(out.memlimit),
                                                      crypto_pwhash_MEMLIMIT_MIN, std::int64_t{4} << 30));
    out.username_min = size("username_min", out.username_min, 1, 64);
    out.username_max = size("username_max", out.username_max, out.username_min, 256);
    out.password_min = size("password_min", out.password_min, 1, 256);
    out.password_max = size("password_max", out.password_max, out.password_min, 4096);
    out.device_id_min = size("device_id_min", out.device_id_min, 1, 256);
    out.custom_id_min = size("custom_id_min", out.custom_id_min, 1, 256);
    out.id_max = size("id_max", out.id_max, 1, 4096);
    out.ban_reason_max = size("ban_reason_max", out.ban_reason_max, 1, 4096);
    out.max_devices = size("max_devices", out.max_devices, 1, 1000);
    out.max_sessions = size("max_sessions", out.max_sessions, 1, 1000);
    out.token_lifetime = seconds("token_lifetime_s", out.token_lifetime);
    out.refresh_lifetime = seconds("refresh_lifetime_s", out.refresh_lifetime);
    out.max_failures = o.count("max_failures", out.max_failures, 1, 1000);
    out.failure_window = o.duration_ms("failure_window_ms", out.failure_window);
    out.first_delay = o.duration_ms("first_delay_ms", out.first_delay);
    out.max_delay = o.duration_ms("max_delay_ms", out.max_delay);
    o.done();
    return out;
  }
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
inline std::function<void(std::uint64_t, std::string_view)> close_sessions_on(net::server& server) {
  return [&server](std::uint64_t user, std::string_view reason) {
    if (auto s = server.find_user(user)) s->close(reason);
  };
}

}  // namespace ember::modules::accounts
