// ember: the bodies of call_table (ember/net/detail/call_table.hpp), compiled once in
// libember: they decode error frames, whose JSON form needs simdjson.
#pragma once

#include "ember/net/detail/call_table.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "ember/codec/json_reader.hpp"

namespace ember::net::detail {

EMBER_DECL asio::awaitable<failure> call_table::wait(std::uint32_t seq,
                                                    std::chrono::milliseconds timeout,
                                                    decode_fn decode, void* out) {
  asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
  pending_call p{seq, &timer, decode, out, {}, false};
  pending_.insert(&p);
  // Leaving without an answer forgets the call, so a late reply is dropped, not misdelivered.
  // That includes this frame being destroyed unresumed (its io_context shut down while it
  // waited): the table, kept alive by the caller's frame, must not keep a pointer into it.
  struct forget_unanswered {
    call_table& table;
    pending_call& call;
    ~forget_unanswered() {
      if (!call.done) table.pending_.take(call.seq);
    }
  } forget{*this, p};
  co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  if (!p.done) co_return failure{make_error_code(errc::timeout), 0, {}};  // the deadline
  co_return std::move(p.result);
}

EMBER_DECL asio::awaitable<failure> call_table::ticket::wait() {
  if (!call_.done)
    co_await timer_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  if (!call_.done) {
    call_.done = true;
    table_->pending_.take(call_.seq);
    co_return failure{make_error_code(errc::timeout), 0, {}};
  }
  co_return std::move(call_.result);
}

EMBER_DECL bool call_table::complete(std::uint32_t seq, bytes_view body, codec::encoding enc,
                                     bool is_error) {
  pending_call* p = pending_.take(seq);
  if (!p) return false;
  if (is_error) {
    codec::error_body e;
    if (auto ec = codec::decode(body, enc, e))
      p->result = failure{ec, 0, "undecodable error frame"};
    else
      p->result = failure{make_error_code(errc::remote_error), e.status, std::move(e.message)};
  } else if (auto ec = p->decode(body, enc, p->out)) {
    p->result = failure{ec, 0, "undecodable reply"};
  }
  p->done = true;
  p->timer->cancel();
  return true;
}

}  // namespace ember::net::detail
