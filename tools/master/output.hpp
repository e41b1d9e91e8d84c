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

/// One of the master's own lines, prefixed [master], in ember's log format; with the json
/// format (config.json's `defaults.log.format`) a JSON line whose "server" is "master".
template <class... Args>
void say(log::level lv, fmt::format_string<Args...> f, Args&&... args) {
  fmt::memory_buffer line;
  if (log::current_format() == log::format::json) {
    log::detail::format_line(line, lv, "master", fmt::format(f, std::forward<Args>(args)...));
  } else {
    fmt::format_to(std::back_inserter(line), "[master] ");
    log::detail::format_line(line, lv, fmt::format(f, std::forward<Args>(args)...));
  }
  write_out({line.data(), line.size()});
}

/// A child's line, prefixed [name] ("[name]+" for the rest of a line cut at its maximum).
/// With the json format, a server's JSON line (it names its server) goes out as it is, and
/// any other line (memcached's, a crash message, the rest of a cut line) becomes a JSON line
/// of level info under the child's name, so that the stream stays one object per line.
inline void print_line(const std::string& name, std::string_view text, bool continued) {
  if (log::current_format() == log::format::json) {
    if (!continued && text.starts_with(R"({"ts":")") && text.ends_with('}')) {
      fmt::memory_buffer line;
      line.append(text);
      line.push_back('\n');
      return write_out({line.data(), line.size()});
    }
    fmt::memory_buffer line;
    log::detail::format_line(line, log::level::info, name, text);
    return write_out({line.data(), line.size()});
  }
  write_out(fmt::format("[{}]{} {}\n", name, continued ? "+" : "", text));
}

}  // namespace ember::master
