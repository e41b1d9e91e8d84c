// ember: the logger's bodies (ember/log.hpp); compiled once per program under
// EMBER_SEPARATE_COMPILATION (fmt's chrono formatting stays out of every other file).
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdio>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "ember/log.hpp"

namespace ember::log {
namespace detail {

EMBER_DECL state& global() {
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

EMBER_DECL void format_line(fmt::memory_buffer& line, level lv, std::string_view text) {
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

EMBER_DECL void write_line(level lv, std::string_view text) {
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

}  // namespace ember::log
