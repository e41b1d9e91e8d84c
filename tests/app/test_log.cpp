// Tests of ember::log's formats (include/ember/log.hpp): JSON lines that parse (simdjson) with
// control characters and invalid UTF-8 escaped, one line per write on a real pipe, the
// dropped-lines notice as a JSON line of its own, and plain lines as before.
#include "ember/log.hpp"

#define BOOST_TEST_MODULE log
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

namespace {

namespace log = ember::log;

/// Standard error is a pipe of ours for the whole run (the logger looks at it once); the
/// test reads what the logger wrote from its other end.
struct stderr_pipe {
  int read_end = -1;
  int saved = -1;
  stderr_pipe() {
    int fds[2];
    BOOST_REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    saved = ::dup(STDERR_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    ::close(fds[1]);
    read_end = fds[0];
    ::fcntl(read_end, F_SETFL, ::fcntl(read_end, F_GETFL) | O_NONBLOCK);
  }
  ~stderr_pipe() {
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    ::close(read_end);
  }
  /// Everything written so far (the pipe is never left holding more than 64 KiB).
  std::string drain() const {
    std::string out;
    char chunk[65536];
    for (;;) {
      const auto n = ::read(read_end, chunk, sizeof chunk);
      if (n > 0) {
        out.append(chunk, static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      return out;
    }
  }
};

stderr_pipe* pipe_ = nullptr;
struct fixture {
  stderr_pipe p;
  fixture() { pipe_ = &p; }
  ~fixture() { pipe_ = nullptr; }
};
BOOST_TEST_GLOBAL_FIXTURE(fixture);

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
    out.push_back(text.substr(start, nl - start));
  BOOST_TEST(start == text.size(), "text after the last newline: " << text.substr(start));
  return out;
}

std::string format_json(log::level lv, std::string_view text) {
  fmt::memory_buffer b;
  log::detail::format_line(b, lv, text);
  return std::string(b.data(), b.size());
}

struct json_format {
  json_format() {
    log::set_format(log::format::json);
    log::set_tag("game1");
    log::set_level(log::level::debug);
  }
  ~json_format() {
    log::set_format(log::format::plain);
    log::set_tag("");
    log::set_level(log::level::info);
    pipe_->drain();
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(a_json_line_is_one_object_with_time_level_server_and_message, json_format) {
  const auto line = format_json(log::level::info, "player 42 joined");
  BOOST_TEST(line.back() == '\n');
  BOOST_TEST(line.find('\n') == line.size() - 1);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  BOOST_REQUIRE_MESSAGE(!parser.parse(line).get(doc), line);
  BOOST_TEST(std::string_view(doc["level"].get_string().value()) == "info");
  BOOST_TEST(std::string_view(doc["server"].get_string().value()) == "game1");
  BOOST_TEST(std::string_view(doc["msg"].get_string().value()) == "player 42 joined");
  const std::string ts(doc["ts"].get_string().value());
  BOOST_TEST(std::regex_match(ts, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)")), ts);
  BOOST_TEST((doc["dropped"].error() == simdjson::NO_SUCH_FIELD));
  // Every level's name; no server key without a tag.
  log::set_tag("");
  for (auto [lv, name] : {std::pair{log::level::debug, "debug"}, {log::level::warn, "warn"},
                          {log::level::error, "error"}}) {
    const auto l = format_json(lv, "x");
    BOOST_REQUIRE_MESSAGE(!parser.parse(l).get(doc), l);
    BOOST_TEST(std::string_view(doc["level"].get_string().value()) == name);
    BOOST_TEST((doc["server"].error() == simdjson::NO_SUCH_FIELD));
  }
}

BOOST_FIXTURE_TEST_CASE(control_characters_quotes_and_invalid_utf8_are_escaped_never_a_broken_line,
                        json_format) {
  const std::string text = std::string("a\"b\\c\nd\re\tf") + '\0' + "\x01\x1f" + "é€😀" +
                           "\xff\xc3(\xed\xa0\x80\xe2\x82" + "end";
  const auto line = format_json(log::level::warn, text);
  BOOST_TEST(line.find('\n') == line.size() - 1, line);
  simdjson::dom::parser parser;  // simdjson validates UTF-8 and refuses raw control characters
  simdjson::dom::element doc;
  BOOST_REQUIRE_MESSAGE(!parser.parse(line).get(doc), line);
  const std::string_view msg = doc["msg"].get_string().value();
  const std::string want = std::string("a\"b\\c\nd\re\tf") + '\0' + "\x01\x1f" + "é€😀" +
                           "\uFFFD\uFFFD(\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD" + "end";
  BOOST_TEST(msg == want);
  BOOST_TEST(line.find(R"(\u0000\u0001\u001f)") != std::string::npos, line);
}

BOOST_FIXTURE_TEST_CASE(each_line_goes_out_whole_in_one_write_and_parses, json_format) {
  pipe_->drain();
  for (int i = 0; i < 100; ++i) log::info("line {}\nwith a newline and \x07 and \xc0", i);
  log::debug("a debug line");
  log::set_level(log::level::info);
  log::debug("not written");
  const auto lines = lines_of(pipe_->drain());
  BOOST_REQUIRE(lines.size() == 101u);
  simdjson::dom::parser parser;
  for (int i = 0; i < 100; ++i) {
    simdjson::dom::element doc;
    BOOST_REQUIRE_MESSAGE(!parser.parse(lines[i]).get(doc), lines[i]);
    BOOST_TEST(std::string_view(doc["msg"].get_string().value()) ==
               fmt::format("line {}\nwith a newline and \x07 and \uFFFD", i));
  }
  BOOST_TEST(lines[100].find(R"("level":"debug")") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(lines_lost_to_a_full_pipe_are_counted_in_a_json_line_of_their_own, json_format) {
  pipe_->drain();
  const std::string filler(1000, 'x');
  int written = 0;
  while (log::dropped_lines() < 5 && written < 10000) {
    log::info("{}", filler);
    ++written;
  }
  BOOST_REQUIRE(log::dropped_lines() == 5u);
  const auto before = lines_of(pipe_->drain());
  BOOST_TEST(before.size() + 5 == static_cast<std::size_t>(written));
  log::error("after the drops");
  const auto after = lines_of(pipe_->drain());
  BOOST_REQUIRE(after.size() == 2u);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  BOOST_REQUIRE_MESSAGE(!parser.parse(after[0]).get(doc), after[0]);
  BOOST_TEST(doc["dropped"].get_uint64().value() == 5u);
  BOOST_TEST(std::string_view(doc["level"].get_string().value()) == "warn");
  BOOST_TEST(std::string_view(doc["msg"].get_string().value()) ==
             "5 log lines dropped (log reader too slow)");
  BOOST_REQUIRE_MESSAGE(!parser.parse(after[1]).get(doc), after[1]);
  BOOST_TEST(std::string_view(doc["msg"].get_string().value()) == "after the drops");
  BOOST_TEST(log::dropped_lines() == 0u);
}

BOOST_AUTO_TEST_CASE(plain_lines_are_as_before_and_levels_read_by_name) {
  log::set_tag("net1");
  fmt::memory_buffer b;
  log::detail::format_line(b, log::level::warn, "hello");
  const std::string line(b.data(), b.size());
  BOOST_TEST(std::regex_match(line, std::regex(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} warn  \[net1\] hello\n)")),
             line);
  log::set_tag("");
  log::level lv = log::level::off;
  BOOST_TEST(log::parse_level("debug", lv));
  BOOST_TEST((lv == log::level::debug));
  BOOST_TEST(log::parse_level("error", lv));
  BOOST_TEST((lv == log::level::error));
  BOOST_TEST(!log::parse_level("verbose", lv));
  BOOST_TEST(!log::parse_level("off", lv));
  BOOST_TEST(!log::parse_level("INFO", lv));
  BOOST_TEST((lv == log::level::error));
}
