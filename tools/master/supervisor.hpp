// ember-master's supervisor: runs the servers of a config.json as child processes, prints
// their output line by line under their names, restarts those that crash (policy.hpp) and
// stops them in order. Everything happens on one io_context, without threads: a signal_set
// for SIGCHLD (reaped with waitpid(WNOHANG)), SIGINT and SIGTERM; one stream_descriptor per
// child's output pipe; a timer per server for backoff.
#pragma once

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/redirect_error.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ember/app/config.hpp"
#include "ember/detail/prometheus.hpp"
#include "ember/log.hpp"
#include "ember/spawn.hpp"
#include "child.hpp"
#include "output.hpp"
#include "policy.hpp"
#include "process.hpp"

namespace ember::master {

/// A process the servers need that the master runs for them (services.hpp).
struct service {
  std::string name;               ///< its prefix in the output, e.g. "memcached:11211"
  std::vector<std::string> argv;  ///< argv[0] is searched in PATH without '/'
  std::function<bool()> ready;    ///< the servers start once this is true (e.g. it accepts connections)
};

/// What to run and how.
struct options {
  std::filesystem::path config_file;
  std::string program;            ///< run as `PROGRAM CONFIG NAME`; searched in PATH without '/'
  std::vector<std::string> only;  ///< empty: every server of the config
  std::vector<service> services;  ///< started before the servers, stopped after them
  policy rules;
};

class supervisor {
 public:
  static constexpr std::size_t read_chunk = 4096;  ///< bytes read from a child's pipe at once
  static constexpr std::size_t max_line = 4096;    ///< longer lines are printed in pieces

  supervisor(asio::io_context& io, const app::cluster_config& config, options o)
      : io_(io), options_(std::move(o)), signals_(io, SIGCHLD, SIGINT, SIGTERM), deadline_(io) {
    for (const auto& svc : options_.services)
      servers_.push_back(std::make_unique<server>(io, svc.name, role::service, svc.argv));
    const auto config_path = std::filesystem::absolute(options_.config_file).string();
    for (const auto* s : start_order(config, options_.only))
      servers_.push_back(std::make_unique<server>(io, s->name, role_of(*s),
                                                  std::vector<std::string>{options_.program, config_path, s->name}));
  }
  supervisor(const supervisor&) = delete;
  supervisor& operator=(const supervisor&) = delete;

  /// Starts every server in start order; io.run() returns once all have ended.
  void start() {
    wait_signals();
    std::string names;
    for (const auto& s : servers_)
      if (s->r != role::service) names += " " + s->name;
    for (const auto& svc : options_.services)
      say(log::level::info, "{} is in the config and nothing serves it: the master runs it ({})", svc.name,
          fmt::join(svc.argv, " "));
    say(log::level::info, "starting {} servers of {} with {}:{}", servers_.size() - options_.services.size(),
        options_.config_file.string(), options_.program, names);
    for (auto& s : servers_)
      if (s->r == role::service) launch(*s);
    start_servers_when_ready(std::chrono::steady_clock::now() + service_wait);
  }

  /// How long the servers wait for the services to be ready before they start anyway.
  static constexpr std::chrono::seconds service_wait{10};

  /// One server's process for the admin API: {"pid", "state", "restarts", "last_exit"}, or
  /// "" if there is no such server.
  std::string process_json(const std::string& name) const {
    for (const auto& s : servers_) {
      if (s->name != name) continue;
      return s->to_json();
    }
    return {};
  }
  /// The supervisor's figures as Prometheus metric families: servers by state, and per server
  /// whether its process runs and how often it was restarted (the servers of the config, not
  /// the services such as memcached that the master runs for them).
  void write_metrics(ember::detail::prometheus_writer& w) const {
    static constexpr std::pair<state, std::string_view> states[] = {
        {state::running, "running"}, {state::waiting, "waiting"}, {state::exited, "exited"},
        {state::gave_up, "gave_up"}, {state::stopped, "stopped"}};
    w.family("ember_master_servers", "gauge", "Servers the master runs, by the state of their process.");
    for (const auto& [st, name] : states) {
      std::uint64_t n = 0;
      for (const auto& s : servers_) n += s->r != role::service && s->st == st ? 1 : 0;
      w.sample("ember_master_servers", {{"state", name}}, n);
    }
    w.family("ember_master_server_up", "gauge", "1 while a server's process runs, else 0.");
    for (const auto& s : servers_)
      if (s->r != role::service)
        w.sample("ember_master_server_up", {{"server", s->name}}, s->st == state::running && s->pid ? 1 : 0);
    w.family("ember_master_restarts_total", "counter", "Restarts of a server after it died.");
    for (const auto& s : servers_)
      if (s->r != role::service)
        w.sample("ember_master_restarts_total", {{"server", s->name}}, static_cast<std::uint64_t>(s->restarts));
  }

  /// Stops one server (SIGTERM; it exits with code 0 and is not restarted); false if it has
  /// no process.
  bool stop_one(const std::string& name) {
    for (auto& s : servers_)
      if (s->name == name && s->alive && s->pid) return ::kill(s->pid, SIGTERM) == 0;
    return false;
  }
  /// Restarts one server with the program the config names, so a new build installed there
  /// is what starts (a rolling upgrade drains the server first): SIGTERM, then a start once it
  /// has exited; at once if it does not run. False if there is no such server or the master
  /// is stopping.
  bool restart_one(const std::string& name) {
    if (stopping_ || finished_) return false;
    for (auto& s : servers_) {
      if (s->name != name || s->r == role::service) continue;
      if (s->alive) {
        s->restart_asked = true;
        return s->pid && ::kill(s->pid, SIGTERM) == 0;
      }
      say(log::level::info, "{}: started again by the admin API", s->name);
      launch(*s);
      return true;
    }
    return false;
  }
  /// The ordered stop, as on SIGTERM.
  void stop_all() {
    if (!finished_ && !stopping_) stop(SIGTERM);
  }
  /// The servers, in start order (not the services).
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& s : servers_)
      if (s->r != role::service) out.push_back(s->name);
    return out;
  }
  /// Called once when every server has ended (the master can close its ports then).
  void on_finished(std::function<void()> f) { on_finished_ = std::move(f); }

  /// The servers the master runs now, in start order: those whose process runs or waits to
  /// be restarted (a crashing server stays, so its scrapes fail where an operator sees them);
  /// not those stopped, exited on their own or given up on. Before `start`: every server.
  std::vector<std::string> serving() const {
    std::vector<std::string> out;
    for (const auto& s : servers_)
      if (s->r != role::service && (s->st == state::running || s->st == state::waiting))
        out.push_back(s->name);
    return out;
  }
  /// Called with `serving()` each time it changes (ember-master rewrites its Prometheus
  /// file_sd file then).
  void on_serving_changed(std::function<void(const std::vector<std::string>&)> f) {
    on_serving_changed_ = std::move(f);
    last_serving_ = serving();
  }

  /// After io.run(): 0 if every server stopped cleanly (code 0 after SIGTERM, or code 0 on
  /// its own), else 1.
  int exit_code() const {
    for (const auto& s : servers_)
      if (!s->clean()) return 1;
    return 0;
  }

 private:
  using state = child_state;
  using server = child;

  // --- output

  asio::awaitable<void> pump(server& s, std::shared_ptr<asio::posix::stream_descriptor> pipe,
                             std::uint64_t run) {
    std::array<char, read_chunk> buf;
    line_splitter lines(max_line);
    auto print = [&](std::string_view text, bool continued) { print_line(s.name, text, continued); };
    std::error_code ec;
    while (!ec) {
      const auto n = co_await pipe->async_read_some(
          asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
      lines.feed({buf.data(), n}, print);
    }
    lines.finish(print);
    if (ec != asio::error::operation_aborted) output_closed(s, run);
  }

  // --- processes

  void launch(server& s) {
    s.st = state::running;
    s.killed = false;
    ++s.run;
    const spawned child = spawn_child(s.argv);
    if (child.error) {
      cannot_start(s, child.error);
      return;
    }
    s.alive = true;
    s.pid = child.pid;
    s.pipe = std::make_shared<asio::posix::stream_descriptor>(io_, child.output);
    ember::spawn(io_.get_executor(), pump(s, s.pipe, s.run), "server output pump");
    say(log::level::info, "started {} (pid {}){}", s.name, child.pid,
        s.restarts ? fmt::format(", restart {}", s.restarts) : "");
    serving_changed();
  }

  void cannot_start(server& s, const char* why) {
    say(log::level::error, "cannot start {} ({}): {}", s.name, s.argv.front(), why);
    s.last_exit = fmt::format("cannot start: {}", why);
    crashed(s);
    serving_changed();
  }

  void wait_signals() {
    signals_.async_wait([this](std::error_code ec, int sig) {
      if (ec || finished_) return;
      if (sig == SIGCHLD) reap();
      else stop(sig);
      if (!finished_) wait_signals();
    });
  }

  void reap() {
    int status = 0;
    for (pid_t pid; (pid = ::waitpid(-1, &status, WNOHANG)) > 0;) {
      for (auto& p : servers_) {
        server& s = *p;
        if (s.pid != pid) continue;
        s.pid = 0;
        s.status = status;
        if (!s.pipe) {
          ended(s);
          break;
        }
        // Its last lines may still be in the pipe: print them before saying it ended.
        s.timer.expires_after(options_.rules.linger);
        s.timer.async_wait([this, &s, run = s.run](std::error_code ec) {
          if (ec || s.run != run || !s.alive) return;
          ended(s);  // a process it started still holds the pipe: stop reading it
        });
        break;
      }
    }
  }

  void output_closed(server& s, std::uint64_t run) {
    if (s.run != run || !s.alive) return;
    s.pipe.reset();
    if (s.pid == 0) ended(s);  // reaped already
  }

  /// The process of `s` has exited and its output is read.
  void ended(server& s) {
    s.alive = false;
    s.timer.cancel();
    if (s.pipe) s.pipe->close();
    s.pipe.reset();
    s.last_exit = describe_status(s.status);
    const bool restart = std::exchange(s.restart_asked, false);
    if (restart && !stopping_) {
      say(log::level::info, "{} stopped ({}) to restart: starting it again", s.name, s.last_exit);
      launch(s);
    } else if (stopping_) {
      s.st = state::stopped;
      say(s.last_exit == "code 0" && !s.killed ? log::level::info : log::level::warn,
          "{} stopped: {}", s.name, s.last_exit);
      if (!finished_) next_tier();
    } else if (WIFEXITED(s.status) && WEXITSTATUS(s.status) == 0) {
      s.st = state::exited;
      say(log::level::info, "{} exited with code 0 on its own; not restarting it", s.name);
      if_nothing_left();
    } else {
      crashed(s);
    }
    serving_changed();
  }

  void crashed(server& s) {
    const auto delay = s.crashes.crashed(clock::now(), options_.rules);
    if (!delay) {
      s.st = state::gave_up;
      say(log::level::error, "giving up on {}: crashed {} times in {} s; last exit: {}", s.name,
          s.crashes.recent(), options_.rules.window.count() / 1000.0, s.last_exit);
      if_nothing_left();
      return;
    }
    s.st = state::waiting;
    say(log::level::warn, "{} crashed: {}; restarting it in {} ms ({} in {} s; gives up at {})",
        s.name, s.last_exit, delay->count(),
        s.crashes.recent() == 1 ? "first crash" : fmt::format("{} crashes", s.crashes.recent()),
        options_.rules.window.count() / 1000.0, options_.rules.max_crashes);
    s.timer.expires_after(*delay);
    s.timer.async_wait([this, &s](std::error_code ec) {
      if (ec || stopping_ || s.st != state::waiting) return;
      ++s.restarts;
      launch(s);
    });
  }

  /// Ends the master when no server runs or waits to restart (not while starting them).
  // A server that finds its memcached not yet listening would fail to start: the services
  // come first, checked every few milliseconds (a loopback connect answers at once).
  void start_servers_when_ready(std::chrono::steady_clock::time_point deadline) {
    const bool ready = std::all_of(options_.services.begin(), options_.services.end(),
                                   [](const service& s) { return !s.ready || s.ready(); });
    if (!ready && !stopping_ && !finished_ && std::chrono::steady_clock::now() < deadline) {
      startup_.expires_after(std::chrono::milliseconds(10));
      startup_.async_wait([this, deadline](std::error_code ec) {
        if (!ec) start_servers_when_ready(deadline);
      });
      return;
    }
    if (!ready)
      say(log::level::warn, "a service is not ready after {} s; starting the servers anyway", service_wait.count());
    if (!stopping_ && !finished_)
      for (auto& s : servers_)
        if (s->r != role::service) launch(*s);
    starting_ = false;
    if_nothing_left();
  }

  void if_nothing_left() {
    if (starting_ || finished_ || stopping_) return;
    bool services = false;
    for (const auto& s : servers_) {
      if (s->r == role::service) services = services || s->alive || s->st == state::waiting;
      else if (s->alive || s->st == state::waiting) return;
    }
    if (!services) return finish("every server has ended");
    say(log::level::info, "every server has ended; stopping the services");
    stop_services_only_ = true;
    stop(SIGTERM);
  }

  // --- the ordered stop

  void stop(int sig) {
    if (stopping_) {
      say(log::level::warn, "SIG{} again: killing the servers still running (SIGKILL)",
          sigabbrev_np(sig));
      killing_ = true;
      for (auto& s : servers_) kill(*s);
      return;
    }
    stopping_ = true;
    if (!stop_services_only_)
      say(log::level::info, "SIG{}: stopping the servers: client-facing first, then backends, "
          "then roots{}", sigabbrev_np(sig), options_.services.empty() ? "" : ", then services");
    for (auto& s : servers_) {
      if (s->st != state::waiting) continue;
      s->timer.cancel();
      s->st = state::stopped;
      s->last_exit = "waiting to restart after " + s->last_exit;
      say(log::level::info, "{} was {}; not restarted", s->name, s->last_exit);
    }
    serving_changed();
    tier_ = stop_services_only_ ? static_cast<int>(role::service) - 1 : -1;
    next_tier();
  }

  void kill(server& s) {
    if (!s.alive || s.pid == 0) return;
    s.killed = true;
    ::kill(s.pid, SIGKILL);
  }

  /// Moves to the next group of the stop order once the current one has stopped.
  void next_tier() {
    for (const auto& s : servers_)
      if (s->alive && (killing_ || static_cast<int>(s->r) == tier_)) return;  // still stopping
    if (killing_) return finish("killed");
    deadline_.cancel();
    while (++tier_ <= static_cast<int>(role::service)) {
      std::string names;
      for (auto& s : servers_) {
        if (!s->alive || static_cast<int>(s->r) != tier_) continue;
        names += (names.empty() ? "" : ", ") + s->name;
        if (s->pid) ::kill(s->pid, SIGTERM);
      }
      if (names.empty()) continue;
      say(log::level::info, "stopping {} ({}): SIGTERM", names, describe(static_cast<role>(tier_)));
      deadline_.expires_after(options_.rules.stop_timeout);
      deadline_.async_wait([this, tier = tier_](std::error_code ec) {
        if (ec || tier_ != tier) return;
        for (auto& s : servers_) {
          if (!s->alive || static_cast<int>(s->r) != tier) continue;
          say(log::level::warn, "{} did not stop in {} s: SIGKILL", s->name,
              options_.rules.stop_timeout.count() / 1000.0);
          kill(*s);
        }
      });
      return;
    }
    finish(stop_services_only_ ? "services stopped" : "stopped");
  }

  // Tells `on_serving_changed` when the servers the master runs are not the last it told.
  void serving_changed() {
    if (!on_serving_changed_) return;
    auto now = serving();
    if (now == last_serving_) return;
    last_serving_ = std::move(now);
    on_serving_changed_(last_serving_);
  }

  void finish(std::string_view why) {
    finished_ = true;
    signals_.cancel();
    deadline_.cancel();
    std::size_t width = 6;
    for (const auto& s : servers_) width = std::max(width, s->name.size());
    say(log::level::info, "{}; summary:", why);
    for (const auto& s : servers_) {
      s->timer.cancel();
      if (log::current_format() == log::format::json) {  // a table is for people: a line each
        say(s->clean() ? log::level::info : log::level::warn, "summary: {} {} restart{} {} {}", s->name,
            s->restarts, s->restarts == 1 ? "" : "s", s->clean() ? "ok" : "FAIL", s->final_state());
        continue;
      }
      write_out(fmt::format("[master]   {:<{}} {:>3} restart{} {} {}\n", s->name, width,
                            s->restarts, s->restarts == 1 ? " " : "s", s->clean() ? "ok  " : "FAIL",
                            s->final_state()));
    }
    say(exit_code() == 0 ? log::level::info : log::level::warn, "exit status {}", exit_code());
    if (on_finished_) on_finished_();
  }

  asio::io_context& io_;
  options options_;
  std::vector<std::unique_ptr<server>> servers_;  ///< in start order
  asio::signal_set signals_;
  asio::steady_timer deadline_;  ///< of the group being stopped
  bool starting_ = true;
  asio::steady_timer startup_{io_};  ///< waits for the services before the servers start
  bool stopping_ = false;
  bool killing_ = false;  ///< a second signal: everything got SIGKILL
  bool stop_services_only_ = false;  ///< the servers have all ended by themselves
  bool finished_ = false;
  std::function<void()> on_finished_;
  std::function<void(const std::vector<std::string>&)> on_serving_changed_;
  std::vector<std::string> last_serving_;
  int tier_ = -1;  ///< the group being stopped (a `role`)
};

}  // namespace ember::master
