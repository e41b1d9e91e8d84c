// libFuzzer target: however a stream is cut into reads, both decoders report the same frames
// and the same error as when it arrives in one piece.
//
// Input: a byte n (0..15 cuts), n big-endian u16 cut offsets (taken modulo the stream length
// plus one, then sorted), a byte choosing the body limit (x16), then the stream. The same
// stream goes through the native decoder and the Firefly decoder (example game header).
#include "ember/wire/decoder.hpp"

#include <algorithm>
#include <array>

#include "fuzz_support.hpp"

using namespace ember;

namespace {

template <class Decoder>
void same_in_pieces(const Decoder& fresh, bytes_view stream, std::span<const std::size_t> cuts) {
  static constexpr std::array<std::size_t, 0> whole{};
  const fuzz::decoded one_shot = fuzz::decode(Decoder(fresh), stream, whole);
  const fuzz::decoded in_pieces = fuzz::decode(Decoder(fresh), stream, cuts);
  EMBER_FUZZ_CHECK(in_pieces == one_shot);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in(data, size);
  std::array<std::uint16_t, 15> raw{};
  const std::size_t n = in.u8() % (raw.size() + 1);
  for (std::size_t i = 0; i < n; ++i) raw[i] = in.u16();
  const wire::decoder_limits limits{.max_body = std::size_t(in.u8()) * 16};
  const bytes_view stream = in.rest();

  std::array<std::size_t, 15> cuts{};
  for (std::size_t i = 0; i < n; ++i) cuts[i] = raw[i] % (stream.size() + 1);
  std::sort(cuts.begin(), cuts.begin() + n);
  const std::span<const std::size_t> chosen(cuts.data(), n);

  same_in_pieces(wire::native_decoder(limits), stream, chosen);
  same_in_pieces(wire::firefly_decoder({{78, 37, 38, 48}, 9, 0}, limits), stream, chosen);
  return 0;
}
