// ember: bodies of cluster::owner_registry and cluster::player_ownership (included by
// ember/cluster/ownership.hpp).
#pragma once

#include "ember/cluster/ownership.hpp"

#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <asio/co_spawn.hpp>
#include <fmt/format.h>

#include "ember/cluster/detail/cluster_wire.hpp"
#include "ember/cluster/route_wire.hpp"
#include "ember/log.hpp"
#include "ember/spawn.hpp"

namespace ember::cluster {

namespace detail {
// Decodes the body of request `f` into `m`; a malformed one is answered with bad_request.
template <class M>
bool decode_request(link& from, const wire::frame& f, M& m, std::string_view what) {
  if (decode(f.body, m)) return true;
  from.send_error(std::uint16_t(f.command), f.seq, std::uint16_t(status::bad_request),
                  "malformed " + std::string(what));
  return false;
}

// What a failed acquire reports (player_ownership::acquire): the registry's answer as it gave
// it (a refusal: not granted); else what the call's failure means for the grant — sent and
// not answered (its deadline passed, the link dropped) the registry may have granted it, not
// sent it was not.
EMBER_DECL failure acquire_failure(std::string_view me, std::string_view registry,
                                   std::uint64_t user, failure f) {
  if (f.remote()) {
    f.message = fmt::format("{}: acquiring player {}: {}", me, user, f.message);
    return f;
  }
  const auto s = status_of(f.code);
  if (s == status::timeout || s == status::outcome_unknown)
    return failure{make_error_code(errc::outcome_unknown), 0,
                   fmt::format("{}: acquiring player {}: {}; the owner registry {} may have granted "
                               "it, acquire again", me, user, f.message, registry)};
  return failure{f.code == errc::overloaded ? f.code : make_error_code(errc::unavailable), 0,
                 fmt::format("{}: acquiring player {}: {}; not granted, retry", me, user, f.message)};
}
}  // namespace detail

// ------------------------------------------------------------------ owner_registry

EMBER_DECL owner_registry::owner_registry(asio::any_io_executor ex, root& r,
                                          std::set<std::string> expected,
                                          std::chrono::milliseconds lease,
                                          std::chrono::milliseconds release_timeout)
    : state_(std::make_shared<state>(ex, r, lease)) {
  state_->release_timeout = release_timeout;
  state_->awaiting = std::move(expected);
  std::weak_ptr<state> ws = state_;
  r.on_join([ws](const root::link_ptr& l) {
    if (auto s = ws.lock()) s->listen(l);
  });
  r.on_leave([ws](const root::link_ptr& l) {
    if (auto s = ws.lock()) s->orphan(l->peer().name);
  });
}

EMBER_DECL std::string owner_registry::owner_of(std::uint64_t user) const {
  auto it = state_->owners.find(user);
  return it == state_->owners.end() ? std::string() : it->second.owner;
}

EMBER_DECL owner_registry::state::state(asio::any_io_executor e, root& r,
                                        std::chrono::milliseconds l)
    : ex(e), root_(r), lease(l), queue(e), started(std::chrono::steady_clock::now()) {}

EMBER_DECL void owner_registry::state::listen(const root::link_ptr& l) {
  std::weak_ptr<state> ws = weak_from_this();
  l->on_internal_request(std::uint16_t(route::call_id::acquire),
                         [ws](link& from, const wire::frame& f) {
                           if (auto s = ws.lock()) s->on_acquire(from, f);
                         });
  l->on_internal_request(std::uint16_t(route::call_id::reclaim),
                         [ws](link& from, const wire::frame& f) {
                           if (auto s = ws.lock()) s->on_reclaim(from, f);
                         });
  l->on_notify(std::uint16_t(route::notify_id::released),
               [ws, wl = std::weak_ptr<link>(l)](bytes_view body, codec::encoding) {
                 auto s = ws.lock();
                 auto from = wl.lock();
                 detail::msg::player m;
                 if (!s || !from || !detail::decode(body, m)) return;
                 const auto user = m.user;
                 if (auto it = s->owners.find(user);
                     it != s->owners.end() && it->second.owner == from->peer().name)
                   s->owners.erase(it);
               });
}

EMBER_DECL void owner_registry::state::orphan(const std::string& name) {
  const auto now = std::chrono::steady_clock::now();
  for (auto& [user, e] : owners)
    if (e.owner == name && e.orphaned == std::chrono::steady_clock::time_point{})
      e.orphaned = now;
}

EMBER_DECL void owner_registry::state::on_acquire(link& from, const wire::frame& f) {
  detail::msg::player m;
  if (!detail::decode_request(from, f, m, "acquire")) return;
  const auto command = static_cast<std::uint16_t>(f.command);
  const auto user = m.user;
  auto l = from.shared_from_this();
  queue.post(work_key{0, user}, acquire(l, user, f.seq),
             [l, command, user, seq = f.seq, ws = weak_from_this()](std::exception_ptr e) {
               if (!e) return;  // answered (granted or refused) by acquire itself
               // It failed before its answer: granted if the acquirer is the owner now.
               auto s = ws.lock();
               const auto& to = l->peer().name;
               bool granted = false;
               if (s)
                 if (auto it = s->owners.find(user); it != s->owners.end()) granted = it->second.owner == to;
               const auto reply = error_reply_of(e);
               const auto why = fmt::format("owner registry {}: acquiring player {} for {} failed{}: {}",
                                            s ? std::string_view(s->root_.name()) : "(stopped)", user, to,
                                            granted ? " after granting it" : "",
                                            reply.detail.empty() ? reply.message : reply.detail);
               log::error("{}", why);
               l->send_error(command, seq,
                             std::uint16_t(granted ? status::outcome_unknown : status::unavailable), why);
             });
}

EMBER_DECL asio::awaitable<void> owner_registry::state::acquire(std::shared_ptr<link> l,
                                                                std::uint64_t user,
                                                                std::uint32_t seq) {
  auto self = shared_from_this();
  const auto& me = l->peer().name;
  const auto now = std::chrono::steady_clock::now();
  // A refusal is an answer, not a failure: the acquirer hears "unavailable, retry".
  auto refuse = [&](const std::string& why) {
    l->send_error(std::uint16_t(route::call_id::acquire), seq, std::uint16_t(status::unavailable), why);
  };
  auto it = owners.find(user);
  if (it == owners.end()) {
    if (recovering(now)) {
      refuse("the owner registry restarted and is waiting for owners to reclaim their players; "
             "retry shortly");
      co_return;
    }
  } else if (it->second.owner != me) {
    const auto owner = it->second.owner;
    if (it->second.orphaned != std::chrono::steady_clock::time_point{}) {
      if (now - it->second.orphaned < lease) {
        refuse(owner + " lost its link and may still hold player " + std::to_string(user) +
               "; retry after its lease ends");
        co_return;
      }
    } else if (auto holder = root_.find(owner); holder && holder->is_open()) {
      const detail::msg::player body{user};
      auto released = co_await holder->call(std::uint16_t(route::call_id::release),
                                            net::body_writer(body), release_timeout);
      if (!released) {
        refuse(owner + " did not release player " + std::to_string(user) + ": " +
               released.error().message);
        co_return;
      }
      log::info("{}: player {} moves from {} to {}", root_.name(), user, owner, me);
    }
  }
  owners[user] = entry{me, {}};
  l->reply_bytes(std::uint16_t(route::call_id::acquire), seq, {});
}

EMBER_DECL void owner_registry::state::on_reclaim(link& from, const wire::frame& f) {
  detail::msg::players claimed;
  if (!detail::decode_request(from, f, claimed, "reclaim")) return;
  detail::msg::players refused;
  const auto& me = from.peer().name;
  awaiting.erase(me);
  // What `me` no longer claims is free now: a restarted backend holds nobody, and its former
  // players need not wait out the lease to move (PROTOCOL.md section 10).
  const std::unordered_set<std::uint64_t> kept(claimed.users.begin(), claimed.users.end());
  std::size_t freed = 0;
  for (auto it = owners.begin(); it != owners.end();) {
    if (it->second.owner == me && !kept.contains(it->first)) {
      it = owners.erase(it);
      ++freed;
    } else {
      ++it;
    }
  }
  if (freed != 0)
    log::info("{}: {} holds {} fewer players than before its reconnect; they are free", root_.name(),
              me, freed);
  for (const auto user : claimed.users) {
    auto it = owners.find(user);
    const bool free = it == owners.end() || it->second.owner == me ||
                      it->second.orphaned != std::chrono::steady_clock::time_point{};
    if (free)
      owners[user] = entry{me, {}};
    else
      refused.users.push_back(user);
  }
  from.reply_bytes(std::uint16_t(f.command), f.seq, detail::encoded(refused).view());
}

// ------------------------------------------------------------------ player_ownership

EMBER_DECL player_ownership::player_ownership(asio::any_io_executor ex,
                                              node_connector& registry,
                                              std::chrono::milliseconds lease)
    : state_(std::make_shared<state>(ex, registry, lease)) {
  std::weak_ptr<state> ws = state_;
  registry.on_connected([ws](const node_connector::link_ptr& l) {
    if (auto s = ws.lock()) s->connected(l);
  });
  registry.on_disconnected([ws](std::error_code) {
    if (auto s = ws.lock()) s->disconnected();
  });
}

EMBER_DECL asio::awaitable<outcome<acquired>> player_ownership::acquire(std::uint64_t user,
                                                                       std::chrono::milliseconds timeout) {
  auto s = state_;
  if (s->owned.contains(user)) co_return acquired{};
  const auto& me = s->registry.name();
  auto l = s->registry.current();
  if (!l || !l->is_open())
    co_return unavailable_failure(
        fmt::format("{}: acquiring player {}: no link to the owner registry; not granted, retry", me, user));
  const detail::msg::player body{user};
  ++s->acquiring[user];
  auto r = co_await l->call(std::uint16_t(route::call_id::acquire), net::body_writer(body), timeout);
  const bool revoked = s->revoked.contains(user);
  if (--s->acquiring[user] == 0) {
    s->acquiring.erase(user);
    s->revoked.erase(user);
  }
  if (!r) co_return detail::acquire_failure(me, l->peer().name, user, std::move(r.error()));
  if (revoked)  // the registry moved the player on meanwhile: the grant is void
    co_return unavailable_failure(fmt::format(
        "{}: acquiring player {}: the owner registry moved it to another server meanwhile; not granted, retry",
        me, user));
  s->owned.insert(user);
  co_return acquired{};
}

EMBER_DECL asio::awaitable<void> player_ownership::give_up(std::uint64_t user) {
  co_await state::let_go(state_, user, true);
}

EMBER_DECL asio::awaitable<void> player_ownership::state::let_go(std::shared_ptr<state> s,
                                                                 std::uint64_t user, bool tell) {
  // Not owned: nothing to wait for (and a request of the player queued here may be waiting
  // for the registry, which waits for this answer).
  if (!s->owned.contains(user)) co_return;
  auto work = [](std::shared_ptr<state> s, std::uint64_t user, bool tell) -> asio::awaitable<void> {
    if (!s->owned.contains(user)) co_return;  // let go meanwhile (the registry asked first)
    if (s->on_release) co_await s->on_release(user);
    s->owned.erase(user);
    if (auto l = s->registry.current(); tell && l && l->is_open()) {
      const detail::msg::player body{user};
      (void)l->notify(std::uint16_t(route::notify_id::released), net::body_writer(body));
    }
  }(s, user, tell);
  if (s->serialize)
    co_await s->serialize(user, std::move(work));
  else
    co_await std::move(work);
}

EMBER_DECL void player_ownership::release(std::uint64_t user) {
  if (state_->owned.erase(user) == 0) return;
  if (auto l = state_->registry.current(); l && l->is_open()) {
    const detail::msg::player body{user};
    (void)l->notify(std::uint16_t(route::notify_id::released), net::body_writer(body));
  }
}

EMBER_DECL player_ownership::state::state(asio::any_io_executor e, node_connector& r,
                                          std::chrono::milliseconds l)
    : ex(e), registry(r), lease(l), drop_timer(e) {}

EMBER_DECL void player_ownership::state::connected(const node_connector::link_ptr& l) {
  drop_timer.cancel();
  std::weak_ptr<state> ws = weak_from_this();
  l->on_internal_request(std::uint16_t(route::call_id::release),
                         [ws](link& from, const wire::frame& f) {
                           if (auto s = ws.lock()) s->on_release_request(from, f);
                         });
  // The registry may have restarted: tell it what we hold (even nothing, so that it knows
  // this backend is back); drop what it refuses.
  const detail::msg::players mine{std::vector<std::uint64_t>(owned.begin(), owned.end())};
  spawn(ex, reclaim(shared_from_this(), l, detail::encoded(mine)), "ownership reclaim");
}

EMBER_DECL asio::awaitable<void> player_ownership::state::reclaim(std::shared_ptr<state> s,
                                                                  node_connector::link_ptr l,
                                                                  buffer body) {
  auto r = co_await l->call(std::uint16_t(route::call_id::reclaim),
                            net::body_writer::encoded(body.view()));
  if (!r) {
    log::warn("ownership: reclaiming players failed: {}", r.error().message);
    co_return;
  }
  detail::msg::players refused;
  if (!detail::decode(r->view(), refused)) {
    log::warn("ownership: the registry's answer to reclaim is malformed");
    co_return;
  }
  // The game must drop them too (on_release), or it would go on serving them beside their owner.
  for (const auto user : refused.users) {
    log::error("ownership: player {} is owned elsewhere now; dropping it", user);
    s->owned.erase(user);
    if (!s->on_release) continue;
    try {
      co_await s->on_release(user);
    } catch (const std::exception& e) {
      log::error("ownership: dropping player {} failed: {}", user, e.what());
    }
  }
}

EMBER_DECL void player_ownership::state::disconnected() {
  if (owned.empty()) return;
  drop_timer.expires_after(lease / 2);
  drop_timer.async_wait([ws = weak_from_this()](std::error_code ec) {
    auto s = ws.lock();
    if (ec || !s || s->registry.connected()) return;
    log::warn("ownership: no link to the registry for half the lease; saving and dropping "
              "{} players", s->owned.size());
    spawn(s->ex, drop_all(s), "ownership drop");
  });
}

EMBER_DECL asio::awaitable<void> player_ownership::state::drop_all(std::shared_ptr<state> s) {
  auto all = std::move(s->owned);
  s->owned.clear();
  for (auto u : all) {
    if (!s->on_release) continue;
    try {
      co_await s->on_release(u);
    } catch (const std::exception& e) {
      log::error("ownership: releasing player {} failed: {}", u, e.what());
    }
  }
}

EMBER_DECL void player_ownership::state::on_release_request(link& from, const wire::frame& f) {
  detail::msg::player m;
  if (!detail::decode_request(from, f, m, "release")) return;
  spawn(ex, release_for(shared_from_this(), from.shared_from_this(), m.user, f.seq),
        "ownership release");
}

EMBER_DECL asio::awaitable<void> player_ownership::state::release_for(std::shared_ptr<state> s,
                                                                      std::shared_ptr<link> l,
                                                                      std::uint64_t user,
                                                                      std::uint32_t seq) {
  const auto command = std::uint16_t(route::call_id::release);
  if (s->acquiring.contains(user)) s->revoked.insert(user);
  try {
    co_await let_go(s, user, false);  // the answer tells the registry
    l->reply_bytes(command, seq, {});
  } catch (const std::exception& e) {
    // Still owned here (let_go drops a player only once saved): not released, the registry
    // refuses the acquirer, which may retry.
    const auto why = fmt::format("{} could not save player {} to release it: {}", s->registry.name(), user, e.what());
    log::warn("ownership: {}", why);
    l->send_error(command, seq, std::uint16_t(status::unavailable), why);
  }
}

}  // namespace ember::cluster
