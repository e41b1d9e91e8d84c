// Fuzz support: the round trip every decoded message must survive (fuzz_generated_decoders,
// fuzz_module_decoders). A decode may fail, but never crash or read out of bounds (ASan), and
// what it accepts must survive re-encoding:
//   binary: encode, decode again: the same message, and the same bytes when encoded again
//           (the encoding is canonical); its JSON form decodes back to the same message;
//   JSON:   re-encoded as JSON and as binary, both decode back to the same message.
// Messages holding a NaN are compared by their binary encoding instead (NaN != NaN).
#pragma once

#include <tuple>

#include "ember/codec/codec.hpp"
#include "ember/codec/json_reader.hpp"
#include "fuzz_support.hpp"

namespace ember_fuzz {

using ember::buffer;
using ember::codec::encoding;

template <class T>
buffer encoded(const T& m, encoding enc) {
  buffer b;
  ember::codec::encode(b, m, enc);
  return b;
}

/// a == b, or for messages holding a NaN (a != a) the same binary encoding.
template <class T>
bool same(const T& a, const T& b) {
  if (a == a) return a == b;
  return encoded(a, encoding::binary).str() == encoded(b, encoding::binary).str();
}

/// Same, but a NaN may lose its payload bits in JSON (which writes every NaN as "NaN").
template <class T>
bool same_but_nan_payloads(const T& a, const T& b) {
  return a == a ? a == b : !(b == b);
}

template <class T>
void check_binary(ember::bytes_view in) {
  T first;
  if (ember::codec::decode(in, encoding::binary, first)) return;
  const buffer bytes = encoded(first, encoding::binary);
  T second;
  EMBER_FUZZ_CHECK(!ember::codec::decode(bytes.view(), encoding::binary, second));
  EMBER_FUZZ_CHECK(same(first, second));
  EMBER_FUZZ_CHECK(encoded(second, encoding::binary).str() == bytes.str());

  const buffer text = encoded(first, encoding::json);
  T from_json;
  EMBER_FUZZ_CHECK(!ember::codec::decode(text.view(), encoding::json, from_json));
  EMBER_FUZZ_CHECK(same_but_nan_payloads(first, from_json));
}

template <class T>
void check_json(ember::bytes_view in) {
  T first;
  if (ember::codec::decode(in, encoding::json, first)) return;
  const buffer text = encoded(first, encoding::json);
  T again;
  EMBER_FUZZ_CHECK(!ember::codec::decode(text.view(), encoding::json, again));
  EMBER_FUZZ_CHECK(same_but_nan_payloads(first, again));
  const buffer bytes = encoded(first, encoding::binary);
  T from_binary;
  EMBER_FUZZ_CHECK(!ember::codec::decode(bytes.view(), encoding::binary, from_binary));
  EMBER_FUZZ_CHECK(same(first, from_binary));
}

template <class... T>
void check_all(ember::bytes_view in) {
  (check_binary<T>(in), ...);
  (check_json<T>(in), ...);
}


/// check_all over the types of a std::tuple (a schema's `message_types`).
template <class Tuple>
struct check_tuple;
template <class... T>
struct check_tuple<std::tuple<T...>> {
  static void run(ember::bytes_view in) { check_all<T...>(in); }
};

}  // namespace ember_fuzz
