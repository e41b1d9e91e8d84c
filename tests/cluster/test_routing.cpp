// Routing parts that need no network: rendezvous hashing (who owns a player) and the
// per-player work queue.
#define BOOST_TEST_MODULE cluster routing
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "ember/cluster/keyed_queue.hpp"
#include "ember/cluster/rendezvous.hpp"
#include "support/run.hpp"

using namespace ember::cluster;

namespace {

std::vector<std::uint64_t> hashes(const std::vector<std::string>& names) {
  std::vector<std::uint64_t> out;
  for (auto& n : names) out.push_back(name_hash(n));
  return out;
}

std::string owner(std::uint64_t key, const std::vector<std::string>& names) {
  auto h = hashes(names);
  auto i = rendezvous_pick(key, h, [](std::uint64_t x) { return x; });
  return i < names.size() ? names[i] : "";
}

}  // namespace

BOOST_AUTO_TEST_CASE(keys_spread_evenly_and_only_a_leaving_instances_keys_move) {
  const std::vector<std::string> five{"game1", "game2", "game3", "game4", "game5"};
  const std::vector<std::string> without3{"game1", "game2", "game4", "game5"};
  constexpr int keys = 20'000;
  std::map<std::string, int> count;
  int moved = 0;
  for (std::uint64_t k = 1; k <= keys; ++k) {
    const auto before = owner(k, five);
    const auto after = owner(k, without3);
    ++count[before];
    if (before != after) {
      ++moved;
      BOOST_TEST(before == "game3");  // nobody else's players move
    }
  }
  for (auto& [name, n] : count) BOOST_TEST(std::abs(n - keys / 5) < keys / 50, name << " has " << n);
  BOOST_TEST(moved == count["game3"]);
}

BOOST_AUTO_TEST_CASE(a_joining_instance_takes_keys_only_for_itself) {
  const std::vector<std::string> two{"game1", "game2"};
  const std::vector<std::string> three{"game1", "game2", "game3"};
  int taken = 0;
  for (std::uint64_t k = 1; k <= 9'000; ++k) {
    const auto before = owner(k, two), after = owner(k, three);
    if (before != after) {
      BOOST_TEST(after == "game3");
      ++taken;
    }
  }
  BOOST_TEST(std::abs(taken - 3'000) < 300);
  BOOST_TEST(owner(7, {}) == "");
}

BOOST_AUTO_TEST_CASE(one_keys_work_runs_one_at_a_time_in_order_while_other_keys_overlap) {
  asio::io_context io;
  keyed_queue q(io.get_executor());
  std::vector<std::string> log;
  int running_a = 0, max_running_a = 0, done = 0;
  auto job = [&](std::string name, int ms, bool is_a) -> asio::awaitable<void> {
    if (is_a) max_running_a = std::max(max_running_a, ++running_a);
    log.push_back("start " + name);
    asio::steady_timer t(io, std::chrono::milliseconds(ms));
    co_await t.async_wait(asio::use_awaitable);
    log.push_back("end " + name);
    if (is_a) --running_a;
    if (name == "a2") throw std::runtime_error("a2 fails");
  };
  std::vector<std::string> errors;
  auto done_fn = [&](std::exception_ptr e) {
    ++done;
    if (e) errors.push_back("error");
  };
  q.post({0, 1}, job("a1", 30, true), done_fn);
  q.post({0, 1}, job("a2", 1, true), done_fn);
  q.post({0, 1}, job("a3", 1, true), done_fn);
  q.post({0, 2}, job("b1", 5, false), done_fn);
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    co_await ember::test::wait_until([&] { return done == 4; }, std::chrono::seconds(5));
  }());
  BOOST_TEST(done == 4);
  BOOST_TEST(max_running_a == 1);
  BOOST_TEST(errors.size() == 1u);  // a failing job does not stop the ones after it
  const std::vector<std::string> a_order{"start a1", "end a1", "start a2", "end a2", "start a3", "end a3"};
  std::vector<std::string> only_a;
  for (auto& l : log)
    if (l.find(" a") != std::string::npos) only_a.push_back(l);
  BOOST_TEST(only_a == a_order, boost::test_tools::per_element());
  // b1 ran while a1 was still running.
  auto pos = [&](const std::string& s) { return std::find(log.begin(), log.end(), s) - log.begin(); };
  BOOST_TEST(pos("end b1") < pos("end a1"));
  BOOST_TEST(q.busy_keys() == 0u);
}
