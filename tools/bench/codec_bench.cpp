// codec_bench: nanoseconds per encode and per decode of a few messages of
// schemas/test/all_types.toml, in the binary and the JSON encoding, through the code
// ember-codegen generates. Compare two builds of ember by running each one's codec_bench.
//
// usage: codec_bench [ROUNDS]   (default 1; every message runs ROUNDS times its own count)
// prints one line per message and operation: name, encoded size, ns/op (the fastest of 200
// runs of a two-hundredth of the count each).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "all_types.hpp"
#include "ember/codec/codec.hpp"
#include "ember/codec/json_reader.hpp"

namespace {

using namespace all_types;
using ember::codec::encoding;
using clock_type = std::chrono::steady_clock;

/// Keeps the optimizer from dropping the work whose result nobody reads.
volatile std::size_t sink = 0;

std::vector<std::byte> bytes(std::string_view s) {
  const auto v = ember::as_bytes(s);
  return {v.begin(), v.end()};
}

/// Every scalar type set, a nested point: the fixed-size fields.
scalars make_scalars() {
  scalars s;
  s.b = true;
  s.i8v = -100;
  s.i16v = 30000;
  s.i32v = -123456;
  s.i64v = 1234567890123;
  s.u8v = 200;
  s.u16v = 60000;
  s.u32v = 4000000000u;
  s.u64v = 98765432109876;
  s.f32v = 1.25f;
  s.f64v = 3.141592653589793;
  s.s = "hello";
  s.raw = bytes("\x01\x02\x03\x04");
  s.color = color::blue;
  s.at = point{-7, 9};
  s.last = 1;
  return s;
}

/// Mostly text: a name and sixteen tags.
item_v2 make_strings() {
  item_v2 v;
  v.id = 1234567;
  v.name = "a sword of considerable length, forged in the north";
  for (int i = 0; i < 16; ++i) v.tags.push_back("tag number " + std::to_string(i) + " of sixteen");
  v.scores = {1, 2, 3};
  return v;
}

/// Packed numbers, strings and structs: 32 elements in most lists.
lists make_lists() {
  lists l;
  for (int i = 0; i < 32; ++i) {
    l.bools.push_back(i % 3 == 0);
    l.i8s.push_back(static_cast<std::int8_t>(i - 16));
    l.i32s.push_back(i * 1000 - 5000);
    l.i64s.push_back(static_cast<std::int64_t>(i) * 100000000);
    l.u8s.push_back(static_cast<std::uint8_t>(i * 7));
    l.u16s.push_back(static_cast<std::uint16_t>(i * 2000));
    l.u64s.push_back(static_cast<std::uint64_t>(i) << 40);
    l.f32s.push_back(static_cast<float>(i) * 0.5f);
    l.f64s.push_back(static_cast<double>(i) / 3);
    l.colors.push_back(static_cast<color>(i % 4));
    l.points.push_back(point{i, -i});
  }
  for (int i = 0; i < 8; ++i) {
    l.strings.push_back("string " + std::to_string(i));
    l.blobs.push_back(bytes("blob"));
  }
  return l;
}

tree make_tree(int depth, int width) {
  tree t{"node " + std::to_string(depth), {}};
  if (depth > 0) {
    for (int i = 0; i < width; ++i) t.children.push_back(make_tree(depth - 1, width));
  }
  return t;
}

/// Structs in structs: every part of the schema, a tree of 15 nodes, maps and optionals.
everything make_nested() {
  everything e;
  e.scalars = make_scalars();
  e.lists.i32s = {1, 2, 3, 4, 5, 6, 7, 8};
  e.lists.strings = {"one", "two", "three"};
  e.lists.points = {point{1, 2}, point{3, 4}, point{5, 6}};
  e.maps.counts = {{"a", 1}, {"b", -2}, {"c", 3}};
  e.maps.names = {{"first", "ann"}, {"last", "lee"}};
  e.maps.places = {{"home", point{10, 20}}, {"work", point{30, 40}}};
  e.optionals.i32v = 7;
  e.optionals.s = "present";
  e.optionals.at = point{1, 1};
  e.tree = make_tree(3, 2);
  e.level = level::high;
  return e;
}

/// The work of one measurement is split into `chunks` equal runs, and the fastest run counts:
/// on a shared machine another process takes the CPU for whole milliseconds at a time, which
/// a run of well under a millisecond mostly escapes, and the minimum drops the runs it did not.
constexpr long chunks = 200;

/// ns per call of `op` over `n` calls: the fastest of `chunks` runs of n / chunks calls.
template <class Op>
double fastest_ns(long n, Op op) {
  const long per = n / chunks + 1;
  double best = std::numeric_limits<double>::infinity();
  for (long c = 0; c < chunks; ++c) {
    const auto t0 = clock_type::now();
    for (long i = 0; i < per; ++i) op();
    const std::chrono::duration<double, std::nano> took = clock_type::now() - t0;
    best = std::min(best, took.count() / static_cast<double>(per));
  }
  return best;
}

template <class T>
double ns_per_encode(const T& m, encoding enc, long n) {
  ember::buffer b;
  return fastest_ns(n, [&] {
    b.clear();
    ember::codec::encode(b, m, enc);
    sink = sink + b.size();
  });
}

template <class T>
double ns_per_decode(const T& m, encoding enc, long n) {
  ember::buffer b;
  ember::codec::encode(b, m, enc);
  T out;
  if (ember::codec::decode(b.view(), enc, out) || !(out == m)) {
    std::fputs("codec_bench: a message does not survive its encoding\n", stderr);
    std::exit(EXIT_FAILURE);
  }
  return fastest_ns(n, [&] {
    if (ember::codec::decode(b.view(), enc, out)) {
      std::fputs("codec_bench: a message failed to decode\n", stderr);
      std::exit(EXIT_FAILURE);
    }
    sink = sink + static_cast<std::size_t>(out == m);
  });
}

template <class T>
void run(const char* name, const T& m, long n) {
  for (const encoding enc : {encoding::binary, encoding::json}) {
    ember::buffer b;
    ember::codec::encode(b, m, enc);
    const char* what = enc == encoding::binary ? "binary" : "json";
    // one untimed round first, so that the timed ones find warm caches and grown buffers
    ns_per_encode(m, enc, n / 10 + 1);
    std::printf("%-9s %-6s encode %6zu B %9.1f ns/op\n", name, what, b.size(),
                ns_per_encode(m, enc, n));
    ns_per_decode(m, enc, n / 10 + 1);
    std::printf("%-9s %-6s decode %6zu B %9.1f ns/op\n", name, what, b.size(),
                ns_per_decode(m, enc, n));
  }
}

}  // namespace

int main(int argc, char** argv) {
  long rounds = 1;
  if (argc > 2 || (argc == 2 && (rounds = std::strtol(argv[1], nullptr, 10)) <= 0)) {
    std::fprintf(stderr, "usage: %s [ROUNDS]\n", argv[0]);
    return EXIT_FAILURE;
  }
  run("point", point{-150, 150}, 2'000'000 * rounds);
  run("scalars", make_scalars(), 500'000 * rounds);
  run("strings", make_strings(), 200'000 * rounds);
  run("lists", make_lists(), 50'000 * rounds);
  run("nested", make_nested(), 50'000 * rounds);
  return EXIT_SUCCESS;
}
