// libFuzzer target: the handshake bodies (both hellos) on untrusted bytes, and a resumable
// session's outbox fed acknowledgement counts a client chooses.
//
// Input: one byte choosing the part, then its bytes. Hellos: a body that decodes re-encodes to
// exactly the bytes its flags say it has; a short one is refused. Outbox: frames of sizes from
// the input, then acknowledgements from the input; what remains is always whole frames, in
// order, and never more than was sent.
#include "ember/net/detail/outbox.hpp"
#include "ember/wire/encoder.hpp"
#include "ember/wire/handshake.hpp"

#include <cstring>

#include "fuzz_support.hpp"

using namespace ember;

namespace {

void client_hello(bytes_view b) {
  auto h = wire::client_hello::decode(b);
  if (!h) {
    EMBER_FUZZ_CHECK(b.size() < wire::client_hello::take_over_size);
    return;
  }
  buffer again;
  h->encode(again);
  const std::size_t used = !h->resume   ? wire::client_hello::base_size
                           : h->take_over ? wire::client_hello::take_over_size
                                          : wire::client_hello::resume_size;
  EMBER_FUZZ_CHECK(again.size() == used && used <= b.size());
  // byte 3 keeps only the flags it defines; `moved` and `take_over` only beside `resume`
  using hello = wire::client_hello;
  constexpr std::uint8_t with_resume = hello::moved_flag | hello::take_over_flag;
  std::uint8_t flags = std::uint8_t(b.data()[3]) & (hello::resume_flag | hello::resumable_flag | with_resume);
  if ((flags & hello::resume_flag) == 0) flags &= std::uint8_t(~with_resume);
  EMBER_FUZZ_CHECK(std::memcmp(again.data(), b.data(), 3) == 0);
  EMBER_FUZZ_CHECK(std::uint8_t(again.data()[3]) == flags);
  EMBER_FUZZ_CHECK(std::memcmp(again.data() + 4, b.data() + 4, used - 4) == 0);
}

void server_hello(bytes_view b) {
  auto h = wire::server_hello::decode(b);
  if (!h) {
    EMBER_FUZZ_CHECK(b.size() < wire::server_hello::size);
    return;
  }
  buffer again;
  h->encode(again);
  EMBER_FUZZ_CHECK(again.size() == wire::server_hello::size);
  EMBER_FUZZ_CHECK(std::memcmp(again.data(), b.data(), 3) == 0);
  EMBER_FUZZ_CHECK(std::memcmp(again.data() + 4, b.data() + 4, wire::server_hello::size - 4) == 0);
}

void outbox(fuzz::input& in) {
  net::detail::outbox box;
  std::uint32_t frames = 0;
  std::size_t bytes = 0;
  for (int i = in.u8() % 64; i > 0; --i) {  // frames, each a header and a body of 0..255 bytes
    buffer f;
    const std::size_t body = in.u8();
    (void)wire::append_frame(f, {.kind = wire::frame_kind::push, .seq = ++frames},
                             [&](buffer& out) { out.prepare(body); out.commit(body); }, 1 << 20);
    box.add(f.view());
    bytes += f.size();
  }
  EMBER_FUZZ_CHECK(box.sent() == frames && box.bytes() == bytes);
  for (int i = in.u8() % 16; i > 0; --i) {
    const std::uint32_t ack = std::uint32_t(in.u8()) % (frames + 8);  // some past what was sent
    const std::uint32_t before = box.acked();
    const bool can = box.can_resume_from(ack);
    EMBER_FUZZ_CHECK(can == (ack >= before && ack <= frames));
    box.ack(ack);
    EMBER_FUZZ_CHECK(box.acked() == std::max(before, std::min(ack, frames)));
    // what is kept starts with the first frame not acknowledged, and is whole frames
    const bytes_view rest = box.after(box.acked());
    std::uint32_t seq = box.acked();
    for (std::size_t at = 0; at < rest.size();) {
      auto h = wire::read_header(rest.data() + at);
      EMBER_FUZZ_CHECK(h.seq == ++seq);
      at += wire::native_header_size + h.length;
      EMBER_FUZZ_CHECK(at <= rest.size());
    }
    EMBER_FUZZ_CHECK(seq == frames);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in(data, size);
  switch (in.u8() % 3) {
    case 0: client_hello(in.rest()); break;
    case 1: server_hello(in.rest()); break;
    default: outbox(in); break;
  }
  return 0;
}
