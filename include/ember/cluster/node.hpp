// ember: a node's connection to one root: connects, authenticates, registers its name and
// type, and reconnects by itself (exponential backoff with jitter) whenever the link drops.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "ember/cluster/detail/auth_exchange.hpp"
#include "ember/cluster/link.hpp"
#include "ember/cluster/root.hpp"
#include "ember/log.hpp"

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
                 std::shared_ptr<const dispatch_table> commands = {})
      : state_(std::make_shared<state>(ex, std::move(options), std::move(commands))) {
    auto& o = state_->options;
    if (o.type.empty()) o.type = o.name;
    if (o.name.empty() || o.name.size() > max_link_name || o.type.size() > max_link_name)
      throw std::invalid_argument("node name and type must be 1 to 255 bytes");
  }
  /// Stops reconnecting and closes the link, without running callbacks.
  ~node_connector() {
    state_->on_connected.clear();
    state_->on_disconnected.clear();
    state_->on_refused = nullptr;
    stop();
  }
  node_connector(const node_connector&) = delete;
  node_connector& operator=(const node_connector&) = delete;

  /// Starts connecting (once).
  void start() {
    if (state_->running) return;
    state_->running = true;
    asio::co_spawn(state_->ex, run(state_), [](std::exception_ptr e) {
      if (e) log::error("node: connect loop ended with an exception");
    });
  }

  /// Stops: no more reconnects; the link closes and its calls fail with `unavailable`.
  void stop() {
    auto& s = *state_;
    s.running = false;
    s.wake.cancel();
    std::error_code ignored;
    s.socket.close(ignored);
    if (auto l = std::exchange(s.current, nullptr)) l->close(make_error_code(errc::shutting_down));
  }

  /// Serves the root's requests from `commands` from now on (the current link too).
  void set_commands(std::shared_ptr<const dispatch_table> commands) {
    state_->commands = commands;
    if (state_->current) state_->current->set_commands(std::move(commands));
  }

  /// The link to the root, or null while there is none.
  link_ptr current() const { return state_->current; }
  /// True while a link is up.
  bool connected() const noexcept { return state_->current && state_->current->is_open(); }
  /// How many times a link has been established.
  std::uint64_t connections() const noexcept { return state_->connections; }
  /// Tries to link again now instead of at the end of the backoff (the master says the root
  /// is back); nothing while linked.
  void retry_now() {
    if (state_->running && !connected()) state_->wake.cancel();
  }

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
                                                      call_options opts = {}) {
    auto l = current();
    if (!l || !l->is_open()) co_return unavailable_failure("not connected to the root");
    co_return co_await l->template call<Cmd>(req, opts);
  }

 private:
  struct state {
    state(asio::any_io_executor e, node_options o, std::shared_ptr<const dispatch_table> c)
        : ex(e),
          options(std::move(o)),
          key(derive_link_key(options.secret)),
          commands(std::move(c)),
          socket(e),
          wake(e) {}
    asio::any_io_executor ex;
    node_options options;
    link_key key;
    std::shared_ptr<const dispatch_table> commands;
    asio::ip::tcp::socket socket;  // the connection being made or authenticated
    asio::steady_timer wake;       // backoff sleeps, and waiting for the link to drop
    link_ptr current;
    std::vector<std::function<void(const link_ptr&)>> on_connected;
    std::vector<std::function<void(std::error_code)>> on_disconnected;
    std::function<void(const refusal&)> on_refused;
    std::uint64_t connections = 0;
    bool running = false;
  };

  // Full jitter on the upper half: spreads the reconnects of many nodes after a root restart.
  static std::chrono::milliseconds with_jitter(std::chrono::milliseconds d) {
    const auto half = static_cast<std::uint32_t>(std::max<std::int64_t>(d.count() / 2, 1));
    return std::chrono::milliseconds(half + randombytes_uniform(half + 1));
  }

  static asio::awaitable<void> run(std::shared_ptr<state> s) {
    using asio::ip::tcp;
    constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
    const auto& o = s->options;
    auto backoff = o.min_backoff;
    while (s->running) {
      std::error_code why = make_error_code(errc::unavailable);
      tcp::resolver resolver(s->ex);
      auto [rec, endpoints] =
          co_await resolver.async_resolve(o.root_host, std::to_string(o.root_port), use_tuple);
      if (!s->running) co_return;
      if (!rec) {
        s->socket = tcp::socket(s->ex);
        auto [cec, ep] = co_await asio::async_connect(s->socket, endpoints, use_tuple);
        (void)ep;
        if (!s->running) co_return;
        if (!cec) {
          const std::string address = detail::address_of(s->socket);
          auto r = co_await detail::authenticate_root(s->socket, s->key, o.name, o.type,
                                                      o.root_name, o.link.auth_timeout);
          if (!s->running) co_return;
          if (r.ok()) {
            backoff = o.min_backoff;
            why = co_await serve(s, std::move(r));
            if (!s->running) co_return;
          } else {
            log::warn("node {}: root '{}' at {} refused: {}", o.name, r.peer_name, address,
                      r.reason);
            if (s->on_refused) s->on_refused(refusal{r.peer_name, address, r.reason});
            std::error_code ignored;
            s->socket.close(ignored);
          }
        } else {
          why = cec;
        }
      }
      s->wake.expires_after(with_jitter(backoff));
      backoff = std::min(backoff * 2, o.max_backoff);
      co_await s->wake.async_wait(use_tuple);
    }
  }

  // Runs one authenticated link until it closes; returns why it closed.
  static asio::awaitable<std::error_code> serve(std::shared_ptr<state> s, detail::auth_result r) {
    auto l = std::make_shared<link>(std::move(s->socket),
                                    link::peer_info{r.peer_name, r.peer_name}, s->options.link,
                                    s->commands);
    s->socket = asio::ip::tcp::socket(s->ex);
    auto why = std::make_shared<std::error_code>();
    auto closed = std::make_shared<bool>(false);
    std::weak_ptr<state> ws = s;
    l->on_close([ws, why, closed](std::error_code ec) {
      *why = ec;
      *closed = true;
      if (auto st = ws.lock()) st->wake.cancel();
    });
    s->current = l;
    ++s->connections;
    log::info("node {}: linked to root '{}' at {}", s->options.name, r.peer_name,
              l->remote_address());
    l->start();
    for (auto& f : s->on_connected) f(l);
    while (!*closed && s->running) {
      s->wake.expires_at(asio::steady_timer::time_point::max());
      co_await s->wake.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    }
    if (s->current == l) s->current = nullptr;
    // After stop() the owner may be gone: no callback then.
    if (*closed && s->running) {
      log::warn("node {}: link to root '{}' lost ({})", s->options.name, r.peer_name,
                why->message());
      for (auto& f : s->on_disconnected) f(*why);
    }
    co_return *why;
  }

  std::shared_ptr<state> state_;
};

}  // namespace ember::cluster
