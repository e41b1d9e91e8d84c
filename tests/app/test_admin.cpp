// A server's admin link: it registers with the master's root by itself and answers status,
// reload, log level and stop requests through the hooks its runner gives it; the status counts
// the requests its clients made per command.
#define BOOST_TEST_MODULE admin link
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <fmt/format.h>

#include "ember/app/admin.hpp"
#include "ember/cluster/root.hpp"
#include "ember/log.hpp"
#include "ember/net/client.hpp"
#include "nettest_client.hpp"
#include "nettest_server.hpp"
#include "support/echo_handler.hpp"
#include "support/run.hpp"

using namespace ember;
using ember::net::client;
using ember::net::session;
using namespace std::chrono_literals;

namespace {
using handler = ember::test::echo_handler;  // echo answers, raise_error fails
}  // namespace

BOOST_AUTO_TEST_CASE(a_server_registers_with_the_master_and_answers_status_reload_and_stop) {
  const int port = 24000 + getpid() % 1000;
  const auto text = fmt::format(R"({{
  "secret": "a-secret-of-the-admin-test",
  "master": {{ "rootport": {}, "webport": {}, "token": "t0ken-of-the-admin-test" }},
  "servers": {{ "solo": {{ "type": "game", "netport": {} }} }}
}})", port, port + 1, port + 2);
  auto config = app::parse_config(text, "admin.json");
  BOOST_REQUIRE_MESSAGE(config.has_value(), (config ? std::string() : config.error().what()));
  asio::io_context io;
  cluster::root master(io.get_executor(), {"master", config->secret, "127.0.0.1",
                                           static_cast<std::uint16_t>(port), {}});
  master.start();
  app::host h(io, *config, "solo");
  handler logic;
  net::dispatch_table table;
  nettest::register_commands(table, logic);
  h.start(std::move(table), nettest::command_list);
  int reloads = 0, stops = 0;
  app::admin_link admin(h, {[&] { return ++reloads == 1 ? std::string() : std::string("bad \"build\""); },
                            [] { return std::string(); },
                            [&] { ++stops; },
                            [] { return std::string("generation 3"); },
                            {}});
  test::run(io, [&]() -> asio::awaitable<void> {
    BOOST_REQUIRE(co_await test::wait_until([&] { return master.find("solo") != nullptr; }, 5s));
    auto l = master.find("solo");
    BOOST_TEST(l->peer().type == "game");
    auto call = [&](app::admin_call id, std::uint8_t arg) -> asio::awaitable<std::string> {
      buffer body;
      if (id == app::admin_call::reload) body.push_back(std::byte(arg));
      const bytes_view bytes = body.view();
      auto r = co_await l->call(std::uint16_t(id), net::body_writer::encoded(bytes));
      BOOST_REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message));
      co_return std::string(reinterpret_cast<const char*>(r->data()), r->size());
    };
    // A client's requests: three echoes, an overlapping one, a refusal, a body that does not
    // decode (failed too), an unknown command (not counted: no such command).
    client c(io.get_executor());
    BOOST_REQUIRE(!co_await c.connect("127.0.0.1", static_cast<std::uint16_t>(port + 2)));
    nettest::client_stub stub(c);
    for (std::uint32_t i = 0; i < 3; ++i) BOOST_REQUIRE(co_await stub.echo({i, "hi", 0}));
    BOOST_REQUIRE(co_await stub.echo_overlapping({1, "hi", 0}));
    BOOST_REQUIRE(!co_await stub.raise_error({false, 0}));
    const std::byte junk[] = {std::byte{0x0a}, std::byte{0xff}};
    BOOST_REQUIRE(!co_await c.call_raw(static_cast<std::uint16_t>(nettest::cmd::echo::id), junk));
    BOOST_REQUIRE(!co_await c.call_raw(999, {}));
    const auto status = co_await call(app::admin_call::status, 0);
    BOOST_TEST_MESSAGE(status);
    BOOST_TEST(status.find(R"("name":"solo")") != std::string::npos, status);
    BOOST_TEST(status.find(R"("module":"generation 3")") != std::string::npos, status);
    BOOST_TEST(status.find(R"("commands":[{"id":101,"name":"echo","forwarded":false,"count":4,"failed":1,)") != std::string::npos, status);
    BOOST_TEST(status.find(R"({"id":102,"name":"echo_overlapping","forwarded":false,"count":1,"failed":0,)") != std::string::npos, status);
    BOOST_TEST(status.find(R"({"id":103,"name":"raise_error","forwarded":false,"count":1,"failed":1,)") != std::string::npos, status);
    BOOST_TEST(status.find(R"("id":999)") == std::string::npos, status);
    BOOST_TEST(h.per_command().size() == 3u);
    // The only client-facing server of its cluster has nowhere to move its sessions: it says
    // so, and its status offers no drain.
    BOOST_TEST(status.find(R"("drain":)") == std::string::npos, status);
    BOOST_TEST(co_await call(app::admin_call::drain, 0) ==
               R"x({"ok":false,"message":"solo has no other client-facing server to move its sessions to (or resuming is off: limits.resume_grace_ms is 0)","state":"serving"})x");
    BOOST_TEST(co_await call(app::admin_call::reload, 1) == R"({"ok":true,"message":"reloaded"})");
    BOOST_TEST(co_await call(app::admin_call::reload, 1) == R"({"ok":false,"message":"bad \"build\""})");
    BOOST_TEST((co_await call(app::admin_call::status, 0)).find(R"("reloads":1,"reload_failures":1)") != std::string::npos);
    // The log threshold, changed at once; a name that is no level changes nothing.
    auto call_text = [&](app::admin_call id, std::string text) -> asio::awaitable<std::string> {
      auto r = co_await l->call(std::uint16_t(id), net::body_writer::encoded(as_bytes(text)));
      BOOST_REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message));
      co_return std::string(reinterpret_cast<const char*>(r->data()), r->size());
    };
    BOOST_TEST((log::current_level() == log::level::info));
    BOOST_TEST(co_await call_text(app::admin_call::set_log_level, "debug") ==
               R"x({"ok":true,"message":"log level debug (was info)","level":"debug"})x");
    BOOST_TEST((log::current_level() == log::level::debug));
    BOOST_TEST((co_await call(app::admin_call::status, 0)).find(R"("log_level":"debug")") != std::string::npos);
    for (const char* bad : {"loud", "", "DEBUG", "off", "debug\n"})
      BOOST_TEST(co_await call_text(app::admin_call::set_log_level, bad) ==
                 R"({"ok":false,"message":"a log level is \"debug\", \"info\", \"warn\" or \"error\"","level":"debug"})");
    BOOST_TEST((log::current_level() == log::level::debug));
    BOOST_TEST(co_await call_text(app::admin_call::set_log_level, "error") ==
               R"x({"ok":true,"message":"log level error (was debug)","level":"error"})x");
    BOOST_TEST((log::current_level() == log::level::error));
    log::set_level(log::level::info);
    BOOST_TEST((co_await call(app::admin_call::stop, 0)).empty());
    BOOST_TEST(stops == 1);
  }(), 20s);
}

BOOST_AUTO_TEST_CASE(use_master_takes_host_port_and_says_what_is_wrong_with_anything_else) {
  app::cluster_config c;
  BOOST_TEST(app::use_master(c, "10.0.0.7:7000").empty());
  BOOST_REQUIRE(c.master.has_value());
  BOOST_TEST(c.master->host == "10.0.0.7");
  BOOST_TEST((c.master->rootport == std::optional<std::uint16_t>(7000)));
  BOOST_TEST(app::use_master(c, "[::1]:7001").empty());
  BOOST_TEST(c.master->host == "::1");  // without its brackets
  BOOST_TEST(app::use_master(c, "master") ==
             "--master master: expected HOST:PORT (the master's rootport): the port is missing");
  BOOST_TEST(app::use_master(c, "master:0") ==
             "--master master:0: expected HOST:PORT (the master's rootport): the port is not a number 1..65535");
  BOOST_TEST(app::use_master(c, ":7000") ==
             "--master :7000: expected HOST:PORT (the master's rootport): the host is empty");
  BOOST_TEST(c.master->host == "::1");  // a refused text changes nothing
}
