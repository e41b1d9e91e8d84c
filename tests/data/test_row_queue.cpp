// The row queue (ember/data/row_queue.hpp): transactions of one process that want the same
// row take turns in arrival order, other rows are not held up, and a waiter that gives up
// leaves the line without taking a turn from anyone.
#define BOOST_TEST_MODULE row_queue
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "ember/data/row_queue.hpp"
#include "ember/spawn.hpp"
#include "support/run.hpp"

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

namespace {

/// Holds `row` for one turn of the io loop and records when it got it.
asio::awaitable<void> take_turn(ember::data::row_queue& q, std::string row, std::string who,
                                std::vector<std::string>& log) {
  co_await q.acquire(row);
  log.push_back(who);
  asio::steady_timer t(co_await asio::this_coro::executor, 5ms);
  co_await t.async_wait(asio::use_awaitable);
  log.push_back(who + " done");
  q.release(row);
}

/// Waits for `row` at most 5 ms; sets `gave_up` when the wait ended without the row.
asio::awaitable<void> impatient(ember::data::row_queue& q, std::string row, bool& gave_up) {
  asio::steady_timer patience(co_await asio::this_coro::executor, 5ms);
  try {
    auto r = co_await (q.acquire(row) || patience.async_wait(asio::use_awaitable));
    gave_up = r.index() == 1;  // the timer won: the acquire was cancelled
  } catch (const std::system_error&) {
    gave_up = true;
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(writers_of_one_row_take_turns_in_arrival_order_and_other_rows_go_ahead) {
  asio::io_context io;
  ember::data::row_queue q;
  std::vector<std::string> log;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    ember::spawn(ex, take_turn(q, "gold:1", "a", log), "turn");
    ember::spawn(ex, take_turn(q, "gold:1", "b", log), "turn");
    ember::spawn(ex, take_turn(q, "gold:1", "c", log), "turn");
    ember::spawn(ex, take_turn(q, "gold:2", "other", log), "turn");
    co_await ember::test::wait_until([&] { return log.size() == 8; });
  }());
  // One row's writers in arrival order, each after the previous one is done ...
  std::vector<std::string> row1;
  for (const auto& e : log)
    if (!e.starts_with("other")) row1.push_back(e);
  const std::vector<std::string> want{"a", "a done", "b", "b done", "c", "c done"};
  BOOST_TEST(row1 == want, boost::test_tools::per_element());
  // ... and the writer of another row did not wait for them.
  BOOST_TEST(log[1] == "other");
  BOOST_TEST(q.held() == 0u);
}

BOOST_AUTO_TEST_CASE(a_waiter_that_gives_up_leaves_the_line_and_the_next_one_gets_the_row) {
  asio::io_context io;
  ember::data::row_queue q;
  std::vector<std::string> log;
  bool gave_up = false;
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    co_await q.acquire("row");  // held by this test for 20 ms
    ember::spawn(ex, impatient(q, "row", gave_up), "impatient");
    ember::spawn(ex, take_turn(q, "row", "patient", log), "turn");
    asio::steady_timer t(ex, 20ms);
    co_await t.async_wait(asio::use_awaitable);
    BOOST_TEST(gave_up);
    BOOST_TEST(log.empty());
    q.release("row");
    co_await ember::test::wait_until([&] { return log.size() == 2; });
  }());
  BOOST_TEST(log.size() == 2u);
  BOOST_TEST(q.held() == 0u);
}
