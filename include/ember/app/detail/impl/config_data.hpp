// ember: the data sections of config.json — `db` (the ODBC driver and connection string) and
// `memcached` (its servers as "host:port" and the key namespace).
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
#include "ember/detail/host_port.hpp"

namespace ember::app::detail {

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

/// "host:port", "host" (port 11211) or "[v6 address]:port".
inline memcached_server read_endpoint(element v, const json_path& p) {
  const std::string text = read_text(v, p, "\"host:port\"");
  ember::detail::host_port hp;
  std::string_view why;
  switch (ember::detail::parse_host_port(text, hp, false)) {
    case ember::detail::host_port_error::none: {
      memcached_server s;
      s.host = std::move(hp.host);
      if (hp.port) s.port = *hp.port;
      return s;
    }
    case ember::detail::host_port_error::unclosed_bracket: why = " (an IPv6 address in brackets)"; break;
    case ember::detail::host_port_error::unbracketed_ipv6:
      why = " (an IPv6 address goes in brackets: \"[::1]:11211\")";
      break;
    case ember::detail::host_port_error::bad_port: why = " with a port 1..65535"; break;
    default: break;
  }
  fail(p, fmt::format("expected \"host:port\"{}, got {:?}", why, text));
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

}  // namespace ember::app::detail
