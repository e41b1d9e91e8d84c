// libFuzzer target: the native decoder on untrusted bytes, in one piece.
//
// Input: one byte choosing the body limit (x16, so both sides of it fit in -max_len), then
// the stream. Checks that every decoded frame respects the limit and re-encodes to exactly the
// bytes it came from, that a failure names a header fault and sticks, and that what is kept
// is exactly the incomplete tail.
#include "ember/wire/decoder.hpp"
#include "ember/wire/encoder.hpp"

#include <cstring>

#include "fuzz_support.hpp"

using namespace ember;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in(data, size);
  const std::size_t max_body = std::size_t(in.u8()) * 16;
  const bytes_view stream = in.rest();

  wire::native_decoder decoder({.max_body = max_body});
  buffer again;
  const std::error_code ec = decoder.feed(stream, [&](const wire::frame& f) {
    EMBER_FUZZ_CHECK(wire::known_kind(std::uint8_t(f.kind)));
    EMBER_FUZZ_CHECK(f.body.size() <= max_body);
    EMBER_FUZZ_CHECK(f.command <= 0xffff);
    const wire::frame_header h{.kind = f.kind,
                               .flags = f.flags,
                               .command = std::uint16_t(f.command),
                               .seq = f.seq,
                               .ack = f.ack};
    EMBER_FUZZ_CHECK(!wire::append_frame(again, h, f.body, max_body));
    return true;
  });

  // the frames came from the front of the stream, byte for byte
  EMBER_FUZZ_CHECK(again.size() <= stream.size());
  EMBER_FUZZ_CHECK(again.empty() || std::memcmp(again.data(), stream.data(), again.size()) == 0);
  const std::size_t tail = stream.size() - again.size();

  if (ec) {
    EMBER_FUZZ_CHECK(ec == errc::unknown_kind || ec == errc::frame_too_large);
    EMBER_FUZZ_CHECK(tail >= wire::native_header_size);  // judged on a whole header
    EMBER_FUZZ_CHECK(decoder.capacity() == 0);
    EMBER_FUZZ_CHECK(decoder.feed(stream, [](const wire::frame&) { return true; }) == ec);
    EMBER_FUZZ_CHECK(decoder.finish() == ec);
  } else {
    EMBER_FUZZ_CHECK(decoder.buffered() == tail);
    EMBER_FUZZ_CHECK(tail < wire::native_header_size + max_body);
    EMBER_FUZZ_CHECK(decoder.finish() == (tail ? std::error_code(errc::truncated_frame)
                                               : std::error_code()));
    if (tail == 0) {
      EMBER_FUZZ_CHECK(decoder.capacity() == 0);  // whole frames are never copied
    }
  }
  decoder.shrink();
  EMBER_FUZZ_CHECK(decoder.buffered() == (ec ? 0 : tail));
  return 0;
}
