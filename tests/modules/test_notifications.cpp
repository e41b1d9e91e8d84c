// The notifications module (docs/modules/notifications.md): every rule on real memcached and on
// SQLite and PostgreSQL. (Through real servers and clients, with the friends module that sends
// friend requests as notifications: tests/modules/test_friends.cpp.)
#define BOOST_TEST_MODULE notifications
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include <asio/io_context.hpp>

#include "ember/modules/notifications/notifications.hpp"
#include "support/data_env.hpp"
#include "support/error_of.hpp"
#include "support/test_players.hpp"
#include "support/run.hpp"

namespace en = ember_notifications;
namespace nt = ember::modules::notifications;
using ember::test::run;
using namespace std::chrono_literals;

using ember::test::error_of;

namespace {

/// One process's module over a data_env node.
struct world {
  world(ember::test::data_env& e, asio::io_context& io, nt::options no = {})
      : n(e, io), notes(n.store, pushes, bus, no) {
    n.open();
  }
  ember::test::data_env::node n;
  ember::test::test_players pushes;
  ember::modules::event_bus bus;
  nt::service notes;
};

template <class E>
std::uint16_t code(E e) {
  return static_cast<std::uint16_t>(e);
}

constexpr std::uint64_t ann = 11, bob = 22;

}  // namespace

// ---------------------------------------------------------------------------------------------
// Notifications

EMBER_ON_BOTH_DATABASES(a_persistent_notification_is_stored_pushed_at_once_and_listed) {
  asio::io_context io;
  world w(e, io);
  std::vector<en::notification_sent> sent_events;
  auto sub = w.bus.subscribe<en::notification_sent>([&](const en::notification_sent& s) { sent_events.push_back(s); });
  std::int64_t id = 0;
  run(io, [&]() -> asio::awaitable<void> {
    nt::outgoing n;
    n.code = 1001;
    n.subject = "Raid tonight ⚔";
    n.content = R"({"at":"20:00"})";
    n.sender = bob;
    auto sent = co_await w.notes.send(ann, n);
    id = sent.id;
    BOOST_TEST(sent.id > 0);
    BOOST_TEST(sent.persistent);
    auto pushed = w.pushes.to<en::notified>(ann);
    BOOST_REQUIRE(pushed.size() == 1u);
    BOOST_TEST((pushed[0].notification == sent));
    auto inbox = co_await w.notes.list(ann, 0, "");
    BOOST_REQUIRE(inbox.notifications.size() == 1u);
    BOOST_TEST((inbox.notifications[0] == sent));
    co_await w.n.store.stop();
  }());
  BOOST_REQUIRE(sent_events.size() == 1u);
  BOOST_TEST((sent_events[0] == en::notification_sent(ann, id, 1001, bob)));
  BOOST_TEST(e.scalar("SELECT code FROM notifications_item WHERE \"user\" = 11") == 1001);
}

EMBER_ON_BOTH_DATABASES(a_transient_notification_is_only_pushed) {
  asio::io_context io;
  world w(e, io);
  run(io, [&]() -> asio::awaitable<void> {
    nt::outgoing n;
    n.code = 2000;
    n.subject = "match found";
    n.persistent = false;
    auto sent = co_await w.notes.send(ann, n);
    BOOST_TEST(sent.id == 0);
    BOOST_TEST(!sent.persistent);
    BOOST_TEST(sent.content == "{}");
    BOOST_TEST(w.pushes.to<en::notified>(ann).size() == 1u);
    BOOST_TEST((co_await w.notes.list(ann, 0, "")).notifications.empty());
  }());
}

EMBER_ON_BOTH_DATABASES(codes_below_1000_are_the_system_s) {
  asio::io_context io;
  world w(e, io);
  run(io, [&]() -> asio::awaitable<void> {
    nt::outgoing n;
    n.subject = "you are banned";
    for (std::int32_t c : {0, 1, 999, -5}) {
      n.code = c;
      BOOST_TEST(co_await error_of([&] { return w.notes.send(ann, n); }) == code(en::error::reserved_code));
    }
    auto sys = co_await w.notes.send_system(ann, en::system_code::banned, n);
    BOOST_TEST(sys.code == 3);
    BOOST_TEST((co_await w.notes.list(ann, 0, "")).notifications.size() == 1u);
  }());
}

EMBER_ON_BOTH_DATABASES(a_send_with_an_operation_id_applies_once) {
  asio::io_context io;
  world w(e, io);
  run(io, [&]() -> asio::awaitable<void> {
    nt::outgoing n;
    n.code = 1500;
    n.subject = "reward";
    n.op = "season-3-reward";
    auto first = co_await w.notes.send(ann, n);
    auto again = co_await w.notes.send(ann, n);  // a retry
    BOOST_TEST((first == again));
    BOOST_TEST((co_await w.notes.list(ann, 0, "")).notifications.size() == 1u);
    BOOST_TEST(w.pushes.to<en::notified>(ann).size() == 1u);
    auto other = co_await w.notes.send(bob, n);  // the same op id for another player is another send
    BOOST_TEST(other.id != first.id);
  }());
}

EMBER_ON_BOTH_DATABASES(beyond_the_cap_the_oldest_notification_goes) {
  asio::io_context io;
  nt::options o;
  o.max_stored = 3;
  world w(e, io, o);
  run(io, [&]() -> asio::awaitable<void> {
    nt::outgoing n;
    n.code = 1000;
    for (int i = 0; i < 5; ++i) {
      n.subject = "n" + std::to_string(i);
      co_await w.notes.send(ann, n);
      co_await ember::test::sleep(2ms);  // distinct creation times
    }
    auto inbox = co_await w.notes.list(ann, 0, "");
    BOOST_REQUIRE(inbox.notifications.size() == 3u);
    BOOST_TEST(inbox.notifications[0].subject == "n2");
    BOOST_TEST(inbox.notifications[2].subject == "n4");
  }());
}

EMBER_ON_BOTH_DATABASES(notifications_are_listed_with_a_cursor_that_later_shows_only_newer_ones) {
  asio::io_context io;
  nt::options o;
  o.max_page = 2;
  world w(e, io, o);
  run(io, [&]() -> asio::awaitable<void> {
    nt::outgoing n;
    n.code = 1000;
    for (int i = 0; i < 5; ++i) {
      n.subject = "n" + std::to_string(i);
      co_await w.notes.send(ann, n);
      co_await ember::test::sleep(2ms);
    }
    std::vector<std::string> seen;
    std::string cursor;
    for (bool more = true; more;) {
      auto p = co_await w.notes.list(ann, 50, cursor);  // capped at 2
      BOOST_TEST(p.notifications.size() <= 2u);
      for (const auto& x : p.notifications) seen.push_back(x.subject);
      cursor = p.cursor;
      more = p.more;
    }
    BOOST_TEST(seen == (std::vector<std::string>{"n0", "n1", "n2", "n3", "n4"}), boost::test_tools::per_element());
    auto nothing = co_await w.notes.list(ann, 0, cursor);
    BOOST_TEST(nothing.notifications.empty());
    BOOST_TEST(nothing.cursor == cursor);
    n.subject = "n5";
    co_await w.notes.send(ann, n);
    auto fresh = co_await w.notes.list(ann, 0, cursor);
    BOOST_REQUIRE(fresh.notifications.size() == 1u);
    BOOST_TEST(fresh.notifications[0].subject == "n5");
    BOOST_TEST(co_await error_of([&] { return w.notes.list(ann, 0, "n.12"); }) == code(en::error::bad_cursor));
    BOOST_TEST(co_await error_of([&] { return w.notes.list(ann, 0, "f.9.0.1.2"); }) == code(en::error::bad_cursor));
  }());
}

EMBER_ON_BOTH_DATABASES(a_player_deletes_only_their_own_notifications) {
  asio::io_context io;
  nt::options o;
  o.max_delete_ids = 3;
  world w(e, io, o);
  run(io, [&]() -> asio::awaitable<void> {
    nt::outgoing n;
    n.code = 1000;
    n.subject = "hi";
    auto a1 = co_await w.notes.send(ann, n);
    auto a2 = co_await w.notes.send(ann, n);
    auto b1 = co_await w.notes.send(bob, n);
    std::vector<std::int64_t> mixed{a1.id, b1.id};
    BOOST_TEST(co_await error_of([&] { return w.notes.remove(ann, mixed); }) == code(en::error::unknown_notification));
    std::vector<std::int64_t> unknown{a1.id, 12345};
    BOOST_TEST(co_await error_of([&] { return w.notes.remove(ann, unknown); }) == code(en::error::unknown_notification));
    BOOST_TEST((co_await w.notes.list(ann, 0, "")).notifications.size() == 2u);  // nothing deleted
    std::vector<std::int64_t> many{a1.id, a2.id, 1, 2};
    BOOST_TEST(co_await error_of([&] { return w.notes.remove(ann, many); }) == code(en::error::too_many_ids));
    std::vector<std::int64_t> mine{a1.id, a2.id, a1.id};
    BOOST_TEST(co_await w.notes.remove(ann, mine) == 2u);
    BOOST_TEST((co_await w.notes.list(ann, 0, "")).notifications.empty());
    BOOST_TEST((co_await w.notes.list(bob, 0, "")).notifications.size() == 1u);
  }());
}

EMBER_ON_BOTH_DATABASES(bad_subjects_and_contents_are_refused) {
  asio::io_context io;
  world w(e, io);
  run(io, [&]() -> asio::awaitable<void> {
    auto with = [&](std::string subject, std::string content) {
      nt::outgoing n;
      n.code = 1000;
      n.subject = std::move(subject);
      n.content = std::move(content);
      return [&w, n] { return w.notes.send(ann, n); };
    };
    BOOST_TEST(co_await error_of(with("", "")) == code(en::error::bad_subject));
    BOOST_TEST(co_await error_of(with(std::string(201, 'x'), "")) == code(en::error::bad_subject));
    BOOST_TEST(co_await error_of(with("\xc3\x28", "")) == code(en::error::bad_subject));
    BOOST_TEST(co_await error_of(with("a\x01", "")) == code(en::error::bad_subject));
    BOOST_TEST(co_await error_of(with("ok", "[1,2]")) == code(en::error::bad_content));
    BOOST_TEST(co_await error_of(with("ok", "{\"a\":")) == code(en::error::bad_content));
    BOOST_TEST(co_await error_of(with("ok", "{\"a\":\"\xff\"}")) == code(en::error::bad_content));
    BOOST_TEST(co_await error_of(with("ok", "{\"a\":\"" + std::string(5000, 'x') + "\"}")) == code(en::error::bad_content));
    nt::outgoing n;
    n.code = 1000;
    n.subject = "ok";
    BOOST_TEST(co_await error_of([&] { return w.notes.send(0, n); }) == code(en::error::bad_user));
    BOOST_TEST(w.pushes.pushes.empty());
    BOOST_TEST((co_await w.notes.list(ann, 0, "")).notifications.empty());
  }());
}

