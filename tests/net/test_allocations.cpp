// Counts heap allocations per request on the steady-state request path (server and client in
// one process), so a change that adds allocations shows up here. Not a timing test.
#include "ember/net/server.hpp"

#define BOOST_TEST_MODULE net_allocations
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdlib>
#include <new>

#include <asio/detached.hpp>

#include "ember/net/client.hpp"
#include "nettest_client.hpp"
#include "nettest_server.hpp"
#include "support/run.hpp"
#include "support/sanitizers.hpp"

#define EMBER_COUNTS_MALLOC (!EMBER_TEST_ASAN)

namespace {
std::atomic<std::size_t> allocations{0};
}

#if EMBER_COUNTS_MALLOC
// Every heap allocation goes through these (operator new, Asio's aligned frames, buffers), so
// interpose glibc's allocator entry points and count. AddressSanitizer has its own allocator:
// under it nothing is counted and the bounds are not checked.
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void* malloc(std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t m) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(n, m);
}
void* realloc(void* p, std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, n);
}
void* aligned_alloc(std::size_t align, std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(align, n);
}
int posix_memalign(void** out, std::size_t align, std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  *out = __libc_memalign(align, n);
  return *out ? 0 : 12;
}
}
#endif

namespace {

class echo_only final : public nettest::test_handler {
 public:
  asio::awaitable<nettest::echo_reply> echo(ember::net::session&, const nettest::echo_request& r) override {
    co_return nettest::echo_reply{r.n, r.text};
  }
  asio::awaitable<nettest::echo_overlapping_reply> echo_overlapping(
      ember::net::session&, const nettest::echo_overlapping_request& r) override {
    co_return nettest::echo_overlapping_reply{r.n, r.text};
  }
  asio::awaitable<nettest::raise_error_reply> raise_error(ember::net::session&, const nettest::raise_error_request&) override { co_return nettest::raise_error_reply{}; }
  asio::awaitable<nettest::join_reply> join(ember::net::session&, const nettest::join_request&) override { co_return nettest::join_reply{}; }
  asio::awaitable<nettest::broadcast_reply> broadcast(ember::net::session&, const nettest::broadcast_request&) override { co_return nettest::broadcast_reply{}; }
  asio::awaitable<nettest::push_me_reply> push_me(ember::net::session&, const nettest::push_me_request&) override { co_return nettest::push_me_reply{}; }
};

// Sends `n` requests one after another; returns the allocations they cost.
template <class Cmd>
asio::awaitable<std::size_t> measure(ember::net::client& c, int n) {
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

// Keeps `depth` requests in flight until `n` are done; returns the allocations they cost.
asio::awaitable<std::size_t> measure_in_flight(ember::net::client& c, int n, int depth) {
  std::size_t before = allocations.load();
  int done = 0, failed = 0;
  for (int d = 0; d < depth; ++d) {
    asio::co_spawn(co_await asio::this_coro::executor, [&]() -> asio::awaitable<void> {
      nettest::echo_overlapping_request req{0, "0123456789"};
      while (done < n) {
        ++done;
        if (!co_await c.call<nettest::cmd::echo_overlapping>(req)) ++failed;
      }
    }, asio::detached);
  }
  co_await ember::test::wait_until([&] { return done >= n && c.in_flight() == 0; });
  BOOST_TEST(failed == 0);
  co_return allocations.load() - before;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_request_path_allocates_a_bounded_number_of_times_per_request) {
  asio::io_context io;
  echo_only h;
  ember::net::dispatch_table t;
  nettest::register_commands(t, h);
  ember::net::server_options o;
  o.max_request_rate = 0;  // thousands of requests in a blink: no rate limit here
  ember::net::server srv(io, o, std::move(t));
  srv.start();
  ember::test::run(io, [&]() -> asio::awaitable<void> {
    ember::net::client c(io.get_executor());
    BOOST_REQUIRE(!co_await c.connect("127.0.0.1", srv.port()));
    co_await measure<nettest::cmd::echo>(c, 200);  // warm up caches and buffers
    co_await measure<nettest::cmd::echo_overlapping>(c, 200);
    const int n = 2000;
    double ordered = double(co_await measure<nettest::cmd::echo>(c, n)) / n;
    double overlapping = double(co_await measure<nettest::cmd::echo_overlapping>(c, n)) / n;
    co_await measure_in_flight(c, 2000, 16);  // warm up with 16 in flight
    double in_flight = double(co_await measure_in_flight(c, n, 16)) / n;
    std::printf("allocations per request (client + server): ordered %.2f, overlapping %.2f, "
                "16 in flight %.2f\n", ordered, overlapping, in_flight);
    // Regression bounds, a little above what is measured (BENCHMARKS.md, "Heap allocations per request").
    if (EMBER_COUNTS_MALLOC) {
      BOOST_TEST(ordered <= 15.0);
      BOOST_TEST(overlapping <= 14.0);
      BOOST_TEST(in_flight <= 11.0);
    }
  }());
}
