// ember: a small leveled logger on fmt; one line per event, written with one write() so lines
// from many processes sharing a pipe never interleave.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>
#include <unistd.h>

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace ember::log {

/// Severity of a log line; lines below the threshold are dropped before formatting.
enum class level { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

namespace detail {
struct state {
  level threshold = level::info;
  std::string tag;  ///< e.g. the server name, printed on every line
};
inline state& global() {
  static state s;
  return s;
}
inline void write_line(level lv, std::string_view text) {
  static constexpr std::string_view names[] = {"debug", "info", "warn", "error"};
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  fmt::memory_buffer line;
  fmt::format_to(std::back_inserter(line), "{:%Y-%m-%d %H:%M:%S}.{:03d} {:5} ",
                 std::chrono::floor<std::chrono::seconds>(now), ms.count(),
                 names[static_cast<int>(lv)]);
  if (!global().tag.empty()) fmt::format_to(std::back_inserter(line), "[{}] ", global().tag);
  line.append(text);
  line.push_back('\n');
  // One write per line; a short write to stderr is not worth retrying here.
  [[maybe_unused]] auto n = ::write(STDERR_FILENO, line.data(), line.size());
}
}  // namespace detail

/// Lines below `lv` are not written.
inline void set_level(level lv) { detail::global().threshold = lv; }
inline level current_level() { return detail::global().threshold; }
/// A tag printed on every line, usually the server's name.
inline void set_tag(std::string tag) { detail::global().tag = std::move(tag); }

template <class... Args>
void write(level lv, fmt::format_string<Args...> f, Args&&... args) {
  if (lv < detail::global().threshold) return;
  detail::write_line(lv, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  write(level::debug, f, std::forward<Args>(args)...);
}
template <class... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  write(level::info, f, std::forward<Args>(args)...);
}
template <class... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  write(level::warn, f, std::forward<Args>(args)...);
}
template <class... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  write(level::error, f, std::forward<Args>(args)...);
}

}  // namespace ember::log
