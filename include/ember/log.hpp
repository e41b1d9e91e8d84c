// ember: a small leveled logger on fmt; one line per event, written with one write() so lines
// from many processes sharing a pipe never interleave.
//
// A server never waits for whoever reads its log: when standard error is a pipe or a socket
// (ember-master's pipes, journald), lines are written without blocking, and a line that does
// not fit — the reader is too slow, or gone (EPIPE; servers ignore SIGPIPE) — is dropped and
// counted. The next line that goes out is preceded by "N log lines dropped (log reader too
// slow)". A file or a terminal is written as before.
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace ember::log {

/// Severity of a log line; lines below the threshold are dropped before formatting.
enum class level { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

namespace detail {
/// How lines reach standard error; chosen at the first line.
enum class sink : std::uint8_t { unknown, plain, pipe, socket };

struct state {
  level threshold = level::info;
  std::string tag;  ///< e.g. the server name, printed on every line
  sink out = sink::unknown;
  std::uint64_t dropped = 0;  ///< lines lost since the last line written
  bool cut = false;           ///< the last write went out in part: start the next on a new line
};
inline state& global() {
  static state s;
  return s;
}

/// Looks at standard error once. A pipe is reopened non-blocking through /proc, so that
/// O_NONBLOCK lands on an open file description of our own rather than on the one stdout or
/// another process (a shell, a test runner) shares; failing that it is set on fd 2 itself.
/// A socket keeps its flags: each line is sent with MSG_DONTWAIT.
inline sink open_sink() {
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return sink::plain;
  if (S_ISSOCK(st.st_mode)) return sink::socket;
  if (!S_ISFIFO(st.st_mode)) return sink::plain;
  if (int fd = ::open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC); fd >= 0) {
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  } else {
    ::fcntl(STDERR_FILENO, F_SETFL, ::fcntl(STDERR_FILENO, F_GETFL) | O_NONBLOCK);
  }
  return sink::pipe;
}

inline void format_line(fmt::memory_buffer& line, level lv, std::string_view text) {
  static constexpr std::string_view names[] = {"debug", "info", "warn", "error"};
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  fmt::format_to(std::back_inserter(line), "{:%Y-%m-%d %H:%M:%S}.{:03d} {:5} ",
                 std::chrono::floor<std::chrono::seconds>(now), ms.count(),
                 names[static_cast<int>(lv)]);
  if (!global().tag.empty()) fmt::format_to(std::back_inserter(line), "[{}] ", global().tag);
  line.append(text);
  line.push_back('\n');
}

inline void write_line(level lv, std::string_view text) {
  auto& s = global();
  if (s.out == sink::unknown) s.out = open_sink();
  fmt::memory_buffer out;  // the report of earlier drops and this line, in one write
  if (s.cut) out.push_back('\n');
  if (s.dropped > 0)
    format_line(out, level::warn,
                fmt::format("{} log lines dropped (log reader too slow)", s.dropped));
  format_line(out, lv, text);
  ssize_t n;
  do {
    n = s.out == sink::socket
            ? ::send(STDERR_FILENO, out.data(), out.size(), MSG_DONTWAIT | MSG_NOSIGNAL)
            : ::write(STDERR_FILENO, out.data(), out.size());
  } while (n < 0 && errno == EINTR);
  // Up to PIPE_BUF (4 KiB) a pipe takes all or nothing; a longer line may go out in part.
  const bool whole = n >= 0 && static_cast<std::size_t>(n) == out.size();
  s.cut = n > 0 && !whole;
  s.dropped = whole ? 0 : s.dropped + 1;  // EAGAIN, EPIPE or cut short: this line is lost
}
}  // namespace detail

/// Lines below `lv` are not written.
inline void set_level(level lv) { detail::global().threshold = lv; }
inline level current_level() { return detail::global().threshold; }
/// A tag printed on every line, usually the server's name.
inline void set_tag(std::string tag) { detail::global().tag = std::move(tag); }
/// Lines dropped since the last one written (a pipe or socket reader too slow, or gone).
inline std::uint64_t dropped_lines() { return detail::global().dropped; }

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
