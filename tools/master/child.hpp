// ember-master's record of one supervised process (a server or a service): what it runs, its
// state and the exits and restarts so far, as the admin API and the summary show them.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>

#include "ember/buffer.hpp"
#include "ember/codec/json_writer.hpp"
#include "policy.hpp"

namespace ember::master {

/// Where a supervised process is in its life.
enum class child_state { running, waiting, exited, gave_up, stopped };

/// One supervised process across its restarts.
struct child {
  using state = child_state;

  child(asio::io_context& io, std::string n, role rl, std::vector<std::string> args)
      : name(std::move(n)), r(rl), argv(std::move(args)), timer(io) {}
  std::string name;
  role r;
  std::vector<std::string> argv;  ///< what is run
  state st = state::running;
  bool alive = false;   ///< a process of this run has not been fully dealt with yet
  pid_t pid = 0;        ///< while not reaped
  std::uint64_t run = 0;  ///< which start this is; stale callbacks compare it
  int status = 0;       ///< wait status of the last exit
  bool killed = false;  ///< SIGKILL from the master
  bool restart_asked = false;  ///< the admin API's restart: start again once it has exited
  std::shared_ptr<asio::posix::stream_descriptor> pipe;  ///< its stdout and stderr
  asio::steady_timer timer;  ///< backoff before a restart; linger after an exit
  crash_record crashes;
  int restarts = 0;
  std::string last_exit;  ///< "code 1", "signal 9 (SIGKILL)", "cannot start: ..."

  /// Stopped or exited on its own with code 0, and never killed.
  bool clean() const {
    return (st == state::stopped || st == state::exited) && !killed && last_exit == "code 0";
  }

  /// {"pid", "state", "restarts", "last_exit"}, for the admin API.
  std::string to_json() const {
    static constexpr const char* states[] = {"running", "waiting to restart", "exited", "given up",
                                             "stopped"};
    buffer out;
    codec::json_writer w(out);
    w.begin_object();
    w.key("pid"), w.value_uint(static_cast<std::uint64_t>(pid));
    w.key("state"), w.value_string(states[static_cast<int>(st)]);
    w.key("restarts"), w.value_uint(static_cast<std::uint64_t>(restarts));
    w.key("last_exit"), w.value_string(last_exit);
    w.end_object();
    return std::string(reinterpret_cast<const char*>(out.data()), out.size());
  }

  /// How it ended, for the summary.
  std::string final_state() const {
    switch (st) {
      case state::stopped: {
        std::string out = alive ? "running" : "stopped, " + last_exit;
        if (killed) out += " (killed by the master)";
        return out;
      }
      case state::exited: return "exited on its own, code 0";
      case state::gave_up: return "given up, last exit " + last_exit;
      case state::waiting:
      case state::running: return "last exit " + last_exit;
    }
    return {};
  }
};

}  // namespace ember::master
