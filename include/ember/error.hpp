// ember: error codes of the runtime and the statuses carried by error frames.
#pragma once

#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "ember/separate_compilation.hpp"

namespace ember {

/// Local failures of the runtime, reported as `std::error_code` values.
enum class errc {
  // wire: a peer sent bytes that are not a valid frame
  frame_too_large = 1,  ///< a frame announced a body larger than the configured maximum
  bad_magic,            ///< a Firefly header whose magic or version bytes differ from the configured ones
  bad_length,           ///< a Firefly length field below 4 (it must count the command id)
  unknown_kind,         ///< a native header with a kind this version does not know
  unexpected_frame,     ///< a valid kind that this side must not receive (e.g. a client's push)
  truncated_frame,      ///< the stream ended inside a frame
  // codec: a body that does not decode into its message
  malformed_body,       ///< bytes or JSON that do not form a valid message
  truncated_body,       ///< a binary body that ends inside a field
  wrong_wire_type,      ///< a known field tag encoded with another wire type
  value_out_of_range,   ///< a number that does not fit its field, or an unknown enum value
  nesting_too_deep,     ///< nested messages deeper than the decoder allows
  // sessions and calls
  unknown_command,      ///< no handler for this command id
  handshake_required,   ///< a native session sent a request before its handshake
  unsupported_version,  ///< the peer speaks a protocol version we do not
  write_queue_full,     ///< the peer does not read: its write queue passed its bound
  too_many_requests,    ///< the peer has more requests in flight than allowed
  rate_limited,         ///< the peer sends requests faster than allowed
  idle_timeout,         ///< nothing received within the idle timeout
  frame_timeout,        ///< a frame stayed half-received too long
  server_full,          ///< the server or this address has its maximum of sessions
  shutting_down,        ///< the server is stopping and takes no new work
  timeout,              ///< a call's deadline passed before its reply came
  disconnected,         ///< the connection closed before the reply came
  not_connected,        ///< no connection to send on
  remote_error,         ///< the peer answered with an error frame (see its status and message)
  unavailable,          ///< no peer is available to serve the call
  overloaded,           ///< a bounded queue is full; the call was not sent
  replaced,             ///< a newer login of the same user took this session's place
  session_expired,      ///< the session could not be resumed (it ended); log in again
  /// A change failed after part of it was made durable (acknowledged into memcached, the
  /// journal or a database commit): it may have been applied. Other categories' codes that
  /// mean the same (the data layer's `outcome_unknown`) compare equal to `outcome_unknown_condition()`.
  outcome_unknown,
};

}  // namespace ember

template <>
struct std::is_error_code_enum<ember::errc> : std::true_type {};

namespace ember {

/// The category of `ember::errc`.
class error_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ember"; }
  std::string message(int value) const override;
  /// Failures that a retry may cure compare equal to `std::errc::resource_unavailable_try_again`,
  /// and a passed deadline to `std::errc::timed_out`, so that any layer's error codes map to
  /// a status the same way (see `status_of`).
  std::error_condition default_error_condition(int value) const noexcept override {
    switch (static_cast<errc>(value)) {
      case errc::timeout: return std::errc::timed_out;
      case errc::unavailable:
      case errc::overloaded:
      case errc::shutting_down:
      case errc::not_connected:
      case errc::disconnected:
        return std::errc::resource_unavailable_try_again;
      default:
        return {value, *this};
    }
  }
};

/// The one instance of ember's error category.
EMBER_DECL const std::error_category& ember_category() noexcept;

/// What every code meaning "it may have been applied" compares equal to: `errc::outcome_unknown`
/// and the codes whose category maps them to it (`data::data_errc::outcome_unknown`).
inline std::error_condition outcome_unknown_condition() noexcept {
  return {static_cast<int>(errc::outcome_unknown), ember_category()};
}

/// Makes `errc` values usable as `std::error_code`.
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), ember_category()};
}

/// The status carried by an error frame (PROTOCOL.md). 1..999 belong to ember; schemas
/// define game errors from 1000 up.
enum class status : std::uint16_t {
  ok = 0,
  bad_request = 1,        ///< the body did not decode
  unknown_command = 2,    ///< no handler for the command id
  internal_error = 3,     ///< the handler failed with something other than a game error
  overloaded = 4,         ///< a queue on the way is full; retry later
  rate_limited = 5,       ///< too many requests per second
  unavailable = 6,        ///< the server that handles the command is not reachable
  timeout = 7,            ///< a deadline passed on the server side
  shutting_down = 8,      ///< the server is stopping
  server_full = 9,        ///< no room for another session
  handshake_required = 10,///< a request came before the handshake
  unsupported_version = 11,///< the handshake asked for a protocol version the server lacks
  too_many_requests = 12, ///< more requests in flight than the session may have
  session_expired = 13,   ///< the session to resume is gone; log in again
  replaced = 14,          ///< a newer login of the same user took over; this session closes
  /// The request reached a server that then stopped answering (its link dropped, or the
  /// deadline passed): it may or may not have run. Retry only what is safe to repeat (a read,
  /// or a change carrying an operation id); `unavailable` means it was not run.
  outcome_unknown = 15,
  first_game_error = 1000,
};

/// The error status and message that a failed request reports.
struct failure {
  std::error_code code;   ///< `errc::remote_error` when the peer sent an error frame
  std::uint16_t status = 0;   ///< the error frame's status, 0 for local failures
  std::string message;

  /// True when the failure came from the remote handler rather than from transport.
  bool remote() const noexcept { return code == errc::remote_error; }
};

/// A failed call (`outcome<T>::value()` of a call that failed), thrown as a `std::system_error`
/// whose code is the failure's; keeps the status and message an error frame carried. A handler
/// that lets it escape answers its own request with the same status (a remote error) or with
/// what `status_of` makes of the code.
class call_error : public std::system_error {
 public:
  explicit call_error(ember::failure f)
      : std::system_error(f.code, f.message), failure_(std::move(f)) {}
  /// The failure as the call reported it.
  const ember::failure& why() const noexcept { return failure_; }

 private:
  ember::failure failure_;
};

/// The status an error frame reports for a failure of code `ec`: a full queue is `overloaded`,
/// a connection lost with the request sent, or a change that failed after part of it was made
/// durable (`outcome_unknown_condition()`), `outcome_unknown`, the other transient failures
/// (`std::errc::resource_unavailable_try_again`: a server, memcached or the database
/// unreachable for a moment) `unavailable`, a passed deadline `timeout`, the rest
/// `internal_error`.
inline status status_of(const std::error_code& ec) noexcept {
  if (ec == errc::overloaded) return status::overloaded;
  if (ec == errc::disconnected) return status::outcome_unknown;  // sent; the answer was lost
  if (ec == outcome_unknown_condition()) return status::outcome_unknown;  // stored in part, maybe whole
  if (ec == std::errc::timed_out) return status::timeout;
  if (ec == std::errc::resource_unavailable_try_again) return status::unavailable;
  return status::internal_error;
}
/// The same for a call's failure: a remote error keeps the status the peer sent.
inline status status_of(const failure& f) noexcept {
  return f.remote() ? static_cast<status>(f.status) : status_of(f.code);
}

/// A game-level failure thrown by a handler; the session maps it to an error frame with this
/// status. Schemas generate named codes for it.
class game_error : public std::runtime_error {
 public:
  game_error(std::uint16_t code, std::string message)
      : std::runtime_error(std::move(message)), code_(code) {}
  /// One of ember's own statuses (e.g. `status::unavailable` from a router).
  game_error(status code, std::string message)
      : game_error(static_cast<std::uint16_t>(code), std::move(message)) {}
  std::uint16_t code() const noexcept { return code_; }

 private:
  std::uint16_t code_;
};

/// What the error frame of a request says when its handler threw `error`, wherever it ran (a
/// client-facing session, or a backend serving a forwarded request): a `game_error` its code
/// and text; a failed call (`call_error`) the status the call reported; any other
/// `std::system_error` what `status_of` makes of its code — memcached or the database out of
/// reach is `unavailable`, a change that may have been applied `outcome_unknown` — with its
/// text; anything else `internal_error`, whose text is logged and not sent.
struct error_reply {
  std::uint16_t status = 0;
  std::string message;  ///< what the frame carries
  std::string detail;   ///< what to log (`what()` of the exception); empty for a game error
  /// True when the failure is the handler's fault (log it as an error), false for a game
  /// error or a failure of something it called (a warning at most).
  bool unexpected() const noexcept { return status == static_cast<std::uint16_t>(ember::status::internal_error); }
};
EMBER_DECL error_reply error_reply_of(std::exception_ptr error);

}  // namespace ember

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/impl/error.hpp"
#endif
