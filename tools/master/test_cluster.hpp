// The example cluster (gate, net1, net2, game1, game2, each a world_server) on ports of its own
// under ember-master, and players of ours that log in on it: shared by the master's tests
// (test_master.cpp, test_console.cpp). Every wait is bounded. A test sets `master_binary` and
// `world_server` (and `ember_cli` if it runs it) from its command line.
#pragma once

#include <boost/test/results_collector.hpp>
#include <boost/test/unit_test.hpp>

#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>
#include <cstdlib>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include "../../tests/support/http.hpp"
#include "../../tests/support/process.hpp"
#include "../../tests/support/run.hpp"
#include "ember/net/client.hpp"
#include "world_client.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ember::test::child_process;
using clk = std::chrono::steady_clock;

namespace {

std::string master_binary, world_server, ember_cli;  // from the command line (meson passes them)

inline long ms_since(clk::time_point t) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(clk::now() - t).count());
}

/// A TCP port nobody listens on now (the kernel's choice), kept bound by `hold` if given.
inline std::uint16_t free_port(int* hold = nullptr) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error("no free port");
  if (hold) {
    ::listen(fd, 1);
    *hold = fd;
  } else {
    ::close(fd);
  }
  return ntohs(a.sin_port);
}

inline bool process_exists(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

/// The lines of `file`.
inline std::vector<std::string> lines_of(const fs::path& file) {
  std::istringstream in(ember::test::read_text(file));
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// A cluster under a master: its own directory, ports, config and master process.
struct cluster {
  fs::path dir;
  std::map<std::string, std::uint16_t> ports;
  child_process master;

  /// `with_metrics`: every server gets a metricsport, and the master writes targets.json
  /// (master.prometheus_sd) — with `with_master_ports` only.
  explicit cluster(const std::string& extra_servers = "", bool with_master_ports = false,
                   bool with_metrics = false) {
    static std::atomic<int> serial{0};
    dir = fs::temp_directory_path() / fmt::format("ember-master-{}-{}", getpid(), ++serial);
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::copy(WORLD_DATA_DIR, dir / "data", fs::copy_options::recursive);
    for (const char* p : {"gate", "net1", "net2", "net1.link", "net2.link", "memcached"}) ports[p] = free_port();
    std::string master_section;
    if (with_master_ports) {
      ports["master"] = free_port();
      ports["admin"] = free_port();
      master_section = fmt::format(
          R"(
  "master": {{ "rootport": {}, "webport": {}, "token": "admin-token-of-this-test"{} }},)",
          ports["master"], ports["admin"], with_metrics ? R"(, "prometheus_sd": "targets.json")" : "");
    }
    std::map<std::string, std::string> metrics;  // server -> its ", metricsport" or ""
    for (const char* s : {"gate", "net1", "net2", "game1", "game2"}) {
      if (!with_metrics) continue;
      ports[std::string(s) + ".metrics"] = free_port();
      metrics[s] = fmt::format(R"(, "metricsport": {})", ports[std::string(s) + ".metrics"]);
    }
    // Nothing runs on the memcached port: the master starts a memcached there itself.
    std::ofstream(dir / "config.json") << fmt::format(R"({{{}
  "secret": "test-secret-of-this-cluster",
  "db": {{ "driver": "sqlite", "connection": "Driver=SQLite3;Database=world.db;" }},
  "memcached": {{ "servers": ["127.0.0.1:{}"], "namespace": "world" }},
  "defaults": {{ "call_timeout_ms": 1000, "log": {{ "level": "info" }} }},
  "modules": {{
    "accounts": {{ "server": "game", "password_min": 6, "opslimit": 1, "memlimit": 8192 }},
    "notifications": {{ "server": "game" }}, "friends": {{ "server": "game" }},
    "chat": {{ "server": "game" }}, "mail": {{ "server": "game" }},
    "inventory": {{ "server": "game" }}, "wallet": {{ "server": "game" }},
    "shop": {{ "server": "game" }}, "quests": {{ "server": "game" }}, "guilds": {{ "server": "game" }},
    "leaderboard": {{ "server": "game" }}, "matchmaking": {{ "server": "game" }}
  }},
  "servers": {{
    "gate": {{ "rootport": {}{} }},
    "net1": {{ "type": "net", "netport": {}, "rootport": {}, "remoteport": [{{ "rootname": "gate" }}]{} }},
    "net2": {{ "type": "net", "netport": {}, "rootport": {}, "remoteport": [{{ "rootname": "gate" }}]{} }},
    "game1": {{ "type": "game", "db": true, "mem": true, "remoteport": [{{ "rootname": "gate" }}, {{ "rootname": "net1" }}, {{ "rootname": "net2" }}]{} }},
    "game2": {{ "type": "game", "db": true, "mem": true, "remoteport": [{{ "rootname": "gate" }}, {{ "rootname": "net1" }}, {{ "rootname": "net2" }}]{} }}{}
  }}
}}
)", master_section, ports["memcached"], ports["gate"], metrics["gate"], ports["net1"], ports["net1.link"],
    metrics["net1"], ports["net2"], ports["net2.link"], metrics["net2"], metrics["game1"], metrics["game2"],
    extra_servers);
  }
  ~cluster() {
    if (master.running()) {
      master.signal(SIGCONT);
      master.signal(SIGTERM);  // it stops its servers
      if (master.wait_exit(20s) == -1) master.kill_now();
    }
    // Servers that outlived their master are our children now (subreaper): end them.
    for (pid_t p : all_pids()) {
      int status = 0;
      if (::waitpid(p, &status, WNOHANG) != 0) continue;  // not ours, or reaped just now
      ::kill(p, SIGKILL);
      ::waitpid(p, &status, 0);
    }
    if (std::getenv("EMBER_KEEP_LOGS")) return;
    if (boost::unit_test::results_collector.results(
            boost::unit_test::framework::current_test_case().p_id).passed())
      fs::remove_all(dir);
    else
      BOOST_TEST_MESSAGE("logs kept in " << dir);
  }

  fs::path log() const { return dir / "master.log"; }

  void start_master(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{master_binary, (dir / "config.json").string(),
                                  "--server-binary", world_server};
    argv.insert(argv.end(), extra.begin(), extra.end());
    master = child_process(argv, log());
  }

  /// Lines of the master's output that start with `prefix` and contain `text`.
  std::size_t count(std::string_view prefix, std::string_view text) const {
    std::size_t n = 0;
    for (const auto& l : lines_of(log()))
      if (l.starts_with(prefix) && l.find(text) != std::string::npos) ++n;
    return n;
  }
  bool wait_for(std::string_view prefix, std::string_view text, std::chrono::milliseconds limit,
                std::size_t times = 1) const {
    const auto until = clk::now() + limit;
    while (count(prefix, text) < times) {
      if (clk::now() > until) return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }

  /// The pid of `name`'s latest start, from "started NAME (pid N)"; 0 if none.
  pid_t pid_of(const std::string& name) const {
    pid_t pid = 0;
    const auto key = fmt::format("started {} (pid ", name);
    for (const auto& l : lines_of(log()))
      if (auto at = l.find(key); l.starts_with("[master]") && at != std::string::npos)
        pid = std::stoi(l.substr(at + key.size()));
    return pid;
  }
  /// Every pid the master reported starting.
  std::vector<pid_t> all_pids() const {
    std::vector<pid_t> out;
    for (const auto& l : lines_of(log()))
      if (auto at = l.find(" (pid "); l.starts_with("[master]") && l.find("started ") != std::string::npos && at != std::string::npos)
        out.push_back(std::stoi(l.substr(at + 6)));
    return out;
  }

  /// `game` has linked to gate, net1 and net2 (`times` times: after restarts).
  bool game_ready(const std::string& game, std::size_t times = 1,
                  std::chrono::milliseconds limit = 10s) const {
    for (const char* root : {"gate", "net1", "net2"})
      if (!wait_for("[" + game + "] ", fmt::format("linked to root '{}'", root), limit, times))
        return false;
    return true;
  }
  bool ready() const {
    return wait_for("[net1] ", "linked to root 'gate'", 10s) &&
           wait_for("[net2] ", "linked to root 'gate'", 10s) && game_ready("game1") &&
           game_ready("game2");
  }
};

struct player {
  ember::net::client c;
  world::client_stub stub;
  explicit player(asio::io_context& io) : c(io.get_executor()), stub(c) {}
  asio::awaitable<void> connect(std::uint16_t port) {
    auto ec = co_await c.connect("127.0.0.1", port);
    BOOST_REQUIRE_MESSAGE(!ec, "connect: " << ec.message());
  }
};

/// Logs players in on `port` until one is served by `game`; the name it used, or "".
inline asio::awaitable<std::string> login_on(asio::io_context& io, std::uint16_t port,
                                             const std::string& game, int tries,
                                             std::vector<std::unique_ptr<player>>& keep) {
  static int serial = 0;
  for (int i = 0; i < tries; ++i) {
    auto p = std::make_unique<player>(io);
    auto ec = co_await p->c.connect("127.0.0.1", port);
    if (ec) continue;
    const auto name = fmt::format("p{}-{}", getpid(), ++serial);
    auto r = co_await p->stub.login({name, "secret"});
    if (!r) continue;
    auto w = co_await p->stub.whoami({});
    keep.push_back(std::move(p));
    if (w && w->server == game) co_return name;
  }
  co_return "";
}

}  // namespace
