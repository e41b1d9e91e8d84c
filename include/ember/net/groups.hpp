// ember: named groups of sessions with O(1) join and leave and contiguous members, so a
// broadcast to 10,000 sessions is one pass over an array.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ember::net {

class group_member;

/// One named group; members are kept in an array (swap-remove on leave).
struct group {
  std::string name;
  std::vector<group_member*> members;
};

/// Base of anything that can be in groups: remembers where it sits in each group.
class group_member {
 public:
  std::size_t group_count() const noexcept { return memberships_.size(); }
  /// Calls `f(name)` for each group this member is in.
  template <class F>
  void for_each_group(F&& f) const;

 private:
  friend class group_registry;
  struct membership {
    group* g;
    std::size_t index;  ///< position in g->members
  };
  std::vector<membership> memberships_;
};

/// Group name -> members.
class group_registry {
 public:
  /// Adds `m` to `name` (creating the group); true if it was not a member yet.
  bool join(std::string_view name, group_member& m) {
    auto it = groups_.find(name);
    if (it == groups_.end())
      it = groups_.emplace(std::string(name), std::make_unique<group>(group{std::string(name), {}}))
               .first;
    group* g = it->second.get();
    for (auto& ms : m.memberships_)
      if (ms.g == g) return false;
    m.memberships_.push_back({g, g->members.size()});
    g->members.push_back(&m);
    return true;
  }

  /// Removes `m` from `name`; true if it was a member. An emptied group is freed.
  bool leave(std::string_view name, group_member& m) {
    auto it = groups_.find(name);
    if (it == groups_.end()) return false;
    for (std::size_t i = 0; i < m.memberships_.size(); ++i) {
      if (m.memberships_[i].g != it->second.get()) continue;
      remove_at(m, i);
      if (it->second->members.empty()) groups_.erase(it);
      return true;
    }
    return false;
  }

  /// Removes `m` from every group it is in.
  void leave_all(group_member& m) {
    while (!m.memberships_.empty()) {
      group* g = m.memberships_.back().g;
      remove_at(m, m.memberships_.size() - 1);
      if (g->members.empty()) groups_.erase(g->name);
    }
  }

  bool contains(std::string_view name, const group_member& m) const {
    auto it = groups_.find(name);
    if (it == groups_.end()) return false;
    for (auto& ms : m.memberships_)
      if (ms.g == it->second.get()) return true;
    return false;
  }

  /// The members of `name` (empty if there is no such group). Invalidated by join/leave.
  std::span<group_member* const> members(std::string_view name) const {
    auto it = groups_.find(name);
    if (it == groups_.end()) return {};
    return it->second->members;
  }

  std::size_t group_count() const noexcept { return groups_.size(); }

  /// Calls f(name, member_count) for each group.
  template <class F>
  void for_each(F&& f) const {
    for (auto& [name, g] : groups_) f(std::string_view(name), g->members.size());
  }

 private:
  // Swap-remove the i-th membership of m, keeping the moved member's index right.
  static void remove_at(group_member& m, std::size_t i) {
    auto [g, index] = m.memberships_[i];
    group_member* last = g->members.back();
    g->members[index] = last;
    g->members.pop_back();
    if (last != &m) {
      for (auto& ms : last->memberships_)
        if (ms.g == g) ms.index = index;
    }
    m.memberships_[i] = m.memberships_.back();
    m.memberships_.pop_back();
  }

  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  std::unordered_map<std::string, std::unique_ptr<group>, string_hash, std::equal_to<>> groups_;
};

template <class F>
void group_member::for_each_group(F&& f) const {
  for (const auto& m : memberships_) f(std::string_view(m.g->name));
}

}  // namespace ember::net
