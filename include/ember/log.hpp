// ember: a small leveled logger on fmt; one line per event, written with one write() so lines
// from many processes sharing a pipe never interleave.
//
// A server never waits for whoever reads its log: when standard error is a pipe or a socket
// (ember-master's pipes, journald), lines are written without blocking, and a line that does
// not fit — the reader is too slow, or gone (EPIPE; servers ignore SIGPIPE) — is dropped and
// counted. The next line that goes out is preceded by "N log lines dropped (log reader too
// slow)". A file or a terminal is written to with blocking writes.
//
// Two formats: `plain` (the default, for people: time, level, [tag], text) and `json`, for
// operators' log pipelines: one JSON object per line,
//   {"ts":"2026-12-06T23:45:01.123456Z","level":"info","server":"game1","msg":"..."}
// (RFC 3339 UTC time; the text escaped per RFC 8259, each invalid UTF-8 byte as U+FFFD, so a
// line is always one valid JSON object). The dropped-lines notice is a line of its own with a
// "dropped" count. The format and the threshold may change at run time (the master's admin
// call `set_log_level`); both are read on the io thread that writes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "ember/separate_compilation.hpp"

namespace ember::log {

/// Severity of a log line; lines below the threshold are dropped before formatting.
enum class level { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

/// How a line looks: `plain` for people, `json` (one object per line) for log pipelines.
enum class format : std::uint8_t { plain, json };

/// "debug", "info", "warn", "error" (or "off").
constexpr std::string_view level_name(level lv) noexcept {
  constexpr std::string_view names[] = {"debug", "info", "warn", "error", "off"};
  const auto i = static_cast<unsigned>(lv);
  return i < 5 ? names[i] : std::string_view("?");
}
/// Reads a level's name (as `level_name` writes it, "off" excepted); false if `text` is none.
constexpr bool parse_level(std::string_view text, level& out) noexcept {
  for (int i = 0; i <= static_cast<int>(level::error); ++i) {
    if (level_name(static_cast<level>(i)) == text) {
      out = static_cast<level>(i);
      return true;
    }
  }
  return false;
}

namespace detail {
/// How lines reach standard error; chosen at the first line.
enum class sink : std::uint8_t { unknown, plain, pipe, socket };

struct state {
  level threshold = level::info;
  format style = format::plain;
  std::string tag;  ///< e.g. the server name, printed on every line
  sink out = sink::unknown;
  std::uint64_t dropped = 0;  ///< lines lost since the last line written
  bool cut = false;           ///< the last write went out in part: start the next on a new line
};
EMBER_DECL state& global();
/// Appends one line in the log's format (time, level, tag, `text`, newline) to `line`.
EMBER_DECL void format_line(fmt::memory_buffer& line, level lv, std::string_view text);
/// The same with a tag of the caller's (ember-master's own lines are "master").
EMBER_DECL void format_line(fmt::memory_buffer& line, level lv, std::string_view tag,
                            std::string_view text);
/// Appends `text` as the inside of a JSON string: `"` `\` and control characters escaped,
/// valid UTF-8 as it is, each invalid byte as \ufffd.
EMBER_DECL void append_json_text(fmt::memory_buffer& out, std::string_view text);
/// Writes one formatted line (with time, level and tag) to standard error.
EMBER_DECL void write_line(level lv, std::string_view text);
}  // namespace detail

/// Lines below `lv` are not written.
inline void set_level(level lv) { detail::global().threshold = lv; }
inline level current_level() { return detail::global().threshold; }
/// Plain lines or JSON lines from the next line on.
inline void set_format(format f) { detail::global().style = f; }
inline format current_format() { return detail::global().style; }
/// A tag printed on every line, usually the server's name.
inline void set_tag(std::string tag) { detail::global().tag = std::move(tag); }
/// Lines dropped since the last one written (a pipe or socket reader too slow, or gone).
inline std::uint64_t dropped_lines() { return detail::global().dropped; }

template <class... Args>
void write(level lv, fmt::format_string<Args...> f, Args&&... args) {
  if (lv < detail::global().threshold) return;
  detail::write_line(lv, fmt::vformat(f, fmt::make_format_args(args...)));
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

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/impl/log.hpp"
#endif
