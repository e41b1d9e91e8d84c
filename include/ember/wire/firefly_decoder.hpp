// ember: the incremental decoder of Firefly's 17-byte datapack (PROTOCOL.md, FIREFLY.md).
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

/// The datapack header as `basic_decoder` reads it: the deployment's six values, a length
/// that counts the 4-byte command id, and a body within the limit.
struct firefly_format {
  static constexpr std::size_t header_size = firefly_header_size;

  firefly_config config;
  decoder_limits limits;

  std::error_code parse(const std::byte* header, frame& out,
                        std::size_t& body_size) const noexcept {
    for (std::size_t i = 0; i < 4; ++i)
      if (std::uint8_t(header[i]) != config.magic[i]) return errc::bad_magic;
    if (std::uint8_t(header[4]) != config.version ||
        get_u32(header + 5) != config.server_version)
      return errc::bad_magic;
    const std::uint32_t length = get_u32(header + 9);
    // Firefly itself checks neither bound (FIREFLY.md)
    if (length < 4) return errc::bad_length;
    if (length - 4 > limits.max_body) return errc::frame_too_large;
    out.kind = frame_kind::request;
    out.flags = 0;
    out.command = get_u32(header + 13);
    out.seq = 0;
    out.ack = 0;
    body_size = length - 4;
    return {};
  }
};

}  // namespace detail

/// Splits a Firefly datapack stream into frames (see `basic_decoder` for `feed` and the
/// rest). Each comes out as a request with flags, seq and ack 0, the datapack's command id
/// and a body of `length - 4` bytes. Fails with `errc::bad_magic` when the magic, version or
/// server version differ from `config`, `errc::bad_length` when the length is below 4 and
/// `errc::frame_too_large` when the body is longer than `limits.max_body`.
class firefly_decoder : public basic_decoder<detail::firefly_format> {
 public:
  explicit firefly_decoder(firefly_config config = {}, decoder_limits limits = {}) noexcept
      : basic_decoder(detail::firefly_format{config, limits}) {}
};

}  // namespace ember::wire
