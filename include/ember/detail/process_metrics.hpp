// ember: the figures of this process that every Prometheus client exposes under the standard
// `process_` names — CPU seconds, resident and virtual memory, open and allowed file
// descriptors, start time — read from Linux's /proc when scraped.
#pragma once

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "ember/detail/prometheus.hpp"

namespace ember::detail {

/// The first `n` bytes of a small /proc file ("" when it cannot be read).
inline std::string read_proc_file(const char* path, std::size_t n = 4096) {
  std::string out;
  if (FILE* f = std::fopen(path, "re")) {
    out.resize(n);
    out.resize(std::fread(out.data(), 1, n, f));
    std::fclose(f);
  }
  return out;
}

/// Writes `process_cpu_seconds_total`, `process_resident_memory_bytes`,
/// `process_virtual_memory_bytes`, `process_open_fds`, `process_max_fds` and
/// `process_start_time_seconds` (Unix time); a figure /proc does not give is left out.
inline void write_process_metrics(prometheus_writer& w) {
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  // /proc/self/stat: fields after the command name's closing parenthesis (which may itself
  // hold spaces and parentheses); utime and stime are fields 14 and 15, starttime 22, vsize 23,
  // rss 24 (man 5 proc).
  const auto stat = read_proc_file("/proc/self/stat");
  const auto close = stat.rfind(')');
  if (close != std::string::npos) {
    unsigned long long utime = 0, stime = 0, start = 0, vsize = 0;
    long long rss = 0;
    const int got = std::sscanf(stat.c_str() + close + 1,
                                " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d "
                                "%*d %*d %*d %*d %llu %llu %lld",
                                &utime, &stime, &start, &vsize, &rss);
    if (got == 5 && tick > 0) {
      w.single("process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.",
               static_cast<double>(utime + stime) / tick);
      w.single("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
               static_cast<double>(rss) * page);
      w.single("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", vsize);
      // starttime counts ticks since boot; /proc/stat's btime is the boot's Unix time.
      const auto boot = read_proc_file("/proc/stat", 1 << 16);
      if (const auto at = boot.find("\nbtime "); at != std::string::npos) {
        const auto btime = std::strtoull(boot.c_str() + at + 7, nullptr, 10);
        w.single("process_start_time_seconds", "gauge",
                 "Start time of the process since the Unix epoch, in seconds.",
                 static_cast<double>(btime) + static_cast<double>(start) / tick);
      }
    }
  }
  if (DIR* d = ::opendir("/proc/self/fd")) {
    std::uint64_t n = 0;
    while (const dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
    w.single("process_open_fds", "gauge", "Open file descriptors.", n > 0 ? n - 1 : 0);  // not d's own
  }
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY)
    w.single("process_max_fds", "gauge", "The soft limit of open file descriptors.",
             static_cast<std::uint64_t>(lim.rlim_cur));
}

}  // namespace ember::detail
