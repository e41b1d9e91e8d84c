// ember: a server's resume tokens: which server issued one, new tokens, and relaying a client
// that resumes with another server's token to that server.
#pragma once

#include "ember/net/server.hpp"

#include <cstring>

#include <asio/post.hpp>
#include <fmt/format.h>
#include <sodium.h>

#include "ember/log.hpp"
#include "ember/wire/encoder.hpp"

namespace ember::net {

namespace detail {
/// Which server issued a resume token: its first 8 bytes (the rest are random).
EMBER_DECL std::uint64_t token_home(std::string_view server_name) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
  for (char c : server_name) h = (h ^ std::uint8_t(c)) * 0x100000001b3ULL;
  return h;
}
EMBER_DECL std::uint64_t token_home(const wire::resume_token& t) noexcept {
  std::uint64_t h;
  std::memcpy(&h, t.data(), sizeof h);
  return h;
}
}  // namespace detail

EMBER_DECL void server::new_token(detail::tcp_session& s, wire::resume_token& token) {
  const std::uint64_t home = detail::token_home(options_.name);
  std::memcpy(token.data(), &home, sizeof home);
  do randombytes_buf(token.data() + sizeof home, token.size() - sizeof home);
  while (!resumable_.try_emplace(token, &s).second);
}

EMBER_DECL bool server::relay_to_home(detail::tcp_session& fresh, const wire::client_hello& hello) {
  const std::uint64_t home = detail::token_home(hello.token);
  if (home == detail::token_home(options_.name)) return false;
  std::size_t peer = options_.resume_peers.size();
  for (std::size_t i = 0; i < options_.resume_peers.size(); ++i)
    if (detail::token_home(options_.resume_peers[i].name) == home) peer = i;
  if (peer == options_.resume_peers.size()) return false;
  const resume_peer& p = options_.resume_peers[peer];
  if (fresh.output_.writing()) {
    // Not seen in practice (what precedes the hello is an upgrade answer or TLS handshake,
    // written at once): the relay would write beside a write of the session.
    log::warn("{}: session resumed by {} lives on {}, but its connection is still writing; "
              "refused", options_.name, fresh.remote_, p.name);
    return false;
  }
  log::info("{}: session resumed by {} lives on {}; relaying{}{}", options_.name, fresh.remote_,
            p.name, fresh.ws_ ? " (WebSocket)" : "", fresh.tls_ ? " (TLS)" : "");
  buffer first;
  (void)wire::append_frame(first, {.kind = wire::frame_kind::handshake},
                           [&](buffer& b) { hello.encode(b); });
  // The connection goes to the relay with its transport and what it has not written yet.
  if (fresh.ws_) fresh.ws_seal();
  auto r = std::make_shared<detail::relay>(
      std::move(fresh.socket_), std::move(fresh.tls_), std::move(fresh.ws_),
      fresh.output_.pending().view(),
      detail::relay::limits{.max_frame = options_.max_frame,
                            .max_write_queue = options_.max_write_queue,
                            .handshake_timeout = options_.handshake_timeout,
                            .frame_timeout = options_.frame_timeout},
      fmt::format("{}: relay of {} to {}", options_.name, fresh.remote_, p.name));
  fresh.clear_output();
  std::erase_if(relays_, [](const auto& w) { return w.expired(); });
  relays_.push_back(r);
  fresh.drop_address();
  fresh.merged_ = true;
  fresh.state_ = detail::tcp_session::state::closed;
  asio::post(io_, [f = fresh.shared_from_this()] { f->teardown(); });
  r->start(p.host, p.port, peer_tls_[peer], std::move(first));
  return true;
}

EMBER_DECL std::size_t server::parked_count() const noexcept {
  std::size_t n = 0;
  for (const auto& [id, s] : sessions_) n += s->parked();
  return n;
}

}  // namespace ember::net
