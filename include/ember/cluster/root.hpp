// ember: the root of a cluster: listens on its rootport, authenticates the nodes that join,
// keeps a registry of its children by name and type, and calls them (by name, any of a type,
// or all of a type).
#pragma once

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

#include "ember/cluster/auth.hpp"
#include "ember/cluster/link.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::cluster {

/// A peer that failed authentication: who it said it was, where from, and why it was refused.
struct refusal {
  std::string name;     ///< the name the peer claimed (may be empty)
  std::string address;  ///< its address
  std::string reason;   ///< why it was refused
};

namespace detail {
/// What a root and a node both keep: their executor, the MAC key of the cluster secret, the
/// commands they serve to the other end, and who hears of peers refused at authentication.
struct link_end {
  link_end(asio::any_io_executor e, std::string_view secret,
           std::shared_ptr<const net::dispatch_table> c)
      : ex(e), key(derive_link_key(secret)), commands(std::move(c)) {}
  asio::any_io_executor ex;
  link_key key;
  std::shared_ptr<const net::dispatch_table> commands;
  std::function<void(const refusal&)> on_refused;
  std::shared_ptr<const net::detail::tls_context> tls;  ///< set when links speak TLS
};
}  // namespace detail

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
       std::shared_ptr<const net::dispatch_table> commands = {});
  /// Stops listening and closes every child link, without running callbacks (their owner may
  /// be going too).
  ~root();
  root(const root&) = delete;
  root& operator=(const root&) = delete;

  /// Binds the rootport and starts accepting; throws `std::system_error` if it cannot bind.
  void start();

  /// Stops accepting and closes every child link (their calls fail with `unavailable`).
  void stop();

  /// The port the root listens on.
  std::uint16_t port() const;
  /// This root's name.
  const std::string& name() const noexcept { return state_->options.name; }

  /// The child named `name`, or null.
  link_ptr find(std::string_view name) const;
  /// Every child of server type `type`, in name order.
  std::vector<link_ptr> of_type(std::string_view type) const;
  /// The same without a copy: valid until the next join or leave.
  const std::vector<link_ptr>& members(std::string_view type) const;
  /// Serves the children's requests from `commands` from now on (existing links too).
  void set_commands(std::shared_ptr<const net::dispatch_table> commands);

  /// Every child, in name order.
  std::vector<link_ptr> children() const;
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
                                                      net::call_options opts = {}) {
    auto l = find(name);
    if (!l) co_return unavailable_failure("no child named " + name);
    co_return co_await l->template call<Cmd>(req, opts);
  }

  /// Calls `Cmd` on one child of `type`, taking them in turn (round robin); `unavailable` at
  /// once when there is none.
  template <class Cmd>
  asio::awaitable<outcome<typename Cmd::reply>> call_any(std::string type,
                                                          const typename Cmd::request& req,
                                                          net::call_options opts = {}) {
    auto all = of_type(type);
    if (all.empty()) co_return unavailable_failure("no child of type " + type);
    auto l = all[state_->next_of_type[type]++ % all.size()];
    co_return co_await l->template call<Cmd>(req, opts);
  }

  /// Calls `Cmd` on every child of `type` at once and gathers each outcome, in name order
  /// (empty when there is none). Each call has its own deadline, so this ends by the latest.
  template <class Cmd>
  asio::awaitable<std::vector<outcome<typename Cmd::reply>>> call_all(
      std::string type, const typename Cmd::request& req, net::call_options opts = {}) {
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
          [](std::shared_ptr<link> l, typename Cmd::request r, net::call_options o,
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
  struct state : detail::link_end {
    state(asio::any_io_executor e, root_options o, std::shared_ptr<const net::dispatch_table> c);
    root_options options;
    asio::ip::tcp::acceptor acceptor;
    std::map<std::string, link_ptr, std::less<>> children;
    std::map<std::string, std::vector<link_ptr>, std::less<>> by_type;  // each in name order
    std::map<std::string, std::size_t, std::less<>> next_of_type;
    std::vector<std::function<void(const link_ptr&)>> on_join, on_leave;

    void index(const link_ptr& l);
    void unindex(const link_ptr& l);
    bool stopped = false;
  };

  static asio::awaitable<void> accept_loop(std::shared_ptr<state> s);
  // Authenticates one connection; nothing is served before it passes.
  static asio::awaitable<void> admit(std::shared_ptr<state> s, asio::ip::tcp::socket socket);

  std::shared_ptr<state> state_;
};

}  // namespace ember::cluster

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/cluster/impl/root.hpp"
#endif
