// ember: the whole-file checks of config.json — the `master`, every remoteport against the
// root it names, no cycle of roots, no two listeners on one port — and `read_cluster`, which
// reads the file's sections in order and runs them.
#pragma once

#include "ember/app/config.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>

#include "ember/app/detail/json_path.hpp"
#include "ember/app/detail/impl/config_data.hpp"
#include "ember/app/detail/impl/config_json.hpp"
#include "ember/app/detail/impl/config_servers.hpp"

namespace ember::app::detail {

/// True for addresses that listen on every interface of a machine.
inline bool is_wildcard(std::string_view host) noexcept {
  return host == "0.0.0.0" || host == "::";
}

/// A port some process listens on, and where the config says so.
struct port_use {
  std::string host;
  std::uint16_t port = 0;
  json_path path;
};

inline constexpr std::size_t min_secret_length = 16;

inline constexpr std::string_view master_keys[] = {"host", "rootport", "webport", "token",
                                                   "prometheus_sd"};
inline constexpr key_hint master_hints[] = {{"roothost", "Firefly's 'roothost' is 'host' here"}};

inline master_config read_master(element v, const json_path& p) {
  const members m(v, p, master_keys, master_hints);
  master_config c;
  if (auto e = m.get("host")) c.host = read_text(*e, m.at("host"), "a host name or address");
  if (auto e = m.get("rootport")) c.rootport = read_port(*e, m.at("rootport"));
  c.webport = read_port(m.required("webport", "the admin HTTP port, 1..65535"), m.at("webport"));
  if (auto e = m.get("prometheus_sd"))
    c.prometheus_sd = read_text(*e, m.at("prometheus_sd"), "a file name");
  c.token = read_string(
      m.required("token", "an admin token of at least 16 characters"), m.at("token"));
  if (c.token.size() < min_secret_length) {
    // The token itself is never printed.
    fail(m.at("token"), fmt::format("expected at least {} characters, got {}", min_secret_length,
                                    c.token.size()));
  }
  return c;
}

/// Checks every remoteport entry against the root it names and fills in its host and port.
inline void resolve_roots(std::vector<parsed_server>& servers) {
  std::vector<std::string_view> names;
  for (const auto& s : servers) names.push_back(s.config.name);
  for (auto& s : servers) {
    for (std::size_t i = 0; i < s.roots.size(); ++i) {
      pending_root& r = s.roots[i];
      const json_path name_path = r.path.key("rootname");
      const std::string& rootname = r.ref.rootname;
      if (rootname == s.config.name) {
        fail(name_path, fmt::format("'{}' is this server; a server cannot join itself", rootname));
      }
      const parsed_server* root = nullptr;
      for (const auto& other : servers) {
        if (other.config.name == rootname) root = &other;
      }
      if (!root) {
        fail(name_path,
             fmt::format("no server named '{}' (servers are: {})", rootname, join(names)));
      }
      if (!root->config.rootport) {
        fail(name_path, fmt::format("'{}' is not a root: it has no rootport", rootname));
      }
      for (std::size_t j = 0; j < i; ++j) {
        if (s.roots[j].ref.rootname == rootname) {
          fail(name_path,
               fmt::format("'{}' is joined twice (also by remoteport[{}])", rootname, j));
        }
      }
      if (!r.host_given) {
        r.ref.host = root->config.host;
      } else if (r.ref.host != root->config.host && !is_wildcard(root->config.host)) {
        fail(r.path.key("host"),
             fmt::format("'{}' listens on {}, not {}", rootname, root->config.host, r.ref.host));
      }
      if (!r.port_given) {
        r.ref.rootport = *root->config.rootport;
      } else if (r.ref.rootport != *root->config.rootport) {
        fail(r.path.key("rootport"), fmt::format("'{}' listens on port {}, not {}", rootname,
                                                 *root->config.rootport, r.ref.rootport));
      }
      // TLS under a link's authentication needs both ends.
      if (root->config.link_tls.has_value() != s.config.link_tls.has_value()) {
        fail(r.path, root->config.link_tls
                         ? fmt::format("root '{}' has link_tls: this server needs link_tls too",
                                       rootname)
                         : fmt::format("this server has link_tls, root '{}' has none", rootname));
      }
      s.config.remoteport.push_back(r.ref);
    }
  }
}

/// Refuses roots that join each other in a cycle: a node joins its roots, so a cycle would
/// have every server in it wait for another to come up first.
inline void check_cycles(const std::vector<parsed_server>& servers) {
  const std::size_t n = servers.size();
  std::vector<std::vector<std::size_t>> joins(n);
  for (std::size_t u = 0; u < n; ++u) {
    for (const auto& r : servers[u].roots) {
      for (std::size_t v = 0; v < n; ++v) {
        if (servers[v].config.name == r.ref.rootname) joins[u].push_back(v);
      }
    }
  }
  enum class mark : std::uint8_t { unseen, on_path, done };
  std::vector<mark> marks(n, mark::unseen);
  std::vector<std::size_t> path;
  auto visit = [&](auto& self, std::size_t u) -> void {
    marks[u] = mark::on_path;
    path.push_back(u);
    for (std::size_t i = 0; i < joins[u].size(); ++i) {
      const std::size_t v = joins[u][i];
      if (marks[v] == mark::on_path) {
        // Print the cycle from u, whose remoteport entry closes it: u -> v -> ... -> u.
        std::string cycle = servers[u].config.name;
        auto it = std::find(path.begin(), path.end(), v);
        for (; it != path.end(); ++it) cycle += " -> " + servers[*it].config.name;
        fail(servers[u].roots[i].path.key("rootname"),
             fmt::format("roots join each other in a cycle: {}", cycle));
      }
      if (marks[v] == mark::unseen) self(self, v);
    }
    path.pop_back();
    marks[u] = mark::done;
  };
  for (std::size_t u = 0; u < n; ++u) {
    if (marks[u] == mark::unseen) visit(visit, u);
  }
}

/// Refuses two listeners on one port of one host. Hosts are compared as written.
inline void check_ports(const cluster_config& c, const json_path& master_path,
                        const json_path& memcached_path,
                        const std::vector<parsed_server>& servers) {
  std::vector<port_use> uses;
  const auto use = [&](const std::string& host, std::uint16_t port, json_path path) {
    for (const auto& u : uses) {
      if (u.host == host && u.port == port) {
        fail(path, fmt::format("port {} on {} is already used by {}", port, host, u.path.str()));
      }
    }
    uses.push_back(port_use{host, port, std::move(path)});
  };
  if (c.master) {
    if (c.master->rootport) use(c.master->host, *c.master->rootport, master_path.key("rootport"));
    use(c.master->host, c.master->webport, master_path.key("webport"));
  }
  if (c.memcached) {
    for (std::size_t i = 0; i < c.memcached->servers.size(); ++i) {
      const auto& m = c.memcached->servers[i];
      use(m.host, m.port, memcached_path.key("servers").index(i));
    }
  }
  // A shared client port (`netport.shared`: N): its N servers are of one type and framing and
  // all say N; the first takes the port, the others join it.
  struct shared_port {
    const parsed_server* first;
    std::uint16_t count;
  };
  std::vector<shared_port> shared;
  const auto framing_name = [](net::framing f) { return f == net::framing::native ? "native" : "firefly"; };
  for (const auto& s : servers) {
    const auto& n = s.config.netport;
    if (n && n->shared) {
      auto it = std::find_if(shared.begin(), shared.end(), [&](const shared_port& sp) {
        return sp.first->config.host == s.config.host && sp.first->config.netport->port == n->port;
      });
      if (it != shared.end()) {
        const auto& f = *it->first;
        if (f.config.netport->shared != n->shared)
          fail(s.netport_path,
               fmt::format("port {} is shared by {} servers here and by {} at {}", n->port,
                           n->shared, f.config.netport->shared, f.netport_path.str()));
        if (f.config.type != s.config.type || f.config.netport->framing != n->framing)
          fail(s.netport_path,
               fmt::format("a shared port's servers are of one type and framing: this is {} "
                           "({}), {} is {} ({})", s.config.type, framing_name(n->framing),
                           f.config.name, f.config.type, framing_name(f.config.netport->framing)));
        ++it->count;
        continue;
      }
      shared.push_back(shared_port{&s, 1});
    }
    if (n) use(s.config.host, n->port, s.netport_path);
    if (s.config.netport && s.config.netport->websocket)
      use(s.config.host, s.config.netport->websocket->port, s.websocket_path);
    if (s.config.rootport) use(s.config.host, *s.config.rootport, s.rootport_path);
    if (s.config.metricsport)
      use(s.config.metricsport->host, s.config.metricsport->port, s.metricsport_path);
  }
  for (const auto& sp : shared)
    if (sp.count != sp.first->config.netport->shared)
      fail(sp.first->netport_path,
           fmt::format("\"shared\": {}, but {} server{} of the config {} port {} on {}",
                       sp.first->config.netport->shared, sp.count, sp.count == 1 ? "" : "s",
                       sp.count == 1 ? "has" : "have", sp.first->config.netport->port,
                       sp.first->config.host));
}

inline constexpr std::string_view top_keys[] = {"secret", "master", "db", "memcached",
                                                "defaults", "servers", "modules"};

/// `modules`: each gameplay module's server type, which must be a type of `servers`; the rest
/// of an entry is the module's to check (`module_options`).
inline void read_modules(element v, const json_path& p, const std::vector<parsed_server>& servers,
                         cluster_config& c) {
  const members list(v, p, {});
  for (const auto& [name, entry] : list.entries()) {
    const json_path at = p.key(name);
    const members m(entry, at, {});
    module_config mc;
    mc.server = read_text(m.required("server", "the server type that serves the module's commands"),
                          at.key("server"), "a server type");
    std::vector<std::string_view> types;
    for (const auto& s : servers) {
      if (std::find(types.begin(), types.end(), s.config.type) == types.end())
        types.push_back(s.config.type);
    }
    if (std::find(types.begin(), types.end(), mc.server) == types.end()) {
      fail(at.key("server"), fmt::format("no server of type '{}' (types are: {})", mc.server, join(types)));
    }
    mc.json = simdjson::minify(entry);
    c.modules.emplace(std::string(name), std::move(mc));
  }
}

inline cluster_config read_cluster(std::string_view text) {
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(text);
  element root;
  if (const auto err = parser.parse(padded).get(root); err != simdjson::SUCCESS) {
    const json_syntax_error where = find_syntax_error(text);
    const bool located = where.offset != std::string_view::npos;
    throw config_failure{
        json_path{},
        located ? fmt::format("invalid JSON: {} (simdjson: {})", where.reason,
                              simdjson::error_message(err))
                : fmt::format("invalid JSON: {}", simdjson::error_message(err)),
        0, located ? line_at(text, where.offset) : 0};
  }

  const json_path top;
  const members m(root, top, top_keys);
  cluster_config c;

  if (auto e = m.get("secret")) {
    c.secret = read_string(*e, m.at("secret"));
    if (c.secret.size() < min_secret_length) {
      // The secret itself is never printed.
      fail(m.at("secret"), fmt::format("expected at least {} characters, got {}",
                                       min_secret_length, c.secret.size()));
    }
  }
  if (auto e = m.get("master")) c.master = read_master(*e, m.at("master"));
  if (auto e = m.get("db")) c.db = read_db(*e, m.at("db"));
  if (auto e = m.get("memcached")) c.memcached = read_memcached(*e, m.at("memcached"));
  const server_defaults defaults =
      m.get("defaults") ? read_defaults(*m.get("defaults"), m.at("defaults")) : server_defaults{};
  c.log = defaults.log;

  const members list(m.required("servers", "an object of servers by name"), m.at("servers"), {});
  if (list.empty()) fail(list.path(), "expected at least one server, got an empty object");
  std::vector<parsed_server> servers;
  for (const auto& [name, v] : list.entries()) {
    servers.push_back(read_server(name, v, list.path().key(name), defaults));
  }

  resolve_roots(servers);
  check_cycles(servers);
  if (auto e = m.get("modules")) read_modules(*e, m.at("modules"), servers, c);
  check_ports(c, m.at("master"), m.at("memcached"), servers);

  std::optional<json_path> linked;  // the first setting that makes a link
  if (c.master && c.master->rootport) linked = m.at("master").key("rootport");
  for (const auto& s : servers) {
    if (s.config.db && !c.db) {
      fail(s.path.key("db"),
           "the server uses the database, but there is no top-level \"db\" section");
    }
    if (s.config.mem && !c.memcached) {
      fail(s.path.key("mem"),
           "the server uses memcached, but there is no top-level \"memcached\" section");
    }
    if (!linked && s.config.rootport) linked = s.rootport_path;
    if (!linked && !s.roots.empty()) linked = s.path.key("remoteport");
  }
  if (linked && c.secret.empty()) {
    fail(m.at("secret"), fmt::format("missing; links ({}) authenticate with a shared secret: "
                                     "expected a string of at least {} characters",
                                     linked->str(), min_secret_length));
  }

  for (auto& s : servers) c.servers.push_back(std::move(s.config));
  return c;
}

}  // namespace ember::app::detail
