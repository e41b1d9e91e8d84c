// net::body_writer: what a session's reply and push functions take to write a body.
#include "ember/net/session.hpp"

#define BOOST_TEST_MODULE net_session
#include <boost/test/unit_test.hpp>

#include <vector>

using ember::buffer;
using ember::bytes_view;
using ember::codec::encoding;
using ember::net::body_writer;

namespace {

// Returns a writer made from a span that dies with this function's frame.
[[gnu::noinline]] body_writer writer_of(const std::vector<std::byte>& bytes) {
  const bytes_view local(bytes);
  return body_writer::encoded(local);
}

// Writes over the stack where writer_of's frame was.
[[gnu::noinline]] std::size_t scribble() {
  volatile std::byte junk[256];
  for (auto& b : junk) b = std::byte{0xee};
  return sizeof junk;
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_encoded_writer_keeps_its_span_after_the_span_is_gone) {
  const std::vector<std::byte> bytes{std::byte{1}, std::byte{2}, std::byte{3}};
  const auto w = writer_of(bytes);
  BOOST_TEST(scribble() == 256u);
  buffer out;
  w(out, encoding::binary);
  BOOST_TEST(out.view().size() == 3u);
  BOOST_TEST((std::vector<std::byte>(out.view().begin(), out.view().end()) == bytes));
}

BOOST_AUTO_TEST_CASE(an_encoded_writer_of_a_temporary_span_writes_the_bytes_in_either_encoding) {
  const std::vector<std::byte> bytes{std::byte{'h'}, std::byte{'i'}};
  const auto w = body_writer::encoded(bytes_view(bytes));
  buffer binary, json;
  w(binary, encoding::binary);
  w(json, encoding::json);
  BOOST_TEST(binary.view().size() == 2u);
  BOOST_TEST(json.view().size() == 2u);
  BOOST_TEST((binary.view()[1] == std::byte{'i'} && json.view()[0] == std::byte{'h'}));
}

BOOST_AUTO_TEST_CASE(an_empty_encoded_writer_writes_nothing) {
  buffer out;
  body_writer::encoded({})(out, encoding::binary);
  BOOST_TEST(out.view().empty());
}
