// ember-master's web console in a real browser: the example cluster under the master, a player
// of ours logged in on net1, and Debian's chromium driven by puppeteer-core
// (console_test/console_test.mjs) signing in, reading the servers, reloading, finding and
// kicking the player, banning its account, draining a game server, at desktop and phone
// widths. This side checks what the browser cannot:
// the player's connection was ended, and the token is in no URL the browser asked for and in
// no line the master (or a server) logged. Screenshots stay in the node dir of the build.
//
// usage (console_test/run.sh): test_console -- EMBER_MASTER WORLD_SERVER NODE SCRIPT OUT_DIR
#define BOOST_TEST_MODULE ember-master console
#include "test_cluster.hpp"

#include "ember/modules/accounts/detail/ember_accounts.hpp"

namespace {

std::string node, script;
fs::path out_dir;

struct setup {
  setup() {
    auto& m = boost::unit_test::framework::master_test_suite();
    BOOST_REQUIRE_MESSAGE(m.argc == 6, "usage: test_console -- EMBER_MASTER WORLD_SERVER NODE SCRIPT OUT_DIR");
    master_binary = m.argv[1];
    world_server = m.argv[2];
    node = m.argv[3];
    script = m.argv[4];
    out_dir = m.argv[5];
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    std::signal(SIGPIPE, SIG_IGN);
  }
};
BOOST_TEST_GLOBAL_FIXTURE(setup);

constexpr std::string_view token = "admin-token-of-this-test";  // test_cluster.hpp's config

}  // namespace

BOOST_AUTO_TEST_CASE(the_console_signs_in_shows_the_servers_reloads_kicks_and_never_leaks_the_token) {
  cluster cl("", /*with_master_ports=*/true);
  cl.start_master();
  BOOST_REQUIRE_MESSAGE(cl.ready(), "the cluster did not come up; log: " << cl.log());
  BOOST_REQUIRE(cl.wait_for("", "admin API on http://", 10s));

  asio::io_context io;
  bool closed = false;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    // A player of ours on net1: the console must find it there and kick it.
    player p(io);
    co_await p.connect(cl.ports["net1"]);
    p.c.on_close([&](std::error_code) { closed = true; });
    const auto name = fmt::format("console-{}", getpid());
    auto login = co_await p.stub.login({name, "secret"});
    BOOST_REQUIRE_MESSAGE(login, "login failed");
    auto who = co_await p.stub.whoami({});
    BOOST_REQUIRE_MESSAGE(who, "whoami failed");
    BOOST_TEST_MESSAGE("player " << name << " is user " << who->user_id << ", served by " << who->server);

    fs::create_directories(out_dir);
    const auto node_log = out_dir / "node.log";
    fs::remove(node_log);
    child_process browser({node, script, out_dir.string(), fmt::format("http://127.0.0.1:{}/", cl.ports["admin"]),
                           std::string(token), std::to_string(who->user_id), "net1", who->server},
                          node_log);
    // The io_context keeps turning while the browser works (our player must see its kick).
    int rc = -1;
    const auto until = clk::now() + 180s;
    while (clk::now() < until && (rc = browser.wait_exit(0ms)) == -1) co_await ember::test::sleep(50ms);
    const auto said = ember::test::read_text(node_log);
    BOOST_TEST_MESSAGE("browser:\n" << said);
    BOOST_TEST(rc == 0, "the browser's steps failed (exit " << rc << "):\n" << said);
    const bool kicked = co_await ember::test::wait_until([&] { return closed; }, 5s);
    BOOST_TEST(kicked, "the kicked player's session is still open");
    // Banned from the page: the account's sign-in is refused now (accounts' `banned`, 60052,
    // with the reason the page gave).
    player again(io);
    co_await again.connect(cl.ports["net1"]);
    auto refused = co_await again.stub.login({name, "secret"});
    BOOST_REQUIRE_MESSAGE(!refused, "the banned account signed in again");
    BOOST_TEST(refused.error().status == std::uint16_t(ember_accounts::error::banned), refused.error().message);
    BOOST_TEST(refused.error().message.find("banned by the console test") != std::string::npos,
               refused.error().message);
  }(), 240s);

  // The reload the page asked for reached the master's audit log; no token anywhere.
  BOOST_TEST(cl.count("", "admin API: POST /reload?server=game1&data=1 from 127.0.0.1: 200") == 1u);
  BOOST_TEST(cl.count("", "refused: bad or missing token") >= 1u);
  BOOST_TEST(cl.count("", "admin API: POST /ban?user=") == 1u);
  BOOST_TEST(cl.count("", "banned by the master's admin API: banned by the console test") == 1u);
  // The drain the page asked for: of the game that does not serve our player (console_test.mjs).
  BOOST_TEST(cl.count("", "admin API: POST /drain?server=game1 from 127.0.0.1: 200") +
                 cl.count("", "admin API: POST /drain?server=game2 from 127.0.0.1: 200") == 1u);
  BOOST_TEST(cl.count("[net1] ", "kicked by the master's admin API: kicked by the console test") == 1u);
  const auto log = ember::test::read_text(cl.log());
  BOOST_TEST(log.find(token) == std::string::npos, "the token is in the master's log " << cl.log());
  const auto urls = ember::test::read_text(out_dir / "requests.txt");
  BOOST_TEST(urls.find("/status") != std::string::npos, "the request log is missing: " << urls);
  BOOST_TEST(urls.find(token) == std::string::npos, "the token is in a URL the browser asked for:\n" << urls);
  for (const char* shot : {"console-desktop.png", "console-server-desktop.png", "console-mobile.png",
                           "console-server-mobile.png"}) {
    const auto file = out_dir / shot;
    BOOST_TEST((fs::exists(file) && fs::file_size(file) > 1000), file);
    std::printf("screenshot: %s\n", file.c_str());
  }
}
