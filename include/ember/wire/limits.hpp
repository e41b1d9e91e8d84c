// ember: the bounds of the wire layer, shared by the decoders and the frame encoder.
#pragma once

#include <cstddef>

namespace ember::wire {

/// The largest body either framing accepts unless configured otherwise: 64 KiB.
inline constexpr std::size_t default_max_body = 64 * 1024;

/// Bounds a decoder enforces on what a peer sends.
struct decoder_limits {
  /// Largest body accepted; a header announcing more fails the stream with
  /// `errc::frame_too_large` before any of its body is read.
  std::size_t max_body = default_max_body;
};

}  // namespace ember::wire
