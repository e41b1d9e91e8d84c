// ember: a tcp_session running requests: the checks before a request runs, ordered and
// overlapping requests, and the status a failed request is answered with.
#pragma once

#include "ember/net/server.hpp"

#include <exception>
#include <system_error>

#include <asio/co_spawn.hpp>
#include <fmt/format.h>

#include "ember/log.hpp"
#include "ember/net/detail/impl/tcp_session_output.hpp"
#include "ember/spawn.hpp"

namespace ember::net::detail {

EMBER_DECL bool tcp_session::on_request(const wire::frame& f) {
  codec::encoding enc;
  std::uint32_t seq;
  bytes_view body = f.body;
  std::uint64_t request_id = 0;
  if (native_) {
    enc = (f.flags & wire::flag::json) ? codec::encoding::json : codec::encoding::binary;
    seq = f.seq;
    if (!handshaken_) {
      send_error(f.command, seq, enc, status::handshake_required, "send a handshake first");
      close("request before handshake");
      return false;
    }
    last_request_seq_ = seq;
    if (f.flags & wire::flag::request_id) {
      if (body.size() < wire::request_id_size) {
        send_error(f.command, seq, enc, status::bad_request,
                   "a request flagged request_id has no room for its 8-byte id");
        return state_ == state::open;
      }
      request_id = wire::detail::get_u64(body.data());
      body = body.subspan(wire::request_id_size);
    }
  } else {
    enc = srv_.options_.firefly_encoding;
    seq = ++firefly_seq_;
  }
  ++srv_.stats_.requests;
  if (srv_.stopping_) {
    send_error(f.command, seq, enc, status::shutting_down, "the server is stopping");
    return state_ == state::open;
  }
  if (srv_.budget_.refusing()) {
    // Retry-safe: the request is not run. Clients that read their replies keep the buffers
    // small; the ones that do not are shed when the budget itself is passed.
    ++srv_.stats_.overload_refused;
    send_error(f.command, seq, enc, status::overloaded,
               "the server is short of memory for buffers; the request was not run, retry later");
    return state_ == state::open;
  }
  if (!take_token()) {
    send_error(f.command, seq, enc, status::rate_limited, "too many requests per second");
    return state_ == state::open;
  }
  if (in_flight_ >= srv_.options_.max_in_flight) {
    abort(make_error_code(errc::too_many_requests));
    return false;
  }
  const auto& table = srv_.table_;
  const command_entry* entry = table->find(f.command);
  if (!entry || entry->internal) {  // calls between servers are not for clients
    send_error(f.command, seq, enc, status::unknown_command,
               fmt::format("unknown command {}", f.command));
    return state_ == state::open;
  }
  request_info info{shared_from_this(), this, seq, f.command, enc, table};
  info.request_id = request_id;
  stamp_dispatch(info);
  if (entry->hand_off && native_ && !entry->ordered) {
    ++in_flight_;
    ++srv_.in_flight_;
    entry->hand_off(entry->handler, std::move(info), body);
    return state_ == state::open;
  }
  std::error_code ec;
  asio::awaitable<void> work = entry->start(entry->handler, info, body, ec);
  if (ec) {
    count_request(info, status::bad_request);
    send_error(f.command, seq, enc, status::bad_request,
               fmt::format("{}: {}", entry->name, ec.message()));
    return state_ == state::open;
  }
  ++in_flight_;
  ++srv_.in_flight_;
  if (entry->ordered || !native_) {
    run_ordered(std::move(info), std::move(work));
  } else {
    spawn(std::move(info), std::move(work));
  }
  return state_ == state::open;
}

EMBER_DECL void tcp_session::run_ordered(request_info info, asio::awaitable<void> work) {
  if (ordered_running_) {
    auto node = std::make_unique<pending_request>(
        pending_request{std::move(info), std::move(work), nullptr});
    pending_request* raw = node.get();
    if (queue_tail_)
      queue_tail_->next = std::move(node);
    else
      queue_head_ = std::move(node);
    queue_tail_ = raw;
    return;
  }
  ordered_running_ = true;
  // The worker catches what its requests throw; spawn logs anything else.
  ember::spawn(socket_.get_executor(), ordered_worker(std::move(info), std::move(work)),
               "ordered request worker");
}

// Runs the session's ordered requests one after another while any are queued: a pipelining
// client costs one coroutine per burst, not one spawn per request.
EMBER_DECL asio::awaitable<void> tcp_session::ordered_worker(request_info info,
                                                         asio::awaitable<void> work) {
  auto self = shared_from_this();
  for (;;) {
    std::exception_ptr error;
    try {
      co_await std::move(work);
    } catch (...) {
      error = std::current_exception();
    }
    finish_request(info, error);
    if (!queue_head_ || !is_open()) break;
    auto node = std::move(queue_head_);
    queue_head_ = std::move(node->next);
    if (!queue_head_) queue_tail_ = nullptr;
    info = std::move(node->info);
    work = std::move(node->work);
  }
  // The client is gone: requests that have not started are dropped, not run.
  while (queue_head_) {
    auto n = std::move(queue_head_);
    queue_head_ = std::move(n->next);
    finish_request(n->info, nullptr);
  }
  queue_tail_ = nullptr;
  ordered_running_ = false;
}

EMBER_DECL void tcp_session::spawn(request_info info, asio::awaitable<void> work) {
  asio::co_spawn(socket_.get_executor(), std::move(work),
                 [self = shared_from_this(), info = std::move(info)](std::exception_ptr e) {
                   self->finish_request(info, e);
                 });
}

EMBER_DECL void tcp_session::finish_request(const request_info& info, std::exception_ptr error) {
  --in_flight_;
  --srv_.in_flight_;
  if (!error) return count_request(info, status::ok);
  ++srv_.stats_.failed;
  fail_request(info, error, "session", id_, [&](std::uint16_t code, std::string_view message) {
    send_error(info, code, message);
  });
}

}  // namespace ember::net::detail
