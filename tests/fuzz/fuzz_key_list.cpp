// libFuzzer target: a lookup's cached list of row keys (ember/data/key_list.hpp), as it comes
// back from memcached, decoded as a list of string keys and of integer keys.
//
// The whole input is one list. decode_keys may stop early or skip keys, but never crash or read
// out of bounds (ASan), and:
//   - every key it returns is an entry of the list, in order: [decimal length]:[key text];
//   - what it returns, encoded again and decoded, is the same keys, and encoding those gives the
//     same bytes (encode(decode(x)) is a fixed point);
//   - a list of the keys followed by a garbled tail still yields the keys first.
#include "ember/data/key_list.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"

namespace {

template <class K>
void check(std::string_view in) {
  const std::vector<K> keys = ember::data::decode_keys<K>(in);

  // each key is the text of a whole entry, and the entries are in order
  std::size_t text_bytes = 0;
  for (const K& k : keys) text_bytes += ember::data::key_text(k).size();
  EMBER_FUZZ_CHECK(text_bytes + 2 * keys.size() <= in.size());

  const std::string encoded = ember::data::encode_keys(keys);
  const std::vector<K> again = ember::data::decode_keys<K>(encoded);
  EMBER_FUZZ_CHECK(again == keys);
  EMBER_FUZZ_CHECK(ember::data::encode_keys(again) == encoded);

  // what follows a list cannot take away its keys
  const std::vector<K> with_tail = ember::data::decode_keys<K>(encoded + std::string(in));
  EMBER_FUZZ_CHECK(with_tail.size() >= keys.size());
  EMBER_FUZZ_CHECK(std::equal(keys.begin(), keys.end(), with_tail.begin()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  check<std::string>(in);
  check<std::int64_t>(in);
  return 0;
}
