// ember: the bodies of app::host (ember/app/host.hpp): building a server's listener, root,
// links and routing from its config entry, reloading its table, stopping it.
#pragma once

#include "ember/app/host.hpp"

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <utility>

#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "ember/cluster/backend.hpp"
#include "ember/cluster/gateway.hpp"
#include "ember/cluster/node.hpp"
#include "ember/cluster/ownership.hpp"
#include "ember/cluster/root.hpp"
#include "ember/app/detail/event_relay.hpp"
#include "ember/app/metrics.hpp"
#include "ember/detail/process_metrics.hpp"
#include "ember/detail/prometheus.hpp"
#include "ember/log.hpp"

namespace ember::app {

EMBER_DECL host::host(asio::io_context& io, cluster_config config, std::string_view name)
    : io_(io), config_(std::move(config)), events_(std::make_unique<modules::event_bus>()) {
  self_ = config_.find(name);
  if (!self_)
    throw std::invalid_argument("config has no server named '" + std::string(name) + "'");
  relay_ = std::make_unique<detail::event_relay>(self_->name, *events_);
  link_counters_ = std::make_shared<cluster::link_counters>();
  log::set_level(self_->log.level);
  log::set_format(self_->log.format);
}

EMBER_DECL host::~host() { metrics_.reset(); }

EMBER_DECL void host::start(net::dispatch_table table, std::span<const command_info> commands) {
  const auto& s = *self_;
  remember(commands);
  table.set_stats(stats_);              // one count per server: clients and links alike
  net::dispatch_table client_table = table;  // gateways add their forwarding entries to it
  table_ = std::make_shared<const net::dispatch_table>(std::move(table));
  const auto link = link_options_();
  const auto lease = cluster::default_lease;
  if (s.rootport) {
    root_ = std::make_unique<cluster::root>(
        io_.get_executor(),
        cluster::root_options{s.name, config_.secret, s.host, *s.rootport, link}, table_);
    registry_ = std::make_unique<cluster::owner_registry>(io_.get_executor(), *root_,
                                                          backends_of(s.name), lease,
                                                          s.call_timeout / 2);
    root_->on_join([this](const cluster::root::link_ptr& l) { relay_->attach(l); });
    root_->start();
  }
  if (s.netport) {
    clients_ = std::make_unique<net::server>(io_, to_server_options(s, config_), net::dispatch_table{});
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
    node->on_connected([this](const cluster::node_connector::link_ptr& l) { relay_->attach(l); });
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
        // A player's requests here finish before it is saved and moves (a login elsewhere,
        // a drain): its releases wait in its queue.
        ownership_->serialize_releases([b = backend_.get()](std::uint64_t user, asio::awaitable<void> work) {
          return [](cluster::backend* b, std::uint64_t user, asio::awaitable<void> work) -> asio::awaitable<void> {
            co_await b->for_player(user, [](asio::awaitable<void> w) -> asio::awaitable<bool> {
              co_await std::move(w);
              co_return true;
            }(std::move(work)));
          }(b, user, std::move(work));
        });
        break;
      }
    }
  }
  for (auto& n : nodes_) n.connector->start();
  started_ = true;
  serve_metrics();
  log::info("{} ({}) started{}{}{}", s.name, s.type,
            clients_ ? fmt::format(", clients on port {}", clients_->port()) : "",
            root_ ? fmt::format(", links on port {}", root_->port()) : "",
            metrics_ ? fmt::format(", metrics on port {}", metrics_->port()) : "");
}

EMBER_DECL void host::serve_metrics() {
  if (metrics_ || !self_->metricsport) return;
  metrics_ = std::make_unique<metrics_endpoint>(
      io_.get_executor(), *self_->metricsport,
      metrics_sources{[this](ember::detail::prometheus_writer& w) { write_metrics(w); },
                      [this] { return not_ready(); }});
}

EMBER_DECL std::uint16_t host::metrics_port() const noexcept {
  return metrics_ ? metrics_->port() : 0;
}

EMBER_DECL std::uint64_t& host::counter(std::string_view name, std::string_view help) {
  if (auto it = counters_.find(name); it != counters_.end()) return it->second.value;
  const bool valid =
      !name.empty() && name.ends_with("_total") &&
      std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == ':';
      }) &&
      !(name[0] >= '0' && name[0] <= '9');
  if (!valid)
    throw std::invalid_argument(fmt::format(
        "counter '{}': a Prometheus counter name ([a-zA-Z_:][a-zA-Z0-9_:]*) ending in _total", name));
  // The names the host writes itself: a second family of one name breaks the scrape.
  std::string text;
  ember::detail::prometheus_writer w(text);
  write_metrics(w);
  if (text.find(fmt::format("# TYPE {} ", name)) != std::string::npos)
    throw std::invalid_argument(fmt::format("counter '{}': the host writes a metric of that name", name));
  if (counters_.size() >= max_counters)
    throw std::invalid_argument(fmt::format("counter '{}': a server has at most {} counters", name,
                                            max_counters));
  return counters_.emplace(std::string(name), counter_entry{std::string(help), 0})
      .first->second.value;
}

EMBER_DECL void host::add_health_source(std::string name, health_source source) {
  health_.insert_or_assign(std::move(name), std::move(source));
}

EMBER_DECL void host::remove_health_source(std::string_view name) {
  if (auto it = health_.find(name); it != health_.end()) health_.erase(it);
}

EMBER_DECL std::string host::not_ready() const {
  if (stopping_) return "stopping";
  if (drain_ != drain_phase::serving) return std::string(drain_state());
  for (const auto& [name, source] : health_) {
    if (!source.not_ready) continue;
    if (auto why = source.not_ready(); !why.empty()) return why;
  }
  if (!started_) return "starting";
  for (const auto& n : nodes_)
    if (!n.connector->connected()) return "not linked to root '" + n.root + "'";
  return {};
}

EMBER_DECL void host::write_metrics(ember::detail::prometheus_writer& w) const {
  using ember::detail::prometheus_label;
  ember::detail::write_process_metrics(w);
  const auto& s = *self_;
  w.family("ember_server_info", "gauge", "This server's name and type (always 1).");
  w.sample("ember_server_info", {{"server", s.name}, {"type", s.type}}, 1);
  w.single("ember_ready", "gauge", "1 when /readyz answers ready, else 0.", not_ready().empty() ? 1 : 0);
  if (clients_) {
    const auto& c = *clients_;
    const auto& st = c.stats();
    // By listener: what each listener speaks (tcp, tls, firefly, websocket, wss...), at most
    // two series a metric, since a server has a client port and perhaps a WebSocket port.
    const auto by_listener = [&](std::string_view name, std::string_view type, std::string_view help,
                                 auto value) {
      w.family(name, type, help);
      for (const auto l : {net::listener::client_port, net::listener::websocket})
        if (c.has_listener(l)) w.sample(name, {{"listener", c.listener_name(l)}}, value(static_cast<std::size_t>(l)));
    };
    const auto sessions = c.sessions_by_listener();
    by_listener("ember_sessions", "gauge", "Client sessions open (parked ones included), by listener.",
                [&](std::size_t l) { return sessions[l]; });
    w.single("ember_requests_in_flight", "gauge", "Client requests dispatched and not yet answered.",
             c.in_flight());
    by_listener("ember_connections_accepted_total", "counter", "Client connections accepted, by listener.",
                [&](std::size_t l) { return st.by_listener[l].accepted; });
    by_listener("ember_connections_refused_total", "counter",
                "Client connections turned away by session limits, by listener.",
                [&](std::size_t l) { return st.by_listener[l].refused; });
    by_listener("ember_connections_closed_total", "counter", "Client connections closed, by listener.",
                [&](std::size_t l) { return st.by_listener[l].closed; });
    w.single("ember_client_requests_total", "counter", "Requests received from clients.", st.requests);
    w.single("ember_client_request_failures_total", "counter",
             "Client requests answered with an error frame.", st.failed);
    w.single("ember_sessions_parked_total", "counter",
             "Sessions kept for a resume after their connection was lost.", st.parked);
    w.single("ember_sessions_resumed_total", "counter", "Sessions resumed on a new connection.",
             st.resumed);
    w.single("ember_sessions_expired_total", "counter", "Parked sessions that ended unresumed.",
             st.expired);
    w.single("ember_pushes_total", "counter",
             "Push frames queued to client sessions (a broadcast counts each recipient).", st.pushes);
    w.single("ember_broadcasts_total", "counter",
             "Broadcasts to a group of client sessions, or to all of them.", st.broadcasts);
    w.single("ember_client_write_queue_bytes", "gauge",
             "Bytes queued for clients and not yet written, over all sessions.", c.queued_bytes());
    // The overload budget (limits.overload; docs/operations.md, "Sizing the overload budget").
    const auto& b = c.budget();
    w.family("ember_client_buffered_bytes", "gauge",
             "Memory held by client sessions' buffers, counted against the overload budget: "
             "output (queued, and kept for a resume) and input (frames not yet whole).");
    w.sample("ember_client_buffered_bytes", {{"kind", "output"}}, b.output());
    w.sample("ember_client_buffered_bytes", {{"kind", "input"}}, b.input());
    w.single("ember_client_buffered_bytes_peak", "gauge",
             "The most client sessions' buffers held at once since the server started.", b.peak());
    w.single("ember_overload_budget_bytes", "gauge",
             "limits.overload.max_buffered_bytes (0: no budget).", b.limited() ? b.max() : 0);
    w.single("ember_overloaded", "gauge",
             "1 while past the high watermark: new requests and connections are refused.",
             b.refusing() ? 1 : 0);
    w.single("ember_requests_refused_overloaded_total", "counter",
             "Client requests answered `overloaded` without running (past the high watermark).",
             st.overload_refused);
    w.single("ember_sessions_shed_total", "counter",
             "Client sessions closed for holding the most when the budget was passed.", st.shed);
  }
  stats_->write_prometheus(w, commands_);
  if (gateway_) {
    w.single("ember_forwarded_requests_total", "counter",
             "Client requests this gateway forwarded to a backend.", gateway_->forwarded());
    w.single("ember_forward_unavailable_total", "counter",
             "Client requests this gateway could not forward (no backend of their type).",
             gateway_->unavailable());
  }
  if (!nodes_.empty()) {
    w.family("ember_link_up", "gauge", "1 while the link to a root this server joins is up, else 0.");
    for (const auto& n : nodes_)
      w.sample("ember_link_up", {{"root", n.root}}, n.connector->connected() ? 1 : 0);
    w.family("ember_link_connections_total", "counter",
             "Links made to a root this server joins (a reconnect adds one).");
    for (const auto& n : nodes_)
      w.sample("ember_link_connections_total", {{"root", n.root}}, n.connector->connections());
  }
  if (root_)
    w.single("ember_linked_nodes", "gauge", "Servers linked to this root.", root_->size());
  if (root_ || !nodes_.empty()) {
    const auto& lc = *link_counters_;
    w.family("ember_link_calls_total", "counter",
             "Calls this server made over its links, by result: ok, error (the peer answered "
             "with an error), timeout, failed (not sent, or lost with the link).");
    w.sample("ember_link_calls_total", {{"result", "ok"}},
             lc.calls - lc.call_errors - lc.call_timeouts - lc.call_failures);
    w.sample("ember_link_calls_total", {{"result", "error"}}, lc.call_errors);
    w.sample("ember_link_calls_total", {{"result", "timeout"}}, lc.call_timeouts);
    w.sample("ember_link_calls_total", {{"result", "failed"}}, lc.call_failures);
    w.single("ember_link_notifies_total", "counter",
             "One-way notifies (events, pushes to other servers) this server sent over its links.",
             lc.notifies);
    std::uint64_t queued = 0;
    for (const auto& n : nodes_)
      if (auto l = n.connector->current()) queued += l->queued_bytes();
    if (root_)
      for (const auto& l : root_->children()) queued += l->queued_bytes();
    w.single("ember_link_write_queue_bytes", "gauge",
             "Bytes queued on this server's links and not yet written.", queued);
  }
  if (backend_) {
    w.single("ember_remote_sessions", "gauge", "Client sessions of gateways this backend serves.",
             backend_->session_count());
    w.single("ember_gateways", "gauge", "Gateways linked to this backend.", backend_->gateway_count());
  }
  if (ownership_)
    w.single("ember_players_owned", "gauge", "Players this backend owns.", ownership_->size());
  for (const auto& [name, source] : health_)
    if (source.metrics) source.metrics(w);
  for (const auto& [name, c] : counters_) w.single(name, "counter", c.help, c.value);
}

EMBER_DECL void host::replace_table(net::dispatch_table table) {
  table.set_stats(stats_);  // the counts go on across reloads
  net::dispatch_table client_table = table;
  table_ = std::make_shared<const net::dispatch_table>(std::move(table));
  if (clients_) {
    if (gateway_) gateway_->add_routes(client_table, commands_, self_->type);
    clients_->set_table(std::move(client_table));
  }
  if (root_) root_->set_commands(table_);
  for (auto& n : nodes_) n.connector->set_commands(table_);
  if (backend_) backend_->set_table(table_);
}

EMBER_DECL void host::hand_over_bytes(std::string key, std::string type, std::string bytes) {
  handed_[std::move(key)] = handed{std::move(type), std::move(bytes)};
}

EMBER_DECL std::optional<std::string> host::take_over_bytes(const std::string& key,
                                                            const std::string& type) {
  auto it = handed_.find(key);
  if (it == handed_.end()) return std::nullopt;
  if (it->second.type != type)
    throw hand_over_error("the previous build handed over \"" + key + "\" as " +
                          it->second.type + ", this build takes " + type);
  auto bytes = std::move(it->second.bytes);
  handed_.erase(it);
  return bytes;
}

EMBER_DECL std::string host::take_stash(const std::string& key) {
  auto it = stash_.find(key);
  if (it == stash_.end()) return {};
  auto out = std::move(it->second);
  stash_.erase(it);
  return out;
}

EMBER_DECL asio::awaitable<void> host::stop(std::chrono::milliseconds grace) {
  stopping_ = true;
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

EMBER_DECL std::string_view host::drain_state() const noexcept {
  switch (drain_) {
    case drain_phase::draining: return "draining";
    case drain_phase::drained: return "drained";
    case drain_phase::serving: break;
  }
  return "serving";
}

EMBER_DECL std::string host::cannot_drain() const {
  if (backend_) return {};
  if (!clients_)
    return self_->name + " is neither a backend nor a client-facing server: it has nothing to drain";
  if (clients_->options().framing != net::framing::native)
    return self_->name + " speaks the Firefly framing: its sessions cannot resume elsewhere";
  if (clients_->options().resume_peers.empty() || clients_->options().resume_grace.count() == 0)
    return self_->name + " has no other client-facing server to move its sessions to (or "
                         "resuming is off: limits.resume_grace_ms is 0)";
  if (clients_->options().peer_secret.empty())
    return self_->name + " has no secret to hand its sessions over with: set the config's \"secret\"";
  return {};
}

EMBER_DECL asio::awaitable<std::string> host::drain() {
  if (auto why = cannot_drain(); !why.empty()) co_return why;
  if (drain_ != drain_phase::serving) co_return std::string();  // draining or drained already
  drain_ = drain_phase::draining;
  const auto began = std::chrono::steady_clock::now();
  if (!backend_) {
    // A client-facing server: its sessions move to the others; a parked one may come back
    // (and be told) until its grace period ends.
    const auto& o = clients_->options();
    auto r = co_await clients_->drain(o.resume_grace + o.handshake_timeout);
    drained_players_ = r.moved;
    drain_ms_ = static_cast<std::uint64_t>(r.took.count());
    drain_ = drain_phase::drained;
    co_return std::string();
  }
  log::info("draining: no new players; the {} players here move to the other {} servers",
            ownership_ ? ownership_->size() : 0, self_->type);
  asio::steady_timer tick(io_);
  std::size_t unbound = 1;
  // Players that were here during the drain; most move on their next request (the registry
  // makes this server release them), the rest when the drain gives them up.
  std::set<std::uint64_t> here;
  auto note_players = [&] {
    if (ownership_)
      for (const auto user : ownership_->players()) here.insert(user);
  };
  note_players();
  // A round unbinds the sessions bound here, lets their requests here finish and gives their
  // players up; a request that was already here may have bound a session again (a login):
  // rounds go on until one unbinds nobody and nobody is owned (bounded).
  for (int round = 0; round < 20 && (unbound != 0 || (ownership_ && ownership_->size() != 0)); ++round) {
    unbound = co_await backend_->leave_gateways();
    for (int i = 0; i < 2'000 && !backend_->idle(); ++i) {  // at most 10 s
      tick.expires_after(std::chrono::milliseconds(5));
      co_await tick.async_wait(asio::use_awaitable);
    }
    if (!ownership_) continue;
    note_players();
    for (const auto user : ownership_->players()) {
      try {
        co_await ownership_->give_up(user);
      } catch (const std::exception& e) {
        log::error("draining: saving player {} failed: {}; it stays here, retried", user, e.what());
      }
    }
  }
  drain_ms_ = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::steady_clock::now() - began).count());
  for (const auto user : here) drained_players_ += ownership_ && ownership_->owns(user) ? 0 : 1;
  drain_ = drain_phase::drained;
  log::info("drained in {} ms: {} players moved, {} still owned", drain_ms_, drained_players_,
            ownership_ ? ownership_->size() : 0);
  co_return std::string();
}

EMBER_DECL void host::write_command_stats(codec::json_writer& w) const {
  stats_->write_json(w, commands_, gateway_ ? std::string_view(self_->type) : std::string_view());
}

EMBER_DECL cluster::node_connector* host::node(std::string_view rootname) noexcept {
  for (auto& n : nodes_)
    if (n.root == rootname) return n.connector.get();
  return nullptr;
}

EMBER_DECL std::set<std::string> host::backends_of(const std::string& root) const {
  std::set<std::string> out;
  for (const server_config* s : config_.nodes_of(root))
    for (const auto& r : s->remoteport)
      if (const server_config* t = config_.find(r.rootname); t && t->netport) out.insert(s->name);
  return out;
}

EMBER_DECL void host::remember(std::span<const command_info> commands) {
  names_.clear();
  for (const auto& c : commands) names_.emplace_back(c.name), names_.emplace_back(c.server);
  commands_.clear();
  for (std::size_t i = 0; i < commands.size(); ++i) {
    auto c = commands[i];
    c.name = names_[2 * i];
    c.server = names_[2 * i + 1];
    if (c.id >= first_module_id && c.id <= last_module_id) {
      // A gameplay module's command: it names the module; config.json places the module.
      const auto m = config_.modules.find(c.server);
      if (m == config_.modules.end())
        throw std::invalid_argument(fmt::format(
            "modules.{0}: the game's schema imports module '{0}' (command {1} '{2}'): say which "
            "server type serves it in config.json: \"modules\": {{\"{0}\": {{\"server\": \"TYPE\"}}}}",
            c.server, c.id, c.name));
      names_[2 * i + 1] = m->second.server;
      c.server = names_[2 * i + 1];
    }
    commands_.push_back(c);
  }
}

EMBER_DECL cluster::link_options host::link_options_() const {
  cluster::link_options o;
  o.default_timeout = self_->call_timeout;
  o.counters = link_counters_;
  if (const auto& t = self_->link_tls) {
    const std::string at = "servers." + self_->name + ".link_tls.";
    require_readable(t->cert, at + "cert");
    require_readable(t->key, at + "key");
    require_readable(t->ca, at + "ca");
    o.tls = cluster::link_tls{.cert_file = t->cert, .key_file = t->key, .ca_file = t->ca};
  }
  return o;
}

}  // namespace ember::app
