// ember: the sending half of a connection: frames queue in one contiguous buffer and leave in
// as few writes as possible (internal; used by server sessions, the client and links).
#pragma once

#include <cstddef>
#include <system_error>
#include <utility>

#include <asio/error.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/write.hpp>

#include "ember/buffer.hpp"
#include "ember/net/detail/tls_channel.hpp"

namespace ember::net::detail {

/// How a flush ended.
enum class flush_result {
  drained,  ///< everything queued is written (or nothing was queued)
  writing,  ///< an asynchronous write runs; its handler is called when it ends
  failed,   ///< the socket failed; see the error
};

/// Outgoing bytes of one connection: `pending()` collects frames, `flush` writes them — first a
/// plain non-blocking write (most replies fit in the socket's buffer), then, only for what is
/// left, an asynchronous write during which new frames keep collecting.
class output_queue {
 public:
  /// Where the next frames are appended.
  buffer& pending() noexcept { return pending_; }
  /// Bytes queued or being written: what the write-queue bound applies to.
  std::size_t queued() const noexcept { return pending_.size() + writing_.size(); }
  /// Bytes of memory its buffers hold (what a server's buffer budget counts).
  std::size_t capacity() const noexcept { return pending_.capacity() + writing_.capacity(); }
  /// An asynchronous write is running.
  bool writing() const noexcept { return active_; }

  /// Writes what is pending. On `writing`, `on_written(std::error_code)` is called when the
  /// asynchronous write ends (it must keep the owner of this queue alive); call flush again
  /// from there for what has collected meanwhile.
  template <class OnWritten>
  flush_result flush(asio::ip::tcp::socket& socket, std::error_code& ec, OnWritten&& on_written) {
    return flush(socket, nullptr, ec, std::forward<OnWritten>(on_written));
  }
  /// The same through `tls` (when not null): what is pending is encrypted (as much as the
  /// handshake allows; the rest waits for a later flush) together with the handshake's own
  /// messages, and the ciphertext is written.
  template <class OnWritten>
  flush_result flush(asio::ip::tcp::socket& socket, tls_channel* tls, std::error_code& ec,
                     OnWritten&& on_written) {
    if (active_) return flush_result::writing;
    if (tls) {
      // `writing_` is idle: it takes the ciphertext, and is written from the start.
      pending_.consume(tls->seal(pending_.view(), writing_, ec));
      if (ec) {
        writing_.clear();
        return flush_result::failed;
      }
      if (writing_.empty()) return flush_result::drained;
      std::size_t n = socket.write_some(asio::buffer(writing_.data(), writing_.size()), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        ec = {};
        n = 0;
      }
      if (ec) {
        writing_.clear();
        return flush_result::failed;
      }
      writing_.consume(n);
      if (writing_.empty()) return flush_result::drained;
      return write_rest(socket, std::forward<OnWritten>(on_written));
    }
    if (pending_.empty()) return flush_result::drained;
    std::size_t n = socket.write_some(asio::buffer(pending_.data(), pending_.size()), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      ec = {};
      n = 0;
    }
    if (ec) return flush_result::failed;
    pending_.consume(n);
    if (pending_.empty()) return flush_result::drained;
    writing_.swap(pending_);
    return write_rest(socket, std::forward<OnWritten>(on_written));
  }

  /// Frees memory an idle connection does not need: the asynchronous write's buffer, and a
  /// pending buffer that grew past `keep` bytes.
  void trim(std::size_t keep) noexcept {
    if (active_) return;
    writing_.release();
    if (pending_.empty() && pending_.capacity() > keep) pending_.release();
  }

 private:
  // Writes `writing_` asynchronously; new frames collect in `pending_` meanwhile.
  template <class OnWritten>
  flush_result write_rest(asio::ip::tcp::socket& socket, OnWritten&& on_written) {
    active_ = true;
    asio::async_write(socket, asio::buffer(writing_.data(), writing_.size()),
                      [this, h = std::forward<OnWritten>(on_written)](std::error_code wec,
                                                                      std::size_t) mutable {
                        active_ = false;
                        if (wec)
                          writing_.release();  // the connection is gone: free it now
                        else
                          writing_.clear();
                        h(wec);
                      });
    return flush_result::writing;
  }

  buffer pending_;  // frames waiting for the socket
  buffer writing_;  // frames handed to an asynchronous write
  bool active_ = false;
};

}  // namespace ember::net::detail
