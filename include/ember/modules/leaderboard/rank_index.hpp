// ember: the ranks of one leaderboard in memory — every record in order, a record's rank, a page
// from any rank — each in O(log n). The database is the truth; the process that owns a board
// builds this from it and keeps it in step with each write it makes.
//
// Records sit in blocks of sorted keys (a few hundred each, so inserting moves little memory),
// and a Fenwick tree over the blocks' sizes turns "which block" into "how many records before
// it". A record's place: score, then subscore, in the board's order; then who reached it first
// (time); then the owner's id, so that equal records still have one stable order.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

namespace ember::modules::leaderboard {

/// The order of a board: descending (highest first) is the usual one.
enum class sort_order : std::uint8_t { descending, ascending };

/// One record's place on a board.
struct rank_key {
  std::int64_t score = 0;
  std::int64_t subscore = 0;
  std::uint64_t time = 0;   ///< when the record reached its score (earlier ranks first)
  std::uint64_t owner = 0;  ///< who holds the record
  friend bool operator==(const rank_key&, const rank_key&) = default;
};

/// A record with its rank (1 is the top).
struct ranked {
  std::uint64_t rank = 0;
  rank_key key;
};

/// Every record of one board in rank order. One thread; no locks.
class rank_index {
 public:
  explicit rank_index(sort_order order = sort_order::descending, std::size_t block_size = 256)
      : order_(order), block_size_(std::max<std::size_t>(block_size, 4)) {}

  sort_order order() const noexcept { return order_; }
  std::size_t size() const noexcept { return where_.size(); }

  /// True if `a` ranks above `b` on this board.
  bool before(const rank_key& a, const rank_key& b) const noexcept {
    if (a.score != b.score) return (order_ == sort_order::descending) == (a.score > b.score);
    if (a.subscore != b.subscore) return (order_ == sort_order::descending) == (a.subscore > b.subscore);
    if (a.time != b.time) return a.time < b.time;
    return a.owner < b.owner;
  }

  /// Puts `key.owner`'s record at `key`, replacing the one it had.
  void set(const rank_key& key) {
    if (auto it = where_.find(key.owner); it != where_.end()) {
      if (it->second == key) return;
      remove(it->second);
      it->second = key;
    } else {
      where_.emplace(key.owner, key);
    }
    insert(key);
  }

  /// Removes `owner`'s record; false if it had none.
  bool erase(std::uint64_t owner) {
    auto it = where_.find(owner);
    if (it == where_.end()) return false;
    remove(it->second);
    where_.erase(it);
    return true;
  }

  /// Replaces every record with `keys` (one per owner) at once: a sort and a split into
  /// blocks, much faster than `set` one by one (a board rebuilt from the database).
  void assign(std::vector<rank_key> keys) {
    clear();
    std::sort(keys.begin(), keys.end(), [&](const rank_key& a, const rank_key& b) { return before(a, b); });
    where_.reserve(keys.size());
    for (const auto& k : keys) where_.emplace(k.owner, k);
    for (std::size_t i = 0; i < keys.size(); i += block_size_) {
      const auto end = std::min(keys.size(), i + block_size_);
      blocks_.emplace_back(keys.begin() + static_cast<std::ptrdiff_t>(i), keys.begin() + static_cast<std::ptrdiff_t>(end));
    }
    rebuild_tree();
  }

  /// Removes every record (a board's new period).
  void clear() {
    blocks_.clear();
    tree_.clear();
    where_.clear();
  }

  /// `owner`'s record, if it has one.
  std::optional<rank_key> find(std::uint64_t owner) const {
    auto it = where_.find(owner);
    if (it == where_.end()) return std::nullopt;
    return it->second;
  }

  /// `owner`'s rank (1 is the top), or 0 if it has no record.
  std::uint64_t rank(std::uint64_t owner) const {
    auto it = where_.find(owner);
    return it == where_.end() ? 0 : rank_of(it->second);
  }

  /// Up to `n` records from rank `first` (1-based) down.
  std::vector<ranked> page(std::uint64_t first, std::size_t n) const {
    std::vector<ranked> out;
    if (first == 0 || first > size()) return out;
    auto [b, i] = locate(first - 1);
    collect(b, i, first, n, out);
    return out;
  }

  /// Up to `n` records ranked below `after` — the last key of the previous page. Unlike paging
  /// by rank number, this neither repeats nor skips a record when others move between pages.
  std::vector<ranked> page_after(const rank_key& after, std::size_t n) const {
    std::vector<ranked> out;
    auto [b, i] = bound(after, /*strictly_after=*/true);
    if (b == blocks_.size()) return out;
    collect(b, i, records_before(b) + i + 1, n, out);
    return out;
  }

  /// Up to `n` records centred on `owner`'s (fewer above it near the top, more below), or none
  /// if it has no record.
  std::vector<ranked> around(std::uint64_t owner, std::size_t n) const {
    const auto r = rank(owner);
    if (r == 0 || n == 0) return {};
    std::uint64_t first = r > n / 2 ? r - n / 2 : 1;
    if (first + n - 1 > size()) first = size() >= n ? size() - n + 1 : 1;
    return page(first, n);
  }

 private:
  using block = std::vector<rank_key>;

  // The first position whose key is not before `k` (or, strictly after, not before-or-equal).
  std::pair<std::size_t, std::size_t> bound(const rank_key& k, bool strictly_after) const {
    auto past = [&](const rank_key& x) { return strictly_after ? !before(k, x) : before(x, k); };
    // The first block whose last key is not past k holds the position.
    auto b = std::partition_point(blocks_.begin(), blocks_.end(),
                                  [&](const block& blk) { return past(blk.back()); });
    if (b == blocks_.end()) return {blocks_.size(), 0};
    auto i = std::partition_point(b->begin(), b->end(), past);
    return {static_cast<std::size_t>(b - blocks_.begin()), static_cast<std::size_t>(i - b->begin())};
  }

  std::uint64_t rank_of(const rank_key& k) const {
    auto [b, i] = bound(k, false);
    return records_before(b) + i + 1;
  }

  void insert(const rank_key& k) {
    if (blocks_.empty()) {
      blocks_.push_back(block{k});
      rebuild_tree();
      return;
    }
    auto [b, i] = bound(k, false);
    if (b == blocks_.size()) b = blocks_.size() - 1, i = blocks_[b].size();  // the new last
    block& blk = blocks_[b];
    blk.insert(blk.begin() + static_cast<std::ptrdiff_t>(i), k);
    if (blk.size() > 2 * block_size_) {
      block upper(blk.begin() + static_cast<std::ptrdiff_t>(block_size_), blk.end());
      blk.resize(block_size_);
      blocks_.insert(blocks_.begin() + static_cast<std::ptrdiff_t>(b) + 1, std::move(upper));
      rebuild_tree();
    } else {
      add(b, +1);
    }
  }

  void remove(const rank_key& k) {
    auto [b, i] = bound(k, false);
    block& blk = blocks_[b];
    blk.erase(blk.begin() + static_cast<std::ptrdiff_t>(i));
    if (blk.empty()) {
      blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(b));
      rebuild_tree();
    } else {
      add(b, -1);
    }
  }

  // The block and offset of the record at 0-based position `pos` (< size()).
  std::pair<std::size_t, std::size_t> locate(std::uint64_t pos) const {
    std::size_t b = 0;
    for (std::size_t step = std::bit_floor(tree_.size()); step; step /= 2) {
      if (b + step <= tree_.size() && tree_[b + step - 1] <= pos) {
        b += step;
        pos -= tree_[b - 1];
      }
    }
    return {b, static_cast<std::size_t>(pos)};
  }

  void collect(std::size_t b, std::size_t i, std::uint64_t rank, std::size_t n,
               std::vector<ranked>& out) const {
    out.reserve(std::min<std::size_t>(n, size()));
    for (; b < blocks_.size() && out.size() < n; ++b, i = 0)
      for (; i < blocks_[b].size() && out.size() < n; ++i) out.push_back({rank++, blocks_[b][i]});
  }

  // Fenwick tree over the blocks' sizes (1-based inside, as usual).
  std::uint64_t records_before(std::size_t b) const {
    std::uint64_t sum = 0;
    for (; b > 0; b &= b - 1) sum += tree_[b - 1];
    return sum;
  }
  void add(std::size_t b, std::int64_t delta) {
    for (++b; b <= tree_.size(); b += b & (~b + 1)) tree_[b - 1] += static_cast<std::uint64_t>(delta);
  }
  void rebuild_tree() {
    tree_.assign(blocks_.size(), 0);
    for (std::size_t b = 0; b < blocks_.size(); ++b) {
      tree_[b] += blocks_[b].size();
      const std::size_t parent = (b + 1) + ((b + 1) & (~(b + 1) + 1));
      if (parent <= tree_.size()) tree_[parent - 1] += tree_[b];
    }
  }

  sort_order order_;
  std::size_t block_size_;
  std::vector<block> blocks_;
  std::vector<std::uint64_t> tree_;
  std::unordered_map<std::uint64_t, rank_key> where_;
};

}  // namespace ember::modules::leaderboard
