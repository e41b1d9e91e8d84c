// ember: assembles one server of a cluster from its config.json entry: its client listener
// (`netport`), its root (`rootport`), its links to the roots it joins (`remoteport`), the
// routing between client-facing servers and backends, and its metrics and health endpoint
// (`metricsport`, ember/app/metrics.hpp). The host owns all of it, so a
// reload of the handler module leaves sessions, groups and links untouched.
//
//   auto cfg = ember::app::load_config("config.json").value();
//   asio::io_context io;
//   ember::app::host h(io, cfg, "game1");
//   game_logic logic(h);                                 // handlers may use h.backend() ...
//   ember::net::dispatch_table table;
//   mygame::register_commands(table, logic);
//   h.start(std::move(table), mygame::command_list);
//   io.run();
//
// Roles follow from the config: a server with a `netport` is a gateway; it forwards the
// client commands its type does not serve to the servers of their type that joined it (its
// `rootport`). A server that joins a root with a `netport` is a backend of that gateway.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>

#include "ember/app/config.hpp"
#include "ember/app/detail/type_name.hpp"
#include "ember/command_info.hpp"
#include "ember/net/server.hpp"
#include "ember/separate_compilation.hpp"

// The parts a host may hold: a handler includes the header of the part it uses
// (ember/cluster/backend.hpp for `backend()`, ...), so a module that uses none does not
// compile the cluster layer's declarations.
namespace ember::cluster {
class root;
class gateway;
class backend;
class owner_registry;
class player_ownership;
class node_connector;
struct link_options;
struct link_counters;
}  // namespace ember::cluster

namespace ember::data {
class store;
}

namespace ember::modules {
class event_bus;
}

namespace ember::app::detail {
class event_relay;
}

namespace ember::detail {
class prometheus_writer;
}

namespace ember::app {

/// Why `host::take_over` cannot give what was handed over: another type, or bytes that do not
/// decode. The message names the key and both types.
class hand_over_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class metrics_endpoint;

/// What a part of a server adds to its metrics and to its readiness (`host::add_health_source`).
struct health_source {
  /// Writes the part's metric families (may be empty).
  std::function<void(ember::detail::prometheus_writer&)> metrics;
  /// "" when the part is ready, else why not (may be empty).
  std::function<std::string()> not_ready;
};

/// How a server bans an account for the master's admin API (`admin_call::ban`,
/// `host::set_admin_ban`): `account` until `until` (`time_point::max()`: until unbanned), for
/// `reason`. Returns "" once banned, or why not.
using admin_ban_fn = std::function<asio::awaitable<std::string>(
    std::int64_t account, std::string reason, std::chrono::system_clock::time_point until)>;

/// One server process of a cluster, built from `config.json`.
class host {
 public:
  /// Throws `std::invalid_argument` when `name` is not a server of `config`.
  host(asio::io_context& io, cluster_config config, std::string_view name);
  ~host();
  host(const host&) = delete;
  host& operator=(const host&) = delete;

  /// Builds and starts everything the config entry asks for. `table` serves this server's
  /// commands and calls (shared by clients and links); `commands` is the schema's
  /// `command_list`, from which a gateway learns what to forward where. Throws
  /// `std::system_error` when a port cannot be bound.
  void start(net::dispatch_table table, std::span<const command_info> commands);

  /// Swaps in a new command table (a reload of the handler module) between requests:
  /// requests already running finish on the old one; sessions, groups and links stay.
  void replace_table(net::dispatch_table table);

  /// Hands `value` to the next build of the handler module across a reload, under `key`
  /// (call it in `module::stopping`). `T` is a type of the schema (or any type with the
  /// schema's `encode_binary`/`decode_binary`): the value is kept as its binary encoding with
  /// the name of its type, since the old build's objects die with its code. Identify sessions
  /// in it by id (`session::id()`), never by address. A second hand-over under `key` replaces
  /// the first.
  template <class T>
  void hand_over(std::string key, const T& value);
  /// Takes what the previous build handed over under `key`: nothing if it handed nothing;
  /// throws `hand_over_error` if it handed a value of another type (or one that does not
  /// decode), leaving it for a build that takes that type. Thrown from a module's
  /// constructor, this refuses the new build and the old one keeps serving.
  template <class T>
  std::optional<T> take_over(const std::string& key);

  /// Bytes kept for the next module across a reload, unchecked: `hand_over` is the typed form.
  void stash(std::string key, std::string bytes) { stash_[std::move(key)] = std::move(bytes); }
  /// Takes what a previous module stashed under `key` (empty if nothing).
  std::string take_stash(const std::string& key);

  /// Stops gracefully: the client listener first (requests in flight finish), then what was
  /// registered with `on_stop` (the data layer writes back), then links.
  asio::awaitable<void> stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

  /// Drains this backend (docs/operations.md, "Draining and rolling upgrades"): gateways
  /// route no new player here; each session bound here is unbound, its requests here finish,
  /// and its player is saved and given up (the `player_ownership` release callback), so its
  /// next request reaches another server of this type, which takes the player over as after a
  /// failover. Returns "" once drained (at once if it was), or why this server cannot drain.
  /// `/readyz` says "draining" from the start. The server serves on; stop it when drained.
  ///
  /// A client-facing server that is not a backend drains its sessions instead
  /// (`net::server::drain`): each moves to another client-facing server of the cluster, its
  /// client told to resume there; `drained_players` then counts the sessions moved.
  asio::awaitable<std::string> drain();
  /// Why this server cannot drain ("" when it can): neither a backend, nor a native
  /// client-facing server with another one in the cluster to move its sessions to.
  std::string cannot_drain() const;
  /// "serving", "draining" or "drained".
  std::string_view drain_state() const noexcept;
  /// Players given up by the drain, and how long it took (ms; 0 until drained).
  std::uint64_t drained_players() const noexcept { return drained_players_; }
  std::uint64_t drain_ms() const noexcept { return drain_ms_; }

  /// Runs `hook` when the server stops, after its clients have drained and before its links
  /// close (e.g. writing back dirty rows).
  void on_stop(std::function<asio::awaitable<void>()> hook) { stop_hooks_.push_back(std::move(hook)); }

  /// The data store the handler module's tables attach to (ember/app/data_layer.hpp sets it
  /// when the config entry has "db" and "mem"); null otherwise.
  data::store* store() const noexcept { return store_; }
  void set_store(data::store* s) noexcept { store_ = s; }

  /// Where game data files are found (ember-server: the config file's directory).
  const std::filesystem::path& data_dir() const noexcept { return data_dir_; }
  void set_data_dir(std::filesystem::path dir) { data_dir_ = std::move(dir); }

  /// Requests, failures and latencies per command this server served, from clients and over
  /// links (forwarded client commands on a backend, calls between servers), and the client
  /// commands a gateway forwarded (ember/net/command_stats.hpp).
  const net::command_stats& per_command() const noexcept { return *stats_; }
  /// The schema's command list the server was started with (names and server types).
  std::span<const command_info> commands() const noexcept { return commands_; }
  /// Writes `per_command()` as a JSON array, with the commands' names, and "forwarded" for
  /// those a gateway sends to another server type (see `command_stats::write_json`).
  void write_command_stats(codec::json_writer& w) const;

  /// Starts answering `/metrics`, `/healthz` and `/readyz` on the entry's `metricsport`
  /// (ember/app/metrics.hpp), if it has one; `start` does it too. Call it earlier to answer
  /// health checks while the server opens (`/readyz` says what it waits for). Throws
  /// `std::system_error` when the port cannot be bound.
  void serve_metrics();
  /// The port of the metrics endpoint; 0 when there is none (yet).
  std::uint16_t metrics_port() const noexcept;
  /// Writes every metric family of this server: the process, its clients, per-command
  /// figures, links, and what the health sources add (docs/operations.md lists them).
  void write_metrics(ember::detail::prometheus_writer& w) const;
  /// "" when the server is ready to serve: started, accepting clients if it has a netport,
  /// linked to every root it joins, and every health source ready; else why not.
  std::string not_ready() const;
  /// A counter a module (or the game) adds to this server's metrics: the host keeps it, so
  /// the count goes on across reloads of the handler module (a new build asking for the same
  /// name gets the same counter). `name` is a Prometheus metric name ending in `_total`
  /// (e.g. "ember_chat_lines_total"); `help` says what it counts. Increment the reference
  /// (no allocation, no lookup). Throws `std::invalid_argument` for a bad name, a name a
  /// host metric has, or past `max_counters` counters.
  std::uint64_t& counter(std::string_view name, std::string_view help);
  /// The most counters `counter` makes (they are never removed: a bound on what a scrape writes).
  static constexpr std::size_t max_counters = 256;

  /// Adds `source` under `name` (e.g. "data"), replacing one of that name.
  void add_health_source(std::string name, health_source source);
  /// Removes the source of that name (its owner is going).
  void remove_health_source(std::string_view name);

  /// Serves the master's admin ban (`admin_call::ban`) with `ban`, set by `owner`: the accounts
  /// module's `admin_bans` sets it while it lives. Without one, this server answers that it
  /// hosts no accounts module and the master asks another.
  void set_admin_ban(admin_ban_fn ban, const void* owner) {
    admin_ban_ = std::move(ban);
    admin_ban_owner_ = owner;
  }
  /// Clears the hook if `owner` set it last: across a reload the new build sets its own before
  /// the old one goes.
  void clear_admin_ban(const void* owner) {
    if (admin_ban_owner_ != owner) return;
    admin_ban_ = nullptr;
    admin_ban_owner_ = nullptr;
  }
  const admin_ban_fn& admin_ban() const noexcept { return admin_ban_; }

  /// This server's config entry, and the whole config.
  const server_config& self() const noexcept { return *self_; }
  const cluster_config& config() const noexcept { return config_; }
  asio::io_context& context() noexcept { return io_; }

  /// The gameplay modules' events (ember/modules/events.hpp): what a module publishes here
  /// reaches the subscribers in this process and, over the links, in every other server of
  /// the cluster. The bus outlives reloads of the handler module: a module keeps its
  /// `subscription`s as members, so they end with it.
  modules::event_bus& events() noexcept { return *events_; }

  /// The parts the config asked for (null when it did not).
  net::server* clients() noexcept { return clients_.get(); }
  cluster::root* root() noexcept { return root_.get(); }
  cluster::gateway* gateway() noexcept { return gateway_.get(); }
  cluster::backend* backend() noexcept { return backend_.get(); }
  /// The players this backend owns (ember/cluster/ownership.hpp); null when not a backend or
  /// when it joins no root that is not a gateway.
  cluster::player_ownership* ownership() noexcept { return ownership_.get(); }
  /// The registry of owners, on a root.
  cluster::owner_registry* registry() noexcept { return registry_.get(); }
  /// The connector to the root named `rootname`, or null.
  cluster::node_connector* node(std::string_view rootname) noexcept;

 private:
  // The servers joining root `root` that are backends of some gateway: they own players.
  std::set<std::string> backends_of(const std::string& root) const;

  // A copy of the schema's command list that does not point into a module's memory.
  void remember(std::span<const command_info> commands);

  // The untyped halves of hand_over and take_over.
  void hand_over_bytes(std::string key, std::string type, std::string bytes);
  std::optional<std::string> take_over_bytes(const std::string& key, const std::string& type);
  template <class T>
  static std::string hand_over_type() {
    return std::string(detail::type_name<T>()) + " (" + std::to_string(sizeof(T)) + " bytes)";
  }

  cluster::link_options link_options_() const;

  struct node_entry {
    std::string root;
    std::unique_ptr<cluster::node_connector> connector;
  };

  asio::io_context& io_;
  cluster_config config_;
  // Before the links: a link's callbacks may reach the relay until the link goes.
  std::unique_ptr<modules::event_bus> events_;
  std::unique_ptr<detail::event_relay> relay_;
  const server_config* self_ = nullptr;
  std::shared_ptr<const net::dispatch_table> table_;
  std::shared_ptr<net::command_stats> stats_ = std::make_shared<net::command_stats>();
  std::deque<std::string> names_;  // stable addresses for commands_
  std::vector<command_info> commands_;
  std::map<std::string, std::string> stash_;
  struct handed {
    std::string type;   // detail::type_name<T>() and sizeof(T): what the taker must expect
    std::string bytes;  // the value's binary encoding
  };
  std::map<std::string, handed> handed_;
  std::filesystem::path data_dir_ = ".";
  std::unique_ptr<net::server> clients_;
  std::unique_ptr<cluster::root> root_;
  std::unique_ptr<cluster::gateway> gateway_;
  std::unique_ptr<cluster::backend> backend_;
  std::unique_ptr<cluster::owner_registry> registry_;
  std::vector<node_entry> nodes_;
  std::unique_ptr<cluster::player_ownership> ownership_;  // refers to a node connector
  std::vector<std::function<asio::awaitable<void>()>> stop_hooks_;
  data::store* store_ = nullptr;
  std::map<std::string, health_source, std::less<>> health_;
  admin_ban_fn admin_ban_;
  const void* admin_ban_owner_ = nullptr;
  struct counter_entry {
    std::string help;
    std::uint64_t value = 0;
  };
  std::map<std::string, counter_entry, std::less<>> counters_;  // nodes never move
  // Shared by every link of this server, so call counts outlive reconnects.
  std::shared_ptr<cluster::link_counters> link_counters_;
  std::unique_ptr<metrics_endpoint> metrics_;  // last: it calls into the rest while it lives
  bool started_ = false, stopping_ = false;
  enum class drain_phase { serving, draining, drained } drain_ = drain_phase::serving;
  std::uint64_t drained_players_ = 0, drain_ms_ = 0;
};

template <class T>
void host::hand_over(std::string key, const T& value) {
  buffer out;
  codec::encode(out, value, codec::encoding::binary);
  const auto bytes = out.view();
  hand_over_bytes(std::move(key), hand_over_type<T>(),
                  std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

template <class T>
std::optional<T> host::take_over(const std::string& key) {
  auto bytes = take_over_bytes(key, hand_over_type<T>());
  if (!bytes) return std::nullopt;
  T value{};
  if (auto ec = codec::decode(as_bytes(*bytes), codec::encoding::binary, value))
    throw hand_over_error("the hand-over \"" + key + "\" does not decode as " +
                          hand_over_type<T>() + ": " + ec.message());
  return value;
}

}  // namespace ember::app

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/app/impl/host.hpp"
#endif
