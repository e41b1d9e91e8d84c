// The memcached client against real memcached servers on 127.0.0.1: values, misses, multi-get,
// add/replace/cas outcomes, counters, refusals, consistent hashing, and what a client sees while
// a server is killed, restarted or frozen (SIGSTOP).
#include "ember/data/memcache.hpp"

#define BOOST_TEST_MODULE data_memcache
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "support/memcached.hpp"
#include "support/run.hpp"

using namespace std::chrono_literals;
using ember::data::cache_item;
using ember::data::data_errc;
using ember::data::data_error;
using ember::data::memcache;
using ember::data::memcache_conn;
using ember::data::memcache_options;
using ember::data::store_result;
using ember::test::memcached_server;
using ember::test::run;
using ember::test::sleep;
using clock_type = std::chrono::steady_clock;

namespace ember::data {
// For Boost.Test's messages.
inline std::ostream& operator<<(std::ostream& os, store_result r) { return os << to_string(r); }
}  // namespace ember::data

namespace {

// The data_error an operation throws, or nullopt if it succeeds.
template <class T>
asio::awaitable<std::optional<data_error>> error_of(asio::awaitable<T> op) {
  try {
    co_await std::move(op);
  } catch (const data_error& e) {
    co_return e;
  }
  co_return std::nullopt;
}

double ms_since(clock_type::time_point t) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t).count();
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// Three fresh servers per test and an io_context.
struct three_servers {
  asio::io_context io;
  std::vector<std::unique_ptr<memcached_server>> servers;

  three_servers() {
    for (int i = 0; i < 3; ++i) servers.push_back(std::make_unique<memcached_server>());
  }

  memcache_options options(std::size_t workers = 2) const {
    memcache_options o;
    for (const auto& s : servers) o.servers.push_back(s->address());
    o.workers = workers;
    return o;
  }
};

// `n` keys and the address of the server that holds each.
std::map<std::string, std::string> keys_by_server(memcache_conn& c, int n, const std::string& stem = "player:") {
  std::map<std::string, std::string> out;
  for (int i = 0; i < n; ++i) {
    auto k = stem + std::to_string(i);
    out[k] = c.server_of(k);
  }
  return out;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(memcache_client, three_servers)

BOOST_AUTO_TEST_CASE(a_stored_value_reads_back_and_a_missing_key_is_empty) {
  memcache mc(options());
  run(io, [&]() -> asio::awaitable<void> {
    BOOST_TEST(!(co_await mc.get("nobody")).has_value());
    BOOST_TEST((co_await mc.set("hero", "level 12", 7)) == store_result::stored);
    const auto item = co_await mc.get("hero");
    BOOST_REQUIRE(item.has_value());
    BOOST_TEST(item->value == "level 12");
    BOOST_TEST(item->flags == 7u);
    BOOST_TEST(item->cas != 0u);
    BOOST_TEST((co_await mc.set("hero", "level 13")) == store_result::stored);
    BOOST_TEST((co_await mc.get("hero"))->value == "level 13");
  }(), 10s);
}

BOOST_AUTO_TEST_CASE(multi_get_across_three_servers_keeps_the_order_of_the_keys_with_misses) {
  memcache mc(options());
  run(io, [&]() -> asio::awaitable<void> {
    std::vector<std::string> keys;
    for (int i = 0; i < 60; ++i) keys.push_back("item:" + std::to_string(i));
    for (std::size_t i = 0; i < keys.size(); i += 2) co_await mc.set(keys[i], "v" + keys[i]);
    std::set<std::string> used = co_await mc.with_conn([&keys](memcache_conn& c) {
      std::set<std::string> s;
      for (const auto& k : keys) s.insert(c.server_of(k));
      return s;
    });
    BOOST_TEST(used.size() == 3u);

    std::mt19937 rng(42);
    std::shuffle(keys.begin(), keys.end(), rng);
    keys.push_back("item:2");  // asked twice
    const auto got = co_await mc.get_multi(keys);
    BOOST_REQUIRE(got.size() == keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const bool stored = std::stoi(keys[i].substr(5)) % 2 == 0;
      BOOST_TEST(got[i].has_value() == stored, keys[i]);
      if (stored && got[i]) BOOST_TEST(got[i]->value == "v" + keys[i]);
    }
    // Braced lists live in named locals: g++ 12 miscompiles them inside a co_await expression.
    BOOST_TEST((co_await mc.get_multi(std::vector<std::string>())).empty());
    const std::vector<std::string> absent{"absent:1", "absent:2"};
    const auto none = co_await mc.get_multi(absent);
    BOOST_TEST((!none[0] && !none[1]));
  }(), 10s);
}

BOOST_AUTO_TEST_CASE(add_on_an_existing_key_and_replace_on_a_missing_key_are_not_stored) {
  memcache mc(options());
  run(io, [&]() -> asio::awaitable<void> {
    BOOST_TEST((co_await mc.add("guild", "red")) == store_result::stored);
    BOOST_TEST((co_await mc.add("guild", "blue")) == store_result::not_stored);
    BOOST_TEST((co_await mc.get("guild"))->value == "red");
    BOOST_TEST((co_await mc.replace("no-guild", "x")) == store_result::not_stored);
    BOOST_TEST(!(co_await mc.get("no-guild")).has_value());
    BOOST_TEST((co_await mc.replace("guild", "green")) == store_result::stored);
    BOOST_TEST((co_await mc.get("guild"))->value == "green");
  }(), 10s);
}

BOOST_AUTO_TEST_CASE(cas_stores_with_a_fresh_token_and_of_two_writers_with_one_token_only_one_wins) {
  memcache mc(options(2));
  run(io, [&]() -> asio::awaitable<void> {
    co_await mc.set("gold", "100");
    const auto read = co_await mc.get("gold");
    BOOST_TEST((co_await mc.cas("gold", "110", read->cas)) == store_result::stored);
    BOOST_TEST((co_await mc.cas("gold", "120", read->cas)) == store_result::exists);  // stale token
    BOOST_TEST((co_await mc.get("gold"))->value == "110");
    BOOST_TEST((co_await mc.cas("no-gold", "1", read->cas)) == store_result::not_found);

    // Two writers read the same version and race on two workers.
    const auto token = (co_await mc.get("gold"))->cas;
    std::array<std::optional<store_result>, 2> outcome;
    int done = 0;
    for (int w = 0; w < 2; ++w) {
      asio::co_spawn(io, [&, w]() -> asio::awaitable<void> {
        outcome[w] = co_await mc.cas("gold", "writer" + std::to_string(w), token);
        ++done;
      }, [](std::exception_ptr e) { if (e) BOOST_ERROR("a cas writer threw"); });
    }
    BOOST_REQUIRE(co_await ember::test::wait_until([&] { return done == 2; }, 5s));
    const int winners = int(outcome[0] == store_result::stored) + int(outcome[1] == store_result::stored);
    const int losers = int(outcome[0] == store_result::exists) + int(outcome[1] == store_result::exists);
    BOOST_TEST(winners == 1);
    BOOST_TEST(losers == 1);
    const auto final_value = (co_await mc.get("gold"))->value;
    BOOST_TEST(final_value == (outcome[0] == store_result::stored ? "writer0" : "writer1"));
  }(), 10s);
}

BOOST_AUTO_TEST_CASE(increment_creates_the_counter_at_initial_then_adds_the_delta) {
  memcache mc(options());
  run(io, [&]() -> asio::awaitable<void> {
    BOOST_TEST((co_await mc.increment("kills", 5, 100)) == 100u);
    BOOST_TEST((co_await mc.increment("kills", 5, 100)) == 105u);
    BOOST_TEST((co_await mc.increment("kills", 1)) == 106u);
    BOOST_TEST((co_await mc.get("kills"))->value == "106");
    co_await mc.set("name", "not a number");
    const auto e = co_await error_of(mc.increment("name", 1));
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST((e->code() == data_errc::cache_error), e->what());
  }(), 10s);
}

BOOST_AUTO_TEST_CASE(remove_deletes_a_key_and_reports_a_missing_one) {
  memcache mc(options());
  run(io, [&]() -> asio::awaitable<void> {
    co_await mc.set("session", "abc");
    BOOST_TEST(co_await mc.remove("session"));
    BOOST_TEST(!(co_await mc.get("session")).has_value());
    BOOST_TEST(!(co_await mc.remove("session")));
  }(), 10s);
}

BOOST_AUTO_TEST_CASE(binary_values_with_nul_bytes_and_flags_round_trip) {
  memcache mc(options());
  run(io, [&]() -> asio::awaitable<void> {
    std::string blob;
    for (int r = 0; r < 4; ++r)
      for (int b = 0; b < 256; ++b) blob.push_back(static_cast<char>(b));
    BOOST_TEST((co_await mc.set("blob", blob, 0xdeadbeef)) == store_result::stored);
    const auto one = co_await mc.get("blob");
    BOOST_REQUIRE(one.has_value());
    BOOST_TEST(one->value.size() == 1024u);
    BOOST_TEST((one->value == blob));
    BOOST_TEST(one->flags == 0xdeadbeefu);
    const std::vector<std::string> pair{"blob", "none"};
    const auto many = co_await mc.get_multi(pair);
    BOOST_TEST((many[0] && many[0]->value == blob && !many[1]));
    const std::string large(512 * 1024, '\0');
    BOOST_TEST((co_await mc.set("large", large)) == store_result::stored);
    BOOST_TEST(((co_await mc.get("large"))->value == large));
  }(), 10s);
}

BOOST_AUTO_TEST_CASE(a_value_over_one_mib_is_refused_with_cache_error_and_the_client_goes_on) {
  memcache mc(options(1));
  run(io, [&]() -> asio::awaitable<void> {
    const auto e = co_await error_of(mc.set("huge", std::string(1024 * 1024 + 1, 'x')));
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST((e->code() == data_errc::cache_error));
    BOOST_TEST_MESSAGE(e->what());
    BOOST_TEST((co_await mc.set("small", "ok")) == store_result::stored);
    BOOST_TEST((co_await mc.get("small"))->value == "ok");
    BOOST_TEST(!(co_await mc.get("huge")).has_value());
  }(), 10s);
}

BOOST_AUTO_TEST_CASE(keys_over_250_bytes_with_the_prefix_are_refused_before_sending) {
  auto o = options();
  o.key_prefix = "world1:";  // 7 bytes
  memcache mc(o);
  memcache bare(options());
  run(io, [&]() -> asio::awaitable<void> {
    const std::string longest(250 - 7, 'k');
    BOOST_TEST((co_await mc.set(longest, "fits")) == store_result::stored);
    BOOST_TEST((co_await bare.get("world1:" + longest))->value == "fits");  // the prefix is applied
    bool refused = false;
    try {
      co_await mc.set(longest + "k", "too long");
    } catch (const std::invalid_argument& e) {
      refused = contains(e.what(), "251 bytes");
    }
    BOOST_TEST(refused);
    bool empty_refused = false;
    try {
      const std::vector<std::string> with_empty{"fine", ""};
      co_await mc.get_multi(with_empty);
    } catch (const std::invalid_argument&) {
      empty_refused = true;
    }
    BOOST_TEST(empty_refused);
  }(), 10s);
}

BOOST_AUTO_TEST_CASE(expiries_over_thirty_days_are_sent_as_absolute_times) {
  memcache mc(options());
  run(io, [&]() -> asio::awaitable<void> {
    // Sent as a relative 60 days, memcached would read a date in 1970 and drop the value.
    co_await mc.set("season", "s1", 0, std::chrono::hours(24 * 60));
    BOOST_TEST((co_await mc.get("season")).has_value());
    co_await mc.set("hour", "h", 0, std::chrono::hours(1));
    BOOST_TEST((co_await mc.get("hour")).has_value());
  }(), 10s);
}

BOOST_AUTO_TEST_CASE(with_conn_runs_several_operations_in_one_job_and_queue_depth_counts_waiters) {
  memcache mc(options(1));
  run(io, [&]() -> asio::awaitable<void> {
    const auto [stored, read] = co_await mc.with_conn([](memcache_conn& c) {
      c.set("a", "1");
      c.set("b", "2");
      const auto got = c.get_multi(std::vector<std::string>{"a", "b"});
      return std::pair{2, got[0]->value + got[1]->value};
    });
    BOOST_TEST(stored == 2);
    BOOST_TEST(read == "12");

    // One slow job holds the only worker; the gets behind it wait in the queue.
    int done = 0;
    asio::co_spawn(io, mc.with_conn([](memcache_conn&) { std::this_thread::sleep_for(300ms); }),
                   [&](std::exception_ptr) { ++done; });
    for (int i = 0; i < 3; ++i)
      asio::co_spawn(io, mc.get("a"), [&](std::exception_ptr e, std::optional<cache_item>) {
        if (e) BOOST_ERROR("a queued get threw");
        ++done;
      });
    co_await sleep(100ms);
    BOOST_TEST(mc.queue_depth() == 3u);
    BOOST_REQUIRE(co_await ember::test::wait_until([&] { return done == 4; }, 5s));
    BOOST_TEST(mc.queue_depth() == 0u);
  }(), 10s);
}

BOOST_AUTO_TEST_CASE(a_full_server_started_with_no_eviction_refuses_with_cache_error) {
  memcached_server full({.memory_mb = 2, .no_evict = true});
  memcache_options o;
  o.servers = {full.address()};
  o.workers = 1;
  memcache mc(o);
  run(io, [&]() -> asio::awaitable<void> {
    const std::string v(100 * 1024, 'x');
    std::optional<data_error> e;
    int stored = 0;
    for (; stored < 200 && !e; ++stored) e = co_await error_of(mc.set("fill:" + std::to_string(stored), v));
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST_MESSAGE("refused after " << stored << " values: " << e->what());
    BOOST_TEST((e->code() == data_errc::cache_error));
    BOOST_TEST(co_await mc.remove("fill:0"));  // the server still answers
  }(), 10s);
}

BOOST_AUTO_TEST_CASE(keys_spread_over_the_servers_and_stopping_one_moves_none_of_the_others) {
  memcache mc(options());
  run(io, [&]() -> asio::awaitable<void> {
    const auto placed = co_await mc.with_conn([](memcache_conn& c) { return keys_by_server(c, 300); });
    std::map<std::string, int> per_server;
    for (const auto& [k, s] : placed) ++per_server[s];
    BOOST_TEST(per_server.size() == 3u);
    for (const auto& [s, n] : per_server) {
      BOOST_TEST_MESSAGE(s << " holds " << n << " of 300 keys");
      BOOST_TEST(n >= 45);  // ketama with 3 servers: far from one-sided
    }
    std::vector<std::string> all;
    for (const auto& [k, s] : placed) {
      all.push_back(k);
      co_await mc.set(k, "v:" + k);
    }

    auto& down = *servers[1];
    down.stop();
    std::vector<std::string> others;
    std::string lost;
    for (const auto& [k, s] : placed) {
      if (s == down.address())
        lost = k;
      else
        others.push_back(k);
    }
    const auto got = co_await mc.get_multi(others);
    for (std::size_t i = 0; i < others.size(); ++i)
      BOOST_TEST((got[i] && got[i]->value == "v:" + others[i]), others[i]);
    const auto after = co_await mc.with_conn([](memcache_conn& c) { return keys_by_server(c, 300); });
    BOOST_TEST((after == placed));  // no key moved: the failed server was not ejected

    const auto e = co_await error_of(mc.get(lost));
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST((e->code() == data_errc::cache_unavailable));
    BOOST_TEST(contains(e->what(), down.address()), e->what());
    const auto multi = co_await error_of(mc.get_multi(all));
    BOOST_REQUIRE(multi.has_value());
    BOOST_TEST((multi->code() == data_errc::cache_unavailable));
    BOOST_TEST(contains(multi->what(), down.address()), multi->what());
  }(), 15s);
}

BOOST_AUTO_TEST_CASE(a_killed_server_gives_cache_unavailable_naming_it_at_once) {
  memcache mc(options(1));
  run(io, [&]() -> asio::awaitable<void> {
    auto& victim = *servers[0];
    const auto key = co_await mc.with_conn([&](memcache_conn& c) {
      for (int i = 0;; ++i)
        if (c.server_of("k" + std::to_string(i)) == victim.address()) return "k" + std::to_string(i);
    });
    co_await mc.set(key, "v");  // the connection is open when the server dies
    victim.stop();
    for (int i = 0; i < 3; ++i) {
      const auto t = clock_type::now();
      const auto e = co_await error_of(mc.set(key, "v2"));
      const auto took = ms_since(t);
      BOOST_REQUIRE(e.has_value());
      BOOST_TEST_MESSAGE("attempt " << i << " after " << took << " ms: " << e->what());
      BOOST_TEST((e->code() == data_errc::cache_unavailable));
      BOOST_TEST(contains(e->what(), victim.address()), e->what());
      BOOST_TEST(took < 600.0);  // refused: no need to wait for the timeout
    }
  }(), 10s);
}

BOOST_AUTO_TEST_CASE(a_restarted_server_serves_its_keys_again_on_every_worker_within_two_seconds) {
  memcache mc(options(4));
  run(io, [&]() -> asio::awaitable<void> {
    auto& victim = *servers[2];
    const auto key = co_await mc.with_conn([&](memcache_conn& c) {
      for (int i = 0;; ++i)
        if (c.server_of("r" + std::to_string(i)) == victim.address()) return "r" + std::to_string(i);
    });
    // Every worker connects, then sees the server fail.
    for (int i = 0; i < 8; ++i) co_await mc.set(key, "before");
    victim.stop();
    int failures = 0;
    for (int i = 0; i < 8; ++i) failures += (co_await error_of(mc.get(key))).has_value() ? 1 : 0;
    BOOST_TEST(failures == 8);

    victim.start();
    const auto back = clock_type::now();
    // Recovered once 40 operations in a row, spread over the 4 workers, succeed.
    int streak = 0;
    double recovered_ms = -1;
    while (ms_since(back) < 4000 && streak < 40) {
      std::vector<std::optional<data_error>> batch(4);
      int finished = 0;
      for (int c = 0; c < 4; ++c)
        asio::co_spawn(io, [&, c]() -> asio::awaitable<void> {
          batch[c] = co_await error_of(mc.set(key, "after"));
          ++finished;
        }, [](std::exception_ptr e) { if (e) BOOST_ERROR("a set threw something else"); });
      co_await ember::test::wait_until([&] { return finished == 4; }, 5s);
      const bool ok = std::none_of(batch.begin(), batch.end(), [](const auto& e) { return e.has_value(); });
      if (ok && streak == 0) recovered_ms = ms_since(back);
      streak = ok ? streak + 4 : 0;
      if (!ok) co_await sleep(20ms);
    }
    BOOST_TEST_MESSAGE("recovered " << recovered_ms << " ms after the restart");
    BOOST_TEST(streak >= 40);
    BOOST_TEST(recovered_ms >= 0.0);
    BOOST_TEST(recovered_ms < 2000.0);
    BOOST_TEST((co_await mc.get(key))->value == "after");
    BOOST_TEST((co_await mc.with_conn([&](memcache_conn& c) { return c.server_of(key); })) == victim.address());
  }(), 15s);
}

BOOST_AUTO_TEST_CASE(the_first_request_after_a_quick_restart_succeeds_on_a_fresh_connection) {
  memcache mc(options(1));
  run(io, [&]() -> asio::awaitable<void> {
    auto& victim = *servers[0];
    const auto key = co_await mc.with_conn([&](memcache_conn& c) {
      for (int i = 0;; ++i)
        if (c.server_of("q" + std::to_string(i)) == victim.address()) return "q" + std::to_string(i);
    });
    co_await mc.set(key, "old");
    victim.restart();  // the client's connection is now dead, and it does not know yet
    BOOST_TEST(!(co_await mc.get(key)).has_value());  // empty cache, no error
    BOOST_TEST((co_await mc.set(key, "new")) == store_result::stored);
    victim.restart();
    BOOST_TEST((co_await mc.increment("n:" + key, 1, 7)) >= 7u);
    victim.restart();
    const std::vector<std::string> two{key, "other"};
    BOOST_TEST((co_await mc.get_multi(two)).size() == 2u);
  }(), 10s);
}

BOOST_AUTO_TEST_CASE(the_io_thread_keeps_ticking_while_a_get_waits_on_a_frozen_server_until_the_timeout) {
  memcache mc(options(2));
  run(io, [&]() -> asio::awaitable<void> {
    auto& frozen = *servers[1];
    const auto keys = co_await mc.with_conn([&](memcache_conn& c) {
      std::vector<std::string> ks;
      for (int i = 0; ks.size() < 5; ++i)
        if (c.server_of("f" + std::to_string(i)) == frozen.address()) ks.push_back("f" + std::to_string(i));
      return ks;
    });
    for (const auto& k : keys) co_await mc.set(k, "value of " + k);

    int ticks = 0;
    bool stop = false, stopped = false;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      asio::steady_timer t(io);
      while (!stop) {
        t.expires_after(10ms);
        co_await t.async_wait(asio::use_awaitable);
        ++ticks;
      }
      stopped = true;
    }, [](std::exception_ptr e) { if (e) BOOST_ERROR("the ticker threw"); });

    frozen.pause();
    const auto t = clock_type::now();
    const auto e = co_await error_of(mc.get(keys[0]));
    const auto took = ms_since(t);
    const int ticked = ticks;
    const std::vector<std::string> mixed{keys[1], "elsewhere"};
    const auto multi = co_await error_of(mc.get_multi(mixed));
    frozen.resume();
    stop = true;
    co_await ember::test::wait_until([&] { return stopped; }, 1s);

    BOOST_REQUIRE(e.has_value());
    BOOST_TEST_MESSAGE("frozen server: " << e->what() << " after " << took << " ms, " << ticked << " ticks");
    BOOST_TEST((e->code() == data_errc::cache_unavailable));
    BOOST_TEST(contains(e->what(), frozen.address()), e->what());
    BOOST_TEST(took >= 450.0);
    BOOST_TEST(took < 3000.0);  // the 500 ms timeout, with a margin for a busy machine
    BOOST_TEST(ticked >= 25);  // ~50 expected at 10 ms while the worker waits
    BOOST_REQUIRE(multi.has_value());
    BOOST_TEST((multi->code() == data_errc::cache_unavailable));
    BOOST_TEST(contains(multi->what(), frozen.address()), multi->what());

    // The late answers of the frozen server must not be taken for the next requests' answers.
    for (int round = 0; round < 3; ++round)
      for (const auto& k : keys) {
        const auto got = co_await mc.get(k);
        BOOST_TEST((got && got->value == "value of " + k), k);
      }
    const auto all = co_await mc.get_multi(keys);
    for (std::size_t i = 0; i < keys.size(); ++i) BOOST_TEST((all[i] && all[i]->value == "value of " + keys[i]));
  }(), 15s);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(bad_options_are_refused_when_the_client_is_made) {
  memcache_options none;
  BOOST_CHECK_THROW(memcache{none}, std::invalid_argument);
  memcache_options bad;
  bad.servers = {"127.0.0.1"};
  BOOST_CHECK_THROW(memcache{bad}, std::invalid_argument);
  bad.servers = {"127.0.0.1:99999"};
  BOOST_CHECK_THROW(memcache{bad}, std::invalid_argument);
  // The message names the entry and what is wrong with it.
  const auto refusal = [](std::string server) {
    memcache_options o;
    o.servers = {std::move(server)};
    try {
      memcache{o};
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  BOOST_TEST(refusal("cache") == "memcache server 'cache' is not host:port: the port is missing");
  BOOST_TEST(refusal("::1:11211") ==
             "memcache server '::1:11211' is not host:port: an IPv6 address goes in brackets: \"[::1]:11211\"");
  BOOST_TEST(refusal("cache:0") == "memcache server 'cache:0' is not host:port: the port is not a number 1..65535");
  memcache_options v6;
  v6.servers = {"[::1]:11211", "localhost:11211"};
  BOOST_CHECK_NO_THROW(memcache{v6});
}
