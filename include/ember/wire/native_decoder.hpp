// ember: the incremental decoder of the native framing (16-byte header, PROTOCOL.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <system_error>

#include "ember/error.hpp"
#include "ember/wire/basic_decoder.hpp"
#include "ember/wire/frame.hpp"
#include "ember/wire/limits.hpp"

namespace ember::wire {

namespace detail {

/// The native header as `basic_decoder` reads it: a known kind and a body within the limit.
struct native_format {
  static constexpr std::size_t header_size = native_header_size;

  decoder_limits limits;

  std::error_code parse(const std::byte* header, frame& out,
                        std::size_t& body_size) const noexcept {
    const frame_header h = read_header(header);
    if (!known_kind(std::uint8_t(h.kind))) return errc::unknown_kind;
    if (h.length > limits.max_body) return errc::frame_too_large;
    out.kind = h.kind;
    out.flags = h.flags;
    out.command = h.command;
    out.seq = h.seq;
    out.ack = h.ack;
    body_size = h.length;
    return {};
  }
};

}  // namespace detail

/// Splits a native byte stream into frames (see `basic_decoder` for `feed` and the rest).
/// Fails with `errc::unknown_kind` on a kind this version does not define and with
/// `errc::frame_too_large` on a body longer than `limits.max_body`.
class native_decoder : public basic_decoder<detail::native_format> {
 public:
  explicit native_decoder(decoder_limits limits = {}) noexcept
      : basic_decoder(detail::native_format{limits}) {}
};

}  // namespace ember::wire
