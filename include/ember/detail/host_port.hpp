// ember: "host:port" texts (memcached servers, config.json's endpoints) split into a host and a
// port, with errors that say what is wrong.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ember/separate_compilation.hpp"

namespace ember::detail {

/// A "host:port", "host" or "[IPv6 address]:port" split into its parts.
struct host_port {
  std::string host;                  ///< without the brackets of an IPv6 address
  std::optional<std::uint16_t> port;  ///< empty when the text has none
};

/// What is wrong with a "host:port" text.
enum class host_port_error {
  none,              ///< nothing: it parsed
  empty,             ///< the text is empty
  unclosed_bracket,  ///< "[::1" : an IPv6 address without its ']'
  after_bracket,     ///< "[::1]x": something other than ":port" after the ']'
  unbracketed_ipv6,  ///< "::1:11211": more than one ':' outside brackets
  empty_host,        ///< ":11211", "[]:11211"
  missing_port,      ///< "cache" where a port is required
  bad_port,          ///< "cache:", "cache:x", "cache:0", "cache:65536"
};

/// Why the text was refused, as a phrase ("the port is not a number 1..65535").
EMBER_DECL std::string_view describe(host_port_error e) noexcept;

/// Splits `text` into `out`. A port is 1 to 5 digits, 1..65535; without one `out.port` is empty,
/// or `missing_port` is returned when `port_required`. `out` is meaningful only on `none`.
EMBER_DECL host_port_error parse_host_port(std::string_view text, host_port& out, bool port_required);

}  // namespace ember::detail

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/detail/impl/host_port.hpp"
#endif
