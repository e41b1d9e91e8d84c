// Compiled by compile_accepted.py against the C++ generated from
// tests/codegen/accepted/deprecated.toml: a program that uses what the schema deprecates gets a
// warning for each use (and with -Werror does not compile). Each line marked `warns` must get
// one, with the schema's reason where it gives one.
#include "aging_client.hpp"
#include "aging_server.hpp"

struct fake_link {
  template <class Cmd>
  typename Cmd::reply call(const typename Cmd::request&, ember::net::call_options) {
    return {};
  }
};

void use(aging::profile& p, aging::client_stub& stub, fake_link& link) {
  p.title = "sir";                                        // warns: field, with a reason
  p.level = 3;                                            // warns: field, without one
  (void)aging::cmd::old_login::id;                        // warns: command descriptor
  (void)stub.old_login(aging::old_login_request{"me"});   // warns: client_stub method
  stub.on_old_tick([](const aging::old_tick&) {});        // warns: push handler and push struct
  aging::call_stub(link).old_kick(aging::old_kick_request{"x"});  // warns: call_stub method
}
