// Tests of ember/wire/websocket.hpp: the upgrade, the frame decoder and the server's frames.
#include "ember/wire/websocket.hpp"  // first: the header stands on its own

#define BOOST_TEST_MODULE wire_websocket
#include <boost/test/unit_test.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "ember/error.hpp"

namespace ember::wire::websocket {
// how Boost.Test prints them in a failed check
std::ostream& boost_test_print_type(std::ostream& os, error e) { return os << make_error_code(e).message(); }
std::ostream& boost_test_print_type(std::ostream& os, close_code c) { return os << int(c); }
}  // namespace ember::wire::websocket

namespace ws = ember::wire::websocket;
using ember::buffer;
using ember::bytes_view;
using ws::opcode;

namespace {

std::vector<std::byte> bytes(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int b : v) out.push_back(std::byte(b));
  return out;
}

std::string text(bytes_view b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

constexpr std::array<std::byte, 4> mask_key{std::byte(0x37), std::byte(0xfa), std::byte(0x21),
                                            std::byte(0x3d)};

/// An event as the tests keep it.
struct seen {
  opcode op;
  std::string payload;
  std::uint16_t code = 0;
  friend bool operator==(const seen&, const seen&) = default;
};

struct decoded {
  std::vector<seen> events;
  std::error_code error;
};

/// Feeds `stream` in pieces of `step` bytes (0: all at once), as a session reads it.
decoded decode(std::vector<std::byte> stream, std::size_t step = 0,
               ws::decoder_options options = {}) {
  ws::decoder d(options);
  decoded out;
  if (step == 0) step = stream.size() ? stream.size() : 1;
  for (std::size_t at = 0; at < stream.size() && !out.error; at += step) {
    const std::size_t n = std::min(step, stream.size() - at);
    out.error = d.feed(std::span<std::byte>(stream.data() + at, n), [&](const ws::event& e) {
      out.events.push_back({e.op, text(e.payload), e.code});
      return true;
    });
  }
  return out;
}

/// A client's (masked) frame.
std::vector<std::byte> client_frame(opcode op, std::string_view payload, bool fin = true) {
  buffer b;
  ws::append_frame(b, op, ember::as_bytes(payload), fin, mask_key);
  return {b.data(), b.data() + b.size()};
}

std::vector<std::byte> cat(std::initializer_list<std::vector<std::byte>> parts) {
  std::vector<std::byte> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::string request(std::string_view extra_or_replaced = {}, std::string_view method = "GET",
                    std::string_view key = "dGhlIHNhbXBsZSBub25jZQ==") {
  std::string r = std::string(method) + " /ws HTTP/1.1\r\nHost: server.example.com\r\n";
  if (extra_or_replaced.find("Upgrade:") == std::string_view::npos) r += "Upgrade: websocket\r\n";
  if (extra_or_replaced.find("Connection:") == std::string_view::npos) r += "Connection: Upgrade\r\n";
  if (extra_or_replaced.find("Sec-WebSocket-Version:") == std::string_view::npos)
    r += "Sec-WebSocket-Version: 13\r\n";
  r += "Sec-WebSocket-Key: " + std::string(key) + "\r\n";
  r += extra_or_replaced;
  return r + "\r\n";
}

std::error_code upgrade_error(const std::string& req, ws::upgrade_options o = {}) {
  auto r = ws::read_upgrade(req, o);
  BOOST_REQUIRE(r);
  return r->error;
}

}  // namespace

// ---- the upgrade ----

BOOST_AUTO_TEST_CASE(the_accept_key_of_rfc_6455s_example_is_s3pPLMBiTxaQ9kYGzzhZRbK_xOo) {
  BOOST_TEST(ws::accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

BOOST_AUTO_TEST_CASE(a_valid_upgrade_is_answered_with_101_and_the_accept_key) {
  const std::string req = request("Origin: http://example.com\r\n");
  ws::upgrade_options o;
  o.allowed_origins = {"HTTP://Example.com"};
  auto r = ws::read_upgrade(req + "\x82", o);  // a frame's first byte after it is not the request's
  BOOST_REQUIRE(r);
  BOOST_TEST(!r->error);
  BOOST_TEST(r->used == req.size());
  BOOST_TEST(r->path == "/ws");
  BOOST_TEST(r->origin == "http://example.com");
  BOOST_TEST(r->response.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
  BOOST_TEST(r->response.find("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") !=
             std::string::npos);
  BOOST_TEST(r->response.ends_with("\r\n\r\n"));
}

BOOST_AUTO_TEST_CASE(an_upgrade_is_read_whatever_pieces_it_arrives_in) {
  const std::string req = request();
  for (std::size_t n = 0; n < req.size(); ++n) BOOST_TEST(!ws::read_upgrade(req.substr(0, n), {}));
  BOOST_TEST(!ws::read_upgrade(req, {})->error);
}

BOOST_AUTO_TEST_CASE(header_names_and_tokens_compare_case_insensitively) {
  const std::string req =
      "GET / HTTP/1.1\r\nhost: x\r\nupgrade: WebSocket\r\nconnection: keep-alive, UPGRADE\r\n"
      "sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  BOOST_TEST(!upgrade_error(req));
}

BOOST_AUTO_TEST_CASE(a_request_that_is_not_a_websocket_upgrade_is_refused_with_its_status) {
  using e = ws::error;
  const std::pair<std::string, e> cases[] = {
      {request({}, "POST"), e::not_get},
      {request("Upgrade: h2c\r\n"), e::not_websocket},
      {request("Connection: keep-alive\r\n"), e::no_connection_upgrade},
      {request("Sec-WebSocket-Version: 8\r\n"), e::unsupported_version},
      {request("Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13\r\n"), e::unsupported_version},
      {request({}, "GET", "short=="), e::bad_key},
      {request({}, "GET", "dGhlIHNhbXBsZSBub25jZQ"), e::bad_key},
      {request({}, "GET", "dGhlIHNhbXBsZSBub25jZ!=="), e::bad_key},
      {request({}, "GET", ""), e::bad_key},
      {request("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"), e::bad_key},
      {request("Origin: https://evil.example\r\n"), e::origin_refused},
      {"GARBAGE\r\n\r\n", e::malformed_request},
  };
  for (const auto& [req, want] : cases) {
    BOOST_TEST_CONTEXT(req) {
      auto r = ws::read_upgrade(req, {});
      BOOST_REQUIRE(r);
      BOOST_TEST(r->error == want);
      const auto status = std::to_string(ws::http_status_of(r->error));
      BOOST_TEST(r->response.starts_with("HTTP/1.1 " + status + " "));
      BOOST_TEST(r->response.find(r->error.message()) != std::string::npos);
    }
  }
  BOOST_TEST(ws::http_status_of(e::origin_refused) == 403);
  BOOST_TEST(ws::http_status_of(e::unsupported_version) == 426);
  BOOST_TEST(ws::read_upgrade(request("Sec-WebSocket-Version: 7\r\n"), {})->response.find(
                 "\r\nSec-WebSocket-Version: 13\r\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_origin_allow_list_admits_listed_origins_star_and_clients_without_one) {
  ws::upgrade_options o;
  o.allowed_origins = {"https://game.example.com"};
  BOOST_TEST(!upgrade_error(request(), o));  // not a browser
  BOOST_TEST(!upgrade_error(request("Origin: https://game.example.com\r\n"), o));
  BOOST_TEST(upgrade_error(request("Origin: https://game.example.com.evil.net\r\n"), o) ==
             ws::error::origin_refused);
  BOOST_TEST(upgrade_error(request("Origin: null\r\n"), o) == ws::error::origin_refused);
  BOOST_TEST(upgrade_error(request("Origin: https://game.example.com\r\nOrigin: https://x\r\n"), o) ==
             ws::error::origin_refused);
  o.allowed_origins = {"*"};
  BOOST_TEST(!upgrade_error(request("Origin: https://anywhere.example\r\n"), o));
}

BOOST_AUTO_TEST_CASE(headers_that_never_end_are_refused_at_the_limit) {
  ws::upgrade_options o;
  o.max_request = 256;
  std::string req = "GET / HTTP/1.1\r\n";
  while (req.size() < 255) req += "X-Pad: aaaaaaaa\r\n";
  req.resize(255);
  BOOST_TEST(!ws::read_upgrade(req, o));
  req += "a";
  auto r = ws::read_upgrade(req, o);
  BOOST_REQUIRE(r);
  BOOST_TEST(r->error == ws::error::request_too_large);
  BOOST_TEST(r->response.starts_with("HTTP/1.1 431 "));
}

// ---- the decoder: RFC 6455's examples (section 5.7) ----

BOOST_AUTO_TEST_CASE(rfc_6455s_masked_hello_is_unmasked_and_refused_as_text) {
  // The RFC's frame is a text message, which ember refuses (1003); as binary it decodes.
  auto rfc = bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  BOOST_TEST(decode(rfc).error == ws::error::text_message);
  BOOST_TEST(ws::close_code_of(ws::error::text_message) == ws::close_code::unsupported_data);
  rfc[0] = std::byte(0x82);
  for (std::size_t step : {0, 1, 2, 3, 7}) {
    auto d = decode(rfc, step);
    BOOST_TEST(!d.error);
    BOOST_TEST((d.events == std::vector<seen>{{opcode::binary, "Hello"}}));
  }
  BOOST_TEST((rfc == client_frame(opcode::binary, "Hello")));
}

BOOST_AUTO_TEST_CASE(rfc_6455s_unmasked_frames_are_refused_from_a_client) {
  BOOST_TEST(decode(bytes({0x82, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f})).error == ws::error::unmasked_frame);
  BOOST_TEST(decode(bytes({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}), 1).error == ws::error::unmasked_frame);
  BOOST_TEST(ws::close_code_of(ws::error::unmasked_frame) == ws::close_code::protocol_error);
}

BOOST_AUTO_TEST_CASE(rfc_6455s_masked_pong_is_an_event) {
  auto d = decode(bytes({0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
  BOOST_TEST(!d.error);
  BOOST_TEST((d.events == std::vector<seen>{{opcode::pong, "Hello"}}));
}

BOOST_AUTO_TEST_CASE(the_servers_frames_have_rfc_6455s_headers) {
  buffer b;
  ws::append_frame(b, opcode::ping, ember::as_bytes("Hello"));
  BOOST_TEST((std::vector<std::byte>(b.data(), b.data() + b.size()) ==
              bytes({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f})));
  std::string big(256, 'x');
  b.clear();
  ws::append_frame(b, opcode::binary, ember::as_bytes(big));
  BOOST_TEST(b.size() == 4 + 256);
  BOOST_TEST((std::vector<std::byte>(b.data(), b.data() + 4) == bytes({0x82, 0x7E, 0x01, 0x00})));
  big.assign(65536, 'y');
  b.clear();
  ws::append_frame(b, opcode::binary, ember::as_bytes(big));
  BOOST_TEST(b.size() == 10 + 65536);
  BOOST_TEST((std::vector<std::byte>(b.data(), b.data() + 10) ==
              bytes({0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0})));
  BOOST_TEST(ws::header_size(125) == 2);
  BOOST_TEST(ws::header_size(126) == 4);
  BOOST_TEST(ws::header_size(65535) == 4);
  BOOST_TEST(ws::header_size(65536) == 10);
}

BOOST_AUTO_TEST_CASE(a_close_frame_carries_its_code_and_a_reason_cut_on_a_character) {
  buffer b;
  ws::append_close(b, ws::close_code::message_too_big, "too big");
  BOOST_TEST((std::vector<std::byte>(b.data(), b.data() + 4) == bytes({0x88, 9, 0x03, 0xF1})));
  BOOST_TEST(text(b.view().subspan(4)) == "too big");
  std::string long_reason(121, 'a');
  long_reason += "\xC3\xA9\xC3\xA9";  // 125 bytes: cut to 123, not inside the second é
  b.clear();
  ws::append_close(b, ws::close_code::normal, long_reason);
  BOOST_TEST(b.size() == 2 + 2 + 123);
  BOOST_TEST(ws::valid_utf8(text(b.view().subspan(4))));
}

// ---- the decoder: messages, fragments, control frames ----

BOOST_AUTO_TEST_CASE(fragments_are_reassembled_with_control_frames_between_them_in_any_pieces) {
  const auto stream = cat({client_frame(opcode::binary, "Hel", false),
                           client_frame(opcode::ping, "p1"),
                           client_frame(opcode::continuation, "", false),
                           client_frame(opcode::pong, ""),
                           client_frame(opcode::continuation, "lo"),
                           client_frame(opcode::binary, std::string(300, 'z')),
                           client_frame(opcode::binary, ""),
                           client_frame(opcode::close, "\x03\xE8" "bye")});
  const std::vector<seen> want{{opcode::ping, "p1"},
                               {opcode::pong, ""},
                               {opcode::binary, "Hello"},
                               {opcode::binary, std::string(300, 'z')},
                               {opcode::binary, ""},
                               {opcode::close, "bye", 1000}};
  for (std::size_t step = 0; step <= 20; ++step) {
    BOOST_TEST_CONTEXT("step " << step) {
      auto d = decode(stream, step);
      BOOST_TEST(!d.error);
      BOOST_TEST(d.events == want);
    }
  }
}

BOOST_AUTO_TEST_CASE(lengths_in_16_and_64_bits_decode) {
  const std::string m16(0xFFFF, 'a'), m64(0x10000, 'b');
  ws::decoder_options o{.max_message = 1 << 20};
  auto d = decode(cat({client_frame(opcode::binary, m16), client_frame(opcode::binary, m64)}), 0, o);
  BOOST_TEST(!d.error);
  BOOST_REQUIRE(d.events.size() == 2u);
  BOOST_TEST(d.events[0].payload == m16);
  BOOST_TEST(d.events[1].payload == m64);
  d = decode(cat({client_frame(opcode::binary, m64)}), 1000, o);
  BOOST_TEST(!d.error);
  BOOST_TEST(d.events.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_close_without_a_code_reports_no_status) {
  auto d = decode(client_frame(opcode::close, ""));
  BOOST_TEST(!d.error);
  BOOST_TEST((d.events == std::vector<seen>{{opcode::close, "", 1005}}));
}

BOOST_AUTO_TEST_CASE(a_frame_after_the_close_frame_is_refused) {
  auto d = decode(cat({client_frame(opcode::close, ""), client_frame(opcode::binary, "x")}));
  BOOST_TEST(d.events.size() == 1u);
  BOOST_TEST(d.error == ws::error::frame_after_close);
}

// ---- the decoder: every refusal, whole and byte by byte ----

BOOST_AUTO_TEST_CASE(every_invalid_frame_is_refused_with_its_close_code) {
  using e = ws::error;
  using c = ws::close_code;
  ws::decoder_options small{.max_message = 10};
  auto rsv = client_frame(opcode::binary, "x");
  rsv[0] |= std::byte(0x40);
  auto long16 = bytes({0x82, 0xFE, 0x00, 0x05, 1, 2, 3, 4});  // 5 in 16 bits: not shortest
  auto long64 = bytes({0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 1, 2, 3, 4});
  auto top_bit = bytes({0x82, 0xFF, 0x80, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4});
  auto long_ping = bytes({0x89, 0xFE, 0x00, 0x7E, 1, 2, 3, 4});
  struct refusal {
    const char* what;
    std::vector<std::byte> stream;
    e error;
    c code;
    std::size_t events = 0;
  };
  const refusal cases[] = {
      {"unmasked", bytes({0x82, 0x01, 0x41}), e::unmasked_frame, c::protocol_error},
      {"rsv1", rsv, e::reserved_bits, c::protocol_error},
      {"opcode 3", bytes({0x83, 0x80, 1, 2, 3, 4}), e::reserved_opcode, c::protocol_error},
      {"opcode 0xB", bytes({0x8B, 0x80, 1, 2, 3, 4}), e::reserved_opcode, c::protocol_error},
      {"16-bit length below 126", long16, e::bad_length, c::protocol_error},
      {"64-bit length below 65536", long64, e::bad_length, c::protocol_error},
      {"64-bit length with its top bit", top_bit, e::bad_length, c::protocol_error},
      {"ping of 126 bytes", long_ping, e::control_too_long, c::protocol_error},
      {"fragmented ping", client_frame(opcode::ping, "x", false), e::fragmented_control, c::protocol_error},
      {"lone continuation", client_frame(opcode::continuation, "x"), e::unexpected_continuation, c::protocol_error},
      {"new message inside a fragmented one",
       cat({client_frame(opcode::binary, "a", false), client_frame(opcode::binary, "b")}),
       e::expected_continuation, c::protocol_error},
      {"text", client_frame(opcode::text, "hi"), e::text_message, c::unsupported_data},
      {"close of one byte", client_frame(opcode::close, "\x03"), e::bad_close_frame, c::protocol_error, 0},
      {"close code 1005", client_frame(opcode::close, "\x03\xED"), e::bad_close_frame, c::protocol_error},
      {"close code 999", client_frame(opcode::close, "\x03\xE7"), e::bad_close_frame, c::protocol_error},
      {"close code 5000", client_frame(opcode::close, "\x13\x88"), e::bad_close_frame, c::protocol_error},
      {"close reason not UTF-8", client_frame(opcode::close, "\x03\xE8\xC3\x28"), e::invalid_utf8, c::invalid_payload},
      {"close reason a surrogate", client_frame(opcode::close, "\x03\xE8\xED\xA0\x80"), e::invalid_utf8, c::invalid_payload},
  };
  for (const auto& r : cases) {
    for (std::size_t step : {0, 1, 3}) {
      BOOST_TEST_CONTEXT(r.what << ", step " << step) {
        auto d = decode(r.stream, step, small);
        BOOST_TEST(d.error == r.error);
        BOOST_TEST(d.events.size() == r.events);
        BOOST_TEST(ws::close_code_of(d.error) == r.code);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(a_message_over_the_limit_is_refused_at_the_header_that_passes_it) {
  ws::decoder_options o{.max_message = 10};
  auto exact = decode(client_frame(opcode::binary, "0123456789"), 0, o);
  BOOST_TEST(!exact.error);
  // the second fragment's header passes the limit: refused before its payload
  auto frames = cat({client_frame(opcode::binary, "01234", false), client_frame(opcode::continuation, "567890")});
  for (std::size_t step : {0, 1}) {
    auto d = decode(frames, step, o);
    BOOST_TEST(d.error == ws::error::message_too_big);
    BOOST_TEST(ws::close_code_of(d.error) == ws::close_code::message_too_big);
  }
  // a header announcing 2^62 bytes, with none of them sent
  auto huge = bytes({0x82, 0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4});
  BOOST_TEST(decode(huge, 0, o).error == ws::error::message_too_big);
  // control frames may interleave without counting
  auto d = decode(cat({client_frame(opcode::binary, "01234", false), client_frame(opcode::ping, std::string(100, 'p')),
                       client_frame(opcode::continuation, "56789")}), 1, o);
  BOOST_TEST(!d.error);
  BOOST_TEST(d.events.size() == 2u);
}

BOOST_AUTO_TEST_CASE(the_decoder_keeps_its_error_and_knows_when_it_holds_a_partial_message) {
  ws::decoder d;
  auto part = client_frame(opcode::binary, "abc", false);
  auto no_events = [](const ws::event&) { return true; };
  BOOST_TEST(!d.feed(part, no_events));
  BOOST_TEST(d.has_partial());
  auto rest = client_frame(opcode::continuation, "d");
  BOOST_TEST(!d.feed(rest, no_events));
  BOOST_TEST(!d.has_partial());
  auto bad = bytes({0x82, 0x01, 0x41});
  BOOST_TEST(d.feed(bad, no_events) == ws::error::unmasked_frame);
  auto good = client_frame(opcode::binary, "x");
  BOOST_TEST(d.feed(good, no_events) == ws::error::unmasked_frame);
}

BOOST_AUTO_TEST_CASE(a_handler_returning_false_stops_decoding) {
  ws::decoder d;
  auto two = cat({client_frame(opcode::binary, "a"), client_frame(opcode::binary, "b")});
  int n = 0;
  BOOST_TEST(!d.feed(two, [&](const ws::event&) { return ++n, false; }));
  BOOST_TEST(n == 1);
}

BOOST_AUTO_TEST_CASE(close_codes_of_ember_errors_say_why_the_session_ended) {
  using c = ws::close_code;
  BOOST_TEST(ws::close_code_of(ember::errc::frame_too_large) == c::message_too_big);
  BOOST_TEST(ws::close_code_of(ember::errc::unknown_kind) == c::protocol_error);
  BOOST_TEST(ws::close_code_of(ember::errc::idle_timeout) == c::policy_violation);
  BOOST_TEST(ws::close_code_of(ember::errc::shutting_down) == c::going_away);
  BOOST_TEST(ws::close_code_of({}) == c::normal);
  BOOST_TEST(ws::valid_close_code(1000));
  BOOST_TEST(!ws::valid_close_code(1004));
  BOOST_TEST(!ws::valid_close_code(1006));
  BOOST_TEST(ws::valid_close_code(4999));
}
