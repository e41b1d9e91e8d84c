// libFuzzer target: the decoders ember-codegen generates, on untrusted bytes.
//
// The whole input is one body. It is decoded as binary and as JSON into every message of
// schemas/test/all_types.toml and of the chat example's schema, and into
// ember::codec::error_body, and must survive the round trip of fuzz_roundtrip.hpp.
#include <string_view>

#include "all_types.hpp"
#include "chat.hpp"
#include "fuzz_roundtrip.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ember::bytes_view in(reinterpret_cast<const std::byte*>(data), size);
  ember_fuzz::check_tuple<all_types::message_types>::run(in);
  ember_fuzz::check_all<ember::codec::error_body>(in);
  // the example schema's messages, as a chat client would send and receive them
  ember_fuzz::check_tuple<chat::message_types>::run(in);
  return 0;
}
