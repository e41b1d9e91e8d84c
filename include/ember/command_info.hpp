// ember: what a generated schema's `command_list` says about each command and call.
#pragma once

#include <cstdint>
#include <string_view>

namespace ember {

/// Ids (and error codes) of ember's gameplay modules: each module has a block of 100 in this
/// range (docs/modules/README.md). A module's commands name the module as their `server`; the
/// host serves them on the server type config.json's `modules` places the module on.
inline constexpr std::uint16_t first_module_id = 60000;
inline constexpr std::uint16_t last_module_id = 65279;

/// The cluster router uses it to forward commands served by other server types.
struct command_info {
  std::uint16_t id;
  std::string_view name;
  std::string_view server;  ///< the server type that handles it
  bool ordered;             ///< runs after the session's earlier requests
  bool internal;            ///< a [[call]]: only other servers may send it
};

}  // namespace ember
