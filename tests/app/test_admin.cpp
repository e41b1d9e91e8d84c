// A server's admin link: it registers with the master's root by itself and answers status,
// reload and stop requests through the hooks its runner gives it.
#define BOOST_TEST_MODULE admin link
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <fmt/format.h>

#include "ember/app/admin.hpp"
#include "ember/cluster/root.hpp"
#include "support/run.hpp"

using namespace ember;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_CASE(a_server_registers_with_the_master_and_answers_status_reload_and_stop) {
  const int port = 24000 + getpid() % 1000;
  const auto text = fmt::format(R"({{
  "secret": "a-secret-of-the-admin-test",
  "master": {{ "rootport": {}, "webport": {}, "token": "t0ken-of-the-admin-test" }},
  "servers": {{ "solo": {{ "type": "game" }} }}
}})", port, port + 1);
  auto config = app::parse_config(text, "admin.json");
  BOOST_REQUIRE_MESSAGE(config.has_value(), (config ? std::string() : config.error().what()));
  asio::io_context io;
  cluster::root master(io.get_executor(), {"master", config->secret, "127.0.0.1",
                                           static_cast<std::uint16_t>(port), {}});
  master.start();
  app::host h(io, *config, "solo");
  int reloads = 0, stops = 0;
  app::admin_link admin(h, {[&] { return ++reloads == 1 ? std::string() : std::string("bad \"build\""); },
                            [] { return std::string(); },
                            [&] { ++stops; },
                            [] { return std::string("generation 3"); }});
  test::run(io, [&]() -> asio::awaitable<void> {
    BOOST_REQUIRE(co_await test::wait_until([&] { return master.find("solo") != nullptr; }, 5s));
    auto l = master.find("solo");
    BOOST_TEST(l->peer().type == "game");
    auto call = [&](app::admin_call id, std::uint8_t arg) -> asio::awaitable<std::string> {
      buffer body;
      if (id == app::admin_call::reload) body.push_back(std::byte(arg));
      const bytes_view bytes = body.view();
      auto r = co_await l->call(std::uint16_t(id), body_writer::encoded(bytes));
      BOOST_REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message));
      co_return std::string(reinterpret_cast<const char*>(r->data()), r->size());
    };
    const auto status = co_await call(app::admin_call::status, 0);
    BOOST_TEST(status.find(R"("name":"solo")") != std::string::npos, status);
    BOOST_TEST(status.find(R"("module":"generation 3")") != std::string::npos, status);
    BOOST_TEST(co_await call(app::admin_call::reload, 1) == R"({"ok":true,"message":"reloaded"})");
    BOOST_TEST(co_await call(app::admin_call::reload, 1) == R"({"ok":false,"message":"bad \"build\""})");
    BOOST_TEST((co_await call(app::admin_call::status, 0)).find(R"("reloads":1,"reload_failures":1)") != std::string::npos);
    BOOST_TEST((co_await call(app::admin_call::stop, 0)).empty());
    BOOST_TEST(stops == 1);
  }(), 20s);
}
