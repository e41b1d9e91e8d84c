// ember: the command table that maps command ids to generated, typed handler calls.
#pragma once

#include <algorithm>
#include <exception>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <asio/awaitable.hpp>

#include "ember/codec/codec.hpp"
#include "ember/error.hpp"
#include "ember/log.hpp"
#include "ember/net/command_stats.hpp"
#include "ember/net/session.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::net {

class responder;
class dispatch_table;

/// What a running request needs besides its body: who asked, how to answer.
struct request_info {
  std::shared_ptr<session> owner;  ///< keeps the session alive while the request runs
  responder* out = nullptr;        ///< where the reply goes (the session's transport)
  std::uint32_t seq = 0;
  std::uint32_t command = 0;
  codec::encoding encoding = codec::encoding::binary;
  /// Keeps the table whose handler runs (and the module it came from) alive until the
  /// request ends, even if a reload replaced it meanwhile.
  std::shared_ptr<const dispatch_table> table;
  /// When it was dispatched (set when `table` counts requests, see `stamp_dispatch`).
  command_stats::clock::time_point started{};
  /// The idempotency id the client gave the request (0: none); a retry carries the same one
  /// (PROTOCOL.md §1, `request_id`), and a backend answers it with the first run's reply.
  std::uint64_t request_id = 0;
};

/// The transport side of a session: sends a request's reply.
class responder {
 public:
  virtual void reply_body(const request_info& req, const body_writer& body) = 0;
  /// Ends a request that an entry's `hand_off` took: its error frame if `error` is set (after
  /// `reply_body`, pass none). Transports that never hand requests off ignore it.
  virtual void end_request(const request_info& req, std::exception_ptr error) {
    (void)req;
    (void)error;
  }

 protected:
  ~responder() = default;
};

/// One command of a dispatch table.
struct command_entry {
  std::uint16_t id = 0;
  bool ordered = true;
  /// A server-to-server call: clients may not send it.
  bool internal = false;
  std::string_view name;
  void* handler = nullptr;
  /// Decodes `body` into the typed request and returns the coroutine that runs the handler
  /// and sends its reply; on a decode failure sets `ec` and returns an invalid awaitable.
  asio::awaitable<void> (*start)(void* handler, const request_info& info, bytes_view body,
                                 std::error_code& ec) = nullptr;
  /// Optional, for requests that need no coroutine (the gateway's forwarding): takes the
  /// request and answers it later through `info.out` (`reply_body`, then `end_request`).
  /// Used for overlapping requests on the native framing; others go through `start`.
  void (*hand_off)(void* handler, request_info&& info, bytes_view body) = nullptr;
  /// A request that comes again with the same request id (a client's retry) is answered with
  /// the first run's reply instead of running again (docs/sessions.md, "Retries"). Cleared by
  /// `dispatch_table::run_retries` for a command whose retries must run anew.
  bool replay_retries = true;
};

/// Command id -> typed handler call, filled by the generated `register_commands`.
class dispatch_table {
 public:
  /// Registers `Fn` (a member of `Handler` such as `&chat_handler::login`) for `Cmd`; the
  /// signature is checked at compile time.
  template <class Cmd, auto Fn, class Handler>
  void add(Handler& handler) {
    static_assert(
        std::is_same_v<decltype(Fn), asio::awaitable<typename Cmd::reply> (Handler::*)(
                                         session&, const typename Cmd::request&)>,
        "a handler must be: asio::awaitable<Cmd::reply> name(ember::net::session&, const Cmd::request&)");
    command_entry e;
    e.id = Cmd::id;
    e.ordered = Cmd::ordered;
    e.internal = Cmd::internal;
    e.name = Cmd::name;
    e.handler = &handler;
    e.start = &start_command<Cmd, Fn, Handler>;
    insert(e);
  }

  /// Registers a ready-made entry (e.g. the cluster gateway's forwarding of a command another
  /// server type serves); throws `std::logic_error` if the id is taken.
  void add_entry(const command_entry& e) { insert(e); }

  /// Makes retries of command `id` (same request id) run the handler again instead of being
  /// answered with the first run's reply: for a command whose answer must be fresh and that
  /// changes nothing (a clock, a poll). Throws `std::logic_error` if `id` has no entry.
  void run_retries(std::uint16_t id);

  /// Makes failed requests on a Firefly listener answer with a `T` holding `code` and
  /// `message` (the schema's `[firefly] error_reply`).
  template <class T>
  void set_error_reply() {
    error_reply_ = [](buffer& out, codec::encoding enc, std::uint16_t code, std::string_view msg) {
      T reply{};
      reply.code = static_cast<decltype(reply.code)>(code);
      reply.message = std::string(msg);
      codec::encode(out, reply, enc);
    };
  }
  using error_reply_fn = void (*)(buffer&, codec::encoding, std::uint16_t, std::string_view);
  error_reply_fn error_reply() const noexcept { return error_reply_; }

  /// The entry for `id`, or null.
  const command_entry* find(std::uint32_t id) const noexcept {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), id,
                               [](const command_entry& e, std::uint32_t v) { return e.id < v; });
    return it != entries_.end() && it->id == id ? &*it : nullptr;
  }
  std::size_t size() const noexcept { return entries_.size(); }
  const std::vector<command_entry>& entries() const noexcept { return entries_; }

  /// Counts the requests served from this table in `stats` (the server's or host's; kept
  /// across reloads by setting it on each new table), each entry's slot made now (and an
  /// entry's added later, when it is), so counting never allocates. Null: not counted.
  void set_stats(std::shared_ptr<command_stats> stats) {
    stats_ = std::move(stats);
    if (stats_)
      for (const auto& e : entries_) stats_->add(e.id);
  }
  command_stats* stats() const noexcept { return stats_.get(); }

 private:
  void insert(const command_entry& e);

  template <class Cmd, auto Fn, class Handler>
  static asio::awaitable<void> run_command(Handler& h, request_info info,
                                           typename Cmd::request req) {
    typename Cmd::reply reply = co_await (h.*Fn)(*info.owner, req);
    info.out->reply_body(info, body_writer(reply));
  }

  template <class Cmd, auto Fn, class Handler>
  static asio::awaitable<void> start_command(void* handler, const request_info& info,
                                             bytes_view body, std::error_code& ec) {
    typename Cmd::request req{};
    ec = codec::decode(body, info.encoding, req);
    if (ec) return {};
    return run_command<Cmd, Fn, Handler>(*static_cast<Handler*>(handler), info, std::move(req));
  }

  std::vector<command_entry> entries_;
  error_reply_fn error_reply_ = nullptr;
  std::shared_ptr<command_stats> stats_;
  std::shared_ptr<const void> keep_alive_;

 public:
  /// Keeps `owner` (e.g. the loaded module whose handlers the entries call) alive as long as
  /// this table, or any request started from it, lives.
  void set_keep_alive(std::shared_ptr<const void> owner) { keep_alive_ = std::move(owner); }
};

/// Notes when `info` was dispatched, if its table counts requests (one clock read). Every
/// transport calls it once its command entry is found.
inline void stamp_dispatch(request_info& info) noexcept {
  if (info.table && info.table->stats()) info.started = command_stats::clock::now();
}

/// Counts a request whose reply (`status` 0) or error frame of `status` has just been queued
/// (one clock read, no allocation: its table made its command's slot). Every transport calls
/// it where the request ends: client sessions in `finish_request`, links in theirs (calls
/// between servers and forwarded client commands on a backend), and both when a body does
/// not decode.
inline void count_request(const request_info& info, std::uint16_t status) {
  if (info.table && info.table->stats())
    info.table->stats()->record(static_cast<std::uint16_t>(info.command),
                                command_stats::clock::now() - info.started, status);
}
inline void count_request(const request_info& info, ember::status status) {
  count_request(info, static_cast<std::uint16_t>(status));
}

/// Ends a request whose handler failed with `error`, as every transport does: the error frame
/// `error_reply_of` makes of it, counted before `send(status, message)` queues it, and the
/// failure logged as "`kind` `name`: command N failed" — the handler's own fault as an error,
/// a failure of something it called as a warning, a game error not at all.
template <class Name, class Send>
void fail_request(const request_info& info, std::exception_ptr error, std::string_view kind,
                  const Name& name, Send&& send) {
  const auto reply = error_reply_of(error);
  if (reply.unexpected())
    log::error("{} {}: command {} failed: {}", kind, name, info.command, reply.detail);
  else if (!reply.detail.empty())
    log::warn("{} {}: command {} failed (status {}): {}", kind, name, info.command, reply.status,
              reply.detail);
  count_request(info, reply.status);
  send(reply.status, std::string_view(reply.message));
}

}  // namespace ember::net

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/net/impl/dispatch.hpp"
#endif
