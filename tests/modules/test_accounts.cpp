// The accounts module (docs/modules/accounts.md), every rule on real memcached and on SQLite and
// PostgreSQL; the client-facing rules through a real net::server and net::client on 127.0.0.1.
#define BOOST_TEST_MODULE ember accounts module
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include "ember/modules/accounts/accounts.hpp"
#include "ember/modules/accounts/detail/ember_accounts_client.hpp"
#include "ember/net/client.hpp"
#include "ember/net/server.hpp"
#include "support/data_env.hpp"
#include "support/error_of.hpp"
#include "support/test_players.hpp"
#include "support/run.hpp"

namespace acc = ember::modules::accounts;
using ember_accounts::error;
using ember::test::run;
using namespace std::chrono_literals;

using ember::test::error_of;

namespace {

/// Options with libsodium's smallest hashing limits, so that tests run fast.
acc::options fast(acc::options o = {}) {
  o.opslimit = crypto_pwhash_OPSLIMIT_MIN;
  o.memlimit = crypto_pwhash_MEMLIMIT_MIN;
  return o;
}

constexpr std::uint16_t code(error e) { return static_cast<std::uint16_t>(e); }

/// The service over one data_env node, with what it publishes recorded.
struct module_env {
  module_env(ember::test::data_env& e, acc::options o = fast(), acc::hooks h = {})
      : node(e, io), accounts(node.store, players, bus, std::move(o), std::move(h)) {
    node.open();
    subs.push_back(bus.subscribe<ember_accounts::account_created>(
        [this](const ember_accounts::account_created& c) { created.push_back(c); }));
    subs.push_back(bus.subscribe<ember_accounts::account_banned>(
        [this](const ember_accounts::account_banned& b) { banned.push_back(b); }));
    subs.push_back(bus.subscribe<ember_accounts::signed_in>(
        [this](const ember_accounts::signed_in& s) { signed_in.push_back(s); }));
  }
  asio::io_context io;
  ember::test::data_env::node node;
  ember::test::test_players players;
  ember::modules::event_bus bus;
  acc::service accounts;
  std::vector<ember::modules::subscription> subs;
  std::vector<ember_accounts::account_created> created;
  std::vector<ember_accounts::account_banned> banned;
  std::vector<ember_accounts::signed_in> signed_in;
};

}  // namespace

EMBER_ON_BOTH_DATABASES(a_password_account_is_created_on_first_sign_in_and_signs_in_again) {
  module_env m(e);
  run(m.io, [&]() -> asio::awaitable<void> {
    auto& a = m.accounts;
    auto first = co_await a.sign_in_password("Alice_1", "correct horse", true, "10.0.0.1");
    BOOST_TEST(first.created);
    BOOST_TEST(first.account_id > 0);
    BOOST_TEST(first.token.size() == 64u);
    BOOST_TEST(first.token != first.refresh_token);
    BOOST_TEST_REQUIRE(m.created.size() == 1u);
    BOOST_TEST(m.created[0].account_id == first.account_id);
    BOOST_TEST((m.created[0].method == ember_accounts::sign_in_method::password));
    auto again = co_await a.sign_in_password("alice_1", "correct horse", false, "10.0.0.1");
    BOOST_TEST(again.account_id == first.account_id);
    BOOST_TEST(!again.created);
    BOOST_TEST(again.token != first.token);
    auto row = co_await a.find(first.account_id);
    BOOST_REQUIRE(row);
    BOOST_TEST(row->username == "Alice_1");                          // as chosen
    BOOST_TEST(row->password_hash.rfind("$argon2id$", 0) == 0u);     // Argon2id, never the password
    BOOST_TEST(row->password_hash.find("correct horse") == std::string::npos);
    BOOST_TEST(m.created.size() == 1u);
    co_await m.node.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM account_username WHERE name = 'alice_1'") == 1);
}

EMBER_ON_BOTH_DATABASES(a_wrong_password_and_an_unknown_username_fail_with_the_same_error) {
  module_env m(e);
  run(m.io, [&]() -> asio::awaitable<void> {
    auto& a = m.accounts;
    co_await a.sign_in_password("bob", "bob's password", true, "10.0.0.2");
    std::string wrong_msg, unknown_msg;
    std::uint16_t wrong = 0, unknown = 0;
    try {
      co_await a.sign_in_password("bob", "not bob's password", false, "10.0.0.2");
    } catch (const ember::game_error& x) {
      wrong = x.code();
      wrong_msg = x.what();
    }
    try {
      co_await a.sign_in_password("nobody", "any password", false, "10.0.0.2");
    } catch (const ember::game_error& x) {
      unknown = x.code();
      unknown_msg = x.what();
    }
    BOOST_TEST(wrong == code(error::invalid_credentials));
    BOOST_TEST(unknown == wrong);
    BOOST_TEST(unknown_msg == wrong_msg);
    // create = true with a taken name and a wrong password does not sign in either
    BOOST_TEST(co_await error_of(a.sign_in_password("BOB", "guessing", true, "10.0.0.2")) ==
               code(error::invalid_credentials));
  }());
}

EMBER_ON_BOTH_DATABASES(usernames_are_unique_whatever_their_case_and_validated) {
  module_env m(e);
  run(m.io, [&]() -> asio::awaitable<void> {
    auto& a = m.accounts;
    auto carol = co_await a.sign_in_password("Carol", "carol's password", true, "10.0.0.3");
    auto other = co_await a.sign_in_device("device-of-other-1", true, "10.0.0.3");
    BOOST_TEST(co_await error_of(a.link_password(other.account_id, "cAROL", "another password")) ==
               code(error::username_taken));
    co_await a.link_password(other.account_id, "carol2", "another password");
    BOOST_TEST(co_await error_of(a.link_password(other.account_id, "carol3", "another password")) ==
               code(error::already_linked));
    for (const std::string& bad : std::vector<std::string>{"ab", "with space", "_leading", std::string(33, 'x'), "caf\xc3\xa9", "bad\xff",
                            std::string("nul\0in", 6)})
      BOOST_TEST(co_await error_of(a.sign_in_password(bad, "a password", true, "10.0.0.3")) ==
                 code(error::invalid_username));
    BOOST_TEST(co_await error_of(a.sign_in_password("dave", "short", true, "10.0.0.3")) ==
               code(error::invalid_password));
    BOOST_TEST(co_await error_of(a.sign_in_password("dave", std::string(129, 'p'), true, "10.0.0.3")) ==
               code(error::invalid_password));
    BOOST_TEST(co_await error_of(a.sign_in_password("dave", "bad utf8 \xc3", true, "10.0.0.3")) ==
               code(error::invalid_password));
    BOOST_TEST(carol.account_id != other.account_id);
    // two creations of one name at once: one account gets it, the other sign-in fails or joins it
    std::vector<std::int64_t> ids;
    for (int i = 0; i < 2; ++i)
      asio::co_spawn(m.io, [&]() -> asio::awaitable<void> {
        ids.push_back((co_await a.sign_in_password("Racer", "same password", true, "10.0.0.3")).account_id);
      }, asio::detached);
    BOOST_TEST(co_await ember::test::wait_until([&] { return ids.size() == 2; }));
    BOOST_TEST_REQUIRE(ids.size() == 2u);
    BOOST_TEST(ids[0] == ids[1]);
    auto x = co_await a.sign_in_password("RACER", "same password", false, "10.0.0.3");
    auto y = co_await a.sign_in_password("racer", "same password", false, "10.0.0.3");
    BOOST_TEST(x.account_id == y.account_id);
    co_await m.node.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM account_username WHERE name = 'carol'") == 1);
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM account_username") == 3);
}

EMBER_ON_BOTH_DATABASES(device_and_custom_ids_sign_in_and_create_the_account_only_when_asked) {
  acc::hooks h;
  h.verify_custom = [](std::string credential) -> asio::awaitable<std::optional<std::string>> {
    if (credential.rfind("ticket:", 0) != 0) co_return std::nullopt;  // the game's service refuses it
    co_return credential.substr(7);
  };
  module_env m(e, fast(), std::move(h));
  run(m.io, [&]() -> asio::awaitable<void> {
    auto& a = m.accounts;
    BOOST_TEST(co_await error_of(a.sign_in_device("phone-0000001", false, "10.0.0.4")) ==
               code(error::invalid_credentials));
    BOOST_TEST(m.created.empty());
    auto d = co_await a.sign_in_device("phone-0000001", true, "10.0.0.4");
    BOOST_TEST(d.created);
    auto d2 = co_await a.sign_in_device("phone-0000001", true, "10.0.0.4");
    BOOST_TEST(!d2.created);
    BOOST_TEST(d2.account_id == d.account_id);
    BOOST_TEST(co_await error_of(a.sign_in_device("short", true, "10.0.0.4")) == code(error::invalid_id));
    BOOST_TEST(co_await error_of(a.sign_in_device(std::string(129, 'd'), true, "10.0.0.4")) ==
               code(error::invalid_id));

    BOOST_TEST(co_await error_of(a.sign_in_custom("ticket:player-77", false, "10.0.0.4")) ==
               code(error::invalid_credentials));
    auto c = co_await a.sign_in_custom("ticket:player-77", true, "10.0.0.4");
    BOOST_TEST(c.created);
    BOOST_TEST(c.account_id != d.account_id);
    BOOST_TEST((co_await a.sign_in_custom("ticket:player-77", false, "10.0.0.4")).account_id == c.account_id);
    BOOST_TEST(co_await error_of(a.sign_in_custom("forged:player-77", true, "10.0.0.4")) ==
               code(error::invalid_credentials));
    BOOST_TEST(m.created.size() == 2u);
  }());
}

EMBER_ON_BOTH_DATABASES(sign_in_methods_link_to_one_account_and_the_last_cannot_be_unlinked) {
  acc::options o = fast();
  o.max_devices = 2;
  module_env m(e, o);
  run(m.io, [&]() -> asio::awaitable<void> {
    auto& a = m.accounts;
    auto me = (co_await a.sign_in_device("first-device-1", true, "10.0.0.5")).account_id;
    auto someone = (co_await a.sign_in_device("their-device-1", true, "10.0.0.5")).account_id;
    co_await a.link_device(me, "second-device");
    co_await a.link_device(me, "second-device");  // again: nothing changes
    BOOST_TEST(co_await error_of(a.link_device(me, "third-device-1")) == code(error::limit_reached));
    BOOST_TEST(co_await error_of(a.link_device(me, "their-device-1")) == code(error::limit_reached));
    co_await a.link_password(me, "linker", "linker's password");
    co_await a.link_custom(me, "custom-linker");
    BOOST_TEST(co_await error_of(a.link_custom(someone, "custom-linker")) == code(error::id_in_use));
    BOOST_TEST(co_await error_of(a.link_custom(me, "custom-other")) == code(error::already_linked));
    BOOST_TEST((co_await a.sign_in_device("second-device", false, "10.0.0.5")).account_id == me);
    BOOST_TEST((co_await a.sign_in_password("LINKER", "linker's password", false, "10.0.0.5")).account_id == me);
    BOOST_TEST((co_await a.sign_in_custom("custom-linker", false, "10.0.0.5")).account_id == me);
    auto info = co_await a.info(me);
    BOOST_TEST(info.username == "linker");
    BOOST_TEST(info.devices == (std::vector<std::string>{"first-device-1", "second-device"}));
    BOOST_TEST(info.has_custom_id);

    co_await a.unlink_device(me, "first-device-1");
    BOOST_TEST(co_await error_of(a.unlink_device(me, "first-device-1")) == code(error::not_linked));
    BOOST_TEST(co_await error_of(a.unlink_device(me, "their-device-1")) == code(error::not_linked));
    BOOST_TEST(co_await error_of(a.sign_in_device("first-device-1", false, "10.0.0.5")) ==
               code(error::invalid_credentials));
    co_await a.unlink_password(me);
    BOOST_TEST(co_await error_of(a.sign_in_password("linker", "linker's password", false, "10.0.0.5")) ==
               code(error::invalid_credentials));
    co_await a.unlink_custom(me);
    // one method left: the account could not be reached any more without it
    BOOST_TEST(co_await error_of(a.unlink_device(me, "second-device")) == code(error::last_method));
    BOOST_TEST(co_await error_of(a.unlink_device(someone, "their-device-1")) == code(error::last_method));
    BOOST_TEST((co_await a.sign_in_device("second-device", false, "10.0.0.5")).account_id == me);
    // the unlinked username is free for anyone again
    co_await a.link_password(someone, "Linker", "their password!");
    BOOST_TEST(co_await error_of(a.link_device(987654321, "ghost-device-1")) == code(error::no_such_account));
  }());
}

EMBER_ON_BOTH_DATABASES(tokens_expire_refresh_once_and_sign_out_revokes_the_pair) {
  acc::options o = fast();
  o.token_lifetime = 1s;
  module_env m(e, o);
  run(m.io, [&]() -> asio::awaitable<void> {
    auto& a = m.accounts;
    auto t = co_await a.sign_in_device("token-device", true, "10.0.0.6");
    auto ok = co_await a.check_token(t.token);
    BOOST_REQUIRE(ok);
    BOOST_TEST(ok->account_id == t.account_id);
    BOOST_TEST(!(co_await a.check_token(t.refresh_token)));  // a refresh token is no session token
    BOOST_TEST(!(co_await a.check_token("not a token")));
    BOOST_TEST(!(co_await a.check_token(std::string(1000, 'a'))));
    co_await ember::test::sleep(1100ms);
    BOOST_TEST(!(co_await a.check_token(t.token)));  // expired
    auto fresh = co_await a.refresh(t.refresh_token);
    BOOST_TEST(fresh.account_id == t.account_id);
    BOOST_TEST((co_await a.check_token(fresh.token)).has_value());
    BOOST_TEST(co_await error_of(a.refresh(t.refresh_token)) == code(error::invalid_token));  // used
    BOOST_TEST(co_await error_of(a.refresh(fresh.token)) == code(error::invalid_token));     // not a refresh token
    co_await a.revoke(fresh.token);  // sign-out
    BOOST_TEST(!(co_await a.check_token(fresh.token)));
    BOOST_TEST(co_await error_of(a.refresh(fresh.refresh_token)) == code(error::invalid_token));
  }());
}

EMBER_ON_BOTH_DATABASES(an_account_keeps_at_most_max_sessions_token_pairs) {
  acc::options o = fast();
  o.max_sessions = 3;
  module_env m(e, o);
  run(m.io, [&]() -> asio::awaitable<void> {
    auto& a = m.accounts;
    std::vector<ember_accounts::session_tokens> all;
    for (int i = 0; i < 5; ++i) {
      all.push_back(co_await a.sign_in_device("many-sessions", true, "10.0.0.7"));
      co_await ember::test::sleep(2ms);  // distinct creation times
    }
    int valid = 0;
    for (const auto& t : all) valid += (co_await a.check_token(t.token)) ? 1 : 0;
    BOOST_TEST(valid == 3);
    BOOST_TEST(!(co_await a.check_token(all[0].token)));  // the oldest went first
    BOOST_TEST((co_await a.check_token(all[4].token)).has_value());
    co_await m.node.store.stop();
  }());
  BOOST_TEST(e.scalar("SELECT COUNT(*) FROM account_token") == 6);
}

EMBER_ON_BOTH_DATABASES(failed_sign_ins_slow_down_per_account_and_per_address) {
  acc::options o = fast();
  o.max_failures = 3;
  o.first_delay = 1500ms;
  module_env m(e, o);
  run(m.io, [&]() -> asio::awaitable<void> {
    auto& a = m.accounts;
    co_await a.sign_in_password("target", "the right one", true, "10.1.0.1");
    co_await a.sign_in_password("bystander", "the right one", true, "10.1.0.9");
    for (int i = 0; i < 3; ++i)  // three addresses, one account
      BOOST_TEST(co_await error_of(a.sign_in_password("target", "wrong guess", false, "10.1.0." + std::to_string(2 + i))) ==
                 code(error::invalid_credentials));
    // the account is held back, even with the right password, from any address
    BOOST_TEST(co_await error_of(a.sign_in_password("target", "the right one", false, "10.1.0.1")) ==
               code(error::too_many_attempts));
    BOOST_TEST(co_await error_of(a.sign_in_password("TARGET", "the right one", false, "10.1.0.8")) ==
               code(error::too_many_attempts));
    // an unknown name is counted the same way: the limit says nothing about existence
    for (int i = 0; i < 3; ++i)
      co_await error_of(a.sign_in_password("ghost", "wrong guess", false, "10.2.0." + std::to_string(i)));
    BOOST_TEST(co_await error_of(a.sign_in_password("ghost", "wrong guess", false, "10.2.0.9")) ==
               code(error::too_many_attempts));
    // one address guessing many names is held back for every name, device ids included
    for (int i = 0; i < 3; ++i)
      co_await error_of(a.sign_in_password("name" + std::to_string(i), "wrong guess", false, "10.3.0.1"));
    BOOST_TEST(co_await error_of(a.sign_in_password("bystander", "the right one", false, "10.3.0.1")) ==
               code(error::too_many_attempts));
    BOOST_TEST(co_await error_of(a.sign_in_device("some-device-1", true, "10.3.0.1")) ==
               code(error::too_many_attempts));
    // others are not held back
    BOOST_TEST((co_await a.sign_in_password("bystander", "the right one", false, "10.1.0.9")).account_id > 0);
    co_await ember::test::sleep(1600ms);
    BOOST_TEST((co_await a.sign_in_password("target", "the right one", false, "10.1.0.1")).account_id > 0);
    // a failure after the delay, within the window, holds back twice as long
    for (int i = 0; i < 3; ++i)
      co_await error_of(a.sign_in_password("name" + std::to_string(i), "wrong guess", false, "10.4.0.1"));
    co_await ember::test::sleep(1600ms);
    BOOST_TEST(co_await error_of(a.sign_in_password("nameX", "wrong guess", false, "10.4.0.1")) ==
               code(error::invalid_credentials));
    co_await ember::test::sleep(1600ms);  // 3 s now: still held back
    BOOST_TEST(co_await error_of(a.sign_in_password("bystander", "the right one", false, "10.4.0.1")) ==
               code(error::too_many_attempts));
  }(), 60s);
}

EMBER_ON_BOTH_DATABASES(a_banned_account_cannot_sign_in_until_the_ban_ends_or_is_lifted) {
  std::vector<std::pair<std::uint64_t, std::string>> ended;
  acc::hooks h;
  h.end_session = [&](std::uint64_t user, std::string_view why) { ended.emplace_back(user, std::string(why)); };
  module_env m(e, fast(), std::move(h));
  run(m.io, [&]() -> asio::awaitable<void> {
    auto& a = m.accounts;
    auto t = co_await a.sign_in_password("cheater", "cheater's password", true, "10.0.0.8");
    co_await a.link_device(t.account_id, "cheat-device");
    auto clean = co_await a.sign_in_device("clean-device", true, "10.0.0.8");
    co_await a.ban(t.account_id, "speed hacking", std::chrono::system_clock::now() + 1h);
    BOOST_TEST_REQUIRE(ended.size() == 1u);
    BOOST_TEST(ended[0].first == static_cast<std::uint64_t>(t.account_id));
    BOOST_TEST_REQUIRE(m.banned.size() == 1u);
    BOOST_TEST(m.banned[0].reason == "speed hacking");
    BOOST_TEST(!(co_await a.check_token(t.token)));  // its tokens are revoked
    BOOST_TEST(co_await error_of(a.refresh(t.refresh_token)) == code(error::invalid_token));
    BOOST_TEST(co_await error_of(a.sign_in_password("cheater", "cheater's password", false, "10.0.0.8")) ==
               code(error::banned));
    BOOST_TEST(co_await error_of(a.sign_in_device("cheat-device", false, "10.0.0.8")) == code(error::banned));
    // a wrong password still says only that the details are wrong
    BOOST_TEST(co_await error_of(a.sign_in_password("cheater", "guess", false, "10.0.0.9")) ==
               code(error::invalid_credentials));
    BOOST_TEST(co_await a.is_banned(t.account_id));
    BOOST_TEST(!(co_await a.is_banned(clean.account_id)));
    BOOST_TEST((co_await a.sign_in_device("clean-device", false, "10.0.0.8")).account_id == clean.account_id);
    BOOST_TEST(co_await error_of(a.ban(987654321, "nobody", std::chrono::system_clock::now() + 1h)) ==
               code(error::no_such_account));
    BOOST_TEST(co_await error_of(a.ban(clean.account_id, std::string(257, 'r'), std::chrono::system_clock::now() + 1h)) ==
               code(error::invalid_reason));
    BOOST_TEST(co_await error_of(a.ban(clean.account_id, "bad\xff", std::chrono::system_clock::now() + 1h)) ==
               code(error::invalid_reason));
    co_await a.unban(t.account_id);
    BOOST_TEST((co_await a.sign_in_device("cheat-device", false, "10.0.0.8")).account_id == t.account_id);
    // a ban that has run out ends by itself
    co_await a.ban(t.account_id, "a short one", std::chrono::system_clock::now() + 300ms);
    co_await ember::test::sleep(400ms);
    BOOST_TEST((co_await a.sign_in_device("cheat-device", false, "10.0.0.8")).account_id == t.account_id);
  }());
}

EMBER_ON_BOTH_DATABASES(a_password_stored_with_other_limits_is_rehashed_at_sign_in) {
  std::string before;
  {
    module_env m(e);  // an older configuration, with other limits
    run(m.io, [&]() -> asio::awaitable<void> {
      auto t = co_await m.accounts.sign_in_password("oldtimer", "an old password", true, "10.0.0.1");
      before = (co_await m.accounts.find(t.account_id))->password_hash;
      co_await m.node.store.stop();
    }());
  }
  acc::options raised = fast();
  raised.opslimit = crypto_pwhash_OPSLIMIT_MIN + 1;
  module_env m(e, raised);
  run(m.io, [&]() -> asio::awaitable<void> {
    auto t = co_await m.accounts.sign_in_password("oldtimer", "an old password", false, "10.0.0.1");
    const auto after = (co_await m.accounts.find(t.account_id))->password_hash;
    BOOST_TEST(after != before);
    BOOST_TEST(!m.accounts.hasher().needs_rehash(after));
    BOOST_TEST(m.accounts.hasher().needs_rehash(before));
    BOOST_TEST((co_await m.accounts.sign_in_password("oldtimer", "an old password", false, "10.0.0.1")).account_id ==
               t.account_id);
  }());
}

// --- the io thread and the hashing workers

BOOST_AUTO_TEST_CASE(hashing_with_realistic_limits_never_blocks_the_io_thread) {
  asio::io_context io;
  acc::password_hasher hasher(1, crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE);
  run(io, [&]() -> asio::awaitable<void> {
    int ticks = 0;
    int ticks_when_hashed = -1;
    bool hashed = false;
    // a timer on the io thread ticks every 2 ms for as long as the hash runs
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      asio::steady_timer t(io);
      while (!hashed) {
        t.expires_after(2ms);
        co_await t.async_wait(asio::use_awaitable);
        ++ticks;
      }
    }, asio::detached);
    auto h = co_await hasher.hash("a realistic password");
    ticks_when_hashed = ticks;
    hashed = true;
    BOOST_TEST(h.rfind("$argon2id$", 0) == 0u);
    BOOST_TEST(ticks_when_hashed >= 5);  // the io thread went on while the worker hashed
    BOOST_TEST(co_await hasher.verify(h, "a realistic password"));
    BOOST_TEST(!(co_await hasher.verify(h, "another password")));
  }());
}

// --- through a real server and client

namespace {

struct served {
  explicit served(ember::test::data_env& e, bool end_sessions = true)
      : node(e, io), srv(io, ember::net::server_options{.name = "accounts", .port = 0}),
        players(srv),
        accounts(node.store, players, bus, fast(),
                 {.end_session = end_sessions ? acc::close_sessions_on(srv) : nullptr, .verify_custom = {}}),
        commands(accounts) {
    node.open();
    ember::net::dispatch_table t;
    ember_accounts::register_commands(t, commands);
    srv.set_table(std::move(t));
    srv.start();
  }
  asio::awaitable<ember::net::client> connected() {
    ember::net::client c(io.get_executor());
    auto ec = co_await c.connect("127.0.0.1", srv.port());
    BOOST_REQUIRE_MESSAGE(!ec, ec.message());
    co_return c;
  }
  asio::io_context io;
  ember::test::data_env::node node;
  ember::net::server srv;
  ember::modules::server_players players;
  ember::modules::event_bus bus;
  acc::service accounts;
  acc::handler commands;
};

template <class R>
std::uint16_t status_of(const R& r) {
  return r ? 0 : r.error().status;
}

}  // namespace

EMBER_ON_BOTH_DATABASES(a_sign_in_binds_the_session_and_sign_out_revokes_and_unbinds_it) {
  served s(e);
  std::vector<ember_accounts::signed_in> heard;
  auto sub = s.bus.subscribe<ember_accounts::signed_in>([&](const ember_accounts::signed_in& x) { heard.push_back(x); });
  run(s.io, [&]() -> asio::awaitable<void> {
    auto c = co_await s.connected();
    ember_accounts::client_stub stub(c);
    BOOST_TEST(status_of(co_await stub.get_account({})) == code(error::not_signed_in));
    BOOST_TEST(status_of(co_await stub.link_device(ember_accounts::link_device_request{"a-device-id"})) ==
               code(error::not_signed_in));
    auto r = co_await stub.sign_in_password({"Erin", "erin's password", true});
    BOOST_REQUIRE(r);
    const auto id = r->session.account_id;
    BOOST_TEST(r->session.created);
    BOOST_TEST(s.srv.find_user(static_cast<std::uint64_t>(id)) != nullptr);  // s.user() for every module
    BOOST_TEST_REQUIRE(heard.size() == 1u);
    BOOST_TEST(heard[0].address == "127.0.0.1");
    auto info = co_await stub.get_account({});
    BOOST_REQUIRE(info);
    BOOST_TEST(info->account.username == "Erin");
    BOOST_REQUIRE(co_await stub.link_device(ember_accounts::link_device_request{"erin-phone-1"}));

    // the session token resumes the account on another connection (or server)
    auto c2 = co_await s.connected();
    ember_accounts::client_stub stub2(c2);
    auto resumed = co_await stub2.sign_in_token(ember_accounts::sign_in_token_request{r->session.token});
    BOOST_REQUIRE(resumed);
    BOOST_TEST(resumed->account_id == id);
    BOOST_TEST(status_of(co_await stub2.sign_in_token(ember_accounts::sign_in_token_request{"bogus"})) ==
               code(error::invalid_token));

    BOOST_REQUIRE(co_await stub2.sign_out({}));
    BOOST_TEST(status_of(co_await stub2.get_account({})) == code(error::not_signed_in));
    BOOST_TEST(!(co_await s.accounts.check_token(r->session.token)));  // revoked with its pair
    BOOST_TEST(status_of(co_await stub2.refresh_session(ember_accounts::refresh_session_request{r->session.refresh_token})) ==
               code(error::invalid_token));
    // a new sign-in and a refresh on the wire
    auto again = co_await stub2.sign_in_device({"erin-phone-1", false});
    BOOST_REQUIRE(again);
    BOOST_TEST(again->session.account_id == id);
    auto refreshed = co_await stub2.refresh_session(ember_accounts::refresh_session_request{again->session.refresh_token});
    BOOST_REQUIRE(refreshed);
    BOOST_TEST(refreshed->session.account_id == id);
    BOOST_TEST(!(co_await s.accounts.check_token(again->session.token)));
    BOOST_TEST((co_await s.accounts.check_token(refreshed->session.token)).has_value());
  }());
}

EMBER_ON_BOTH_DATABASES(a_banned_players_session_ends_at_once_and_its_commands_are_refused) {
  served s(e);
  run(s.io, [&]() -> asio::awaitable<void> {
    auto c = co_await s.connected();
    auto other = co_await s.connected();
    ember_accounts::client_stub stub(c);
    ember_accounts::client_stub other_stub(other);
    std::optional<ember_accounts::banned_notice> notice;
    bool closed = false;
    stub.on_banned_notice([&](const ember_accounts::banned_notice& n) { notice = n; });
    c.on_close([&](std::error_code) { closed = true; });
    auto r = co_await stub.sign_in_device({"banned-phone-1", true});
    BOOST_REQUIRE(r);
    auto o = co_await other_stub.sign_in_device({"honest-phone-1", true});
    BOOST_REQUIRE(o);
    co_await s.accounts.ban(r->session.account_id, "botting", std::chrono::system_clock::now() + 24h);
    BOOST_TEST(co_await ember::test::wait_until([&] { return closed; }));
    BOOST_TEST_REQUIRE(notice.has_value());
    BOOST_TEST(notice->reason == "botting");
    BOOST_TEST(s.srv.find_user(static_cast<std::uint64_t>(r->session.account_id)) == nullptr);
    BOOST_TEST(!(co_await stub.get_account({})));  // the session is gone: every command fails
    // signing in again, on a new connection, is refused with the ban
    auto c2 = co_await s.connected();
    ember_accounts::client_stub stub2(c2);
    BOOST_TEST(status_of(co_await stub2.sign_in_device({"banned-phone-1", false})) == code(error::banned));
    BOOST_TEST(status_of(co_await stub2.sign_in_token(ember_accounts::sign_in_token_request{r->session.token})) ==
               code(error::invalid_token));
    BOOST_TEST(status_of(co_await stub2.get_account({})) == code(error::not_signed_in));
    // the other player is unaffected
    auto info = co_await other_stub.get_account({});
    BOOST_REQUIRE(info);
    BOOST_TEST(info->account.account_id == o->session.account_id);
  }());
}

EMBER_ON_BOTH_DATABASES(without_an_end_session_hook_a_banned_players_next_command_unbinds_the_session) {
  served s(e, false);
  run(s.io, [&]() -> asio::awaitable<void> {
    auto c = co_await s.connected();
    ember_accounts::client_stub stub(c);
    auto r = co_await stub.sign_in_device({"unhooked-phone-1", true});
    BOOST_REQUIRE(r);
    const auto user = static_cast<std::uint64_t>(r->session.account_id);
    co_await s.accounts.ban(r->session.account_id, "botting", std::chrono::system_clock::now() + 1h);
    BOOST_TEST(s.srv.find_user(user) != nullptr);  // nobody ended it
    BOOST_TEST(status_of(co_await stub.get_account({})) == code(error::banned));
    BOOST_TEST(s.srv.find_user(user) == nullptr);  // no module sees the player there any more
    BOOST_TEST(status_of(co_await stub.get_account({})) == code(error::not_signed_in));
    BOOST_TEST(status_of(co_await stub.sign_in_token(ember_accounts::sign_in_token_request{r->session.token})) ==
               code(error::invalid_token));
  }());
}

EMBER_ON_BOTH_DATABASES(bad_input_on_the_wire_is_a_typed_error_and_the_session_goes_on) {
  served s(e);
  run(s.io, [&]() -> asio::awaitable<void> {
    auto c = co_await s.connected();
    ember_accounts::client_stub stub(c);
    // strings that are not UTF-8 are refused by the codec before the handler (bad_request); the
    // service refuses them too (usernames_are_unique_whatever_their_case_and_validated)
    BOOST_TEST(status_of(co_await stub.sign_in_password({"x\xff\xfe", "a password", true})) ==
               static_cast<std::uint16_t>(ember::status::bad_request));
    BOOST_TEST(status_of(co_await stub.sign_in_password({std::string(10000, 'u'), "a password", true})) ==
               code(error::invalid_username));
    BOOST_TEST(status_of(co_await stub.sign_in_password({"fine_name", std::string(20000, 'p'), true})) ==
               code(error::invalid_password));
    BOOST_TEST(status_of(co_await stub.sign_in_device({std::string("dev\0ice-id-1", 12), true})) ==
               code(error::invalid_id));
    BOOST_TEST(status_of(co_await stub.sign_in_custom({std::string(5000, 'c'), true})) == code(error::invalid_id));
    BOOST_TEST(status_of(co_await stub.sign_in_token(ember_accounts::sign_in_token_request{std::string(5000, 't')})) ==
               code(error::invalid_token));
    auto r = co_await stub.sign_in_device({"valid-device-1", true});
    BOOST_REQUIRE(r);
    BOOST_TEST(status_of(co_await stub.unlink_device(ember_accounts::unlink_device_request{"never-linked-1"})) ==
               code(error::not_linked));
    BOOST_TEST(status_of(co_await stub.unlink_device(ember_accounts::unlink_device_request{"valid-device-1"})) ==
               code(error::last_method));
    BOOST_TEST(status_of(co_await stub.link_password({"bad name!", "a password"})) == code(error::invalid_username));
    BOOST_TEST((co_await stub.get_account({})).has_value());  // still signed in, still served
  }());
}

// --- figures (not run by default: `test_accounts --run_test=sign_ins_per_second`)

BOOST_AUTO_TEST_CASE(sign_ins_per_second, *boost::unit_test::disabled()) {
  ember::test::data_env e(false);
  acc::options o;  // INTERACTIVE limits: the real cost of a password
  o.hashing_threads = 2;
  module_env m(e, o);
  run(m.io, [&]() -> asio::awaitable<void> {
    auto& a = m.accounts;
    co_await a.sign_in_password("bench_user", "bench password", true, "10.9.0.1");
    co_await a.sign_in_device("bench-device-1", true, "10.9.0.1");
    auto measure = [&](const char* what, int n, int parallel, auto one) -> asio::awaitable<void> {
      int done = 0;
      const auto start = std::chrono::steady_clock::now();
      for (int w = 0; w < parallel; ++w)
        asio::co_spawn(m.io, [&, w]() -> asio::awaitable<void> {
          for (int i = w; i < n; i += parallel) {
            co_await one();
            ++done;
          }
        }, asio::detached);
      BOOST_TEST(co_await ember::test::wait_until([&] { return done == n; }, 120s));
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
      BOOST_TEST_MESSAGE(what << ": " << n << " in " << took.count() << " s = " << n / took.count() << " /s");
    };
    co_await measure("device sign-ins", 2000, 8, [&]() -> asio::awaitable<void> {
      co_await a.sign_in_device("bench-device-1", false, "10.9.0.1");
    });
    co_await measure("password sign-ins (INTERACTIVE, 2 hashing threads)", 40, 4, [&]() -> asio::awaitable<void> {
      co_await a.sign_in_password("bench_user", "bench password", false, "10.9.0.1");
    });
  }(), 300s);
}
