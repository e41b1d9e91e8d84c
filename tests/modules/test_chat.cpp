// The chat module (docs/modules/chat.md): every rule, over real memcached and SQLite or
// PostgreSQL, with real net::servers and net::clients on 127.0.0.1.
#define BOOST_TEST_MODULE ember chat module
#include <boost/test/unit_test.hpp>

#include "ember/modules/chat/chat.hpp"

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <asio/detached.hpp>

#include "ember/modules/chat/detail/ember_chat_client.hpp"
#include "ember/net/client.hpp"
#include "ember/net/server.hpp"
#include "support/data_env.hpp"
#include "support/error_of.hpp"
#include "support/run.hpp"

namespace ch = ember::modules::chat;
namespace ec = ember_chat;
using ember::test::run;
using ember::test::wait_until;
using namespace std::chrono_literals;

using ember::test::error_of;

namespace {

constexpr std::uint64_t ann = 11, bob = 12, cid = 13;

std::uint16_t code(ec::error e) { return static_cast<std::uint16_t>(e); }

template <class T>
std::uint16_t status_of(const ember::outcome<T>& r) {
  return r ? 0 : r.error().status;
}

/// A test-only sign-in: binds the session to the user id it is sent (a game uses the accounts
/// module; chat needs only a bound user).
struct sign_in {
  static constexpr std::uint16_t id = 59998;
  static constexpr std::string_view name = "sign_in";
  static constexpr bool ordered = true;
  static constexpr bool internal = false;
  using request = ec::leave_request;  // a message with one string: the user id
  using reply = ec::leave_reply;
};
struct sign_in_handler {
  asio::awaitable<ec::leave_reply> sign(ember::net::session& s, const ec::leave_request& r) {
    s.bind_user(std::stoull(r.channel));
    co_return ec::leave_reply{};
  }
};

/// The client-facing servers of a test: a broadcast reaches a group's sessions on each (as
/// cluster::backend::broadcast reaches every gateway), a push the user's session wherever it is.
struct front_servers final : ch::fanout, ember::modules::players {
  std::vector<ember::net::server*> servers;
  void broadcast_body(std::string_view group, std::uint16_t push_id, const ember::net::body_writer& body) override {
    for (auto* s : servers) s->broadcast_body(group, push_id, body);
  }
  void push_body(std::uint64_t user, std::uint16_t push_id, const ember::net::body_writer& body) override {
    for (auto* s : servers)
      if (auto ses = s->find_user(user)) ses->push_body(push_id, body);
  }
  bool online(std::uint64_t user) const {
    for (auto* s : servers)
      if (s->find_user(user)) return true;
    return false;
  }
};

/// One process: its data node, bus, chat service, and a net::server serving the chat commands.
struct process {
  process(ember::test::data_env& e, asio::io_context& io, front_servers& front, ch::options o, ch::hooks h,
          const std::string& journal = "node.journal")
      : node(e, io, journal), svc(node.store, bus, front, front, std::move(o), std::move(h)), commands(svc) {
    node.open();
    ember::net::dispatch_table t;
    ec::register_commands(t, commands);
    t.add<sign_in, &sign_in_handler::sign>(signer);
    ember::net::server_options so;
    so.name = "chat-test";
    srv = std::make_unique<ember::net::server>(io, so, std::move(t));
    srv->start();
    front.servers.push_back(srv.get());
    lines_sub = bus.subscribe<ec::chat_line>([this](const ec::chat_line& l) { lines.push_back(l); });
    joins_sub = bus.subscribe<ec::channel_joined>([this](const ec::channel_joined& j) { joins.push_back(j); });
  }
  asio::awaitable<ember::net::client> client(std::uint64_t user) {
    ember::net::client c(co_await asio::this_coro::executor);
    auto err = co_await c.connect("127.0.0.1", srv->port());
    BOOST_REQUIRE_MESSAGE(!err, err.message());
    if (user) (co_await c.call<sign_in>(ec::leave_request(std::to_string(user)))).value();
    co_return c;
  }
  ember::test::data_env::node node;
  ember::modules::event_bus bus;
  ch::service svc;
  ch::handler commands;
  sign_in_handler signer;
  std::unique_ptr<ember::net::server> srv;
  std::vector<ec::chat_line> lines;
  std::vector<ec::channel_joined> joins;
  ember::modules::subscription lines_sub, joins_sub;
};

ch::options quick() {
  ch::options o;
  o.burst = 1000;  // tests that are not about the rate say many lines
  o.lines_per_second = 1000;
  return o;
}

/// A client of `p` signed in as `user`, recording the pushes it hears.
struct listener {
  listener() = default;
  std::unique_ptr<ember::net::client> c;
  std::unique_ptr<ec::client_stub> stub;
  std::vector<ec::chat_line> heard;
  std::vector<ec::presence> presences;
};

asio::awaitable<std::unique_ptr<listener>> connect(process& p, std::uint64_t user) {
  auto l = std::make_unique<listener>();
  l->c = std::make_unique<ember::net::client>(co_await p.client(user));
  l->stub = std::make_unique<ec::client_stub>(*l->c);
  auto* raw = l.get();
  l->stub->on_line_said([raw](const ec::line_said& s) { raw->heard.push_back(s.line); });
  l->stub->on_presence([raw](const ec::presence& s) { raw->presences.push_back(s); });
  co_return l;
}

}  // namespace

BOOST_AUTO_TEST_CASE(channel_ids_are_rooms_groups_and_direct_conversations_normalized) {
  auto c = ch::parse_channel("dm:12", 11, 64);
  BOOST_REQUIRE(c);
  BOOST_TEST(c->id == "dm:11:12");
  BOOST_TEST(ch::parse_channel("dm:11", 12, 64)->id == "dm:11:12");
  BOOST_TEST(ch::parse_channel("dm:12:11", 11, 64)->id == "dm:11:12");
  BOOST_TEST(!ch::parse_channel("dm:12:13", 11, 64));  // not a party
  BOOST_TEST(!ch::parse_channel("dm:11", 11, 64));     // oneself
  BOOST_TEST(!ch::parse_channel("dm:x", 11, 64));
  BOOST_TEST(ch::parse_channel("group:007", 11, 64)->id == "group:7");
  BOOST_TEST(!ch::parse_channel("group:", 11, 64));
  BOOST_TEST(ch::parse_channel("room:lobby", 11, 64)->id == "room:lobby");
  BOOST_TEST(!ch::parse_channel("room:", 11, 64));
  BOOST_TEST(!ch::parse_channel("room:" + std::string(65, 'r'), 11, 64));
  BOOST_TEST(!ch::parse_channel("room:a\nb", 11, 64));
  BOOST_TEST(!ch::parse_channel("lobby", 11, 64));
}

BOOST_AUTO_TEST_CASE(the_word_filter_masks_banned_words_ignoring_case) {
  ch::word_filter f;
  f.set({"Darn", "heck"});
  BOOST_TEST(f.mask("DARN it, what the heck, darnation") == "**** it, what the ****, ****ation");
  BOOST_TEST(f.mask("fine words") == "fine words");
}

EMBER_ON_BOTH_DATABASES(lines_are_numbered_per_channel_and_paged_both_ways_by_cursor) {
  asio::io_context io;
  front_servers front;
  process p(e, io, front, quick(), {});
  run(io, [&]() -> asio::awaitable<void> {
    co_await p.svc.join(ann, "room:a");
    co_await p.svc.join(ann, "room:b");
    for (int i = 1; i <= 10; ++i) {
      auto l = co_await p.svc.send(ann, "room:a", "line " + std::to_string(i));
      BOOST_TEST(l.seq == std::uint64_t(i));
    }
    BOOST_TEST((co_await p.svc.send(ann, "room:b", "other")).seq == 1u);  // its own numbering
    // backwards from the newest
    auto [page1, c1] = co_await p.svc.history(ann, "room:a", 0, false, 4);
    BOOST_REQUIRE(page1.size() == 4u);
    BOOST_TEST(page1[0].seq == 10u);
    BOOST_TEST(page1[3].seq == 7u);
    BOOST_TEST(page1[0].text == "line 10");
    BOOST_TEST(c1 == 7u);
    auto [page2, c2] = co_await p.svc.history(ann, "room:a", c1, false, 4);
    BOOST_TEST(page2.front().seq == 6u);
    auto [page3, c3] = co_await p.svc.history(ann, "room:a", c2, false, 4);
    BOOST_REQUIRE(page3.size() == 2u);
    BOOST_TEST(page3.back().seq == 1u);
    BOOST_TEST(c3 == 0u);
    // forwards from a cursor
    auto [f1, n1] = co_await p.svc.history(ann, "room:a", 0, true, 6);
    BOOST_REQUIRE(f1.size() == 6u);
    BOOST_TEST(f1[0].seq == 1u);
    BOOST_TEST(n1 == 6u);
    auto [f2, n2] = co_await p.svc.history(ann, "room:a", n1, true, 6);
    BOOST_REQUIRE(f2.size() == 4u);
    BOOST_TEST(f2.back().seq == 10u);
    BOOST_TEST(n2 == 0u);
    BOOST_TEST((co_await p.svc.history(ann, "room:a", 10, true, 6)).first.empty());
    BOOST_TEST(p.lines.size() == 11u);  // every line is an event
    co_await p.node.store.stop();
  }(), 60s);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM chat_message") == 11);
  BOOST_TEST(e.scalar("SELECT last_seq FROM chat_channel WHERE id = 'room:a'") == 10);
}

EMBER_ON_BOTH_DATABASES(a_channel_keeps_its_latest_lines_up_to_the_cap_and_may_keep_none) {
  asio::io_context io;
  front_servers front;
  auto o = quick();
  o.history_per_channel = 5;
  ch::hooks h;
  h.keeps_history = [](std::string_view c) { return c != "room:ephemeral"; };
  process p(e, io, front, o, h);
  run(io, [&]() -> asio::awaitable<void> {
    co_await p.svc.join(ann, "room:a");
    co_await p.svc.join(ann, "room:ephemeral");
    for (int i = 1; i <= 8; ++i) co_await p.svc.send(ann, "room:a", std::to_string(i));
    auto [lines, next] = co_await p.svc.history(ann, "room:a", 0, false, 100);
    BOOST_REQUIRE(lines.size() == 5u);
    BOOST_TEST(lines.back().seq == 4u);
    BOOST_TEST(next == 0u);
    BOOST_TEST((co_await p.svc.history(ann, "room:a", 0, true, 100)).first.front().seq == 4u);
    auto said = co_await p.svc.send(ann, "room:ephemeral", "gone");
    BOOST_TEST(said.seq == 1u);
    BOOST_TEST((co_await p.svc.history(ann, "room:ephemeral", 0, false, 100)).first.empty());
    co_await p.node.store.stop();
  }(), 60s);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM chat_message") == 5);
}

EMBER_ON_BOTH_DATABASES(joining_and_leaving_is_pushed_to_the_members_and_published) {
  asio::io_context io;
  front_servers front;
  process p(e, io, front, quick(), {});
  run(io, [&]() -> asio::awaitable<void> {
    auto a = co_await connect(p, ann);
    auto b = co_await connect(p, bob);
    BOOST_REQUIRE(co_await a->stub->join(ec::join_request("room:lobby")));
    auto jb = co_await b->stub->join(ec::join_request("room:lobby"));
    BOOST_REQUIRE(jb);
    BOOST_TEST(jb->channel == "room:lobby");
    // the members hear who joins (the joiner is not in the group yet)
    BOOST_REQUIRE(co_await wait_until([&] { return a->presences.size() == 1u; }));
    BOOST_TEST(a->presences[0].user == bob);
    BOOST_TEST(a->presences[0].channel == "room:lobby");
    BOOST_TEST(a->presences[0].joined);
    BOOST_REQUIRE(co_await b->stub->leave(ec::leave_request("room:lobby")));
    BOOST_REQUIRE(co_await wait_until([&] { return a->presences.size() == 2u; }));
    BOOST_TEST(!a->presences[1].joined);
    BOOST_TEST(b->presences.empty());  // ann joined before bob; bob left the group before his leave was told
    BOOST_REQUIRE(p.joins.size() == 3u);
    BOOST_TEST(!p.joins[2].joined);
    // a disconnected player leaves every channel (the game calls leave_all)
    co_await p.svc.leave_all(ann);
    BOOST_TEST(p.joins.size() == 4u);
    BOOST_TEST(co_await error_of([&] { return p.svc.send(ann, "room:lobby", "hi"); }) == code(ec::error::not_joined));
  }(), 60s);
}

EMBER_ON_BOTH_DATABASES(members_on_different_servers_hear_every_line_in_order) {
  asio::io_context io;
  front_servers front;
  process p1(e, io, front, quick(), {});
  process p2(e, io, front, quick(), {}, "node2.journal");
  run(io, [&]() -> asio::awaitable<void> {
    auto a = co_await connect(p1, ann);
    auto b = co_await connect(p2, bob);
    auto c = co_await connect(p2, cid);
    for (auto* l : {a.get(), b.get(), c.get()}) BOOST_REQUIRE(co_await l->stub->join(ec::join_request("room:world")));
    int done = 0;
    auto talk = [&](listener& l, std::string who) -> asio::awaitable<void> {
      for (int i = 0; i < 20; ++i) {
        auto r = co_await l.stub->send(ec::send_request("room:world", who + std::to_string(i), ""));
        BOOST_TEST(static_cast<bool>(r));
      }
      ++done;
    };
    asio::co_spawn(io, talk(*a, "a"), asio::detached);
    asio::co_spawn(io, talk(*b, "b"), asio::detached);
    BOOST_REQUIRE(co_await wait_until([&] { return done == 2 && a->heard.size() == 40u && c->heard.size() == 40u; }, 30s));
    for (auto* l : {a.get(), b.get(), c.get()}) {
      BOOST_REQUIRE(l->heard.size() == 40u);
      std::vector<std::uint64_t> seqs;
      for (auto& line : l->heard) seqs.push_back(line.seq);
      std::sort(seqs.begin(), seqs.end());
      for (std::size_t i = 0; i < seqs.size(); ++i) BOOST_TEST(seqs[i] == i + 1);  // every line, each once
      // each sender's lines arrive in the order they were said
      int next_a = 0;
      for (auto& line : l->heard)
        if (line.from == ann) BOOST_TEST(line.text == "a" + std::to_string(next_a++));
    }
  }(), 60s);
}

EMBER_ON_BOTH_DATABASES(a_muted_player_cannot_speak_until_the_mute_expires) {
  asio::io_context io;
  front_servers front;
  ch::hooks h;
  h.is_moderator = [](std::uint64_t u, std::string_view) { return u == cid; };
  process p(e, io, front, quick(), h);
  run(io, [&]() -> asio::awaitable<void> {
    co_await p.svc.join(ann, "room:a");
    BOOST_TEST(co_await error_of([&] { return p.svc.mute_by(bob, "room:a", ann, 0); }) == code(ec::error::not_moderator));
    const auto until = ember::data::unix_ms() + 1500;  // wide enough for the checks made meanwhile
    co_await p.svc.mute_by(cid, "room:a", ann, until);
    BOOST_TEST(co_await error_of([&] { return p.svc.send(ann, "room:a", "hi"); }) == code(ec::error::muted));
    co_await p.svc.join(ann, "room:b");
    BOOST_TEST(co_await error_of([&] { return p.svc.send(ann, "room:b", "hi"); }) == 0);  // only in that channel
    co_await ember::test::sleep(1600ms);
    BOOST_TEST(co_await error_of([&] { return p.svc.send(ann, "room:a", "hi"); }) == 0);
    // the server mutes without a moderator, and 0 lifts a mute
    co_await p.svc.mute("room:a", ann, ember::data::unix_ms() + 60000);
    BOOST_TEST(co_await error_of([&] { return p.svc.send(ann, "room:a", "hi"); }) == code(ec::error::muted));
    co_await p.svc.mute("room:a", ann, 0);
    BOOST_TEST(co_await error_of([&] { return p.svc.send(ann, "room:a", "hi"); }) == 0);
  }(), 60s);
}

EMBER_ON_BOTH_DATABASES(banned_words_from_the_game_data_file_are_masked_and_reloadable) {
  asio::io_context io;
  front_servers front;
  auto o = quick();
  o.words_file = e.dir / "banned_words.txt";
  std::ofstream(o.words_file) << "# banned\nDarn\n";
  process p(e, io, front, o, {});
  run(io, [&]() -> asio::awaitable<void> {
    co_await p.svc.join(ann, "room:a");
    BOOST_TEST((co_await p.svc.send(ann, "room:a", "darn, heck")).text == "****, heck");
    std::ofstream(p.svc.limits().words_file) << "darn\nheck\n";
    auto a = co_await connect(p, ann);
    // reload_words is a server-to-server call: a client may not send it
    BOOST_TEST(p.svc.reload_words() == 2u);
    BOOST_TEST((co_await p.svc.send(ann, "room:a", "darn, heck")).text == "****, ****");
    auto kept = co_await p.svc.history(ann, "room:a", 0, false, 1);
    BOOST_TEST(kept.first.at(0).text == "****, ****");  // the masked line is what is kept
    std::filesystem::remove(p.svc.limits().words_file);
    bool refused = false;
    try {
      p.svc.reload_words();
    } catch (const std::runtime_error&) {
      refused = true;
    }
    BOOST_TEST(refused);
    BOOST_TEST((co_await p.svc.send(ann, "room:a", "heck")).text == "****");  // the old list stays
  }(), 60s);
}

EMBER_ON_BOTH_DATABASES(a_player_speaks_at_most_at_the_configured_rate) {
  asio::io_context io;
  front_servers front;
  ch::options o;
  o.burst = 3;
  o.lines_per_second = 0.5;  // a token per 2 s: the checks below hold while their sends take < 1.9 s
  process p(e, io, front, o, {});
  run(io, [&]() -> asio::awaitable<void> {
    co_await p.svc.join(ann, "room:a");
    co_await p.svc.join(bob, "room:a");
    for (int i = 0; i < 3; ++i) BOOST_TEST(co_await error_of([&] { return p.svc.send(ann, "room:a", "x"); }) == 0);
    BOOST_TEST(co_await error_of([&] { return p.svc.send(ann, "room:a", "x"); }) == code(ec::error::rate_limited));
    BOOST_TEST(co_await error_of([&] { return p.svc.send(bob, "room:a", "x"); }) == 0);  // per player
    co_await ember::test::sleep(2100ms);  // one more token
    BOOST_TEST(co_await error_of([&] { return p.svc.send(ann, "room:a", "x"); }) == 0);
    BOOST_TEST(co_await error_of([&] { return p.svc.send(ann, "room:a", "x"); }) == code(ec::error::rate_limited));
  }(), 60s);
}

EMBER_ON_BOTH_DATABASES(a_direct_message_reaches_the_addressee_or_becomes_an_offline_notification) {
  asio::io_context io;
  front_servers front;
  std::vector<std::pair<std::uint64_t, ec::chat_line>> offline;
  ch::hooks h;
  h.is_online = [&](std::uint64_t u) { return front.online(u); };
  h.on_offline_direct_message = [&](std::uint64_t to, const ec::chat_line& l) { offline.emplace_back(to, l); };
  process p(e, io, front, quick(), h);
  run(io, [&]() -> asio::awaitable<void> {
    auto a = co_await connect(p, ann);
    auto b = co_await connect(p, bob);
    // bob has not joined the conversation: the line is pushed to him
    auto r = co_await a->stub->send(ec::send_request("dm:" + std::to_string(bob), "psst", ""));
    BOOST_REQUIRE(r);
    BOOST_REQUIRE(co_await wait_until([&] { return b->heard.size() == 1u; }));
    BOOST_TEST(b->heard[0].channel == "dm:11:12");
    BOOST_TEST(b->heard[0].from == ann);
    // both joined: each hears it once
    BOOST_REQUIRE(co_await a->stub->join(ec::join_request("dm:12")));
    BOOST_REQUIRE(co_await b->stub->join(ec::join_request("dm:11")));
    BOOST_REQUIRE(co_await b->stub->send(ec::send_request("dm:11", "hello", "")));
    BOOST_REQUIRE(co_await wait_until([&] { return a->heard.size() == 1u && b->heard.size() == 2u; }));
    // cid is offline: the hook gets the line, and it is kept
    BOOST_REQUIRE(co_await a->stub->send(ec::send_request("dm:" + std::to_string(cid), "are you there", "")));
    BOOST_REQUIRE(offline.size() == 1u);
    BOOST_TEST(offline[0].first == cid);
    BOOST_TEST(offline[0].second.text == "are you there");
    BOOST_TEST((co_await p.svc.history(cid, "dm:11", 0, false, 10)).first.size() == 1u);
    // no one else reads or writes a conversation
    BOOST_TEST(co_await error_of([&] { return p.svc.history(cid, "dm:11:12", 0, false, 10); }) == code(ec::error::bad_channel));
    BOOST_TEST(status_of(co_await a->stub->send(ec::send_request("dm:11", "me", ""))) == code(ec::error::bad_channel));
  }(), 60s);
}

EMBER_ON_BOTH_DATABASES(a_group_channel_is_for_the_players_the_game_admits) {
  asio::io_context io;
  front_servers front;
  ch::hooks h;
  h.may_join_group = [](std::uint64_t u, std::uint64_t g) { return g == 77 && u != cid; };
  process p(e, io, front, quick(), h);
  run(io, [&]() -> asio::awaitable<void> {
    co_await p.svc.join(ann, "group:77");
    BOOST_TEST((co_await p.svc.send(ann, "group:77", "for the guild")).seq == 1u);
    BOOST_TEST(co_await error_of([&] { return p.svc.join(cid, "group:77"); }) == code(ec::error::not_allowed));
    BOOST_TEST(co_await error_of([&] { return p.svc.join(ann, "group:78"); }) == code(ec::error::not_allowed));
    BOOST_TEST(co_await error_of([&] { return p.svc.history(cid, "group:77", 0, false, 5); }) == code(ec::error::not_allowed));
  }(), 60s);
}

EMBER_ON_BOTH_DATABASES(a_retried_send_with_the_same_operation_id_says_the_line_once) {
  asio::io_context io;
  front_servers front;
  process p(e, io, front, quick(), {});
  run(io, [&]() -> asio::awaitable<void> {
    co_await p.svc.join(ann, "room:a");
    auto first = co_await p.svc.send(ann, "room:a", "once", "op-1");
    auto again = co_await p.svc.send(ann, "room:a", "once", "op-1");
    BOOST_TEST(first.seq == again.seq);
    BOOST_TEST(again.text == "once");
    BOOST_TEST(p.lines.size() == 1u);
    BOOST_TEST((co_await p.svc.send(ann, "room:a", "twice", "op-2")).seq == 2u);
    BOOST_TEST(co_await error_of([&] { return p.svc.send(ann, "room:a", "x", std::string(65, 'o')); }) ==
               code(ec::error::bad_op_id));
  }(), 60s);
}

EMBER_ON_BOTH_DATABASES(concurrent_retries_of_one_send_from_two_processes_say_it_once) {
  asio::io_context io;
  front_servers front;
  process p1(e, io, front, quick(), {});
  process p2(e, io, front, quick(), {}, "node2.journal");
  run(io, [&]() -> asio::awaitable<void> {
    co_await p1.svc.join(ann, "room:a");
    std::vector<std::uint64_t> seqs;
    for (int round = 0; round < 5; ++round) {
      const auto op = "op-" + std::to_string(round);
      auto attempt = [&](ch::service& s) -> asio::awaitable<void> {
        seqs.push_back((co_await s.send(ann, "room:a", "hi", op)).seq);
      };
      asio::co_spawn(io, attempt(p1.svc), asio::detached);
      asio::co_spawn(io, attempt(p2.svc), asio::detached);
      BOOST_REQUIRE(co_await wait_until([&] { return seqs.size() == std::size_t(2 * round + 2); }));
      BOOST_TEST(seqs[2 * round] == seqs[2 * round + 1]);
      BOOST_TEST(seqs[2 * round] == std::uint64_t(round + 1));
    }
    BOOST_TEST(p1.lines.size() + p2.lines.size() == 5u);
    BOOST_TEST((co_await p1.svc.history(ann, "room:a", 0, false, 100)).first.size() == 5u);
  }(), 60s);
}

EMBER_ON_BOTH_DATABASES(caps_on_members_and_channels_per_player_are_typed_errors) {
  asio::io_context io;
  front_servers front;
  auto o = quick();
  o.max_members = 2;
  o.max_channels_per_user = 2;
  process p(e, io, front, o, {});
  run(io, [&]() -> asio::awaitable<void> {
    co_await p.svc.join(ann, "room:a");
    co_await p.svc.join(bob, "room:a");
    BOOST_TEST(co_await error_of([&] { return p.svc.join(cid, "room:a"); }) == code(ec::error::channel_full));
    co_await p.svc.join(ann, "room:a");  // again: harmless
    co_await p.svc.join(ann, "room:b");
    BOOST_TEST(co_await error_of([&] { return p.svc.join(ann, "room:c"); }) == code(ec::error::too_many_channels));
    co_await p.svc.leave(ann, "room:b");
    co_await p.svc.join(ann, "room:c");
  }(), 60s);
}

EMBER_ON_BOTH_DATABASES(bad_input_from_a_client_is_a_typed_error_and_the_session_goes_on) {
  asio::io_context io;
  front_servers front;
  process p(e, io, front, quick(), {});
  run(io, [&]() -> asio::awaitable<void> {
    auto anon = co_await connect(p, 0);
    BOOST_TEST(status_of(co_await anon->stub->join(ec::join_request("room:a"))) == code(ec::error::not_signed_in));
    auto a = co_await connect(p, ann);
    auto& s = *a->stub;
    BOOST_TEST(status_of(co_await s.join(ec::join_request("nowhere"))) == code(ec::error::bad_channel));
    BOOST_TEST(status_of(co_await s.join(ec::join_request("room:" + std::string(100, 'r')))) == code(ec::error::bad_channel));
    BOOST_TEST(status_of(co_await s.send(ec::send_request("room:a", "hi", ""))) == code(ec::error::not_joined));
    BOOST_REQUIRE(co_await s.join(ec::join_request("room:a")));
    BOOST_TEST(status_of(co_await s.send(ec::send_request("room:a", std::string(501, 'x'), ""))) == code(ec::error::bad_text));
    BOOST_TEST(status_of(co_await s.send(ec::send_request("room:a", "", ""))) == code(ec::error::bad_text));
    BOOST_TEST(status_of(co_await s.send(ec::send_request("room:a", "a\x01", ""))) == code(ec::error::bad_text));
    BOOST_TEST(status_of(co_await s.send(ec::send_request("room:a", "\xff", ""))) != 0);  // the wire refuses non-UTF-8
    BOOST_TEST(status_of(co_await s.mute(ec::mute_request("room:a", bob, 1))) == code(ec::error::not_moderator));
    BOOST_TEST(status_of(co_await a->c->call<ec::cmd::reload_words>(ec::reload_words_request{})) != 0);  // a call, not a command
    auto ok = co_await s.send(ec::send_request("room:a", std::string(500, 'x'), ""));
    BOOST_REQUIRE(ok);
    BOOST_TEST(ok->seq == 1u);
  }(), 60s);
}
