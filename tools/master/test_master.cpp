// ember-master with real processes: the example cluster (gate, net1, net2, game1, game2, each
// a world_server) on ports of its own under the master, clients of ours on the net servers.
// Every wait is bounded.
//
// usage: test_master -- EMBER_MASTER WORLD_SERVER
#define BOOST_TEST_MODULE ember-master
#include "test_cluster.hpp"

#include <simdjson.h>

namespace {

struct setup {
  setup() {
    auto& m = boost::unit_test::framework::master_test_suite();
    BOOST_REQUIRE_MESSAGE(m.argc == 4, "usage: test_master -- EMBER_MASTER WORLD_SERVER EMBER_CLI");
    master_binary = m.argv[1];
    world_server = m.argv[2];
    ember_cli = m.argv[3];
    // Servers whose master died are re-parented to us, so that we can reap them.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    std::signal(SIGPIPE, SIG_IGN);
  }
};
BOOST_TEST_GLOBAL_FIXTURE(setup);

}  // namespace

BOOST_AUTO_TEST_CASE(the_master_starts_the_cluster_and_a_client_is_served) {
  cluster cl;
  const auto t0 = clk::now();
  cl.start_master();
  BOOST_REQUIRE(cl.ready());
  BOOST_TEST_MESSAGE("cluster up and linked " << ms_since(t0) << " ms after the master started");
  // Roots first: gate is started before the servers that join it.
  const auto order = lines_of(cl.log());
  auto started = [&](const std::string& n) {
    for (std::size_t i = 0; i < order.size(); ++i)
      if (order[i].find("started " + n + " (pid") != std::string::npos) return i;
    return order.size();
  };
  BOOST_TEST(started("gate") < started("net1"));
  BOOST_TEST(started("net2") < started("game1"));
  // Every line is the master's or a server's, under its name.
  for (const auto& l : order)
    BOOST_TEST((l.starts_with("[master] ") || l.starts_with("[gate] ") || l.starts_with("[net1] ") ||
                l.starts_with("[net2] ") || l.starts_with("[game1] ") || l.starts_with("[game2] ")),
               l);
  asio::io_context io;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    player a(io), b(io);
    co_await a.connect(cl.ports["net1"]);
    co_await b.connect(cl.ports["net2"]);
    auto who = co_await a.stub.login({"alice", "secret"});
    BOOST_REQUIRE(who.has_value());
    BOOST_TEST((who->server == "game1" || who->server == "game2"));
    BOOST_REQUIRE((co_await b.stub.login({"bob", "secret"})).has_value());
    auto moved = co_await a.stub.move({3, -4});
    BOOST_REQUIRE(moved.has_value());
    BOOST_TEST(moved->x == 3);
    auto online = co_await b.stub.online({});
    BOOST_REQUIRE(online.has_value());
    BOOST_TEST(online->total == 2u);
  }(), 30s);
  BOOST_TEST(cl.count("[master] ", "crashed") == 0u);
}

BOOST_AUTO_TEST_CASE(a_killed_game_is_restarted_and_serves_again_within_two_seconds) {
  cluster cl;
  cl.start_master();
  BOOST_REQUIRE(cl.ready());
  const pid_t old = cl.pid_of("game1");
  BOOST_REQUIRE(old > 0);
  const auto killed = clk::now();
  ::kill(old, SIGKILL);
  BOOST_REQUIRE(cl.wait_for("[master] ", "game1 crashed: signal 9 (SIGKILL); restarting it in 100 ms", 5s));
  BOOST_REQUIRE(cl.wait_for("[master] ", "started game1 (pid", 5s, 2));
  const long restarted_ms = ms_since(killed);
  BOOST_REQUIRE(cl.game_ready("game1", 2, 5s));
  const long linked_ms = ms_since(killed);
  long served_ms = -1;
  asio::io_context io;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    std::vector<std::unique_ptr<player>> keep;
    const auto name = co_await login_on(io, cl.ports["net1"], "game1", 60, keep);
    BOOST_REQUIRE_MESSAGE(!name.empty(), "no login landed on the restarted game1");
    served_ms = ms_since(killed);
  }(), 20s);
  BOOST_TEST(cl.pid_of("game1") != old);
  BOOST_TEST_MESSAGE("game1 killed: restarted after " << restarted_ms << " ms, linked to gate, net1 "
                     "and net2 after " << linked_ms << " ms, served a client after " << served_ms << " ms");
  std::printf("restart bound: game1 SIGKILLed -> new process %ld ms, relinked %ld ms, serving %ld ms "
              "(bound 2000 ms)\n", restarted_ms, linked_ms, served_ms);
  BOOST_TEST(served_ms < 2000);
  // Only game1 was restarted.
  BOOST_TEST(cl.count("[master] ", "restart 1") == 1u);
}

BOOST_AUTO_TEST_CASE(a_server_that_crashes_at_start_is_given_up_while_the_others_serve) {
  // net3's client port is taken (by us): it exits with code 1 at every start.
  int taken = -1;
  const auto port = free_port(&taken);
  cluster cl(fmt::format(R"(,
    "net3": {{ "type": "net", "netport": {}, "remoteport": [{{ "rootname": "gate" }}] }})", port));
  const auto t0 = clk::now();
  cl.start_master();
  BOOST_REQUIRE(cl.wait_for("[master] ",
                            "giving up on net3: crashed 5 times in 30 s; last exit: code 1", 15s));
  BOOST_TEST_MESSAGE("gave up on net3 after " << ms_since(t0) << " ms");
  BOOST_TEST(cl.count("[master] ", "started net3 (pid") == 5u);
  BOOST_TEST(cl.count("[net3] ", "bind: Address already in use") == 5u);
  for (const char* delay : {"in 100 ms", "in 200 ms", "in 400 ms", "in 800 ms"})
    BOOST_TEST(cl.count("[master] ", fmt::format("net3 crashed: code 1; restarting it {}", delay)) == 1u, delay);
  BOOST_REQUIRE(cl.ready());
  std::this_thread::sleep_for(300ms);
  BOOST_TEST(cl.count("[master] ", "started net3 (pid") == 5u);  // and no more
  asio::io_context io;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    player a(io);
    co_await a.connect(cl.ports["net2"]);
    BOOST_REQUIRE((co_await a.stub.login({"carol", "secret"})).has_value());
    BOOST_TEST((co_await a.stub.whoami({})).has_value());
  }(), 20s);
  // The others stop cleanly; the summary names net3 and the master's status says it failed.
  cl.master.signal(SIGTERM);
  BOOST_TEST(cl.master.wait_exit(20s) == 1);
  BOOST_TEST(cl.count("[master]   net3 ", "4 restarts FAIL given up, last exit code 1") == 1u);
  BOOST_TEST(cl.count("[master]   game1 ", "0 restarts ok   stopped, code 0") == 1u);
  ::close(taken);
}

BOOST_AUTO_TEST_CASE(a_program_that_cannot_start_is_given_up_and_the_master_ends) {
  cluster cl;
  cl.master = child_process({master_binary, (cl.dir / "config.json").string(), "--only", "gate",
                             "--server-binary", (cl.dir / "no-such-server").string()},
                            cl.log());
  BOOST_TEST(cl.master.wait_exit(15s) == 1);
  BOOST_TEST(cl.count("[master] ", "cannot start gate") == 5u);
  BOOST_TEST(cl.count("[master] ", "giving up on gate: crashed 5 times in 30 s; last exit: "
                                   "cannot start: No such file or directory") == 1u);
  BOOST_TEST(cl.count("[master] ", "every server has ended") == 1u);
  BOOST_TEST(cl.count("[master] ", "started") == 0u);
}

BOOST_AUTO_TEST_CASE(ctrl_c_stops_nets_then_games_then_gate_then_memcached_and_every_child_is_gone) {
  cluster cl;
  cl.start_master();
  BOOST_REQUIRE(cl.ready());
  // The config's memcached was not running: the master started it before the servers.
  const auto memcached = fmt::format("memcached:{}", cl.ports["memcached"]);
  BOOST_TEST(cl.count("[master] ", memcached + " is in the config and nothing serves it") == 1u);
  BOOST_TEST(cl.pid_of(memcached) != 0);
  const auto pids = cl.all_pids();
  BOOST_REQUIRE(pids.size() == 6u);
  for (pid_t p : pids) BOOST_TEST(process_exists(p));
  const auto t0 = clk::now();
  cl.master.signal(SIGINT);
  BOOST_TEST(cl.master.wait_exit(30s) == 0);
  BOOST_TEST_MESSAGE("ordered stop took " << ms_since(t0) << " ms");
  for (pid_t p : pids) BOOST_TEST(!process_exists(p), "pid " << p << " still exists");
  const auto lines = lines_of(cl.log());
  auto at = [&](std::string_view prefix, std::string_view text) {
    for (std::size_t i = 0; i < lines.size(); ++i)
      if (lines[i].starts_with(prefix) && lines[i].find(text) != std::string::npos) return i;
    BOOST_ERROR("no line " << prefix << "..." << text);
    return lines.size();
  };
  const auto nets = at("[master] ", "stopping net1, net2 (client-facing): SIGTERM");
  const auto games = at("[master] ", "stopping game1, game2 (backends): SIGTERM");
  const auto gate = at("[master] ", "stopping gate (roots): SIGTERM");
  BOOST_TEST(nets < at("[master] ", "net1 stopped: code 0"));
  BOOST_TEST(at("[master] ", "net1 stopped: code 0") < games);
  BOOST_TEST(at("[master] ", "net2 stopped: code 0") < games);
  BOOST_TEST(games < at("[master] ", "game1 stopped: code 0"));
  BOOST_TEST(at("[master] ", "game1 stopped: code 0") < gate);
  BOOST_TEST(at("[master] ", "game2 stopped: code 0") < gate);
  BOOST_TEST(gate < at("[master] ", "gate stopped: code 0"));
  BOOST_TEST(at("[master] ", "gate stopped: code 0") < at("[master] ", "stopping " + memcached + " (services): SIGTERM"));
  // The games wrote back their rows before they exited.
  BOOST_TEST(at("[game1] ", "data: every change written back") < at("[master] ", "game1 stopped: code 0"));
  BOOST_TEST(at("[game2] ", "data: every change written back") < at("[master] ", "game2 stopped: code 0"));
  // The servers' own lines say the same.
  BOOST_TEST(at("[net1] ", "stopping") < at("[game1] ", "stopping"));
  BOOST_TEST(at("[net2] ", "stopping") < at("[game2] ", "stopping"));
  BOOST_TEST(at("[game1] ", "stopping") < at("[gate] ", "stopping"));
  BOOST_TEST(at("[game2] ", "stopping") < at("[gate] ", "stopping"));
  BOOST_TEST(cl.count("[master] ", "exit status 0") == 1u);
  BOOST_TEST(cl.count("[master]   ", "0 restarts ok   stopped, code 0") == 6u);
}

BOOST_AUTO_TEST_CASE(a_stalled_master_never_blocks_its_servers) {
  cluster cl;
  cl.start_master();
  BOOST_REQUIRE(cl.ready());
  cl.master.signal(SIGSTOP);  // nobody reads the servers' pipes now
  long slowest_ms = 0;
  int served = 0;
  asio::io_context io;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    // Each login and each close logs a line or two: far more than a 64 KiB pipe holds. A
    // sanitized build on a busy machine signs in slower (30 s were once too few to fill the
    // pipes), so the loop stops after 75 s at the most (the check below that lines were
    // dropped shows the pipes did fill).
    const auto until = clk::now() + 75s;
    for (int i = 0; i < 1500 && clk::now() < until; ++i) {
      const auto t = clk::now();
      player p(io);
      co_await p.connect(cl.ports[i % 2 ? "net1" : "net2"]);
      auto r = co_await p.stub.login({fmt::format("stall{}", i), "secret"});
      BOOST_REQUIRE_MESSAGE(r.has_value(), "login " << i << " failed while the master was stopped");
      ++served;
      slowest_ms = std::max(slowest_ms, ms_since(t));
    }
  }(), 120s);
  cl.master.signal(SIGCONT);
  BOOST_TEST_MESSAGE(served << " logins served while the master was stopped; slowest " << slowest_ms << " ms");
  BOOST_TEST(slowest_ms < 1000);
  // Once the master reads again, a server's next line comes after the count of those it
  // could not write meanwhile.
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 100 && cl.count("[", "log lines dropped (log reader too slow)") == 0; ++i) {
      player p(io);
      co_await p.connect(cl.ports[i % 2 ? "net1" : "net2"]);
      co_await p.stub.login({fmt::format("again{}", i), "secret"});
      co_await ember::test::sleep(20ms);
    }
  }(), 20s);
  BOOST_TEST(cl.count("[", "log lines dropped (log reader too slow)") >= 1u);
  for (const auto& l : lines_of(cl.log()))
    if (l.find("log lines dropped") != std::string::npos) BOOST_TEST_MESSAGE(l);
}

BOOST_AUTO_TEST_CASE(servers_keep_serving_when_the_master_is_killed) {
  cluster cl;
  cl.start_master();
  BOOST_REQUIRE(cl.ready());
  const auto pids = cl.all_pids();
  cl.master.kill_now();  // SIGKILL: no ordered stop, the pipes' reading ends close
  for (pid_t p : pids) BOOST_TEST(process_exists(p));
  asio::io_context io;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    // Logins and closes make every server log: the writes fail with EPIPE and are dropped.
    for (int i = 0; i < 50; ++i) {
      player p(io);
      co_await p.connect(cl.ports[i % 2 ? "net1" : "net2"]);
      auto r = co_await p.stub.login({fmt::format("orphan{}", i), "secret"});
      BOOST_REQUIRE_MESSAGE(r.has_value(), "login " << i << " failed after the master died");
      BOOST_REQUIRE((co_await p.stub.whoami({})).has_value());
    }
  }(), 30s);
  for (pid_t p : pids) BOOST_TEST(process_exists(p));
  // They are ours now (subreaper): each still stops cleanly on SIGTERM.
  for (pid_t p : pids) ::kill(p, SIGTERM);
  for (pid_t p : pids) {
    int status = -1;
    const auto until = clk::now() + 10s;
    while (::waitpid(p, &status, WNOHANG) == 0 && clk::now() < until) std::this_thread::sleep_for(5ms);
    BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0), "pid " << p << " status " << status);
    if (process_exists(p)) {
      ::kill(p, SIGKILL);
      ::waitpid(p, &status, 0);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_server_that_exits_with_code_0_is_not_restarted_and_long_lines_are_split) {
  cluster cl;
  const auto script = cl.dir / "solo.sh";
  std::ofstream(script) << "#!/bin/sh\n"
                           "echo \"hello from $2\"\n"
                           "head -c 10000 /dev/zero | tr '\\0' x\n"
                           "echo\n"
                           "printf 'no newline at the end'\n";
  fs::permissions(script, fs::perms::owner_all);
  std::ofstream(cl.dir / "solo.json") << R"({ "servers": { "solo": {} } })";
  cl.master = child_process({master_binary, (cl.dir / "solo.json").string(), "--server-binary",
                             script.string()},
                            cl.log());
  BOOST_TEST(cl.master.wait_exit(10s) == 0);
  const auto lines = lines_of(cl.log());
  std::vector<std::string> solo;
  for (const auto& l : lines)
    if (l.starts_with("[solo]")) solo.push_back(l);
  BOOST_REQUIRE(solo.size() == 5u);
  BOOST_TEST(solo[0] == "[solo] hello from solo");
  BOOST_TEST(solo[1] == "[solo] " + std::string(4096, 'x'));
  BOOST_TEST(solo[2] == "[solo]+ " + std::string(4096, 'x'));
  BOOST_TEST(solo[3] == "[solo]+ " + std::string(10000 - 2 * 4096, 'x'));
  BOOST_TEST(solo[4] == "[solo] no newline at the end");
  BOOST_TEST(cl.count("[master] ", "solo exited with code 0 on its own; not restarting it") == 1u);
  BOOST_TEST(cl.count("[master] ", "every server has ended") == 1u);
  BOOST_TEST(cl.count("[master] ", "started solo") == 1u);
}

BOOST_AUTO_TEST_CASE(a_server_that_ignores_sigterm_is_killed_after_the_stop_timeout) {
  cluster cl;
  const auto script = cl.dir / "stubborn.sh";
  std::ofstream(script) << "#!/bin/sh\ntrap '' TERM\necho up\nexec sleep 60\n";
  fs::permissions(script, fs::perms::owner_all);
  std::ofstream(cl.dir / "stubborn.json") << R"({ "servers": { "stubborn": {} } })";
  cl.master = child_process({master_binary, (cl.dir / "stubborn.json").string(), "--server-binary",
                             script.string(), "--stop-timeout", "0.3"},
                            cl.log());
  BOOST_REQUIRE(cl.wait_for("[stubborn] ", "up", 5s));
  const auto pid = cl.pid_of("stubborn");
  const auto t0 = clk::now();
  cl.master.signal(SIGTERM);
  BOOST_TEST(cl.master.wait_exit(5s) == 1);
  const auto took = ms_since(t0);
  BOOST_TEST_MESSAGE("stopped in " << took << " ms");
  BOOST_TEST(took >= 290);  // the stop timeout, give or take a clock tick
  BOOST_TEST(!process_exists(pid));
  BOOST_TEST(cl.count("[master] ", "stubborn did not stop in 0.3 s: SIGKILL") == 1u);
  BOOST_TEST(cl.count("[master] ", "stubborn stopped: signal 9 (SIGKILL)") == 1u);
  BOOST_TEST(cl.count("[master]   stubborn ", "FAIL stopped, signal 9 (SIGKILL) (killed by the master)") == 1u);
}

// Servers the master does not run: a root started by hand that dies and comes back is
// announced by the master, so its nodes link again at once instead of at the end of their
// backoff (Firefly's rejoin); a server started by hand with --master HOST:PORT registers with
// the master (its config has no master section) and shows in the status.
BOOST_AUTO_TEST_CASE(a_root_that_comes_back_is_announced_and_a_server_started_by_hand_joins_with_master) {
  cluster cl("", true);
  cl.start_master({"--only", "net1", "--only", "net2", "--only", "game1"});
  const auto cfg = (cl.dir / "config.json").string();
  auto gate = std::make_unique<child_process>(std::vector<std::string>{world_server, cfg, "gate"}, cl.dir / "gate-1.log");
  BOOST_REQUIRE(cl.wait_for("[net1] ", "linked to root 'gate'", 10s));
  BOOST_REQUIRE(cl.wait_for("[net2] ", "linked to root 'gate'", 10s));
  BOOST_REQUIRE(cl.game_ready("game1"));
  // game2 by hand, from a copy of the config without the master section
  std::string text = ember::test::read_text(cfg), hand_cfg;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.find("\"master\":") == std::string::npos) hand_cfg += line + "\n";
  std::ofstream(cl.dir / "hand.json") << hand_cfg;
  child_process game2({world_server, (cl.dir / "hand.json").string(), "game2", "--master",
                       fmt::format("127.0.0.1:{}", cl.ports["master"])},
                      cl.dir / "game2.log");
  BOOST_REQUIRE(ember::test::wait_for_text(cl.dir / "game2.log", "linked to root 'master'", 10s));
  BOOST_REQUIRE(ember::test::wait_for_text(cl.dir / "game2.log", "linked to root 'gate'", 10s));
  child_process status({ember_cli, "--config", cfg, "status"}, cl.dir / "status.log");
  BOOST_TEST(status.wait_exit(20s) == 0);
  BOOST_TEST(ember::test::read_text(cl.dir / "status.log").find("game2") != std::string::npos,
             ember::test::read_text(cl.dir / "status.log"));
  // gate dies; after 3 s its nodes wait 1-2 s between tries; it comes back
  gate->kill_now();
  std::this_thread::sleep_for(3s);
  const auto t0 = clk::now();
  gate = std::make_unique<child_process>(std::vector<std::string>{world_server, cfg, "gate"}, cl.dir / "gate-2.log");
  BOOST_REQUIRE(cl.wait_for("[net1] ", "linked to root 'gate'", 10s, 2));
  BOOST_REQUIRE(cl.wait_for("[net2] ", "linked to root 'gate'", 10s, 2));
  BOOST_REQUIRE(cl.wait_for("[game1] ", "linked to root 'gate'", 10s, 2));
  BOOST_TEST_MESSAGE("nodes relinked to the restarted gate after " << ms_since(t0) << " ms");
  // at least one of them was still waiting out its backoff when the master announced gate
  BOOST_TEST(cl.count("[", "the master says root 'gate' is back: linking now") >= 1u);
  gate->signal(SIGTERM);
  game2.signal(SIGTERM);
  BOOST_TEST(game2.wait_exit(15s) == 0);
  BOOST_TEST(gate->wait_exit(15s) == 0);
}

// ember-cli against the master's admin API: status of every server and its commands, a data
// reload, refusals, and an ordered stop of the whole cluster.
BOOST_AUTO_TEST_CASE(ember_cli_shows_status_reloads_data_and_stops_the_cluster_through_the_admin_api) {
  cluster cl("", true);
  cl.start_master();
  BOOST_REQUIRE(cl.ready());
  for (const char* n : {"gate", "net1", "net2", "game1", "game2"})
    BOOST_REQUIRE(cl.wait_for(fmt::format("[{}] ", n), "linked to root 'master'", 10s));
  const auto cfg = (cl.dir / "config.json").string();
  int serial = 0;
  auto cli = [&](std::vector<std::string> args) {
    const auto out = cl.dir / fmt::format("cli-{}.log", ++serial);
    args.insert(args.begin(), {ember_cli, "--config", cfg});
    child_process p(args, out);
    const int code = p.wait_exit(20s);
    return std::pair{code, ember::test::read_text(out)};
  };
  // A refused login, a login and a whoami on net1, forwarded to one game (per command: count
  // and failed on both, the game's by name, net1's marked forwarded).
  std::string game;
  asio::io_context io;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    player p(io);
    co_await p.connect(cl.ports["net1"]);
    BOOST_REQUIRE(!co_await p.stub.login({"counted", "wrong"}));
    BOOST_REQUIRE(co_await p.stub.login({"counted", "secret"}));
    auto w = co_await p.stub.whoami({});
    BOOST_REQUIRE(w.has_value());
    game = w->server;
  }());
  auto [code, out] = cli({"status"});
  BOOST_TEST(code == 0, out);
  BOOST_TEST_MESSAGE(out);
  for (const char* n : {"gate", "net1", "net2", "game1", "game2"})
    BOOST_TEST(out.find(n) != std::string::npos, out);
  BOOST_TEST(out.find("world_server v1") != std::string::npos, out);
  auto row = [](std::string_view server, std::string_view command, int count, int failed) {
    return fmt::format("\n{:<10} {:<24} {:>10} {:>8} ", server, command, count, failed);
  };
  BOOST_TEST(out.find(row("net1", "login (fwd)", 2, 1)) != std::string::npos, out);
  BOOST_TEST(out.find(row("net1", "whoami (fwd)", 1, 0)) != std::string::npos, out);
  BOOST_TEST(out.find(row(game, "login", 2, 1)) != std::string::npos, out);
  BOOST_TEST(out.find(row(game, "whoami", 1, 0)) != std::string::npos, out);
  auto bad_token = cli({"--token", "wrong", "status"});
  BOOST_TEST(bad_token.first == 1);
  BOOST_TEST(bad_token.second.find("401") != std::string::npos, bad_token.second);
  auto unknown = cli({"reload", "nosuch"});
  BOOST_TEST(unknown.first == 1);
  BOOST_TEST(unknown.second.find("no server named 'nosuch'") != std::string::npos, unknown.second);
  auto data = cli({"reload", "--data", "game1"});
  BOOST_TEST(data.first == 0, data.second);
  BOOST_TEST(data.second.find(R"("ok":true)") != std::string::npos, data.second);
  auto logic = cli({"reload", "game2"});  // world_server has no module: refused, said why
  BOOST_TEST(logic.first == 1);
  BOOST_TEST(logic.second.find("no module to reload") != std::string::npos, logic.second);
  // The admin port is on loopback (the config's default master host).
  BOOST_TEST(ember::test::read_text(fmt::format("/proc/{}/net/tcp", cl.master.pid()))
                 .find(fmt::format("0100007F:{:04X}", cl.ports["admin"])) != std::string::npos);
  auto stop = cli({"stop"});
  BOOST_TEST(stop.first == 0, stop.second);
  BOOST_TEST(cl.master.wait_exit(30s) == 0);
  BOOST_TEST(cl.count("[master] ", "stopping net1, net2") == 1u);
}

// tools/rolling-upgrade.sh through ember-master and ember-cli: each game is drained and
// stopped (`ember-cli drain --stop --wait`), started again by the master (`ember-cli
// restart`) and waited for (/readyz on its metricsport), while players keep requests in
// flight on both net servers; none fails, nobody is dropped, both games are new processes.
BOOST_AUTO_TEST_CASE(rolling_upgrade_sh_replaces_both_games_while_players_play_and_no_request_fails) {
  cluster cl("", true, true);
  cl.start_master();
  BOOST_REQUIRE(cl.ready());
  for (const char* n : {"gate", "net1", "net2", "game1", "game2"})
    BOOST_REQUIRE(cl.wait_for(fmt::format("[{}] ", n), "linked to root 'master'", 10s));
  const pid_t old1 = cl.pid_of("game1"), old2 = cl.pid_of("game2");
  std::uint64_t ok = 0, failed = 0;
  std::string first_failure;
  int code = -1;
  asio::io_context io;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    std::vector<std::unique_ptr<player>> ps;
    for (int i = 0; i < 8; ++i) {
      ps.push_back(std::make_unique<player>(io));
      co_await ps.back()->connect(cl.ports[i % 2 ? "net1" : "net2"]);
      BOOST_REQUIRE(co_await ps.back()->stub.login({fmt::format("upgrader{}", i), "secret"}));
    }
    bool stop = false;
    int running = 0;
    for (int i = 0; i < 8; ++i)
      for (int k = 0; k < 3; ++k) {
        ++running;
        asio::co_spawn(io, [&, i, k]() -> asio::awaitable<void> {
          for (int n = 0; !stop && n < 100'000; ++n) {
            std::optional<ember::failure> error;
            if (k == 0) {
              if (auto r = co_await ps[i]->stub.bag({}); !r) error = r.error();
            } else if (auto r = co_await ps[i]->stub.move({n, k}); !r) {
              error = r.error();
            }
            if (!error) {
              ++ok;
            } else if (++failed == 1) {
              first_failure = fmt::format("status {}: {}", error->status, error->message);
            }
          }
          --running;
        }, asio::detached);
      }
    co_await ember::test::sleep(200ms);
    ::setenv("EMBER_CLI", ember_cli.c_str(), 1);
    child_process script({"/bin/bash", ROLLING_UPGRADE, (cl.dir / "config.json").string()}, cl.dir / "upgrade.log");
    for (int i = 0; i < 2400 && code == -1; ++i) {  // two minutes at most
      co_await ember::test::sleep(50ms);
      code = script.wait_exit(0ms);
    }
    co_await ember::test::sleep(200ms);  // the new processes serve too
    stop = true;
    BOOST_TEST(co_await ember::test::wait_until([&] { return running == 0; }, 10s));
    for (auto& p : ps) BOOST_TEST(p->c.connected());
  }(), 180s);
  const auto out = ember::test::read_text(cl.dir / "upgrade.log");
  BOOST_TEST_MESSAGE(out);
  BOOST_TEST(code == 0, out);
  BOOST_TEST(failed == 0u, first_failure);
  BOOST_TEST(ok > 100u);
  for (const char* g : {"game1", "game2"})
    BOOST_TEST(out.find(fmt::format("{}: drained and stopped in", g)) != std::string::npos, out);
  BOOST_TEST(out.find("2 servers upgraded") != std::string::npos, out);
  BOOST_TEST(cl.pid_of("game1") != old1);
  BOOST_TEST(cl.pid_of("game2") != old2);
  BOOST_TEST(cl.count("", "admin API: POST /drain?server=game1&stop=1 from 127.0.0.1: 200") == 1u);
}

// Log levels at run time: `ember-cli log-level debug game1` makes game1 (and only it) write
// the debug lines it did not write before, at once; a level that is none is refused by the CLI
// and by the master's API, each saying which levels there are.
BOOST_AUTO_TEST_CASE(ember_cli_log_level_debug_game1_makes_game1_print_debug_lines_at_once) {
  cluster cl("", true);
  cl.start_master();
  BOOST_REQUIRE(cl.ready());
  for (const char* n : {"gate", "net1", "net2", "game1", "game2"})
    BOOST_REQUIRE(cl.wait_for(fmt::format("[{}] ", n), "linked to root 'master'", 10s));
  const auto cfg = (cl.dir / "config.json").string();
  int serial = 0;
  auto cli = [&](std::vector<std::string> args) {
    const auto out = cl.dir / fmt::format("cli-log-{}.log", ++serial);
    args.insert(args.begin(), {ember_cli, "--config", cfg});
    child_process p(args, out);
    const int code = p.wait_exit(20s);
    return std::pair{code, ember::test::read_text(out)};
  };
  constexpr std::string_view asked = "the master asks for this server's status";
  auto status = cli({"status"});
  BOOST_REQUIRE(status.first == 0);
  BOOST_TEST(cl.count("[game1] ", asked) == 0u);  // info: no debug line

  auto set = cli({"log-level", "debug", "game1"});
  BOOST_TEST(set.first == 0, set.second);
  BOOST_TEST(set.second.find(R"x("name":"game1","result":{"ok":true,"message":"log level debug (was info)","level":"debug"})x") !=
                 std::string::npos, set.second);
  BOOST_TEST(set.second.find("game2") == std::string::npos, set.second);
  BOOST_TEST(cl.wait_for("[game1] ", "the master's admin API sets the log level debug (was info)", 5s));
  status = cli({"status"});
  BOOST_REQUIRE(status.first == 0);
  BOOST_TEST(cl.wait_for("[game1] ", asked, 5s));
  BOOST_TEST(cl.count("[game1] ", " debug ") >= 1u);
  BOOST_TEST(cl.count("[game2] ", asked) == 0u);
  BOOST_TEST(status.second.find("game1") != std::string::npos);

  // Wrong levels: the CLI's usage error, and the master's 400 to a raw request.
  auto bad = cli({"log-level", "verbose", "game1"});
  BOOST_TEST(bad.first == 2);
  BOOST_TEST(bad.second.find("log-level: expected debug, info, warn or error, got 'verbose'") != std::string::npos,
             bad.second);
  std::string answer;
  {
    asio::io_context io;
    asio::ip::tcp::socket s(io);
    s.connect({asio::ip::make_address("127.0.0.1"), cl.ports["admin"]});
    const std::string req =
        "POST /log-level?level=loud&server=game1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Authorization: Bearer admin-token-of-this-test\r\nContent-Length: 0\r\n\r\n";
    asio::write(s, asio::buffer(req));
    std::error_code ec;
    asio::read(s, asio::dynamic_buffer(answer), ec);
  }
  BOOST_TEST(answer.starts_with("HTTP/1.1 400"), answer);
  BOOST_TEST(answer.find(R"({"error":"level: expected debug, info, warn or error, got 'loud'"})") != std::string::npos,
             answer);
  auto unknown = cli({"log-level", "warn", "nosuch"});
  BOOST_TEST(unknown.first == 1);
  BOOST_TEST(unknown.second.find("no server named 'nosuch'") != std::string::npos, unknown.second);

  // Back to warn, every server: game1 says it (before raising), then writes no more debug.
  auto all = cli({"log-level", "warn"});
  BOOST_TEST(all.first == 0, all.second);
  for (const char* n : {"gate", "net1", "net2", "game1", "game2"})
    BOOST_TEST(all.second.find(fmt::format(R"("name":"{}","result":{{"ok":true)", n)) != std::string::npos, all.second);
  BOOST_TEST(cl.wait_for("[game1] ", "sets the log level warn (was debug)", 5s));
  const auto debug_lines = cl.count("[game1] ", asked);
  status = cli({"status"});
  BOOST_REQUIRE(status.first == 0);
  BOOST_TEST(status.second.find("game1") != std::string::npos);
  std::this_thread::sleep_for(300ms);
  BOOST_TEST(cl.count("[game1] ", asked) == debug_lines);
}

// `ember-cli ban`: the master asks the servers in turn, the first game (the one hosting the
// accounts module) bans; the account's sign-in is refused with the reason, other accounts
// sign in; bad input is refused with the reason why and bans nobody.
BOOST_AUTO_TEST_CASE(ember_cli_ban_bans_the_account_through_a_server_with_the_accounts_module) {
  cluster cl("", true);
  cl.start_master();
  BOOST_REQUIRE(cl.ready());
  for (const char* n : {"gate", "net1", "net2", "game1", "game2"})
    BOOST_REQUIRE(cl.wait_for(fmt::format("[{}] ", n), "linked to root 'master'", 10s));
  const auto cfg = (cl.dir / "config.json").string();
  int serial = 0;
  auto cli = [&](std::vector<std::string> args) {
    const auto out = cl.dir / fmt::format("cli-ban-{}.log", ++serial);
    args.insert(args.begin(), {ember_cli, "--config", cfg});
    child_process p(args, out);
    const int code = p.wait_exit(20s);
    return std::pair{code, ember::test::read_text(out)};
  };
  const auto name = fmt::format("banned-{}", getpid());
  const auto other = fmt::format("other-{}", getpid());
  std::uint64_t account = 0;
  asio::io_context io;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    for (const auto& n : {other, name}) {
      player p(io);
      co_await p.connect(cl.ports["net1"]);
      BOOST_REQUIRE(co_await p.stub.login({n, "secret"}));
      auto w = co_await p.stub.whoami({});
      BOOST_REQUIRE(w.has_value());
      account = w->user_id;
    }
  }());

  auto bad_minutes = cli({"ban", std::to_string(account), "--minutes", "x"});
  BOOST_TEST(bad_minutes.first != 0, bad_minutes.second);  // CLI11 refuses a number that is not one
  auto nobody = cli({"ban", "999999999", "--reason", "no one"});
  BOOST_TEST(nobody.first == 1, nobody.second);
  BOOST_TEST(nobody.second.find("no account 999999999") != std::string::npos, nobody.second);
  auto long_reason = cli({"ban", std::to_string(account), "--reason", std::string(300, 'x')});
  BOOST_TEST(long_reason.first == 1, long_reason.second);
  BOOST_TEST(long_reason.second.find("at most 256 bytes") != std::string::npos, long_reason.second);

  auto banned = cli({"ban", std::to_string(account), "--minutes", "30", "--reason", "cheating at cards"});
  BOOST_TEST(banned.first == 0, banned.second);
  BOOST_TEST(banned.second.find(R"("ok":true,"accounts":true,"message":"banned")") != std::string::npos, banned.second);
  BOOST_TEST(cl.count("", fmt::format("account {} banned by the master's admin API: cheating at cards", account)) == 1u);
  // The reason went in the body: the audit line has the account and the minutes only.
  BOOST_TEST(cl.count("", fmt::format("admin API: POST /ban?user={}&minutes=30 from 127.0.0.1: 200", account)) == 1u);

  ember::test::run(io, [&]() -> asio::awaitable<void> {
    player p(io);
    co_await p.connect(cl.ports["net2"]);
    auto r = co_await p.stub.login({name, "secret"});
    BOOST_REQUIRE_MESSAGE(!r, "the banned account signed in");
    BOOST_TEST(r.error().status == 60052u, r.error().message);  // ember_accounts::error::banned
    BOOST_TEST(r.error().message.find("cheating at cards") != std::string::npos, r.error().message);
    player q(io);
    co_await q.connect(cl.ports["net2"]);
    BOOST_TEST(bool(co_await q.stub.login({other, "secret"})));  // another account is not banned
  }());
}

// defaults.log.format json: every line of the master's output (its own, its servers', on
// stdout and stderr) is one JSON object naming whose it is, from start to a stopped cluster.
BOOST_AUTO_TEST_CASE(with_defaults_log_format_json_every_line_of_the_cluster_s_output_parses) {
  cluster cl;
  const auto cfg = cl.dir / "config.json";
  auto text = ember::test::read_text(cfg);
  const std::string plain = R"("log": { "level": "info" })";
  BOOST_REQUIRE(text.find(plain) != std::string::npos);
  text.replace(text.find(plain), plain.size(), R"("log": { "level": "info", "format": "json" })");
  std::ofstream(cfg, std::ios::trunc) << text;
  cl.start_master();
  for (const char* game : {"game1", "game2"})
    for (const char* root : {"gate", "net1", "net2"})
      BOOST_REQUIRE(cl.wait_for("", fmt::format(R"("server":"{}","msg":"node {}: linked to root '{}')", game, game, root), 10s));
  cl.master.signal(SIGTERM);
  BOOST_REQUIRE(cl.master.wait_exit(30s) == 0);
  simdjson::dom::parser parser;
  std::map<std::string, int> by_server;
  std::size_t n = 0;
  for (const auto& l : lines_of(cl.log())) {
    ++n;
    simdjson::dom::element doc;
    if (parser.parse(l).get(doc)) {
      BOOST_TEST(false, "not a JSON line: " << l);
      continue;
    }
    std::string_view server, ts;
    BOOST_TEST(!doc["server"].get_string().get(server), l);
    BOOST_TEST(!doc["ts"].get_string().get(ts), l);
    ++by_server[std::string(server)];
  }
  BOOST_TEST_MESSAGE(n << " JSON lines");
  for (const char* s : {"master", "gate", "net1", "net2", "game1", "game2"})
    BOOST_TEST(by_server[s] > 0, s);
  BOOST_TEST(cl.count("", R"("server":"master","msg":"exit status 0")") == 1u);
  BOOST_TEST(cl.count("", R"("server":"master","msg":"summary: game1 0 restarts ok stopped, code 0")") == 1u);
}

// The real thing: Debian's Prometheus finds every server through the file_sd file the master
// writes, scrapes them and the master every second, and a query over what it stored gives the
// requests this test's clients made.
BOOST_AUTO_TEST_CASE(prometheus_scrapes_every_server_and_the_master_and_counts_the_clients_requests) {
  if (::access("/usr/bin/prometheus", X_OK) != 0) {
    BOOST_TEST_MESSAGE("SKIPPED: /usr/bin/prometheus is absent (apt-get install prometheus)");
    return;
  }
  cluster cl("", true, true);
  cl.start_master();
  BOOST_REQUIRE(cl.ready());
  const auto targets = ember::test::read_text(cl.dir / "targets.json");
  BOOST_TEST(targets.find(fmt::format(R"({{"targets":["127.0.0.1:{}"],"labels":{{"server":"game2","type":"game"}}}})",
                                      cl.ports["game2.metrics"])) != std::string::npos, targets);
  const auto prom_port = free_port();
  std::ofstream(cl.dir / "prometheus.yml")
      << "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
         "scrape_configs:\n"
         "  - job_name: ember\n"
         "    file_sd_configs: [{files: ['" << (cl.dir / "targets.json").string() << "'], refresh_interval: 1s}]\n"
         "  - job_name: ember-master\n"
         "    static_configs: [{targets: ['127.0.0.1:" << cl.ports["admin"] << "']}]\n";
  child_process prometheus({"/usr/bin/prometheus", "--config.file=" + (cl.dir / "prometheus.yml").string(),
                            "--storage.tsdb.path=" + (cl.dir / "tsdb").string(),
                            fmt::format("--web.listen-address=127.0.0.1:{}", prom_port)},
                           cl.dir / "prometheus.log");
  asio::io_context io;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    player a(io), b(io);
    co_await a.connect(cl.ports["net1"]);
    co_await b.connect(cl.ports["net2"]);
    BOOST_REQUIRE((co_await a.stub.login({"alice", "secret"})).has_value());
    BOOST_REQUIRE((co_await b.stub.login({"bob", "secret"})).has_value());
    for (int i = 0; i < 3; ++i) BOOST_REQUIRE((co_await a.stub.move({i, -i})).has_value());
    BOOST_REQUIRE((co_await b.stub.online({})).has_value());
    auto query = [&](const std::string& q) -> asio::awaitable<std::string> {
      co_return (co_await ember::test::http_get(prom_port, "/api/v1/query?query=" + q)).body;
    };
    // Waits until the query's one value is `want` (each loop is 100 ms: 90 s at most), and
    // gives the last answer.
    auto wait_value = [&](std::string q, std::string want) -> asio::awaitable<std::string> {
      const auto end = fmt::format(R"(,"{}"]}}]}})", want);
      std::string answer;
      for (int i = 0; i < 900 && answer.find(end) == std::string::npos; ++i) {
        if (i) {
          asio::steady_timer t(io, 100ms);
          co_await t.async_wait(asio::use_awaitable);
        }
        answer = co_await query(q);
      }
      co_return answer;
    };
    auto found = [](const std::string& answer, const std::string& want) {
      return answer.find(fmt::format(R"(,"{}"]}}]}})", want)) != std::string::npos;
    };
    // Every server is scraped (up), then: the games served 3 moves in all; the gateways
    // forwarded them and counted them too; the master runs 5 servers.
    const auto up = co_await wait_value("count(up%7Bjob%3D%22ember%22%7D%3D%3D1)", "5");
    BOOST_TEST(found(up, "5"), up << "\ntargets: " << (co_await ember::test::http_get(prom_port, "/api/v1/targets")).body
                                  << "\nPrometheus log:\n" << ember::test::read_text(cl.dir / "prometheus.log"));
    const auto moves = co_await wait_value("sum(ember_requests_total%7Bcommand%3D%22move%22%2Ctype%3D%22game%22%7D)", "3");
    BOOST_TEST(found(moves, "3"), moves);
    const auto forwarded = co_await wait_value("sum(ember_requests_total%7Bcommand%3D%22move%22%2Ctype%3D%22net%22%7D)", "3");
    BOOST_TEST(found(forwarded, "3"), forwarded);
    const auto running = co_await wait_value("ember_master_servers%7Bstate%3D%22running%22%7D", "5");
    BOOST_TEST(found(running, "5"), running);
    // Both games report their data layer; the logins loaded account rows from the database.
    const auto stores = co_await wait_value("count(ember_data_journal_bytes)", "2");
    BOOST_TEST(found(stores, "2"), stores);
    const auto loaded = co_await query("sum(ember_data_cache_misses_total)%3E0");
    BOOST_TEST(loaded.find(R"("value":[)") != std::string::npos, loaded);
    // Every endpoint passes promtool's checks, the master's too; the games count what their
    // chat module sent (a module's counter, through host::counter).
    for (const char* s : {"gate", "net1", "net2", "game1", "game2", "admin"}) {
      // (The port first: GCC 12 mishandles a temporary of a conditional inside co_await.)
      const std::string key = std::string_view(s) == "admin" ? std::string("admin") : std::string(s) + ".metrics";
      const std::uint16_t port = cl.ports[key];
      const auto m = co_await ember::test::http_get(port, "/metrics");
      BOOST_TEST(m.status == 200);
      if (std::string_view(s).starts_with("game"))
        BOOST_TEST(m.body.find("\n# TYPE ember_chat_fanouts_total counter\nember_chat_fanouts_total ") != std::string::npos, s);
      std::ofstream(cl.dir / "scrape.txt") << m.body;
      const auto cmd = fmt::format("/usr/bin/promtool check metrics < {0}/scrape.txt > {0}/promtool.txt 2>&1",
                                   cl.dir.string());
      BOOST_TEST(std::system(cmd.c_str()) == 0, s << ": " << ember::test::read_text(cl.dir / "promtool.txt"));
    }
    // A server the master stops leaves the targets (the file is rewritten), and Prometheus
    // stops scraping it; the others stay.
    child_process stop({ember_cli, "--config", (cl.dir / "config.json").string(), "stop", "game2"},
                       cl.dir / "cli-stop.log");
    BOOST_TEST(stop.wait_exit(20s) == 0, ember::test::read_text(cl.dir / "cli-stop.log"));
    std::string now;
    for (int i = 0; i < 400; ++i) {  // 20 s at most
      now = ember::test::read_text(cl.dir / "targets.json");
      if (now.find(R"("server":"game2")") == std::string::npos) break;
      asio::steady_timer t(io, 50ms);
      co_await t.async_wait(asio::use_awaitable);
    }
    BOOST_TEST(now.find(R"("server":"game2")") == std::string::npos, now);
    BOOST_TEST(now.find(R"("server":"game1")") != std::string::npos, now);
    const auto fewer = co_await wait_value("count(up%7Bjob%3D%22ember%22%7D)", "4");
    BOOST_TEST(found(fewer, "4"), fewer);
  }(), 180s);
  prometheus.signal(SIGTERM);
  BOOST_TEST(prometheus.wait_exit(30s) == 0);
}
