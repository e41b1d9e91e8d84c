// libFuzzer target: the WebSocket upgrade request (HTTP, through libhttp-parser) on untrusted
// bytes.
//
// Input: one byte choosing the Origin allow-list and the size limit, then the request. An
// answer comes exactly when the headers end or pass the limit; it is a 101 with a 28-character
// accept key only without an error, else a refusal whose status matches the error; the
// request's bytes alone give the same answer, and none of their prefixes give one.
#include "ember/wire/websocket.hpp"

#include <string>
#include <string_view>

#include "fuzz_support.hpp"

using namespace ember;
namespace ws = ember::wire::websocket;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in(data, size);
  const std::uint8_t choice = in.u8();
  ws::upgrade_options options;
  if (choice & 1) options.allowed_origins = {"https://game.example.com"};
  if (choice & 2) options.allowed_origins.push_back("*");
  options.max_request = 64 + (choice >> 2) * 64;
  const bytes_view rest = in.rest();
  const std::string_view request(reinterpret_cast<const char*>(rest.data()), rest.size());

  const auto r = ws::read_upgrade(request, options);
  if (!r) {
    EMBER_FUZZ_CHECK(request.size() < options.max_request);
    return 0;
  }
  EMBER_FUZZ_CHECK(r->used <= request.size() && r->used > 0);
  if (!r->error) {
    EMBER_FUZZ_CHECK(r->used <= options.max_request);
    EMBER_FUZZ_CHECK(r->response.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
    const auto at = r->response.find("Sec-WebSocket-Accept: ");
    EMBER_FUZZ_CHECK(at != std::string::npos);
    EMBER_FUZZ_CHECK(r->response.substr(at + 22) .size() == 28 + 4);
  } else {
    EMBER_FUZZ_CHECK(r->error.category() == ws::websocket_category());
    EMBER_FUZZ_CHECK(r->response.starts_with(
        "HTTP/1.1 " + std::to_string(ws::http_status_of(r->error)) + " "));
  }
  if (r->error != ws::error::request_too_large) {
    const auto again = ws::read_upgrade(request.substr(0, r->used), options);
    EMBER_FUZZ_CHECK(again && again->error == r->error && again->response == r->response);
    EMBER_FUZZ_CHECK(!ws::read_upgrade(request.substr(0, r->used - 1), options));
  }
  return 0;
}
