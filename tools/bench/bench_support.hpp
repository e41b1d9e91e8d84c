// What ember's benchmark programs share: the process's CPU time, running N coroutines to the
// end, and the machine and JSON bits of their reports.
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <exception>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

namespace ember::bench {

/// utime + stime of this process (all its threads), in seconds.
inline double own_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

/// Runs `n` copies of `body(i)` and waits for all of them; rethrows the first exception.
template <class Body>
asio::awaitable<void> run_all(int n, Body& body) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer done(ex, std::chrono::steady_clock::time_point::max());
  int left = n;
  std::exception_ptr error;
  for (int i = 0; i < n; ++i)
    asio::co_spawn(ex, body(i), [&](std::exception_ptr e) {
      if (e && !error) error = e;
      if (--left == 0) done.cancel();
    });
  while (left > 0) {
    std::error_code ec;
    co_await done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (error) std::rethrow_exception(error);
}

inline std::string json_escape(std::string_view s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) {
      out += fmt::format("\\u{:04x}", ch);
      continue;
    }
    out += ch;
  }
  return out;
}

/// The CPU's model name from /proc/cpuinfo ("?" when it has none).
inline std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  return "?";
}

}  // namespace ember::bench
