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

#include "ember/codec/text.hpp"
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

// codec::json_writer's escaping (same rules, same UTF-8 check), but into the line's own
// fmt::memory_buffer: the writer appends to a heap ember::buffer, and a log line allocates
// nothing beyond the buffer it always had.
EMBER_DECL void append_json_text(fmt::memory_buffer& out, std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t run = 0;  // start of the bytes not yet copied, which need no escape
  std::size_t i = 0;
  auto flush = [&] { out.append(text.data() + run, text.data() + i); };
  auto put = [&](std::string_view s) { out.append(s.data(), s.data() + s.size()); };
  while (i < n) {
    const unsigned char c = p[i];
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      if (const auto len = codec::utf8_sequence_length(p + i, n - i); len != 0) {
        i += len;
        continue;
      }
      flush();
      put("\\ufffd");
      run = ++i;
      continue;
    }
    flush();
    switch (c) {
      case '"': put("\\\""); break;
      case '\\': put("\\\\"); break;
      case '\n': put("\\n"); break;
      case '\r': put("\\r"); break;
      case '\t': put("\\t"); break;
      default: {
        static constexpr char hex[] = "0123456789abcdef";
        const char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        out.append(u, u + 6);
      }
    }
    run = ++i;
  }
  flush();
}

/// One JSON line; `dropped` > 0 adds the count of lines lost before it.
inline void format_json_line(fmt::memory_buffer& line, level lv, std::string_view tag,
                             std::string_view text, std::uint64_t dropped) {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto day = floor<days>(now);
  const year_month_day ymd{day};
  const hh_mm_ss<microseconds> t{floor<microseconds>(now - day)};
  fmt::format_to(std::back_inserter(line),
                 R"({{"ts":"{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:06d}Z","level":"{}")",
                 static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                 static_cast<unsigned>(ymd.day()), t.hours().count(), t.minutes().count(),
                 t.seconds().count(), t.subseconds().count(), level_name(lv));
  if (!tag.empty()) {
    line.append(std::string_view(R"(,"server":")"));
    append_json_text(line, tag);
    line.push_back('"');
  }
  line.append(std::string_view(R"(,"msg":")"));
  append_json_text(line, text);
  line.push_back('"');
  if (dropped > 0) fmt::format_to(std::back_inserter(line), R"(,"dropped":{})", dropped);
  line.append(std::string_view("}\n"));
}

EMBER_DECL void format_line(fmt::memory_buffer& line, level lv, std::string_view tag,
                            std::string_view text) {
  if (global().style == format::json) return format_json_line(line, lv, tag, text, 0);
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  fmt::format_to(std::back_inserter(line), "{:%Y-%m-%d %H:%M:%S}.{:03d} {:5} ",
                 std::chrono::floor<std::chrono::seconds>(now), ms.count(), level_name(lv));
  if (!tag.empty()) fmt::format_to(std::back_inserter(line), "[{}] ", tag);
  line.append(text);
  line.push_back('\n');
}

EMBER_DECL void format_line(fmt::memory_buffer& line, level lv, std::string_view text) {
  format_line(line, lv, global().tag, text);
}

EMBER_DECL void write_line(level lv, std::string_view text) {
  auto& s = global();
  if (s.out == sink::unknown) s.out = open_sink();
  fmt::memory_buffer out;  // the report of earlier drops and this line, in one write
  if (s.cut) out.push_back('\n');
  if (s.dropped > 0) {
    fmt::basic_memory_buffer<char, 64> notice;
    fmt::format_to(std::back_inserter(notice), "{} log lines dropped (log reader too slow)",
                   s.dropped);
    const std::string_view what(notice.data(), notice.size());
    if (s.style == format::json)
      format_json_line(out, level::warn, s.tag, what, s.dropped);
    else
      format_line(out, level::warn, s.tag, what);
  }
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
