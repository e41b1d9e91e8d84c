// ember: typed events between gameplay modules and the game (`friend_added`, `item_granted`,
// `mail_claimed`, ...). A module publishes a struct of its schema; whoever subscribed to that
// type hears it, in publish order:
//
//   ember::modules::event_bus bus;
//   auto sub = bus.subscribe<ember_friends::friend_added>(
//       [](const ember_friends::friend_added& e) { ... });   // until `sub` is destroyed
//   bus.publish(ember_friends::friend_added{...});
//
// Subscribers run synchronously inside `publish`, on the publisher's (the io) thread, so they
// must not block; one that needs I/O starts a coroutine (`ember::spawn`). A subscriber that
// throws is logged and the others still hear the event. Events that must reach subscribers in
// other processes are relayed by the host (`event_bus::set_relay`): the relay gets each event
// as its type name and binary encoding, and `deliver` hands an event relayed from elsewhere to
// the local subscribers.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ember/app/detail/type_name.hpp"
#include "ember/buffer.hpp"
#include "ember/codec/codec.hpp"
#include "ember/log.hpp"

namespace ember::modules {

class event_bus;

/// Keeps a subscription alive; destroying it (or calling `reset`) unsubscribes.
class subscription {
 public:
  subscription() = default;
  subscription(subscription&&) noexcept = default;
  subscription& operator=(subscription&& o) noexcept {
    reset();
    cancel_ = std::move(o.cancel_);
    return *this;
  }
  ~subscription() { reset(); }
  void reset() {
    if (cancel_) std::exchange(cancel_, nullptr)();
  }

 private:
  friend class event_bus;
  explicit subscription(std::function<void()> cancel) : cancel_(std::move(cancel)) {}
  std::function<void()> cancel_;
};

class event_bus {
 public:
  /// Forwards an event published here to other processes: (type name, binary encoding).
  using relay_fn = std::function<void(std::string_view type, std::string_view bytes)>;

  event_bus() = default;
  event_bus(const event_bus&) = delete;
  event_bus& operator=(const event_bus&) = delete;

  /// Calls `fn(event)` for every `E` published here or relayed from elsewhere.
  template <class E, class Fn>
  [[nodiscard]] subscription subscribe(Fn fn) {
    auto& subs = by_type_[std::string(type_of<E>())];
    const std::uint64_t id = ++next_id_;
    auto typed = std::make_shared<Fn>(std::move(fn));
    subs.push_back(entry{id,
                         [typed](std::string_view bytes) {
                           E e{};
                           if (auto ec = codec::decode(as_bytes(bytes), codec::encoding::binary, e))
                             throw std::runtime_error("the event does not decode: " + ec.message());
                           (*typed)(std::as_const(e));
                         },
                         [typed](const void* e) { (*typed)(*static_cast<const E*>(e)); }});
    // A subscription may outlive its bus (a module released after the host at exit): then
    // there is nothing left to unsubscribe from.
    return subscription([bus = std::weak_ptr<event_bus*>(self_), type = std::string(type_of<E>()), id] {
      if (auto b = bus.lock()) (*b)->unsubscribe(type, id);
    });
  }

  /// Hands `e` to this process's subscribers of `E`, then to the relay (if any).
  template <class E>
  void publish(const E& e) {
    const auto type = type_of<E>();
    if (auto it = by_type_.find(type); it != by_type_.end()) {
      const auto subs = it->second;  // a subscriber may subscribe or unsubscribe meanwhile
      for (const auto& s : subs) call(type, [&] { s.local(&e); });
    }
    if (relay_) {
      buffer out;
      codec::encode(out, e, codec::encoding::binary);
      const auto bytes = out.view();
      relay_(type, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    }
  }

  /// Hands an event another process published to this process's subscribers of its type.
  /// Returns false when nobody here subscribes to it.
  bool deliver(std::string_view type, std::string_view bytes) {
    auto it = by_type_.find(type);
    if (it == by_type_.end() || it->second.empty()) return false;
    const auto subs = it->second;
    for (const auto& s : subs) call(type, [&] { s.remote(bytes); });
    return true;
  }

  void set_relay(relay_fn relay) { relay_ = std::move(relay); }

  /// The name an event type travels under (its C++ name, e.g. "ember_friends::friend_added").
  template <class E>
  static std::string_view type_of() {
    return app::detail::type_name<E>();
  }

 private:
  struct entry {
    std::uint64_t id;
    std::function<void(std::string_view)> remote;  // from another process: decodes first
    std::function<void(const void*)> local;         // published here: the object itself
  };

  template <class Call>
  static void call(std::string_view type, Call c) {
    try {
      c();
    } catch (const std::exception& ex) {
      log::error("a subscriber of {} failed: {}", type, ex.what());
    }
  }

  void unsubscribe(const std::string& type, std::uint64_t id) {
    auto it = by_type_.find(type);
    if (it == by_type_.end()) return;
    std::erase_if(it->second, [id](const entry& e) { return e.id == id; });
  }

  std::map<std::string, std::vector<entry>, std::less<>> by_type_;
  std::uint64_t next_id_ = 0;
  relay_fn relay_;
  // What subscriptions hold weakly: expired once the bus is gone.
  std::shared_ptr<event_bus*> self_ = std::make_shared<event_bus*>(this);
};

}  // namespace ember::modules
