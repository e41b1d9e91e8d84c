// Game data tables: typed rows from JSON files, refused with file and line when wrong, and
// swapped atomically (a held snapshot never changes). Rows here are `codec::error_body`
// ({status, message}), a message with a JSON codec that needs no schema.
#define BOOST_TEST_MODULE game data
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>

#include "ember/app/game_data.hpp"
#include "ember/codec/json_reader.hpp"  // rows of error_body, whose JSON decoder is inline

using namespace ember;
using rows = app::data_table<codec::error_body, &codec::error_body::status>;

namespace {
std::filesystem::path write(const std::string& name, const std::string& text) {
  auto p = std::filesystem::temp_directory_path() / ("ember-data-" + std::to_string(getpid()) + "-" + name);
  std::ofstream(p) << text;
  return p;
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_good_file_gives_typed_rows_by_key) {
  auto t = rows::parse(R"([
  {"status": 1, "message": "sword"},
  {"status": 2, "message": "shield, [round]"}
])", "items.json");
  BOOST_REQUIRE(t.has_value());
  BOOST_TEST((*t)->size() == 2u);
  BOOST_REQUIRE((*t)->find(2) != nullptr);
  BOOST_TEST((*t)->find(2)->message == "shield, [round]");
  BOOST_TEST((*t)->find(3) == nullptr);
  BOOST_TEST(rows::parse("[]", "empty.json").value()->size() == 0u);
}

BOOST_AUTO_TEST_CASE(a_bad_file_is_refused_with_its_line) {
  auto bad_row = rows::parse("[\n  {\"status\": 1, \"message\": \"a\"},\n  {\"status\": \"x\"}\n]", "items.json");
  BOOST_REQUIRE(!bad_row.has_value());
  BOOST_TEST(bad_row.error().line == 3u);
  BOOST_TEST(bad_row.error().what().starts_with("items.json:3: row [1]: "), bad_row.error().what());

  auto twice = rows::parse("[{\"status\": 1},\n{\"status\": 1}]", "items.json");
  BOOST_REQUIRE(!twice.has_value());
  BOOST_TEST(twice.error().what() == "items.json:2: row [1]: key 1 is used twice (first on line 1)");

  for (const char* text : {"{}", "[1,,2]", "[{\"status\": 1}", "[{\"status\": 1}] x", "[\"unterminated]"}) {
    auto r = rows::parse(text, "broken.json");
    BOOST_TEST(!r.has_value(), text);
  }
  auto missing = rows::load("/nonexistent/items.json");
  BOOST_REQUIRE(!missing.has_value());
  BOOST_TEST(missing.error().what() == "/nonexistent/items.json: cannot read the file");
}

BOOST_AUTO_TEST_CASE(a_reload_swaps_atomically_and_a_refused_one_keeps_the_data_in_use) {
  const auto file = write("items.json", R"([{"status": 7, "message": "old"}])");
  app::data_slot<rows> slot(file);
  BOOST_TEST(slot.current()->size() == 0u);
  BOOST_REQUIRE(slot.reload().has_value());
  auto held = slot.current();  // a handler's snapshot
  std::ofstream(file) << R"([{"status": 7, "message": "new"}, {"status": 8, "message": "more"}])";
  BOOST_REQUIRE(slot.reload().value() == 2u);
  BOOST_TEST(held->find(7)->message == "old");  // the snapshot did not change
  BOOST_TEST(slot.current()->find(7)->message == "new");
  std::ofstream(file) << "[{\"status\": 7, \"message\": \"bad\"},\n oops]";
  auto refused = slot.reload();
  BOOST_REQUIRE(!refused.has_value());
  BOOST_TEST(refused.error().line == 2u);
  BOOST_TEST(slot.current()->find(8)->message == "more");  // still the data in use
  BOOST_TEST(slot.version() == 2u);
  std::filesystem::remove(file);
}
