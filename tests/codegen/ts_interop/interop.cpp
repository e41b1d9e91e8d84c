// The C++ half of the cross-language golden test (tests/codegen/ts_interop/run.py): the same
// messages as interop.ts builds, built here from all_types.toml's generated C++.
//
//   interop write DIR BAD_BODIES
//                       writes DIR/CASE.bin and DIR/CASE.json for every case, DIR/cases.txt,
//                       and DIR/accepted.txt: each body of bad_bodies.txt that decodes,
//                       encoded again (binary in hex | JSON)
//   interop check DIR BAD_BODIES
//                       decodes DIR/CASE.ts.bin and DIR/CASE.ts.json (TypeScript's encodings;
//                       with EMBER_INTEROP_PEER=cs, DIR/CASE.cs.*: C#'s, tests/codegen/cs_interop)
//                       and compares them with its own messages field by field (operator==);
//                       decodes every body of bad_bodies.txt and checks the error it expects;
//                       checks the nesting limit at 64 and 65 structs deep.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "all_types.hpp"
#include "ember/codec/json_reader.hpp"

using namespace all_types;
using ember::codec::encoding;

namespace {

template <class T>
using lim = std::numeric_limits<T>;

std::vector<std::byte> B(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int x : v) out.push_back(static_cast<std::byte>(x));
  return out;
}

point P(std::int32_t x, std::int32_t y) {
  point p;
  p.x = x;
  p.y = y;
  return p;
}

tree T(std::string label, std::vector<tree> children = {}) {
  tree t;
  t.label = std::move(label);
  t.children = std::move(children);
  return t;
}

scalars scalars_max() {
  scalars s;
  s.b = true;
  s.i8v = 127;
  s.i16v = 32767;
  s.i32v = lim<std::int32_t>::max();
  s.i64v = lim<std::int64_t>::max();
  s.u8v = 255;
  s.u16v = 65535;
  s.u32v = lim<std::uint32_t>::max();
  s.u64v = lim<std::uint64_t>::max();
  s.f32v = lim<float>::max();
  s.f64v = lim<double>::max();
  s.s = "h\u00e9llo w\u00f6rld \u2713 \U0001F600 \u2028";
  for (int i = 0; i < 256; ++i) s.raw.push_back(static_cast<std::byte>(i));
  s.color = color::default_;
  s.at = P(-1, 1);
  s.last = lim<std::uint32_t>::max();
  return s;
}

lists lists_full() {
  lists l;
  l.bools = {true, false, true};
  l.i8s = {-128, 0, 127};
  l.i32s = {lim<std::int32_t>::min(), -1, 0, 1, lim<std::int32_t>::max()};
  l.i64s = {lim<std::int64_t>::min(), -1, 0, lim<std::int64_t>::max()};
  l.u8s = {0, 255};
  l.u16s = {3, 270, 65535};
  l.u64s = {0, 1, lim<std::uint64_t>::max()};
  l.f32s = {0.5f, -0.0f, lim<float>::max()};
  l.f64s = {0.1, -0.0, lim<double>::denorm_min(), 1e300};
  l.strings = {"a", "", "\u00fc\U0001F600"};
  l.blobs = {B({}), B({0, 255})};
  l.colors = {color::none, color::infrared, color::default_, static_cast<color>(42)};
  l.points = {P(0, 0), P(1, -1)};
  return l;
}

maps maps_full() {
  maps m;
  m.flags = {{"", false}, {"b", true}};
  m.counts = {{"a", -1}, {"z", lim<std::int64_t>::min()}};
  m.sizes = {{"x", 0}, {"y", lim<std::uint32_t>::max()}};
  m.ratios = {{"r", 0.25f}};
  m.weights = {{"w", -1.5}};
  // byte-wise UTF-8 order puts U+FFFF (ef bf bf) before U+1F600 (f0 ...); UTF-16 would not
  m.names = {{"\uffff", "last BMP"}, {"\U0001F600", "emoji"}, {"\u00e9", ""}, {"e", "plain"}};
  m.blobs = {{"k", B({1, 2, 3})}, {"empty", B({})}};
  m.colors = {{"c", color::infrared}, {"n", color::none}};
  m.places = {{"origin", P(0, 0)}, {"p", P(3, 4)}};
  return m;
}

optionals optionals_zero() {
  optionals o;
  o.b = false;
  o.i32v = 0;
  o.u64v = 0;
  o.f32v = 0.0f;
  o.f64v = 0.0;
  o.s = "";
  o.raw = B({});
  o.color = color::none;
  o.at = P(0, 0);
  return o;
}

optionals optionals_set() {
  optionals o;
  o.b = true;
  o.i32v = -7;
  o.u64v = lim<std::uint64_t>::max();
  o.f32v = 1.5f;
  o.f64v = -2.25;
  o.s = "x";
  o.raw = B({9});
  o.color = color::blue;
  o.at = P(5, 6);
  return o;
}

tree tree_deep() {
  return T("root", {T("a", {T("a1")}), T(""), T("b")});
}

item_v2 item_newer() {
  item_v2 i;
  i.id = 42;
  i.name = "sword";
  i.count = -3;
  i.weight = 2.5;
  i.ratio = 0.75f;
  i.tags = {"a", "b"};
  i.scores = {1, 2, 300};
  i.origin = P(1, 2);
  i.extra = {{"t", T("x")}};
  return i;
}

/// The other language: "ts" (TypeScript, the default) or "cs" (C#), from EMBER_INTEROP_PEER;
/// its files are CASE.<peer>.bin and CASE.<peer>.json.
std::string peer() {
  const char* p = std::getenv("EMBER_INTEROP_PEER");
  return p != nullptr && *p != '\0' ? p : "ts";
}

std::string peer_name() { return peer() == "cs" ? "C#" : peer() == "ts" ? "TypeScript" : peer(); }

/// One case: writes its encodings, or checks TypeScript's.
struct test_case {
  std::string name;
  std::function<void(const std::string& dir)> write;
  std::function<bool(const std::string& dir)> check;
};

std::string read_file(const std::string& path, bool& ok) {
  std::ifstream in(path, std::ios::binary);
  ok = static_cast<bool>(in);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out) {
    std::fprintf(stderr, "interop: cannot write %s\n", path.c_str());
    std::exit(2);
  }
}

template <class M>
std::string encoded(const M& m, encoding enc) {
  ember::buffer b;
  ember::codec::encode(b, m, enc);
  return std::string(b.str());
}

/// `value` written as NAME; TypeScript's NAME.ts.* read back as `Read` must equal `expected`.
/// With `by_bytes` (NaN inside: never == itself) the comparison is of the re-encoded bytes.
template <class Write, class Read>
test_case make_case(std::string name, Write value, Read expected, bool by_bytes = false) {
  test_case c;
  c.name = name;
  c.write = [name, value](const std::string& dir) {
    write_file(dir + "/" + name + ".bin", encoded(value, encoding::binary));
    write_file(dir + "/" + name + ".json", encoded(value, encoding::json));
  };
  c.check = [name, expected, by_bytes](const std::string& dir) {
    bool good = true;
    for (encoding enc : {encoding::binary, encoding::json}) {
      const std::string file = dir + "/" + name + "." + peer() + (enc == encoding::json ? ".json" : ".bin");
      bool ok = false;
      const std::string body = read_file(file, ok);
      if (!ok) {
        std::printf("FAIL %s: missing (%s did not write it)\n", file.c_str(), peer_name().c_str());
        good = false;
        continue;
      }
      Read got;
      if (auto ec = ember::codec::decode(ember::as_bytes(body), enc, got)) {
        std::printf("FAIL %s: C++ cannot decode %s's encoding: %s\n", file.c_str(),
                    peer_name().c_str(), ec.message().c_str());
        good = false;
        continue;
      }
      const bool same = by_bytes ? encoded(got, encoding::binary) == encoded(expected, encoding::binary)
                                 : got == expected;
      if (!same) {
        std::printf("FAIL %s: decodes to %s\n       expected %s\n", file.c_str(),
                    encoded(got, encoding::json).c_str(), encoded(expected, encoding::json).c_str());
        good = false;
      }
    }
    return good;
  };
  return c;
}

template <class M>
test_case make_case(std::string name, M value, bool by_bytes = false) {
  return make_case(std::move(name), value, value, by_bytes);
}

std::vector<test_case> cases() {
  std::vector<test_case> out;
  out.push_back(make_case("everything_default", everything{}));
  out.push_back(make_case("scalars_max", scalars_max()));
  {
    scalars s;
    s.i8v = -128;
    s.i16v = -32768;
    s.i32v = lim<std::int32_t>::min();
    s.i64v = lim<std::int64_t>::min();
    s.f32v = lim<float>::denorm_min();
    s.f64v = lim<double>::denorm_min();
    s.color = color::infrared;
    s.at = P(lim<std::int32_t>::min(), lim<std::int32_t>::max());
    s.last = 1;
    out.push_back(make_case("scalars_min", s));
  }
  {
    scalars s;
    s.f32v = 0.1f;
    s.f64v = 0.1;
    s.s = "\x01\n\t\"\\/\x7f\ufeff\r\b\f\x1f";
    s.color = static_cast<color>(42);
    s.u8v = 1;
    out.push_back(make_case("floats_and_escapes", s));
  }
  {
    scalars s;
    s.f32v = -0.0f;
    s.f64v = -0.0;
    s.i32v = -1;
    out.push_back(make_case("negative_zero", s));
  }
  const std::pair<float, double> floats[] = {
      {16777216.0f, 1e16}, {1e-5f, 123456789012345680000.0}, {1234567.0f, 1e-5},
      {0.0001f, 1e15},     {3.5f, -2.5e-300},                {100.0f, 0.0001},
  };
  int n = 0;
  for (const auto& [f, d] : floats) {
    scalars s;
    s.f32v = f;
    s.f64v = d;
    out.push_back(make_case("floats_" + std::to_string(++n), s));
  }
  out.push_back(make_case("lists_full", lists_full()));
  out.push_back(make_case("maps_full", maps_full()));
  out.push_back(make_case("optionals_zero", optionals_zero()));
  out.push_back(make_case("optionals_set", optionals_set()));
  {
    everything e;
    e.optionals.f32v = lim<float>::quiet_NaN();
    e.optionals.f64v = lim<double>::infinity();
    e.lists.f64s = {lim<double>::quiet_NaN(), lim<double>::infinity(), -lim<double>::infinity()};
    e.lists.f32s = {-lim<float>::infinity(), lim<float>::quiet_NaN()};
    out.push_back(make_case("nan_and_infinities", e, /*by_bytes=*/true));
  }
  out.push_back(make_case("tree_deep", tree_deep()));
  {
    everything e;
    e.scalars = scalars_max();
    e.lists = lists_full();
    e.maps = maps_full();
    e.optionals = optionals_set();
    e.tree = tree_deep();
    e.level = level::high;
    out.push_back(make_case("everything_full", e));
  }
  {
    echo_request r;
    r.payload.level = level::high;
    r.payload.scalars.s = "p";
    r.token = "secret";
    out.push_back(make_case("echo_request", r));
  }
  {
    event e;
    e.item = item_newer();
    e.at_ms = 1700000000000;
    out.push_back(make_case("event", e));
  }
  {
    stats_request r;
    r.levels = {level::high, level::low, level::high};
    out.push_back(make_case("stats_request", r));
    stats_reply p;
    p.sessions = 3;
    p.load = {{"cpu", 0.5}, {"mem", 0.25}};
    out.push_back(make_case("stats_reply", p));
  }
  {
    everything e;
    e.scalars.s = std::string(300, 'x');
    for (int i = 0; i < 3000; ++i) e.lists.points.push_back(P(i, -i));  // lists: a 3-byte length
    out.push_back(make_case("long", e));
  }
  {
    // a newer writer (item_v2) and an older reader (item_v1): the new fields are skipped
    item_v1 old;
    old.id = 42;
    old.name = "sword";
    out.push_back(make_case("item_newer_read_as_v1", item_newer(), old));
  }
  return out;
}

// --- bad bodies: bad_bodies.txt, shared with interop.ts

std::string errc_name(std::error_code ec) {
  if (!ec) return "ok";
  if (ec == ember::errc::truncated_body) return "truncated_body";
  if (ec == ember::errc::malformed_body) return "malformed_body";
  if (ec == ember::errc::wrong_wire_type) return "wrong_wire_type";
  if (ec == ember::errc::value_out_of_range) return "value_out_of_range";
  if (ec == ember::errc::nesting_too_deep) return "nesting_too_deep";
  return "other: " + ec.message();
}

std::string hex(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    char b[4];
    std::snprintf(b, sizeof b, "%02x", c);
    if (!out.empty()) out += ' ';
    out += b;
  }
  return out;
}

/// Decodes `body`; if it decodes and `reencoded` is given, sets it to the message encoded
/// again, binary (hex) and JSON: what the decoder made of the body.
template <class M>
std::error_code decode_as(std::string_view body, encoding enc, std::string* reencoded = nullptr) {
  M m;
  const auto ec = ember::codec::decode(ember::as_bytes(body), enc, m);
  if (!ec && reencoded != nullptr) {
    *reencoded = hex(encoded(m, encoding::binary)) + " | " + encoded(m, encoding::json);
  }
  return ec;
}

std::error_code decode_named(const std::string& message, std::string_view body, encoding enc,
                             std::string* reencoded = nullptr) {
  static const std::map<std::string, std::error_code (*)(std::string_view, encoding, std::string*)> decoders = {
      {"scalars", &decode_as<scalars>},       {"lists", &decode_as<lists>},
      {"maps", &decode_as<maps>},             {"optionals", &decode_as<optionals>},
      {"tree", &decode_as<tree>},             {"everything", &decode_as<everything>},
      {"item_v1", &decode_as<item_v1>},
  };
  const auto it = decoders.find(message);
  if (it == decoders.end()) {
    std::fprintf(stderr, "interop: bad_bodies.txt names an unknown message '%s'\n", message.c_str());
    std::exit(2);
  }
  return it->second(body, enc, reencoded);
}

std::string unhex(std::istream& in) {
  std::string out;
  std::string byte;
  while (in >> byte) out.push_back(static_cast<char>(std::stoi(byte, nullptr, 16)));
  return out;
}

/// For every body of bad_bodies.txt that decodes: what C++ made of it, encoded again (one line
/// each, in order), for interop.ts to compare with what TypeScript makes of the same body.
void write_accepted(const std::string& path, const std::string& out) {
  bool ok_file = false;
  std::istringstream lines(read_file(path, ok_file));
  std::string line, text;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    std::string message, enc, expect;
    in >> message >> enc >> expect;
    if (expect != "ok") continue;
    std::string body;
    if (enc == "binary" || enc == "json-hex") {
      body = unhex(in);
    } else {
      std::getline(in >> std::ws, body);
    }
    std::string again;
    decode_named(message, body, enc == "binary" ? encoding::binary : encoding::json, &again);
    text += again + "\n";
  }
  write_file(out, text);
}

bool check_bad_bodies(const std::string& path) {
  bool ok_file = false;
  const std::string text = read_file(path, ok_file);
  if (!ok_file) {
    std::printf("FAIL cannot read %s\n", path.c_str());
    return false;
  }
  std::istringstream lines(text);
  std::string line;
  bool good = true;
  int count = 0;
  int mismatches = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    std::string message, enc, expect;
    in >> message >> enc >> expect;
    std::string body;
    if (enc == "binary" || enc == "json-hex") {
      body = unhex(in);
    } else {
      std::getline(in >> std::ws, body);
    }
    const auto got = errc_name(decode_named(message, body, enc == "binary" ? encoding::binary
                                                                           : encoding::json));
    ++count;
    if (got != expect) {
      std::printf("FAIL bad body: %s\n       C++ says %s\n", line.c_str(), got.c_str());
      ++mismatches;
      good = false;
    }
  }
  std::printf("C++: %d/%d bodies of bad_bodies.txt decoded as it expects\n", count - mismatches,
              count);
  return good;
}

/// A tree nested `depth` structs below the top-level one, binary: 12 LEN (12 LEN (...)).
std::string nested_tree_binary(int depth) {
  std::string inner;
  for (int i = 0; i < depth; ++i) {
    ember::buffer b;
    ember::codec::binary_writer w(b);
    w.put_string(2, inner);  // same bytes as a struct field: key 0x12, length, body
    inner = std::string(b.str());
  }
  return inner;
}

std::string nested_tree_json(int depth) {
  std::string out;
  for (int i = 0; i < depth; ++i) out += "{\"children\":[";
  out += "{}";
  for (int i = 0; i < depth; ++i) out += "]}";
  return out;
}

bool check_nesting() {
  bool good = true;
  for (const auto& [depth, expect] : {std::pair{64, "ok"}, std::pair{65, "nesting_too_deep"}}) {
    const auto b = errc_name(decode_as<tree>(nested_tree_binary(depth), encoding::binary));
    const auto j = errc_name(decode_as<tree>(nested_tree_json(depth), encoding::json));
    if (b != expect || j != expect) {
      std::printf("FAIL tree nested %d deep: binary %s, JSON %s, expected %s\n", depth, b.c_str(),
                  j.c_str(), expect);
      good = false;
    }
  }
  return good;
}

/// The random messages interop.ts wrote (DIR/random.bin.rec, random.json.rec: records of a
/// 4-byte little-endian length and a body): each decodes, encodes again to the same bytes in its
/// encoding, and the binary and the JSON one decode to the same message.
bool check_random(const std::string& dir) {
  auto records = [&](const std::string& name, std::vector<std::string>& out) {
    bool ok = false;
    const std::string data = read_file(dir + "/" + name, ok);
    std::size_t at = 0;
    while (ok && at + 4 <= data.size()) {
      std::uint32_t n = 0;
      for (int i = 0; i < 4; ++i) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(data[at + i])) << (8 * i);
      if (at + 4 + n > data.size()) return false;
      out.push_back(data.substr(at + 4, n));
      at += 4 + n;
    }
    return ok && at == data.size();
  };
  std::vector<std::string> bin, json;
  if (!records("random.bin.rec", bin) || !records("random.json.rec", json) || bin.size() != json.size()) {
    std::printf("FAIL random messages: missing or torn record files\n");
    return false;
  }
  int bad = 0;
  for (std::size_t i = 0; i < bin.size(); ++i) {
    everything b, j;
    const auto eb = ember::codec::decode(ember::as_bytes(bin[i]), encoding::binary, b);
    const auto ej = ember::codec::decode(ember::as_bytes(json[i]), encoding::json, j);
    std::string why;
    if (eb || ej) {
      why = "does not decode: binary " + errc_name(eb) + ", JSON " + errc_name(ej);
    } else if (encoded(b, encoding::binary) != bin[i]) {
      why = "binary encoded again differs:\n   TS:  " + hex(bin[i]) + "\n   C++: " + hex(encoded(b, encoding::binary));
    } else if (encoded(j, encoding::json) != json[i]) {
      const std::string again = encoded(j, encoding::json);
      std::size_t k = 0;
      while (k < again.size() && k < json[i].size() && again[k] == json[i][k]) ++k;
      const std::size_t from = k > 60 ? k - 60 : 0;
      why = "JSON encoded again differs at byte " + std::to_string(k) + ":\n   TS:  ..." +
            json[i].substr(from, 100) + "\n   C++: ..." + again.substr(from, 100);
    } else if (encoded(j, encoding::binary) != bin[i]) {
      why = "the JSON decodes to another message than the binary";
    }
    if (!why.empty() && ++bad <= 5) std::printf("FAIL random message %zu: %s\n", i, why.c_str());
  }
  std::printf("C++: %zu/%zu random messages of %s decoded and encoded again to the same bytes\n",
              bin.size() - static_cast<std::size_t>(bad), bin.size(), peer_name().c_str());
  return bad == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || (std::string(argv[1]) != "write" && std::string(argv[1]) != "check")) {
    std::fprintf(stderr, "usage: interop write|check DIR BAD_BODIES\n");
    return 2;
  }
  const std::string mode = argv[1];
  const std::string dir = argv[2];
  const auto all = cases();
  if (mode == "write") {
    std::string names;
    for (const auto& c : all) {
      c.write(dir);
      names += c.name + "\n";
    }
    write_file(dir + "/cases.txt", names);
    if (argc > 3) write_accepted(argv[3], dir + "/accepted.txt");
    std::printf("C++: wrote %zu cases, binary and JSON\n", all.size());
    return 0;
  }
  bool good = true;
  int passed = 0;
  for (const auto& c : all) {
    if (c.check(dir)) {
      ++passed;
    } else {
      good = false;
    }
  }
  std::printf("C++: decoded %s's encodings of %d/%zu cases to the same messages\n",
              peer_name().c_str(), passed, all.size());
  if (argc > 3 && !check_bad_bodies(argv[3])) good = false;
  if (!check_nesting()) good = false;
  if (!check_random(dir)) good = false;
  return good ? 0 : 1;
}
