// ember: bodies of the "host:port" parser (ember/detail/host_port.hpp).
#pragma once

#include "ember/detail/host_port.hpp"

namespace ember::detail {

EMBER_DECL std::string_view describe(host_port_error e) noexcept {
  switch (e) {
    case host_port_error::none: return "it is valid";
    case host_port_error::empty: return "it is empty";
    case host_port_error::unclosed_bracket: return "an IPv6 address in brackets lacks its ']'";
    case host_port_error::after_bracket: return "only ':' and a port may follow the ']' of an IPv6 address";
    case host_port_error::unbracketed_ipv6: return "an IPv6 address goes in brackets: \"[::1]:11211\"";
    case host_port_error::empty_host: return "the host is empty";
    case host_port_error::missing_port: return "the port is missing";
    case host_port_error::bad_port: return "the port is not a number 1..65535";
  }
  return "it is not host:port";
}

EMBER_DECL host_port_error parse_host_port(std::string_view text, host_port& out, bool port_required) {
  if (text.empty()) return host_port_error::empty;
  std::string_view host = text;
  std::optional<std::string_view> port;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return host_port_error::unclosed_bracket;
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return host_port_error::after_bracket;
      port = rest.substr(1);
    }
  } else if (const auto colon = text.find(':'); colon != std::string_view::npos) {
    if (text.find(':', colon + 1) != std::string_view::npos) return host_port_error::unbracketed_ipv6;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host.empty()) return host_port_error::empty_host;
  out.host = std::string(host);
  out.port.reset();
  if (!port) return port_required ? host_port_error::missing_port : host_port_error::none;
  if (port->empty() || port->size() > 5) return host_port_error::bad_port;
  std::uint32_t n = 0;
  for (char c : *port) {
    if (c < '0' || c > '9') return host_port_error::bad_port;
    n = n * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (n < 1 || n > 65535) return host_port_error::bad_port;
  out.port = static_cast<std::uint16_t>(n);
  return host_port_error::none;
}

}  // namespace ember::detail
