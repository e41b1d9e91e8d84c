// ember: bodies of the link handshake (included by ember/cluster/detail/auth_exchange.hpp).
#pragma once

#include "ember/cluster/detail/auth_exchange.hpp"

#include <asio/read.hpp>

namespace ember::cluster::detail {

EMBER_DECL asio::awaitable<std::string> read_auth_frame(asio::ip::tcp::socket& s,
                                                        net::detail::tls_channel* tls,
                                                        auth_step step, buffer& body) {
  std::byte head[wire::native_header_size];
  auto ec = co_await net::detail::read_exactly(s, tls, std::span<std::byte>(head, sizeof head));
  if (ec) co_return "connection lost during authentication (" + ec.message() + ")";
  const wire::frame_header h = wire::read_header(head);
  if (h.kind != wire::frame_kind::handshake || h.command != static_cast<std::uint16_t>(step))
    co_return "expected handshake step " + std::to_string(static_cast<int>(step));
  if (h.length > max_auth_body) co_return "handshake frame too large";
  body.clear();
  body.prepare(h.length);
  body.commit(h.length);
  auto bec = co_await net::detail::read_exactly(s, tls, std::span<std::byte>(body.data(), h.length));
  if (bec) co_return "connection lost during authentication (" + bec.message() + ")";
  co_return std::string{};
}

EMBER_DECL auth_attempt::auth_attempt(asio::ip::tcp::socket& s,
                                      std::chrono::milliseconds timeout)
    : timer_(s.get_executor(), timeout), expired_(std::make_shared<bool>(false)) {
  timer_.async_wait([&s, expired = expired_](std::error_code ec) {
    if (ec) return;
    *expired = true;
    std::error_code ignored;
    s.close(ignored);
  });
}

EMBER_DECL auth_attempt::~auth_attempt() { timer_.cancel(); }

EMBER_DECL auth_result auth_attempt::fail(std::string why) {
  result.reason = expired() ? "authentication timed out" : std::move(why);
  return result;
}

EMBER_DECL auth_result auth_attempt::finish() { return expired() ? fail({}) : result; }

EMBER_DECL asio::awaitable<auth_result> authenticate_node(asio::ip::tcp::socket& s,
                                                          net::detail::tls_channel* tls,
                                                          const link_key& key,
                                                          std::string root_name,
                                                          std::chrono::milliseconds timeout) {
  auth_attempt at(s, timeout);
  if (tls) {
    if (auto ec = co_await net::detail::tls_handshake(s, *tls))
      co_return at.fail("TLS handshake failed: " +
                        (tls->failure().empty() ? ec.message() : tls->failure()));
  }
  auth_challenge c;
  c.challenge = random_nonce();
  if (auto ec = co_await write_auth_frame(s, tls, auth_step::challenge, c))
    co_return at.fail("could not send the challenge (" + ec.message() + ")");
  buffer body;
  if (auto why = co_await read_auth_frame(s, tls, auth_step::hello, body); !why.empty())
    co_return at.fail(std::move(why));
  auto hello = auth_hello::decode(body.view());
  if (!hello) co_return at.fail("malformed hello");
  at.result.peer_name = hello->name;
  at.result.peer_type = hello->type;
  if (hello->name.empty()) co_return at.fail("empty node name");
  if (!verify_node_mac(key, hello->mac, c.challenge, hello->nonce, hello->name, hello->type))
    co_return at.fail("wrong MAC (not the cluster's secret)");
  auth_accept a;
  a.root_name = root_name;
  a.mac = root_mac(key, c.challenge, hello->nonce, root_name);
  if (auto ec = co_await write_auth_frame(s, tls, auth_step::accept, a))
    co_return at.fail("could not send the answer (" + ec.message() + ")");
  co_return at.finish();
}

EMBER_DECL asio::awaitable<auth_result> authenticate_root(asio::ip::tcp::socket& s,
                                                          net::detail::tls_channel* tls,
                                                          const link_key& key, std::string name,
                                                          std::string type,
                                                          std::string expected_root,
                                                          std::chrono::milliseconds timeout) {
  auth_attempt at(s, timeout);
  if (tls) {
    if (auto ec = co_await net::detail::tls_handshake(s, *tls))
      co_return at.fail("TLS handshake failed: " +
                        (tls->failure().empty() ? ec.message() : tls->failure()));
  }
  buffer body;
  if (auto why = co_await read_auth_frame(s, tls, auth_step::challenge, body); !why.empty())
    co_return at.fail(std::move(why));
  auto c = auth_challenge::decode(body.view());
  if (!c) co_return at.fail("malformed challenge");
  if (c->version != link_protocol_version)
    co_return at.fail("root speaks link protocol " + std::to_string(c->version));
  auth_hello h;
  h.nonce = random_nonce();
  h.name = name;
  h.type = type;
  h.mac = node_mac(key, c->challenge, h.nonce, name, type);
  if (auto ec = co_await write_auth_frame(s, tls, auth_step::hello, h))
    co_return at.fail("could not send the hello (" + ec.message() + ")");
  if (auto why = co_await read_auth_frame(s, tls, auth_step::accept, body); !why.empty())
    co_return at.fail(why + "; refused by the root?");
  auto a = auth_accept::decode(body.view());
  if (!a) co_return at.fail("malformed answer");
  at.result.peer_name = a->root_name;
  if (!verify_root_mac(key, a->mac, c->challenge, h.nonce, a->root_name))
    co_return at.fail("root failed authentication: wrong MAC (not the cluster's secret)");
  if (!expected_root.empty() && a->root_name != expected_root)
    co_return at.fail("root is '" + a->root_name + "', expected '" + expected_root + "'");
  co_return at.finish();
}

}  // namespace ember::cluster::detail
