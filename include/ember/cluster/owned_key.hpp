// ember: keys of the owner registry for what is not a player. A leaderboard's board and a
// matchmaking pool need one writer in the cluster, as a player does; rather than a second
// registry, they are owned under a key of the same registry (ownership.hpp), so they move,
// are released, leased and reclaimed exactly as players are.
//
//   const auto key = cluster::owned_key("leaderboard", "weekly");
//   if (co_await host.ownership()->acquire(key)) ...            // now this process's board
//
// A player's key is its user id, a positive int64 (accounts' ids); an owned key has the top
// bit set, so the two never meet. The gateway routes a request that names the thing to the
// instance rendezvous hashing picks for the same key (gateway::route_by_key), which is the one
// that acquires it.
#pragma once

#include <cstdint>
#include <string_view>

#include "ember/cluster/rendezvous.hpp"

namespace ember::cluster {

/// The bit that sets owned keys apart from user ids.
inline constexpr std::uint64_t owned_key_bit = 1ULL << 63;

/// The registry key of `id` of `kind` (e.g. "leaderboard", "weekly"): the same on every
/// process, with `owned_key_bit` set.
constexpr std::uint64_t owned_key(std::string_view kind, std::string_view id) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a of kind, a 0 byte, id
  auto feed = [&h](unsigned char c) {
    h ^= c;
    h *= 0x100000001b3ULL;
  };
  for (char c : kind) feed(static_cast<unsigned char>(c));
  feed(0);
  for (char c : id) feed(static_cast<unsigned char>(c));
  return mix64(h) | owned_key_bit;
}

/// True for a key made by `owned_key` (not a player).
constexpr bool is_owned_key(std::uint64_t key) noexcept { return (key & owned_key_bit) != 0; }

}  // namespace ember::cluster
