// Test support: a real memcached on 127.0.0.1 and a free port, which a test can stop, restart
// (same port, empty cache), pause and resume. Killed with the test process, even if it crashes.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/process.hpp"

#ifndef EMBER_MEMCACHED_BIN
#define EMBER_MEMCACHED_BIN "/usr/bin/memcached"
#endif

namespace ember::test {

/// How to run a memcached.
struct memcached_config {
  std::size_t memory_mb = 64;  ///< -m: cache size
  /// -M -o slab_automove=0: refuse stores when full instead of evicting (what the data
  /// layer's store requires); false gives memcached's defaults, which evict.
  bool no_evict = true;
};

/// One memcached process of ours. Starts in the constructor and waits (up to 5 s) until it
/// accepts connections; SIGKILLed when destroyed.
class memcached_server {
 public:
  explicit memcached_server(memcached_config config = {}) : config_(config) {
    char dir[] = "/tmp/ember-memcached-XXXXXX";
    if (!::mkdtemp(dir)) throw std::runtime_error("memcached_server: cannot create a temporary directory");
    dir_ = dir;
    // Another process may take the free port before memcached binds it: try a few.
    for (int attempt = 0;; ++attempt) {
      port_ = free_port();
      try {
        start();
        return;
      } catch (const std::exception&) {
        if (attempt == 4) throw;
      }
    }
  }
  memcached_server(const memcached_server&) = delete;
  memcached_server& operator=(const memcached_server&) = delete;
  ~memcached_server() {
    process_.kill_now();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::uint16_t port() const noexcept { return port_; }
  /// "127.0.0.1:PORT", as memcache_options::servers wants it.
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const noexcept { return process_.pid(); }
  bool running() const noexcept { return process_.running(); }
  const std::filesystem::path& log() const noexcept { return process_.log(); }

  /// Kills it (SIGKILL): clients see refused connections.
  void stop() { process_.kill_now(); }
  /// Starts it again on the same port, with an empty cache; waits until it accepts.
  void start() {
    if (process_.running()) return;
    process_ = child_process(command(), dir_ / ("memcached-" + std::to_string(port_) + ".log"));
    if (!wait_accepting(std::chrono::seconds(5))) {
      process_.kill_now();
      throw std::runtime_error("memcached on port " + std::to_string(port_) +
                               " did not start: " + read_text(dir_ / ("memcached-" + std::to_string(port_) + ".log")));
    }
  }
  /// stop() then start().
  void restart() {
    stop();
    start();
  }
  /// SIGSTOP: connections are accepted by the kernel but nothing answers. Returns once the
  /// kernel reports it stopped (a signal is delivered asynchronously), or after 1 s.
  void pause() const {
    process_.signal(SIGSTOP);
    const auto stat = "/proc/" + std::to_string(process_.pid()) + "/stat";
    for (int i = 0; i < 200; ++i) {
      const auto text = read_text(stat);  // "pid (comm) STATE ..."
      const auto close = text.rfind(')');
      if (close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'T') return;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  /// SIGCONT.
  void resume() const { process_.signal(SIGCONT); }

 private:
  std::vector<std::string> command() const {
    std::vector<std::string> argv;
    // setpriv makes the kernel kill memcached when the test dies, and switches to an
    // unprivileged user itself (memcached refuses root; its own -u would clear the death
    // signal, which does not survive a change of credentials).
    const bool have_setpriv = ::access("/usr/bin/setpriv", X_OK) == 0;
    if (have_setpriv) {
      argv = {"/usr/bin/setpriv", "--pdeathsig", "KILL"};
      if (::geteuid() == 0) {
        const std::string user = ::getpwnam("memcache") ? "memcache" : "nobody";
        argv.insert(argv.end(), {"--reuid=" + user, "--regid=" + user, "--clear-groups"});
      }
      argv.push_back("--");
    }
    argv.insert(argv.end(), {EMBER_MEMCACHED_BIN, "-l", "127.0.0.1", "-p", std::to_string(port_), "-U", "0",
                             "-m", std::to_string(config_.memory_mb), "-t", "2"});
    if (config_.no_evict) argv.insert(argv.end(), {"-M", "-o", "slab_automove=0"});
    if (!have_setpriv && ::geteuid() == 0) argv.insert(argv.end(), {"-u", ::getpwnam("memcache") ? "memcache" : "nobody"});
    return argv;
  }

  static std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error("memcached_server: socket() failed");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
    ::close(fd);
    if (!ok) throw std::runtime_error("memcached_server: cannot find a free port");
    return ntohs(a.sin_port);
  }

  bool wait_accepting(std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      if (process_.wait_exit(std::chrono::milliseconds(0)) != -1) return false;  // it exited
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port_);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      const bool up = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      if (fd >= 0) ::close(fd);
      if (up) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  memcached_config config_;
  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  child_process process_;
};

}  // namespace ember::test
