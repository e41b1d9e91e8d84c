// ember: how a lookup's list of row keys is stored in memcached (see `table<T>`): each key as
// its `key_text`, prefixed with that text's length in decimal and ':', e.g. "2:175:alice".
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ember/data/cache_entry.hpp"

namespace ember::data {

/// `keys` as a lookup list.
template <class K>
std::string encode_keys(const std::vector<K>& keys) {
  std::string out;
  for (const auto& k : keys) {
    const auto t = key_text(k);
    out += std::to_string(t.size());
    out += ':';
    out += t;
  }
  return out;
}

/// The keys of a lookup list made by `encode_keys`. The bytes come from memcached, so anything
/// is possible: decoding stops at the first entry whose length prefix is not one (or runs past
/// the end), and skips a key that `parse_key<K>` refuses.
template <class K>
std::vector<K> decode_keys(std::string_view s) {
  std::vector<K> out;
  while (!s.empty()) {
    const auto colon = s.find(':');
    const auto n = colon == std::string_view::npos ? std::nullopt : parse_key<std::size_t>(s.substr(0, colon));
    if (!n || *n > s.size() - colon - 1) break;
    if (auto k = parse_key<K>(s.substr(colon + 1, *n))) out.push_back(std::move(*k));
    s.remove_prefix(colon + 1 + *n);
  }
  return out;
}

}  // namespace ember::data
