// ember: bodies of the WebSocket upgrade, frame decoder and encoder (ember/wire/websocket.hpp).
#pragma once

#include "ember/wire/websocket.hpp"

#include <openssl/evp.h>
#include <strings.h>

#include <algorithm>
#include <cstring>

#include <simdjson.h>

#include "ember/detail/http.hpp"
#include "ember/error.hpp"

namespace ember::wire::websocket {

EMBER_DECL std::string error_category::message(int value) const {
  switch (static_cast<error>(value)) {
    case error::malformed_request: return "malformed HTTP request";
    case error::request_too_large: return "upgrade request headers too large";
    case error::not_get: return "upgrade request is not a GET";
    case error::not_websocket: return "no 'Upgrade: websocket' header";
    case error::no_connection_upgrade: return "'Connection' header does not list 'upgrade'";
    case error::unsupported_version: return "Sec-WebSocket-Version is not 13";
    case error::bad_key: return "Sec-WebSocket-Key missing or not 16 bytes in base64";
    case error::origin_refused: return "Origin not allowed";
    case error::unmasked_frame: return "unmasked frame from a client";
    case error::reserved_bits: return "reserved bits set (no extension negotiated)";
    case error::reserved_opcode: return "reserved opcode";
    case error::bad_length: return "frame length not in its shortest form or too large";
    case error::control_too_long: return "control frame longer than 125 bytes";
    case error::fragmented_control: return "fragmented control frame";
    case error::unexpected_continuation: return "continuation frame without a message to continue";
    case error::expected_continuation: return "new message before the fragmented one ended";
    case error::message_too_big: return "message larger than the maximum";
    case error::text_message: return "text message (ember speaks binary)";
    case error::bad_close_frame: return "invalid close frame (length or code)";
    case error::invalid_utf8: return "close reason is not valid UTF-8";
    case error::frame_after_close: return "frame after the close frame";
    case error::message_not_whole: return "binary message does not hold whole native frames";
  }
  return "unknown WebSocket error";
}

EMBER_DECL const std::error_category& websocket_category() noexcept {
  static const error_category instance;
  return instance;
}

EMBER_DECL close_code close_code_of(const std::error_code& ec) noexcept {
  if (!ec) return close_code::normal;
  if (ec.category() == websocket_category()) {
    switch (static_cast<error>(ec.value())) {
      case error::message_too_big: return close_code::message_too_big;
      case error::text_message: return close_code::unsupported_data;
      case error::invalid_utf8: return close_code::invalid_payload;
      default: return close_code::protocol_error;
    }
  }
  if (ec.category() == ember_category()) {
    switch (static_cast<errc>(ec.value())) {
      case errc::frame_too_large: return close_code::message_too_big;
      case errc::bad_magic:
      case errc::bad_length:
      case errc::unknown_kind:
      case errc::unexpected_frame:
      case errc::truncated_frame:
      case errc::malformed_body:
      case errc::truncated_body:
      case errc::wrong_wire_type:
      case errc::value_out_of_range:
      case errc::nesting_too_deep:
      case errc::handshake_required:
      case errc::unsupported_version:
        return close_code::protocol_error;
      case errc::shutting_down: return close_code::going_away;
      case errc::write_queue_full:
      case errc::too_many_requests:
      case errc::rate_limited:
      case errc::idle_timeout:
      case errc::frame_timeout:
      case errc::server_full:
      case errc::replaced:
        return close_code::policy_violation;
      default: return close_code::internal_error;
    }
  }
  return close_code::internal_error;
}

EMBER_DECL int http_status_of(const std::error_code& ec) noexcept {
  if (ec.category() != websocket_category()) return 400;
  switch (static_cast<error>(ec.value())) {
    case error::request_too_large: return 431;
    case error::not_get: return 405;
    case error::not_websocket:
    case error::unsupported_version: return 426;
    case error::origin_refused: return 403;
    default: return 400;
  }
}

EMBER_DECL bool valid_utf8(std::string_view text) noexcept {
  return simdjson::validate_utf8(text.data(), text.size());
}

EMBER_DECL std::string accept_key(std::string_view client_key) {
  std::string input(client_key);
  input += accept_guid;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  if (EVP_Digest(input.data(), input.size(), digest, &digest_size, EVP_sha1(), nullptr) != 1)
    throw std::runtime_error("libcrypto: SHA-1 failed");
  unsigned char text[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(text, digest, static_cast<int>(digest_size));
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(n));
}

namespace detail {

/// Case-insensitive comparison of ASCII text.
inline bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

inline std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// True when the comma-separated `list` holds `token` (case-insensitive).
inline bool has_token(std::string_view list, std::string_view token) noexcept {
  while (true) {
    const auto comma = list.find(',');
    if (iequals(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) return false;
    list.remove_prefix(comma + 1);
  }
}

/// A key of 16 bytes in base64: 22 characters of the alphabet and "==".
inline bool valid_key(std::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==") return false;
  for (char c : key.substr(0, 22))
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
          c == '+' || c == '/'))
      return false;
  unsigned char out[24];
  // 24 characters decode to 18 bytes, the last 2 of them padding
  return EVP_DecodeBlock(out, reinterpret_cast<const unsigned char*>(key.data()), 24) == 18;
}

inline std::size_t count_headers(const ember::detail::http_request& r, std::string_view name) {
  return static_cast<std::size_t>(std::count_if(
      r.headers.begin(), r.headers.end(), [&](const auto& h) { return h.first == name; }));
}

inline std::string refusal(std::error_code ec, std::string_view extra_headers) {
  const int status = http_status_of(ec);
  const std::string body = ec.message() + "\n";
  std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
  out += status == 431 ? "Request Header Fields Too Large" : ember::detail::http_reason(status);
  out += "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size());
  out += "\r\nConnection: close\r\n";
  out += extra_headers;
  out += "\r\n";
  out += body;
  return out;
}

/// Where the request's headers end (after the empty line), or npos.
inline std::size_t end_of_headers(std::string_view s) noexcept {
  for (std::size_t i = s.find('\n'); i != std::string_view::npos; i = s.find('\n', i + 1)) {
    if (i + 1 < s.size() && s[i + 1] == '\n') return i + 2;
    if (i + 2 < s.size() && s[i + 1] == '\r' && s[i + 2] == '\n') return i + 3;
  }
  return std::string_view::npos;
}

}  // namespace detail

EMBER_DECL std::optional<upgrade_result> read_upgrade(std::string_view input,
                                                       const upgrade_options& options) {
  upgrade_result r;
  auto refuse = [&](error e, std::string detail, std::string_view extra = {}) {
    r.error = e;
    r.detail = std::move(detail);
    r.response = detail::refusal(r.error, extra);
    return std::optional<upgrade_result>(std::move(r));
  };
  const std::size_t end = detail::end_of_headers(input.substr(0, options.max_request));
  if (end == std::string_view::npos) {
    if (input.size() < options.max_request) return std::nullopt;
    r.used = input.size();
    return refuse(error::request_too_large,
                  "no end of headers within " + std::to_string(options.max_request) + " bytes");
  }
  r.used = end;
  ember::detail::http_request req;
  std::string why;
  if (!ember::detail::parse_http(input.substr(0, end), req, why) || !why.empty())
    return refuse(error::malformed_request, why.empty() ? "incomplete request" : why);
  r.path = req.path;
  r.origin = std::string(req.header("origin"));
  if (req.method != "GET") return refuse(error::not_get, "method " + req.method);
  if (!detail::has_token(req.header("upgrade"), "websocket"))
    return refuse(error::not_websocket,
                  "Upgrade: '" + std::string(req.header("upgrade")) + "'",
                  "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n");
  if (!detail::has_token(req.header("connection"), "upgrade"))
    return refuse(error::no_connection_upgrade,
                  "Connection: '" + std::string(req.header("connection")) + "'");
  if (detail::count_headers(req, "sec-websocket-version") != 1 ||
      detail::trim(req.header("sec-websocket-version")) != "13")
    return refuse(error::unsupported_version,
                  "Sec-WebSocket-Version: '" + std::string(req.header("sec-websocket-version")) + "'",
                  "Sec-WebSocket-Version: 13\r\n");
  const auto key = detail::trim(req.header("sec-websocket-key"));
  if (detail::count_headers(req, "sec-websocket-key") != 1 || !detail::valid_key(key))
    return refuse(error::bad_key, "Sec-WebSocket-Key: '" + std::string(key) + "'");
  if (detail::count_headers(req, "origin") > 1) return refuse(error::origin_refused, "several Origin headers");
  if (detail::count_headers(req, "origin") == 1) {
    const bool allowed = std::any_of(
        options.allowed_origins.begin(), options.allowed_origins.end(),
        [&](const std::string& o) { return o == "*" || detail::iequals(o, detail::trim(r.origin)); });
    if (!allowed) return refuse(error::origin_refused, "Origin '" + r.origin + "' not in the allow-list");
  }
  r.response =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: " + accept_key(key) + "\r\n\r\n";
  return r;
}

EMBER_DECL std::size_t decoder::parse_header(const std::byte* h, std::size_t n,
                                             std::error_code& ec) noexcept {
  if (n < 1) return 0;
  const auto b0 = std::to_integer<std::uint8_t>(h[0]);
  const bool fin = (b0 & 0x80) != 0;
  const auto op = static_cast<opcode>(b0 & 0x0F);
  // Checked as soon as the byte is here, so a hostile frame fails before its length.
  if (b0 & 0x70) return ec = error::reserved_bits, 0;
  switch (op) {
    case opcode::continuation:
      if (!fragmented_) return ec = error::unexpected_continuation, 0;
      break;
    case opcode::text:
      return ec = error::text_message, 0;
    case opcode::binary:
      if (fragmented_) return ec = error::expected_continuation, 0;
      break;
    case opcode::close:
    case opcode::ping:
    case opcode::pong:
      if (!fin) return ec = error::fragmented_control, 0;
      break;
    default:
      return ec = error::reserved_opcode, 0;
  }
  if (n < 2) return 0;
  const auto b1 = std::to_integer<std::uint8_t>(h[1]);
  if (!(b1 & 0x80)) return ec = error::unmasked_frame, 0;
  const bool control = (b0 & 0x08) != 0;
  std::uint64_t length = b1 & 0x7F;
  if (control && length > 125) return ec = error::control_too_long, 0;
  std::size_t size = 2;
  if (length == 126) {
    if (n < 4) return 0;
    length = std::uint64_t(std::to_integer<std::uint8_t>(h[2])) << 8 | std::to_integer<std::uint8_t>(h[3]);
    if (length < 126) return ec = error::bad_length, 0;
    size = 4;
  } else if (length == 127) {
    if (n < 10) return 0;
    length = 0;
    for (int i = 2; i < 10; ++i) length = length << 8 | std::to_integer<std::uint8_t>(h[i]);
    if (length >> 63 || length <= 0xFFFF) return ec = error::bad_length, 0;
    size = 10;
  }
  if (!control && length > options_.max_message - std::min(options_.max_message, message_.size()))
    return ec = error::message_too_big, 0;
  if (n < size + 4) return 0;
  std::memcpy(mask_.data(), h + size, 4);
  fin_ = fin;
  op_ = op;
  length_ = length;
  done_ = 0;
  in_payload_ = true;
  return size + 4;
}

EMBER_DECL std::error_code decoder::parse_close(bytes_view payload, event& out) noexcept {
  if (payload.empty()) {
    out.code = static_cast<std::uint16_t>(close_code::no_status);
    return {};
  }
  if (payload.size() == 1) return error::bad_close_frame;
  out.code = static_cast<std::uint16_t>(std::to_integer<std::uint8_t>(payload[0]) << 8 |
                                        std::to_integer<std::uint8_t>(payload[1]));
  if (!valid_close_code(out.code)) return error::bad_close_frame;
  out.payload = payload.subspan(2);
  const std::string_view reason(reinterpret_cast<const char*>(out.payload.data()), out.payload.size());
  if (!valid_utf8(reason)) return error::invalid_utf8;
  return {};
}

EMBER_DECL void write_header(std::byte* out, opcode op, std::uint64_t n) noexcept {
  out[0] = std::byte(0x80 | static_cast<std::uint8_t>(op));
  if (n < 126) {
    out[1] = std::byte(n);
  } else if (n <= 0xFFFF) {
    out[1] = std::byte(126);
    out[2] = std::byte(n >> 8);
    out[3] = std::byte(n & 0xFF);
  } else {
    out[1] = std::byte(127);
    for (int i = 0; i < 8; ++i) out[2 + i] = std::byte((n >> (8 * (7 - i))) & 0xFF);
  }
}

EMBER_DECL void append_frame(buffer& out, opcode op, bytes_view payload, bool fin,
                             std::optional<std::array<std::byte, 4>> mask) {
  const std::size_t h = header_size(payload.size());
  std::byte* p = out.prepare(h + (mask ? 4 : 0) + payload.size());
  write_header(p, op, payload.size());
  if (!fin) p[0] &= std::byte(0x7F);
  std::size_t at = h;
  if (mask) {
    p[1] |= std::byte(0x80);
    std::memcpy(p + at, mask->data(), 4);
    at += 4;
  }
  if (!payload.empty()) std::memcpy(p + at, payload.data(), payload.size());
  if (mask)
    for (std::size_t i = 0; i < payload.size(); ++i) p[at + i] ^= (*mask)[i & 3];
  out.commit(at + payload.size());
}

EMBER_DECL void append_close(buffer& out, close_code code, std::string_view reason,
                             std::optional<std::array<std::byte, 4>> mask) {
  // 125 bytes at most: the code and 123 of reason, cut before a UTF-8 continuation byte
  std::size_t n = std::min<std::size_t>(reason.size(), 123);
  while (n < reason.size() && n > 0 && (static_cast<unsigned char>(reason[n]) & 0xC0) == 0x80) --n;
  std::byte payload[125];
  const auto c = static_cast<std::uint16_t>(code);
  payload[0] = std::byte(c >> 8);
  payload[1] = std::byte(c & 0xFF);
  if (n != 0) std::memcpy(payload + 2, reason.data(), n);
  append_frame(out, opcode::close, bytes_view(payload, n + 2), true, mask);
}

}  // namespace ember::wire::websocket
