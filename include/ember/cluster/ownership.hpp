// ember: one owner per player, cluster-wide. A backend owns a player (holds it in memory and
// writes it) only after the registry on a root granted it; to move a player, the registry
// first makes the old owner save and drop it, so there are never two owners at once (the
// classic item-duplication bug).
//
//   registry (root, e.g. gate)          owner (backend, e.g. game1)
//   acquire(user) from game2  ------->  release(user): the owner saves, drops, answers
//   grant to game2            <-------  (no answer in time: game2 is refused, retries)
//
// Leases: when a backend's link to the registry drops, the registry keeps its players for
// `lease` before granting them to anyone; the backend drops them (saving each) after half of
// it unless the link is back. After the registry restarts, it grants nothing new for `lease`
// while backends reclaim what they own. So a player is never granted while an owner that may
// still be running holds it: a stopped owner (SIGSTOP) makes acquisitions fail, not double.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

#include "ember/cluster/keyed_queue.hpp"
#include "ember/cluster/node.hpp"
#include "ember/cluster/root.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::cluster {

/// What a successful `player_ownership::acquire` returns.
struct acquired {};

namespace detail {
/// What `player_ownership::acquire` reports when the registry's call failed with `f`.
EMBER_DECL failure acquire_failure(std::string_view me, std::string_view registry,
                                   std::uint64_t user, failure f);
}  // namespace detail

/// How long a lost owner keeps its players (see the top of this file).
inline constexpr std::chrono::milliseconds default_lease{10'000};

/// The registry of owners, on a root. Every child of the root may acquire players.
class owner_registry {
 public:
  /// `expected`: the backends that may own players here (from config.json); after a restart
  /// the registry grants again as soon as each has reclaimed, or when the lease has passed.
  /// `release_timeout` bounds how long an owner may take to save and release a player (keep
  /// it below the deadline of the request that acquires, so that request gets the refusal).
  owner_registry(asio::any_io_executor ex, root& r, std::set<std::string> expected,
                 std::chrono::milliseconds lease = default_lease,
                 std::chrono::milliseconds release_timeout = std::chrono::milliseconds(2'000));
  owner_registry(const owner_registry&) = delete;
  owner_registry& operator=(const owner_registry&) = delete;

  /// The owner of `user`, or "" when none.
  std::string owner_of(std::uint64_t user) const;
  /// Players with an owner.
  std::size_t size() const noexcept { return state_->owners.size(); }

 private:
  struct entry {
    std::string owner;
    std::chrono::steady_clock::time_point orphaned{};  // set while its owner has no link
  };
  struct state : std::enable_shared_from_this<state> {
    state(asio::any_io_executor e, root& r, std::chrono::milliseconds l);
    asio::any_io_executor ex;
    root& root_;
    std::chrono::milliseconds lease;
    std::chrono::milliseconds release_timeout{2'000};
    keyed_queue queue;  // one acquisition of a player at a time
    std::unordered_map<std::uint64_t, entry> owners;
    std::chrono::steady_clock::time_point started;
    std::set<std::string> awaiting;  // backends that have not reclaimed since the start

    bool recovering(std::chrono::steady_clock::time_point now) const {
      return !awaiting.empty() && now - started < lease;
    }

    void listen(const root::link_ptr& l);
    void orphan(const std::string& name);
    void on_acquire(link& from, const wire::frame& f);
    // Grants `user` to the peer of `l`, once nobody else may hold it; throws to refuse.
    asio::awaitable<void> acquire(std::shared_ptr<link> l, std::uint64_t user, std::uint32_t seq);
    void on_reclaim(link& from, const wire::frame& f);
  };

  std::shared_ptr<state> state_;
};

/// A backend's side: the players it owns, acquired from the registry on one of its roots.
class player_ownership {
 public:
  /// Saves and drops a player: the registry asked (another backend acquires it) or the link
  /// to the registry has been down for half the lease.
  using release_fn = std::function<asio::awaitable<void>(std::uint64_t user)>;

  player_ownership(asio::any_io_executor ex, node_connector& registry,
                   std::chrono::milliseconds lease = default_lease);
  player_ownership(const player_ownership&) = delete;
  player_ownership& operator=(const player_ownership&) = delete;

  /// What to do when this backend must give a player up (save it, drop it).
  void on_release(release_fn f) { state_->on_release = std::move(f); }

  /// Runs `work` after what is queued for player `user` (the host passes the backend's
  /// `for_player`).
  using serialize_fn = std::function<asio::awaitable<void>(std::uint64_t user, asio::awaitable<void> work)>;
  /// Makes every release asked by the registry, and every `give_up`, wait for the player's
  /// requests running here: they finish on this owner before the player is saved and moves.
  void serialize_releases(serialize_fn f) { state_->serialize = std::move(f); }

  /// Becomes the owner of `user`: at once if it already is; otherwise once the registry has
  /// made any other owner save and release it. Waits for the registry's answer at most
  /// `timeout` (0: the link's default; pass `net::within_deadline` of the request that
  /// acquires). Failures name this server, the registry or the other owner, and why:
  /// `unavailable` when it was not granted — the registry is unreachable, refuses (the other
  /// owner did not save and release in time, its lease runs, the registry restarted) or the
  /// call was not sent; `outcome_unknown` when the registry got the request and did not
  /// answer (the deadline passed, the link dropped): it may have granted it. Either way this
  /// backend does not count it as owned, and acquiring again is safe.
  asio::awaitable<outcome<acquired>> acquire(std::uint64_t user,
                                             std::chrono::milliseconds timeout = {});

  /// Gives `user` up (after saving it): the registry may grant it to another backend.
  void release(std::uint64_t user);

  /// Saves and gives `user` up now (a drain): after its queued requests (see
  /// `serialize_releases`), the release callback runs, then the registry hears that the
  /// player is free. Nothing if this backend does not own it; throws what the callback threw
  /// (the player stays owned).
  asio::awaitable<void> give_up(std::uint64_t user);

  bool owns(std::uint64_t user) const { return state_->owned.contains(user); }
  std::size_t size() const noexcept { return state_->owned.size(); }
  /// The players owned now.
  std::vector<std::uint64_t> players() const {
    return std::vector<std::uint64_t>(state_->owned.begin(), state_->owned.end());
  }

 private:
  struct state : std::enable_shared_from_this<state> {
    state(asio::any_io_executor e, node_connector& r, std::chrono::milliseconds l);
    asio::any_io_executor ex;
    node_connector& registry;
    std::chrono::milliseconds lease;
    asio::steady_timer drop_timer;
    std::set<std::uint64_t> owned;
    // Acquisitions in flight, and those the registry asked us to release meanwhile: the
    // registry answers on the link the request came by and asks on its newest one, so after a
    // reconnect a grant can arrive after the release that superseded it (two owners, once).
    std::map<std::uint64_t, int> acquiring;
    std::set<std::uint64_t> revoked;
    release_fn on_release;
    serialize_fn serialize;

    // Saves and drops `user` if owned, after its queued work; tells the registry if `tell`.
    static asio::awaitable<void> let_go(std::shared_ptr<state> s, std::uint64_t user, bool tell);
    void connected(const node_connector::link_ptr& l);
    static asio::awaitable<void> reclaim(std::shared_ptr<state> s, node_connector::link_ptr l,
                                         buffer body);
    void disconnected();
    static asio::awaitable<void> drop_all(std::shared_ptr<state> s);
    void on_release_request(link& from, const wire::frame& f);
    static asio::awaitable<void> release_for(std::shared_ptr<state> s, std::shared_ptr<link> l,
                                             std::uint64_t user, std::uint32_t seq);
  };

  std::shared_ptr<state> state_;
};

}  // namespace ember::cluster

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/cluster/impl/ownership.hpp"
#endif
