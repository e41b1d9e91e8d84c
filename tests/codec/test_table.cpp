// Tests of include/ember/codec/table.hpp, the table-driven codec, where schemas/test/all_types
// does not reach: a message of more fields than the walkers keep on the stack, sparse tags
// arriving in any order, the enum tables, and the unrolled encoders against the loop
// (tests/codec/wide.toml).
#include "ember/codec/table.hpp"

#define BOOST_TEST_MODULE table
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ember/codec/codec.hpp"
#include "wide.hpp"

namespace {

using ember::codec::encoding;
using namespace wide;

std::error_code err(ember::errc e) { return make_error_code(e); }

template <class T>
ember::buffer encoded(const T& m, encoding enc) {
  ember::buffer b;
  ember::codec::encode(b, m, enc);
  return b;
}

/// Every field of `many` set to something that is not its default.
many full_many() {
  many m;
  m.f1 = 1;
  m.f2 = "two";
  m.f3 = -3;
  m.f4 = true;
  m.f5 = 5.5;
  m.f6 = {"six", ""};
  m.f7 = 0;
  m.f8 = dense::three;
  m.f9 = {{"nine", -9}};
  m.f10 = {std::byte{10}};
  m.f31 = 31;
  m.f32 = "thirty-two";
  m.f33 = -33;
  m.f34 = true;
  m.f35 = 35.25;
  m.f100 = {"hundred"};
  m.f1000 = 1000;
  m.f65536 = dense::two;
  m.f1000000 = {{"million", 1000000}};
  m.f536870911 = {std::byte{0xff}, std::byte{0}};
  return m;
}

/// Varint bytes of `v`.
std::string varint(std::uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>(v | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_message_of_forty_fields_survives_both_encodings) {
  const many m = full_many();
  for (const encoding enc : {encoding::binary, encoding::json}) {
    many back;
    BOOST_TEST(!ember::codec::decode(encoded(m, enc).view(), enc, back));
    BOOST_TEST((back == m));
  }
  holder h;
  h.one = m;
  h.items = {m, many{}, m};
  h.kinds = {{"a", sparse::far}, {"b", static_cast<sparse>(5)}};
  h.maybe = sparse::minus;
  for (const encoding enc : {encoding::binary, encoding::json}) {
    holder back;
    BOOST_TEST(!ember::codec::decode(encoded(h, enc).view(), enc, back));
    BOOST_TEST((back == h));
  }
}

BOOST_AUTO_TEST_CASE(the_fields_beyond_the_thirty_second_are_written_in_tag_order) {
  many m;
  m.f35 = 1.0;
  m.f1000 = 7;
  m.f536870911 = {std::byte{1}};
  // tag 35 fixed64 1.0, tag 1000 varint 7, tag 2^29-1 length 1
  BOOST_TEST(encoded(m, encoding::binary).str() ==
             varint(35 << 3 | 1) + std::string("\0\0\0\0\0\0\xf0\x3f", 8) + varint(1000 << 3) +
                 "\x07" + varint(536870911ull << 3 | 2) + "\x01\x01");
  BOOST_TEST(encoded(m, encoding::json).str().find(R"("f1000":7,"f65536":"zero",)") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(unrolled_encoders_write_what_the_loop_writes) {
  namespace table = ember::codec::table;
  const table::message& outer = wide::detail::table_of<holder>::value;
  const table::message& inner = wide::detail::table_of<many>::value;
  // holder (4 fields) has unrolled encoders, many (40 fields) walks its table in a loop.
  BOOST_TEST((outer.unrolled.binary != nullptr && outer.unrolled.json != nullptr));
  BOOST_TEST((inner.unrolled.binary == nullptr && inner.unrolled.json == nullptr));
  holder h;
  h.items = {full_many(), many{}};
  h.one = full_many();
  h.kinds = {{"a", sparse::far}, {"b", sparse::minus}};
  h.maybe = sparse::minus;
  for (const holder& m : {h, holder{}}) {
    ember::buffer unrolled;
    ember::buffer loop;
    ember::codec::binary_writer bu(unrolled);
    ember::codec::binary_writer bl(loop);
    table::encode_binary(bu, &m, outer);
    table::detail::walk_binary(bl, &m, outer);
    BOOST_TEST(unrolled.str() == loop.str());
    for (const bool redact : {false, true}) {
      unrolled.clear();
      loop.clear();
      ember::codec::json_writer ju(unrolled, redact);
      ember::codec::json_writer jl(loop, redact);
      table::encode_json(ju, &m, outer);
      table::detail::walk_json(jl, &m, outer);
      BOOST_TEST(unrolled.str() == loop.str());
    }
  }
}

BOOST_AUTO_TEST_CASE(sparse_tags_are_found_in_any_order_and_repeated) {
  // f1000000 (a map<string,i32>) first, then f1, f65536, f1000 twice (the last wins), f3
  const std::string body = varint(1000000 << 3 | 2) + "\x05\x0a\x01k\x10\x02" + varint(1 << 3) +
                           "\x05" + varint(65536 << 3) + "\x01" + varint(1000 << 3) + "\x08" +
                           varint(1000 << 3) + "\x09" + varint(3 << 3) + "\x03";
  many m;
  BOOST_TEST(!ember::codec::decode(ember::as_bytes(body), encoding::binary, m));
  BOOST_TEST(m.f1 == 5u);
  BOOST_TEST(m.f3 == -2);
  BOOST_TEST((m.f1000 == 9u));
  BOOST_TEST((m.f65536 == dense::one));
  BOOST_TEST((m.f1000000 == std::map<std::string, std::int32_t>{{"k", 1}}));
  // A known sparse tag with the wrong wire type is still refused.
  const std::string wrong = varint(1000 << 3 | 2) + "\x00";
  BOOST_TEST(ember::codec::decode(ember::as_bytes(wrong), encoding::binary, m) ==
             err(ember::errc::wrong_wire_type));
}

BOOST_AUTO_TEST_CASE(json_keys_are_found_in_any_order) {
  many m;
  BOOST_TEST(!ember::codec::decode(
      ember::as_bytes(R"({"f536870911":"AQ==","f1":3,"unknown":[1],"f35":0.5,"f1":4})"),
      encoding::json, m));
  BOOST_TEST(m.f1 == 4u);
  BOOST_TEST(m.f35 == 0.5);
  BOOST_TEST((m.f536870911 == std::vector<std::byte>{std::byte{1}}));
}

BOOST_AUTO_TEST_CASE(enum_tables_name_every_value_and_only_those) {
  BOOST_TEST(to_string(dense::three) == "three");
  BOOST_TEST(to_string(sparse::minus) == "minus");
  BOOST_TEST(to_string(sparse::far) == "far");
  BOOST_TEST(to_string(static_cast<dense>(4)).empty());
  BOOST_TEST(to_string(static_cast<dense>(-1)).empty());
  BOOST_TEST(to_string(static_cast<sparse>(1)).empty());
  sparse s{};
  BOOST_TEST(from_string("far", s));
  BOOST_TEST((s == sparse::far));
  BOOST_TEST(!from_string("Far", s));
  BOOST_TEST(!from_string("", s));
}

// The codec functions are templates for the schema's messages only.
template <class T>
concept has_codec = requires(ember::codec::binary_writer& w, const T& m) { encode_binary(w, m); };
static_assert(has_codec<many> && has_codec<holder>);
static_assert(!has_codec<dense> && !has_codec<int> && !has_codec<std::string>);
