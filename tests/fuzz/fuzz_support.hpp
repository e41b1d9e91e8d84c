// ember fuzz targets: what they share. A failed check prints where and aborts, which libFuzzer
// reports as a crash with the input that caused it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <system_error>
#include <vector>

#include "ember/buffer.hpp"
#include "ember/wire/frame.hpp"

#define EMBER_FUZZ_CHECK(cond)                                                           \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);      \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

namespace ember::fuzz {

/// Reads the fuzzer's input front to back; past the end it yields zeros.
class input {
 public:
  input(const std::uint8_t* data, std::size_t size) noexcept : data_(data), size_(size) {}

  std::uint8_t u8() noexcept { return pos_ < size_ ? data_[pos_++] : 0; }
  std::uint16_t u16() noexcept { return std::uint16_t((u8() << 8) | u8()); }
  /// Everything not read yet.
  bytes_view rest() const noexcept {
    return {reinterpret_cast<const std::byte*>(data_) + pos_, size_ - pos_};
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

/// A decoded frame with its body copied out of the callback.
struct kept_frame {
  wire::frame_kind kind;
  std::uint8_t flags;
  std::uint32_t command, seq, ack;
  std::vector<std::byte> body;
  friend bool operator==(const kept_frame&, const kept_frame&) = default;
};

/// Everything a decoder reported for one stream.
struct decoded {
  std::vector<kept_frame> frames;
  std::error_code error;  ///< the first error `feed` returned
  std::error_code end;    ///< what `finish` returned
  friend bool operator==(const decoded&, const decoded&) = default;
};

/// Feeds `stream` to `decoder` cut at the ascending offsets `cuts`, as a session would:
/// one `feed` per piece, none after an error.
template <class Decoder, class Cuts>
decoded decode(Decoder&& decoder, bytes_view stream, const Cuts& cuts) {
  decoded out;
  std::size_t from = 0;
  auto feed = [&](std::size_t to) {
    if (out.error) return;
    out.error = decoder.feed(stream.subspan(from, to - from), [&](const wire::frame& f) {
      out.frames.push_back({f.kind, f.flags, f.command, f.seq, f.ack,
                            std::vector<std::byte>(f.body.begin(), f.body.end())});
      return true;
    });
    from = to;
  };
  for (std::size_t cut : cuts) feed(cut);
  feed(stream.size());
  out.end = decoder.finish();
  return out;
}

}  // namespace ember::fuzz
