// ember: the `servers` section of config.json and what each server inherits — `defaults`,
// limits, log, its client listener (`netport`, Firefly's framing) and the roots it joins
// (`remoteport`), read and checked one server at a time.
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
#include "ember/app/detail/impl/config_json.hpp"

namespace ember::app::detail {

/// The longest server name or type.
inline constexpr std::size_t max_name_length = 64;

inline void check_name(std::string_view name, const json_path& p, std::string_view what) {
  if (name.size() > max_name_length || !json_path::is_word(name)) {
    fail(p, fmt::format("expected {} of 1 to {} letters, digits, '_' or '-', got {:?}", what,
                        max_name_length, name));
  }
}

/// What the settings of `defaults` give every server before its own entry is read.
struct server_defaults {
  limits_config limits;
  log_config log;
  std::chrono::milliseconds call_timeout = server_config{}.call_timeout;
  std::optional<link_tls_config> link_tls;
};

/// One remoteport entry as written, before it is checked against the root it names.
struct pending_root {
  root_ref ref;
  bool host_given = false;
  bool port_given = false;
  json_path path;  ///< of the entry: servers.NAME.remoteport[i]
};

/// A server as read, with the paths the cross-server checks report.
struct parsed_server {
  server_config config;
  json_path path;  ///< servers.NAME
  json_path netport_path;   ///< where its client port is written (if it has one)
  json_path rootport_path;  ///< where its rootport is written (if it is a root)
  json_path metricsport_path;  ///< where its metrics port is written (if it has one)
  json_path websocket_path;    ///< where its WebSocket port is written (if it has one)
  std::vector<pending_root> roots;
};

inline constexpr std::string_view limit_keys[] = {
    "max_frame",     "max_write_queue",  "max_in_flight",    "max_sessions",
    "max_sessions_per_address",          "max_request_rate", "request_burst",
    "idle_timeout_ms", "frame_timeout_ms", "handshake_timeout_ms", "resume_grace_ms",
    "resume_outbox",   "overload"};

inline constexpr std::string_view overload_keys[] = {"max_buffered_bytes", "high_watermark",
                                                     "low_watermark"};
/// The largest overload budget a config may set: 1 TiB.
inline constexpr std::int64_t max_budget_limit = std::int64_t{1} << 40;

/// `limits.overload`: sets the fields `v` gives; the watermarks must keep 0 < low < high <= 1
/// (checked against the merged values, so a server may override one of them alone).
inline void read_overload(element v, const json_path& p, net::overload_options& out) {
  const members m(v, p, overload_keys);
  if (auto e = m.get("max_buffered_bytes")) {
    out.max_buffered_bytes = static_cast<std::size_t>(
        read_whole(*e, m.at("max_buffered_bytes"), 0, max_budget_limit,
                   "a size in bytes 0..1099511627776 (0: no budget)"));
  }
  auto fraction = [&](std::string_view key, double& field) {
    auto e = m.get(key);
    if (!e) return;
    const double f = read_number(*e, m.at(key), 0, "a fraction of max_buffered_bytes, 0 < f <= 1");
    if (f <= 0 || f > 1)
      fail(m.at(key), fmt::format("expected a fraction of max_buffered_bytes, 0 < f <= 1, got {}", f));
    field = f;
  };
  fraction("high_watermark", out.high_watermark);
  fraction("low_watermark", out.low_watermark);
  if (out.low_watermark >= out.high_watermark) {
    const auto key = m.get("low_watermark") ? "low_watermark" : "high_watermark";
    fail(m.at(key), fmt::format("low_watermark ({}) must be below high_watermark ({})",
                                out.low_watermark, out.high_watermark));
  }
}

/// Sets the fields of `out` that `v` gives; the others keep their values.
inline void read_limits(element v, const json_path& p, limits_config& out) {
  const members m(v, p, limit_keys);
  constexpr std::string_view bytes = "a size in bytes 1..1073741824";
  constexpr std::string_view count = "a whole number 1..2147483647";
  if (auto e = m.get("max_frame")) {
    out.max_frame =
        static_cast<std::size_t>(read_whole(*e, m.at("max_frame"), 1, max_frame_limit, bytes));
  }
  if (auto e = m.get("max_write_queue")) {
    out.max_write_queue =
        static_cast<std::size_t>(read_whole(*e, m.at("max_write_queue"), 1, max_frame_limit,
                                            bytes));
  }
  if (auto e = m.get("max_in_flight")) {
    out.max_in_flight =
        static_cast<std::uint32_t>(read_whole(*e, m.at("max_in_flight"), 1, max_count, count));
  }
  if (auto e = m.get("max_sessions")) {
    out.max_sessions =
        static_cast<std::size_t>(read_whole(*e, m.at("max_sessions"), 1, max_count, count));
  }
  if (auto e = m.get("max_sessions_per_address")) {
    out.max_sessions_per_address = static_cast<std::size_t>(
        read_whole(*e, m.at("max_sessions_per_address"), 1, max_count, count));
  }
  if (auto e = m.get("max_request_rate")) {
    out.max_request_rate = read_number(*e, m.at("max_request_rate"), 0,
                                       "requests per second, 0 (unlimited) or more");
  }
  if (auto e = m.get("request_burst")) {
    out.request_burst =
        read_number(*e, m.at("request_burst"), 1, "a number of requests, 1 or more");
  }
  if (auto e = m.get("idle_timeout_ms")) out.idle_timeout = read_ms(*e, m.at("idle_timeout_ms"));
  if (auto e = m.get("frame_timeout_ms")) out.frame_timeout = read_ms(*e, m.at("frame_timeout_ms"));
  if (auto e = m.get("handshake_timeout_ms")) {
    out.handshake_timeout = read_ms(*e, m.at("handshake_timeout_ms"));
  }
  if (auto e = m.get("resume_grace_ms")) {
    out.resume_grace = std::chrono::milliseconds(read_whole(
        *e, m.at("resume_grace_ms"), 0, max_count,
        "a whole number of milliseconds 0..2147483647 (0: sessions end with their connection)"));
  }
  if (auto e = m.get("resume_outbox")) {
    out.resume_outbox = static_cast<std::size_t>(
        read_whole(*e, m.at("resume_outbox"), 1, max_frame_limit, bytes));
  }
  if (auto e = m.get("overload")) read_overload(*e, m.at("overload"), out.overload);
}

inline constexpr std::string_view log_keys[] = {"level", "format", "file"};

/// An object {level, format, file}, or (as in Firefly) just the file name; sets what it gives.
inline void read_log(element v, const json_path& p, log_config& out) {
  if (v.type() == element_type::STRING) {
    out.file = read_text(v, p, "a file name");
    return;
  }
  if (v.type() != element_type::OBJECT) {
    fail(p, fmt::format("expected an object or a file name, got {}", describe(v)));
  }
  const members m(v, p, log_keys);
  if (auto e = m.get("level")) {
    out.level = read_choice<log::level>(*e, m.at("level"), {{"debug", log::level::debug},
                                                            {"info", log::level::info},
                                                            {"warn", log::level::warn},
                                                            {"error", log::level::error}});
  }
  if (auto e = m.get("format")) {
    out.format = read_choice<log::format>(*e, m.at("format"), {{"plain", log::format::plain},
                                                               {"json", log::format::json}});
  }
  if (auto e = m.get("file")) out.file = read_text(*e, m.at("file"), "a file name");
}

inline constexpr std::string_view defaults_keys[] = {"limits", "log", "call_timeout_ms",
                                                     "link_tls"};
inline constexpr std::string_view link_tls_keys[] = {"cert", "key", "ca"};

/// `link_tls`: {"cert": FILE, "key": FILE, "ca": FILE}, all required.
inline link_tls_config read_link_tls(element v, const json_path& p) {
  const members m(v, p, link_tls_keys);
  link_tls_config t;
  t.cert = read_text(m.required("cert", "a PEM certificate chain file"), m.at("cert"),
                     "a PEM certificate chain file");
  t.key = read_text(m.required("key", "a PEM private key file"), m.at("key"),
                    "a PEM private key file");
  t.ca = read_text(m.required("ca", "a PEM file of the CA that signs every server's certificate"),
                   m.at("ca"), "a PEM CA file");
  return t;
}

inline server_defaults read_defaults(element v, const json_path& p) {
  const members m(v, p, defaults_keys);
  server_defaults d;
  if (auto e = m.get("limits")) read_limits(*e, m.at("limits"), d.limits);
  if (auto e = m.get("log")) read_log(*e, m.at("log"), d.log);
  if (auto e = m.get("call_timeout_ms")) d.call_timeout = read_ms(*e, m.at("call_timeout_ms"));
  if (auto e = m.get("link_tls")) d.link_tls = read_link_tls(*e, m.at("link_tls"));
  return d;
}

inline constexpr std::string_view netport_keys[] = {"port",      "framing", "encoding", "firefly",
                                                    "idle_timeout_ms", "websocket", "tls", "shared"};
/// The most servers one port may be shared by (`netport.shared`).
inline constexpr std::int64_t max_shared_port = 64;
inline constexpr std::string_view websocket_keys[] = {"port", "origins", "max_request"};

/// `netport.websocket`: a port number, or {"port": N, "origins": [...], "max_request": BYTES}.
inline websocket_config read_websocket(element v, const json_path& p, json_path& port_path) {
  websocket_config w;
  if (v.type() != element_type::OBJECT) {
    port_path = p;
    w.port = read_port(v, p);
    return w;
  }
  const members m(v, p, websocket_keys);
  port_path = m.at("port");
  w.port = read_port(m.required("port", "a port number 1..65535"), port_path);
  if (auto e = m.get("origins")) {
    const json_path op = m.at("origins");
    if (e->type() != element_type::ARRAY) {
      fail(op, fmt::format("expected an array of origins (e.g. \"https://game.example\", or \"*\" "
                           "for any page), got {}", describe(*e)));
    }
    std::size_t i = 0;
    for (element o : array_of(*e)) {
      w.origins.push_back(read_text(o, op.index(i), "an origin such as \"https://game.example\""));
      ++i;
    }
  }
  if (auto e = m.get("max_request")) {
    w.max_request = static_cast<std::size_t>(
        read_whole(*e, m.at("max_request"), 1024, 1024 * 1024, "a size in bytes 1024..1048576"));
  }
  return w;
}
inline constexpr std::string_view tls_keys[] = {"cert", "key", "listeners", "ca"};

/// `netport.tls`: {"cert": FILE, "key": FILE, "listeners": ["tcp", "websocket"], "ca": FILE}
/// (listeners: every one of this netport by default; ca: optional).
inline tls_config read_tls(element v, const json_path& p, bool has_websocket) {
  const members m(v, p, tls_keys);
  tls_config t;
  t.cert = read_text(m.required("cert", "a PEM certificate chain file"), m.at("cert"),
                     "a PEM certificate chain file");
  t.key = read_text(m.required("key", "a PEM private key file"), m.at("key"),
                    "a PEM private key file");
  if (auto e = m.get("ca")) t.ca = read_text(*e, m.at("ca"), "a PEM CA certificate file");
  t.websocket = has_websocket;
  if (auto e = m.get("listeners")) {
    const json_path lp = m.at("listeners");
    constexpr std::string_view what = R"(an array of "tcp" and/or "websocket")";
    if (e->type() != element_type::ARRAY) fail(lp, fmt::format("expected {}, got {}", what, describe(*e)));
    t.tcp = t.websocket = false;
    std::size_t i = 0;
    for (element l : array_of(*e)) {
      const bool ws = read_choice<bool>(l, lp.index(i), {{"tcp", false}, {"websocket", true}});
      if (ws && !has_websocket)
        fail(lp.index(i), "this netport has no \"websocket\" listener to put TLS on");
      (ws ? t.websocket : t.tcp) = true;
      ++i;
    }
    if (i == 0) fail(lp, fmt::format("expected {}; leave \"tls\" out for no TLS", what));
  }
  return t;
}

inline constexpr std::string_view firefly_keys[] = {"magic", "version", "server_version"};

inline wire::firefly_config read_firefly(element v, const json_path& p) {
  const members m(v, p, firefly_keys);
  wire::firefly_config f;
  if (auto e = m.get("magic")) {
    const json_path mp = m.at("magic");
    if (e->type() != element_type::ARRAY) {
      fail(mp, fmt::format("expected an array of 4 bytes, got {}", describe(*e)));
    }
    const auto magic = array_of(*e);
    if (magic.size() != 4) fail(mp, fmt::format("expected 4 bytes, got {}", magic.size()));
    std::size_t i = 0;
    for (element b : magic) {
      f.magic[i] = static_cast<std::uint8_t>(read_whole(b, mp.index(i), 0, 255, "a byte 0..255"));
      ++i;
    }
  }
  if (auto e = m.get("version")) {
    f.version = static_cast<std::uint8_t>(read_whole(*e, m.at("version"), 0, 255, "a byte 0..255"));
  }
  if (auto e = m.get("server_version")) {
    f.server_version = static_cast<std::uint32_t>(read_whole(
        *e, m.at("server_version"), 0, 4294967295, "a whole number 0..4294967295"));
  }
  return f;
}

/// `netport`: a port number, or an object with the listener's framing. Sets `port_path` to
/// where the port is written.
inline listener_config read_listener(element v, const json_path& p, json_path& port_path,
                                     json_path& websocket_path) {
  listener_config l;
  switch (v.type()) {
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE:
      l.port = read_port(v, p);
      port_path = p;
      return l;
    case element_type::OBJECT: break;
    default: fail(p, fmt::format("expected a port number or an object, got {}", describe(v)));
  }
  const members m(v, p, netport_keys);
  port_path = m.at("port");
  l.port = read_port(m.required("port", "a port number 1..65535"), port_path);
  if (auto e = m.get("framing")) {
    l.framing = read_choice<net::framing>(
        *e, m.at("framing"),
        {{"native", net::framing::native}, {"firefly", net::framing::firefly}});
  }
  if (l.framing == net::framing::native) {
    // Settings that a native listener would silently ignore are mistakes worth reporting.
    if (m.get("encoding")) {
      fail(m.at("encoding"),
           "only a listener with \"framing\": \"firefly\" has a fixed encoding; native frames "
           "say theirs in their flags");
    }
    if (m.get("firefly")) {
      fail(m.at("firefly"), "only a listener with \"framing\": \"firefly\" reads Firefly headers");
    }
  }
  if (auto e = m.get("encoding")) {
    l.encoding = read_choice<codec::encoding>(
        *e, m.at("encoding"),
        {{"binary", codec::encoding::binary}, {"json", codec::encoding::json}});
  }
  if (auto e = m.get("firefly")) l.firefly = read_firefly(*e, m.at("firefly"));
  if (auto e = m.get("idle_timeout_ms")) l.idle_timeout = read_ms(*e, m.at("idle_timeout_ms"));
  if (auto e = m.get("websocket")) l.websocket = read_websocket(*e, m.at("websocket"), websocket_path);
  if (auto e = m.get("tls")) l.tls = read_tls(*e, m.at("tls"), l.websocket.has_value());
  if (auto e = m.get("shared"))
    l.shared = static_cast<std::uint16_t>(read_whole(
        *e, m.at("shared"), 2, max_shared_port,
        fmt::format("how many servers share this port, 2..{}", max_shared_port)));
  return l;
}

inline constexpr std::string_view metrics_keys[] = {"port", "host"};
inline constexpr std::string_view metrics_port_text =
    "a port number 1..65535, or 0 (no metrics endpoint)";

/// `metricsport`: a port number (0: none), or {"port": N, "host": "ADDRESS"}. Sets
/// `port_path` to where the port is written.
inline std::optional<metrics_config> read_metrics(element v, const json_path& p,
                                                  json_path& port_path) {
  metrics_config c;
  if (v.type() == element_type::OBJECT) {
    const members m(v, p, metrics_keys);
    port_path = m.at("port");
    c.port = static_cast<std::uint16_t>(
        read_whole(m.required("port", metrics_port_text), port_path, 0, 65535, metrics_port_text));
    if (auto e = m.get("host")) c.host = read_text(*e, m.at("host"), "a host name or address");
  } else if (v.type() == element_type::INT64 || v.type() == element_type::UINT64 ||
             v.type() == element_type::DOUBLE) {
    port_path = p;
    c.port = static_cast<std::uint16_t>(read_whole(v, p, 0, 65535, metrics_port_text));
  } else {
    fail(p, fmt::format("expected {} or an object {{\"port\": N, \"host\": \"ADDRESS\"}}, got {}",
                        metrics_port_text, describe(v)));
  }
  if (c.port == 0) return std::nullopt;
  return c;
}

inline constexpr std::string_view root_keys[] = {"rootname", "host", "rootport"};

inline std::vector<pending_root> read_remoteport(element v, const json_path& p) {
  if (v.type() != element_type::ARRAY) {
    fail(p, fmt::format("expected an array of roots ({{\"rootname\": ...}}), got {}", describe(v)));
  }
  std::vector<pending_root> out;
  std::size_t i = 0;
  for (element entry : array_of(v)) {
    pending_root r;
    r.path = p.index(i++);
    const members m(entry, r.path, root_keys);
    r.ref.rootname = read_string(m.required("rootname", "the name of a root server"),
                                 m.at("rootname"));
    check_name(r.ref.rootname, m.at("rootname"), "a server name");
    if (auto e = m.get("host")) {
      r.ref.host = read_text(*e, m.at("host"), "a host name or address");
      r.host_given = true;
    }
    if (auto e = m.get("rootport")) {
      r.ref.rootport = read_port(*e, m.at("rootport"));
      r.port_given = true;
    }
    out.push_back(std::move(r));
  }
  return out;
}

inline constexpr std::string_view server_keys[] = {
    "type", "host", "netport", "rootport", "remoteport", "app",  "reload",
    "db",   "mem",  "log",     "limits",   "call_timeout_ms",    "cpu", "name", "metricsport",
    "link_tls"};
inline constexpr key_hint server_hints[] = {
    {"webport", "ember servers take admin commands through the master's webport; their "
                "metrics and health checks are on \"metricsport\""}};

inline parsed_server read_server(std::string_view name, element v, const json_path& p,
                                 const server_defaults& defaults) {
  parsed_server ps;
  ps.path = p;
  check_name(name, p, "a server name");
  const members m(v, p, server_keys, server_hints);
  server_config& s = ps.config;
  s.name = std::string(name);
  s.type = s.name;
  s.limits = defaults.limits;
  s.log = defaults.log;
  s.call_timeout = defaults.call_timeout;
  s.link_tls = defaults.link_tls;
  if (auto e = m.get("name")) {
    // Firefly repeats the key as "name"; it must say the same.
    const std::string given = read_string(*e, m.at("name"));
    if (given != name) {
      fail(m.at("name"), fmt::format("expected {:?} (the server's key), got {:?}", name, given));
    }
  }
  if (auto e = m.get("type")) {
    s.type = read_string(*e, m.at("type"));
    check_name(s.type, m.at("type"), "a server type");
  }
  if (auto e = m.get("host")) s.host = read_text(*e, m.at("host"), "a host name or address");
  if (auto e = m.get("netport"))
    s.netport = read_listener(*e, m.at("netport"), ps.netport_path, ps.websocket_path);
  if (auto e = m.get("rootport")) {
    ps.rootport_path = m.at("rootport");
    s.rootport = read_port(*e, ps.rootport_path);
  }
  if (auto e = m.get("metricsport"))
    s.metricsport = read_metrics(*e, m.at("metricsport"), ps.metricsport_path);
  if (auto e = m.get("remoteport")) ps.roots = read_remoteport(*e, m.at("remoteport"));
  if (auto e = m.get("app")) s.app = read_text(*e, m.at("app"), "a module path");
  if (auto e = m.get("reload")) s.reload = read_text(*e, m.at("reload"), "a module path");
  if (auto e = m.get("db")) s.db = read_bool(*e, m.at("db"));
  if (auto e = m.get("mem")) s.mem = read_bool(*e, m.at("mem"));
  if (auto e = m.get("log")) read_log(*e, m.at("log"), s.log);
  if (auto e = m.get("limits")) read_limits(*e, m.at("limits"), s.limits);
  if (auto e = m.get("call_timeout_ms")) s.call_timeout = read_ms(*e, m.at("call_timeout_ms"));
  if (auto e = m.get("link_tls")) s.link_tls = read_link_tls(*e, m.at("link_tls"));
  if (auto e = m.get("cpu")) {
    // glibc's cpu_set_t holds CPUs 0..1023 (CPU_SETSIZE).
    s.cpu = static_cast<int>(read_whole(*e, m.at("cpu"), 0, 1023, "a CPU number 0..1023"));
  }
  return ps;
}

}  // namespace ember::app::detail
