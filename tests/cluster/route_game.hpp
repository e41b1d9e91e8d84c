// The `game` backend of the gateway and backend suites (route_test.toml): a real
// cluster::backend serving the schema's commands, which records what it ran.
#pragma once

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <asio/this_coro.hpp>

#include "ember/cluster/backend.hpp"
#include "ember/request_deadline.hpp"
#include "routetest.hpp"
#include "routetest_server.hpp"
#include "support/run.hpp"

namespace ember::test {

class route_game final : public routetest::game_handler {
 public:
  route_game(asio::any_io_executor ex, std::string name)
      : name_(name), backend_(ex, cluster::backend_options{name, "game"}, table()) {
    backend_.on_session_closed([this](net::session& s) { closed.push_back(s.id()); });
  }

  cluster::backend& backend() noexcept { return backend_; }
  /// From now on a retry of `step` (same request id) runs again: the command opted out.
  void run_step_retries() {
    auto t = table();
    t->run_retries(routetest::cmd::step::id);
    backend_.set_table(std::move(t));
  }
  const std::string& name() const noexcept { return name_; }
  /// The groups `join` was asked for here, in order (which instance a request reached).
  std::vector<std::string> joined;

  std::vector<std::uint32_t> steps;   ///< `step` numbers, in the order they finished
  int busy_steps = 0;                 ///< `step`s still to refuse as not run (`unavailable`)
  std::vector<std::uint64_t> closed;  ///< sessions whose end this backend heard
  /// The timeout `whoami` would give its own calls (its request's deadline less a margin).
  std::chrono::milliseconds budget{0};
  /// The deadline the last `whoami` or `step` found on its coroutine's executor (what the data
  /// layer's reads keep to, ember/request_deadline.hpp), and on its session.
  std::optional<std::chrono::steady_clock::time_point> executor_deadline, session_deadline;

  asio::awaitable<routetest::login_reply> login(net::session& s,
                                                const routetest::login_request& r) override {
    s.bind_user(r.user);
    if (r.stay) backend_.bind_here(s);
    co_return routetest::login_reply{name_};
  }
  asio::awaitable<routetest::whoami_reply> whoami(net::session& s,
                                                  const routetest::whoami_request&) override {
    budget = net::within_deadline(s, std::chrono::minutes(1)).timeout;
    executor_deadline = ember::request_deadline(co_await asio::this_coro::executor);
    session_deadline = s.deadline();
    co_return routetest::whoami_reply{name_, s.id(), s.user().value_or(0)};
  }
  asio::awaitable<routetest::join_reply> join(net::session& s,
                                              const routetest::join_request& r) override {
    s.join(r.group);
    joined.push_back(r.group);
    co_return routetest::join_reply{};
  }
  asio::awaitable<routetest::say_reply> say(net::session& s,
                                            const routetest::say_request& r) override {
    s.broadcast(r.group, routetest::said{r.text});
    co_return routetest::say_reply{};
  }
  asio::awaitable<routetest::note_me_reply> note_me(net::session& s,
                                                    const routetest::note_me_request& r) override {
    s.push(routetest::note{r.text});
    co_return routetest::note_me_reply{};
  }
  asio::awaitable<routetest::note_user_reply> note_user(
      net::session&, const routetest::note_user_request& r) override {
    backend_.push_to_user(r.user, routetest::note{r.text});
    co_return routetest::note_user_reply{};
  }
  asio::awaitable<routetest::quit_reply> quit(net::session& s,
                                              const routetest::quit_request&) override {
    s.close("bye");
    co_return routetest::quit_reply{};
  }
  asio::awaitable<routetest::step_reply> step(net::session& s,
                                              const routetest::step_request& r) override {
    executor_deadline = ember::request_deadline(co_await asio::this_coro::executor);
    session_deadline = s.deadline();
    if (r.delay_ms) co_await sleep(std::chrono::milliseconds(r.delay_ms));
    if (busy_steps > 0) {  // "not run, retry", as a game whose player is busy elsewhere says
      --busy_steps;
      throw ember::game_error(ember::status::unavailable, "busy, try again");
    }
    steps.push_back(r.n);
    co_return routetest::step_reply{r.n};
  }
  asio::awaitable<routetest::runs_reply> runs(net::session&,
                                            const routetest::runs_request& r) override {
    co_return routetest::runs_reply{
        static_cast<std::uint32_t>(std::count(steps.begin(), steps.end(), r.n))};
  }
  asio::awaitable<routetest::refuse_reply> refuse(net::session&,
                                                  const routetest::refuse_request&) override {
    routetest::fail(routetest::error::refused);
    co_return routetest::refuse_reply{};
  }
  asio::awaitable<routetest::script_reply> script(net::session& s,
                                                  const routetest::script_request&) override {
    s.join("a");
    s.set_attribute("k", "v");
    s.push(routetest::note{"hello"});
    s.bind_user(9);
    s.close("done");
    co_return routetest::script_reply{};
  }

 private:
  std::shared_ptr<net::dispatch_table> table() {
    auto t = std::make_shared<net::dispatch_table>();
    routetest::register_commands(*t, *this);
    return t;
  }

  std::string name_;
  cluster::backend backend_;
};

}  // namespace ember::test
