// ember: bodies of ember's error category (ember/error.hpp).
#pragma once

#include "ember/error.hpp"

#include <string>

namespace ember {

EMBER_DECL std::string error_category::message(int value) const {
  switch (static_cast<errc>(value)) {
    case errc::frame_too_large: return "frame larger than the maximum";
    case errc::bad_magic: return "bad Firefly header magic or version";
    case errc::bad_length: return "Firefly length below 4";
    case errc::unknown_kind: return "unknown frame kind";
    case errc::unexpected_frame: return "frame kind not allowed here";
    case errc::truncated_frame: return "stream ended inside a frame";
    case errc::malformed_body: return "malformed message body";
    case errc::truncated_body: return "message body ends inside a field";
    case errc::wrong_wire_type: return "field encoded with the wrong wire type";
    case errc::value_out_of_range: return "value out of range for its field";
    case errc::nesting_too_deep: return "messages nested too deeply";
    case errc::unknown_command: return "unknown command";
    case errc::handshake_required: return "handshake required before requests";
    case errc::unsupported_version: return "unsupported protocol version";
    case errc::write_queue_full: return "write queue full (peer not reading)";
    case errc::too_many_requests: return "too many requests in flight";
    case errc::rate_limited: return "request rate limit exceeded";
    case errc::idle_timeout: return "idle timeout";
    case errc::frame_timeout: return "frame not completed in time";
    case errc::server_full: return "server full";
    case errc::shutting_down: return "server shutting down";
    case errc::timeout: return "deadline passed";
    case errc::disconnected: return "connection closed";
    case errc::not_connected: return "not connected";
    case errc::remote_error: return "remote error";
    case errc::unavailable: return "unavailable";
    case errc::overloaded: return "overloaded";
    case errc::replaced: return "replaced by a newer login of the same user";
    case errc::session_expired: return "the session expired: log in again";
    case errc::outcome_unknown: return "the change may or may not have been applied";
  }
  return "unknown ember error";
}

EMBER_DECL const std::error_category& ember_category() noexcept {
  static const error_category instance;
  return instance;
}

EMBER_DECL error_reply error_reply_of(std::exception_ptr error) {
  constexpr auto internal = static_cast<std::uint16_t>(status::internal_error);
  try {
    std::rethrow_exception(error);
  } catch (const game_error& e) {
    return {e.code(), e.what(), {}};
  } catch (const call_error& e) {
    // A call the handler made failed: a remote error keeps its status and text; a local one
    // (timeout, no server) maps like any error code.
    const auto& f = e.why();
    const auto code = static_cast<std::uint16_t>(status_of(f));
    return {code, f.remote() ? f.message : std::string(e.what()), e.what()};
  } catch (const std::system_error& e) {
    // The transport, a link, memcached or the database: transient failures say "retry".
    const auto code = static_cast<std::uint16_t>(status_of(e.code()));
    return {code, code == internal ? std::string("internal error") : std::string(e.what()), e.what()};
  } catch (const std::exception& e) {
    return {internal, "internal error", e.what()};
  } catch (...) {
    return {internal, "internal error", "a non-standard exception"};
  }
}

}  // namespace ember
