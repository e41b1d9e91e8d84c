// Counts heap allocations per request on the steady-state request path (server and client in
// one process), so a change that adds allocations shows up here. Not a timing test.
#include "ember/net/server.hpp"

#define BOOST_TEST_MODULE net_allocations
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdlib>
#include <new>

#include "ember/net/client.hpp"
#include "nettest_client.hpp"
#include "nettest_server.hpp"
#include "support/run.hpp"

namespace {
std::atomic<std::size_t> allocations{0};
}

void* operator new(std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

class echo_only final : public nettest::test_handler {
 public:
  asio::awaitable<nettest::echo_reply> echo(ember::session&, const nettest::echo_request& r) override {
    co_return nettest::echo_reply{r.n, r.text};
  }
  asio::awaitable<nettest::echo_overlapping_reply> echo_overlapping(
      ember::session&, const nettest::echo_overlapping_request& r) override {
    co_return nettest::echo_overlapping_reply{r.n, r.text};
  }
  asio::awaitable<nettest::raise_error_reply> raise_error(ember::session&, const nettest::raise_error_request&) override { co_return nettest::raise_error_reply{}; }
  asio::awaitable<nettest::join_reply> join(ember::session&, const nettest::join_request&) override { co_return nettest::join_reply{}; }
  asio::awaitable<nettest::broadcast_reply> broadcast(ember::session&, const nettest::broadcast_request&) override { co_return nettest::broadcast_reply{}; }
  asio::awaitable<nettest::push_me_reply> push_me(ember::session&, const nettest::push_me_request&) override { co_return nettest::push_me_reply{}; }
};

// Sends `n` requests one after another; returns the allocations they cost.
template <class Cmd>
asio::awaitable<std::size_t> measure(ember::client& c, int n) {
  nettest::client_stub stub(c);
  typename Cmd::request req{};
  req.text = "0123456789";  // short: fits the string's inline storage
  std::size_t before = allocations.load();
  for (int i = 0; i < n; ++i) {
    req.n = static_cast<std::uint32_t>(i);
    auto r = co_await c.call<Cmd>(req);
    if (!r) BOOST_FAIL("request failed: " << r.error().message);
  }
  co_return allocations.load() - before;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_request_path_allocates_a_bounded_number_of_times_per_request) {
  asio::io_context io;
  echo_only h;
  ember::dispatch_table t;
  nettest::register_commands(t, h);
  ember::net::server_options o;
  o.max_request_rate = 0;  // thousands of requests in a blink: no rate limit here
  ember::net::server srv(io, o, std::move(t));
  srv.start();
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    ember::client c(io.get_executor());
    BOOST_REQUIRE(!co_await c.connect("127.0.0.1", srv.port()));
    co_await measure<nettest::cmd::echo>(c, 200);  // warm up caches and buffers
    co_await measure<nettest::cmd::echo_overlapping>(c, 200);
    const int n = 2000;
    double ordered = double(co_await measure<nettest::cmd::echo>(c, n)) / n;
    double overlapping = double(co_await measure<nettest::cmd::echo_overlapping>(c, n)) / n;
    BOOST_TEST_MESSAGE("allocations per request (client + server): ordered " << ordered
                                                                            << ", overlapping " << overlapping);
    std::printf("allocations per request (client + server): ordered %.2f, overlapping %.2f\n",
                ordered, overlapping);
    // Regression bounds, a little above what is measured (README: "Allocations").
    BOOST_TEST(ordered <= 12.0);
    BOOST_TEST(overlapping <= 12.0);
  }());
}
