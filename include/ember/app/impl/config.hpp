// ember: the bodies of `parse_config`, `load_config`, `to_server_options` and the config
// structs' members (ember/app/config.hpp): config.json read with simdjson's DOM, then validated.
//
// Validation throws a `detail::config_failure` at the first problem; `parse_config` catches it
// and returns it as a `config_error`, adding the line of the offending key (found by walking
// the text along the error's JSON path, since simdjson's DOM keeps no positions).
#pragma once

#include "ember/app/config.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>

// One purpose per header: reading JSON values (config_json), the servers section
// (config_servers), db and memcached (config_data), the whole-file checks (config_cluster).
#include "ember/app/detail/impl/config_cluster.hpp"
#include "ember/app/detail/json_path.hpp"

namespace ember::app {

EMBER_DECL bool listener_config::operator==(const listener_config& o) const {
  return port == o.port && framing == o.framing && encoding == o.encoding &&
         firefly.magic == o.firefly.magic && firefly.version == o.firefly.version &&
         firefly.server_version == o.firefly.server_version && idle_timeout == o.idle_timeout &&
         websocket == o.websocket && tls == o.tls && shared == o.shared;
}

EMBER_DECL const server_config* cluster_config::find(std::string_view name) const noexcept {
  for (const auto& s : servers) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

EMBER_DECL std::vector<const server_config*> cluster_config::of_type(std::string_view type) const {
  std::vector<const server_config*> out;
  for (const auto& s : servers) {
    if (s.type == type) out.push_back(&s);
  }
  return out;
}

EMBER_DECL std::vector<const server_config*> cluster_config::nodes_of(std::string_view root) const {
  std::vector<const server_config*> out;
  for (const auto& s : servers) {
    for (const auto& r : s.remoteport) {
      if (r.rootname == root) {
        out.push_back(&s);
        break;
      }
    }
  }
  return out;
}

EMBER_DECL std::string config_error::what() const {
  std::string out = file;
  if (line != 0) out += ":" + std::to_string(line);
  out += ": ";
  if (!path.empty()) out += path + ": ";
  out += message;
  return out;
}

EMBER_DECL config_result parse_config(std::string_view json_text, std::string_view file_name) {
  try {
    auto c = detail::read_cluster(json_text);
    for (auto& [name, m] : c.modules) m.file = std::string(file_name);
    return c;
  } catch (detail::config_failure& f) {
    config_error e;
    e.file = std::string(file_name);
    e.line = f.line != 0 ? f.line : detail::line_of(json_text, f.path, f.occurrence);
    e.path = f.path.str();
    e.message = std::move(f.message);
    return e;
  }
}

EMBER_DECL config_result load_config(const std::filesystem::path& file) {
  const auto cannot = [&](int err) {
    return config_error{file.string(), 0, {},
                        fmt::format("cannot read the config file: {}",
                                    std::generic_category().message(err))};
  };
  std::FILE* f = std::fopen(file.c_str(), "rb");
  if (!f) return cannot(errno);
  std::string text;
  char chunk[16 * 1024];
  std::size_t n = 0;
  while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0) text.append(chunk, n);
  const int err = std::ferror(f) ? errno : 0;
  std::fclose(f);
  if (err != 0) return cannot(err);
  return parse_config(text, file.string());
}

EMBER_DECL void require_readable(const std::string& file, std::string_view field) {
  if (std::FILE* f = std::fopen(file.c_str(), "rb")) {
    std::fclose(f);
    return;
  }
  const int err = errno;
  throw std::invalid_argument(
      fmt::format("{}: cannot read '{}': {}", field, file, std::strerror(err)));
}

EMBER_DECL net::server_options to_server_options(const server_config& s) {
  if (!s.netport) {
    throw std::invalid_argument(
        fmt::format("to_server_options: server '{}' has no netport", s.name));
  }
  const listener_config& l = *s.netport;
  const limits_config& lim = s.limits;
  net::server_options o;
  o.name = s.name;
  o.host = s.host;
  o.port = l.port;
  o.framing = l.framing;
  o.firefly = l.firefly;
  o.firefly_encoding = l.encoding;
  o.max_frame = lim.max_frame;
  o.max_write_queue = lim.max_write_queue;
  o.max_in_flight = lim.max_in_flight;
  o.max_sessions = lim.max_sessions;
  o.max_sessions_per_address = lim.max_sessions_per_address;
  o.max_request_rate = lim.max_request_rate;
  o.request_burst = lim.request_burst;
  o.idle_timeout = l.idle_timeout.value_or(lim.idle_timeout);
  o.frame_timeout = lim.frame_timeout;
  o.handshake_timeout = lim.handshake_timeout;
  o.resume_grace = lim.resume_grace;
  o.resume_outbox = lim.resume_outbox;
  o.overload = lim.overload;
  o.reuse_port = l.shared > 0;
  if (l.websocket) {
    o.websocket_port = l.websocket->port;
    o.websocket_origins = l.websocket->origins;
    o.websocket_max_request = l.websocket->max_request;
  }
  if (l.tls) {
    // Named by their field here, where the server starts, rather than as OpenSSL's complaint.
    require_readable(l.tls->cert, fmt::format("servers.{}.netport.tls.cert", s.name));
    require_readable(l.tls->key, fmt::format("servers.{}.netport.tls.key", s.name));
    if (!l.tls->ca.empty())
      require_readable(l.tls->ca, fmt::format("servers.{}.netport.tls.ca", s.name));
    o.tls = net::tls_server_options{.cert_file = l.tls->cert, .key_file = l.tls->key};
    o.tls_tcp = l.tls->tcp;
    o.tls_websocket = l.tls->websocket;
  }
  return o;
}

EMBER_DECL net::server_options to_server_options(const server_config& s, const cluster_config& c) {
  net::server_options o = to_server_options(s);
  o.peer_secret = c.secret;  // a take-over between them proves it (server_options::peer_secret)
  // Every other native client listener of the cluster: a session left there can be resumed
  // through this one, from any of this server's listeners. One whose client port speaks TLS
  // is reached through TLS, its certificate checked with its `netport.tls.ca`; without one
  // it cannot be checked, and is left out. Not one whose port is shared either: a connection
  // to it reaches any of its servers.
  for (const auto& other : c.servers) {
    if (other.name == s.name || !other.netport || other.netport->framing != net::framing::native ||
        other.netport->shared != 0)
      continue;
    const auto& tls = other.netport->tls;
    const std::uint16_t websocket_port = other.netport->websocket ? other.netport->websocket->port : 0;
    if (!tls || !tls->tcp) {
      o.resume_peers.push_back({other.name, other.host, other.netport->port, std::nullopt, websocket_port});
    } else if (!tls->ca.empty()) {
      require_readable(tls->ca, fmt::format("servers.{}.netport.tls.ca", other.name));
      o.resume_peers.push_back({other.name, other.host, other.netport->port,
                                net::tls_client_options{.ca_file = tls->ca}, websocket_port});
    }
  }
  return o;
}

}  // namespace ember::app
