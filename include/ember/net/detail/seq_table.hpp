// ember: calls waiting for replies, by sequence number. Sequence numbers are handed out in
// order, so `seq & mask` rarely collides: a slot array without per-call allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ember::net::detail {

/// Maps live sequence numbers to `T*` (T has a `std::uint32_t seq` member).
template <class T>
class seq_table {
 public:
  /// Adds `item` under `item->seq`; grows when that slot is taken.
  void insert(T* item) {
    if (slots_.empty()) slots_.resize(16, nullptr);
    while (slots_[item->seq & mask()]) grow();
    slots_[item->seq & mask()] = item;
    ++size_;
  }
  /// Removes and returns the item with `seq`, or null if there is none.
  T* take(std::uint32_t seq) noexcept {
    if (slots_.empty()) return nullptr;
    T*& slot = slots_[seq & mask()];
    if (!slot || slot->seq != seq) return nullptr;
    T* item = slot;
    slot = nullptr;
    --size_;
    return item;
  }
  /// True if an item with `seq` is in the table.
  bool contains(std::uint32_t seq) const noexcept {
    if (slots_.empty()) return false;
    const T* slot = slots_[seq & mask()];
    return slot && slot->seq == seq;
  }
  /// Removes and returns every item.
  std::vector<T*> take_all() {
    std::vector<T*> all;
    for (T*& slot : slots_) {
      if (slot) all.push_back(slot);
      slot = nullptr;
    }
    size_ = 0;
    return all;
  }
  std::size_t size() const noexcept { return size_; }

 private:
  std::size_t mask() const noexcept { return slots_.size() - 1; }
  // Doubles until every live item has a slot of its own. The table spans the live sequence
  // numbers: one call waiting out a long deadline while thousands pass makes it larger.
  void grow() {
    for (std::size_t n = slots_.size() * 2;; n *= 2) {
      std::vector<T*> bigger(n, nullptr);
      bool fits = true;
      for (T* item : slots_) {
        if (!item) continue;
        T*& slot = bigger[item->seq & (n - 1)];
        if (slot) {
          fits = false;
          break;
        }
        slot = item;
      }
      if (fits) {
        slots_.swap(bigger);
        return;
      }
    }
  }

  std::vector<T*> slots_;
  std::size_t size_ = 0;
};

}  // namespace ember::net::detail
