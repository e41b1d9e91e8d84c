// Tests of include/ember/codec/: binary and JSON bodies, through the code ember-codegen
// generates for schemas/test/all_types.toml.
#include "ember/codec/codec.hpp"

#define BOOST_TEST_MODULE codec
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "all_types.hpp"
#include "ember/codec/json_reader.hpp"

namespace all_types {
// Lets BOOST_TEST print messages (as the JSON their formatter writes).
template <class T>
  requires fmt::is_formattable<T>::value
std::ostream& boost_test_print_type(std::ostream& os, const T& v) {
  return os << fmt::format("{}", v);
}
}  // namespace all_types

namespace {

using namespace all_types;
using ember::codec::encoding;

std::error_code err(ember::errc e) { return make_error_code(e); }

template <class T>
ember::buffer to_binary(const T& m) {
  ember::buffer b;
  ember::codec::encode(b, m, encoding::binary);
  return b;
}
template <class T>
std::string to_json(const T& m) {
  ember::buffer b;
  ember::codec::encode(b, m, encoding::json);
  return std::string(b.str());
}
template <class T>
std::error_code from_binary(ember::bytes_view in, T& out) {
  return ember::codec::decode(in, encoding::binary, out);
}
template <class T>
std::error_code from_json(std::string_view in, T& out) {
  return ember::codec::decode(ember::as_bytes(in), encoding::json, out);
}

/// Bytes from hex text such as "08 96 01".
std::vector<std::byte> hex(std::string_view text) {
  std::vector<std::byte> out;
  int nibbles = 0;
  unsigned v = 0;
  for (char c : text) {
    if (c == ' ') continue;
    v = v * 16 + static_cast<unsigned>(c <= '9' ? c - '0' : c - 'a' + 10);
    if (++nibbles == 2) {
      out.push_back(static_cast<std::byte>(v));
      nibbles = 0;
      v = 0;
    }
  }
  return out;
}
std::string to_hex(ember::bytes_view b) {
  std::string out;
  for (std::byte x : b) out += fmt::format("{}{:02x}", out.empty() ? "" : " ", unsigned(x));
  return out;
}
std::vector<std::byte> bytes(std::string_view s) {
  auto v = ember::as_bytes(s);
  return {v.begin(), v.end()};
}

scalars extreme_scalars() {
  scalars s;
  s.b = true;
  s.i8v = std::numeric_limits<std::int8_t>::min();
  s.i16v = std::numeric_limits<std::int16_t>::max();
  s.i32v = std::numeric_limits<std::int32_t>::min();
  s.i64v = std::numeric_limits<std::int64_t>::min();
  s.u8v = 255;
  s.u16v = 65535;
  s.u32v = std::numeric_limits<std::uint32_t>::max();
  s.u64v = std::numeric_limits<std::uint64_t>::max();
  s.f32v = std::numeric_limits<float>::max();
  s.f64v = std::numeric_limits<double>::denorm_min();
  s.s = "h\xc3\xa9llo \"w\\orld\"\n\t\x01 \xf0\x9f\x94\xa5";
  s.raw = bytes(std::string_view("\0\xff\x7f" "abc", 6));
  s.color = color::infrared;
  s.at = point{-1, 1};
  s.last = 7;
  return s;
}

tree deep_tree(int depth) {
  tree root{"0", {}};
  tree* t = &root;
  for (int i = 1; i < depth; ++i) {
    t->children.push_back(tree{std::to_string(i), {}});
    t = &t->children.back();
  }
  return root;
}

everything full() {
  everything e;
  e.scalars = extreme_scalars();
  e.lists.bools = {true, false, true};
  e.lists.i8s = {-128, 0, 127};
  e.lists.i32s = {-1, 1, std::numeric_limits<std::int32_t>::max()};
  e.lists.i64s = {std::numeric_limits<std::int64_t>::min(), 0, -300};
  e.lists.u8s = {0, 200, 255};
  e.lists.u16s = {1, 65535};
  e.lists.u64s = {0, std::numeric_limits<std::uint64_t>::max()};
  e.lists.f32s = {1.5f, -0.0f, 3.25e-20f};
  e.lists.f64s = {0.1, -2.5e300};
  e.lists.strings = {"", "a", std::string(300, 'x')};
  e.lists.blobs = {{}, bytes("z")};
  e.lists.colors = {color::red, color::default_, static_cast<color>(99)};
  e.lists.points = {point{}, point{3, -4}};
  e.maps.flags = {{"on", true}, {"off", false}};
  e.maps.counts = {{"", -7}, {"big", std::numeric_limits<std::int64_t>::max()}};
  e.maps.sizes = {{"a", 0}, {"b", 4000000000u}};
  e.maps.ratios = {{"half", 0.5f}};
  e.maps.weights = {{"third", 1.0 / 3}};
  e.maps.names = {{"k\"ey", "v\nalue"}};
  e.maps.blobs = {{"b", bytes("\x01\x02")}};
  e.maps.colors = {{"sky", color::blue}};
  e.maps.places = {{"home", point{10, 20}}, {"origin", point{}}};
  e.optionals.b = false;
  e.optionals.i32v = 0;
  e.optionals.u64v = 1;
  e.optionals.f32v = 0.0f;
  e.optionals.f64v = -1.0;
  e.optionals.s = "";
  e.optionals.raw = std::vector<std::byte>{};
  e.optionals.color = color::none;
  e.optionals.at = point{};
  e.tree = deep_tree(5);
  e.tree.children.push_back(tree{"sibling", {}});
  e.level = level::high;
  return e;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(binary)

BOOST_AUTO_TEST_CASE(every_scalar_type_survives_a_round_trip_at_its_extremes) {
  const scalars s = extreme_scalars();
  scalars back;
  BOOST_TEST(from_binary(to_binary(s).view(), back) == std::error_code());
  BOOST_TEST(back == s);
}

BOOST_AUTO_TEST_CASE(a_message_of_every_type_survives_a_round_trip) {
  const everything e = full();
  everything back;
  BOOST_TEST(from_binary(to_binary(e).view(), back) == std::error_code());
  BOOST_TEST(back == e);
}

BOOST_AUTO_TEST_CASE(json_integers_are_written_in_decimal_at_every_length) {
  // The JSON writer counts digits from the bit width: check both sides of every power of ten.
  std::vector<std::uint64_t> values = {0, std::numeric_limits<std::uint64_t>::max()};
  for (std::uint64_t p = 1; p <= 1000000000000000000ull; p *= 10) {
    values.insert(values.end(), {p - 1, p, p + 1, 2 * p, 9 * p});
  }
  values.push_back(10000000000000000000ull);
  for (const std::uint64_t v : values) {
    ember::buffer b;
    ember::codec::json_writer w(b);
    w.begin_array();
    w.value_uint(v);
    w.value_sint(static_cast<std::int64_t>(v));
    w.value_sint(-static_cast<std::int64_t>(v >> 1));
    w.end_array();
    BOOST_TEST(b.str() == fmt::format("[{},{},{}]", v, static_cast<std::int64_t>(v),
                                      -static_cast<std::int64_t>(v >> 1)));
  }
}

BOOST_AUTO_TEST_CASE(nan_and_negative_zero_keep_their_bits) {
  scalars s;
  s.f32v = -0.0f;
  s.f64v = std::numeric_limits<double>::quiet_NaN();
  scalars back;
  BOOST_TEST(from_binary(to_binary(s).view(), back) == std::error_code());
  BOOST_TEST(std::signbit(back.f32v));
  BOOST_TEST(std::isnan(back.f64v));
}

BOOST_AUTO_TEST_CASE(fields_at_their_default_take_no_bytes) {
  BOOST_TEST(to_binary(everything{}).size() == 0u);
  BOOST_TEST(to_binary(scalars{}).size() == 0u);
  // A struct whose fields are all default is left out as a whole.
  everything e;
  e.scalars.at = point{};
  BOOST_TEST(to_binary(e).size() == 0u);
}

BOOST_AUTO_TEST_CASE(optionals_are_sent_when_present_even_at_their_default) {
  optionals o;
  o.i32v = 0;
  o.at = point{};
  // tag 2 varint 0; tag 10 length 0
  BOOST_TEST(to_hex(to_binary(o).view()) == "10 00 52 00");
  optionals back;
  BOOST_TEST(from_binary(to_binary(o).view(), back) == std::error_code());
  BOOST_TEST(back == o);
  BOOST_TEST(!back.b.has_value());
}

// The bytes protoc's encoder writes for the same values (sint32/sint64 for signed fields,
// packed repeated numbers, map entries {1: key, 2: value}).
BOOST_AUTO_TEST_CASE(bytes_match_the_protobuf_wire_format) {
  BOOST_TEST(to_hex(to_binary(point{-1, 1}).view()) == "08 01 10 02");
  BOOST_TEST(to_hex(to_binary(point{150, -150}).view()) == "08 ac 02 10 ab 02");
  scalars s;
  s.u32v = 150;
  s.f32v = 1.0f;
  s.f64v = -2.0;
  s.s = "hi";
  s.color = color::infrared;
  BOOST_TEST(to_hex(to_binary(s).view()) ==
             "40 96 01 55 00 00 80 3f 59 00 00 00 00 00 00 00 c0 62 02 68 69 "
             "70 fb ff ff ff ff ff ff ff ff 01");
  s = scalars{};
  s.last = 1;  // tag 2^29-1: a five-byte key
  BOOST_TEST(to_hex(to_binary(s).view()) == "f8 ff ff ff 0f 01");
  lists l;
  l.u16s = {3, 270, 86942 % 65536};
  l.strings = {"a", ""};
  l.points = {point{1, 0}};
  BOOST_TEST(to_hex(to_binary(l).view()) ==
             "32 06 03 8e 02 9e a7 01 52 01 61 52 00 6a 02 08 02");
  maps m;
  m.sizes = {{"k", 1}};
  m.places = {{"p", point{0, 1}}};
  BOOST_TEST(to_hex(to_binary(m).view()) == "1a 05 0a 01 6b 10 01 4a 07 0a 01 70 12 02 10 02");
}

BOOST_AUTO_TEST_CASE(a_nested_message_longer_than_127_bytes_gets_a_longer_length) {
  everything e;
  e.scalars.s = std::string(200, 'y');
  const ember::buffer b = to_binary(e);
  // key of field 1, length 203 as a two-byte varint, then field 12 of scalars with 200 bytes
  BOOST_TEST(to_hex(ember::bytes_view(b.data(), 6)) == "0a cb 01 62 c8 01");
  BOOST_TEST(b.size() == 206u);
  everything back;
  BOOST_TEST(from_binary(b.view(), back) == std::error_code());
  BOOST_TEST(back == e);
}

BOOST_AUTO_TEST_CASE(a_recursive_tree_survives_a_round_trip) {
  const tree t = deep_tree(60);
  tree back;
  BOOST_TEST(from_binary(to_binary(t).view(), back) == std::error_code());
  BOOST_TEST(back == t);
}

BOOST_AUTO_TEST_CASE(an_older_reader_skips_the_fields_a_newer_writer_added) {
  item_v2 v2;
  v2.id = 42;
  v2.name = "sword";
  v2.count = -3;
  v2.weight = 2.5;
  v2.ratio = 0.25f;
  v2.tags = {"sharp", "old"};
  v2.scores = {1, 2, 300};
  v2.origin = point{1, 2};
  v2.extra = {{"t", deep_tree(3)}};
  item_v1 v1;
  BOOST_TEST(from_binary(to_binary(v2).view(), v1) == std::error_code());
  BOOST_TEST(v1.id == 42u);
  BOOST_TEST(v1.name == "sword");
  // and in JSON: unknown keys are ignored
  item_v1 j1;
  BOOST_TEST(from_json(to_json(v2), j1) == std::error_code());
  BOOST_TEST(j1 == v1);
}

BOOST_AUTO_TEST_CASE(a_newer_reader_gives_defaults_for_fields_an_older_writer_lacks) {
  const item_v1 v1{7, "shield"};
  item_v2 v2;
  BOOST_TEST(from_binary(to_binary(v1).view(), v2) == std::error_code());
  item_v2 expected;
  expected.id = 7;
  expected.name = "shield";
  BOOST_TEST(v2 == expected);
}

BOOST_AUTO_TEST_CASE(packed_lists_also_accept_one_element_per_field) {
  lists l;
  // u16s (tag 6) unpacked: two varint fields; f32s (tag 8) as one fixed32 field; then packed
  const auto in = hex("30 05 30 06 45 00 00 80 3f 32 01 07");
  BOOST_TEST(from_binary(in, l) == std::error_code());
  BOOST_TEST((l.u16s == std::vector<std::uint16_t>{5, 6, 7}));
  BOOST_TEST((l.f32s == std::vector<float>{1.0f}));
}

BOOST_AUTO_TEST_CASE(unknown_fields_of_every_wire_type_are_skipped) {
  point p;
  // tag 9 varint, tag 10 fixed64, tag 11 length 3, tag 12 fixed32, then x = 1
  const auto in = hex("48 ff 01 51 01 02 03 04 05 06 07 08 5a 03 61 62 63 65 01 02 03 04 08 02");
  BOOST_TEST(from_binary(in, p) == std::error_code());
  BOOST_TEST(p.x == 1);
}

BOOST_AUTO_TEST_CASE(enum_values_the_schema_does_not_name_are_kept) {
  scalars s;
  s.color = static_cast<color>(12345);
  scalars back;
  BOOST_TEST(from_binary(to_binary(s).view(), back) == std::error_code());
  BOOST_TEST(static_cast<int>(back.color) == 12345);
}

BOOST_AUTO_TEST_CASE(a_body_cut_anywhere_fails_cleanly_or_decodes_a_prefix) {
  const ember::buffer whole = to_binary(full());
  int failures = 0;
  for (std::size_t n = 0; n < whole.size(); ++n) {
    everything e;
    const auto ec = from_binary(ember::bytes_view(whole.data(), n), e);
    if (ec) {
      ++failures;
      BOOST_TEST((ec == err(ember::errc::truncated_body) || ec == err(ember::errc::malformed_body)));
    }
  }
  BOOST_TEST(failures > 0);
  // Cutting inside the last field always fails.
  everything e;
  BOOST_TEST(from_binary(ember::bytes_view(whole.data(), whole.size() - 1), e) ==
             err(ember::errc::truncated_body));
}

BOOST_AUTO_TEST_CASE(a_body_that_ends_inside_a_field_is_truncated) {
  for (const char* text : {"40", "40 96", "55 00 00", "59 00 00 00 00 00 00 00", "62 05 61",
                           "62", "62 80", "7a 03 08", "a5 01 00 00"}) {
    scalars s;
    BOOST_TEST(from_binary(hex(text), s) == err(ember::errc::truncated_body), text);
  }
}

BOOST_AUTO_TEST_CASE(a_known_tag_with_the_wrong_wire_type_is_refused) {
  scalars s;
  BOOST_TEST(from_binary(hex("0d 00 00 00 00"), s) == err(ember::errc::wrong_wire_type));  // bool as fixed32
  BOOST_TEST(from_binary(hex("50 01"), s) == err(ember::errc::wrong_wire_type));  // f32 as varint
  BOOST_TEST(from_binary(hex("60 01"), s) == err(ember::errc::wrong_wire_type));  // string as varint
  BOOST_TEST(from_binary(hex("78 01"), s) == err(ember::errc::wrong_wire_type));  // struct as varint
  lists l;
  BOOST_TEST(from_binary(hex("45 00 00 80 3f"), l) == std::error_code());          // f32s unpacked
  BOOST_TEST(from_binary(hex("40 01"), l) == err(ember::errc::wrong_wire_type));  // f32s as varint
  maps m;
  BOOST_TEST(from_binary(hex("1a 02 10 01"), m) == std::error_code());
  BOOST_TEST(from_binary(hex("1a 02 15 01"), m) == err(ember::errc::wrong_wire_type));
  BOOST_TEST(from_binary(hex("1a 03 0a 01 01"), m) == std::error_code());
  BOOST_TEST(from_binary(hex("1a 02 08 01"), m) == err(ember::errc::wrong_wire_type));  // key as varint
}

BOOST_AUTO_TEST_CASE(a_value_that_does_not_fit_its_field_is_out_of_range) {
  scalars s;
  BOOST_TEST(from_binary(hex("30 ac 02"), s) == err(ember::errc::value_out_of_range));  // u8 = 300
  BOOST_TEST(from_binary(hex("10 90 03"), s) == err(ember::errc::value_out_of_range));  // i8 = 200
  BOOST_TEST(from_binary(hex("10 80 02"), s) == err(ember::errc::value_out_of_range));  // i8 = 128
  BOOST_TEST(from_binary(hex("10 ff 01"), s) == std::error_code());                      // i8 = -128
  BOOST_TEST(s.i8v == -128);
  BOOST_TEST(from_binary(hex("08 02"), s) == err(ember::errc::value_out_of_range));     // bool = 2
  BOOST_TEST(from_binary(hex("70 80 80 80 80 10"), s) ==
             err(ember::errc::value_out_of_range));  // enum = 2^32
  BOOST_TEST(from_binary(hex("40 80 80 80 80 10"), s) ==
             err(ember::errc::value_out_of_range));  // u32 = 2^32
  lists l;
  BOOST_TEST(from_binary(hex("2a 02 01 ac"), l) == err(ember::errc::malformed_body));  // packed cut
  BOOST_TEST(from_binary(hex("2a 02 ac 02"), l) == err(ember::errc::value_out_of_range));
  BOOST_TEST(from_binary(hex("42 03 00 00 00"), l) == err(ember::errc::malformed_body));
}

BOOST_AUTO_TEST_CASE(malformed_keys_and_varints_are_refused) {
  point p;
  // an unknown field (tag 9) holding the largest varint
  BOOST_TEST(from_binary(hex("48 ff ff ff ff ff ff ff ff ff 01"), p) == std::error_code());
  BOOST_TEST(from_binary(hex("48 ff ff ff ff ff ff ff ff ff 02"), p) ==
             err(ember::errc::malformed_body));  // beyond 64 bits
  BOOST_TEST(from_binary(hex("48 ff ff ff ff ff ff ff ff ff ff 01"), p) ==
             err(ember::errc::malformed_body));  // eleven bytes
  BOOST_TEST(from_binary(hex("00 01"), p) == err(ember::errc::malformed_body));  // tag 0
  BOOST_TEST(from_binary(hex("0b 0c"), p) == err(ember::errc::malformed_body));  // group
  BOOST_TEST(from_binary(hex("0e 00"), p) == err(ember::errc::malformed_body));  // wire type 6
  BOOST_TEST(from_binary(hex("80 80 80 80 80 01 00"), p) ==
             err(ember::errc::malformed_body));  // key beyond 32 bits
}

BOOST_AUTO_TEST_CASE(strings_must_be_valid_utf8) {
  scalars s;
  BOOST_TEST(from_binary(hex("62 02 c3 a9"), s) == std::error_code());
  for (const char* bad : {"62 01 ff", "62 02 c0 af", "62 03 ed a0 80", "62 01 c3",
                          "62 04 f4 90 80 80"}) {
    BOOST_TEST(from_binary(hex(bad), s) == err(ember::errc::malformed_body), bad);
  }
  BOOST_TEST(from_binary(hex("6a 01 ff"), s) == std::error_code());  // bytes may hold anything
}

BOOST_AUTO_TEST_CASE(nesting_deeper_than_64_structs_is_refused) {
  tree ok;
  BOOST_TEST(from_binary(to_binary(deep_tree(65)).view(), ok) == std::error_code());
  tree too_deep;
  BOOST_TEST(from_binary(to_binary(deep_tree(66)).view(), too_deep) ==
             err(ember::errc::nesting_too_deep));
}

BOOST_AUTO_TEST_CASE(decoding_replaces_what_the_message_held) {
  lists l;
  l.strings = {"old"};
  BOOST_TEST(from_binary(hex("52 01 61"), l) == std::error_code());
  BOOST_TEST((l.strings == std::vector<std::string>{"a"}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(json)

BOOST_AUTO_TEST_CASE(every_scalar_type_survives_a_round_trip_at_its_extremes) {
  const scalars s = extreme_scalars();
  scalars back;
  const std::string text = to_json(s);
  BOOST_TEST(from_json(text, back) == std::error_code(), text);
  BOOST_TEST(back == s);
}

BOOST_AUTO_TEST_CASE(a_message_of_every_type_survives_a_round_trip) {
  const everything e = full();
  everything back;
  const std::string text = to_json(e);
  BOOST_TEST(from_json(text, back) == std::error_code(), text);
  BOOST_TEST(back == e);
}

BOOST_AUTO_TEST_CASE(fields_are_written_by_name_with_enums_as_names_and_bytes_as_base64) {
  scalars s;
  s.i64v = -5;
  s.raw = bytes("hello");
  s.color = color::default_;
  s.at = point{1, 2};
  BOOST_TEST(to_json(s) ==
             R"({"b":false,"i8v":0,"i16v":0,"i32v":0,"i64v":-5,"u8v":0,"u16v":0,"u32v":0,)"
             R"("u64v":0,"f32v":0,"f64v":0,"s":"","raw":"aGVsbG8=","color":"default",)"
             R"("at":{"x":1,"y":2},"last":0})");
  optionals o;
  o.s = "x";
  BOOST_TEST(to_json(o) == R"({"s":"x"})");
  maps m;
  m.places = {{"a", point{}}};
  m.flags = {{"f", true}};
  BOOST_TEST(to_json(m) ==
             R"({"flags":{"f":true},"counts":{},"sizes":{},"ratios":{},"weights":{},)"
             R"("names":{},"blobs":{},"colors":{},"places":{"a":{"x":0,"y":0}}})");
}

BOOST_AUTO_TEST_CASE(nan_and_infinities_are_strings) {
  lists l;
  l.f64s = {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
            -std::numeric_limits<double>::infinity(), -0.0};
  const std::string text = to_json(l);
  BOOST_TEST(text.find(R"("f64s":["NaN","Infinity","-Infinity",-0.0])") != std::string::npos,
             text);
  lists back;
  BOOST_TEST(from_json(text, back) == std::error_code());
  BOOST_TEST(std::isnan(back.f64s[0]));
  BOOST_TEST(back.f64s[1] == std::numeric_limits<double>::infinity());
  BOOST_TEST(back.f64s[2] == -std::numeric_limits<double>::infinity());
  BOOST_TEST(std::signbit(back.f64s[3]));
}

BOOST_AUTO_TEST_CASE(strings_escape_controls_and_replace_invalid_utf8) {
  scalars s;
  s.s = "a\"b\\c\n\x01\x1f\x7f \xc3\xa9 \xff\xc3";
  const std::string text = to_json(s);
  BOOST_TEST(text.find(R"("s":"a\"b\\c\n\u0001\u001f)" "\x7f" R"( )" "\xc3\xa9"
                       R"( \ufffd\ufffd")") != std::string::npos,
             text);
  scalars back;
  BOOST_TEST(from_json(text, back) == std::error_code());
  BOOST_TEST(back.s == "a\"b\\c\n\x01\x1f\x7f \xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd");
}

BOOST_AUTO_TEST_CASE(integers_are_read_from_numbers_and_numeric_strings) {
  scalars s;
  BOOST_TEST(from_json(R"({"u64v":"18446744073709551615","i64v":"-9223372036854775808",)"
                       R"("u8v":2.0,"i32v":-1e3})", s) == std::error_code());
  BOOST_TEST(s.u64v == std::numeric_limits<std::uint64_t>::max());
  BOOST_TEST(s.i64v == std::numeric_limits<std::int64_t>::min());
  BOOST_TEST(s.u8v == 2);
  BOOST_TEST(s.i32v == -1000);
  BOOST_TEST(from_json(R"({"f32v":"1.5","f64v":"-Infinity"})", s) == std::error_code());
  BOOST_TEST(s.f32v == 1.5f);
}

BOOST_AUTO_TEST_CASE(null_and_absent_keys_leave_the_default) {
  optionals o;
  BOOST_TEST(from_json(R"({"b":null,"s":null,"at":null,"i32v":3})", o) == std::error_code());
  BOOST_TEST(!o.b);
  BOOST_TEST(!o.s);
  BOOST_TEST(o.i32v.value_or(0) == 3);
  scalars s;
  BOOST_TEST(from_json(R"({"u32v":null,"unknown":{"deep":[1,2,{"x":null}]}})", s) ==
             std::error_code());
  BOOST_TEST(s == scalars{});
}

BOOST_AUTO_TEST_CASE(enum_numbers_are_kept_and_unknown_names_refused) {
  scalars s;
  s.color = static_cast<color>(-77);
  scalars back;
  BOOST_TEST(from_json(to_json(s), back) == std::error_code());
  BOOST_TEST(back == s);
  BOOST_TEST(from_json(R"({"color":"purple"})", back) == err(ember::errc::value_out_of_range));
  BOOST_TEST(from_json(R"({"color":"red"})", back) == std::error_code());
  BOOST_TEST((back.color == color::red));
}

BOOST_AUTO_TEST_CASE(malformed_json_is_refused) {
  scalars s;
  for (const char* bad : {"", " ", "{", "[]", "nul", "3", R"({"s":})", R"({"s":"x"} x)",
                          R"({"s":"\u12"})", "{\"s\":\"\xff\"}", R"({"raw":"a!=="})",
                          R"({"raw":"abcde"})", R"({"u8v":"12x"})", R"({"u8v":"x"})"}) {
    BOOST_TEST(from_json(bad, s) == err(ember::errc::malformed_body), bad);
  }
}

BOOST_AUTO_TEST_CASE(a_value_of_the_wrong_json_type_is_refused) {
  scalars s;
  for (const char* bad : {R"({"b":1})", R"({"u8v":true})", R"({"s":5})", R"({"raw":[]})",
                          R"({"at":[]})", R"({"color":true})", R"({"f32v":{}})"}) {
    BOOST_TEST(from_json(bad, s) == err(ember::errc::wrong_wire_type), bad);
  }
  lists l;
  BOOST_TEST(from_json(R"({"i32s":{}})", l) == err(ember::errc::wrong_wire_type));
  BOOST_TEST(from_json(R"({"i32s":[1,null]})", l) == err(ember::errc::wrong_wire_type));
  maps m;
  BOOST_TEST(from_json(R"({"sizes":[]})", m) == err(ember::errc::wrong_wire_type));
}

BOOST_AUTO_TEST_CASE(a_value_that_does_not_fit_its_field_is_out_of_range) {
  scalars s;
  for (const char* bad : {R"({"u8v":256})", R"({"u8v":-1})", R"({"i8v":-129})",
                          R"({"i32v":1.5})", R"({"u64v":18446744073709551616.0})",
                          R"({"i64v":"9223372036854775808"})", R"({"f32v":1e39})",
                          R"({"u32v":4294967296})"}) {
    BOOST_TEST(from_json(bad, s) == err(ember::errc::value_out_of_range), bad);
  }
  BOOST_TEST(from_json(R"({"f32v":3.4028235e38})", s) == std::error_code());
  BOOST_TEST(s.f32v == std::numeric_limits<float>::max());
}

BOOST_AUTO_TEST_CASE(nesting_deeper_than_64_structs_is_refused) {
  tree ok;
  BOOST_TEST(from_json(to_json(deep_tree(65)), ok) == std::error_code());
  BOOST_TEST(ok == deep_tree(65));
  tree too_deep;
  BOOST_TEST(from_json(to_json(deep_tree(66)), too_deep) == err(ember::errc::nesting_too_deep));
  // Arrays nested past simdjson's own limit, even under an unknown key.
  scalars s;
  const std::string deep = R"({"x":)" + std::string(5000, '[') + std::string(5000, ']') + "}";
  BOOST_TEST(from_json(deep, s) == err(ember::errc::nesting_too_deep));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(error_bodies)

BOOST_AUTO_TEST_CASE(an_error_body_survives_both_encodings) {
  const ember::codec::error_body e{1001, "wrong \"password\"\n"};
  ember::codec::error_body back;
  BOOST_TEST(from_binary(to_binary(e).view(), back) == std::error_code());
  BOOST_TEST((back == e));
  BOOST_TEST(to_hex(to_binary(e).view()) == "08 e9 07 12 11 77 72 6f 6e 67 20 22 70 61 73 73 77 6f 72 64 22 0a");
  BOOST_TEST(to_json(e) == R"({"status":1001,"message":"wrong \"password\"\n"})");
  ember::codec::error_body jback;
  BOOST_TEST(from_json(to_json(e), jback) == std::error_code());
  BOOST_TEST((jback == e));
  BOOST_TEST(from_json(R"({"status":70000})", jback) == err(ember::errc::value_out_of_range));
  BOOST_TEST(from_json("[]", jback) == err(ember::errc::malformed_body));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(generated_api)

BOOST_AUTO_TEST_CASE(descriptors_carry_the_schema_ids_names_and_servers) {
  static_assert(cmd::echo::id == 1 && cmd::echo::name == "echo" && cmd::echo::server == "game");
  static_assert(cmd::echo::ordered && !cmd::ping::ordered);
  static_assert(std::is_same_v<cmd::stats::request, stats_request>);
  static_assert(std::is_same_v<cmd::stats::reply, stats_reply>);
  static_assert(event::push_id == 100 && event::push_name == "event");
  static_assert(static_cast<std::uint16_t>(id::stats) == 65279);
  static_assert(static_cast<std::uint16_t>(id::event) == 100);
  static_assert(schema_hash != 0);
  BOOST_TEST(to_string(color::default_) == "default");
  color c{};
  BOOST_TEST(from_string("blue", c));
  BOOST_TEST((c == color::blue));
  BOOST_TEST(!from_string("default_", c));
  BOOST_TEST(to_string(static_cast<color>(42)).empty());
}

BOOST_AUTO_TEST_CASE(fail_throws_a_game_error_with_the_schema_message) {
  BOOST_TEST(to_string(error::not_found) == "not_found");
  BOOST_TEST(error_message(error::quoted) == "a \"quoted\" message with a backslash \\ and ünïcode");
  try {
    fail(error::not_found);
    BOOST_FAIL("fail returned");
  } catch (const ember::game_error& e) {
    BOOST_TEST(e.code() == 1000);
    BOOST_TEST(std::string(e.what()) == "no such thing");
  }
  try {
    fail(error::quoted, "custom");
  } catch (const ember::game_error& e) {
    BOOST_TEST(e.code() == 65535);
    BOOST_TEST(std::string(e.what()) == "custom");
  }
}

BOOST_AUTO_TEST_CASE(formatters_print_json_and_hide_secret_fields) {
  echo_request r;
  r.token = "hunter2";
  r.payload.level = level::high;
  const std::string text = fmt::format("{}", r);
  BOOST_TEST(text.find(R"("token":"***")") != std::string::npos, text);
  BOOST_TEST(text.find("hunter2") == std::string::npos, text);
  BOOST_TEST(to_json(r).find("hunter2") != std::string::npos);  // the wire keeps it
  BOOST_TEST(fmt::format("{} {} {}", color::red, static_cast<color>(9), error::not_found) ==
             "red 9 not_found");
  BOOST_TEST(fmt::format("{}", point{1, -2}) == R"({"x":1,"y":-2})");
}

BOOST_AUTO_TEST_SUITE_END()
