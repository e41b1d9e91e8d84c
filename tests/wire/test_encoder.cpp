// Tests of ember/wire/encoder.hpp: native and Firefly frames written in place.
#include "ember/wire/encoder.hpp"  // first: the header stands on its own

#define BOOST_TEST_MODULE wire_encoder
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include "ember/wire/decoder.hpp"

namespace ember::wire {
// how Boost.Test prints a kind in a failed check
std::ostream& boost_test_print_type(std::ostream& os, frame_kind k) { return os << int(k); }
}  // namespace ember::wire

namespace wire = ember::wire;
using ember::buffer;
using ember::bytes_view;
using ember::errc;
using wire::frame_kind;

namespace {

std::string hex(bytes_view b) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  for (std::byte c : b) {
    if (!s.empty()) s += ' ';
    s += digits[std::uint8_t(c) >> 4];
    s += digits[std::uint8_t(c) & 15];
  }
  return s;
}

constexpr wire::firefly_config example_game{{78, 37, 38, 48}, 9, 0};

}  // namespace

static_assert(!std::is_convertible_v<std::size_t, wire::frame_mark>,
              "a mark comes from begin_frame, not from an offset");
static_assert(!std::is_convertible_v<wire::frame_mark, wire::firefly_frame_mark>,
              "a native mark cannot end a Firefly frame");

BOOST_AUTO_TEST_CASE(a_native_frame_is_written_byte_for_byte_as_protocol_md_shows) {
  buffer out;
  BOOST_TEST_REQUIRE(!wire::append_frame(
      out, {.kind = frame_kind::request, .command = 101, .seq = 1}, ember::as_bytes("hello")));
  BOOST_TEST(hex(out.view()) ==
             "00 00 00 05 01 00 00 65 00 00 00 01 00 00 00 00 68 65 6c 6c 6f");
}

BOOST_AUTO_TEST_CASE(a_firefly_frame_is_written_byte_for_byte_as_protocol_md_shows) {
  buffer out;
  BOOST_TEST_REQUIRE(!wire::append_frame(out, example_game, 1001, ember::as_bytes("{}")));
  BOOST_TEST(hex(out.view()) == "4e 25 26 30 09 00 00 00 00 00 00 00 06 00 00 03 e9 7b 7d");
}

BOOST_AUTO_TEST_CASE(end_frame_writes_the_length_of_the_body_encoded_in_place) {
  buffer out;
  out.append(std::string_view("earlier"));
  const wire::frame_mark m =
      wire::begin_frame(out, {.kind = frame_kind::response, .command = 7, .seq = 9});
  BOOST_TEST(m.offset == 7u);
  for (int i = 0; i < 1000; ++i) out.append(std::string_view("0123456789"));  // grows the buffer
  BOOST_TEST_REQUIRE(!wire::end_frame(out, m));
  BOOST_TEST(out.str().substr(0, 7) == "earlier");
  const wire::frame_header h = wire::read_header(out.data() + 7);
  BOOST_TEST(h.length == 10000u);
  BOOST_TEST(h.kind == frame_kind::response);
  BOOST_TEST(h.command == 7u);
  BOOST_TEST(h.seq == 9u);
}

BOOST_AUTO_TEST_CASE(a_firefly_length_counts_the_command_id) {
  buffer out;
  const wire::firefly_frame_mark m = wire::begin_frame(out, example_game, 5);
  out.append(std::string_view("abc"));
  BOOST_TEST_REQUIRE(!wire::end_frame(out, m));
  BOOST_TEST(wire::detail::get_u32(out.data() + 9) == 7u);
  BOOST_TEST(wire::detail::get_u32(out.data() + 13) == 5u);
}

BOOST_AUTO_TEST_CASE(a_body_over_the_limit_is_taken_out_again_and_reported) {
  buffer out;
  out.append(std::string_view("kept"));
  const auto native = wire::begin_frame(out, {.kind = frame_kind::push});
  out.append(std::string_view("12345678901"));
  BOOST_TEST(wire::end_frame(out, native, 10) == errc::frame_too_large);
  BOOST_TEST(out.str() == "kept");

  const auto firefly = wire::begin_frame(out, example_game, 1);
  out.append(std::string_view("12345678901"));
  BOOST_TEST(wire::end_frame(out, firefly, 10) == errc::frame_too_large);
  BOOST_TEST(out.str() == "kept");

  BOOST_TEST(wire::append_frame(out, {}, ember::as_bytes("12345678901"), 10) ==
             errc::frame_too_large);
  BOOST_TEST(wire::append_frame(out, example_game, 1, ember::as_bytes("12345678901"), 10) ==
             errc::frame_too_large);
  BOOST_TEST(out.str() == "kept");
}

BOOST_AUTO_TEST_CASE(a_body_of_exactly_the_limit_is_written) {
  buffer out;
  BOOST_TEST(!wire::append_frame(out, {}, ember::as_bytes("1234567890"), 10));
  BOOST_TEST(!wire::append_frame(out, example_game, 1, ember::as_bytes("1234567890"), 10));
  BOOST_TEST(out.size() == 16u + 10u + 17u + 10u);
}

BOOST_AUTO_TEST_CASE(a_body_writer_encodes_straight_into_the_output) {
  buffer out;
  auto write = [](buffer& b) { b.append(std::string_view("body")); };
  BOOST_TEST(!wire::append_frame(out, {.kind = frame_kind::response, .seq = 3}, write));
  BOOST_TEST(!wire::append_frame(out, example_game, 77, write));

  std::vector<std::string> bodies;
  auto on_frame = [&](const wire::frame& f) {
    bodies.emplace_back(reinterpret_cast<const char*>(f.body.data()), f.body.size());
    return true;
  };
  BOOST_TEST(!wire::native_decoder().feed(out.view().first(20), on_frame));
  BOOST_TEST(!wire::firefly_decoder(example_game).feed(out.view().subspan(20), on_frame));
  BOOST_TEST(bodies == (std::vector<std::string>{"body", "body"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_throwing_body_writer_leaves_the_buffer_as_it_was) {
  buffer out;
  out.append(std::string_view("kept"));
  auto fail = [](buffer& b) {
    b.append(std::string_view("half a body"));
    throw std::runtime_error("encoder failed");
  };
  BOOST_CHECK_THROW((void)wire::append_frame(out, {}, fail), std::runtime_error);
  BOOST_CHECK_THROW((void)wire::append_frame(out, example_game, 1, fail), std::runtime_error);
  BOOST_TEST(out.str() == "kept");
}

BOOST_AUTO_TEST_CASE(frames_written_back_to_back_decode_as_written) {
  buffer out;
  for (std::uint32_t i = 0; i < 20; ++i) {
    const auto m = wire::begin_frame(out, {.kind = frame_kind::push, .command = 201, .seq = i});
    for (std::uint32_t j = 0; j < i; ++j) out.push_back(std::byte(j));
    BOOST_TEST_REQUIRE(!wire::end_frame(out, m));
  }
  std::uint32_t next = 0;
  bool bodies_ok = true;
  BOOST_TEST(!wire::native_decoder().feed(out.view(), [&](const wire::frame& f) {
    bodies_ok = bodies_ok && f.seq == next && f.body.size() == next;
    ++next;
    return true;
  }));
  BOOST_TEST(next == 20u);
  BOOST_TEST(bodies_ok);
}
