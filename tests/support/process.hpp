// Test support: child processes of ours, started and stopped by a fixture, each with its
// output in a log file; waits are bounded in time.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace ember::test {

/// A child process; killed (SIGKILL) and reaped when destroyed if still running.
class child_process {
 public:
  child_process() = default;
  /// Starts `argv[0]` with `argv`, stdout and stderr appended to `log`.
  child_process(std::vector<std::string> argv, std::filesystem::path log) : log_(std::move(log)) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    const int rc = posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
  }
  child_process(child_process&& o) noexcept : pid_(std::exchange(o.pid_, 0)), log_(std::move(o.log_)) {}
  child_process& operator=(child_process&& o) noexcept {
    if (this != &o) {
      kill_now();
      pid_ = std::exchange(o.pid_, 0);
      log_ = std::move(o.log_);
    }
    return *this;
  }
  ~child_process() { kill_now(); }

  pid_t pid() const noexcept { return pid_; }
  bool running() const noexcept { return pid_ != 0; }
  const std::filesystem::path& log() const noexcept { return log_; }

  /// Sends `sig` (SIGSTOP, SIGCONT, SIGTERM...).
  void signal(int sig) const {
    if (pid_) ::kill(pid_, sig);
  }
  /// SIGKILL, then reaps it.
  void kill_now() {
    if (!pid_) return;
    ::kill(pid_, SIGCONT);  // a stopped process must run to die... and to be reaped
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = 0;
  }
  /// Waits up to `timeout` for it to exit; its exit code, or -1 if it did not exit in time.
  int wait_exit(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (pid_) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      if (std::chrono::steady_clock::now() > until) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return -1;
  }

 private:
  pid_t pid_ = 0;
  std::filesystem::path log_;
};

/// The text of a file ("" if missing).
inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// How many times `text` occurs in `file`.
inline std::size_t count_in(const std::filesystem::path& file, std::string_view text) {
  const auto all = read_text(file);
  std::size_t n = 0;
  for (auto at = all.find(text); at != std::string::npos; at = all.find(text, at + 1)) ++n;
  return n;
}

/// Waits up to `timeout` until `file` holds `text` at least `times` times.
inline bool wait_for_text(const std::filesystem::path& file, std::string_view text,
                          std::chrono::milliseconds timeout, std::size_t times = 1) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (count_in(file, text) < times) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace ember::test
