// ember: what a generated schema's `command_list` says about each command and call.
#pragma once

#include <cstdint>
#include <string_view>

namespace ember {

/// The cluster router uses it to forward commands served by other server types.
struct command_info {
  std::uint16_t id;
  std::string_view name;
  std::string_view server;  ///< the server type that handles it
  bool ordered;             ///< runs after the session's earlier requests
  bool internal;            ///< a [[call]]: only other servers may send it
};

}  // namespace ember
