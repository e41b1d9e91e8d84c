// ember: the client-facing side of routing. A gateway (a `net` server) forwards each client
// command that another server type serves to one instance of that type, over the links of
// the backends that joined it, and sends the reply back; it carries out what backends do to
// their clients (pushes, groups, user binding, close) and tells them when a client leaves.
//
//   net::server clients(io, options, {});
//   cluster::root backends(io.get_executor(), root_options);   // game servers join here
//   cluster::gateway gw(clients, backends, {"net1"});
//   dispatch_table table;
//   gw.add_routes(table, chat::command_list, "net");          // commands of other types
//   clients.set_table(std::move(table));
//
// Which instance serves a session: the one a backend bound it to (`backend::bind_here`),
// else the owner of its user id, else of its session id, by rendezvous hashing over the
// instances connected now (ember/cluster/rendezvous.hpp) that are not draining.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <asio/awaitable.hpp>

#include "ember/cluster/link.hpp"
#include "ember/cluster/root.hpp"
#include "ember/cluster/route_wire.hpp"
#include "ember/command_info.hpp"
#include "ember/net/server.hpp"
#include "ember/separate_compilation.hpp"

namespace ember_cluster_wire {
struct session_op;
}  // namespace ember_cluster_wire

namespace ember::cluster {

/// Settings of a gateway.
struct gateway_options {
  std::string name;  ///< this server's name, for logs
  std::chrono::milliseconds call_timeout{5'000};  ///< deadline of a forwarded request
};

/// Forwards client commands to backends; see the top of this file.
class gateway {
 public:
  gateway(net::server& clients, root& backends, gateway_options options);
  gateway(const gateway&) = delete;
  gateway& operator=(const gateway&) = delete;

  /// Adds to `table` a forwarding entry for each client command of `commands` that servers
  /// of another type than `own_type` serve (calls between servers are not for clients).
  void add_routes(net::dispatch_table& table, std::span<const command_info> commands,
                  std::string_view own_type);

  /// Routes client command `command` by what its request names instead of by its player: the
  /// string field `tag` (binary; `name` in JSON) of its body, as the key `owned_key(kind,
  /// value)`, goes to the instance of the command's server type that rendezvous hashing picks
  /// for that key among those linked now (not draining), whatever the session is bound to.
  /// That is the instance that owns the thing, or acquires it (ember/cluster/owned_key.hpp):
  /// every gateway sends one board's or one pool's requests to the same place. A body without
  /// the field is routed as a player's (its handler refuses it). Kept across `add_routes`.
  void route_by_field(std::uint16_t command, std::string kind, std::uint32_t tag, std::string name);

  /// Requests forwarded so far, and how many of them failed for want of a backend.
  std::uint64_t forwarded() const noexcept { return state_->forwarded; }
  std::uint64_t unavailable() const noexcept { return state_->unavailable; }

 private:
  struct route_info {
    std::string type;
    std::string attribute;  // the session attribute that binds a session to one instance
  };

  struct state {
    state(net::server& c, root& b, gateway_options o);
    net::server& clients;
    root& backends;
    gateway_options options;
    std::unordered_map<std::uint16_t, route_info> routes;
    struct keyed_route {
      std::string kind;
      std::uint32_t tag = 0;
      std::string name;
    };
    std::unordered_map<std::uint16_t, keyed_route> keyed;  // route_by_field
    std::unordered_map<std::uint64_t, std::uint64_t> login_stamps;  // user -> newest bind
    // Backends that drain (backend::leave_gateways): no new session is routed there.
    std::unordered_set<const link*> draining;
    std::uint64_t forwarded = 0, unavailable = 0;

    // forwarding
    static asio::awaitable<void> start_forward(void* self, const net::request_info& info,
                                               bytes_view body, std::error_code&);
    static void hand_off(void* self, net::request_info&& info, bytes_view body);
    asio::awaitable<void> forward(const net::request_info& info, bytes_view body);
    // The instance `command` names in its body (route_by_field), else the bound instance,
    // else the owner by rendezvous hashing of the user or the session.
    std::shared_ptr<link> pick(net::session& s, const route_info& r, std::uint16_t command,
                               bytes_view body, codec::encoding enc);
    // The instance of `type` that owns `key`, among those linked and not draining.
    std::shared_ptr<link> pick_by_key(std::uint64_t key, const std::string& type);
    static asio::awaitable<void> relay(net::request_info info, std::shared_ptr<link::reply_ticket> t,
                                       std::string from);
    static asio::awaitable<void> fail(status code, std::string message);

    // from backends
    void listen(const root::link_ptr& l);
    bool on_notify(route::notify_id id, bytes_view body);
    bool session_op(const ember_cluster_wire::session_op& m);
    // The newest login of a user wins, here and on every other gateway.
    void bind(net::session& s, std::uint64_t user, std::uint64_t stamp);
    void session_closed(net::session& s);
    // A session moved here from a gateway that drains: backends re-key their view of it.
    void session_arrived(net::session& s, const std::string& from, std::uint64_t from_id);
  };

  std::shared_ptr<state> state_;
};

}  // namespace ember::cluster

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/cluster/impl/gateway.hpp"
#endif
