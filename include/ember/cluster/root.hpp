// ember: the root of a cluster: listens on its rootport, authenticates the nodes that join,
// keeps a registry of its children by name and type, and calls them (by name, any of a type,
// or all of a type).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "ember/cluster/detail/auth_exchange.hpp"
#include "ember/cluster/link.hpp"
#include "ember/log.hpp"

namespace ember::cluster {

/// A peer that failed authentication: who it said it was, where from, and why it was refused.
struct refusal {
  std::string name;     ///< the name the peer claimed (may be empty)
  std::string address;  ///< its address
  std::string reason;   ///< why it was refused
};

/// A root's configuration.
struct root_options {
  std::string name;                 ///< this server's name (nodes check it)
  std::string secret;               ///< the cluster secret
  std::string host = "127.0.0.1";   ///< address to listen on
  std::uint16_t port = 0;           ///< the rootport; 0 picks a free one (see `port()`)
  link_options link{};              ///< settings of every child link
};

/// Listens for nodes and keeps the registry of the children that authenticated.
class root {
 public:
  /// A link to a child.
  using link_ptr = std::shared_ptr<link>;

  /// A root on `ex`; `commands` serves the requests children send (may be null).
  root(asio::any_io_executor ex, root_options options,
       std::shared_ptr<const dispatch_table> commands = {})
      : state_(std::make_shared<state>(ex, std::move(options), std::move(commands))) {}
  /// Stops listening and closes every child link, without running callbacks (their owner may
  /// be going too).
  ~root() {
    state_->on_join.clear();
    state_->on_leave.clear();
    state_->on_refused = nullptr;
    stop();
  }
  root(const root&) = delete;
  root& operator=(const root&) = delete;

  /// Binds the rootport and starts accepting; throws `std::system_error` if it cannot bind.
  void start() {
    using asio::ip::tcp;
    auto& s = *state_;
    tcp::endpoint ep(asio::ip::make_address(s.options.host), s.options.port);
    s.acceptor.open(ep.protocol());
    // A restarted root binds its port again at once, though old connections linger.
    s.acceptor.set_option(tcp::acceptor::reuse_address(true));
    s.acceptor.bind(ep);
    s.acceptor.listen();
    asio::co_spawn(s.ex, accept_loop(state_), [](std::exception_ptr e) {
      if (e) log::error("root: accept loop ended with an exception");
    });
  }

  /// Stops accepting and closes every child link (their calls fail with `unavailable`).
  void stop() {
    auto& s = *state_;
    s.stopped = true;
    std::error_code ignored;
    s.acceptor.close(ignored);
    auto children = std::move(s.children);
    s.children.clear();
    s.by_type.clear();
    for (auto& [name, l] : children) l->close(make_error_code(errc::shutting_down));
  }

  /// The port the root listens on.
  std::uint16_t port() const { return state_->acceptor.local_endpoint().port(); }
  /// This root's name.
  const std::string& name() const noexcept { return state_->options.name; }

  /// The child named `name`, or null.
  link_ptr find(std::string_view name) const {
    auto it = state_->children.find(name);
    return it == state_->children.end() ? nullptr : it->second;
  }
  /// Every child of server type `type`, in name order.
  std::vector<link_ptr> of_type(std::string_view type) const {
    const auto& m = members(type);
    return {m.begin(), m.end()};
  }
  /// The same without a copy: valid until the next join or leave.
  const std::vector<link_ptr>& members(std::string_view type) const {
    static const std::vector<link_ptr> none;
    auto it = state_->by_type.find(type);
    return it == state_->by_type.end() ? none : it->second;
  }
  /// Serves the children's requests from `commands` from now on (existing links too).
  void set_commands(std::shared_ptr<const dispatch_table> commands) {
    state_->commands = commands;
    for (auto& [name, l] : state_->children) l->set_commands(commands);
  }

  /// Every child, in name order.
  std::vector<link_ptr> children() const {
    std::vector<link_ptr> out;
    out.reserve(state_->children.size());
    for (const auto& [name, l] : state_->children) out.push_back(l);
    return out;
  }
  /// Number of children connected.
  std::size_t size() const noexcept { return state_->children.size(); }

  /// Adds a callback run when a child has authenticated and joined.
  void on_join(std::function<void(const link_ptr&)> f) { state_->on_join.push_back(std::move(f)); }
  /// Adds a callback run when a child's link has closed (or a newer link of the same name
  /// replaced it).
  void on_leave(std::function<void(const link_ptr&)> f) {
    state_->on_leave.push_back(std::move(f));
  }
  /// Called, after logging, for each peer refused during authentication.
  void on_refused(std::function<void(const refusal&)> f) { state_->on_refused = std::move(f); }

  /// Calls `Cmd` on the child named `name`; `unavailable` at once when there is none.
  template <class Cmd>
  asio::awaitable<outcome<typename Cmd::reply>> call(std::string name,
                                                      const typename Cmd::request& req,
                                                      call_options opts = {}) {
    auto l = find(name);
    if (!l) co_return unavailable_failure("no child named " + name);
    co_return co_await l->template call<Cmd>(req, opts);
  }

  /// Calls `Cmd` on one child of `type`, taking them in turn (round robin); `unavailable` at
  /// once when there is none.
  template <class Cmd>
  asio::awaitable<outcome<typename Cmd::reply>> call_any(std::string type,
                                                          const typename Cmd::request& req,
                                                          call_options opts = {}) {
    auto all = of_type(type);
    if (all.empty()) co_return unavailable_failure("no child of type " + type);
    auto l = all[state_->next_of_type[type]++ % all.size()];
    co_return co_await l->template call<Cmd>(req, opts);
  }

  /// Calls `Cmd` on every child of `type` at once and gathers each outcome, in name order
  /// (empty when there is none). Each call has its own deadline, so this ends by the latest.
  template <class Cmd>
  asio::awaitable<std::vector<outcome<typename Cmd::reply>>> call_all(
      std::string type, const typename Cmd::request& req, call_options opts = {}) {
    using result = outcome<typename Cmd::reply>;
    auto targets = of_type(type);
    struct gather {
      std::vector<std::optional<result>> results;
      std::size_t left = 0;
      asio::steady_timer wake;
      explicit gather(asio::any_io_executor ex) : wake(ex, asio::steady_timer::time_point::max()) {}
    };
    auto g = std::make_shared<gather>(state_->ex);
    g->results.resize(targets.size());
    g->left = targets.size();
    for (std::size_t i = 0; i < targets.size(); ++i) {
      asio::co_spawn(
          state_->ex,
          [](std::shared_ptr<link> l, typename Cmd::request r, call_options o,
             std::shared_ptr<gather> g, std::size_t i) -> asio::awaitable<void> {
            g->results[i].emplace(co_await l->template call<Cmd>(r, o));
          }(targets[i], req, opts, g, i),
          [g, i](std::exception_ptr e) {
            if (e) g->results[i].emplace(failure{make_error_code(errc::unavailable), 0,
                                                 "call failed with an exception"});
            if (--g->left == 0) g->wake.cancel();
          });
    }
    if (g->left > 0)
      co_await g->wake.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    std::vector<result> out;
    out.reserve(targets.size());
    for (auto& r : g->results) out.push_back(std::move(*r));
    co_return out;
  }

 private:
  struct state {
    state(asio::any_io_executor e, root_options o, std::shared_ptr<const dispatch_table> c)
        : ex(e),
          options(std::move(o)),
          key(derive_link_key(options.secret)),
          commands(std::move(c)),
          acceptor(e) {}
    asio::any_io_executor ex;
    root_options options;
    link_key key;
    std::shared_ptr<const dispatch_table> commands;
    asio::ip::tcp::acceptor acceptor;
    std::map<std::string, link_ptr, std::less<>> children;
    std::map<std::string, std::vector<link_ptr>, std::less<>> by_type;  // each in name order
    std::map<std::string, std::size_t, std::less<>> next_of_type;
    std::vector<std::function<void(const link_ptr&)>> on_join, on_leave;

    void index(const link_ptr& l) {
      auto& v = by_type[l->peer().type];
      auto at = std::lower_bound(v.begin(), v.end(), l, [](const link_ptr& a, const link_ptr& b) {
        return a->peer().name < b->peer().name;
      });
      v.insert(at, l);
    }
    void unindex(const link_ptr& l) {
      auto it = by_type.find(l->peer().type);
      if (it == by_type.end()) return;
      std::erase(it->second, l);
      if (it->second.empty()) by_type.erase(it);
    }
    std::function<void(const refusal&)> on_refused;
    bool stopped = false;
  };

  static asio::awaitable<void> accept_loop(std::shared_ptr<state> s) {
    constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
    while (!s->stopped) {
      auto [ec, socket] = co_await s->acceptor.async_accept(use_tuple);
      if (s->stopped) co_return;
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        log::warn("root {}: accept failed: {}", s->options.name, ec.message());
        continue;
      }
      asio::co_spawn(s->ex, admit(s, std::move(socket)), [](std::exception_ptr e) {
        if (e) log::error("root: admitting a node failed with an exception");
      });
    }
  }

  // Authenticates one connection; nothing is served before it passes.
  static asio::awaitable<void> admit(std::shared_ptr<state> s, asio::ip::tcp::socket socket) {
    const std::string address = detail::address_of(socket);
    auto r = co_await detail::authenticate_node(socket, s->key, s->options.name,
                                                s->options.link.auth_timeout);
    if (s->stopped) co_return;
    if (!r.ok()) {
      log::warn("root {}: refused node '{}' from {}: {}", s->options.name, r.peer_name, address,
                r.reason);
      if (s->on_refused) s->on_refused(refusal{r.peer_name, address, r.reason});
      co_return;  // the socket closes here
    }
    auto l = std::make_shared<link>(std::move(socket), link::peer_info{r.peer_name, r.peer_type},
                                    s->options.link, s->commands);
    if (auto old = s->children.find(r.peer_name); old != s->children.end()) {
      log::warn("root {}: node '{}' connected again from {}; the older link is replaced",
                s->options.name, r.peer_name, address);
      auto previous = std::move(old->second);
      s->children.erase(old);
      s->unindex(previous);
      previous->close(make_error_code(errc::disconnected));
    }
    s->children.emplace(r.peer_name, l);
    s->index(l);
    std::weak_ptr<state> ws = s;
    std::weak_ptr<link> wl = l;
    l->on_close([ws, wl](std::error_code why) {
      auto st = ws.lock();
      auto me = wl.lock();
      if (!st || !me) return;
      log::info("root {}: node '{}' left ({})", st->options.name, me->peer().name, why.message());
      // Only the registered link leaves the registry: a replaced one is already out.
      if (auto it = st->children.find(me->peer().name); it != st->children.end() && it->second == me) {
        st->children.erase(it);
        st->unindex(me);
      }
      for (auto& f : st->on_leave) f(me);
    });
    log::info("root {}: node '{}' (type {}) joined from {}", s->options.name, r.peer_name,
              r.peer_type, address);
    l->start();
    for (auto& f : s->on_join) f(l);
  }

  std::shared_ptr<state> state_;
};

}  // namespace ember::cluster
