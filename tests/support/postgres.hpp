// Test support: throw-away databases for the ODBC tests — a real PostgreSQL 15 server in a temp
// directory on a free port of 127.0.0.1 (stopped and started again at will), a temp SQLite file,
// and the quiet unixODBC driver configuration both need.
#pragma once

#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/process.hpp"

#ifndef EMBER_PG_BIN
#define EMBER_PG_BIN "/usr/lib/postgresql/15/bin"
#endif

namespace ember::test {

/// Points unixODBC at a copy of /etc/odbcinst.ini with `CommLog=0`: Debian's sets CommLog=1,
/// which makes psqlODBC write a log file per connection into /tmp. Must run before the first
/// ODBC call of the process (unixODBC reads the file then); later calls do nothing.
inline void quiet_odbc_driver_logs() {
  static std::once_flag once;
  std::call_once(once, [] {
    const auto dir = std::filesystem::temp_directory_path() / ("ember-odbcinst-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    std::ifstream in("/etc/odbcinst.ini");
    std::ofstream out(dir / "odbcinst.ini");
    for (std::string line; std::getline(in, line);)
      out << (line.rfind("CommLog", 0) == 0 ? "CommLog=0" : line) << '\n';
    out.close();
    ::setenv("ODBCSYSINI", dir.c_str(), 1);
    // Removed at exit: unixODBC keeps no handle on it.
    static struct cleanup {
      std::filesystem::path dir;
      ~cleanup() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
      }
    } remove_at_exit{dir};
  });
}

/// A free TCP port on 127.0.0.1 (bound to port 0, then released).
inline std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("free_port: socket() failed");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("free_port: cannot bind 127.0.0.1:0");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

/// The last `lines` lines of a file, for error messages.
inline std::string tail(const std::filesystem::path& file, std::size_t lines = 15) {
  const auto text = read_text(file);
  std::size_t at = text.size();
  for (std::size_t n = 0; at > 0 && n <= lines; --at)
    if (text[at - 1] == '\n') ++n;
  return text.substr(at);
}

/// A throw-away PostgreSQL 15 server: initdb into a fresh temp directory, started on a free
/// port of 127.0.0.1 with its socket in that directory. As root, initdb and pg_ctl run as the
/// `postgres` user (initdb refuses root) and the directory is chowned to it. Destroying it stops
/// the server and removes the directory.
class postgres {
 public:
  postgres() : port_(free_port()) {
    quiet_odbc_driver_logs();
    char tmpl[] = "/tmp/ember-pg-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("postgres: cannot create a temp directory");
    dir_ = tmpl;
    if (::geteuid() == 0) {
      const passwd* pw = ::getpwnam("postgres");
      if (!pw) throw std::runtime_error("postgres: running as root needs a 'postgres' user");
      if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0)
        throw std::runtime_error("postgres: cannot chown " + dir_.string());
    }
    try {
      command({EMBER_PG_BIN "/initdb", "-D", data().string(), "-U", "postgres", "--auth=trust", "-E", "UTF8",
               "--locale=C.UTF-8", "--no-sync"},
              std::chrono::seconds(60), "initdb failed");
      start();
    } catch (...) {
      remove();
      throw;
    }
  }
  postgres(const postgres&) = delete;
  postgres& operator=(const postgres&) = delete;
  ~postgres() {
    try {
      if (running_) stop();
    } catch (...) {  // still removed below; a stray server dies with its directory's socket
    }
    remove();
  }

  /// Starts the server (after stop()); waits until it accepts connections, or throws with the
  /// tail of its log.
  void start() {
    command(
        {EMBER_PG_BIN "/pg_ctl", "-D", data().string(), "-l", server_log().string(), "-w", "-t", "30", "-o",
         "-p " + std::to_string(port_) + " -k " + dir_.string() + " -c listen_addresses=127.0.0.1", "start"},
        std::chrono::seconds(40), "PostgreSQL did not start");
    running_ = true;
  }
  /// Stops the server (fast shutdown: open connections are terminated).
  void stop() {
    command({EMBER_PG_BIN "/pg_ctl", "-D", data().string(), "-m", "fast", "-w", "-t", "30", "stop"},
            std::chrono::seconds(40), "PostgreSQL did not stop");
    running_ = false;
  }

  bool running() const noexcept { return running_; }
  std::uint16_t port() const noexcept { return port_; }
  /// `Protocol=7.4-1`: an error rolls back the transaction rather than only its statement,
  /// which doubles batched throughput (see odbc.hpp).
  std::string connection_string() const {
    return "Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=" + std::to_string(port_) +
           ";Database=postgres;Uid=postgres;Protocol=7.4-1;";
  }
  const std::filesystem::path& dir() const noexcept { return dir_; }
  std::filesystem::path server_log() const { return dir_ / "server.log"; }

 private:
  std::filesystem::path data() const { return dir_ / "data"; }

  // Runs a PostgreSQL tool (as `postgres` when we are root) and waits for it, bounded.
  void command(std::vector<std::string> argv, std::chrono::seconds limit, const std::string& failure) {
    if (::geteuid() == 0) argv.insert(argv.begin(), {"/usr/sbin/runuser", "-u", "postgres", "--"});
    const auto log = dir_ / "tools.log";
    child_process p(argv, log);
    const int rc = p.wait_exit(limit);
    if (rc != 0) {
      throw std::runtime_error(
          failure + (rc < 0 ? " (timed out)" : " (exit " + std::to_string(rc) + ")") + ": " + tail(log) +
          (std::filesystem::exists(server_log()) ? "\nserver log: " + tail(server_log()) : ""));
    }
  }

  void remove() noexcept {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::uint16_t port_;
  std::filesystem::path dir_;
  bool running_ = false;
};

/// A temp SQLite database file, removed (with its -wal and -shm files) when destroyed.
class sqlite_file {
 public:
  sqlite_file() {
    quiet_odbc_driver_logs();
    char tmpl[] = "/tmp/ember-sqlite-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("sqlite_file: cannot create a temp directory");
    dir_ = tmpl;
  }
  sqlite_file(const sqlite_file&) = delete;
  sqlite_file& operator=(const sqlite_file&) = delete;
  ~sqlite_file() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::filesystem::path path() const { return dir_ / "test.db"; }
  std::string connection_string() const { return "Driver=SQLite3;Database=" + path().string() + ";"; }

 private:
  std::filesystem::path dir_;
};

}  // namespace ember::test
