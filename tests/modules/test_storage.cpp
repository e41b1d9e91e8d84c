// The storage module (docs/modules/storage.md): every rule, over real memcached and SQLite or
// PostgreSQL, and through a real net::server and net::client on 127.0.0.1.
#define BOOST_TEST_MODULE ember storage module
#include <boost/test/unit_test.hpp>

#include "ember/modules/storage/storage.hpp"

#include <memory>
#include <string>
#include <vector>

#include <asio/detached.hpp>

#include "ember/modules/storage/detail/ember_storage_client.hpp"
#include "ember/net/client.hpp"
#include "ember/net/server.hpp"
#include "support/data_env.hpp"
#include "support/error_of.hpp"
#include "support/run.hpp"

namespace st = ember::modules::storage;
namespace es = ember_storage;
using ember::test::run;
using namespace std::chrono_literals;

using ember::test::error_of;

namespace {

/// A node with the storage service on it, and the events it published.
struct world {
  world(ember::test::data_env& e, asio::io_context& io, st::options o = {})
      : node(e, io), svc(node.store, bus, o) {
    node.open();
    sub = bus.subscribe<es::object_written>([this](const es::object_written& w) { written.push_back(w); });
  }
  ember::test::data_env::node node;
  ember::modules::event_bus bus;
  st::service svc;
  ember::modules::subscription sub;
  std::vector<es::object_written> written;
};

es::object_write put(std::string collection, std::string key, std::string value, std::string version = {},
                     es::read_permission r = es::read_permission::owner_read,
                     es::write_permission w = es::write_permission::owner_write, std::uint64_t owner = 0) {
  return es::object_write(std::move(collection), std::move(key), owner, std::move(value), std::move(version), r, w);
}

template <class... T>
std::vector<es::object_write> writes(T... w) { return {std::move(w)...}; }
template <class... T>
std::vector<es::object_id> ids(T... w) { return {std::move(w)...}; }
template <class... T>
std::vector<es::object_delete> dels(T... w) { return {std::move(w)...}; }

std::uint16_t code(es::error e) { return static_cast<std::uint16_t>(e); }

constexpr std::uint64_t ann = 1001, bob = 1002;

}  // namespace

EMBER_ON_BOTH_DATABASES(a_written_object_reads_back_with_its_version_and_permissions) {
  asio::io_context io;
  world w(e, io);
  run(io, [&]() -> asio::awaitable<void> {
    auto acks = co_await w.svc.write(ann, writes(put("saves", "slot1", R"({"level":3})")));
    BOOST_REQUIRE(acks.size() == 1u);
    BOOST_TEST(acks[0].owner == ann);
    BOOST_TEST(acks[0].version == "1");
    auto got = co_await w.svc.read(ann, ids(es::object_id("saves", "slot1", 0)));
    BOOST_REQUIRE(got.size() == 1u);
    BOOST_TEST(got[0].value == R"({"level":3})");
    BOOST_TEST(got[0].version == "1");
    BOOST_TEST((got[0].read == es::read_permission::owner_read));
    BOOST_TEST((got[0].write == es::write_permission::owner_write));
    BOOST_TEST(got[0].updated_ms > 0u);
    acks = co_await w.svc.write(ann, writes(put("saves", "slot1", R"({"level":4})")));
    BOOST_TEST(acks[0].version == "2");
    BOOST_REQUIRE(w.written.size() == 2u);
    BOOST_TEST(w.written[1].version == "2");
    BOOST_TEST(w.written[1].by_user == ann);
    co_await w.node.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT version FROM storage_object WHERE object_key = 'slot1'") == 2);
}

EMBER_ON_BOTH_DATABASES(a_value_must_be_valid_json_within_the_size_cap) {
  asio::io_context io;
  st::options o;
  o.max_value_bytes = 64;
  world w(e, io, o);
  run(io, [&]() -> asio::awaitable<void> {
    BOOST_TEST(co_await error_of([&] { return w.svc.write(ann, writes(put("c", "k", "{not json"))); }) == code(es::error::invalid_value));
    BOOST_TEST(co_await error_of([&] { return w.svc.write(ann, writes(put("c", "k", "\"\xff\""))); }) == code(es::error::invalid_value));
    BOOST_TEST(co_await error_of([&] { return w.svc.write(ann, writes(put("c", "k", ""))); }) == code(es::error::invalid_value));
    const std::string big = "\"" + std::string(70, 'x') + "\"";
    BOOST_TEST(co_await error_of([&] { return w.svc.write(ann, writes(put("c", "k", big))); }) == code(es::error::value_too_large));
    BOOST_TEST((co_await w.svc.write(ann, writes(put("c", "k", "[1,2,3]")))).size() == 1u);
    BOOST_TEST((co_await w.svc.read(ann, ids(es::object_id("c", "k", 0))))[0].value == "[1,2,3]");
  }());
}

EMBER_ON_BOTH_DATABASES(collections_and_keys_must_be_short_utf8_without_control_characters) {
  asio::io_context io;
  world w(e, io);
  run(io, [&]() -> asio::awaitable<void> {
    const auto bad = code(es::error::bad_name);
    BOOST_TEST(co_await error_of([&] { return w.svc.write(ann, writes(put("", "k", "1"))); }) == bad);
    BOOST_TEST(co_await error_of([&] { return w.svc.write(ann, writes(put("c", std::string(129, 'k'), "1"))); }) == bad);
    BOOST_TEST(co_await error_of([&] { return w.svc.write(ann, writes(put("c\x1f", "k", "1"))); }) == bad);
    BOOST_TEST(co_await error_of([&] { return w.svc.write(ann, writes(put("c", "\xc3", "1"))); }) == bad);
    BOOST_TEST(co_await error_of([&] { return w.svc.read(ann, ids(es::object_id("c", "", 0))); }) == bad);
    BOOST_TEST((co_await w.svc.write(ann, writes(put("c", std::string(128, 'k'), "1")))).size() == 1u);
  }());
}

EMBER_ON_BOTH_DATABASES(a_write_with_an_expected_version_applies_only_if_the_version_matches) {
  asio::io_context io;
  world w(e, io);
  run(io, [&]() -> asio::awaitable<void> {
    const auto mismatch = code(es::error::version_mismatch);
    // a specific version of an object that does not exist
    BOOST_TEST(co_await error_of([&] { return w.svc.write(ann, writes(put("c", "k", "1", "1"))); }) == mismatch);
    auto v1 = (co_await w.svc.write(ann, writes(put("c", "k", "1"))))[0].version;
    auto v2 = (co_await w.svc.write(ann, writes(put("c", "k", "2", v1))))[0].version;
    BOOST_TEST(v2 != v1);
    // the old version no longer matches, and the value stays
    BOOST_TEST(co_await error_of([&] { return w.svc.write(ann, writes(put("c", "k", "3", v1))); }) == mismatch);
    BOOST_TEST(co_await error_of([&] { return w.svc.write(ann, writes(put("c", "k", "3", "garbage"))); }) == mismatch);
    BOOST_TEST((co_await w.svc.read(ann, ids(es::object_id("c", "k", 0))))[0].value == "2");
    BOOST_TEST((co_await w.svc.write(ann, writes(put("c", "k", "3", v2))))[0].version == "3");
  }());
}

EMBER_ON_BOTH_DATABASES(a_write_only_if_absent_applies_once) {
  asio::io_context io;
  world w(e, io);
  run(io, [&]() -> asio::awaitable<void> {
    BOOST_TEST((co_await w.svc.write(ann, writes(put("c", "once", "1", "*"))))[0].version == "1");
    BOOST_TEST(co_await error_of([&] { return w.svc.write(ann, writes(put("c", "once", "2", "*"))); }) ==
               code(es::error::version_mismatch));
    BOOST_TEST((co_await w.svc.read(ann, ids(es::object_id("c", "once", 0))))[0].value == "1");
    // after a delete the object is absent again
    co_await w.svc.remove(ann, dels(es::object_delete("c", "once", 0, "")));
    BOOST_TEST((co_await w.svc.write(ann, writes(put("c", "once", "3", "*"))))[0].version == "3");
  }());
}

EMBER_ON_BOTH_DATABASES(only_if_absent_writes_racing_from_two_processes_let_exactly_one_win) {
  asio::io_context io;
  world w1(e, io);
  ember::test::data_env::node n2(e, io, "node2.journal");
  ember::modules::event_bus bus2;
  st::service svc2(n2.store, bus2);
  n2.open();
  int won = 0, lost = 0;
  run(io, [&]() -> asio::awaitable<void> {
    for (int round = 0; round < 10; ++round) {
      const auto key = "race" + std::to_string(round);
      int done = 0;
      auto attempt = [&](st::service& s, std::string value) -> asio::awaitable<void> {
        auto c = co_await error_of([&] { return s.write(ann, writes(put("c", key, value, "*"))); });
        (c == 0 ? won : lost) += c == 0 || c == code(es::error::version_mismatch) ? 1 : 0;
        ++done;
      };
      asio::co_spawn(io, attempt(w1.svc, "1"), asio::detached);
      asio::co_spawn(io, attempt(svc2, "2"), asio::detached);
      co_await ember::test::wait_until([&] { return done == 2; });
    }
  }(), 60s);
  BOOST_TEST(won == 10);
  BOOST_TEST(lost == 10);
}

EMBER_ON_BOTH_DATABASES(a_batch_of_writes_applies_all_or_nothing) {
  asio::io_context io;
  world w(e, io);
  run(io, [&]() -> asio::awaitable<void> {
    co_await w.svc.write(ann, writes(put("c", "a", "1"), put("c", "b", "1")));
    // the third write's version is wrong: none of the three applies, not even the new object
    auto c = co_await error_of([&] {
      return w.svc.write(ann, writes(put("c", "a", "2"), put("c", "new", "2"), put("c", "b", "2", "99")));
    });
    BOOST_TEST(c == code(es::error::version_mismatch));
    auto got = co_await w.svc.read(ann, ids(es::object_id("c", "a", 0), es::object_id("c", "new", 0), es::object_id("c", "b", 0)));
    BOOST_REQUIRE(got.size() == 2u);
    BOOST_TEST(got[0].value == "1");
    BOOST_TEST(got[1].value == "1");
    BOOST_TEST(w.written.size() == 2u);  // the failed batch published nothing
    auto acks = co_await w.svc.write(ann, writes(put("c", "a", "3"), put("c", "new", "3"), put("c", "b", "3", "1")));
    BOOST_TEST(acks.size() == 3u);
    BOOST_TEST(acks[2].version == "2");
    // the same object twice in a batch, and a batch over the cap
    BOOST_TEST(co_await error_of([&] { return w.svc.write(ann, writes(put("c", "a", "4"), put("c", "a", "5"))); }) ==
               code(es::error::duplicate_object));
    std::vector<es::object_write> many;
    for (std::size_t i = 0; i <= w.svc.limits().max_batch; ++i) many.push_back(put("c", "k" + std::to_string(i), "1"));
    BOOST_TEST(co_await error_of([&] { return w.svc.write(ann, many); }) == code(es::error::too_many));
    co_await w.node.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM storage_object WHERE \"exists\" = 1") == 3);
}

EMBER_ON_BOTH_DATABASES(a_batch_deletes_all_or_nothing) {
  asio::io_context io;
  world w(e, io);
  run(io, [&]() -> asio::awaitable<void> {
    auto acks = co_await w.svc.write(ann, writes(put("c", "a", "1"), put("c", "b", "1")));
    BOOST_TEST(co_await error_of([&] {
      return w.svc.remove(ann, dels(es::object_delete("c", "a", 0, ""), es::object_delete("c", "b", 0, "7")));
    }) == code(es::error::version_mismatch));
    BOOST_TEST((co_await w.svc.read(ann, ids(es::object_id("c", "a", 0), es::object_id("c", "b", 0)))).size() == 2u);
    co_await w.svc.remove(ann, dels(es::object_delete("c", "a", 0, ""), es::object_delete("c", "b", 0, acks[1].version),
                                es::object_delete("c", "never", 0, "")));
    BOOST_TEST((co_await w.svc.read(ann, ids(es::object_id("c", "a", 0), es::object_id("c", "b", 0)))).empty());
    BOOST_TEST(w.written.back().version.empty());  // a delete's event has no version
  }());
}

EMBER_ON_BOTH_DATABASES(a_retried_batch_with_the_same_operation_id_applies_once) {
  asio::io_context io;
  world w(e, io);
  run(io, [&]() -> asio::awaitable<void> {
    auto first = co_await w.svc.write(ann, writes(put("c", "counter", "1")), "op-1");
    auto again = co_await w.svc.write(ann, writes(put("c", "counter", "1")), "op-1");
    BOOST_TEST(again[0].version == first[0].version);
    BOOST_TEST((co_await w.svc.read(ann, ids(es::object_id("c", "counter", 0))))[0].version == "1");
    BOOST_TEST(w.written.size() == 1u);
    // another player's op id of the same text is another operation
    BOOST_TEST((co_await w.svc.write(bob, writes(put("c", "counter", "1")), "op-1"))[0].version == "1");
    BOOST_TEST(w.written.size() == 2u);
    co_await w.svc.remove(ann, dels(es::object_delete("c", "counter", 0, "")), "op-2");
    co_await w.svc.write(ann, writes(put("c", "counter", "5")));
    co_await w.svc.remove(ann, dels(es::object_delete("c", "counter", 0, "")), "op-2");  // replayed: no delete
    BOOST_TEST((co_await w.svc.read(ann, ids(es::object_id("c", "counter", 0)))).size() == 1u);
    BOOST_TEST(co_await error_of([&] { return w.svc.write(ann, writes(put("c", "x", "1")), std::string(65, 'o')); }) ==
               code(es::error::bad_op_id));
  }());
}

EMBER_ON_BOTH_DATABASES(concurrent_retries_of_one_operation_from_two_processes_apply_it_once) {
  asio::io_context io;
  world w1(e, io);
  ember::test::data_env::node n2(e, io, "node2.journal");
  ember::modules::event_bus bus2;
  st::service svc2(n2.store, bus2);
  n2.open();
  run(io, [&]() -> asio::awaitable<void> {
    for (int round = 0; round < 5; ++round) {
      const auto op = "op-" + std::to_string(round);
      std::vector<std::string> got;
      auto attempt = [&](st::service& s) -> asio::awaitable<void> {
        auto acks = co_await s.write(ann, writes(put("c", "twin", "1"), put("c", "twin2", "1")), op);
        got.push_back(acks[0].version + "/" + acks[1].version);
      };
      asio::co_spawn(io, attempt(w1.svc), asio::detached);
      asio::co_spawn(io, attempt(svc2), asio::detached);
      co_await ember::test::wait_until([&] { return got.size() == 2u; });
      BOOST_REQUIRE(got.size() == 2u);
      BOOST_TEST(got[0] == got[1]);
      const auto v = std::to_string(round + 1);
      BOOST_TEST(got[0] == v + "/" + v);  // one write per round, not two
    }
  }(), 60s);
}

EMBER_ON_BOTH_DATABASES(reads_respect_read_permissions) {
  asio::io_context io;
  world w(e, io);
  run(io, [&]() -> asio::awaitable<void> {
    co_await w.svc.write(ann, writes(put("c", "secret", "1", "", es::read_permission::no_read),
                               put("c", "mine", "2", "", es::read_permission::owner_read),
                               put("c", "shown", "3", "", es::read_permission::public_read)));
    auto asked = ids(es::object_id("c", "secret", ann), es::object_id("c", "mine", ann),
                                          es::object_id("c", "shown", ann));
    auto own = co_await w.svc.read(ann, asked);
    BOOST_REQUIRE(own.size() == 2u);  // no_read: not even the owner
    BOOST_TEST(own[0].key == "mine");
    auto other = co_await w.svc.read(bob, asked);
    BOOST_REQUIRE(other.size() == 1u);
    BOOST_TEST(other[0].key == "shown");
    BOOST_TEST((co_await w.svc.read(st::server_caller, asked)).size() == 3u);
  }());
}

EMBER_ON_BOTH_DATABASES(players_write_only_owner_writable_objects_of_their_own) {
  asio::io_context io;
  world w(e, io);
  run(io, [&]() -> asio::awaitable<void> {
    const auto denied = code(es::error::permission_denied);
    // another player's object
    BOOST_TEST(co_await error_of([&] {
      return w.svc.write(bob, writes(put("c", "k", "1", "", es::read_permission::owner_read, es::write_permission::owner_write, ann)));
    }) == denied);
    BOOST_TEST(co_await error_of([&] { return w.svc.remove(bob, dels(es::object_delete("c", "k", ann, ""))); }) == denied);
    // a server-only object of the player's own: the server writes it, the player may not
    co_await w.svc.write(st::server_caller, writes(put("c", "rank", "10", "", es::read_permission::public_read,
                                                 es::write_permission::no_write, ann)));
    BOOST_TEST(co_await error_of([&] { return w.svc.write(ann, writes(put("c", "rank", "1"))); }) == denied);
    BOOST_TEST(co_await error_of([&] { return w.svc.remove(ann, dels(es::object_delete("c", "rank", 0, ""))); }) == denied);
    BOOST_TEST((co_await w.svc.read(bob, ids(es::object_id("c", "rank", ann))))[0].value == "10");
    // the server writes any owner's objects
    BOOST_TEST((co_await w.svc.write(st::server_caller, writes(put("c", "rank", "11", "", es::read_permission::public_read,
                                                             es::write_permission::no_write, ann))))[0].version == "2");
  }());
}

EMBER_ON_BOTH_DATABASES(public_objects_are_listed_by_collection_page_by_page) {
  asio::io_context io;
  world w(e, io);
  run(io, [&]() -> asio::awaitable<void> {
    for (std::uint64_t p : {ann, bob})
      for (int i = 0; i < 5; ++i)
        co_await w.svc.write(p, writes(put("board", "k" + std::to_string(i), std::to_string(i), "", es::read_permission::public_read)));
    co_await w.svc.write(ann, writes(put("board", "private", "0")));
    co_await w.svc.write(ann, writes(put("other", "k", "0", "", es::read_permission::public_read)));
    std::vector<std::string> seen;
    std::string cursor;
    int pages = 0;
    do {
      auto [objects, next] = co_await w.svc.list_public("board", 0, cursor, 3);
      BOOST_TEST(objects.size() <= 3u);
      for (auto& o : objects) seen.push_back(o.key + "/" + std::to_string(o.owner));
      cursor = next;
      ++pages;
    } while (!cursor.empty() && pages < 10);
    BOOST_TEST(pages == 4);
    BOOST_REQUIRE(seen.size() == 10u);
    BOOST_TEST(seen[0] == "k0/1001");
    BOOST_TEST(seen[1] == "k0/1002");
    BOOST_TEST(seen[9] == "k4/1002");
    // one owner's public objects; an object made private leaves the listing
    BOOST_TEST((co_await w.svc.list_public("board", bob, "", 0)).first.size() == 5u);
    co_await w.svc.write(bob, writes(put("board", "k0", "0")));
    BOOST_TEST((co_await w.svc.list_public("board", bob, "", 0)).first.size() == 4u);
    BOOST_TEST(co_await error_of([&] { return w.svc.list_public("board", 0, "nonsense", 3); }) == code(es::error::bad_cursor));
  }());
}

EMBER_ON_BOTH_DATABASES(a_collection_holds_at_most_its_cap_of_public_objects) {
  asio::io_context io;
  st::options o;
  o.max_public_per_collection = 3;
  world w(e, io, o);
  run(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 3; ++i)
      co_await w.svc.write(ann, writes(put("pub", "k" + std::to_string(i), "1", "", es::read_permission::public_read)));
    BOOST_TEST(co_await error_of([&] {
      return w.svc.write(bob, writes(put("pub", "x", "1", "", es::read_permission::public_read)));
    }) == code(es::error::collection_full));
    // rewriting a public object is not adding one; private objects are not capped
    co_await w.svc.write(ann, writes(put("pub", "k0", "2", "", es::read_permission::public_read)));
    co_await w.svc.write(bob, writes(put("pub", "x", "1")));
  }());
}

// --- through a real server and client

namespace {

/// A test-only sign-in: binds the session to the user id it is sent (the accounts module is
/// what a game uses; the storage module needs only a bound user).
struct sign_in {
  static constexpr std::uint16_t id = 59999;
  static constexpr std::string_view name = "sign_in";
  static constexpr bool ordered = true;
  static constexpr bool internal = false;
  using request = es::object_id;
  using reply = es::object_id;
};

struct sign_in_handler {
  asio::awaitable<es::object_id> sign(ember::net::session& s, const es::object_id& r) {
    s.bind_user(r.owner);
    co_return r;
  }
};

struct served {
  served(ember::test::data_env& e, asio::io_context& io) : w(e, io), commands(w.svc) {
    ember::net::dispatch_table t;
    es::register_commands(t, commands);
    t.add<sign_in, &sign_in_handler::sign>(signer);
    ember::net::server_options o;
    o.name = "storage-test";
    srv = std::make_unique<ember::net::server>(io, o, std::move(t));
    srv->start();
  }
  asio::awaitable<ember::net::client> client(std::uint64_t user) {
    ember::net::client c(co_await asio::this_coro::executor);
    auto ec = co_await c.connect("127.0.0.1", srv->port());
    BOOST_REQUIRE_MESSAGE(!ec, ec.message());
    if (user) (co_await c.call<sign_in>(es::object_id("", "", user))).value();
    co_return c;
  }
  world w;
  st::handler commands;
  sign_in_handler signer;
  std::unique_ptr<ember::net::server> srv;
};

template <class T>
std::uint16_t status_of(const ember::outcome<T>& r) {
  return r ? 0 : r.error().status;
}

}  // namespace

EMBER_ON_BOTH_DATABASES(clients_write_read_list_and_delete_through_the_server) {
  asio::io_context io;
  served s(e, io);
  run(io, [&]() -> asio::awaitable<void> {
    auto a = co_await s.client(ann);
    auto b = co_await s.client(bob);
    es::client_stub as(a), bs(b);
    auto w = co_await as.write_objects(es::write_objects_request(writes(put("deck", "main", R"({"cards":[1,2]})", "*", es::read_permission::public_read)), "op-9"));
    BOOST_REQUIRE(w);
    BOOST_TEST(w->acks.at(0).version == "1");
    auto r = co_await bs.read_objects(es::read_objects_request(ids(es::object_id("deck", "main", ann))));
    BOOST_REQUIRE(r);
    BOOST_TEST(r->objects.at(0).value == R"({"cards":[1,2]})");
    auto l = co_await bs.list_objects(es::list_objects_request("deck", 0, "", 10));
    BOOST_REQUIRE(l);
    BOOST_TEST(l->objects.size() == 1u);
    BOOST_TEST(l->cursor.empty());
    // bob may not write ann's object; ann's session goes on
    auto denied = co_await bs.write_objects(es::write_objects_request(writes(put("deck", "main", "1", "", es::read_permission::owner_read,
                                                  es::write_permission::owner_write, ann)), ""));
    BOOST_TEST(status_of(denied) == code(es::error::permission_denied));
    auto d = co_await as.delete_objects(es::delete_objects_request(dels(es::object_delete("deck", "main", 0, "1")), ""));
    BOOST_TEST(static_cast<bool>(d));
    BOOST_TEST((co_await bs.read_objects(es::read_objects_request(ids(es::object_id("deck", "main", ann)))))->objects.empty());
  }(), 60s);
}

EMBER_ON_BOTH_DATABASES(bad_input_from_a_client_is_a_typed_error_and_the_session_goes_on) {
  asio::io_context io;
  served s(e, io);
  run(io, [&]() -> asio::awaitable<void> {
    auto anon = co_await s.client(0);
    es::client_stub an(anon);
    BOOST_TEST(status_of(co_await an.read_objects(es::read_objects_request(ids(es::object_id("c", "k", 0))))) ==
               code(es::error::not_signed_in));
    auto a = co_await s.client(ann);
    es::client_stub as(a);
    BOOST_TEST(status_of(co_await as.write_objects(es::write_objects_request(writes(put("c", "k", "{oops")), ""))) == code(es::error::invalid_value));
    // a string that is not UTF-8 is refused by the wire's decoder before the module sees it
    BOOST_TEST(status_of(co_await as.write_objects(es::write_objects_request(writes(put("c", "\xe2\x82", "1")), ""))) != 0);
    BOOST_TEST(status_of(co_await as.write_objects(es::write_objects_request(writes(put("c", std::string(500, 'x'), "1")), ""))) == code(es::error::bad_name));
    BOOST_TEST(status_of(co_await as.write_objects(es::write_objects_request(writes(put("c", "k", "1", "12")), ""))) == code(es::error::version_mismatch));
    BOOST_TEST(status_of(co_await as.list_objects(es::list_objects_request("c", 0, "x", 0))) == code(es::error::bad_cursor));
    std::vector<es::object_id> many(s.w.svc.limits().max_batch + 1, es::object_id("c", "k", 0));
    BOOST_TEST(status_of(co_await as.read_objects(es::read_objects_request(many))) == code(es::error::too_many));
    BOOST_TEST(status_of(co_await as.write_objects(es::write_objects_request(writes(put("c", "k", "1")), ""))) == 0);
  }(), 60s);
}
