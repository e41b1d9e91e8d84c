// ember: a node's connection to one root: connects, authenticates, registers its name and
// type, and reconnects by itself (exponential backoff with jitter) whenever the link drops.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "ember/cluster/auth.hpp"
#include "ember/cluster/detail/auth_exchange.hpp"
#include "ember/cluster/link.hpp"
#include "ember/cluster/root.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::cluster {

/// A node's configuration for one of its roots.
struct node_options {
  std::string name;         ///< this server's name (unique among the root's children)
  std::string type;         ///< this server's type; empty means its name
  std::string secret;       ///< the cluster secret
  std::string root_host = "127.0.0.1";  ///< where the root listens
  std::uint16_t root_port = 0;          ///< the root's rootport
  std::string root_name;    ///< the root's name, checked in the handshake (empty: any)
  link_options link{};      ///< settings of the link
  std::chrono::milliseconds min_backoff{50};    ///< first wait before reconnecting
  std::chrono::milliseconds max_backoff{2'000}; ///< the wait doubles up to this cap
};

/// Keeps a node connected to its root. Calls made while there is no link fail at once with
/// `unavailable`; nothing waits for a reconnect.
class node_connector {
 public:
  /// A link to the root.
  using link_ptr = std::shared_ptr<link>;

  /// A connector on `ex`; `commands` serves the root's requests (may be null).
  node_connector(asio::any_io_executor ex, node_options options,
                 std::shared_ptr<const net::dispatch_table> commands = {});
  /// Stops reconnecting and closes the link, without running callbacks.
  ~node_connector();
  node_connector(const node_connector&) = delete;
  node_connector& operator=(const node_connector&) = delete;

  /// Starts connecting (once).
  void start();

  /// Stops: no more reconnects; the link closes and its calls fail with `unavailable`.
  void stop();

  /// Serves the root's requests from `commands` from now on (the current link too).
  void set_commands(std::shared_ptr<const net::dispatch_table> commands);

  /// This server's name, as it registers with the root.
  const std::string& name() const noexcept { return state_->options.name; }

  /// The link to the root, or null while there is none.
  link_ptr current() const { return state_->current; }
  /// True while a link is up.
  bool connected() const noexcept { return state_->current && state_->current->is_open(); }
  /// How many times a link has been established.
  std::uint64_t connections() const noexcept { return state_->connections; }
  /// Tries to link again now instead of at the end of the backoff (the master says the root
  /// is back); nothing while linked.
  void retry_now();

  /// Adds a callback run with each new link, after registration.
  void on_connected(std::function<void(const link_ptr&)> f) {
    state_->on_connected.push_back(std::move(f));
  }
  /// Adds a callback run when the link drops (with why); a reconnect follows unless stopped.
  void on_disconnected(std::function<void(std::error_code)> f) {
    state_->on_disconnected.push_back(std::move(f));
  }
  /// Called, after logging, when the root fails authentication (or refuses this node).
  void on_refused(std::function<void(const refusal&)> f) { state_->on_refused = std::move(f); }

  /// Calls `Cmd` on the root; `unavailable` at once without a link.
  template <class Cmd>
  asio::awaitable<outcome<typename Cmd::reply>> call(const typename Cmd::request& req,
                                                      net::call_options opts = {}) {
    auto l = current();
    if (!l || !l->is_open()) co_return unavailable_failure("not connected to the root");
    co_return co_await l->template call<Cmd>(req, opts);
  }

 private:
  struct state : detail::link_end {
    state(asio::any_io_executor e, node_options o, std::shared_ptr<const net::dispatch_table> c);
    node_options options;
    asio::ip::tcp::socket socket;  // the connection being made or authenticated
    std::unique_ptr<net::detail::tls_channel> tls_channel;  // its TLS, with `tls`
    asio::steady_timer wake;       // backoff sleeps, and waiting for the link to drop
    link_ptr current;
    std::vector<std::function<void(const link_ptr&)>> on_connected;
    std::vector<std::function<void(std::error_code)>> on_disconnected;
    std::uint64_t connections = 0;
    bool running = false;
  };

  // Full jitter on the upper half: spreads the reconnects of many nodes after a root restart.
  static std::chrono::milliseconds with_jitter(std::chrono::milliseconds d);

  static asio::awaitable<void> run(std::shared_ptr<state> s);

  // Runs one authenticated link until it closes; returns why it closed.
  static asio::awaitable<std::error_code> serve(std::shared_ptr<state> s, detail::auth_result r);

  std::shared_ptr<state> state_;
};

}  // namespace ember::cluster

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/cluster/impl/node.hpp"
#endif
