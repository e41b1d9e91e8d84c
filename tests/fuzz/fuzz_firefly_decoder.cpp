// libFuzzer target: the Firefly datapack decoder on untrusted bytes, in one piece.
//
// Input: one byte whose top bit picks the header values (Firefly's all-zero default, or the
// example game's 78,37,38,48 version 9) and whose low bits choose the body limit (x32), then
// the stream. Checks as fuzz_native_decoder does: limits, byte-exact re-encoding, sticky
// header faults, an exact tail.
#include "ember/wire/decoder.hpp"
#include "ember/wire/encoder.hpp"

#include <cstring>

#include "fuzz_support.hpp"

using namespace ember;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in(data, size);
  const std::uint8_t choice = in.u8();
  const wire::firefly_config config =
      (choice & 0x80) ? wire::firefly_config{{78, 37, 38, 48}, 9, 0} : wire::firefly_config{};
  const std::size_t max_body = std::size_t(choice & 0x7f) * 32;
  const bytes_view stream = in.rest();

  wire::firefly_decoder decoder(config, {.max_body = max_body});
  buffer again;
  const std::error_code ec = decoder.feed(stream, [&](const wire::frame& f) {
    EMBER_FUZZ_CHECK(f.kind == wire::frame_kind::request);
    EMBER_FUZZ_CHECK(f.flags == 0 && f.seq == 0 && f.ack == 0);
    EMBER_FUZZ_CHECK(f.body.size() <= max_body);
    EMBER_FUZZ_CHECK(!wire::append_frame(again, config, f.command, f.body, max_body));
    return true;
  });

  EMBER_FUZZ_CHECK(again.size() <= stream.size());
  EMBER_FUZZ_CHECK(again.empty() || std::memcmp(again.data(), stream.data(), again.size()) == 0);
  const std::size_t tail = stream.size() - again.size();

  if (ec) {
    EMBER_FUZZ_CHECK(ec == errc::bad_magic || ec == errc::bad_length ||
                     ec == errc::frame_too_large);
    EMBER_FUZZ_CHECK(tail >= wire::firefly_header_size);
    EMBER_FUZZ_CHECK(decoder.capacity() == 0);
    EMBER_FUZZ_CHECK(decoder.feed(stream, [](const wire::frame&) { return true; }) == ec);
    EMBER_FUZZ_CHECK(decoder.finish() == ec);
  } else {
    EMBER_FUZZ_CHECK(decoder.buffered() == tail);
    EMBER_FUZZ_CHECK(tail < wire::firefly_header_size + max_body);
    EMBER_FUZZ_CHECK(decoder.finish() == (tail ? std::error_code(errc::truncated_frame)
                                               : std::error_code()));
    if (tail == 0) {
      EMBER_FUZZ_CHECK(decoder.capacity() == 0);
    }
  }
  decoder.shrink();
  EMBER_FUZZ_CHECK(decoder.buffered() == (ec ? 0 : tail));
  return 0;
}
