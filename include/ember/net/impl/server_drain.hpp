// ember: draining a client-facing server: its sessions told to resume on another server of
// the cluster, and handed over to it — state, groups, user, unacknowledged outbox — when that
// server asks with the client's token (PROTOCOL.md §3, "Moving to another server").
#pragma once

#include "ember/net/server.hpp"

#include <array>
#include <memory>
#include <span>
#include <stdexcept>
#include <string_view>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <fmt/format.h>
#include <sodium.h>

#include "ember/codec/codec.hpp"
#include "ember/log.hpp"
#include "ember/net/detail/use_tuple.hpp"
#include "ember/net/detail/tls_channel.hpp"
#include "ember/wire/encoder.hpp"

namespace ember::net {
namespace detail {

// What a server taking a session over sends with the token (PROTOCOL.md §3): BLAKE2b-256 of
// the token, keyed with a hash of the shared secret (a secret of any length, separated from
// its other uses by the prefix).
inline wire::resume_token take_over_proof(std::string_view secret, const wire::resume_token& token) {
  std::array<unsigned char, crypto_generichash_KEYBYTES> key;
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, key.size());
  static constexpr char prefix[] = "ember take-over";  // with its '\0'
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(prefix), sizeof prefix);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
  crypto_generichash_final(&st, key.data(), key.size());
  wire::resume_token proof;
  crypto_generichash(proof.data(), proof.size(), token.data(), token.size(), key.data(), key.size());
  return proof;
}

}  // namespace detail

namespace detail {
/// The command of the `handshake` frame that carries a handed-over session's state.
inline constexpr std::uint16_t handed_session_command = 1;

inline void log_failure(const std::string& name, std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    log::error("{}: {}", name, x.what());
  }
}
}  // namespace detail

EMBER_DECL asio::awaitable<drain_result> server::drain(std::chrono::milliseconds deadline) {
  if (options_.resume_peers.empty())
    throw std::logic_error(fmt::format(
        "{}: cannot drain: no other client-facing server to move its sessions to "
        "(server_options::resume_peers is empty)", options_.name));
  if (options_.peer_secret.empty())
    throw std::logic_error(fmt::format(
        "{}: cannot drain: no secret shared with the other servers to hand sessions over with "
        "(server_options::peer_secret is empty; config.json's \"secret\")", options_.name));
  const auto start = std::chrono::steady_clock::now();
  draining_ = true;
  log::info("{}: draining: {} sessions move to {} other server(s)", options_.name,
            sessions_.size(), options_.resume_peers.size());
  drain_result r;
  const std::uint64_t moved_before = stats_.moved_out;
  std::vector<std::weak_ptr<detail::tcp_session>> told;
  std::vector<std::shared_ptr<detail::tcp_session>> all;
  for (auto& [id, s] : sessions_)
    if (s->is_open() && !s->moved()) all.push_back(s);
  // In turn over the peers; a WebSocket session over those with a WebSocket listener (its
  // client reconnects the way it came: a browser has no other).
  std::vector<const resume_peer*> ws_peers;
  for (const auto& p : options_.resume_peers)
    if (p.websocket_port != 0) ws_peers.push_back(&p);
  std::size_t next = 0, next_ws = 0;
  for (auto& s : all) {
    const bool ws = s->came_in_on() == listener::websocket;
    if (!s->resumable_ || (ws && ws_peers.empty())) {
      s->close_with(status::shutting_down, "this server drains: connect to another one");
      ++r.closed;
      continue;
    }
    if (ws) {
      const resume_peer& p = *ws_peers[next_ws++ % ws_peers.size()];
      s->tell_moved(p.host, p.websocket_port);
    } else {
      const resume_peer& p = options_.resume_peers[next++ % options_.resume_peers.size()];
      s->tell_moved(p.host, p.port);
    }
    told.push_back(s);
    ++r.told;
  }
  all.clear();
  // Each client resumes on its new server, which takes its session from here; a parked one
  // gets the push when it comes back (here), or expires.
  auto here = [&] {
    std::size_t n = 0;
    for (auto& w : told)
      if (auto s = w.lock(); s && s->is_open()) ++n;
    return n;
  };
  std::weak_ptr<bool> alive = alive_;
  asio::steady_timer t(io_);
  while (here() > 0 && std::chrono::steady_clock::now() - start < deadline) {
    t.expires_after(std::chrono::milliseconds(5));
    co_await t.async_wait(detail::use_tuple);
    if (alive.expired()) co_return r;
  }
  r.left = here();
  r.moved = stats_.moved_out - moved_before;
  r.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  log::info("{}: drained in {} ms: {} sessions moved, {} closed (they cannot move), {} left",
            options_.name, r.took.count(), r.moved, r.closed, r.left);
  co_return r;
}

EMBER_DECL bool server::take_over(detail::tcp_session& fresh, const wire::client_hello& hello) {
  const std::uint64_t home = detail::token_home(hello.token);
  for (std::size_t i = 0; i < options_.resume_peers.size(); ++i) {
    if (detail::token_home(options_.resume_peers[i].name) != home) continue;
    if (fresh.output_.writing()) return false;
    // Not a session yet: should its client go away meanwhile, nobody is told it closed.
    fresh.moved_ = true;
    fresh.peer_ = true;
    asio::co_spawn(io_, take_over_from(i, fresh.shared_from_this(), hello),
                   [name = options_.name](std::exception_ptr e) { detail::log_failure(name, e); });
    return true;
  }
  return false;
}

EMBER_DECL asio::awaitable<void> server::take_over_from(std::size_t peer,
                                                       std::shared_ptr<detail::tcp_session> fresh,
                                                       wire::client_hello hello) {
  std::weak_ptr<bool> alive = alive_;
  const resume_peer p = options_.resume_peers[peer];
  asio::ip::tcp::socket home(io_);
  // The old server waits for the session's requests (up to half this) before it answers.
  asio::steady_timer deadline(io_, options_.handshake_timeout);
  deadline.async_wait([&home](std::error_code ec) {
    if (ec) return;
    std::error_code ignored;
    home.close(ignored);
  });
  asio::ip::tcp::resolver resolver(io_);
  auto [rec, results] = co_await resolver.async_resolve(p.host, std::to_string(p.port), detail::use_tuple);
  std::error_code ec = rec;
  if (!ec) std::tie(ec, std::ignore) = co_await asio::async_connect(home, results, detail::use_tuple);
  // Through TLS when the peer's client port speaks it (checked with its CA, as a relay is).
  std::unique_ptr<detail::tls_channel> tls;
  if (!ec && peer_tls_[peer]) {
    tls = std::make_unique<detail::tls_channel>(peer_tls_[peer], false, p.host);
    ec = co_await detail::tls_handshake(home, *tls);
  }
  buffer out;
  wire::client_hello ask = hello;
  ask.take_over = true;
  ask.moved = false;
  ask.proof = detail::take_over_proof(options_.peer_secret, hello.token);
  (void)wire::append_frame(out, {.kind = wire::frame_kind::handshake},
                           [&](buffer& b) { ask.encode(b); });
  if (!ec) ec = co_await detail::write_all(home, tls.get(), out.view());
  std::array<std::byte, wire::native_header_size> head;
  if (!ec) ec = co_await detail::read_exactly(home, tls.get(), head);
  wire::frame_header h;
  buffer body;
  // A session's state is its outbox (bounded by `resume_outbox` there) and small things.
  const std::size_t bound = options_.resume_outbox + options_.max_write_queue;
  if (!ec) {
    h = wire::read_header(head.data());
    if (h.length > bound) ec = make_error_code(errc::frame_too_large);
  }
  if (!ec) {
    ec = co_await detail::read_exactly(home, tls.get(), std::span<std::byte>(body.prepare(h.length), h.length));
    if (!ec) body.commit(h.length);
  }
  deadline.cancel();
  if (alive.expired()) co_return;
  const std::string who = fmt::format("{}: session of {} on {}", options_.name, fresh->remote_, p.name);
  if (ec) {
    // The old server is gone (or slow): the client tries again (here), or its session is lost.
    log::warn("{}: not taken over: {}{}{}", who, ec.message(), tls && detail::is_tls_error(ec) ? ": " : "",
              tls && detail::is_tls_error(ec) ? tls->failure() : std::string());
    fresh->abort(ec);
    co_return;
  }
  if (h.kind == wire::frame_kind::error) {
    codec::error_body e;
    codec::binary_reader reader(body.view());  // binary only: no JSON reader needed here
    (void)codec::decode_binary(reader, e);
    log::info("{}: not taken over: {} (status {})", who, e.message, e.status);
    if (!fresh->is_open()) co_return;
    if (e.status == std::uint16_t(status::unavailable)) {
      // It does not drain: it keeps the session, and the client reaches it through a relay.
      relay_to_home(*fresh, hello);
    } else if (e.status == std::uint16_t(status::session_expired)) {
      fresh->send_error(0, 0, codec::encoding::binary, status::session_expired,
                        "the session expired (or the token is not valid): log in again");
      fresh->close("resume refused");
    } else {
      fresh->abort(make_error_code(errc::timeout));  // busy there: the client resumes again
    }
    co_return;
  }
  std::optional<detail::handed_session> state;
  if (h.kind == wire::frame_kind::handshake && h.command == detail::handed_session_command)
    state = detail::handed_session::decode(body.view());
  if (!state) {
    log::error("{}: the state it handed over does not decode; the session is lost", who);
    if (fresh->is_open()) {
      fresh->send_error(0, 0, codec::encoding::binary, status::session_expired,
                        "the session could not be moved: log in again");
      fresh->close("resume refused");
    }
    co_return;
  }
  auto s = std::make_shared<detail::tcp_session>(*this, asio::ip::tcp::socket(io_), ++next_id_);
  sessions_.emplace(s->id(), s);
  const std::uint64_t from_id = state->session_id;
  s->restore(std::move(*state), hello.token);
  ++stats_.moved_in;
  for (auto& f : on_arrived_) f(*s, p.name, from_id);
  log::info("{}: taken over as session {} ({} frames to resend)", who, s->id(),
            s->outbox_.sent() - s->outbox_.acked());
  // Its client resumes it now, or (this connection lost meanwhile) on its next try, here.
  if (fresh->is_open() && s->outbox_.can_resume_from(hello.received)) s->resume_on(*fresh, hello);
}

EMBER_DECL void server::serve_take_over(detail::tcp_session& peer, const wire::client_hello& hello) {
  peer.moved_ = true;  // not a client's session: it ends without callbacks
  peer.peer_ = true;
  detail::tcp_session* s = find_resumable(hello.token);
  auto refuse = [&](status why, std::string_view message) {
    peer.send_error(0, 0, codec::encoding::binary, why, message);
    peer.close("take-over refused");
  };
  // Only a server that knows the shared secret gets a session's state; anyone else (a client
  // that set the flag, a server of another cluster) is answered as by a server that does not
  // drain, so a real peer relays the client here and the session stays.
  const auto proof = detail::take_over_proof(options_.peer_secret, hello.token);
  if (options_.peer_secret.empty() ||
      sodium_memcmp(proof.data(), hello.proof.data(), proof.size()) != 0) {
    log::warn("{}: a take-over from {} without the servers' secret refused (do the servers' "
              "peer_secret, config.json's \"secret\", differ?)", options_.name, peer.remote_);
    return refuse(status::unavailable, "no take-over without the servers' secret: relay the client");
  }
  if (!s || s->moved() || !s->outbox_.can_resume_from(hello.received))
    return refuse(status::session_expired, "no session for that token");
  if (!draining_) return refuse(status::unavailable, "this server does not drain: relay the client");
  asio::co_spawn(io_, hand_over(peer.shared_from_this(), s->shared_from_this(), hello.received),
                 [name = options_.name](std::exception_ptr e) { detail::log_failure(name, e); });
}

EMBER_DECL asio::awaitable<void> server::hand_over(std::shared_ptr<detail::tcp_session> peer,
                                                  std::shared_ptr<detail::tcp_session> s,
                                                  std::uint32_t received) {
  // Its client resumes elsewhere: whatever connection it still has here is an old one.
  if (s->state_ == detail::tcp_session::state::open)
    s->lose_connection(make_error_code(errc::disconnected));
  // Requests the client sent here finish here (their replies join the outbox); nothing new
  // arrives, as the client talks to the peer now.
  const auto until = std::chrono::steady_clock::now() + options_.handshake_timeout / 2;
  std::weak_ptr<bool> alive = alive_;
  asio::steady_timer t(io_);
  while (s->is_open() && !s->settled() && std::chrono::steady_clock::now() < until) {
    t.expires_after(std::chrono::milliseconds(2));
    co_await t.async_wait(detail::use_tuple);
    if (alive.expired()) co_return;
  }
  if (!peer->is_open()) co_return;
  if (!s->parked() || !s->settled() || !s->outbox_.can_resume_from(received)) {
    peer->send_error(0, 0, codec::encoding::binary,
                     s->is_open() ? status::timeout : status::session_expired,
                     s->is_open() ? "its requests are still running: try again"
                                  : "the session ended");
    peer->close("take-over refused");
    co_return;
  }
  auto state = s->handed();
  auto ec = peer->append_frame(wire::frame_kind::handshake, detail::handed_session_command, 0,
                               codec::encoding::binary, [&](buffer& b) { state.encode(b); });
  if (ec) {
    log::error("{}: session {} is too large to hand over ({}); it stays", options_.name, s->id(),
               ec.message());
    peer->send_error(0, 0, codec::encoding::binary, status::session_expired, "too large to move");
    peer->close("take-over refused");
    co_return;
  }
  peer->queued();
  peer->close("session handed over");
  log::info("{}: session {} handed over to {} (user {}, {} groups, {} frames unacknowledged)",
            options_.name, s->id(), peer->remote_, state.user, state.groups.size(),
            state.outbox_sent - state.outbox_acked);
  s->end_moved();
  ++stats_.moved_out;
}

}  // namespace ember::net
