// npm's ws as the client of a WebSocket listener: the upgrade, an Origin refused, the native
// handshake, a fragmented request with a ping between its fragments, requests in flight, the
// close handshake, a text message refused (tests/net/node/ws_client.mjs says each step).
// usage: test_websocket_node -- NODE CLIENT_SCRIPT   (run by tests/net/node/run.sh)
#include "ember/net/server.hpp"

#define BOOST_TEST_MODULE net_websocket_node
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <string>

#include "ember/outcome.hpp"
#include "nettest_server.hpp"
#include "net_handler.hpp"
#include "support/process.hpp"

BOOST_AUTO_TEST_CASE(npm_ws_speaks_to_the_websocket_listener) {
  auto& suite = boost::unit_test::framework::master_test_suite();
  BOOST_REQUIRE_MESSAGE(suite.argc == 3, "usage: test_websocket_node -- NODE CLIENT_SCRIPT");
  const std::string node = suite.argv[1], script = suite.argv[2];

  asio::io_context io;
  ember::test::net_handler h;
  ember::net::dispatch_table t;
  nettest::register_commands(t, h);
  ember::net::server_options o;
  o.name = "ws-node";
  o.websocket_port = 0;
  o.websocket_origins = {"https://game.example.com"};
  ember::net::server srv(io, o, std::move(t));
  srv.start();

  const auto log = std::filesystem::path(script).parent_path() / "ws_client.log";
  std::filesystem::remove(log);
  ember::test::child_process client({node, script, std::to_string(srv.websocket_port())}, log);
  int code = -1;
  // the client's own deadline is 15 s; every loop here is bounded too
  for (int i = 0; i < 2000 && code == -1; ++i) {
    io.restart();
    io.run_for(std::chrono::milliseconds(10));
    code = client.wait_exit(std::chrono::milliseconds(0));
  }
  const std::string out = ember::test::read_text(log);
  BOOST_TEST_MESSAGE(out);
  BOOST_TEST(code == 0);
  BOOST_TEST(out.find("all ok") != std::string::npos);
}
