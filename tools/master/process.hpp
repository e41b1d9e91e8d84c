// ember-master's child processes: spawning one with its output on a pipe, in a process group
// of its own, and describing how one ended.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

extern char** environ;

namespace ember::master {

/// "code 1", "signal 11 (SIGSEGV)".
inline std::string describe_status(int status) {
  if (WIFEXITED(status)) return fmt::format("code {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* abbrev = sigabbrev_np(WTERMSIG(status));
    return fmt::format("signal {} (SIG{})", WTERMSIG(status), abbrev ? abbrev : "?");
  }
  return fmt::format("status {:#x}", status);
}

/// A started child: its pid and the read end of the pipe holding its stdout and stderr; or
/// why it could not start (`error` set, nothing to clean up).
struct spawned {
  pid_t pid = 0;
  int output = -1;
  const char* error = nullptr;
};

/// Starts `argv` (argv[0] searched in PATH when it has no '/') with stdin from /dev/null,
/// stdout and stderr on a new pipe, default signal handling and an empty signal mask.
inline spawned spawn_child(std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {0, -1, std::strerror(errno)};
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);

  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&files, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&files, fds[1], STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // A process group of its own: a Ctrl-C at the terminal reaches the master alone, which
  // then stops the servers in order; and the servers outlive a master that dies.
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, defaults;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  const bool search = argv.front().find('/') == std::string::npos;
  const int rc = search ? posix_spawnp(&pid, args[0], &files, &attr, args.data(), environ)
                        : posix_spawn(&pid, args[0], &files, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  posix_spawnattr_destroy(&attr);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return {0, -1, std::strerror(rc)};
  }
  return {pid, fds[0], nullptr};
}

}  // namespace ember::master
