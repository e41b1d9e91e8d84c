// A module's typed hand-over across a reload (ember/app/host.hpp: hand_over, take_over): the
// next build takes the value as it was given, once; a build that takes another type is
// refused with both types named, and the value waits for a build that takes it.
#define BOOST_TEST_MODULE hand over
#include "ember/app/host.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

#include "nettest.hpp"

using namespace ember;

namespace {
// A host that nothing is started on: hand-overs need no listener.
struct fixture {
  fixture() {
    auto c = app::parse_config(R"({"secret": "a-secret-of-the-hand-over-test",
                                    "servers": {"solo": {"type": "game"}}})", "hand_over.json");
    BOOST_REQUIRE_MESSAGE(c.has_value(), (c ? std::string() : c.error().what()));
    h.emplace(io, *c, "solo");
  }
  asio::io_context io;
  std::optional<app::host> h;
};
}  // namespace

BOOST_FIXTURE_TEST_CASE(a_value_handed_over_is_taken_by_the_next_build_once, fixture) {
  h->hand_over("players", nettest::echo_reply{7, "seven"});
  auto taken = h->take_over<nettest::echo_reply>("players");
  BOOST_REQUIRE(taken.has_value());
  BOOST_TEST(taken->n == 7u);
  BOOST_TEST(taken->text == "seven");
  BOOST_TEST(!h->take_over<nettest::echo_reply>("players").has_value());
}

BOOST_FIXTURE_TEST_CASE(a_second_hand_over_under_a_key_replaces_the_first, fixture) {
  h->hand_over("players", nettest::echo_reply{1, "one"});
  h->hand_over("players", nettest::echo_reply{2, "two"});
  BOOST_TEST(h->take_over<nettest::echo_reply>("players")->text == "two");
}

BOOST_FIXTURE_TEST_CASE(nothing_handed_over_is_nothing_taken, fixture) {
  BOOST_TEST(!h->take_over<nettest::echo_reply>("players").has_value());
  h->stash("players", "bytes");  // the untyped stash is another store
  BOOST_TEST(!h->take_over<nettest::echo_reply>("players").has_value());
}

BOOST_FIXTURE_TEST_CASE(a_build_that_takes_another_type_is_refused_and_the_value_waits, fixture) {
  // The same fields, another type: what a build expecting something else would ask for.
  h->hand_over("players", nettest::echo_reply{7, "seven"});
  try {
    (void)h->take_over<nettest::echo_request>("players");
    BOOST_FAIL("a value of another type was taken");
  } catch (const app::hand_over_error& e) {
    const std::string why = e.what();
    BOOST_TEST(why.find("\"players\"") != std::string::npos, why);
    BOOST_TEST(why.find("nettest::echo_reply") != std::string::npos, why);
    BOOST_TEST(why.find("nettest::echo_request") != std::string::npos, why);
  }
  auto taken = h->take_over<nettest::echo_reply>("players");  // a build that takes it
  BOOST_REQUIRE(taken.has_value());
  BOOST_TEST(taken->text == "seven");
}

BOOST_AUTO_TEST_CASE(a_type_is_named_as_the_compiler_spells_it) {
  BOOST_TEST(app::detail::type_name<nettest::echo_reply>() == "nettest::echo_reply");
#if defined(__clang__)
  BOOST_TEST(app::detail::type_name<std::uint64_t>() == "unsigned long");
#else
  BOOST_TEST(app::detail::type_name<std::uint64_t>() == "long unsigned int");
#endif
}
