// ember: bodies of the TLS channel and contexts: asio::ssl::context for the certificates and
// settings, and one OpenSSL SSL object per connection over two memory BIOs.
#pragma once

#include "ember/net/detail/tls_channel.hpp"

#include <array>
#include <climits>
#include <stdexcept>

#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/address.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/error.hpp>
#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace ember::net::detail {

struct tls_context {
  explicit tls_context(asio::ssl::context::method m) : ctx(m) {}
  asio::ssl::context ctx;
  std::string server_name;  // a client's expected name (empty: the host connected to)
};

namespace tls {

// TLS 1.2 at least (1.3 is preferred: OpenSSL offers the highest both ends speak), no
// compression, no renegotiation (a renegotiation is a way to make a server work, and ember's
// peers never need one).
inline void harden(asio::ssl::context& c) {
  c.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression |
                asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                asio::ssl::context::single_dh_use);
  SSL_CTX* h = c.native_handle();
  SSL_CTX_set_min_proto_version(h, TLS1_2_VERSION);
  SSL_CTX_set_options(h, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // An idle connection gives its 2 x ~17 KiB record buffers back.
  SSL_CTX_set_mode(h, SSL_MODE_RELEASE_BUFFERS);
  // No session tickets: a server would send them after the handshake, unasked, on a
  // connection a resuming ember session may take over; and no session cache to bound.
  SSL_CTX_set_num_tickets(h, 0);
  SSL_CTX_set_session_cache_mode(h, SSL_SESS_CACHE_OFF);
}

// Loads `file` with `load`, or throws naming the file and OpenSSL's reason.
template <class F>
void load(std::string_view what, const std::string& file, F&& f) {
  std::error_code ec;
  f(ec);
  if (ec)
    throw std::runtime_error(fmt::format("TLS {} '{}': {}", what, file, ec.message()));
}

}  // namespace tls

EMBER_DECL std::shared_ptr<const tls_context> make_tls_context(const tls_server_options& o) {
  auto t = std::make_shared<tls_context>(asio::ssl::context::tls_server);
  auto& c = t->ctx;
  tls::harden(c);
  tls::load("certificate", o.cert_file,
            [&](std::error_code& ec) { c.use_certificate_chain_file(o.cert_file, ec); });
  tls::load("private key", o.key_file, [&](std::error_code& ec) {
    c.use_private_key_file(o.key_file, asio::ssl::context::pem, ec);
  });
  if (SSL_CTX_check_private_key(c.native_handle()) != 1)
    throw std::runtime_error(fmt::format("TLS private key '{}' does not match certificate '{}'",
                                         o.key_file, o.cert_file));
  if (!o.ca_file.empty()) {
    tls::load("CA file", o.ca_file, [&](std::error_code& ec) { c.load_verify_file(o.ca_file, ec); });
    c.set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
  }
  return t;
}

EMBER_DECL std::shared_ptr<const tls_context> make_tls_context(const tls_client_options& o) {
  auto t = std::make_shared<tls_context>(asio::ssl::context::tls_client);
  auto& c = t->ctx;
  tls::harden(c);
  if (o.ca_file.empty())
    c.set_default_verify_paths();
  else
    tls::load("CA file", o.ca_file, [&](std::error_code& ec) { c.load_verify_file(o.ca_file, ec); });
  if (!o.cert_file.empty()) {
    tls::load("certificate", o.cert_file,
              [&](std::error_code& ec) { c.use_certificate_chain_file(o.cert_file, ec); });
    tls::load("private key", o.key_file, [&](std::error_code& ec) {
      c.use_private_key_file(o.key_file, asio::ssl::context::pem, ec);
    });
  }
  c.set_verify_mode(asio::ssl::verify_peer);
  t->server_name = o.server_name;
  return t;
}

EMBER_DECL tls_channel::tls_channel(std::shared_ptr<const tls_context> context, bool server,
                                    const std::string& host)
    : context_(std::move(context)) {
  ssl_ = SSL_new(const_cast<asio::ssl::context&>(context_->ctx).native_handle());
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  if (!ssl_ || !in_ || !out_) {
    if (in_) BIO_free(in_);
    if (out_) BIO_free(out_);
    if (ssl_) SSL_free(ssl_);
    throw std::bad_alloc();
  }
  // An empty input BIO means "wait for more", not the end of the stream.
  BIO_set_mem_eof_return(in_, -1);
  SSL_set_bio(ssl_, in_, out_);
  if (server) {
    SSL_set_accept_state(ssl_);
    return;
  }
  SSL_set_connect_state(ssl_);
  const std::string& name = context_->server_name.empty() ? host : context_->server_name;
  std::error_code ec;
  (void)asio::ip::make_address(name, ec);
  if (!ec) {
    // An address: the certificate must list it (SNI carries names only).
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), name.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl_, name.c_str());
    SSL_set1_host(ssl_, name.c_str());
  }
}

EMBER_DECL tls_channel::~tls_channel() {
  if (ssl_) SSL_free(ssl_);  // frees both BIOs
}

EMBER_DECL void tls_channel::fail(int ssl_error) noexcept {
  unsigned long e = ERR_peek_last_error();
  if (e == 0) {
    failed_ = asio::ssl::error::make_error_code(asio::ssl::error::unspecified_system_error);
    failure_ = ssl_error == SSL_ERROR_SYSCALL ? "the peer broke off the TLS stream"
                                              : "TLS failed";
  } else {
    failed_ = std::error_code(static_cast<int>(e), asio::error::get_ssl_category());
    char text[256];
    ERR_error_string_n(e, text, sizeof text);
    failure_ = text;
    if (ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
      const long v = SSL_get_verify_result(ssl_);
      failure_ = fmt::format("certificate verify failed: {}", X509_verify_cert_error_string(v));
    } else if (const char* reason = ERR_reason_error_string(e)) {
      failure_ = reason;
    }
  }
  ERR_clear_error();
}

EMBER_DECL std::size_t tls_channel::read_some(asio::ip::tcp::socket& socket,
                                              std::span<std::byte> buf, std::error_code& ec) {
  ec = {};
  if (failed_) {
    ec = failed_;
    return 0;
  }
  // Ciphertext goes through a buffer of its own: `buf` fills with plaintext meanwhile.
  thread_local std::array<std::byte, 32 * 1024> cipher;
  ERR_clear_error();
  std::size_t n = 0;
  while (n < buf.size()) {
    std::size_t got = 0;
    const int r = SSL_read_ex(ssl_, buf.data() + n, buf.size() - n, &got);
    if (r == 1) {
      n += got;
      continue;
    }
    const int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_READ) {
      std::error_code sec;
      const std::size_t c = socket.read_some(asio::buffer(cipher.data(), cipher.size()), sec);
      if (sec) {
        ec = sec == asio::error::try_again ? asio::error::would_block : sec;
        break;
      }
      BIO_write(in_, cipher.data(), static_cast<int>(c));
      continue;
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
      ec = asio::error::eof;
      break;
    }
    fail(e);
    ec = failed_;
    break;
  }
  // Plaintext first; the socket's or TLS's news is still there at the next read.
  if (n > 0) ec = {};
  return n;
}

EMBER_DECL std::size_t tls_channel::seal(bytes_view plain, buffer& out, std::error_code& ec) {
  ec = failed_;
  std::size_t used = 0;
  ERR_clear_error();
  if (!ec && !SSL_is_init_finished(ssl_)) {
    const int r = SSL_do_handshake(ssl_);
    if (r != 1) {
      const int e = SSL_get_error(ssl_, r);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        fail(e);
        ec = failed_;
      }
    }
  }
  if (!ec && SSL_is_init_finished(ssl_) && !plain.empty()) {
    // A memory BIO never fills: the whole of `plain` becomes records at once.
    const int r = SSL_write_ex(ssl_, plain.data(), plain.size(), &used);
    if (r != 1) {
      used = 0;
      const int e = SSL_get_error(ssl_, r);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        fail(e);
        ec = failed_;
      }
    }
  }
  // Alerts of a failure go out too.
  const std::size_t pending = BIO_ctrl_pending(out_);
  if (pending > 0) {
    const int got = BIO_read(out_, out.prepare(pending), static_cast<int>(pending));
    if (got > 0) out.commit(static_cast<std::size_t>(got));
  }
  return used;
}

EMBER_DECL bool tls_channel::handshake_step(asio::ip::tcp::socket& socket, buffer& out,
                                            std::error_code& ec) {
  ec = failed_;
  thread_local std::array<std::byte, 32 * 1024> cipher;
  bool done = false;
  while (!ec) {
    ERR_clear_error();
    const int r = SSL_do_handshake(ssl_);
    if (r == 1) {
      done = true;
      break;
    }
    const int e = SSL_get_error(ssl_, r);
    if (e != SSL_ERROR_WANT_READ) {
      fail(e);
      ec = failed_;
      break;
    }
    std::error_code sec;
    const std::size_t c = socket.read_some(asio::buffer(cipher.data(), cipher.size()), sec);
    if (sec == asio::error::would_block || sec == asio::error::try_again) break;
    if (sec) {
      ec = sec;
      break;
    }
    BIO_write(in_, cipher.data(), static_cast<int>(c));
  }
  std::error_code ignored;
  (void)seal({}, out, ignored);  // the messages to send (an alert after a failure)
  return done;
}

EMBER_DECL asio::awaitable<std::error_code> tls_handshake(asio::ip::tcp::socket& socket,
                                                          tls_channel& tls) {
  constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
  std::error_code ec;
  socket.non_blocking(true, ec);
  for (;;) {
    buffer out;
    const bool done = tls.handshake_step(socket, out, ec);
    if (!out.empty()) {
      auto [wec, n] =
          co_await asio::async_write(socket, asio::buffer(out.data(), out.size()), use_tuple);
      (void)n;
      if (wec && !ec) ec = wec;
    }
    if (ec || done) co_return ec;
    auto [rec] = co_await socket.async_wait(asio::socket_base::wait_read, use_tuple);
    if (rec) co_return rec;
  }
}

EMBER_DECL asio::awaitable<std::error_code> write_all(asio::ip::tcp::socket& socket,
                                                      tls_channel* tls, bytes_view bytes) {
  constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
  buffer sealed;
  if (tls) {
    std::error_code ec;
    if (tls->seal(bytes, sealed, ec) != bytes.size() && !ec)
      ec = make_error_code(std::errc::not_connected);  // the handshake is not done
    if (ec) co_return ec;
    bytes = sealed.view();
  }
  auto [ec, n] = co_await asio::async_write(socket, asio::buffer(bytes.data(), bytes.size()),
                                            use_tuple);
  (void)n;
  co_return ec;
}

EMBER_DECL asio::awaitable<std::error_code> read_exactly(asio::ip::tcp::socket& socket,
                                                         tls_channel* tls,
                                                         std::span<std::byte> out) {
  constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
  if (!tls) {
    auto [ec, n] = co_await asio::async_read(socket, asio::buffer(out.data(), out.size()), use_tuple);
    (void)n;
    co_return ec;
  }
  std::error_code ec;
  socket.non_blocking(true, ec);
  std::size_t got = 0;
  while (got < out.size()) {
    // No more than asked for: what follows stays in `tls`.
    got += tls->read_some(socket, out.subspan(got), ec);
    if (got == out.size()) break;
    if (ec == asio::error::would_block) {
      auto [rec] = co_await socket.async_wait(asio::socket_base::wait_read, use_tuple);
      if (rec) co_return rec;
      ec = {};
      continue;
    }
    if (ec) co_return ec;
  }
  co_return std::error_code{};
}

EMBER_DECL void tls_channel::shutdown(buffer& out) noexcept {
  if (failed_ || !SSL_is_init_finished(ssl_)) return;
  ERR_clear_error();
  (void)SSL_shutdown(ssl_);
  ERR_clear_error();
  try {
    std::error_code ignored;
    (void)seal({}, out, ignored);
  } catch (...) {
  }
}

EMBER_DECL bool tls_channel::has_output() const noexcept { return BIO_ctrl_pending(out_) > 0; }

EMBER_DECL bool tls_channel::buffered() const noexcept {
  return !failed_ && (SSL_pending(ssl_) > 0 || BIO_ctrl_pending(in_) > 0);
}

EMBER_DECL bool tls_channel::established() const noexcept { return SSL_is_init_finished(ssl_); }

EMBER_DECL const char* tls_channel::version() const noexcept { return SSL_get_version(ssl_); }

EMBER_DECL bool is_tls_error(const std::error_code& ec) noexcept {
  return ec.category() == asio::error::get_ssl_category() ||
         ec.category() == asio::ssl::error::get_stream_category();
}

}  // namespace ember::net::detail
