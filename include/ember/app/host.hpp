// ember: assembles one server of a cluster from its config.json entry: its client listener
// (`netport`), its root (`rootport`), its links to the roots it joins (`remoteport`), and
// the routing between client-facing servers and backends. The host owns all of it, so a
// reload of the handler module leaves sessions, groups and links untouched.
//
//   auto cfg = ember::app::load_config("config.json").value();
//   asio::io_context io;
//   ember::app::host h(io, cfg, "game1");
//   game_logic logic(h);                                 // handlers may use h.backend() ...
//   ember::dispatch_table table;
//   mygame::register_commands(table, logic);
//   h.start(std::move(table), mygame::command_list);
//   io.run();
//
// Roles follow from the config: a server with a `netport` is a gateway; it forwards the
// client commands its type does not serve to the servers of their type that joined it (its
// `rootport`). A server that joins a root with a `netport` is a backend of that gateway.
#pragma once

#include <chrono>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <asio/io_context.hpp>

#include "ember/app/config.hpp"
#include "ember/cluster/backend.hpp"
#include "ember/cluster/gateway.hpp"
#include "ember/cluster/node.hpp"
#include "ember/cluster/ownership.hpp"
#include "ember/cluster/root.hpp"
#include "ember/command_info.hpp"
#include "ember/net/server.hpp"

namespace ember::data {
class store;
}

namespace ember::app {

/// One server process of a cluster, built from `config.json`.
class host {
 public:
  /// Throws `std::invalid_argument` when `name` is not a server of `config`.
  host(asio::io_context& io, cluster_config config, std::string_view name)
      : io_(io), config_(std::move(config)) {
    self_ = config_.find(name);
    if (!self_)
      throw std::invalid_argument("config has no server named '" + std::string(name) + "'");
    log::set_level(self_->log.level);
  }
  ~host() = default;
  host(const host&) = delete;
  host& operator=(const host&) = delete;

  /// Builds and starts everything the config entry asks for. `table` serves this server's
  /// commands and calls (shared by clients and links); `commands` is the schema's
  /// `command_list`, from which a gateway learns what to forward where. Throws
  /// `std::system_error` when a port cannot be bound.
  void start(dispatch_table table, std::span<const command_info> commands) {
    const auto& s = *self_;
    remember(commands);
    table.set_stats(stats_);              // one count per server: clients and links alike
    dispatch_table client_table = table;  // gateways add their forwarding entries to it
    table_ = std::make_shared<const dispatch_table>(std::move(table));
    const auto link = link_options_();
    const auto lease = cluster::default_lease;
    if (s.rootport) {
      root_ = std::make_unique<cluster::root>(
          io_.get_executor(),
          cluster::root_options{s.name, config_.secret, s.host, *s.rootport, link}, table_);
      registry_ = std::make_unique<cluster::owner_registry>(io_.get_executor(), *root_,
                                                            backends_of(s.name), lease,
                                                            s.call_timeout / 2);
      root_->start();
    }
    if (s.netport) {
      clients_ = std::make_unique<net::server>(io_, to_server_options(s, config_), dispatch_table{});
      if (root_) {
        gateway_ = std::make_unique<cluster::gateway>(
            *clients_, *root_, cluster::gateway_options{s.name, s.call_timeout});
        gateway_->add_routes(client_table, commands_, s.type);
      }
      clients_->set_table(std::move(client_table));
      clients_->start();
    }
    for (const auto& r : s.remoteport) {
      const server_config* target = config_.find(r.rootname);
      const bool to_gateway = target && target->netport;
      if (to_gateway && !backend_)
        backend_ = std::make_unique<cluster::backend>(
            io_.get_executor(), cluster::backend_options{s.name, s.type}, table_);
      cluster::node_options o;
      o.name = s.name;
      o.type = s.type;
      o.secret = config_.secret;
      o.root_host = r.host;
      o.root_port = r.rootport;
      o.root_name = r.rootname;
      o.link = link;
      auto node = std::make_unique<cluster::node_connector>(io_.get_executor(), o, table_);
      if (to_gateway) {
        node->on_connected([this](const cluster::node_connector::link_ptr& l) {
          backend_->attach(l);
        });
      }
      nodes_.push_back({r.rootname, std::move(node)});
    }
    // Players are owned through the first root joined that is not a gateway (e.g. gate).
    if (backend_) {
      for (auto& n : nodes_) {
        const server_config* root_cfg = config_.find(n.root);
        if (root_cfg && !root_cfg->netport) {
          ownership_ = std::make_unique<cluster::player_ownership>(io_.get_executor(),
                                                                   *n.connector, lease);
          break;
        }
      }
    }
    for (auto& n : nodes_) n.connector->start();
    log::info("{} ({}) started{}{}", s.name, s.type,
              clients_ ? fmt::format(", clients on port {}", clients_->port()) : "",
              root_ ? fmt::format(", links on port {}", root_->port()) : "");
  }

  /// Swaps in a new command table (a reload of the handler module) between requests:
  /// requests already running finish on the old one; sessions, groups and links stay.
  void replace_table(dispatch_table table) {
    table.set_stats(stats_);  // the counts go on across reloads
    dispatch_table client_table = table;
    table_ = std::make_shared<const dispatch_table>(std::move(table));
    if (clients_) {
      if (gateway_) gateway_->add_routes(client_table, commands_, self_->type);
      clients_->set_table(std::move(client_table));
    }
    if (root_) root_->set_commands(table_);
    for (auto& n : nodes_) n.connector->set_commands(table_);
    if (backend_) backend_->set_table(table_);
  }

  /// Bytes kept for the next module across a reload (see ember/app/module.hpp).
  void stash(std::string key, std::string bytes) { stash_[std::move(key)] = std::move(bytes); }
  /// Takes what a previous module stashed under `key` (empty if nothing).
  std::string take_stash(const std::string& key) {
    auto it = stash_.find(key);
    if (it == stash_.end()) return {};
    auto out = std::move(it->second);
    stash_.erase(it);
    return out;
  }

  /// Stops gracefully: the client listener first (requests in flight finish), then what was
  /// registered with `on_stop` (the data layer writes back), then links.
  asio::awaitable<void> stop(std::chrono::milliseconds grace = std::chrono::seconds(5)) {
    if (clients_) co_await clients_->stop(grace);
    for (auto& hook : stop_hooks_) {
      try {
        co_await hook();
      } catch (const std::exception& e) {
        log::error("stopping: {}", e.what());
      }
    }
    for (auto& n : nodes_) n.connector->stop();
    if (root_) root_->stop();
  }

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
  const command_stats& per_command() const noexcept { return *stats_; }
  /// The schema's command list the server was started with (names and server types).
  std::span<const command_info> commands() const noexcept { return commands_; }
  /// Writes `per_command()` as a JSON array, with the commands' names, and "forwarded" for
  /// those a gateway sends to another server type (see `command_stats::write_json`).
  void write_command_stats(codec::json_writer& w) const {
    stats_->write_json(w, commands_, gateway_ ? std::string_view(self_->type) : std::string_view());
  }

  /// This server's config entry, and the whole config.
  const server_config& self() const noexcept { return *self_; }
  const cluster_config& config() const noexcept { return config_; }
  asio::io_context& context() noexcept { return io_; }

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
  cluster::node_connector* node(std::string_view rootname) noexcept {
    for (auto& n : nodes_)
      if (n.root == rootname) return n.connector.get();
    return nullptr;
  }

 private:
  // The servers joining root `root` that are backends of some gateway: they own players.
  std::set<std::string> backends_of(const std::string& root) const {
    std::set<std::string> out;
    for (const server_config* s : config_.nodes_of(root))
      for (const auto& r : s->remoteport)
        if (const server_config* t = config_.find(r.rootname); t && t->netport) out.insert(s->name);
    return out;
  }

  // A copy of the schema's command list that does not point into a module's memory.
  void remember(std::span<const command_info> commands) {
    names_.clear();
    for (const auto& c : commands) names_.emplace_back(c.name), names_.emplace_back(c.server);
    commands_.clear();
    for (std::size_t i = 0; i < commands.size(); ++i) {
      auto c = commands[i];
      c.name = names_[2 * i];
      c.server = names_[2 * i + 1];
      commands_.push_back(c);
    }
  }

  cluster::link_options link_options_() const {
    cluster::link_options o;
    o.default_timeout = self_->call_timeout;
    return o;
  }

  struct node_entry {
    std::string root;
    std::unique_ptr<cluster::node_connector> connector;
  };

  asio::io_context& io_;
  cluster_config config_;
  const server_config* self_ = nullptr;
  std::shared_ptr<const dispatch_table> table_;
  std::shared_ptr<command_stats> stats_ = std::make_shared<command_stats>();
  std::deque<std::string> names_;  // stable addresses for commands_
  std::vector<command_info> commands_;
  std::map<std::string, std::string> stash_;
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
};

}  // namespace ember::app
