// Built by compile_accepted.py against the C++ generated from tests/codegen/accepted/*.toml,
// with header-only ember and -Wall -Wextra -Wpedantic -Werror, then run: it registers a handler
// of every server type and prints what the schemas' odd names and texts became, which the
// script compares with the schemas.
#include "aging_client.hpp"
#include "aging_server.hpp"
#include "prose_client.hpp"
#include "prose_server.hpp"
#include "tricky_client.hpp"
#include "tricky_server.hpp"

#include "aging.cpp"
#include "prose.cpp"
#include "tricky.cpp"

#include <fmt/core.h>

namespace {

class tricky_gate final : public tricky::gate_handler {
 public:
  asio::awaitable<tricky::login_reply> login(ember::net::session&,
                                             const tricky::login_request& r) override {
    co_return tricky::login_reply{static_cast<std::uint32_t>(r.user.size()), 2};
  }
  asio::awaitable<tricky::login_reply_reply> login_reply(
      ember::net::session&, const tricky::login_reply_request&) override {
    co_return tricky::login_reply_reply{};
  }
  asio::awaitable<tricky::req_reply> req(ember::net::session&, const tricky::req_request&) override {
    co_return tricky::req_reply{tricky::codec::class_};
  }
  asio::awaitable<tricky::s_reply> s(ember::net::session&, const tricky::s_request&) override {
    co_return tricky::s_reply{};
  }
  asio::awaitable<tricky::Cmd_reply> Cmd(ember::net::session&, const tricky::Cmd_request&) override {
    co_return tricky::Cmd_reply{std::uint8_t{1}};
  }
};

class prose_desk final : public prose::desk_handler {
 public:
  asio::awaitable<prose::write_reply> write(ember::net::session&,
                                            const prose::write_request&) override {
    co_return prose::write_reply{};
  }
};

// Implements the deprecated command and call (a server must answer older clients) without
// naming anything deprecated: no warning.
class aging_gate final : public aging::gate_handler {
 public:
  asio::awaitable<aging::old_login_reply> old_login(ember::net::session&,
                                                    const aging::old_login_request&) override {
    co_return aging::old_login_reply{};
  }
  asio::awaitable<aging::login_reply> login(ember::net::session&,
                                            const aging::login_request& r) override {
    aging::profile p;
    p.nick = r.user;
    co_return aging::login_reply{std::move(p)};
  }
  asio::awaitable<aging::old_kick_reply> old_kick(ember::net::session&,
                                                  const aging::old_kick_request&) override {
    co_return aging::old_kick_reply{};
  }
};

}  // namespace

int main() {
  tricky_gate tg;
  prose_desk pd;
  aging_gate ag;
  ember::net::dispatch_table tt, pt, at;
  tricky::register_commands(tt, tg);
  prose::register_commands(pt, pd);
  aging::register_commands(at, ag);
  if (tt.size() != 5 || pt.size() != 1 || at.size() != 3) {
    fmt::print(stderr, "registered {} {} {} commands\n", tt.size(), pt.size(), at.size());
    return 1;
  }
  tricky::fields_of f;
  f.error = tricky::codec::default_;
  f.codec = tricky::codec::EOF_;
  f.string = "s";
  fmt::print("{}\n", f);
  fmt::print("{} {} {}\n", to_string(tricky::codec::linux_), to_string(tricky::codec::tricky),
             to_string(tricky::codec::class_));
  for (auto e : {prose::error::quoted, prose::error::two_lines, prose::error::unicode}) {
    fmt::print("{}\x1e", prose::error_message(e));
  }
  return 0;
}
