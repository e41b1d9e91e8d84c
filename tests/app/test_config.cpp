// Tests of include/ember/app/config.hpp: config.json parsed into plain structs, defaults,
// Firefly's config shape, and every validation error with its JSON path, line and message.
#include "ember/app/config.hpp"
#include "ember/app/module_options.hpp"

#define BOOST_TEST_MODULE app_config
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstddef>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "ember/app/detail/json_path.hpp"

namespace {

namespace app = ember::app;
using std::chrono::milliseconds;

const std::string configs = EMBER_TEST_CONFIG_DIR;
const std::string example = EMBER_EXAMPLE_CONFIG;

const std::string server_keys =
    "type, host, netport, rootport, remoteport, app, reload, db, mem, log, limits, "
    "call_timeout_ms, cpu, name, metricsport, link_tls";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(in, "cannot open " << path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

app::cluster_config parse_ok(std::string_view json) {
  auto r = app::parse_config(json, "config.json");
  if (!r) BOOST_FAIL("refused: " << r.error().what());
  return std::move(r).value();
}

app::config_error error_of(std::string_view json) {
  auto r = app::parse_config(json, "config.json");
  BOOST_REQUIRE_MESSAGE(!r.has_value(), "the config was accepted");
  return r.error();
}

/// Checks the error's line, path and message exactly.
void expect_error(std::string_view json, std::size_t line, std::string_view path,
                  std::string_view message) {
  const auto e = error_of(json);
  BOOST_TEST(e.path == path);
  BOOST_TEST(e.message == message);
  BOOST_TEST(e.line == line);
}

std::vector<std::string> names(const std::vector<const app::server_config*>& servers) {
  std::vector<std::string> out;
  for (const auto* s : servers) out.push_back(s->name);
  return out;
}

std::vector<std::string> names(const app::cluster_config& c) {
  std::vector<std::string> out;
  for (const auto& s : c.servers) out.push_back(s.name);
  return out;
}

}  // namespace

// --- good configs -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(the_example_config_parses_and_every_field_lands_where_expected) {
  auto r = app::load_config(example);
  if (!r) BOOST_FAIL(r.error().what());
  const app::cluster_config& c = *r;

  BOOST_TEST(c.secret == "example-cluster-secret-change-me");
  BOOST_REQUIRE(c.master.has_value());
  BOOST_TEST(c.master->host == "127.0.0.1");
  BOOST_TEST((c.master->rootport == std::optional<std::uint16_t>(17000)));
  BOOST_TEST(c.master->webport == 17001);
  BOOST_TEST(c.master->token == "example-admin-token-change-me");
  BOOST_REQUIRE(c.db.has_value());
  BOOST_TEST((c.db->driver == app::db_driver::sqlite));
  BOOST_TEST(c.db->connection == "Driver=SQLite3;Database=world.db;");
  BOOST_REQUIRE(c.memcached.has_value());
  BOOST_REQUIRE(c.memcached->servers.size() == 1u);
  BOOST_TEST(c.memcached->servers[0].host == "127.0.0.1");
  BOOST_TEST(c.memcached->servers[0].port == 17011);
  BOOST_TEST(c.memcached->key_namespace == "cluster");

  BOOST_TEST(names(c) == (std::vector<std::string>{"gate", "net1", "net2", "game1", "game2", "lobby", "lobby2"}),
             boost::test_tools::per_element());

  const app::server_config& gate = *c.find("gate");
  BOOST_TEST(gate.type == "gate");
  BOOST_TEST(gate.host == "127.0.0.1");
  BOOST_TEST(gate.is_root());
  BOOST_TEST(*gate.rootport == 17100);
  BOOST_TEST(!gate.netport.has_value());
  BOOST_TEST(gate.remoteport.empty());
  BOOST_TEST(gate.app == "modules/world.so");
  BOOST_TEST(gate.reload == "");
  BOOST_TEST(!gate.db);
  BOOST_TEST(!gate.mem);
  BOOST_TEST((gate.log.level == ember::log::level::info));
  BOOST_TEST(gate.log.file == "");
  BOOST_TEST(gate.call_timeout.count() == 2000);
  BOOST_TEST(gate.limits.max_frame == 65536u);
  BOOST_TEST(gate.limits.idle_timeout.count() == 60000);
  BOOST_TEST(!gate.cpu.has_value());

  const app::root_ref to_gate{"gate", "127.0.0.1", 17100};
  const app::server_config& net1 = *c.find("net1");
  BOOST_TEST(net1.type == "net");
  BOOST_REQUIRE(net1.netport.has_value());
  BOOST_TEST(net1.netport->port == 17201);
  BOOST_TEST((net1.netport->framing == ember::net::framing::native));
  BOOST_TEST(!net1.netport->idle_timeout.has_value());
  BOOST_TEST(net1.is_root());  // the game servers join it: it forwards their commands
  BOOST_TEST(*net1.rootport == 17301);
  BOOST_REQUIRE(net1.remoteport.size() == 1u);
  BOOST_TEST((net1.remoteport[0] == to_gate));
  BOOST_TEST(net1.app == "modules/world.so");
  BOOST_TEST(!net1.db);
  BOOST_TEST(!net1.mem);

  const app::server_config& net2 = *c.find("net2");
  BOOST_TEST(net2.type == "net");
  BOOST_REQUIRE(net2.netport.has_value());
  BOOST_TEST(net2.netport->port == 17202);
  BOOST_TEST(net2.netport->idle_timeout.value_or(milliseconds(0)).count() == 30000);
  BOOST_TEST((net2.remoteport == std::vector<app::root_ref>{to_gate}));

  for (const char* name : {"game1", "game2"}) {
    const app::server_config& g = *c.find(name);
    BOOST_TEST(g.type == "game");
    BOOST_TEST(!g.netport.has_value());
    const app::root_ref to_net1{"net1", "127.0.0.1", 17301}, to_net2{"net2", "127.0.0.1", 17302};
    BOOST_TEST((g.remoteport == std::vector<app::root_ref>{to_gate, to_net1, to_net2}));
    BOOST_TEST(g.app == "modules/world.so");
    BOOST_TEST(g.db);
    BOOST_TEST(g.mem);
  }
  BOOST_TEST((c.find("game1")->log.level == ember::log::level::debug));
  BOOST_TEST((c.find("game2")->log.level == ember::log::level::info));

  BOOST_TEST(names(c.nodes_of("gate")) ==
                 (std::vector<std::string>{"net1", "net2", "game1", "game2", "lobby", "lobby2"}),
             boost::test_tools::per_element());
  BOOST_TEST(names(c.of_type("game")) == (std::vector<std::string>{"game1", "game2"}),
             boost::test_tools::per_element());
  BOOST_TEST(c.find("game3") == nullptr);
}

BOOST_AUTO_TEST_CASE(absent_keys_take_their_documented_defaults) {
  const auto c = parse_ok(R"({"servers": {"solo": {"netport": 17300}}})");
  BOOST_TEST(c.secret.empty());
  BOOST_TEST(!c.master.has_value());
  BOOST_TEST(!c.db.has_value());
  BOOST_TEST(!c.memcached.has_value());
  BOOST_REQUIRE(c.servers.size() == 1u);
  const app::server_config& s = c.servers[0];
  BOOST_TEST(s.name == "solo");
  BOOST_TEST(s.type == "solo");  // the type defaults to the name, digits and all
  BOOST_TEST(s.host == "127.0.0.1");
  BOOST_REQUIRE(s.netport.has_value());
  BOOST_TEST((s.netport->framing == ember::net::framing::native));
  BOOST_TEST((s.netport->encoding == ember::codec::encoding::json));
  BOOST_TEST((s.netport->firefly.magic == (std::array<std::uint8_t, 4>{0, 0, 0, 0})));
  BOOST_TEST(!s.rootport.has_value());
  BOOST_TEST(s.remoteport.empty());
  BOOST_TEST(s.app.empty());
  BOOST_TEST(s.reload.empty());
  BOOST_TEST(!s.db);
  BOOST_TEST(!s.mem);
  BOOST_TEST((s.log == app::log_config{}));
  BOOST_TEST((s.log.level == ember::log::level::info));
  BOOST_TEST((s.limits == app::limits_config{}));
  BOOST_TEST(s.call_timeout.count() == 5000);
  BOOST_TEST(!s.cpu.has_value());

  const auto c2 = parse_ok(R"({"servers": {"game7": {}}})");
  BOOST_TEST(c2.servers[0].type == "game7");

  const auto m = parse_ok(R"({"master": {"webport": 17001, "token": "0123456789abcdef"},
                              "servers": {"solo": {}}})");
  BOOST_REQUIRE(m.master.has_value());
  BOOST_TEST(m.master->host == "127.0.0.1");
  BOOST_TEST(!m.master->rootport.has_value());
}

BOOST_AUTO_TEST_CASE(default_limits_are_those_of_net_server_options) {
  // A server that says nothing about limits gets exactly what the net layer would use.
  const auto c = parse_ok(R"({"servers": {"solo": {"netport": 17300}}})");
  const ember::net::server_options o = app::to_server_options(c.servers[0]);
  const ember::net::server_options d;
  BOOST_TEST(o.max_frame == d.max_frame);
  BOOST_TEST(o.max_write_queue == d.max_write_queue);
  BOOST_TEST(o.max_in_flight == d.max_in_flight);
  BOOST_TEST(o.max_sessions == d.max_sessions);
  BOOST_TEST(o.max_sessions_per_address == d.max_sessions_per_address);
  BOOST_TEST(o.max_request_rate == d.max_request_rate);
  BOOST_TEST(o.request_burst == d.request_burst);
  BOOST_TEST(o.idle_timeout.count() == d.idle_timeout.count());
  BOOST_TEST(o.frame_timeout.count() == d.frame_timeout.count());
  BOOST_TEST(o.handshake_timeout.count() == d.handshake_timeout.count());
  BOOST_TEST((o.overload == d.overload));
  BOOST_TEST((o.framing == d.framing));
  BOOST_TEST(o.name == "solo");
  BOOST_TEST(o.host == "127.0.0.1");
  BOOST_TEST(o.port == 17300);
}

BOOST_AUTO_TEST_CASE(per_server_settings_override_defaults_field_by_field) {
  auto r = app::load_config(configs + "/overrides.json");
  if (!r) BOOST_FAIL(r.error().what());

  const app::server_config& plain = *r->find("plain");
  BOOST_TEST(plain.limits.max_frame == 1000u);
  BOOST_TEST(plain.limits.max_in_flight == 10u);
  BOOST_TEST(plain.limits.idle_timeout.count() == 5000);
  BOOST_TEST(plain.limits.max_request_rate == app::limits_config{}.max_request_rate);
  BOOST_TEST((plain.log.level == ember::log::level::warn));
  BOOST_TEST(plain.log.file == "logs/all.log");
  BOOST_TEST(plain.call_timeout.count() == 3000);

  const app::server_config& tuned = *r->find("tuned");
  BOOST_TEST(tuned.limits.max_frame == 2000u);         // its own
  BOOST_TEST(tuned.limits.max_request_rate == 0.0);    // its own: unlimited
  BOOST_TEST(tuned.limits.max_in_flight == 10u);       // from defaults
  BOOST_TEST(tuned.limits.idle_timeout.count() == 5000);  // from defaults
  BOOST_TEST(tuned.limits.max_sessions == app::limits_config{}.max_sessions);  // built in
  BOOST_TEST((tuned.log.level == ember::log::level::error));
  BOOST_TEST(tuned.log.file == "logs/all.log");
  BOOST_TEST(tuned.call_timeout.count() == 100);

  const app::server_config& own = *r->find("own_file");
  BOOST_TEST((own.log.level == ember::log::level::warn));
  BOOST_TEST(own.log.file == "own.log");
}

BOOST_AUTO_TEST_CASE(firefly_s_own_config_shape_is_accepted) {
  auto r = app::load_config(configs + "/firefly.json");
  if (!r) BOOST_FAIL(r.error().what());
  const app::cluster_config& c = *r;
  BOOST_TEST(names(c) == (std::vector<std::string>{"gate", "dbfront", "net", "game1"}),
             boost::test_tools::per_element());
  BOOST_TEST((c.master->rootport == std::optional<std::uint16_t>(9999)));
  BOOST_TEST(c.master->webport == 9998);

  const auto& gate = *c.find("gate");
  BOOST_TEST(*gate.rootport == 10000);
  BOOST_TEST(gate.app == "app.gateserver");
  BOOST_TEST(gate.log.file == "app/logs/gate.log");
  BOOST_TEST((gate.log.level == ember::log::level::info));
  BOOST_TEST(gate.db);
  BOOST_TEST(gate.mem);

  const auto& dbfront = *c.find("dbfront");
  BOOST_TEST(!dbfront.is_root());
  BOOST_TEST(dbfront.remoteport.empty());

  const auto& net = *c.find("net");
  BOOST_REQUIRE(net.netport.has_value());
  BOOST_TEST(net.netport->port == 1000);
  BOOST_TEST((net.remoteport == std::vector<app::root_ref>{{"gate", "127.0.0.1", 10000}}));

  const auto& game1 = *c.find("game1");
  BOOST_TEST(game1.type == "game1");
  BOOST_TEST(game1.reload == "app.game.doreload");
  BOOST_TEST((game1.cpu == std::optional<int>(1)));
  BOOST_TEST((game1.remoteport == std::vector<app::root_ref>{{"gate", "127.0.0.1", 10000}}));
  BOOST_TEST(c.memcached->key_namespace == "anheisg");
}

BOOST_AUTO_TEST_CASE(adding_game3_is_only_a_config_change) {
  const std::string original = read_file(example);
  const std::string anchor = "\"servers\": {";
  const auto at = original.find(anchor);
  BOOST_REQUIRE(at != std::string::npos);
  std::string grown = original;
  grown.insert(at + anchor.size(), R"(
    "game3": {
      "type": "game",
      "remoteport": [{ "rootname": "gate" }],
      "app": "modules/game.so",
      "db": true,
      "mem": true
    },)");

  const auto before = parse_ok(original);
  const auto after = parse_ok(grown);
  BOOST_TEST(after.servers.size() == before.servers.size() + 1);
  for (const auto& s : before.servers) {
    BOOST_REQUIRE(after.find(s.name) != nullptr);
    BOOST_TEST((*after.find(s.name) == s), s.name << " changed");
  }
  const app::server_config& game3 = *after.find("game3");
  BOOST_TEST(game3.type == "game");
  BOOST_TEST((game3.remoteport == std::vector<app::root_ref>{{"gate", "127.0.0.1", 17100}}));
  BOOST_TEST((game3.limits == before.find("game1")->limits));
  BOOST_TEST(game3.call_timeout.count() == 2000);
  BOOST_TEST(names(after.nodes_of("gate")).size() == 7u);
  BOOST_TEST(names(after.of_type("game")) == (std::vector<std::string>{"game3", "game1", "game2"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_firefly_listener_and_every_limit_convert_to_server_options) {
  auto r = app::load_config(configs + "/all_limits.json");
  if (!r) BOOST_FAIL(r.error().what());
  const app::server_config& s = r->servers.at(0);
  const ember::net::server_options o = app::to_server_options(s);
  BOOST_TEST(o.name == "edge");
  BOOST_TEST(o.host == "0.0.0.0");
  BOOST_TEST(o.port == 17500);
  BOOST_TEST((o.framing == ember::net::framing::firefly));
  BOOST_TEST((o.firefly_encoding == ember::codec::encoding::binary));
  BOOST_TEST((o.firefly.magic == (std::array<std::uint8_t, 4>{78, 37, 38, 48})));
  BOOST_TEST(o.firefly.version == 9);
  BOOST_TEST(o.firefly.server_version == 7u);
  BOOST_TEST(o.max_frame == 4096u);
  BOOST_TEST(o.max_write_queue == 65536u);
  BOOST_TEST(o.max_in_flight == 8u);
  BOOST_TEST(o.max_sessions == 500u);
  BOOST_TEST(o.max_sessions_per_address == 5u);
  BOOST_TEST(o.max_request_rate == 50.5);
  BOOST_TEST(o.request_burst == 100.0);
  BOOST_TEST(o.idle_timeout.count() == 120000);  // the listener's own, over limits'
  BOOST_TEST(s.limits.idle_timeout.count() == 30000);
  BOOST_TEST(o.frame_timeout.count() == 2000);
  BOOST_TEST(o.handshake_timeout.count() == 3000);
  BOOST_TEST(o.resume_grace.count() == 0);
  BOOST_TEST(o.resume_outbox == 8192u);
  BOOST_TEST(o.overload.max_buffered_bytes == 268435456u);
  BOOST_TEST(o.overload.high_watermark == 0.8);
  BOOST_TEST(o.overload.low_watermark == 0.5);

  const auto json = parse_ok(R"({"servers": {"ff": {"netport": {"port": 17501, "framing": "firefly"}}}})");
  const auto jo = app::to_server_options(json.servers[0]);
  BOOST_TEST((jo.firefly_encoding == ember::codec::encoding::json));  // Firefly's default
  BOOST_TEST(jo.idle_timeout.count() == 60000);
}

BOOST_AUTO_TEST_CASE(to_server_options_refuses_a_server_without_netport) {
  const auto c = parse_ok(R"({"servers": {"backend": {}}})");
  BOOST_CHECK_THROW(app::to_server_options(c.servers[0]), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(whole_numbers_may_be_written_with_an_exponent) {
  const auto c = parse_ok(R"({"servers": {"a": {"netport": 1.72e4, "cpu": 2.0}}})");
  BOOST_TEST(c.servers[0].netport->port == 17200);
  BOOST_TEST((c.servers[0].cpu == std::optional<int>(2)));
  expect_error(R"({"servers": {"a": {"cpu": 1.5}}})", 1, "servers.a.cpu",
               "expected a CPU number 0..1023, got 1.5");
}

BOOST_AUTO_TEST_CASE(memcached_servers_are_host_port_strings) {
  const auto c = parse_ok(R"({"memcached": {"servers": ["cache1:11300", "cache2", "[::1]:11400"],
                                            "namespace": "ns"},
                              "servers": {"a": {"mem": true}}})");
  const auto& m = c.memcached->servers;
  BOOST_REQUIRE(m.size() == 3u);
  BOOST_TEST((m[0] == app::memcached_server{"cache1", 11300}));
  BOOST_TEST((m[1] == app::memcached_server{"cache2", 11211}));
  BOOST_TEST((m[2] == app::memcached_server{"::1", 11400}));

  expect_error(R"({"memcached": {"servers": ["::1:11211"], "namespace": "ns"},
  "servers": {"a": {}}})", 1, "memcached.servers[0]",
               R"(expected "host:port" (an IPv6 address goes in brackets: "[::1]:11211"), got "::1:11211")");
  expect_error(R"({"memcached": {"servers": ["cache:0"], "namespace": "ns"}, "servers": {"a": {}}})",
               1, "memcached.servers[0]", R"(expected "host:port" with a port 1..65535, got "cache:0")");
  expect_error(R"({"memcached": {"servers": [], "namespace": "ns"}, "servers": {"a": {}}})", 1,
               "memcached.servers", R"(expected at least one "host:port", got an empty array)");
  expect_error(R"({"memcached": {"servers": ["c:1"], "namespace": "my ns"}, "servers": {"a": {}}})",
               1, "memcached.namespace",
               R"(expected no blanks or control characters (memcached keys cannot hold them), got "my ns")");
  expect_error(R"({"memcached": {"servers": ["c:1"]}, "servers": {"a": {}}})", 1,
               "memcached.namespace", "missing; expected the prefix of this cluster's cache keys");
}

// --- loading ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_missing_file_is_an_error_naming_its_path) {
  auto r = app::load_config("/nonexistent/ember/config.json");
  BOOST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().what() ==
             "/nonexistent/ember/config.json: cannot read the config file: No such file or "
             "directory");
  BOOST_TEST(r.error().line == 0u);
  BOOST_TEST(r.error().path == "");

  auto dir = app::load_config(configs);
  BOOST_REQUIRE(!dir.has_value());
  BOOST_TEST(dir.error().what() == configs + ": cannot read the config file: Is a directory");
}

BOOST_AUTO_TEST_CASE(value_of_a_refused_config_throws_with_the_message) {
  auto r = app::parse_config(R"({"servers": {}})", "config.json");
  BOOST_REQUIRE(!r.has_value());
  try {
    (void)r.value();
    BOOST_FAIL("value() did not throw");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()) ==
               "config.json:1: servers: expected at least one server, got an empty object");
  }
}

BOOST_AUTO_TEST_CASE(an_error_prints_as_file_line_path_and_message) {
  app::config_error e{"config.json", 12, "servers.game1.remoteport[0].rootname",
                      "no server named 'gate2' (servers are: gate, game1)"};
  BOOST_TEST(e.what() ==
             "config.json:12: servers.game1.remoteport[0].rootname: no server named 'gate2' "
             "(servers are: gate, game1)");
  e.line = 0;
  BOOST_TEST(e.what() ==
             "config.json: servers.game1.remoteport[0].rootname: no server named 'gate2' "
             "(servers are: gate, game1)");
  e.path.clear();
  BOOST_TEST(e.what() == "config.json: no server named 'gate2' (servers are: gate, game1)");
}

// --- errors -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(invalid_json_gives_simdjson_s_message_and_the_line) {
  const std::string tape = simdjson::error_message(simdjson::TAPE_ERROR);
  expect_error(R"({
  "servers": {
    "gate": {"rootport": 17100}
    "net": {}
  }
})", 4, "", "invalid JSON: expected ',' or '}' after an object member (simdjson: " + tape + ")");

  expect_error("{\n  \"servers\": {\"a\": {},}\n}", 2, "",
               "invalid JSON: expected a key in double quotes (simdjson: " + tape + ")");
  expect_error("", 1, "",
               std::string("invalid JSON: the text ends where a value was expected (simdjson: ") +
                   simdjson::error_message(simdjson::EMPTY) + ")");
  expect_error("{\"servers\": {\"a\": {}}}\n\n{}", 3, "",
               "invalid JSON: more text after the JSON value (simdjson: " + tape + ")");
  expect_error("{\n\"servers\": {\"a\": {\"app\": \"\xff\"}}}", 2, "",
               std::string("invalid JSON: invalid UTF-8 (simdjson: ") +
                   simdjson::error_message(simdjson::UTF8_ERROR) + ")");

  const auto e = error_of("{\n\"servers\": {\"a\": {}}");
  BOOST_TEST(e.what().rfind("config.json:2: invalid JSON: ", 0) == 0u, e.what());
}

BOOST_AUTO_TEST_CASE(an_unknown_key_names_the_known_keys_and_suggests_the_closest) {
  expect_error(R"({
  "servers": {
    "gate": {
      "rootport": 17100,
      "netprot": 17200
    }
  }
})", 5, "servers.gate.netprot",
               "unknown key (did you mean 'netport'?); expected one of: " + server_keys);

  expect_error(R"({"servers": {"a": {}}, "clients": {}})", 1, "clients",
               "unknown key; expected one of: secret, master, db, memcached, defaults, servers, modules");
  expect_error(R"({"servers": {"a": {"limits": {"max_frames": 10}}}})", 1,
               "servers.a.limits.max_frames",
               "unknown key (did you mean 'max_frame'?); expected one of: max_frame, "
               "max_write_queue, max_in_flight, max_sessions, max_sessions_per_address, "
               "max_request_rate, request_burst, idle_timeout_ms, frame_timeout_ms, "
               "handshake_timeout_ms, resume_grace_ms, resume_outbox, overload");
  expect_error(R"({"servers": {"a": {"remoteport": [{"rootname": "b", "port": 1}]}}})", 1,
               "servers.a.remoteport[0].port",
               "unknown key; expected one of: rootname, host, rootport");
}

BOOST_AUTO_TEST_CASE(a_key_firefly_spells_differently_gets_a_hint) {
  expect_error(R"({"memcached": {"urls": ["127.0.0.1:11211"], "namespace": "ns"},
                   "servers": {"a": {}}})",
               1, "memcached.urls",
               "unknown key (Firefly's 'urls' is 'servers' here); expected one of: servers, "
               "namespace");
  expect_error(R"({"master": {"roothost": "localhost"}, "servers": {"a": {}}})", 1,
               "master.roothost",
               "unknown key (Firefly's 'roothost' is 'host' here); expected one of: host, "
               "rootport, webport, token, prometheus_sd");
  expect_error(R"({"servers": {"a": {"webport": 17001}}})", 1, "servers.a.webport",
               "unknown key (ember servers take admin commands through the master's webport; "
               "their metrics and health checks are on \"metricsport\"); expected one of: " +
                   server_keys);
  expect_error(R"({"db": {"host": "localhost", "user": "root"}, "servers": {"a": {}}})", 1,
               "db.host",
               "unknown key (ember reaches databases through ODBC: write such settings into the "
               "'connection' string); expected one of: driver, connection");
}

BOOST_AUTO_TEST_CASE(a_key_given_twice_is_refused_at_its_second_occurrence) {
  expect_error(R"({
  "servers": {
    "game1": {},
    "game2": {},
    "game1": {"cpu": 1}
  }
})", 5, "servers.game1", "duplicate key; each key may appear once");
}

BOOST_AUTO_TEST_CASE(a_wrong_type_says_what_was_expected_and_what_came) {
  expect_error(R"({
  "secret": "a-secret-of-enough-length",
  "servers": {
    "gate": {"rootport": "17100"}
  }
})", 4, "servers.gate.rootport", "expected a number, got a string");
  expect_error(R"({"servers": {"a": {"db": "yes"}}})", 1, "servers.a.db",
               "expected true or false, got a string");
  expect_error(R"({"servers": {"a": []}})", 1, "servers.a", "expected an object, got an array");
  expect_error(R"({"servers": {"a": {"remoteport": {"rootname": "b"}}}})", 1,
               "servers.a.remoteport",
               R"(expected an array of roots ({"rootname": ...}), got an object)");
  expect_error(R"({"servers": {"a": {"netport": "17200"}}})", 1, "servers.a.netport",
               "expected a port number or an object, got a string");
  expect_error(R"({"servers": {"a": {"log": 3}}})", 1, "servers.a.log",
               "expected an object or a file name, got a number");
  expect_error(R"({"servers": {"a": {"app": null}}})", 1, "servers.a.app",
               "expected a module path, got null");
  expect_error(R"({"servers": {"a": {"app": ""}}})", 1, "servers.a.app",
               "expected a module path, got an empty string");
  expect_error(R"({"servers": {"a": {"type": 7}}})", 1, "servers.a.type",
               "expected a string, got a number");
  expect_error(R"({"servers": {"a": {"limits": {"max_request_rate": true}}}})", 1,
               "servers.a.limits.max_request_rate", "expected a number, got a boolean");
  expect_error("[1, 2]", 1, "", "expected an object, got an array");
}

BOOST_AUTO_TEST_CASE(a_missing_required_key_is_reported_where_it_belongs) {
  expect_error(R"({
  "secret": "a-secret-of-enough-length",
  "servers": {
    "gate": {"rootport": 17100},
    "net": {
      "remoteport": [
        {"rootport": 17100}
      ]
    }
  }
})", 7, "servers.net.remoteport[0].rootname", "missing; expected the name of a root server");
  expect_error(R"({"servers": {"a": {"netport": {"framing": "native"}}}})", 1,
               "servers.a.netport.port", "missing; expected a port number 1..65535");
  expect_error(R"({"master": {"token": "0123456789abcdef"}, "servers": {"a": {}}})", 1,
               "master.webport", "missing; expected the admin HTTP port, 1..65535");
  expect_error(R"({"master": {"webport": 17001}, "servers": {"a": {}}})", 1, "master.token",
               "missing; expected an admin token of at least 16 characters");
  expect_error(R"({"db": {"connection": "Driver=SQLite3;"}, "servers": {"a": {}}})", 1,
               "db.driver", R"(missing; expected "sqlite" or "postgresql")");
  expect_error(R"({"db": {"driver": "sqlite"}, "servers": {"a": {}}})", 1, "db.connection",
               "missing; expected an ODBC connection string");
}

BOOST_AUTO_TEST_CASE(ports_outside_1_to_65535_are_refused) {
  expect_error(R"({"servers": {"a": {"netport": 0}}})", 1, "servers.a.netport",
               "expected a port number 1..65535, got 0");
  expect_error(R"({"servers": {"a": {"netport": {"port": 65536}}}})", 1, "servers.a.netport.port",
               "expected a port number 1..65535, got 65536");
  expect_error(R"({"secret": "a-secret-of-enough-length", "servers": {"a": {"rootport": -1}}})", 1,
               "servers.a.rootport", "expected a port number 1..65535, got -1");
  expect_error(R"({"servers": {"a": {"netport": 17200.5}}})", 1, "servers.a.netport",
               "expected a port number 1..65535, got 17200.5");
  expect_error(R"({"servers": {"a": {"netport": 18446744073709551615}}})", 1, "servers.a.netport",
               "expected a port number 1..65535, got 18446744073709551615");
  expect_error(R"({"master": {"webport": 70000, "token": "0123456789abcdef"},
                   "servers": {"a": {}}})", 1, "master.webport",
               "expected a port number 1..65535, got 70000");
}

BOOST_AUTO_TEST_CASE(a_metricsport_is_a_port_or_0_or_a_port_and_host_and_a_bad_one_is_named) {
  auto c = parse_ok(R"({"servers": {"a": {"netport": 17200, "metricsport": 17300},
                                   "b": {"metricsport": {"port": 17300, "host": "0.0.0.0"}},
                                   "c": {"metricsport": 0}, "d": {}}})");
  BOOST_REQUIRE(c.servers[0].metricsport.has_value());
  BOOST_TEST(c.servers[0].metricsport->port == 17300);
  BOOST_TEST(c.servers[0].metricsport->host == "127.0.0.1");
  BOOST_REQUIRE(c.servers[1].metricsport.has_value());
  BOOST_TEST(c.servers[1].metricsport->host == "0.0.0.0");
  BOOST_TEST(!c.servers[2].metricsport.has_value());
  BOOST_TEST(!c.servers[3].metricsport.has_value());
  expect_error(R"({"servers": {"a": {"metricsport": 65536}}})", 1, "servers.a.metricsport",
               "expected a port number 1..65535, or 0 (no metrics endpoint), got 65536");
  expect_error(R"({"servers": {"a": {"metricsport": "9100"}}})", 1, "servers.a.metricsport",
               "expected a port number 1..65535, or 0 (no metrics endpoint) or an object "
               "{\"port\": N, \"host\": \"ADDRESS\"}, got a string");
  expect_error(R"({"servers": {"a": {"metricsport": {"port": -2}}}})", 1,
               "servers.a.metricsport.port",
               "expected a port number 1..65535, or 0 (no metrics endpoint), got -2");
  expect_error(R"({"servers": {"a": {"metricsport": {"host": "127.0.0.1"}}}})", 1,
               "servers.a.metricsport.port",
               "missing; expected a port number 1..65535, or 0 (no metrics endpoint)");
  expect_error(R"({"servers": {"a": {"netport": 17200, "metricsport": 17200}}})", 1,
               "servers.a.metricsport", "port 17200 on 127.0.0.1 is already used by servers.a.netport");
  auto m = parse_ok(R"({"master": {"webport": 17001, "token": "0123456789abcdef",
                                   "prometheus_sd": "targets.json"}, "servers": {"a": {}}})");
  BOOST_TEST(m.master->prometheus_sd == "targets.json");
}

BOOST_AUTO_TEST_CASE(a_netport_takes_a_websocket_listener_with_its_origins_and_a_bad_one_is_named) {
  auto c = parse_ok(R"({"servers": {"a": {"netport": {"port": 17200, "websocket": 17280}},
    "b": {"netport": {"port": 17201, "websocket": {"port": 17281,
          "origins": ["https://game.example", "*"], "max_request": 4096}}},
    "c": {"netport": 17202}}})");
  BOOST_REQUIRE(c.servers[0].netport->websocket.has_value());
  BOOST_TEST(c.servers[0].netport->websocket->port == 17280);
  BOOST_TEST(c.servers[0].netport->websocket->origins.empty());
  const auto& w = *c.servers[1].netport->websocket;
  BOOST_TEST(w.port == 17281);
  BOOST_TEST((w.origins == std::vector<std::string>{"https://game.example", "*"}));
  BOOST_TEST(w.max_request == 4096u);
  BOOST_TEST(!c.servers[2].netport->websocket.has_value());
  // What the server gets from it.
  const auto o = app::to_server_options(c.servers[1]);
  BOOST_REQUIRE(o.websocket_port.has_value());
  BOOST_TEST(*o.websocket_port == 17281);
  BOOST_TEST(o.websocket_origins.size() == 2u);
  BOOST_TEST(o.websocket_max_request == 4096u);
  BOOST_TEST(!app::to_server_options(c.servers[2]).websocket_port.has_value());

  expect_error(R"({"servers": {"a": {"netport": {"port": 17200, "websocket": 0}}}})", 1,
               "servers.a.netport.websocket", "expected a port number 1..65535, got 0");
  expect_error(R"({"servers": {"a": {"netport": {"port": 17200, "websocket": {"origins": []}}}}})", 1,
               "servers.a.netport.websocket.port", "missing; expected a port number 1..65535");
  expect_error(R"({"servers": {"a": {"netport": {"port": 17200,
    "websocket": {"port": 17280, "origins": "https://game.example"}}}}})", 2,
               "servers.a.netport.websocket.origins",
               "expected an array of origins (e.g. \"https://game.example\", or \"*\" for any page), "
               "got a string");
  expect_error(R"({"servers": {"a": {"netport": {"port": 17200,
    "websocket": {"port": 17280, "origins": [""]}}}}})", 2,
               "servers.a.netport.websocket.origins[0]",
               "expected an origin such as \"https://game.example\", got an empty string");
  expect_error(R"({"servers": {"a": {"netport": {"port": 17200,
    "websocket": {"port": 17280, "max_request": 10}}}}})", 2,
               "servers.a.netport.websocket.max_request",
               "expected a size in bytes 1024..1048576, got 10");
  expect_error(R"({"servers": {"a": {"netport": {"port": 17200, "websocket": {"port": 17280, "origin": []}}}}})",
               1, "servers.a.netport.websocket.origin",
               "unknown key (did you mean 'origins'?); expected one of: port, origins, max_request");
  expect_error(R"({"servers": {"a": {"netport": {"port": 17200, "websocket": 17200}}}})", 1,
               "servers.a.netport.websocket", "port 17200 on 127.0.0.1 is already used by servers.a.netport.port");
}

// `netport.shared`: N servers of one type and framing on one port (SO_REUSEPORT), each saying N.
BOOST_AUTO_TEST_CASE(a_client_port_is_shared_by_as_many_servers_as_it_says_and_only_by_them) {
  const auto c = parse_ok(R"({"servers": {
    "a": {"type": "net", "netport": {"port": 17200, "shared": 2}},
    "b": {"type": "net", "netport": {"port": 17200, "shared": 2}},
    "c": {"type": "net", "netport": 17201}}})");
  BOOST_TEST(c.servers[0].netport->shared == 2);
  const auto a = app::to_server_options(c.servers[0], c);
  BOOST_TEST(a.reuse_port);
  BOOST_TEST(!app::to_server_options(c.servers[2], c).reuse_port);
  // A shared port is no resume peer (a relay there reaches any of its servers); c still is.
  BOOST_REQUIRE(a.resume_peers.size() == 1u);
  BOOST_TEST(a.resume_peers[0].name == "c");
  BOOST_TEST(app::to_server_options(c.servers[2], c).resume_peers.empty());

  // A peer's WebSocket port goes with it: a WebSocket client is told to move there.
  const auto ws = parse_ok(R"({"servers": {
    "a": {"type": "net", "netport": {"port": 17200, "websocket": 17280}},
    "b": {"type": "net", "netport": {"port": 17201, "websocket": 17281}},
    "c": {"type": "net", "netport": 17202}}})");
  const auto peers = app::to_server_options(ws.servers[0], ws).resume_peers;
  BOOST_REQUIRE(peers.size() == 2u);
  BOOST_TEST(peers[0].port == 17201);
  BOOST_TEST(peers[0].websocket_port == 17281);
  BOOST_TEST(peers[1].websocket_port == 0);  // c: TCP only

  expect_error(R"({"servers": {"a": {"netport": {"port": 17200, "shared": 2}}}})", 1,
               "servers.a.netport.port", "\"shared\": 2, but 1 server of the config has port 17200 on 127.0.0.1");
  expect_error(R"({"servers": {"a": {"netport": {"port": 17200, "shared": 1}}}})", 1,
               "servers.a.netport.shared", "expected how many servers share this port, 2..64, got 1");
  expect_error(R"({"servers": {"a": {"type": "net", "netport": {"port": 17200, "shared": 2}},
    "b": {"type": "net", "netport": {"port": 17200, "shared": 3}}}})", 2,
               "servers.b.netport.port", "port 17200 is shared by 3 servers here and by 2 at servers.a.netport.port");
  expect_error(R"({"servers": {"a": {"type": "net", "netport": {"port": 17200, "shared": 2}},
    "b": {"type": "game", "netport": {"port": 17200, "shared": 2}}}})", 2,
               "servers.b.netport.port",
               "a shared port's servers are of one type and framing: this is game (native), a is net (native)");
  expect_error(R"({"servers": {"a": {"type": "net", "netport": {"port": 17200, "shared": 2}},
    "b": {"type": "net", "netport": 17200}}})", 2,
               "servers.b.netport", "port 17200 on 127.0.0.1 is already used by servers.a.netport.port");
}

BOOST_AUTO_TEST_CASE(a_port_used_twice_on_one_host_names_both_paths) {
  auto r = app::load_config(configs + "/bad_port_twice.json");
  BOOST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().what() ==
             configs + "/bad_port_twice.json:7: servers.net2.netport.port: port 17201 on "
                       "127.0.0.1 is already used by servers.net1.netport");

  expect_error(R"({"secret": "a-secret-of-enough-length",
  "master": {"rootport": 17100, "webport": 17001, "token": "0123456789abcdef"},
  "servers": {"gate": {"rootport": 17100}}})", 3, "servers.gate.rootport",
               "port 17100 on 127.0.0.1 is already used by master.rootport");
  expect_error(R"({"memcached": {"servers": ["127.0.0.1:11211"], "namespace": "ns"},
  "servers": {"a": {"netport": 11211}}})", 2, "servers.a.netport",
               "port 11211 on 127.0.0.1 is already used by memcached.servers[0]");
  expect_error(R"({"secret": "a-secret-of-enough-length",
  "servers": {"a": {"netport": 17200, "rootport": 17200}}})", 2, "servers.a.rootport",
               "port 17200 on 127.0.0.1 is already used by servers.a.netport");

  // The same port on two hosts is two different listeners.
  const auto c = parse_ok(R"({"servers": {"a": {"netport": 17200, "host": "10.0.0.1"},
                                          "b": {"netport": 17200, "host": "10.0.0.2"}}})");
  BOOST_TEST(c.servers.size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_remoteport_naming_a_server_that_does_not_exist_lists_the_servers) {
  auto r = app::load_config(configs + "/bad_unknown_root.json");
  BOOST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().what() ==
             configs + "/bad_unknown_root.json:8: servers.game1.remoteport[0].rootname: no "
                       "server named 'gate2' (servers are: gate, net1, game1)");
}

BOOST_AUTO_TEST_CASE(a_remoteport_naming_a_server_that_is_not_a_root_is_refused) {
  expect_error(R"({"secret": "a-secret-of-enough-length",
  "servers": {
    "net1": {"netport": 17201},
    "game1": {"remoteport": [{"rootname": "net1"}]}
  }
})", 4, "servers.game1.remoteport[0].rootname", "'net1' is not a root: it has no rootport");
}

BOOST_AUTO_TEST_CASE(a_server_that_lists_itself_is_refused) {
  expect_error(R"({"secret": "a-secret-of-enough-length",
  "servers": {
    "gate": {"rootport": 17100, "remoteport": [{"rootname": "gate"}]}
  }
})", 3, "servers.gate.remoteport[0].rootname",
               "'gate' is this server; a server cannot join itself");
}

BOOST_AUTO_TEST_CASE(a_cycle_of_roots_is_refused_and_printed) {
  auto r = app::load_config(configs + "/bad_cycle.json");
  BOOST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().what() ==
             configs + "/bad_cycle.json:11: servers.game1.remoteport[0].rootname: roots join each "
                       "other in a cycle: game1 -> gate -> game1");

  expect_error(R"({"secret": "a-secret-of-enough-length",
  "servers": {
    "a": {"rootport": 17001, "remoteport": [{"rootname": "b"}]},
    "b": {"rootport": 17002, "remoteport": [{"rootname": "c"}]},
    "c": {"rootport": 17003, "remoteport": [{"rootname": "a"}]}
  }
})", 5, "servers.c.remoteport[0].rootname", "roots join each other in a cycle: c -> a -> b -> c");

  // Two nodes sharing two roots, and a root joining another root: no cycle.
  const auto c = parse_ok(R"({"secret": "a-secret-of-enough-length",
  "servers": {
    "top": {"rootport": 17001},
    "mid": {"rootport": 17002, "remoteport": [{"rootname": "top"}]},
    "n1": {"remoteport": [{"rootname": "mid"}, {"rootname": "top"}]},
    "n2": {"remoteport": [{"rootname": "top"}, {"rootname": "mid"}]}
  }
})");
  BOOST_TEST(names(c.nodes_of("top")) == (std::vector<std::string>{"mid", "n1", "n2"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_remoteport_that_disagrees_with_its_root_is_refused) {
  expect_error(R"({"secret": "a-secret-of-enough-length",
  "servers": {
    "gate": {"rootport": 17100},
    "game1": {"remoteport": [{"rootname": "gate", "rootport": 17101}]}
  }
})", 4, "servers.game1.remoteport[0].rootport", "'gate' listens on port 17100, not 17101");
  expect_error(R"({"secret": "a-secret-of-enough-length",
  "servers": {
    "gate": {"rootport": 17100},
    "game1": {"remoteport": [{"rootname": "gate", "host": "10.0.0.9"}]}
  }
})", 4, "servers.game1.remoteport[0].host", "'gate' listens on 127.0.0.1, not 10.0.0.9");
  expect_error(R"({"secret": "a-secret-of-enough-length",
  "servers": {
    "gate": {"rootport": 17100},
    "game1": {"remoteport": [{"rootname": "gate"}, {"rootname": "gate"}]}
  }
})", 4, "servers.game1.remoteport[1].rootname", "'gate' is joined twice (also by remoteport[0])");

  // A root listening on every interface may be reached at any of its addresses.
  const auto c = parse_ok(R"({"secret": "a-secret-of-enough-length",
  "servers": {
    "gate": {"host": "0.0.0.0", "rootport": 17100},
    "game1": {"remoteport": [{"rootname": "gate", "host": "10.0.0.9"}]},
    "game2": {"remoteport": [{"rootname": "gate"}]}
  }
})");
  BOOST_TEST(c.find("game1")->remoteport[0].host == "10.0.0.9");
  BOOST_TEST(c.find("game2")->remoteport[0].host == "0.0.0.0");
}

BOOST_AUTO_TEST_CASE(bad_framing_encoding_and_log_level_names_are_refused) {
  expect_error(R"({"servers": {"a": {"netport": {"port": 17200, "framing": "websocket"}}}})", 1,
               "servers.a.netport.framing", R"(expected "native" or "firefly", got "websocket")");
  expect_error(R"({"servers": {"a": {"netport": {"port": 17200, "framing": "firefly",
                                                 "encoding": "protobuf"}}}})",
               2, "servers.a.netport.encoding", R"(expected "binary" or "json", got "protobuf")");
  expect_error(R"({"servers": {"a": {"log": {"level": "verbose"}}}})", 1, "servers.a.log.level",
               R"(expected "debug", "info", "warn" or "error", got "verbose")");
  expect_error(R"({"defaults": {"log": {"level": 2}}, "servers": {"a": {}}})", 1,
               "defaults.log.level", R"(expected "debug", "info", "warn" or "error", got a number)");
  expect_error(R"({"db": {"driver": "mysql", "connection": "x"}, "servers": {"a": {}}})", 1,
               "db.driver", R"(expected "sqlite" or "postgresql", got "mysql")");
}

BOOST_AUTO_TEST_CASE(log_format_json_is_inherited_from_defaults_and_a_bad_one_is_named) {
  auto r = app::parse_config(R"({"defaults": {"log": {"level": "warn", "format": "json"}},
                                 "servers": {"a": {}, "b": {"log": {"format": "plain"}},
                                             "c": {"log": {"level": "debug"}}}})",
                             "config.json");
  if (!r) BOOST_FAIL(r.error().what());
  BOOST_TEST((r->log.format == ember::log::format::json));
  BOOST_TEST((r->log.level == ember::log::level::warn));
  BOOST_TEST((r->find("a")->log.format == ember::log::format::json));
  BOOST_TEST((r->find("b")->log.format == ember::log::format::plain));
  BOOST_TEST((r->find("b")->log.level == ember::log::level::warn));
  BOOST_TEST((r->find("c")->log.format == ember::log::format::json));
  BOOST_TEST((r->find("c")->log.level == ember::log::level::debug));
  auto none = app::parse_config(R"({"servers": {"a": {}}})", "config.json");
  if (!none) BOOST_FAIL(none.error().what());
  BOOST_TEST((none->log.format == ember::log::format::plain));
  expect_error(R"({"servers": {"a": {"log": {"format": "logfmt"}}}})", 1, "servers.a.log.format",
               R"(expected "plain" or "json", got "logfmt")");
  expect_error(R"({"defaults": {"log": {"format": true}}, "servers": {"a": {}}})", 1,
               "defaults.log.format", R"(expected "plain" or "json", got a boolean)");
  expect_error(R"({"servers": {"a": {"log": {"formt": "json"}}}})", 1, "servers.a.log.formt",
               "unknown key (did you mean 'format'?); expected one of: level, format, file");
}

BOOST_AUTO_TEST_CASE(a_native_listener_refuses_settings_only_firefly_uses) {
  expect_error(R"({"servers": {"a": {"netport": {"port": 17200, "encoding": "json"}}}})", 1,
               "servers.a.netport.encoding",
               "only a listener with \"framing\": \"firefly\" has a fixed encoding; native frames "
               "say theirs in their flags");
  expect_error(R"({"servers": {"a": {"netport": {"port": 17200, "firefly": {"version": 1}}}}})", 1,
               "servers.a.netport.firefly",
               "only a listener with \"framing\": \"firefly\" reads Firefly headers");
}

BOOST_AUTO_TEST_CASE(the_firefly_magic_must_be_four_bytes) {
  const char* prefix = R"({"servers": {"a": {"netport": {"port": 17200, "framing": "firefly",
    "firefly": {"magic": )";
  expect_error(std::string(prefix) + "[1, 2, 3]}}}}}", 2, "servers.a.netport.firefly.magic",
               "expected 4 bytes, got 3");
  expect_error(std::string(prefix) + "[1, 2, 3, 256]}}}}}", 2,
               "servers.a.netport.firefly.magic[3]", "expected a byte 0..255, got 256");
  expect_error(std::string(prefix) + "\"NGBE\"}}}}}", 2, "servers.a.netport.firefly.magic",
               "expected an array of 4 bytes, got a string");
  expect_error(std::string(prefix) + "[1, 2, 3, 4], \"version\": 300}}}}}", 2,
               "servers.a.netport.firefly.version", "expected a byte 0..255, got 300");
}

BOOST_AUTO_TEST_CASE(links_need_a_secret_of_at_least_16_characters) {
  expect_error(R"({
  "servers": {
    "gate": {"rootport": 17100},
    "game1": {"remoteport": [{"rootname": "gate"}]}
  }
})", 1, "secret",
               "missing; links (servers.gate.rootport) authenticate with a shared secret: "
               "expected a string of at least 16 characters");
  expect_error(R"({
  "secret": "short",
  "servers": {"a": {}}
})", 2, "secret", "expected at least 16 characters, got 5");
  expect_error(R"({"secret": 1234567890123456789, "servers": {"a": {}}})", 1, "secret",
               "expected a string, got a number");
  // Without links no secret is needed.
  BOOST_TEST(parse_ok(R"({"servers": {"a": {"netport": 17200}}})").secret.empty());
}

BOOST_AUTO_TEST_CASE(a_config_without_servers_is_refused) {
  expect_error(R"({"secret": "a-secret-of-enough-length"})", 1, "servers",
               "missing; expected an object of servers by name");
  expect_error("{\n  \"servers\": {}\n}", 2, "servers",
               "expected at least one server, got an empty object");
}

BOOST_AUTO_TEST_CASE(db_and_mem_need_their_top_level_sections) {
  expect_error(R"({"servers": {"a": {"db": true}}})", 1, "servers.a.db",
               R"(the server uses the database, but there is no top-level "db" section)");
  expect_error(R"({"servers": {"a": {"mem": true}}})", 1, "servers.a.mem",
               R"(the server uses memcached, but there is no top-level "memcached" section)");
  BOOST_TEST(!parse_ok(R"({"servers": {"a": {"db": false}}})").servers[0].db);
}

BOOST_AUTO_TEST_CASE(server_names_and_types_are_plain_words) {
  expect_error(R"({"servers": {"gate 2": {}}})", 1, R"(servers["gate 2"])",
               R"(expected a server name of 1 to 64 letters, digits, '_' or '-', got "gate 2")");
  expect_error(R"({"servers": {"a": {"type": "game.x"}}})", 1, "servers.a.type",
               R"(expected a server type of 1 to 64 letters, digits, '_' or '-', got "game.x")");
  expect_error(R"({"servers": {"": {}}})", 1, R"(servers[""])",
               R"(expected a server name of 1 to 64 letters, digits, '_' or '-', got "")");
}

BOOST_AUTO_TEST_CASE(a_firefly_name_key_must_repeat_the_entry_s_key) {
  BOOST_TEST(parse_ok(R"({"servers": {"game1": {"name": "game1"}}})").servers[0].name == "game1");
  expect_error(R"({"servers": {"game1": {"name": "game2"}}})", 1, "servers.game1.name",
               R"(expected "game1" (the server's key), got "game2")");
}

BOOST_AUTO_TEST_CASE(limits_and_timeouts_are_range_checked) {
  expect_error(R"({"servers": {"a": {"limits": {"max_frame": 0}}}})", 1,
               "servers.a.limits.max_frame", "expected a size in bytes 1..1073741824, got 0");
  expect_error(R"({"servers": {"a": {"limits": {"max_in_flight": 3000000000}}}})", 1,
               "servers.a.limits.max_in_flight",
               "expected a whole number 1..2147483647, got 3000000000");
  expect_error(R"({"servers": {"a": {"limits": {"max_request_rate": -1}}}})", 1,
               "servers.a.limits.max_request_rate",
               "expected requests per second, 0 (unlimited) or more, got -1");
  expect_error(R"({"servers": {"a": {"limits": {"request_burst": 0.5}}}})", 1,
               "servers.a.limits.request_burst", "expected a number of requests, 1 or more, got 0.5");
  expect_error(R"({"defaults": {"call_timeout_ms": 0}, "servers": {"a": {}}})", 1,
               "defaults.call_timeout_ms",
               "expected a whole number of milliseconds 1..2147483647, got 0");
  expect_error(R"({"servers": {"a": {"netport": {"port": 1, "idle_timeout_ms": 1e10}}}})", 1,
               "servers.a.netport.idle_timeout_ms",
               "expected a whole number of milliseconds 1..2147483647, got 10000000000");
}

BOOST_AUTO_TEST_CASE(the_overload_budget_is_inherited_field_by_field_and_its_watermarks_are_checked) {
  const auto c = parse_ok(R"({"defaults": {"limits": {"overload": {"max_buffered_bytes": 1e9}}},
    "servers": {"a": {"limits": {"overload": {"low_watermark": 0.5}}}, "b": {}}})");
  BOOST_TEST(c.find("a")->limits.overload.max_buffered_bytes == 1000000000u);  // from defaults
  BOOST_TEST(c.find("a")->limits.overload.low_watermark == 0.5);               // its own
  BOOST_TEST(c.find("a")->limits.overload.high_watermark == 0.9);              // built in
  BOOST_TEST(c.find("b")->limits.overload.low_watermark == 0.75);
  const auto off = parse_ok(R"({"servers": {"a": {"limits": {"overload": {"max_buffered_bytes": 0}}}}})");
  BOOST_TEST(off.servers[0].limits.overload.max_buffered_bytes == 0u);  // no budget

  expect_error(R"({"servers": {"a": {"limits": {"overload": {"max_buffered_bytes": -1}}}}})", 1,
               "servers.a.limits.overload.max_buffered_bytes",
               "expected a size in bytes 0..1099511627776 (0: no budget), got -1");
  expect_error(R"({"servers": {"a": {"limits": {"overload": {"high_watermark": 1.5}}}}})", 1,
               "servers.a.limits.overload.high_watermark",
               "expected a fraction of max_buffered_bytes, 0 < f <= 1, got 1.5");
  expect_error(R"({"servers": {"a": {"limits": {"overload": {"low_watermark": 0}}}}})", 1,
               "servers.a.limits.overload.low_watermark",
               "expected a fraction of max_buffered_bytes, 0 < f <= 1, got 0");
  expect_error(R"({"servers": {"a": {"limits": {"overload": {"low_watermark": 0.95}}}}})", 1,
               "servers.a.limits.overload.low_watermark",
               "low_watermark (0.95) must be below high_watermark (0.9)");
  expect_error(R"({"servers": {"a": {"limits": {"overload": {"high_watermark": 0.5}}}}})", 1,
               "servers.a.limits.overload.high_watermark",
               "low_watermark (0.75) must be below high_watermark (0.5)");
  expect_error(R"({"servers": {"a": {"limits": {"overload": {"max_bytes": 1}}}}})", 1,
               "servers.a.limits.overload.max_bytes",
               "unknown key; expected one of: max_buffered_bytes, high_watermark, low_watermark");
}

// --- the JSON path helper -----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_json_path_prints_keys_indexes_and_quotes_odd_keys) {
  using ember::app::detail::json_path;
  BOOST_TEST(json_path{}.str() == "");
  BOOST_TEST(json_path{}.key("servers").key("game1").key("remoteport").index(0).key("rootname").str() ==
             "servers.game1.remoteport[0].rootname");
  BOOST_TEST(json_path{}.index(2).key("a").str() == "[2].a");
  BOOST_TEST(json_path{}.key("servers").key("a.b").str() == R"(servers["a.b"])");
  BOOST_TEST(json_path{}.key("x").key("say \"hi\"\n").str() == R"(x["say \"hi\"\u000a"])");
}

BOOST_AUTO_TEST_CASE(the_line_of_a_path_follows_it_through_repeated_keys) {
  using ember::app::detail::json_path;
  using ember::app::detail::line_of;
  const std::string text = R"({
  "servers": {
    "a": {"remoteport": [{"rootname": "x"}]},
    "b": {
      "remoteport": [
        {"rootname": "x"},
        {"rootname": "y"}
      ]
    },
    "k\u00e9y": {"app": "m"}
  }
})";
  const json_path b = json_path{}.key("servers").key("b");
  BOOST_TEST(line_of(text, b) == 4u);
  BOOST_TEST(line_of(text, b.key("remoteport").index(1).key("rootname")) == 7u);
  BOOST_TEST(line_of(text, json_path{}.key("servers").key("a").key("remoteport").index(0)) == 3u);
  BOOST_TEST(line_of(text, b.key("missing")) == 4u);  // the object that lacks it
  BOOST_TEST(line_of(text, json_path{}.key("servers").key("k\xc3\xa9y").key("app")) == 10u);
  BOOST_TEST(line_of(text, json_path{}) == 1u);
  BOOST_TEST(line_of("{\"a\": 1, \n\"a\": 2}", json_path{}.key("a"), 1) == 2u);
  BOOST_TEST(line_of("{\"a\": [}", json_path{}.key("a")) == 0u);  // not JSON: unknown
}

BOOST_AUTO_TEST_CASE(the_syntax_checker_points_at_the_first_bad_byte) {
  using ember::app::detail::find_syntax_error;
  BOOST_TEST(find_syntax_error(R"({"a": [1, 2.5e-3, true, null, "x\u00e9\n"]})").offset ==
             std::string_view::npos);
  BOOST_TEST(find_syntax_error("  {\"a\": 01}").offset == 9u);
  BOOST_TEST(find_syntax_error("  {\"a\": 01}").reason == "a number may not start with 0");
  BOOST_TEST(find_syntax_error("{\"a\": \"\\x\"}").reason == "an unknown escape sequence in a string");
  BOOST_TEST(find_syntax_error("{\"a\": \"\\ud800\"}").reason ==
             "a lone UTF-16 surrogate in \\u escape");
  BOOST_TEST(find_syntax_error("{\"a\": \"\t\"}").reason ==
             "a control character inside a string (write it escaped)");
  BOOST_TEST(find_syntax_error(std::string(2000, '[')).reason ==
             "nesting deeper than 1024 arrays and objects");
  BOOST_TEST(find_syntax_error("{\"a\" 1}").reason == "expected ':' after a key");
}

// --- modules: where each gameplay module runs, and its limits (ember/app/module_options.hpp)

namespace {
const std::string two_types = R"({"servers": {"net1": {"type": "net", "netport": 7001},
  "social1": {"type": "social", "netport": 7002}}, "modules": )";
}  // namespace

BOOST_AUTO_TEST_CASE(modules_name_the_server_type_that_serves_them) {
  auto c = parse_ok(two_types + R"({"friends": {"server": "social", "max_friends": 50}}})");
  BOOST_TEST_REQUIRE(c.modules.size() == 1u);
  BOOST_TEST(c.modules.at("friends").server == "social");
  BOOST_TEST(c.modules.at("friends").file == "config.json");
}

BOOST_AUTO_TEST_CASE(a_module_on_a_server_type_that_does_not_exist_is_refused) {
  expect_error(two_types + R"({"friends": {"server": "chat"}}})", 2, "modules.friends.server",
               "no server of type 'chat' (types are: net, social)");
  expect_error(two_types + R"({"friends": {"max_friends": 5}}})", 2, "modules.friends.server",
               "missing; expected the server type that serves the module's commands");
}

BOOST_AUTO_TEST_CASE(module_options_read_limits_and_refuse_bad_or_unknown_keys) {
  auto c = parse_ok(two_types + R"({"friends": {"server": "social", "max_friends": 50,
    "invite_ttl_ms": 1000, "words": ["a", "b"], "public": true}}})");
  ember::app::module_options o(c, "friends");
  BOOST_TEST(o.server() == "social");
  BOOST_TEST(o.count("max_friends", 500, 1, 1000) == 50u);
  BOOST_TEST(o.count("page_size", 100) == 100u);  // absent: the default
  BOOST_TEST(o.duration_ms("invite_ttl_ms", milliseconds(5)).count() == 1000);
  BOOST_TEST(o.texts("words") == (std::vector<std::string>{"a", "b"}));
  BOOST_TEST(o.flag("public", false));
  BOOST_CHECK_NO_THROW(o.done());

  ember::app::module_options range(c, "friends");
  BOOST_CHECK_EXCEPTION(range.count("max_friends", 500, 100, 1000), std::invalid_argument,
                        [](const std::invalid_argument& e) {
                          return std::string(e.what()) ==
                                 "config.json: modules.friends.max_friends: expected a whole "
                                 "number 100..1000, got 50";
                        });
  auto typo = parse_ok(two_types + R"({"friends": {"server": "social", "max_freinds": 5}}})");
  ember::app::module_options t(typo, "friends");
  t.count("max_friends", 500);
  BOOST_CHECK_EXCEPTION(t.done(), std::invalid_argument, [](const std::invalid_argument& e) {
    return std::string(e.what()).starts_with(
        "config.json: modules.friends.max_freinds: unknown key (did you mean 'max_friends'?)");
  });
  ember::app::module_options none(c, "wallet");  // no entry: defaults, nothing to refuse
  BOOST_TEST(none.count("max_balance", 7) == 7u);
  BOOST_CHECK_NO_THROW(none.done());
}
