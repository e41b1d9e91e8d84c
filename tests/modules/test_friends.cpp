// The friends and notifications modules (docs/modules/friends.md, notifications.md): every rule
// on real memcached and on SQLite and PostgreSQL, then through real net::servers and clients on
// 127.0.0.1 — two client-facing servers in one process sharing the data layer, a push reaching
// a player on either (a `players` that asks both servers, as cluster_players asks every gateway).
#define BOOST_TEST_MODULE friends and notifications
#include <boost/test/unit_test.hpp>

#include <charconv>
#include <memory>
#include <string>
#include <vector>

#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include "ember/modules/friends/detail/ember_friends_client.hpp"
#include "ember/modules/friends/friends.hpp"
#include "ember/modules/notifications/detail/ember_notifications_client.hpp"
#include "ember/modules/notifications/notifications.hpp"
#include "ember/net/client.hpp"
#include "ember/net/server.hpp"
#include "support/data_env.hpp"
#include "support/error_of.hpp"
#include "support/test_players.hpp"
#include "support/run.hpp"

namespace ef = ember_friends;
namespace en = ember_notifications;
namespace fr = ember::modules::friends;
namespace nt = ember::modules::notifications;
using ef::friend_state;
using ember::test::run;
using ember::test::wait_until;
using namespace std::chrono_literals;

using ember::test::error_of;

namespace {

/// One process's modules over a data_env node.
struct world {
  world(ember::test::data_env& e, asio::io_context& io, fr::options fo = {}, nt::options no = {},
        const std::string& journal = "node.journal")
      : n(e, io, journal), notes(n.store, pushes, bus, no), friends(n.store, pushes, bus, notes, fo) {
    n.open();
  }
  ember::test::data_env::node n;
  ember::test::test_players pushes;
  ember::modules::event_bus bus;
  nt::service notes;
  fr::service friends;
};

template <class E>
std::uint16_t code(E e) {
  return static_cast<std::uint16_t>(e);
}

constexpr std::uint64_t ann = 11, bob = 22, cid = 33, dan = 44;

}  // namespace

// ---------------------------------------------------------------------------------------------
// Friends: the states and their changes

EMBER_ON_BOTH_DATABASES(an_invite_is_sent_on_one_side_received_on_the_other_and_notified) {
  asio::io_context io;
  world w(e, io);
  std::vector<ef::friend_added> added;
  auto sub = w.bus.subscribe<ef::friend_added>([&](const ef::friend_added& a) { added.push_back(a); });
  run(io, [&]() -> asio::awaitable<void> {
    BOOST_TEST((co_await w.friends.add(ann, bob) == friend_state::invite_sent));
    BOOST_TEST((co_await w.friends.state(ann, bob) == friend_state::invite_sent));
    BOOST_TEST((co_await w.friends.state(bob, ann) == friend_state::invite_received));
    auto inbox = co_await w.notes.list(bob, 0, "");
    BOOST_REQUIRE(inbox.notifications.size() == 1u);
    BOOST_TEST(inbox.notifications[0].code == static_cast<std::int32_t>(en::system_code::friend_request));
    BOOST_TEST(inbox.notifications[0].sender == ann);
    BOOST_TEST(inbox.notifications[0].content == "{\"user\":\"11\"}");
    BOOST_TEST(w.pushes.to<en::notified>(bob).size() == 1u);
    BOOST_TEST((co_await w.notes.list(ann, 0, "")).notifications.empty());
    co_await w.n.store.stop();
  }());
  BOOST_REQUIRE(added.size() == 1u);
  BOOST_TEST((added[0] == ef::friend_added(ann, bob, friend_state::invite_sent)));
  // both edges reached the database, in one transaction
  BOOST_TEST(e.scalar("SELECT state FROM friends_edge WHERE id = '11:22'") == 1);
  BOOST_TEST(e.scalar("SELECT state FROM friends_edge WHERE id = '22:11'") == 2);
  BOOST_TEST(e.scalar("SELECT edges FROM friends_player WHERE \"user\" = 22") == 1);
}

EMBER_ON_BOTH_DATABASES(adding_a_player_who_invited_you_makes_you_friends) {
  asio::io_context io;
  world w(e, io);
  run(io, [&]() -> asio::awaitable<void> {
    co_await w.friends.add(ann, bob);
    BOOST_TEST((co_await w.friends.add(bob, ann) == friend_state::friend_));
    BOOST_TEST((co_await w.friends.state(ann, bob) == friend_state::friend_));
    BOOST_TEST((co_await w.friends.state(bob, ann) == friend_state::friend_));
    auto inbox = co_await w.notes.list(ann, 0, "");
    BOOST_REQUIRE(inbox.notifications.size() == 1u);
    BOOST_TEST(inbox.notifications[0].code == static_cast<std::int32_t>(en::system_code::friend_accepted));
    BOOST_TEST(inbox.notifications[0].sender == bob);
  }());
}

EMBER_ON_BOTH_DATABASES(adding_again_changes_nothing_and_notifies_once) {
  asio::io_context io;
  world w(e, io);
  int events = 0;
  auto sub = w.bus.subscribe<ef::friend_added>([&](const ef::friend_added&) { ++events; });
  run(io, [&]() -> asio::awaitable<void> {
    co_await w.friends.add(ann, bob);
    BOOST_TEST((co_await w.friends.add(ann, bob) == friend_state::invite_sent));  // a replay
    BOOST_TEST((co_await w.notes.list(bob, 0, "")).notifications.size() == 1u);
    co_await w.friends.add(bob, ann);
    BOOST_TEST((co_await w.friends.add(bob, ann) == friend_state::friend_));
    BOOST_TEST((co_await w.friends.add(ann, bob) == friend_state::friend_));
    BOOST_TEST((co_await w.notes.list(ann, 0, "")).notifications.size() == 1u);
  }());
  BOOST_TEST(events == 2);
}

EMBER_ON_BOTH_DATABASES(blocking_is_one_sided_and_refuses_their_invites) {
  asio::io_context io;
  world w(e, io);
  std::vector<ef::friend_blocked> blocked;
  auto sub = w.bus.subscribe<ef::friend_blocked>([&](const ef::friend_blocked& b) { blocked.push_back(b); });
  run(io, [&]() -> asio::awaitable<void> {
    co_await w.friends.add(bob, ann);  // bob's invite goes when ann blocks him
    co_await w.friends.block(ann, bob);
    BOOST_TEST((co_await w.friends.state(ann, bob) == friend_state::blocked));
    BOOST_TEST((co_await w.friends.state(bob, ann) == friend_state::none));
    BOOST_TEST(co_await error_of([&] { return w.friends.add(bob, ann); }) == code(ef::error::invite_refused));
    BOOST_TEST(co_await error_of([&] { return w.friends.add(ann, bob); }) == code(ef::error::you_blocked));
    BOOST_TEST((co_await w.friends.state(ann, bob) == friend_state::blocked));
    // bob may block ann too: each block is its own
    co_await w.friends.block(bob, ann);
    BOOST_TEST((co_await w.friends.state(ann, bob) == friend_state::blocked));
    BOOST_TEST((co_await w.friends.state(bob, ann) == friend_state::blocked));
    // friends are unfriended by a block
    co_await w.friends.add(cid, ann);
    co_await w.friends.add(ann, cid);
    co_await w.friends.block(cid, ann);
    BOOST_TEST((co_await w.friends.state(ann, cid) == friend_state::none));
    auto counts = co_await w.friends.list(ann, std::nullopt, 0, "");
    BOOST_TEST(counts.friends.size() == 1u);  // ann's block of bob
  }());
  BOOST_TEST(blocked.size() == 3u);
}

EMBER_ON_BOTH_DATABASES(removing_clears_both_sides_but_keeps_a_block) {
  asio::io_context io;
  world w(e, io);
  run(io, [&]() -> asio::awaitable<void> {
    co_await w.friends.add(ann, bob);
    co_await w.friends.add(bob, ann);
    BOOST_TEST(co_await w.friends.remove(ann, bob));
    BOOST_TEST((co_await w.friends.state(ann, bob) == friend_state::none));
    BOOST_TEST((co_await w.friends.state(bob, ann) == friend_state::none));
    BOOST_TEST(!co_await w.friends.remove(ann, bob));  // nothing left: a replay changes nothing
    // an invite is withdrawn (or declined) the same way
    co_await w.friends.add(ann, cid);
    BOOST_TEST(co_await w.friends.remove(cid, ann));
    BOOST_TEST((co_await w.friends.state(ann, cid) == friend_state::none));
    // cid blocks ann: ann's remove clears nothing of cid's
    co_await w.friends.block(cid, ann);
    BOOST_TEST(!co_await w.friends.remove(ann, cid));
    BOOST_TEST((co_await w.friends.state(cid, ann) == friend_state::blocked));
    // cid's remove is an unblock; then invites work again
    BOOST_TEST(co_await w.friends.remove(cid, ann));
    BOOST_TEST((co_await w.friends.add(ann, cid) == friend_state::invite_sent));
    co_await w.n.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT edges FROM friends_player WHERE \"user\" = 11") == 1);  // ann's invite to cid
  BOOST_TEST(e.scalar("SELECT edges FROM friends_player WHERE \"user\" = 22") == 0);
}

EMBER_ON_BOTH_DATABASES(the_cap_per_player_refuses_a_new_edge_on_either_side) {
  asio::io_context io;
  fr::options o;
  o.max_edges = 2;
  world w(e, io, o);
  run(io, [&]() -> asio::awaitable<void> {
    co_await w.friends.add(ann, bob);
    co_await w.friends.add(cid, ann);  // ann: 2 edges (sent, received)
    BOOST_TEST(co_await error_of([&] { return w.friends.add(ann, dan); }) == code(ef::error::list_full));
    BOOST_TEST(co_await error_of([&] { return w.friends.add(dan, ann); }) == code(ef::error::their_list_full));
    BOOST_TEST(co_await error_of([&] { return w.friends.block(ann, dan); }) == code(ef::error::list_full));
    BOOST_TEST((co_await w.friends.state(dan, ann) == friend_state::none));  // nothing half done
    // accepting an invite adds no edge: allowed at the cap
    BOOST_TEST((co_await w.friends.add(ann, cid) == friend_state::friend_));
    // a removal frees a place
    co_await w.friends.remove(ann, bob);
    BOOST_TEST((co_await w.friends.add(dan, ann) == friend_state::invite_sent));
  }());
}

EMBER_ON_BOTH_DATABASES(concurrent_invites_of_each_other_end_as_friends_on_both_sides) {
  asio::io_context io;
  world w(e, io);
  run(io, [&]() -> asio::awaitable<void> {
    int done = 0;
    for (auto who : {std::pair{ann, bob}, std::pair{bob, ann}})
      asio::co_spawn(io, [&, a = who.first, b = who.second]() -> asio::awaitable<void> {
        co_await w.friends.add(a, b);
        ++done;
      }, asio::detached);
    BOOST_REQUIRE(co_await wait_until([&] { return done == 2; }));
    // whichever ran first invited; the second accepted
    BOOST_TEST((co_await w.friends.state(ann, bob) == friend_state::friend_));
    BOOST_TEST((co_await w.friends.state(bob, ann) == friend_state::friend_));
    co_await w.n.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT SUM(edges) FROM friends_player") == 2);
}

EMBER_ON_BOTH_DATABASES(bad_ids_are_refused) {
  asio::io_context io;
  world w(e, io);
  run(io, [&]() -> asio::awaitable<void> {
    BOOST_TEST(co_await error_of([&] { return w.friends.add(ann, ann); }) == code(ef::error::self));
    BOOST_TEST(co_await error_of([&] { return w.friends.add(ann, 0); }) == code(ef::error::bad_user));
    BOOST_TEST(co_await error_of([&] { return w.friends.block(ann, 0); }) == code(ef::error::bad_user));
  }());
}

EMBER_ON_BOTH_DATABASES(the_game_s_hook_refuses_unknown_players) {
  asio::io_context io;
  ember::test::data_env::node n(e, io);
  ember::test::test_players pushes;
  ember::modules::event_bus bus;
  nt::service notes(n.store, pushes, bus);
  fr::hooks h;
  h.user_exists = [](std::uint64_t u) -> asio::awaitable<bool> { co_return u < 1000; };
  fr::service friends(n.store, pushes, bus, notes, {}, h);
  n.open();
  run(io, [&]() -> asio::awaitable<void> {
    BOOST_TEST(co_await error_of([&] { return friends.add(ann, 5000); }) == code(ef::error::bad_user));
    BOOST_TEST((co_await friends.add(ann, 500) == friend_state::invite_sent));
  }());
}

// ---------------------------------------------------------------------------------------------
// Friends: lists

EMBER_ON_BOTH_DATABASES(lists_are_filtered_by_state_and_paged_by_a_cursor) {
  asio::io_context io;
  fr::options o;
  o.max_page = 3;
  world w(e, io, o);
  run(io, [&]() -> asio::awaitable<void> {
    for (std::uint64_t u = 100; u < 105; ++u) co_await w.friends.add(ann, u);  // 5 sent
    for (std::uint64_t u = 200; u < 202; ++u) {                               // 2 friends
      co_await w.friends.add(u, ann);
      co_await w.friends.add(ann, u);
    }
    co_await w.friends.add(300, ann);  // 1 received
    co_await w.friends.block(ann, 400);
    // all, in pages of 2: friends first (state 0), then sent, received, blocked
    std::vector<ef::friend_entry> all;
    std::string cursor;
    int pages = 0;
    do {
      auto p = co_await w.friends.list(ann, std::nullopt, 2, cursor);
      BOOST_TEST(p.friends.size() <= 2u);
      all.insert(all.end(), p.friends.begin(), p.friends.end());
      cursor = p.cursor;
      ++pages;
    } while (!cursor.empty() && pages < 20);
    BOOST_TEST(pages == 5);
    BOOST_REQUIRE(all.size() == 9u);
    BOOST_TEST((all[0].state == friend_state::friend_ && all[1].state == friend_state::friend_));
    BOOST_TEST((all[2].state == friend_state::invite_sent && all[6].state == friend_state::invite_sent));
    BOOST_TEST((all[7].state == friend_state::invite_received && all[7].user == 300u));
    BOOST_TEST((all[8].state == friend_state::blocked && all[8].user == 400u));
    // one state only; the page size is capped (3 of 100 asked)
    auto sent = co_await w.friends.list(ann, friend_state::invite_sent, 100, "");
    BOOST_TEST(sent.friends.size() == 3u);
    for (const auto& f : sent.friends) BOOST_TEST((f.state == friend_state::invite_sent));
    auto rest = co_await w.friends.list(ann, friend_state::invite_sent, 100, sent.cursor);
    BOOST_TEST(rest.friends.size() == 2u);
    BOOST_TEST(rest.cursor.empty());
    BOOST_TEST((rest.friends[0].user != sent.friends[2].user));
    // a cursor of another filter, and garbage, are refused
    BOOST_TEST(co_await error_of([&] { return w.friends.list(ann, friend_state::friend_, 2, sent.cursor); }) ==
               code(ef::error::bad_cursor));
    BOOST_TEST(co_await error_of([&] { return w.friends.list(ann, std::nullopt, 2, "f.9.x"); }) ==
               code(ef::error::bad_cursor));
    BOOST_TEST(co_await error_of([&] { return w.friends.list(ann, std::nullopt, 2, "\xff\xfe"); }) ==
               code(ef::error::bad_cursor));
  }());
}

// ---------------------------------------------------------------------------------------------
// Friends: online status

EMBER_ON_BOTH_DATABASES(a_friend_s_online_status_is_pushed_to_friends_when_it_changes) {
  asio::io_context io;
  world w(e, io);
  run(io, [&]() -> asio::awaitable<void> {
    co_await w.friends.add(ann, bob);
    co_await w.friends.add(bob, ann);
    co_await w.friends.add(ann, cid);  // only invited: cid hears nothing
    co_await w.friends.online(ann);
    co_await w.friends.online(ann);  // a second session changes nothing
    auto heard = w.pushes.to<ef::friend_status>(bob);
    BOOST_REQUIRE(heard.size() == 1u);
    BOOST_TEST((heard[0] == ef::friend_status(ann, true)));
    BOOST_TEST(w.pushes.to<ef::friend_status>(cid).empty());
    auto list = co_await w.friends.list(bob, friend_state::friend_, 0, "");
    BOOST_REQUIRE(list.friends.size() == 1u);
    BOOST_TEST(list.friends[0].online);
    co_await w.friends.offline(ann);
    BOOST_TEST(w.pushes.to<ef::friend_status>(bob).size() == 1u);  // one session left
    co_await w.friends.offline(ann);
    heard = w.pushes.to<ef::friend_status>(bob);
    BOOST_REQUIRE(heard.size() == 2u);
    BOOST_TEST((heard[1] == ef::friend_status(ann, false)));
    BOOST_TEST(!(co_await w.friends.list(bob, friend_state::friend_, 0, "")).friends[0].online);
    co_await w.friends.offline(ann);  // one too many: stays offline, no push
    BOOST_TEST(w.pushes.to<ef::friend_status>(bob).size() == 2u);
  }());
}

EMBER_ON_BOTH_DATABASES(presence_is_shared_by_every_process) {
  asio::io_context io;
  world one(e, io, {}, {}, "one.journal");
  world two(e, io, {}, {}, "two.journal");
  run(io, [&]() -> asio::awaitable<void> {
    co_await one.friends.add(ann, bob);
    co_await two.friends.add(bob, ann);
    BOOST_TEST((co_await two.friends.state(ann, bob) == friend_state::friend_));
    co_await one.friends.online(ann);  // signed in where process one serves
    BOOST_TEST(co_await two.friends.is_online(ann));
    co_await two.friends.offline(ann);  // the session ended where process two saw it
    BOOST_TEST(!co_await one.friends.is_online(ann));
    BOOST_TEST(two.pushes.to<ef::friend_status>(bob).size() == 1u);
  }());
}

// ---------------------------------------------------------------------------------------------
// Through real servers and clients: two client-facing servers sharing the data layer

namespace {

/// Pushes to a player on whichever of the servers holds their session (what cluster_players
/// does through the gateways).
class both_servers final : public ember::modules::players {
 public:
  void push_body(std::uint64_t user, std::uint16_t push_id, const ember::net::body_writer& body) override {
    for (auto* s : servers)
      if (auto session = s->find_user(user)) session->push_body(push_id, body);
  }
  std::vector<ember::net::server*> servers;
};

/// The test's sign-in (command 1, body: the user id in decimal): binds the session and tells
/// the friends module the player is online. A game does this in its own login.
struct sign_in {
  fr::service* friends;
  static constexpr std::uint16_t id = 1;

  static asio::awaitable<void> run(sign_in* self, ember::net::request_info info, std::uint64_t user) {
    info.owner->bind_user(user);
    co_await self->friends->online(user);
    info.out->reply_body(info, ember::net::body_writer::encoded({}));
  }
  static asio::awaitable<void> start(void* h, const ember::net::request_info& info, ember::bytes_view body,
                                     std::error_code& ec) {
    std::uint64_t user = 0;
    const auto* text = reinterpret_cast<const char*>(body.data());
    if (std::from_chars(text, text + body.size(), user).ec != std::errc()) {
      ec = ember::make_error_code(ember::errc::malformed_body);
      return {};
    }
    return run(static_cast<sign_in*>(h), info, user);
  }
  ember::net::command_entry entry() {
    ember::net::command_entry e;
    e.id = id;
    e.name = "sign_in";
    e.handler = this;
    e.start = &start;
    return e;
  }
};

/// Two net::servers (each its own process's view of the data: node, modules) and a players
/// that reaches both.
struct two_servers {
  struct side {
    side(ember::test::data_env& e, asio::io_context& io, both_servers& players, const std::string& journal)
        : n(e, io, journal), notes(n.store, players, bus), friends(n.store, players, bus, notes),
          friends_commands(friends), notes_commands(notes), login{&friends} {
      n.open();
      ember::net::dispatch_table t;
      ef::register_commands(t, friends_commands);
      en::register_commands(t, notes_commands);
      t.add_entry(login.entry());
      ember::net::server_options o;
      o.name = journal;
      srv = std::make_unique<ember::net::server>(io, o, std::move(t));
      srv->on_session_closed([this, &io](ember::net::session& s) {
        if (auto u = s.user()) asio::co_spawn(io, friends.offline(*u), asio::detached);
      });
      srv->start();
    }
    ember::test::data_env::node n;
    ember::modules::event_bus bus;
    nt::service notes;
    fr::service friends;
    fr::handler friends_commands;
    nt::handler notes_commands;
    sign_in login;
    std::unique_ptr<ember::net::server> srv;
  };

  two_servers(ember::test::data_env& e, asio::io_context& io)
      : one(e, io, players, "one"), two(e, io, players, "two") {
    players.servers = {one.srv.get(), two.srv.get()};
  }
  both_servers players;
  side one, two;
};

asio::awaitable<ember::net::client> signed_in(asio::io_context& io, ember::net::server& srv, std::uint64_t user) {
  ember::net::client c(io.get_executor());
  auto ec = co_await c.connect("127.0.0.1", srv.port());
  BOOST_REQUIRE_MESSAGE(!ec, ec.message());
  const auto text = std::to_string(user);
  auto r = co_await c.call_raw(sign_in::id, ember::as_bytes(std::string_view(text)));
  BOOST_REQUIRE(r);
  co_return c;
}

template <class Outcome>
std::uint16_t status_of(const Outcome& o) {
  return o ? 0 : o.error().status;
}

}  // namespace

EMBER_ON_BOTH_DATABASES(a_friend_on_another_server_hears_the_invite_and_the_status_changes) {
  asio::io_context io;
  two_servers world(e, io);
  run(io, [&]() -> asio::awaitable<void> {
    auto a = co_await signed_in(io, *world.one.srv, ann);
    auto b = co_await signed_in(io, *world.two.srv, bob);
    ef::client_stub ann_friends(a), bob_friends(b);
    en::client_stub bob_notes(b), ann_notes(a);
    std::vector<en::notification> bob_got, ann_got;
    std::vector<ef::friend_status> bob_heard;
    bob_notes.on_notified([&](const en::notified& n) { bob_got.push_back(n.notification); });
    ann_notes.on_notified([&](const en::notified& n) { ann_got.push_back(n.notification); });
    bob_friends.on_friend_status([&](const ef::friend_status& s) { bob_heard.push_back(s); });

    auto invited = co_await ann_friends.add_friend(ef::add_friend_request{bob});
    BOOST_REQUIRE(invited);
    BOOST_TEST((invited->state == friend_state::invite_sent));
    BOOST_REQUIRE(co_await wait_until([&] { return bob_got.size() == 1; }));  // on server two
    BOOST_TEST(bob_got[0].code == static_cast<std::int32_t>(en::system_code::friend_request));

    auto accepted = co_await bob_friends.add_friend(ef::add_friend_request{ann});
    BOOST_REQUIRE(accepted);
    BOOST_TEST((accepted->state == friend_state::friend_));
    BOOST_REQUIRE(co_await wait_until([&] { return ann_got.size() == 1; }));  // on server one
    BOOST_TEST(ann_got[0].code == static_cast<std::int32_t>(en::system_code::friend_accepted));

    const ef::list_friends_request only_friends(friend_state::friend_, 0, "");
    auto list = co_await bob_friends.list_friends(only_friends);
    BOOST_REQUIRE(list);
    BOOST_REQUIRE(list->friends.size() == 1u);
    BOOST_TEST(list->friends[0].user == ann);
    BOOST_TEST(list->friends[0].online);

    // ann leaves server one: bob, on server two, hears it; ann comes back on server two
    a.close();
    BOOST_REQUIRE(co_await wait_until([&] { return bob_heard.size() == 1; }));
    BOOST_TEST((bob_heard[0] == ef::friend_status(ann, false)));
    auto a2 = co_await signed_in(io, *world.two.srv, ann);
    BOOST_REQUIRE(co_await wait_until([&] { return bob_heard.size() == 2; }));
    BOOST_TEST((bob_heard[1] == ef::friend_status(ann, true)));

    const en::list_notifications_request from_start(0, "");
    auto inbox = co_await bob_notes.list_notifications(from_start);
    BOOST_REQUIRE(inbox);
    BOOST_TEST(inbox->notifications.size() == 1u);
    const en::delete_notifications_request that_one(std::vector<std::int64_t>(1, inbox->notifications[0].id));
    auto gone = co_await bob_notes.delete_notifications(that_one);
    BOOST_REQUIRE(gone);
    BOOST_TEST(gone->deleted == 1u);
    a2.close();
    b.close();
  }());
}

EMBER_ON_BOTH_DATABASES(bad_requests_get_typed_errors_and_the_session_and_others_go_on) {
  asio::io_context io;
  two_servers world(e, io);
  run(io, [&]() -> asio::awaitable<void> {
    ember::net::client anon(io.get_executor());
    BOOST_REQUIRE(!co_await anon.connect("127.0.0.1", world.one.srv->port()));
    ef::client_stub anon_friends(anon);
    BOOST_TEST(status_of(co_await anon_friends.add_friend(ef::add_friend_request{bob})) == code(ef::error::not_signed_in));

    auto a = co_await signed_in(io, *world.one.srv, ann);
    auto b = co_await signed_in(io, *world.two.srv, bob);
    ef::client_stub f(a);
    en::client_stub notes(a);
    BOOST_TEST(status_of(co_await f.add_friend(ef::add_friend_request{ann})) == code(ef::error::self));
    BOOST_TEST(status_of(co_await f.add_friend(ef::add_friend_request{0})) == code(ef::error::bad_user));
    // a string that is not UTF-8 never reaches the module: the codec refuses the body
    const ef::list_friends_request not_utf8(std::nullopt, 0, "\xc3\x28garbage");
    BOOST_TEST(status_of(co_await f.list_friends(not_utf8)) == code(ember::status::bad_request));
    const ef::list_friends_request garbage(std::nullopt, 0, "f.9.1.2");
    BOOST_TEST(status_of(co_await f.list_friends(garbage)) == code(ef::error::bad_cursor));
    const ef::list_friends_request no_state(friend_state::none, 0, "");
    BOOST_TEST(status_of(co_await f.list_friends(no_state)) == code(ef::error::bad_state));
    const en::list_notifications_request long_cursor(0, std::string(10000, 'n'));
    BOOST_TEST(status_of(co_await notes.list_notifications(long_cursor)) == code(en::error::bad_cursor));
    const en::delete_notifications_request unknown(std::vector<std::int64_t>(1, 424242));
    BOOST_TEST(status_of(co_await notes.delete_notifications(unknown)) == code(en::error::unknown_notification));
    std::vector<std::int64_t> many(101, 1);
    BOOST_TEST(status_of(co_await notes.delete_notifications(en::delete_notifications_request{many})) ==
               code(en::error::too_many_ids));
    // the same session still works, and so does the other player's
    auto ok = co_await f.add_friend(ef::add_friend_request{bob});
    BOOST_REQUIRE(ok);
    BOOST_TEST((ok->state == friend_state::invite_sent));
    ef::client_stub g(b);
    const ef::list_friends_request all(std::nullopt, 0, "");
    auto list = co_await g.list_friends(all);
    BOOST_REQUIRE(list);
    BOOST_TEST(list->friends.size() == 1u);
    a.close();
    b.close();
    anon.close();
  }());
}
