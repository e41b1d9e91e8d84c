// ember: carries the gameplay modules' events (ember/modules/events.hpp) between the servers of
// a cluster. An event published here goes to every link this server has (its root's children
// and the roots it joined) as notify `module_event` (PROTOCOL.md §10); a server that receives
// one hands it to its own subscribers and sends it on to its other links. Each server passes
// an event on once, known by (origin, seq), so it floods the whole linked cluster once,
// whatever its shape. The origin carries the server's start time, so a restarted server's
// numbers start afresh.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ember/buffer.hpp"
#include "ember/cluster/detail/cluster_wire.hpp"
#include "ember/cluster/link.hpp"
#include "ember/cluster/route_wire.hpp"
#include "ember/log.hpp"
#include "ember/modules/events.hpp"

namespace ember::app::detail {

class event_relay {
 public:
  event_relay(std::string self, modules::event_bus& bus)
      : origin_(self + "@" + std::to_string(std::chrono::system_clock::now().time_since_epoch().count())),
        bus_(bus) {
    bus_.set_relay([this](std::string_view type, std::string_view bytes) {
      cluster::detail::msg::module_event e;
      e.origin = origin_;
      e.seq = ++seq_;
      e.type = std::string(type);
      e.body.assign(reinterpret_cast<const std::byte*>(bytes.data()),
                    reinterpret_cast<const std::byte*>(bytes.data()) + bytes.size());
      send(e, 0);
    });
  }
  ~event_relay() { bus_.set_relay(nullptr); }
  event_relay(const event_relay&) = delete;
  event_relay& operator=(const event_relay&) = delete;

  /// Events travel over `l` both ways from now on, until it closes.
  void attach(const std::shared_ptr<cluster::link>& l) {
    std::erase_if(links_, [](const std::weak_ptr<cluster::link>& w) { return w.expired(); });
    links_.push_back(l);
    const std::uint64_t from = l->id();
    l->on_notify(static_cast<std::uint16_t>(cluster::route::notify_id::module_event),
                 [this, from](bytes_view body, codec::encoding enc) { received(from, body, enc); });
  }

 private:
  // Events of one origin seen lately: those at or below `floor`, and those in `above`.
  struct seen {
    std::uint64_t floor = 0;
    std::set<std::uint64_t> above;
  };
  static constexpr std::size_t window = 4096;

  void received(std::uint64_t from, bytes_view body, codec::encoding enc) {
    cluster::detail::msg::module_event e;
    if (auto ec = codec::decode(body, enc, e)) {
      log::warn("a module event from link {} does not decode ({}); dropped", from, ec.message());
      return;
    }
    if (e.origin == origin_ || !first_time(e.origin, e.seq)) return;
    const std::string_view bytes(reinterpret_cast<const char*>(e.body.data()), e.body.size());
    bus_.deliver(e.type, bytes);
    send(e, from);
  }

  bool first_time(const std::string& origin, std::uint64_t seq) {
    auto& s = seen_[origin];
    if (seq <= s.floor || !s.above.insert(seq).second) return false;
    while (!s.above.empty() && *s.above.begin() == s.floor + 1) s.above.erase(s.floor = *s.above.begin());
    while (s.above.size() > window) s.above.erase(s.floor = *s.above.begin());
    return true;
  }

  void send(const cluster::detail::msg::module_event& e, std::uint64_t except) {
    std::erase_if(links_, [](const std::weak_ptr<cluster::link>& w) { return w.expired(); });
    for (const auto& w : links_) {
      auto l = w.lock();
      if (l && l->is_open() && l->id() != except)
        (void)l->notify(static_cast<std::uint16_t>(cluster::route::notify_id::module_event),
                        net::body_writer(e));
    }
  }

  std::string origin_;
  std::uint64_t seq_ = 0;
  modules::event_bus& bus_;
  std::vector<std::weak_ptr<cluster::link>> links_;
  std::map<std::string, seen, std::less<>> seen_;
};

}  // namespace ember::app::detail
