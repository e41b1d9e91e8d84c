// ember: the bodies of `parse_config`, `load_config`, `to_server_options` and the config
// structs' members (ember/app/config.hpp): config.json read with simdjson's DOM, then validated.
//
// Validation throws a `detail::config_failure` at the first problem; `parse_config` catches it
// and returns it as a `config_error`, adding the line of the offending key (found by walking
// the text along the error's JSON path, since simdjson's DOM keeps no positions).
#pragma once

#include "ember/app/config.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <span>
#include <stdexcept>
#include <system_error>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>

#include "ember/app/detail/json_path.hpp"

namespace ember::app {

EMBER_DECL bool listener_config::operator==(const listener_config& o) const {
  return port == o.port && framing == o.framing && encoding == o.encoding &&
         firefly.magic == o.firefly.magic && firefly.version == o.firefly.version &&
         firefly.server_version == o.firefly.server_version && idle_timeout == o.idle_timeout;
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

namespace detail {

/// The first problem found in a config; `parse_config` turns it into a `config_error`.
struct config_failure {
  json_path path;
  std::string message;
  std::size_t occurrence = 0;  ///< which of repeated keys `path` means (duplicate keys)
  std::size_t line = 0;        ///< set when known without walking `path` (invalid JSON)
};

[[noreturn]] inline void fail(json_path path, std::string message, std::size_t occurrence = 0) {
  throw config_failure{std::move(path), std::move(message), occurrence, 0};
}

/// An unknown key that Firefly's config.json has, and what to write in ember instead.
struct key_hint {
  std::string_view key;
  std::string_view text;
};

inline std::string join(std::span<const std::string_view> words) {
  std::string out;
  for (auto w : words) {
    if (!out.empty()) out += ", ";
    out += w;
  }
  return out;
}

/// Edit distance counting a swap of neighbours as one edit ("netprot" is one from "netport").
inline std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

inline std::string unknown_key_message(std::string_view key,
                                       std::span<const std::string_view> known,
                                       std::span<const key_hint> hints) {
  std::string note;
  for (const auto& h : hints) {
    if (h.key == key) note = h.text;
  }
  if (note.empty()) {
    // Suggest the closest known key when it is close enough to be a typo.
    const std::size_t limit = key.size() >= 6 ? 2 : 1;
    std::size_t best = limit + 1;
    for (auto k : known) {
      const std::size_t d = edit_distance(key, k);
      if (d < best) {
        best = d;
        note = fmt::format("did you mean '{}'?", k);
      }
    }
  }
  return note.empty() ? fmt::format("unknown key; expected one of: {}", join(known))
                      : fmt::format("unknown key ({}); expected one of: {}", note, join(known));
}

/// True for addresses that listen on every interface of a machine.
inline bool is_wildcard(std::string_view host) noexcept {
  return host == "0.0.0.0" || host == "::";
}

/// The largest `max_frame` and `max_write_queue` a config may set: 1 GiB. More is a typo, not
/// a bound.
inline constexpr std::int64_t max_frame_limit = std::int64_t{1} << 30;
/// Counts and durations in milliseconds fit a signed 32-bit integer.
inline constexpr std::int64_t max_count = std::numeric_limits<std::int32_t>::max();
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
  std::vector<pending_root> roots;
};

/// A port some process listens on, and where the config says so.
struct port_use {
  std::string host;
  std::uint16_t port = 0;
  json_path path;
};

using element = simdjson::dom::element;
using element_type = simdjson::dom::element_type;

/// "a string", "an object", ... for "expected X, got Y".
inline std::string_view describe(element v) {
  switch (v.type()) {
    case element_type::ARRAY: return "an array";
    case element_type::OBJECT: return "an object";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE: return "a number";
    case element_type::STRING: return "a string";
    case element_type::BOOL: return "a boolean";
    case element_type::NULL_VALUE: return "null";
  }
  return "a value";
}

// `value_unsafe()` returns a reference into the temporary `simdjson_result`: copy the object
// or array out before iterating, or the range-for loop reads a dead temporary. (g++ 12 at -O2
// reports such a loop as -Wdangling-pointer inside simdjson.h; that warning is a real bug.)
inline simdjson::dom::object object_of(element v) { return v.get_object().value_unsafe(); }
inline simdjson::dom::array array_of(element v) { return v.get_array().value_unsafe(); }

/// The members of one JSON object, checked against the keys it may have: an unknown key or a
/// key given twice stops here, in file order.
class members {
 public:
  /// `known` empty: any key is accepted (the names in `servers`).
  members(element v, json_path path, std::span<const std::string_view> known,
          std::span<const key_hint> hints = {})
      : path_(std::move(path)) {
    if (v.type() != element_type::OBJECT) {
      fail(path_, fmt::format("expected an object, got {}", describe(v)));
    }
    for (auto field : object_of(v)) {
      const std::string_view key = field.key;
      for (const auto& e : entries_) {
        if (e.first == key) fail(path_.key(key), "duplicate key; each key may appear once", 1);
      }
      if (!known.empty() && std::find(known.begin(), known.end(), key) == known.end()) {
        fail(path_.key(key), unknown_key_message(key, known, hints));
      }
      entries_.emplace_back(key, field.value);
    }
  }

  std::optional<element> get(std::string_view key) const {
    for (const auto& e : entries_) {
      if (e.first == key) return e.second;
    }
    return std::nullopt;
  }

  /// The value of `key`, which must be present: `what` says what was expected there.
  element required(std::string_view key, std::string_view what) const {
    auto v = get(key);
    if (!v) fail(at(key), fmt::format("missing; expected {}", what));
    return *v;
  }

  json_path at(std::string_view key) const { return path_.key(key); }
  const json_path& path() const noexcept { return path_; }
  const std::vector<std::pair<std::string_view, element>>& entries() const noexcept {
    return entries_;
  }
  bool empty() const noexcept { return entries_.empty(); }

 private:
  json_path path_;
  std::vector<std::pair<std::string_view, element>> entries_;
};

inline std::string read_string(element v, const json_path& p) {
  if (v.type() != element_type::STRING) {
    fail(p, fmt::format("expected a string, got {}", describe(v)));
  }
  return std::string(v.get_string().value_unsafe());
}

/// A string that must not be empty; `what` describes it ("a module path").
inline std::string read_text(element v, const json_path& p, std::string_view what) {
  if (v.type() != element_type::STRING) {
    fail(p, fmt::format("expected {}, got {}", what, describe(v)));
  }
  std::string s(v.get_string().value_unsafe());
  if (s.empty()) fail(p, fmt::format("expected {}, got an empty string", what));
  return s;
}

inline bool read_bool(element v, const json_path& p) {
  if (v.type() != element_type::BOOL) {
    fail(p, fmt::format("expected true or false, got {}", describe(v)));
  }
  return v.get_bool().value_unsafe();
}

/// A whole number in [lo, hi]; `what` describes the range ("a port number 1..65535").
/// A number written with a fraction or exponent counts when its value is whole (1e3).
inline std::int64_t read_whole(element v, const json_path& p, std::int64_t lo, std::int64_t hi,
                               std::string_view what) {
  switch (v.type()) {
    case element_type::INT64: {
      const std::int64_t x = v.get_int64().value_unsafe();
      if (x < lo || x > hi) fail(p, fmt::format("expected {}, got {}", what, x));
      return x;
    }
    case element_type::UINT64:  // only numbers above INT64_MAX are UINT64
      fail(p, fmt::format("expected {}, got {}", what, v.get_uint64().value_unsafe()));
    case element_type::DOUBLE: {
      const double d = v.get_double().value_unsafe();
      if (!(d == std::floor(d)) || d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
        fail(p, fmt::format("expected {}, got {}", what, d));
      }
      return static_cast<std::int64_t>(d);
    }
    default: fail(p, fmt::format("expected a number, got {}", describe(v)));
  }
}

inline std::uint16_t read_port(element v, const json_path& p) {
  return static_cast<std::uint16_t>(read_whole(v, p, 1, 65535, "a port number 1..65535"));
}

inline std::chrono::milliseconds read_ms(element v, const json_path& p) {
  return std::chrono::milliseconds(
      read_whole(v, p, 1, max_count, "a whole number of milliseconds 1..2147483647"));
}

/// Any finite number not below `lo`.
inline double read_number(element v, const json_path& p, double lo, std::string_view what) {
  double d = 0;
  switch (v.type()) {
    case element_type::INT64: d = static_cast<double>(v.get_int64().value_unsafe()); break;
    case element_type::UINT64: d = static_cast<double>(v.get_uint64().value_unsafe()); break;
    case element_type::DOUBLE: d = v.get_double().value_unsafe(); break;
    default: fail(p, fmt::format("expected a number, got {}", describe(v)));
  }
  if (!std::isfinite(d) || d < lo) fail(p, fmt::format("expected {}, got {}", what, d));
  return d;
}

/// One of a few names, e.g. "native" or "firefly".
template <class E>
E read_choice(element v, const json_path& p,
              std::initializer_list<std::pair<std::string_view, E>> choices) {
  std::string expected;
  std::size_t i = 0;
  for (const auto& c : choices) {
    if (i > 0) expected += i + 1 == choices.size() ? " or " : ", ";
    expected += fmt::format("\"{}\"", c.first);
    ++i;
  }
  if (v.type() != element_type::STRING) {
    fail(p, fmt::format("expected {}, got {}", expected, describe(v)));
  }
  const std::string_view s = v.get_string().value_unsafe();
  for (const auto& c : choices) {
    if (c.first == s) return c.second;
  }
  fail(p, fmt::format("expected {}, got {:?}", expected, s));
}

inline constexpr std::string_view limit_keys[] = {
    "max_frame",     "max_write_queue",  "max_in_flight",    "max_sessions",
    "max_sessions_per_address",          "max_request_rate", "request_burst",
    "idle_timeout_ms", "frame_timeout_ms", "handshake_timeout_ms", "resume_grace_ms",
    "resume_outbox"};

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
}

inline constexpr std::string_view log_keys[] = {"level", "file"};

/// An object {level, file}, or (as in Firefly) just the file name; sets what it gives.
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
  if (auto e = m.get("file")) out.file = read_text(*e, m.at("file"), "a file name");
}

inline constexpr std::string_view defaults_keys[] = {"limits", "log", "call_timeout_ms"};

inline server_defaults read_defaults(element v, const json_path& p) {
  const members m(v, p, defaults_keys);
  server_defaults d;
  if (auto e = m.get("limits")) read_limits(*e, m.at("limits"), d.limits);
  if (auto e = m.get("log")) read_log(*e, m.at("log"), d.log);
  if (auto e = m.get("call_timeout_ms")) d.call_timeout = read_ms(*e, m.at("call_timeout_ms"));
  return d;
}

inline constexpr std::string_view netport_keys[] = {"port", "framing", "encoding", "firefly",
                                                    "idle_timeout_ms"};
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
inline listener_config read_listener(element v, const json_path& p, json_path& port_path) {
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
  return l;
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
    "db",   "mem",  "log",     "limits",   "call_timeout_ms",    "cpu", "name"};
inline constexpr key_hint server_hints[] = {
    {"webport", "ember servers have no HTTP port of their own; the master's webport takes "
                "admin commands"}};

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
  if (auto e = m.get("netport")) s.netport = read_listener(*e, m.at("netport"), ps.netport_path);
  if (auto e = m.get("rootport")) {
    ps.rootport_path = m.at("rootport");
    s.rootport = read_port(*e, ps.rootport_path);
  }
  if (auto e = m.get("remoteport")) ps.roots = read_remoteport(*e, m.at("remoteport"));
  if (auto e = m.get("app")) s.app = read_text(*e, m.at("app"), "a module path");
  if (auto e = m.get("reload")) s.reload = read_text(*e, m.at("reload"), "a module path");
  if (auto e = m.get("db")) s.db = read_bool(*e, m.at("db"));
  if (auto e = m.get("mem")) s.mem = read_bool(*e, m.at("mem"));
  if (auto e = m.get("log")) read_log(*e, m.at("log"), s.log);
  if (auto e = m.get("limits")) read_limits(*e, m.at("limits"), s.limits);
  if (auto e = m.get("call_timeout_ms")) s.call_timeout = read_ms(*e, m.at("call_timeout_ms"));
  if (auto e = m.get("cpu")) {
    // glibc's cpu_set_t holds CPUs 0..1023 (CPU_SETSIZE).
    s.cpu = static_cast<int>(read_whole(*e, m.at("cpu"), 0, 1023, "a CPU number 0..1023"));
  }
  return ps;
}

inline constexpr std::size_t min_secret_length = 16;

inline constexpr std::string_view master_keys[] = {"host", "rootport", "webport", "token"};
inline constexpr key_hint master_hints[] = {{"roothost", "Firefly's 'roothost' is 'host' here"}};

inline master_config read_master(element v, const json_path& p) {
  const members m(v, p, master_keys, master_hints);
  master_config c;
  if (auto e = m.get("host")) c.host = read_text(*e, m.at("host"), "a host name or address");
  if (auto e = m.get("rootport")) c.rootport = read_port(*e, m.at("rootport"));
  c.webport = read_port(m.required("webport", "the admin HTTP port, 1..65535"), m.at("webport"));
  c.token = read_string(
      m.required("token", "an admin token of at least 16 characters"), m.at("token"));
  if (c.token.size() < min_secret_length) {
    // The token itself is never printed.
    fail(m.at("token"), fmt::format("expected at least {} characters, got {}", min_secret_length,
                                    c.token.size()));
  }
  return c;
}

inline constexpr std::string_view db_keys[] = {"driver", "connection"};
inline constexpr std::string_view odbc_hint =
    "ember reaches databases through ODBC: write such settings into the 'connection' string";
inline constexpr key_hint db_hints[] = {{"host", odbc_hint},   {"user", odbc_hint},
                                        {"passwd", odbc_hint}, {"port", odbc_hint},
                                        {"db", odbc_hint},     {"charset", odbc_hint}};

inline db_config read_db(element v, const json_path& p) {
  const members m(v, p, db_keys, db_hints);
  db_config c;
  c.driver = read_choice<db_driver>(
      m.required("driver", "\"sqlite\" or \"postgresql\""), m.at("driver"),
      {{"sqlite", db_driver::sqlite}, {"postgresql", db_driver::postgresql}});
  c.connection = read_text(m.required("connection", "an ODBC connection string"),
                           m.at("connection"), "an ODBC connection string");
  return c;
}

[[noreturn]] inline void bad_endpoint(const json_path& p, std::string_view why,
                                      std::string_view text) {
  fail(p, fmt::format("expected \"host:port\"{}, got {:?}", why, text));
}

/// "host:port", "host" (port 11211) or "[v6 address]:port".
inline memcached_server read_endpoint(element v, const json_path& p) {
  const std::string text = read_text(v, p, "\"host:port\"");
  std::string_view host = text;
  std::string_view port;
  bool has_port = false;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos) bad_endpoint(p, " (an IPv6 address in brackets)", text);
    host = std::string_view(text).substr(1, close - 1);
    const std::string_view rest = std::string_view(text).substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') bad_endpoint(p, "", text);
      port = rest.substr(1);
      has_port = true;
    }
  } else if (const auto colon = text.find(':'); colon != std::string::npos) {
    if (text.find(':', colon + 1) != std::string::npos) {
      bad_endpoint(p, " (an IPv6 address goes in brackets: \"[::1]:11211\")", text);
    }
    host = std::string_view(text).substr(0, colon);
    port = std::string_view(text).substr(colon + 1);
    has_port = true;
  }
  if (host.empty()) bad_endpoint(p, "", text);
  memcached_server s;
  s.host = std::string(host);
  if (!has_port) return s;
  std::uint32_t n = 0;
  if (port.empty() || port.size() > 5) bad_endpoint(p, " with a port 1..65535", text);
  for (char c : port) {
    if (c < '0' || c > '9') bad_endpoint(p, " with a port 1..65535", text);
    n = n * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (n < 1 || n > 65535) bad_endpoint(p, " with a port 1..65535", text);
  s.port = static_cast<std::uint16_t>(n);
  return s;
}

inline constexpr std::string_view memcached_keys[] = {"servers", "namespace"};
inline constexpr key_hint memcached_hints[] = {
    {"urls", "Firefly's 'urls' is 'servers' here"},
    {"hostname", "Firefly's 'hostname' is 'namespace' here"}};

inline memcached_config read_memcached(element v, const json_path& p) {
  const members m(v, p, memcached_keys, memcached_hints);
  memcached_config c;
  const json_path sp = m.at("servers");
  const element list = m.required("servers", "an array of \"host:port\"");
  if (list.type() != element_type::ARRAY) {
    fail(sp, fmt::format("expected an array of \"host:port\", got {}", describe(list)));
  }
  std::size_t i = 0;
  for (element e : array_of(list)) c.servers.push_back(read_endpoint(e, sp.index(i++)));
  if (c.servers.empty()) fail(sp, "expected at least one \"host:port\", got an empty array");
  const json_path np = m.at("namespace");
  c.key_namespace = read_text(m.required("namespace", "the prefix of this cluster's cache keys"),
                              np, "a key prefix");
  if (c.key_namespace.size() > 64) {
    fail(np, fmt::format("expected at most 64 characters, got {}", c.key_namespace.size()));
  }
  for (char ch : c.key_namespace) {
    // memcached keys may not hold blanks or control characters.
    if (static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7F) {
      fail(np, fmt::format("expected no blanks or control characters (memcached keys cannot "
                           "hold them), got {:?}", c.key_namespace));
    }
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
  for (const auto& s : servers) {
    if (s.config.netport) use(s.config.host, s.config.netport->port, s.netport_path);
    if (s.config.rootport) use(s.config.host, *s.config.rootport, s.rootport_path);
  }
}

inline constexpr std::string_view top_keys[] = {"secret", "master", "db", "memcached",
                                                "defaults", "servers"};

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

  const members list(m.required("servers", "an object of servers by name"), m.at("servers"), {});
  if (list.empty()) fail(list.path(), "expected at least one server, got an empty object");
  std::vector<parsed_server> servers;
  for (const auto& [name, v] : list.entries()) {
    servers.push_back(read_server(name, v, list.path().key(name), defaults));
  }

  resolve_roots(servers);
  check_cycles(servers);
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

}  // namespace detail

EMBER_DECL config_result parse_config(std::string_view json_text, std::string_view file_name) {
  try {
    return detail::read_cluster(json_text);
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
  return o;
}

EMBER_DECL net::server_options to_server_options(const server_config& s, const cluster_config& c) {
  net::server_options o = to_server_options(s);
  // Every other native client listener of the cluster: a session left there can be resumed
  // through this one.
  for (const auto& other : c.servers)
    if (other.name != s.name && other.netport && other.netport->framing == net::framing::native)
      o.resume_peers.push_back({other.name, other.host, other.netport->port});
  return o;
}

}  // namespace ember::app
