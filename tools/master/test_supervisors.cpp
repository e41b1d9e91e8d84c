// The example cluster (gate, net1, net2, game1, game2, each a world_server) without
// ember-master: every server started by itself, as systemd or Kubernetes would start it, in
// no particular order, each told it is ready by its `/readyz` (docs/operations.md). And a client
// port shared by two processes (`netport.shared`, SO_REUSEPORT): clients connect to one port
// and both net servers serve sessions. Real processes, a real memcached, SQLite; every wait
// is bounded.
//
// usage: test_supervisors -- WORLD_SERVER
#define BOOST_TEST_MODULE ember-supervisors
#include "test_cluster.hpp"

#include <set>

#include "../../tests/support/memcached.hpp"

namespace {

struct setup {
  setup() {
    auto& m = boost::unit_test::framework::master_test_suite();
    BOOST_REQUIRE_MESSAGE(m.argc == 2, "usage: test_supervisors -- WORLD_SERVER");
    world_server = m.argv[1];
    std::signal(SIGPIPE, SIG_IGN);
  }
};
BOOST_TEST_GLOBAL_FIXTURE(setup);

// The value of the sample `name` (with its labels, as written) in a scrape, or -1.
double sample(const std::string& scrape, const std::string& name) {
  const auto at = ("\n" + scrape).find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::strtod(scrape.c_str() + at + name.size() + 1, nullptr);
}

// The example's five servers, each a process of its own started by this test (no master, no
// master section in the config), with a memcached of the test's. `shared_port`: net1 and net2
// listen on one client port together.
struct standalone_cluster {
  ember::test::memcached_server memcached;
  fs::path dir;
  std::map<std::string, std::uint16_t> ports;
  std::map<std::string, child_process> servers;
  static constexpr const char* names[] = {"gate", "net1", "net2", "game1", "game2"};

  explicit standalone_cluster(bool shared_port) {
    static std::atomic<int> serial{0};
    dir = fs::temp_directory_path() / fmt::format("ember-standalone-{}-{}", getpid(), ++serial);
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::copy(WORLD_DATA_DIR, dir / "data", fs::copy_options::recursive);
    for (const char* p : {"gate", "net1", "net2", "net1.link", "net2.link"}) ports[p] = free_port();
    if (shared_port) ports["net2"] = ports["net1"];
    for (const char* s : names) ports[std::string(s) + ".metrics"] = free_port();
    auto metrics = [&](const char* s) { return ports[std::string(s) + ".metrics"]; };
    const std::string shared = shared_port ? R"(, "shared": 2)" : "";
    std::ofstream(dir / "config.json") << fmt::format(R"({{
  "secret": "test-secret-of-this-cluster",
  "db": {{ "driver": "sqlite", "connection": "Driver=SQLite3;Database=world.db;" }},
  "memcached": {{ "servers": ["{}"], "namespace": "world" }},
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
    "gate": {{ "rootport": {}, "metricsport": {} }},
    "net1": {{ "type": "net", "netport": {{ "port": {}{} }}, "rootport": {}, "remoteport": [{{ "rootname": "gate" }}], "metricsport": {} }},
    "net2": {{ "type": "net", "netport": {{ "port": {}{} }}, "rootport": {}, "remoteport": [{{ "rootname": "gate" }}], "metricsport": {} }},
    "game1": {{ "type": "game", "db": true, "mem": true, "remoteport": [{{ "rootname": "gate" }}, {{ "rootname": "net1" }}, {{ "rootname": "net2" }}], "metricsport": {} }},
    "game2": {{ "type": "game", "db": true, "mem": true, "remoteport": [{{ "rootname": "gate" }}, {{ "rootname": "net1" }}, {{ "rootname": "net2" }}], "metricsport": {} }}
  }}
}}
)", memcached.address(), ports["gate"], metrics("gate"), ports["net1"], shared, ports["net1.link"],
        metrics("net1"), ports["net2"], shared, ports["net2.link"], metrics("net2"), metrics("game1"),
        metrics("game2"));
  }
  ~standalone_cluster() {
    for (auto& [name, p] : servers) {
      if (!p.running()) continue;
      p.signal(SIGTERM);
      if (p.wait_exit(20s) == -1) p.kill_now();
    }
    if (std::getenv("EMBER_KEEP_LOGS")) return;
    if (boost::unit_test::results_collector.results(
            boost::unit_test::framework::current_test_case().p_id).passed())
      fs::remove_all(dir);
    else
      BOOST_TEST_MESSAGE("logs kept in " << dir);
  }

  // As a supervisor starts a unit: `world_server CONFIG NAME` in the config's directory.
  void start(const std::string& name) {
    servers[name] = child_process({world_server, (dir / "config.json").string(), name},
                                  dir / (name + ".log"));
  }

  // Until every server's /readyz says 200 (each poll 50 ms apart, 60 s at most); the answers
  // of those that never did.
  asio::awaitable<std::string> wait_ready(asio::io_context& io) {
    std::set<std::string> waiting(std::begin(names), std::end(names));
    std::map<std::string, std::string> last;
    for (int i = 0; i < 1200 && !waiting.empty(); ++i) {
      for (auto it = waiting.begin(); it != waiting.end();) {
        const auto r = co_await ember::test::http_get(ports[*it + ".metrics"], "/readyz");
        last[*it] = fmt::format("{} {}", r.status, r.body);
        it = r.status == 200 ? waiting.erase(it) : std::next(it);
      }
      if (waiting.empty()) break;
      asio::steady_timer t(io, 50ms);
      co_await t.async_wait(asio::use_awaitable);
    }
    std::string out;
    for (const auto& n : waiting) out += n + ": " + last[n] + "; ";
    co_return out;
  }

  std::string logs() const {
    std::string out;
    for (const auto& [name, p] : servers)
      out += "--- " + name + "\n" + ember::test::read_text(p.log());
    return out;
  }
};

}  // namespace

// As systemd or Kubernetes would: every server started on its own, the games first (they wait
// for their roots), no master anywhere. Each answers /healthz at once and /readyz once linked;
// then players on both net servers are served by the games, and a game killed and started
// again (a supervisor's restart) rejoins and serves.
BOOST_AUTO_TEST_CASE(a_cluster_started_server_by_server_without_a_master_forms_and_serves) {
  standalone_cluster cl(false);
  for (const char* n : {"game2", "game1", "net2", "net1", "gate"}) cl.start(n);
  asio::io_context io;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    const auto not_ready = co_await cl.wait_ready(io);
    BOOST_REQUIRE_MESSAGE(not_ready.empty(), "not ready: " << not_ready << "\n" << cl.logs());
    for (const char* n : standalone_cluster::names)
      BOOST_TEST((co_await ember::test::http_get(cl.ports[std::string(n) + ".metrics"], "/healthz")).status == 200);
    std::vector<std::unique_ptr<player>> keep;
    std::set<std::string> games;
    for (const char* net : {"net1", "net2"}) {
      for (int i = 0; i < 4; ++i) {
        auto p = std::make_unique<player>(io);
        co_await p->connect(cl.ports[net]);
        const auto name = fmt::format("s{}-{}-{}", getpid(), net, i);
        BOOST_REQUIRE((co_await p->stub.login({name, "secret"})).has_value());
        BOOST_REQUIRE((co_await p->stub.move({i, -i})).has_value());
        const auto w = co_await p->stub.whoami({});
        BOOST_REQUIRE(w.has_value());
        games.insert(w->server);
        keep.push_back(std::move(p));
      }
    }
    BOOST_TEST_MESSAGE("players were served by " << games.size() << " game(s)");
    BOOST_TEST(!games.empty());
    // A supervisor's restart: game1 is killed, /readyz of the new process says when it is back.
    cl.servers["game1"].kill_now();
    cl.start("game1");
    const auto again = co_await cl.wait_ready(io);
    BOOST_REQUIRE_MESSAGE(again.empty(), "not ready after game1's restart: " << again << "\n" << cl.logs());
    player late(io);
    co_await late.connect(cl.ports["net2"]);
    BOOST_TEST((co_await late.stub.login({fmt::format("s{}-late", getpid()), "secret"})).has_value());
  }(), 120s);
}

// Two processes on one client port (`"netport": {"port": P, "shared": 2}` on net1 and net2):
// the kernel spreads the connections over both, and each serves the sessions it got.
BOOST_AUTO_TEST_CASE(two_net_servers_sharing_a_client_port_both_serve_sessions) {
  standalone_cluster cl(true);
  BOOST_REQUIRE(cl.ports["net1"] == cl.ports["net2"]);
  for (const char* n : standalone_cluster::names) cl.start(n);
  asio::io_context io;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    const auto not_ready = co_await cl.wait_ready(io);
    BOOST_REQUIRE_MESSAGE(not_ready.empty(), "not ready: " << not_ready << "\n" << cl.logs());
    constexpr int clients = 40;
    std::vector<std::unique_ptr<player>> keep;
    for (int i = 0; i < clients; ++i) {
      auto p = std::make_unique<player>(io);
      co_await p->connect(cl.ports["net1"]);
      BOOST_REQUIRE((co_await p->stub.login({fmt::format("r{}-{}", getpid(), i), "secret"})).has_value());
      BOOST_REQUIRE((co_await p->stub.move({i, i})).has_value());
      keep.push_back(std::move(p));
    }
    double sessions[2], served[2];
    for (int k = 0; k < 2; ++k) {
      const auto m = co_await ember::test::http_get(cl.ports[k == 0 ? "net1.metrics" : "net2.metrics"], "/metrics");
      sessions[k] = sample(m.body, "ember_sessions{listener=\"tcp\"}");
      served[k] = sample(m.body, "ember_client_requests_total");
    }
    BOOST_TEST_MESSAGE("sessions: net1 " << sessions[0] << ", net2 " << sessions[1]);
    BOOST_TEST(sessions[0] + sessions[1] == double(clients));
    // Both took sessions and served their requests (a 40-connection split that leaves one
    // empty has odds of 2^-39).
    BOOST_TEST(sessions[0] > 0);
    BOOST_TEST(sessions[1] > 0);
    BOOST_TEST(served[0] >= 2 * sessions[0]);
    BOOST_TEST(served[1] >= 2 * sessions[1]);
    BOOST_TEST(ember::test::count_in(cl.servers["net1"].log(), "port shared") == 1u);
  }(), 120s);
}
