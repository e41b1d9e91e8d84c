// ember: a server's pushes from outside a handler: to one session, to a group, to everyone.
#pragma once

#include "ember/net/server.hpp"

namespace ember::net {

// The one loop of every broadcast: the open members of `group`, or every open session when
// `group` is empty. Returns how many `f` was called for.
template <class F>
std::size_t server::for_each_open(std::string_view group, F&& f) {
  std::size_t count = 0;
  auto visit = [&](detail::tcp_session& s) {
    if (!s.is_open()) return;
    f(s);
    ++count;
  };
  if (group.empty()) {
    for (auto& [id, s] : sessions_) visit(*s);
  } else {
    for (group_member* m : groups_.members(group)) visit(static_cast<detail::tcp_session&>(*m));
  }
  return count;
}

EMBER_DECL bool server::push_encoded(std::uint64_t session_id, std::uint16_t push_id,
                                 bytes_view binary, bytes_view json) {
  auto* s = find_session(session_id);
  if (!s || !s->is_open()) return false;
  s->push_encoded(push_id, s->push_encoding(),
                  s->push_encoding() == codec::encoding::json ? json : binary);
  return true;
}

EMBER_DECL std::size_t server::broadcast_encoded(std::string_view group, std::uint16_t push_id,
                                             bytes_view binary, bytes_view json) {
  ++stats_.broadcasts;
  return for_each_open(group, [&](detail::tcp_session& s) {
    s.push_encoded(push_id, s.push_encoding(),
                   s.push_encoding() == codec::encoding::json ? json : binary);
  });
}

EMBER_DECL std::size_t server::broadcast_body(std::string_view group, std::uint16_t push_id,
                                          const body_writer& body) {
  ++stats_.broadcasts;
  buffer encoded[2];
  bool ready[2] = {false, false};
  return for_each_open(group, [&](detail::tcp_session& s) {
    auto enc = s.push_encoding();
    auto i = static_cast<std::size_t>(enc);
    if (!ready[i]) {
      body(encoded[i], enc);
      ready[i] = true;
    }
    s.push_encoded(push_id, enc, encoded[i].view());
  });
}

EMBER_DECL std::size_t server::queued_bytes() const noexcept {
  std::size_t n = 0;
  for (const auto& [id, s] : sessions_) n += s->queued_bytes();
  return n;
}

}  // namespace ember::net
