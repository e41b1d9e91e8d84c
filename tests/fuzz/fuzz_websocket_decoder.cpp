// libFuzzer target: the WebSocket frame decoder (server side) on untrusted bytes.
//
// Input: one byte choosing the message limit (x16), one the size of the pieces the stream is
// fed in, then the stream. Decoded whole and in pieces, it gives the same events and the same
// error; every message respects the limit, every control frame RFC 6455's bounds, every close
// a valid code and a UTF-8 reason; after an error the decoder keeps it.
#include "ember/wire/websocket.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "fuzz_support.hpp"

using namespace ember;
namespace ws = ember::wire::websocket;

namespace {

struct kept_event {
  ws::opcode op;
  std::vector<std::byte> payload;
  std::uint16_t code;
  friend bool operator==(const kept_event&, const kept_event&) = default;
};

struct run {
  std::vector<kept_event> events;
  std::error_code error;
};

run decode(std::vector<std::byte> stream, std::size_t piece, std::size_t max_message) {
  ws::decoder d({.max_message = max_message});
  run r;
  for (std::size_t at = 0; at < stream.size() && !r.error; at += piece) {
    const std::size_t n = std::min(piece, stream.size() - at);
    r.error = d.feed(std::span<std::byte>(stream.data() + at, n), [&](const ws::event& e) {
      switch (e.op) {
        case ws::opcode::binary:
          EMBER_FUZZ_CHECK(e.payload.size() <= max_message);
          break;
        case ws::opcode::ping:
        case ws::opcode::pong:
          EMBER_FUZZ_CHECK(e.payload.size() <= 125);
          break;
        case ws::opcode::close:
          EMBER_FUZZ_CHECK(e.payload.size() <= 123);
          EMBER_FUZZ_CHECK(e.code == 1005 ? e.payload.empty() : ws::valid_close_code(e.code));
          EMBER_FUZZ_CHECK(ws::valid_utf8(
              std::string_view(reinterpret_cast<const char*>(e.payload.data()), e.payload.size())));
          EMBER_FUZZ_CHECK(d.closed());
          break;
        default:
          EMBER_FUZZ_CHECK(false);
      }
      r.events.push_back({e.op, {e.payload.begin(), e.payload.end()}, e.code});
      return true;
    });
  }
  if (r.error) {
    EMBER_FUZZ_CHECK(r.error.category() == ws::websocket_category());
    std::byte one{0x82};
    EMBER_FUZZ_CHECK(d.feed(std::span<std::byte>(&one, 1), [](const ws::event&) { return true; }) == r.error);
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in(data, size);
  const std::size_t max_message = std::size_t(in.u8()) * 16;
  const std::size_t piece = std::size_t(in.u8() % 32) + 1;
  const bytes_view rest = in.rest();
  const std::vector<std::byte> stream(rest.begin(), rest.end());

  const run whole = decode(stream, std::max<std::size_t>(stream.size(), 1), max_message);
  const run split = decode(stream, piece, max_message);
  EMBER_FUZZ_CHECK(whole.error == split.error);
  EMBER_FUZZ_CHECK(whole.events == split.events);
  return 0;
}
