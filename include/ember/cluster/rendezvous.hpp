// ember: which instance of a server type serves a key (a user id, a session id): rendezvous
// (highest-random-weight) hashing. Each instance scores every key; the highest score wins.
// When an instance joins, it takes only the keys it now scores highest on; when one leaves,
// only its keys move, each to its runner-up. No other key changes owner, and every server
// that sees the same instances picks the same owner, without talking to anyone.
#pragma once

#include <cstdint>
#include <string_view>

namespace ember::cluster {

/// A 64-bit mix (splitmix64's finaliser): spreads nearby keys over the whole range.
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

/// A stable hash of an instance's name (FNV-1a, mixed): the same on every process.
constexpr std::uint64_t name_hash(std::string_view name) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : name) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return mix64(h);
}

/// The score of instance `instance_hash` (from `name_hash`) for `key`.
constexpr std::uint64_t rendezvous_score(std::uint64_t key, std::uint64_t instance_hash) noexcept {
  return mix64(mix64(key) ^ instance_hash);
}

/// The index of the instance that owns `key` among `instances` (`hash_of(instance)` gives
/// its `name_hash`), or `instances.size()` when there is none.
template <class Range, class HashOf>
std::size_t rendezvous_pick(std::uint64_t key, const Range& instances, HashOf hash_of) {
  std::size_t best = 0, i = 0;
  std::uint64_t best_score = 0;
  bool any = false;
  for (const auto& inst : instances) {
    const auto score = rendezvous_score(key, hash_of(inst));
    // A tie (astronomically rare) goes to the first: callers list instances by name.
    if (!any || score > best_score) {
      best = i;
      best_score = score;
      any = true;
    }
    ++i;
  }
  return any ? best : i;
}

}  // namespace ember::cluster
