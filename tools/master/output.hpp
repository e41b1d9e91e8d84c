// ember-master's output: its own lines and its children's, one write per line so that lines
// never mix, each prefixed with whose it is.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "ember/log.hpp"

namespace ember::master {

/// Writes `bytes` to stdout in as few writes as it takes; a failed write (stdout closed) is
/// ignored.
inline void write_out(std::string_view bytes) {
  while (!bytes.empty()) {
    const auto n = ::write(STDOUT_FILENO, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

/// One of the master's own lines, prefixed [master], in ember's log format.
template <class... Args>
void say(log::level lv, fmt::format_string<Args...> f, Args&&... args) {
  fmt::memory_buffer line;
  fmt::format_to(std::back_inserter(line), "[master] ");
  log::detail::format_line(line, lv, fmt::format(f, std::forward<Args>(args)...));
  write_out({line.data(), line.size()});
}

/// A child's line, prefixed [name] ("[name]+" for the rest of a line cut at its maximum).
inline void print_line(const std::string& name, std::string_view text, bool continued) {
  write_out(fmt::format("[{}]{} {}\n", name, continued ? "+" : "", text));
}

}  // namespace ember::master
