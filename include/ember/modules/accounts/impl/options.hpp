// ember: bodies of the accounts module's options (included by ember/modules/accounts/options.hpp,
// or compiled once into libember-accounts with EMBER_SEPARATE_COMPILATION).
#pragma once

#include "ember/modules/accounts/options.hpp"

#include "ember/app/module_options.hpp"
#include "ember/net/server.hpp"

namespace ember::modules::accounts {

EMBER_DECL options options::read(app::module_options& o) {
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

EMBER_DECL std::function<void(std::uint64_t, std::string_view)> close_sessions_on(net::server& server) {
  return [&server](std::uint64_t user, std::string_view reason) {
    if (auto s = server.find_user(user)) s->close(reason);
  };
}

}  // namespace ember::modules::accounts
