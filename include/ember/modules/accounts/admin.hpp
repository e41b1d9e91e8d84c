// ember accounts module: the master's admin ban (ember/app/admin.hpp, `admin_call::ban`) —
// what `ember-cli ban` and the console's Ban button reach — served by this server's accounts
// service, the same `service::ban` the game calls.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <string>

#include <asio/awaitable.hpp>

#include "ember/app/host.hpp"
#include "ember/modules/accounts/service.hpp"

namespace ember::modules::accounts {

/// While it lives, the master's admin bans on this server go to `svc` (`host::set_admin_ban`).
/// Keep it beside the service, declared after it, in the logic that owns both: it goes first.
/// A reloaded build's `admin_bans` takes over; the old one's end then leaves it in place.
class admin_bans {
 public:
  admin_bans(app::host& h, service& svc) : host_(h) {
    h.set_admin_ban([&svc](std::int64_t account, std::string reason,
                           std::chrono::system_clock::time_point until) -> asio::awaitable<std::string> {
      std::string why;
      try {
        const auto row = co_await svc.find(account);
        if (!row) {
          why = "no account " + std::to_string(account);
        } else {
          co_await svc.ban(account, std::move(reason), until);
        }
      } catch (const std::exception& e) {
        why = e.what();  // the module's typed refusal (`invalid_reason`...) or the data layer's
      }
      co_return why;
    }, this);
  }
  ~admin_bans() { host_.clear_admin_ban(this); }
  admin_bans(const admin_bans&) = delete;
  admin_bans& operator=(const admin_bans&) = delete;

 private:
  app::host& host_;
};

}  // namespace ember::modules::accounts
