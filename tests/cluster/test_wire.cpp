// ember's own cluster messages (generated from schemas/internal/cluster.toml) and the route
// envelope, byte for byte as PROTOCOL.md §10 gives them. Built header-only from two files
// (this one and wire_other_file.cpp), so that it also proves that the committed generated
// source links into a program from more than one file.
#include "ember/cluster/detail/cluster_wire.hpp"

#define BOOST_TEST_MODULE cluster_wire
#include <boost/test/unit_test.hpp>

#include <vector>

#include "ember/cluster/route_wire.hpp"

namespace msg = ember::cluster::detail::msg;
using ember::buffer;
using ember::bytes_view;
using ember::cluster::detail::decode;
using ember::cluster::detail::encoded;

// In wire_other_file.cpp: the same messages, encoded and decoded there.
ember::buffer encoded_in_the_other_file(const msg::players& p);
bool decodes_in_the_other_file(ember::bytes_view body, msg::session_op& out);

namespace {

std::vector<int> bytes_of(bytes_view b) {
  std::vector<int> out;
  for (auto x : b) out.push_back(std::to_integer<int>(x));
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_join_is_the_session_its_kind_and_the_group_as_protobuf_fields) {
  msg::session_op m;
  m.session = 7;
  m.op = msg::session_op_kind::join;
  m.group = "room";
  const std::vector<int> expected{0x08, 0x07, 0x10, 0x03, 0x3a, 0x04, 'r', 'o', 'o', 'm'};
  BOOST_TEST(bytes_of(encoded(m).view()) == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_push_to_a_session_carries_its_body_as_bytes) {
  msg::session_op m;
  m.session = 1;
  m.op = msg::session_op_kind::push;
  m.push_id = 300;
  m.body = {std::byte{0x0a}, std::byte{0x00}};
  const std::vector<int> expected{0x08, 0x01, 0x10, 0x01, 0x18, 0xac, 0x02, 0x22, 0x02, 0x0a, 0x00};
  BOOST_TEST(bytes_of(encoded(m).view()) == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(reclaim_lists_its_players_packed) {
  const msg::players p{{1, 300}};
  const std::vector<int> expected{0x0a, 0x03, 0x01, 0xac, 0x02};
  BOOST_TEST(bytes_of(encoded(p).view()) == expected, boost::test_tools::per_element());
  msg::players back;
  BOOST_TEST(decode(encoded(p).view(), back));
  BOOST_TEST((back == p));
}

BOOST_AUTO_TEST_CASE(an_empty_body_is_every_field_at_its_default) {
  msg::player m{42};
  BOOST_TEST(decode({}, m));
  BOOST_TEST(m.user == 0u);
  BOOST_TEST(encoded(msg::player{}).view().empty());
}

BOOST_AUTO_TEST_CASE(a_truncated_or_mistyped_body_is_refused) {
  msg::player m;
  const std::byte truncated[] = {std::byte{0x08}};  // user: a varint that never comes
  BOOST_TEST(!decode(bytes_view(truncated), m));
  const std::byte mistyped[] = {std::byte{0x0a}, std::byte{0x00}};  // user as a string
  BOOST_TEST(!decode(bytes_view(mistyped), m));
}

BOOST_AUTO_TEST_CASE(messages_written_in_one_file_read_in_another) {
  const msg::players p{{5, 6, 7}};
  msg::players back;
  BOOST_TEST(decode(encoded_in_the_other_file(p).view(), back));
  BOOST_TEST((back == p));
  msg::session_op m;
  m.session = 9;
  m.op = msg::session_op_kind::set_attribute;
  m.key = "k";
  m.value = "v";
  msg::session_op there;
  BOOST_TEST(decodes_in_the_other_file(encoded(m).view(), there));
  BOOST_TEST((there == m));
}

BOOST_AUTO_TEST_CASE(the_envelope_is_17_big_endian_bytes_before_the_clients_body) {
  using ember::cluster::route::envelope;
  buffer out;
  ember::cluster::route::write_envelope(
      out, envelope{0x0102030405060708ULL, 0x1112131415161718ULL, ember::codec::encoding::json});
  const std::byte client[] = {std::byte{0xaa}, std::byte{0xbb}};
  out.append(bytes_view(client));
  const std::vector<int> expected{1,    2,    3,    4,    5,    6,    7,    8,    0x11, 0x12,
                                  0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 1,    0xaa, 0xbb};
  BOOST_TEST(bytes_of(out.view()) == expected, boost::test_tools::per_element());
  bytes_view rest;
  const auto e = ember::cluster::route::read_envelope(out.view(), rest);
  BOOST_REQUIRE(e.has_value());
  BOOST_TEST(e->session == 0x0102030405060708ULL);
  BOOST_TEST(e->user == 0x1112131415161718ULL);
  BOOST_TEST((e->push_encoding == ember::codec::encoding::json));
  BOOST_TEST(bytes_of(rest) == (std::vector<int>{0xaa, 0xbb}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_request_id_adds_8_bytes_to_the_envelope_and_a_flag_in_byte_16) {
  using ember::cluster::route::envelope;
  buffer out;
  ember::cluster::route::write_envelope(
      out, envelope{1, 2, ember::codec::encoding::binary, 0x2122232425262728ULL});
  out.append(bytes_view(std::vector<std::byte>{std::byte{0xaa}}));
  const std::vector<int> expected{0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 2,
                                  0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0xaa};
  BOOST_TEST(bytes_of(out.view()) == expected, boost::test_tools::per_element());
  bytes_view rest;
  const auto e = ember::cluster::route::read_envelope(out.view(), rest);
  BOOST_REQUIRE(e.has_value());
  BOOST_TEST(e->request_id == 0x2122232425262728ULL);
  BOOST_TEST((e->push_encoding == ember::codec::encoding::binary));
  BOOST_TEST(bytes_of(rest) == (std::vector<int>{0xaa}), boost::test_tools::per_element());
  // Flagged but cut short, or an unknown bit: refused.
  std::vector<std::byte> body(24);
  body[16] = std::byte{2};
  BOOST_TEST(!ember::cluster::route::read_envelope(body, rest).has_value());
  body.resize(25);
  body[16] = std::byte{4};
  BOOST_TEST(!ember::cluster::route::read_envelope(body, rest).has_value());
}

BOOST_AUTO_TEST_CASE(a_short_envelope_or_an_unknown_encoding_is_refused) {
  bytes_view rest;
  std::vector<std::byte> body(16);
  BOOST_TEST(!ember::cluster::route::read_envelope(body, rest).has_value());
  body.resize(17);
  body[16] = std::byte{2};
  BOOST_TEST(!ember::cluster::route::read_envelope(body, rest).has_value());
  body[16] = std::byte{0};
  BOOST_TEST(ember::cluster::route::read_envelope(body, rest).has_value());
  BOOST_TEST(rest.empty());
}
