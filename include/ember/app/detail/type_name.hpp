// ember: the name of a C++ type as the compiler spells it, for checks across a module reload.
#pragma once

#include <string_view>

namespace ember::app::detail {

/// "world::kept_players" for `type_name<world::kept_players>()` (from the compiler's spelling
/// of this function's signature; GCC and Clang write "T = <type>").
template <class T>
constexpr std::string_view type_name() noexcept {
  std::string_view s = __PRETTY_FUNCTION__;
  const auto from = s.find("T = ") + 4;
  const auto to = s.find_first_of(";]", from);
  return s.substr(from, to - from);
}

}  // namespace ember::app::detail
