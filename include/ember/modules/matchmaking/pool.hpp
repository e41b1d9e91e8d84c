// ember's matchmaking pool: the tickets of one mode waiting in its owner's memory, and the rule
// that groups them into matches. Pure (no I/O, no clock of its own): the service
// (matchmaking.hpp) stores tickets and commits matches; this file decides who plays with whom.
//
//   mode m{.id = "duel", .min = 2, .max = 2, .exact = {"region"},
//          .ranges = {{"rating", 100, 50, 1000}}};
//   pool p(m);
//   p.add(ticket);                       // properties checked by the service first
//   for (auto& group : p.match(now_ms))  // tickets taken out of the pool, oldest anchor first
//     commit(group);
//
// The rule. Tickets with different values of an `exact` property never meet. A `range`
// property bounds the spread of a match: for each range, the highest value minus the lowest is
// at most the window of EVERY member (mutual, like Nakama's reverse-query check), a window that
// starts at `initial` and widens by `widen_per_s` each second the ticket waits, up to `max`.
// The oldest ticket is the anchor: it gathers the closest compatible tickets (by its first
// range) until the match holds `max` players, and takes the longest run of them whose size is
// in min..max and a multiple of `multiple`; until the anchor has waited `fill_wait_ms`, only a
// full match (`max`) is made. A party is one ticket of several players: it stays whole.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ember/modules/matchmaking/detail/ember_matchmaking.hpp"

namespace ember::modules::matchmaking {

/// A numeric property whose spread in a match is bounded by a window that widens with waiting.
struct range {
  std::string name;
  double initial = 0;      ///< the window of a ticket that just arrived
  double widen_per_s = 0;  ///< added to the window for each second waited
  double max = 0;          ///< the widest window

  /// The window of a ticket that has waited `waited_ms`.
  double window(std::int64_t waited_ms) const noexcept {
    const double w = initial + widen_per_s * static_cast<double>(std::max<std::int64_t>(0, waited_ms)) / 1000.0;
    return std::min(w, max);
  }
};

/// A matchmaking mode: one pool, its match sizes, its properties and its timeout.
struct mode {
  std::string id;
  std::uint32_t min = 2;       ///< fewest players of a match
  std::uint32_t max = 2;       ///< most players of a match (a party larger is refused)
  std::uint32_t multiple = 1;  ///< a match's size is a multiple of this (2: even teams)
  std::vector<std::string> exact;  ///< string properties every ticket has; equal within a match
  std::vector<range> ranges;       ///< numeric properties every ticket has; spread bounded
  std::int64_t timeout_ms = 60'000;  ///< a ticket waiting longer leaves (`expired`)
  std::int64_t fill_wait_ms = 0;     ///< until the anchor waited this long, only full matches
};

/// The tickets of one mode in memory, and the matching rule (see the top of this file).
class pool {
 public:
  explicit pool(mode m, std::size_t scan_limit = 256) : mode_(std::move(m)), scan_limit_(scan_limit) {}
  // Entries point into `buckets_`: a move keeps the nodes, a copy would not.
  pool(const pool&) = delete;
  pool& operator=(const pool&) = delete;
  pool(pool&&) = default;
  pool& operator=(pool&&) = default;

  const mode& definition() const noexcept { return mode_; }
  std::size_t size() const noexcept { return entries_.size(); }
  bool contains(const std::string& id) const { return ids_.contains(id); }
  const ember_matchmaking::ticket* find(const std::string& id) const {
    auto it = ids_.find(id);
    return it == ids_.end() ? nullptr : &entries_.at(it->second).t;
  }

  /// Adds `t` (its properties are the mode's, checked before); false if its id is in already.
  bool add(ember_matchmaking::ticket t) {
    if (ids_.contains(t.id)) return false;
    const auto seq = ++next_;
    entry e;
    e.values = values_of(t);
    e.count = static_cast<std::uint32_t>(t.members.size());
    e.bucket = buckets_.try_emplace(bucket_of(t)).first;
    e.t = std::move(t);
    ids_.emplace(e.t.id, seq);
    auto& in = entries_.emplace(seq, std::move(e)).first->second;
    by_age_.emplace(in.t.created_ms, seq);
    in.bucket->second.insert(place_of(in, seq));
    return true;
  }

  /// Takes ticket `id` out; nullopt if it is not here.
  std::optional<ember_matchmaking::ticket> remove(const std::string& id) {
    auto it = ids_.find(id);
    if (it == ids_.end()) return std::nullopt;
    const auto seq = it->second;
    ids_.erase(it);
    return take(seq);
  }

  /// Takes out the tickets that have waited `timeout_ms` or more at `now_ms`, oldest first.
  std::vector<ember_matchmaking::ticket> expire(std::int64_t now_ms) {
    std::vector<ember_matchmaking::ticket> out;
    while (!by_age_.empty() && now_ms - by_age_.begin()->first >= mode_.timeout_ms) {
      const auto seq = by_age_.begin()->second;
      ids_.erase(entries_.at(seq).t.id);
      out.push_back(take(seq));
    }
    return out;
  }

  /// Groups what can be matched at `now_ms`, each group taken out of the pool (its tickets in
  /// the order they joined it: the anchor first). Every ticket is in at most one group.
  std::vector<std::vector<ember_matchmaking::ticket>> match(std::int64_t now_ms) {
    std::vector<std::vector<ember_matchmaking::ticket>> out;
    std::vector<std::uint64_t> anchors;
    anchors.reserve(by_age_.size());
    for (const auto& [created, seq] : by_age_) anchors.push_back(seq);
    std::vector<std::uint64_t> group;
    for (const auto seq : anchors) {
      auto it = entries_.find(seq);
      if (it == entries_.end()) continue;  // taken by an earlier anchor
      gather(seq, it->second, now_ms, group);
      if (group.empty()) continue;
      auto& taken = out.emplace_back();
      taken.reserve(group.size());
      for (const auto g : group) {
        ids_.erase(entries_.at(g).t.id);
        taken.push_back(take(g));
      }
    }
    return out;
  }

 private:
  // Within a bucket, tickets by their first range's value, then age, then arrival.
  using place = std::tuple<double, std::int64_t, std::uint64_t>;
  struct entry {
    ember_matchmaking::ticket t;
    std::map<std::string, std::set<place>>::iterator bucket;  // the tickets with the same exact properties
    std::vector<double> values;         // the ranges' values, in the mode's order
    std::uint32_t count = 0;            // players
  };

  std::string bucket_of(const ember_matchmaking::ticket& t) const {
    std::string out;
    for (const auto& name : mode_.exact) {
      for (const auto& p : t.strings)
        if (p.name == name) {
          out += std::to_string(p.value.size());  // length-prefixed: values may hold any separator
          out += ':';
          out += p.value;
        }
      out += ';';
    }
    return out;
  }
  std::vector<double> values_of(const ember_matchmaking::ticket& t) const {
    std::vector<double> out(mode_.ranges.size(), 0.0);
    for (std::size_t k = 0; k < mode_.ranges.size(); ++k)
      for (const auto& p : t.numbers)
        if (p.name == mode_.ranges[k].name) out[k] = p.value;
    return out;
  }
  static place place_of(const entry& e, std::uint64_t seq) {
    return {e.values.empty() ? 0.0 : e.values[0], e.t.created_ms, seq};
  }
  // Takes entry `seq` out of every index but `ids_`.
  ember_matchmaking::ticket take(std::uint64_t seq) {
    auto it = entries_.find(seq);
    by_age_.erase({it->second.t.created_ms, seq});
    const auto bucket = it->second.bucket;
    bucket->second.erase(place_of(it->second, seq));
    if (bucket->second.empty()) buckets_.erase(bucket);  // (clients choose the values: no leftovers)
    auto t = std::move(it->second.t);
    entries_.erase(it);
    return t;
  }

  // The group `anchor` makes at `now` (into `out`: empty for none).
  void gather(std::uint64_t anchor_seq, const entry& anchor, std::int64_t now, std::vector<std::uint64_t>& out) const {
    out.clear();
    const auto& set = anchor.bucket->second;
    const auto at = set.find(place_of(anchor, anchor_seq));
    const std::size_t n = mode_.ranges.size();
    std::vector<double> lo = anchor.values, hi = anchor.values, widest(n);
    for (std::size_t k = 0; k < n; ++k) widest[k] = mode_.ranges[k].window(now - anchor.t.created_ms);
    std::vector<const entry*> chosen{&anchor};
    std::vector<std::uint64_t> seqs{anchor_seq};
    std::uint32_t players = anchor.count;
    const auto fits = [&](const entry& c) {
      if (players + c.count > mode_.max) return false;
      for (std::size_t k = 0; k < n; ++k) {
        const double w = std::min(widest[k], mode_.ranges[k].window(now - c.t.created_ms));
        if (std::max(hi[k], c.values[k]) - std::min(lo[k], c.values[k]) > w) return false;
      }
      return true;
    };
    const auto take_in = [&](const entry& c, std::uint64_t seq) {
      for (std::size_t k = 0; k < n; ++k) {
        lo[k] = std::min(lo[k], c.values[k]);
        hi[k] = std::max(hi[k], c.values[k]);
        widest[k] = std::min(widest[k], mode_.ranges[k].window(now - c.t.created_ms));
      }
      players += c.count;
      chosen.push_back(&c);
      seqs.push_back(seq);
    };
    // Outwards from the anchor, the closer side first; the scan ends past the anchor's window
    // (no ticket there can be within it), or after `scan_limit_` candidates.
    const double reach = n == 0 ? 0.0 : mode_.ranges[0].window(now - anchor.t.created_ms);
    const double centre = n == 0 ? 0.0 : anchor.values[0];
    auto left = at, right = std::next(at);
    bool left_open = left != set.begin(), right_open = right != set.end();
    std::size_t scanned = 0;
    while (players < mode_.max && (left_open || right_open) && scanned < scan_limit_) {
      const double dl = left_open ? centre - std::get<0>(*std::prev(left)) : INFINITY;
      const double dr = right_open ? std::get<0>(*right) - centre : INFINITY;
      const bool go_left = dl <= dr;
      if (n > 0 && (go_left ? dl : dr) > reach) break;  // both sides are past the window
      const auto seq = go_left ? std::get<2>(*std::prev(left)) : std::get<2>(*right);
      if (go_left) {
        --left;
        left_open = left != set.begin();
      } else {
        ++right;
        right_open = right != set.end();
      }
      ++scanned;
      const auto& c = entries_.at(seq);
      if (fits(c)) take_in(c, seq);
    }
    // The longest run from the anchor whose size is a match's.
    const bool full_only = now - anchor.t.created_ms < mode_.fill_wait_ms;
    std::uint32_t sum = 0;
    std::size_t best = 0;
    for (std::size_t i = 0; i < chosen.size(); ++i) {
      sum += chosen[i]->count;
      const bool size_ok = full_only ? sum == mode_.max : sum >= mode_.min && sum <= mode_.max;
      if (size_ok && sum % mode_.multiple == 0) best = i + 1;
    }
    out.assign(seqs.begin(), seqs.begin() + static_cast<std::ptrdiff_t>(best));
  }

  mode mode_;
  std::size_t scan_limit_;
  std::uint64_t next_ = 0;                                  // arrival numbers
  std::unordered_map<std::string, std::uint64_t> ids_;     // ticket id -> arrival
  std::unordered_map<std::uint64_t, entry> entries_;       // by arrival
  std::set<std::pair<std::int64_t, std::uint64_t>> by_age_;
  std::map<std::string, std::set<place>> buckets_;  // by exact values (std::map: stable iterators)
};

}  // namespace ember::modules::matchmaking
