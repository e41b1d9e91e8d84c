// ember: the frames a resumable session has sent (replies, errors, pushes) and the client has
// not acknowledged yet, kept so that a resumed session can send them again (internal).
#pragma once

#include <cstddef>
#include <cstdint>

#include "ember/buffer.hpp"
#include "ember/wire/frame.hpp"

namespace ember::net::detail {

/// Whole native frames in the order they were sent. Frames are numbered 1, 2, 3, … as the
/// client counts them; the client's `ack` (frames it has received) drops the ones it has.
class outbox {
 public:
  /// Keeps a copy of one whole frame (header and body).
  void add(bytes_view frame) {
    frames_.append(frame);
    ++sent_;
  }

  /// The client has received the first `received` frames: drop them. A smaller number than
  /// before changes nothing; a larger one than was sent is clamped.
  void ack(std::uint32_t received) noexcept {
    if (received > sent_) received = sent_;
    while (acked_ < received) {
      const std::size_t frame = wire::native_header_size +
                                wire::detail::get_u32(frames_.data() + head_);
      head_ += frame;
      ++acked_;
    }
    if (head_ == frames_.size()) {
      frames_.clear();
      head_ = 0;
      if (frames_.capacity() > 4096) frames_.release();
    } else if (head_ > frames_.size() / 2) {
      frames_.consume(head_);  // compact once the dropped part is the larger one
      head_ = 0;
    }
  }

  /// True when a client that has received `received` frames can be given the rest: none of
  /// them has been dropped, and it does not claim more than were sent.
  bool can_resume_from(std::uint32_t received) const noexcept {
    return received >= acked_ && received <= sent_;
  }

  /// The frames after the first `received` (see `can_resume_from`), to send again.
  bytes_view after(std::uint32_t received) {
    ack(received);
    return bytes_view(frames_.data() + head_, frames_.size() - head_);
  }

  std::size_t bytes() const noexcept { return frames_.size() - head_; }
  /// Bytes of memory it holds.
  std::size_t capacity() const noexcept { return frames_.capacity(); }
  std::uint32_t sent() const noexcept { return sent_; }
  std::uint32_t acked() const noexcept { return acked_; }
  /// The frames kept (sent, not acknowledged), whole, in order: what a session handed to
  /// another server takes along.
  bytes_view kept() const noexcept { return bytes_view(frames_.data() + head_, bytes()); }
  /// Takes over the numbering and the kept frames of another server's outbox (`kept()` there).
  void restore(std::uint32_t acked, std::uint32_t sent, bytes_view kept) {
    frames_.clear();
    frames_.append(kept);
    head_ = 0;
    acked_ = acked;
    sent_ = sent;
  }
  /// Frees everything (the session can no longer be resumed).
  void release() noexcept {
    frames_.release();
    head_ = 0;
    acked_ = sent_;
  }

 private:
  buffer frames_;
  std::size_t head_ = 0;     // bytes of acknowledged frames at the front of `frames_`
  std::uint32_t sent_ = 0;   // frames added so far
  std::uint32_t acked_ = 0;  // frames dropped (the client has them)
};

}  // namespace ember::net::detail
