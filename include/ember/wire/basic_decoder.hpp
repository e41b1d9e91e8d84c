// ember: the incremental decode loop shared by the native and the Firefly framing.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <system_error>
#include <type_traits>
#include <utility>

#include "ember/error.hpp"
#include "ember/buffer.hpp"
#include "ember/wire/frame.hpp"
#include "ember/wire/limits.hpp"

namespace ember::wire {

/// A callback that receives each decoded frame and returns false to stop decoding.
template <class F>
concept frame_handler = std::predicate<F&, const frame&>;

/// A framing as `basic_decoder` sees it: a fixed header size, and `parse`, which reads one
/// complete header into `out` (all but `body`) and `body_size`, or returns why it is invalid.
template <class F>
concept frame_format =
    requires(const F& format, const std::byte* header, frame& out, std::size_t& body_size) {
      { F::header_size } -> std::convertible_to<std::size_t>;
      { format.parse(header, out, body_size) } noexcept -> std::same_as<std::error_code>;
    };

/// Splits a byte stream into frames of one framing, as the bytes arrive.
///
/// Frames that lie whole inside the bytes given to `feed` are handed out in place (their
/// `body` points into those bytes); only an incomplete trailing frame is copied into an
/// internal buffer, and completing it copies only the bytes it still lacks. A header is
/// checked as soon as its bytes are complete, so an invalid one fails the stream before its
/// body arrives. After a failure the decoder keeps returning the same error.
template <frame_format Format>
class basic_decoder {
 public:
  static constexpr std::size_t header_size = Format::header_size;

  explicit basic_decoder(Format format) noexcept(std::is_nothrow_move_constructible_v<Format>)
      : format_(std::move(format)) {}

  /// Decodes every complete frame in `data`, after the bytes kept from earlier calls, and
  /// calls `on_frame(const frame&)` for each in order; its `body` is valid only during that
  /// call. A false return stops decoding: the rest of `data` and any kept bytes are dropped
  /// (as they are if `on_frame` throws). Bytes of an incomplete trailing frame are kept for
  /// the next call. Returns the `ember::errc` of the first invalid header; frames before it
  /// have been delivered, and the decoder is unusable from then on.
  template <frame_handler OnFrame>
  std::error_code feed(bytes_view data, OnFrame&& on_frame) {
    if (error_) return error_;
    const std::byte* in = data.data();
    std::size_t left = data.size();

    if (!kept_.empty()) {
      std::size_t body_size = 0;
      frame f;
      if (kept_.size() < header_size) {
        const std::size_t n = std::min(header_size - kept_.size(), left);
        kept_.append(in, n);
        in += n;
        left -= n;
        if (kept_.size() < header_size) return {};
        if (auto ec = format_.parse(kept_.data(), f, body_size)) return fail(ec);
        kept_.prepare(body_size);  // one allocation for the whole frame
      } else {
        // the header was checked when its last byte arrived; reading it again is cheaper than
        // keeping a copy
        (void)format_.parse(kept_.data(), f, body_size);
      }
      const std::size_t n = std::min(header_size + body_size - kept_.size(), left);
      kept_.append(in, n);
      in += n;
      left -= n;
      if (kept_.size() < header_size + body_size) return {};

      f.body = bytes_view(kept_.data() + header_size, body_size);
      const clear_on_exit done{kept_};
      if (!on_frame(std::as_const(f))) return {};
    }

    std::size_t need = header_size;  // what the trailing frame needs, once its header is read
    while (left >= header_size) {
      std::size_t body_size = 0;
      frame f;
      if (auto ec = format_.parse(in, f, body_size)) return fail(ec);
      need = header_size + body_size;
      if (left < need) break;
      f.body = bytes_view(in + header_size, body_size);
      in += need;
      left -= need;
      need = header_size;
      if (!on_frame(std::as_const(f))) return {};
    }

    if (left != 0) {
      kept_.prepare(need);  // one allocation for the whole frame when its header is complete
      kept_.append(in, left);
    }
    return {};
  }

  /// True when bytes of an incomplete frame are kept for the next `feed`.
  bool has_partial() const noexcept { return !kept_.empty(); }

  /// How many bytes of an incomplete frame are kept.
  std::size_t buffered() const noexcept { return kept_.size(); }

  /// How much memory the decoder holds for kept bytes (0 after `shrink` with nothing kept).
  std::size_t capacity() const noexcept { return kept_.capacity(); }

  /// Frees the internal buffer when nothing is kept, so an idle session holds no memory.
  void shrink() noexcept {
    if (kept_.empty()) kept_.release();
  }

  /// At the end of the stream: `errc::truncated_frame` if it ended inside a frame, the
  /// decoder's error if a header failed, else no error.
  std::error_code finish() const noexcept {
    if (error_) return error_;
    if (!kept_.empty()) return errc::truncated_frame;
    return {};
  }

 private:
  struct clear_on_exit {
    buffer& b;
    ~clear_on_exit() { b.clear(); }
  };

  std::error_code fail(std::error_code ec) noexcept {
    error_ = ec;
    kept_.release();
    return ec;
  }

  Format format_;
  buffer kept_;
  std::error_code error_;
};

}  // namespace ember::wire
