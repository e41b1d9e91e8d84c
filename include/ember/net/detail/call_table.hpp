// ember: calls waiting for their replies, for anything that sends requests (the client, links).
// Each call waits on its own timer, which its reply or the end of the connection cancels: a call
// ends with its reply, a remote error, the connection's end, or its deadline — never later.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "ember/codec/codec.hpp"
#include "ember/error.hpp"
#include "ember/net/detail/seq_table.hpp"
#include "ember/net/detail/typed_call.hpp"
#include "ember/outcome.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::net::detail {

/// Calls in flight, by sequence number.
class call_table {
  struct pending_call {
    std::uint32_t seq;
    asio::steady_timer* timer;
    decode_fn decode;
    void* out;
    failure result;
    bool done = false;
  };

 public:
  /// A call registered when its request was queued and awaited later, with its raw reply
  /// body kept here. Forwarding needs it: the request leaves while the client's body is at
  /// hand, but an ordered request awaits its reply only after the ones before it. Dropping
  /// a ticket unawaited forgets the call (its reply, if it comes, is dropped).
  class ticket {
   public:
    ticket(asio::any_io_executor ex, call_table& table, std::shared_ptr<const void> keep_alive,
           std::uint32_t seq, std::chrono::milliseconds timeout)
        : table_(&table), keep_alive_(std::move(keep_alive)), timer_(ex, timeout) {
      call_ = pending_call{seq, &timer_, &append_raw, this, {}, false};
      table_->pending_.insert(&call_);
    }
    ~ticket() {
      if (!call_.done) table_->pending_.take(call_.seq);
    }
    ticket(const ticket&) = delete;
    ticket& operator=(const ticket&) = delete;

    /// Waits for the reply (or the deadline, which started when the request was queued).
    asio::awaitable<failure> wait();
    /// The reply body, once `wait()` returned no failure.
    bytes_view body() const noexcept { return body_.view(); }
    /// The reply's encoding, as its frame said.
    codec::encoding encoding() const noexcept { return encoding_; }

   private:
    static std::error_code append_raw(bytes_view b, codec::encoding enc, void* out) {
      auto* self = static_cast<ticket*>(out);
      self->encoding_ = enc;
      self->body_.append(b);
      return {};
    }
    call_table* table_;
    std::shared_ptr<const void> keep_alive_;  // the owner of `table_`
    asio::steady_timer timer_;
    pending_call call_{};
    buffer body_;
    codec::encoding encoding_ = codec::encoding::binary;
  };

  /// The sequence number of the next request.
  std::uint32_t next_seq() noexcept { return ++next_seq_; }

  /// Waits for the reply to request `seq` (already queued) until `timeout`. Must be awaited
  /// while the owner of this table is kept alive.
  asio::awaitable<failure> wait(std::uint32_t seq, std::chrono::milliseconds timeout,
                                decode_fn decode, void* out);

  /// Hands a response (or error frame) to the call waiting for it; true if one was waiting
  /// (a call that timed out is not: its late reply is dropped).
  bool complete(std::uint32_t seq, bytes_view body, codec::encoding enc, bool is_error);

  /// Ends every waiting call with `why` (the connection is gone).
  void fail_all(const failure& why) {
    for (pending_call* p : pending_.take_all()) {
      p->done = true;
      p->result = why;
      p->timer->cancel();
    }
  }

  std::size_t size() const noexcept { return pending_.size(); }
  /// True while the call `seq` waits for its reply.
  bool waiting(std::uint32_t seq) const noexcept { return pending_.contains(seq); }

 private:
  seq_table<pending_call> pending_;
  std::uint32_t next_seq_ = 0;
};

}  // namespace ember::net::detail

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/net/detail/impl/call_table.hpp"
#endif
