// Test support: `ember::modules::players` for the module tests — it records every push a
// module makes (to whom, which push, its binary body), and hands it on to a server's session
// of that player once the test sets `server` (a server made after the service).
#pragma once

#include <cstdint>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "ember/buffer.hpp"
#include "ember/codec/codec.hpp"
#include "ember/modules/server_players.hpp"
#include "ember/net/server.hpp"

namespace ember::test {

class test_players final : public modules::players {
 public:
  struct push {
    std::uint64_t user;
    std::uint16_t id;
    buffer body;  // binary encoding
  };

  void push_body(std::uint64_t user, std::uint16_t push_id, const net::body_writer& body) override {
    push p{user, push_id, {}};
    body(p.body, codec::encoding::binary);
    pushes.push_back(std::move(p));
    if (server) modules::server_players(*server).push_body(user, push_id, body);
  }

  /// The pushes of type P to `user`, decoded, in order.
  template <class P>
  std::vector<P> to(std::uint64_t user) const {
    std::vector<P> out;
    for (const auto& p : pushes) {
      if (p.user != user || p.id != P::push_id) continue;
      P v{};
      BOOST_REQUIRE(!codec::decode(p.body.view(), codec::encoding::binary, v));
      out.push_back(std::move(v));
    }
    return out;
  }

  /// Who each push went to, in order.
  std::vector<std::uint64_t> pushed_to() const {
    std::vector<std::uint64_t> out;
    for (const auto& p : pushes) out.push_back(p.user);
    return out;
  }

  std::vector<push> pushes;
  net::server* server = nullptr;  ///< also delivers to this server's sessions when set
};

}  // namespace ember::test
