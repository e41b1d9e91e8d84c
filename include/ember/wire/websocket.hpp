// ember: WebSocket (RFC 6455), server side: the HTTP upgrade, an incremental frame decoder with
// limits, and the encoder of the server's frames. A WebSocket listener carries native ember
// frames in binary messages (PROTOCOL.md, "WebSocket").
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include "ember/buffer.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::wire::websocket {

/// Why an upgrade was refused or a WebSocket stream failed. Each maps to the HTTP status
/// (`http_status_of`) or the close code (`close_code_of`) the peer is told.
enum class error {
  // the upgrade request (answered with an HTTP status, then the connection closes)
  malformed_request = 1,  ///< not a valid HTTP request (400)
  request_too_large,      ///< the request's headers pass the limit without ending (431)
  not_get,                ///< a method other than GET (405)
  not_websocket,          ///< no `Upgrade: websocket` (426)
  no_connection_upgrade,  ///< `Connection` does not list `upgrade` (400)
  unsupported_version,    ///< `Sec-WebSocket-Version` is not 13 (426, offering 13)
  bad_key,                ///< `Sec-WebSocket-Key` missing, repeated or not 16 bytes in base64 (400)
  origin_refused,         ///< an `Origin` that the allow-list does not hold (403)
  // frames from the client (answered with a close frame carrying the code)
  unmasked_frame,         ///< a client frame without a mask (1002)
  reserved_bits,          ///< RSV1..3 set; no extension was negotiated (1002)
  reserved_opcode,        ///< opcode 3..7 or 11..15 (1002)
  bad_length,             ///< a 64-bit length with its top bit set, or not in its shortest form (1002)
  control_too_long,       ///< a ping, pong or close with more than 125 bytes (1002)
  fragmented_control,     ///< a ping, pong or close without FIN (1002)
  unexpected_continuation,///< a continuation frame with no message to continue (1002)
  expected_continuation,  ///< a new message before the fragmented one finished (1002)
  message_too_big,        ///< a message longer than the limit (1009)
  text_message,           ///< a text message: ember speaks binary (1003)
  bad_close_frame,        ///< a close frame of 1 byte, or with a code that may not be sent (1002)
  invalid_utf8,           ///< a close reason that is not UTF-8 (1007)
  frame_after_close,      ///< a frame after the client's close frame (1002)
  message_not_whole,      ///< a binary message that does not hold whole native frames (1002)
};

/// The category of `websocket::error`.
class error_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ember.websocket"; }
  std::string message(int value) const override;
};

/// The one instance of the WebSocket error category.
EMBER_DECL const std::error_category& websocket_category() noexcept;

/// Makes `websocket::error` values usable as `std::error_code`.
inline std::error_code make_error_code(error e) noexcept {
  return {static_cast<int>(e), websocket_category()};
}

}  // namespace ember::wire::websocket

template <>
struct std::is_error_code_enum<ember::wire::websocket::error> : std::true_type {};

namespace ember::wire::websocket {

/// Close codes (RFC 6455 §7.4.1) that ember sends or understands.
enum class close_code : std::uint16_t {
  normal = 1000,            ///< the session ended normally
  going_away = 1001,        ///< the server is stopping
  protocol_error = 1002,    ///< a frame broke RFC 6455 (or a native frame was invalid)
  unsupported_data = 1003,  ///< a text message: ember speaks binary
  no_status = 1005,         ///< (received only) a close frame without a code
  abnormal = 1006,          ///< (never sent) the connection dropped without a close frame
  invalid_payload = 1007,   ///< a close reason that is not UTF-8
  policy_violation = 1008,  ///< a limit or timeout of the session
  message_too_big = 1009,   ///< a message or a native frame longer than the limit
  internal_error = 1011,    ///< the server failed
};

/// The close code that tells a client why its session ends for `ec` (a `websocket::error`,
/// an `ember::errc` of the native frames or the session's limits, anything else 1011).
EMBER_DECL close_code close_code_of(const std::error_code& ec) noexcept;

/// The HTTP status an upgrade refused for `ec` is answered with (400 when not an upgrade error).
EMBER_DECL int http_status_of(const std::error_code& ec) noexcept;

/// True for a code a peer may send in a close frame (1000-1003, 1007-1014, 3000-4999).
constexpr bool valid_close_code(std::uint16_t code) noexcept {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

/// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or code points above
/// U+10FFFF).
EMBER_DECL bool valid_utf8(std::string_view text) noexcept;

// --- the upgrade ----------------------------------------------------------------------------

/// The GUID RFC 6455 appends to the client's key before hashing it.
inline constexpr std::string_view accept_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)).
EMBER_DECL std::string accept_key(std::string_view client_key);

/// What the listener accepts in an upgrade request.
struct upgrade_options {
  /// Origins a browser may connect from, as browsers send them (`https://game.example.com`;
  /// scheme and host compare case-insensitively). A request without `Origin` (not a browser) is
  /// always accepted; one with an `Origin` only if it is listed, or if the list holds `*`.
  std::vector<std::string> allowed_origins{};
  /// Bytes the request's line and headers may take before it is refused.
  std::size_t max_request = 8 * 1024;
};

/// An upgrade request read to its end: accepted or refused, with the answer to send.
struct upgrade_result {
  std::error_code error;   ///< empty when accepted
  std::string response;    ///< the 101 answer, or the refusal (which closes the connection)
  std::size_t used = 0;    ///< bytes of the input the request took; what follows is frames
  std::string path;        ///< the request's path (accepted or not, when it parsed)
  std::string origin;      ///< its `Origin`, "" if none
  std::string detail;      ///< for the log: what exactly was wrong
};

/// Reads an upgrade request from the start of `input` (the bytes received so far). Returns
/// nothing while the headers have not ended (and are within `max_request`), else the result:
/// a 101 answer if the request is a valid WebSocket upgrade from an allowed origin, a 400, 403,
/// 405, 426 or 431 answer with the reason otherwise.
EMBER_DECL std::optional<upgrade_result> read_upgrade(std::string_view input,
                                                       const upgrade_options& options);

// --- frames ---------------------------------------------------------------------------------

/// Frame opcodes (RFC 6455 §5.2).
enum class opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

/// What the decoder hands out: a whole binary message, or a control frame.
struct event {
  opcode op = opcode::binary;  ///< binary, ping, pong or close
  /// The message's bytes (binary), the application data (ping, pong), or the reason (close);
  /// valid only during the callback.
  bytes_view payload;
  /// A close frame's code (`close_code::no_status` when it had none).
  std::uint16_t code = 0;
};

/// A callback that receives each event and returns false to stop decoding.
template <class F>
concept event_handler = std::predicate<F&, const event&>;

/// Bounds of the decoder.
struct decoder_options {
  /// Largest message, fragments together, accepted; longer fails with `message_too_big`
  /// as soon as a frame header announces it.
  std::size_t max_message = 64 * 1024;
};

/// Splits the bytes a client sends after the upgrade into messages and control frames.
///
/// Server side of RFC 6455: every frame must be masked; lengths in 7, 16 or 64 bits (shortest
/// form); fragments of a message are reassembled (ping, pong and close may come between them);
/// control frames are at most 125 bytes and never fragmented; RSV bits (no extension is
/// negotiated), reserved opcodes and text messages are refused; a close frame's code must be
/// one a peer may send and its reason UTF-8. A frame that lies whole in the input and is not a
/// fragment is unmasked in place and handed out without a copy. After an error, or after the
/// close frame, the decoder keeps returning the same error (or `frame_after_close`).
class decoder {
 public:
  explicit decoder(decoder_options options = {}) noexcept : options_(options) {}

  /// Decodes `data` (which it unmasks in place) after the bytes kept from earlier calls, and
  /// calls `on_event(const event&)` for each message and control frame. A false return stops
  /// decoding (the rest of `data` is dropped). Returns the first error.
  template <event_handler OnEvent>
  std::error_code feed(std::span<std::byte> data, OnEvent&& on_event);

  /// True while a frame or a fragmented message is incomplete.
  bool has_partial() const noexcept {
    return header_used_ != 0 || in_payload_ || fragmented_;
  }
  /// The client's close frame has been decoded.
  bool closed() const noexcept { return closed_; }
  /// Bytes of memory held for an incomplete message.
  std::size_t capacity() const noexcept { return message_.capacity(); }
  /// Frees the message buffer when nothing is kept, so an idle session holds no memory.
  void shrink() noexcept {
    if (message_.empty()) message_.release();
  }

 private:
  /// Reads a complete header from `h` (`n` bytes available). 0: more bytes needed; else the
  /// header's size. Sets the frame's fields or returns an error through `ec`.
  EMBER_DECL std::size_t parse_header(const std::byte* h, std::size_t n, std::error_code& ec) noexcept;
  /// Checks a close frame's payload, setting `code` and the reason's bytes.
  EMBER_DECL std::error_code parse_close(bytes_view payload, event& out) noexcept;
  /// XORs `n` bytes at `p` with the mask, the first of them being byte `offset` of the payload.
  static void unmask(std::byte* p, std::size_t n, const std::array<std::byte, 4>& key,
                     std::uint64_t offset) noexcept {
    // eight bytes at a time (the compiler vectorises it), the key turned to start at `offset`
    std::byte k8[8];
    for (std::size_t j = 0; j < 8; ++j) k8[j] = key[(offset + j) & 3];
    std::uint64_t k;
    std::memcpy(&k, k8, 8);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      std::uint64_t w;
      std::memcpy(&w, p + i, 8);
      w ^= k;
      std::memcpy(p + i, &w, 8);
    }
    for (; i < n; ++i) p[i] ^= key[(offset + i) & 3];
  }
  template <class OnEvent>
  bool deliver(opcode op, bytes_view payload, OnEvent& on_event, std::error_code& ec);

  std::error_code fail(std::error_code ec) noexcept {
    error_ = ec;
    message_.release();
    return ec;
  }

  decoder_options options_;
  std::error_code error_;
  // the frame being read
  std::array<std::byte, 14> header_{};
  std::size_t header_used_ = 0;
  bool in_payload_ = false;
  bool fin_ = false;
  opcode op_ = opcode::binary;
  std::array<std::byte, 4> mask_{};
  std::uint64_t length_ = 0;
  std::uint64_t done_ = 0;  // payload bytes of this frame read so far
  // a control frame's payload, kept while it arrives in pieces
  std::array<std::byte, 125> control_{};
  // the message being reassembled
  buffer message_;
  bool fragmented_ = false;
  bool closed_ = false;
};

// --- the server's frames --------------------------------------------------------------------

/// Size of an unmasked frame header for a payload of `n` bytes: 2, 4 or 10.
constexpr std::size_t header_size(std::uint64_t n) noexcept {
  return n < 126 ? 2 : n <= 0xFFFF ? 4 : 10;
}

/// Writes an unmasked header (FIN set) of `header_size(n)` bytes at `out`.
EMBER_DECL void write_header(std::byte* out, opcode op, std::uint64_t n) noexcept;

/// Appends a frame: unmasked (the server's), or masked with `mask` (a client's, for tests and
/// clients); `fin` false makes it a fragment.
EMBER_DECL void append_frame(buffer& out, opcode op, bytes_view payload, bool fin = true,
                             std::optional<std::array<std::byte, 4>> mask = std::nullopt);

/// Appends a close frame with `code` and `reason` (cut to fit 125 bytes on a UTF-8 boundary).
EMBER_DECL void append_close(buffer& out, close_code code, std::string_view reason,
                             std::optional<std::array<std::byte, 4>> mask = std::nullopt);

// --- decoder::feed ------------------------------------------------------------------------

template <class OnEvent>
bool decoder::deliver(opcode op, bytes_view payload, OnEvent& on_event, std::error_code& ec) {
  event e;
  e.op = op;
  e.payload = payload;
  if (op == opcode::close) {
    closed_ = true;
    if ((ec = parse_close(payload, e))) return false;
  }
  return on_event(static_cast<const event&>(e));
}

template <event_handler OnEvent>
std::error_code decoder::feed(std::span<std::byte> data, OnEvent&& on_event) {
  if (error_) return error_;
  std::byte* in = data.data();
  std::size_t left = data.size();
  while (left != 0) {
    if (closed_) return fail(error::frame_after_close);
    std::error_code ec;
    if (!in_payload_) {
      std::size_t used = 0;
      if (header_used_ == 0) {
        used = parse_header(in, left, ec);
        if (ec) return fail(ec);
        if (used == 0) {
          // keep the start of a header (at most 13 bytes)
          for (std::size_t i = 0; i < left; ++i) header_[i] = in[i];
          header_used_ = left;
          return {};
        }
      } else {
        // complete the kept header a byte at a time (at most 13 of them)
        while (left != 0) {
          header_[header_used_++] = *in++;
          --left;
          const std::size_t h = parse_header(header_.data(), header_used_, ec);
          if (ec) return fail(ec);
          if (h != 0) break;
        }
        if (!in_payload_) return {};
        header_used_ = 0;
      }
      in += used;
      left -= used;
      // A whole unfragmented frame in the input: unmask it where it is, no copy.
      if (!fragmented_ && fin_ && length_ <= left && op_ != opcode::continuation) {
        const auto n = static_cast<std::size_t>(length_);
        unmask(in, n, mask_, 0);
        in_payload_ = false;
        const bytes_view payload(in, n);
        in += n;
        left -= n;
        if (!deliver(op_, payload, on_event, ec)) return ec ? fail(ec) : std::error_code{};
        continue;
      }
    }
    // The payload of the current frame, as much of it as is here.
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(length_ - done_, left));
    unmask(in, n, mask_, done_);
    const bool control = (static_cast<std::uint8_t>(op_) & 0x8) != 0;
    if (control)
      for (std::size_t i = 0; i < n; ++i) control_[done_ + i] = in[i];
    else
      message_.append(in, n);
    in += n;
    left -= n;
    done_ += n;
    if (done_ < length_) return {};
    in_payload_ = false;
    if (control) {
      if (!deliver(op_, bytes_view(control_.data(), static_cast<std::size_t>(length_)), on_event, ec))
        return ec ? fail(ec) : std::error_code{};
      continue;
    }
    fragmented_ = !fin_;
    if (fragmented_) continue;
    struct clear_on_exit {
      buffer& b;
      ~clear_on_exit() { b.clear(); }
    } done{message_};
    if (!deliver(opcode::binary, message_.view(), on_event, ec)) return ec ? fail(ec) : std::error_code{};
  }
  return {};
}

}  // namespace ember::wire::websocket

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/wire/impl/websocket.hpp"
#endif
