// ember-master's rules, apart from the processes they act on: in which order servers start
// and stop, when a crashed server is restarted and when the master gives up on it, and how a
// child's output is cut into lines. (supervisor.hpp applies them to real processes.)
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "ember/app/config.hpp"

namespace ember::master {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// Restarts, giving up, and stopping.
struct policy {
  milliseconds first_delay{100};    ///< before restarting after a first crash; doubles per crash
  milliseconds max_delay{5'000};    ///< ... up to this
  int max_crashes = 5;              ///< crashes within `window` after which the master gives up
  milliseconds window{30'000};
  milliseconds stop_timeout{10'000};  ///< SIGTERM, then SIGKILL after this long
  /// After a child is reaped, how long its output pipe may stay open (held by a process it
  /// started) before the master closes it.
  milliseconds linger{500};
};

/// The recent crashes of one server, and what to do after the latest.
class crash_record {
 public:
  /// Records a crash at `now`: the delay before restarting, or nullopt to give up (the
  /// `max_crashes`th crash within `window`). The delay doubles with each crash in the window.
  std::optional<milliseconds> crashed(clock::time_point now, const policy& p) {
    times_.push_back(now);
    while (now - times_.front() >= p.window) times_.pop_front();
    if (static_cast<int>(times_.size()) >= p.max_crashes) return std::nullopt;
    auto delay = p.first_delay;
    for (std::size_t i = 1; i < times_.size() && delay < p.max_delay; ++i) delay *= 2;
    return std::min(delay, p.max_delay);
  }
  /// Crashes counted in the window at the last `crashed`.
  std::size_t recent() const noexcept { return times_.size(); }

 private:
  std::deque<clock::time_point> times_;
};

/// A process's place in the stop order: client-facing servers stop first, then backends (they
/// write back their dirty rows), then roots, then the services the master runs for them
/// (a memcached).
enum class role { client_facing = 0, backend = 1, root = 2, service = 3 };

/// client-facing: has a netport. root: has a rootport and joins nothing. backend: the rest
/// (joins a root and takes no clients).
inline role role_of(const app::server_config& s) {
  if (s.netport) return role::client_facing;
  if (s.rootport && s.remoteport.empty()) return role::root;
  return role::backend;
}

inline std::string_view describe(role r) {
  switch (r) {
    case role::client_facing: return "client-facing";
    case role::backend: return "backends";
    case role::root: return "roots";
    case role::service: return "services";
  }
  return "";
}

/// The servers to run — all of them, or those named in `only` — in start order: a server
/// after the roots it joins (so roots first), ties in file order. The config is validated,
/// so roots do not join each other in a cycle.
inline std::vector<const app::server_config*> start_order(const app::cluster_config& c,
                                                          const std::vector<std::string>& only) {
  std::map<std::string, int, std::less<>> depth;
  std::function<int(const app::server_config&)> depth_of = [&](const app::server_config& s) {
    if (auto it = depth.find(s.name); it != depth.end()) return it->second;
    int d = 0;
    for (const auto& r : s.remoteport)
      if (const auto* root = c.find(r.rootname)) d = std::max(d, depth_of(*root) + 1);
    return depth[s.name] = d;
  };
  struct entry {
    int depth, not_root;
    std::size_t index;
    const app::server_config* server;
  };
  std::vector<entry> chosen;
  for (std::size_t i = 0; i < c.servers.size(); ++i) {
    const auto& s = c.servers[i];
    if (!only.empty() && std::find(only.begin(), only.end(), s.name) == only.end()) continue;
    chosen.push_back({depth_of(s), role_of(s) == role::root ? 0 : 1, i, &s});
  }
  std::sort(chosen.begin(), chosen.end(), [](const entry& a, const entry& b) {
    return std::tie(a.depth, a.not_root, a.index) < std::tie(b.depth, b.not_root, b.index);
  });
  std::vector<const app::server_config*> out;
  for (const auto& e : chosen) out.push_back(e.server);
  return out;
}

/// Cuts a child's output into lines as it arrives: each complete line once its newline has
/// come, a line longer than `max` in pieces of `max` bytes (`continued` is true for every
/// piece after the first), and at the end whatever came after the last newline.
class line_splitter {
 public:
  explicit line_splitter(std::size_t max) : max_(max) {}

  /// `line(std::string_view text, bool continued)` for each line or piece `bytes` completes.
  template <class F>
  void feed(std::string_view bytes, F&& line) {
    while (!bytes.empty()) {
      if (bytes.front() == '\n') {
        bytes.remove_prefix(1);
        emit(line, false);
      } else if (partial_.size() == max_) {
        emit(line, true);  // more of this line is coming
      } else {
        const auto take = std::min({bytes.find('\n'), bytes.size(), max_ - partial_.size()});
        partial_.append(bytes.substr(0, take));
        bytes.remove_prefix(take);
      }
    }
  }
  /// The text after the last newline, if any (the child has closed its output).
  template <class F>
  void finish(F&& line) {
    if (!partial_.empty()) emit(line, false);
  }

 private:
  template <class F>
  void emit(F& line, bool more) {
    line(std::string_view(partial_), continuing_);
    partial_.clear();
    continuing_ = more;
  }

  std::size_t max_;
  std::string partial_;
  bool continuing_ = false;  ///< the next line continues one that was cut
};

}  // namespace ember::master
