// Tests of include/ember/detail/host_port.hpp: "host:port" texts split into host and port, and
// every way one can be wrong, named.
#include "ember/detail/host_port.hpp"

#define BOOST_TEST_MODULE host_port
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace {

using ember::detail::host_port;
using ember::detail::host_port_error;
using ember::detail::parse_host_port;

host_port parsed(std::string_view text, bool port_required = false) {
  host_port out;
  const auto e = parse_host_port(text, out, port_required);
  BOOST_TEST_INFO("text: " << text << ", error: " << ember::detail::describe(e));
  BOOST_TEST((e == host_port_error::none));
  return out;
}

host_port_error refused(std::string_view text, bool port_required = false) {
  host_port out;
  return parse_host_port(text, out, port_required);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_host_and_a_port_split_at_the_colon) {
  const auto hp = parsed("cache1:11211");
  BOOST_TEST(hp.host == "cache1");
  BOOST_TEST((hp.port == std::optional<std::uint16_t>(11211)));
  BOOST_TEST((parsed("127.0.0.1:1").port == std::optional<std::uint16_t>(1)));
  BOOST_TEST((parsed("h:65535").port == std::optional<std::uint16_t>(65535)));
  BOOST_TEST((parsed("h:00080").port == std::optional<std::uint16_t>(80)));
}

BOOST_AUTO_TEST_CASE(an_ipv6_address_goes_in_brackets_and_loses_them) {
  const auto hp = parsed("[::1]:11211", true);
  BOOST_TEST(hp.host == "::1");
  BOOST_TEST((hp.port == std::optional<std::uint16_t>(11211)));
  const auto bare = parsed("[fe80::1]");
  BOOST_TEST(bare.host == "fe80::1");
  BOOST_TEST(!bare.port.has_value());
}

BOOST_AUTO_TEST_CASE(a_missing_port_is_empty_unless_one_is_required) {
  const auto hp = parsed("cache2");
  BOOST_TEST(hp.host == "cache2");
  BOOST_TEST(!hp.port.has_value());
  BOOST_TEST((refused("cache2", true) == host_port_error::missing_port));
  BOOST_TEST((refused("[::1]", true) == host_port_error::missing_port));
}

BOOST_AUTO_TEST_CASE(a_bad_port_is_refused) {
  for (std::string_view text : {"cache:", "cache:0", "cache:65536", "cache:99999", "cache:123456",
                                "cache:-1", "cache:12a", "cache: 80", "[::1]:", "[::1]:0"}) {
    BOOST_TEST_INFO("text: " << text);
    BOOST_TEST((refused(text) == host_port_error::bad_port));
    BOOST_TEST((refused(text, true) == host_port_error::bad_port));
  }
}

BOOST_AUTO_TEST_CASE(an_empty_host_or_text_is_refused) {
  BOOST_TEST((refused("") == host_port_error::empty));
  BOOST_TEST((refused(":11211") == host_port_error::empty_host));
  BOOST_TEST((refused("[]:11211") == host_port_error::empty_host));
  BOOST_TEST((refused("[]") == host_port_error::empty_host));
}

BOOST_AUTO_TEST_CASE(brackets_and_colons_out_of_place_are_refused) {
  BOOST_TEST((refused("::1:11211") == host_port_error::unbracketed_ipv6));
  BOOST_TEST((refused("a:b:c") == host_port_error::unbracketed_ipv6));
  BOOST_TEST((refused("[::1:11211") == host_port_error::unclosed_bracket));
  BOOST_TEST((refused("[::1]11211") == host_port_error::after_bracket));
  BOOST_TEST((refused("[::1]x:1") == host_port_error::after_bracket));
}

BOOST_AUTO_TEST_CASE(every_error_says_what_is_wrong) {
  BOOST_TEST(ember::detail::describe(host_port_error::bad_port) == "the port is not a number 1..65535");
  BOOST_TEST(ember::detail::describe(host_port_error::missing_port) == "the port is missing");
  BOOST_TEST(ember::detail::describe(host_port_error::empty_host) == "the host is empty");
  BOOST_TEST(ember::detail::describe(host_port_error::unbracketed_ipv6) ==
             "an IPv6 address goes in brackets: \"[::1]:11211\"");
  for (auto e : {host_port_error::empty, host_port_error::unclosed_bracket, host_port_error::after_bracket}) {
    BOOST_TEST(!ember::detail::describe(e).empty());
    BOOST_TEST(ember::detail::describe(e) != ember::detail::describe(host_port_error::bad_port));
  }
}
