// ember: one string field of an encoded message, read without the message's type. A gateway
// routes a request by a field it names (a leaderboard's board, a matchmaking mode) without
// the code generated for it, so what it keeps survives a reload of a module.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ember/buffer.hpp"
#include "ember/codec/binary.hpp"
#include "ember/codec/codec.hpp"
#include "ember/codec/json_reader.hpp"

namespace ember::codec {

/// The string field `tag` (binary) or `name` (JSON) of the message in `body`; nullopt when
/// the body is malformed or has no such string (the handler then refuses it as it would).
inline std::optional<std::string> string_field(bytes_view body, encoding enc, std::uint32_t tag,
                                               std::string_view name) {
  if (enc == encoding::json) {
    json::element root;
    if (json::parse_object(json_text{std::string_view(reinterpret_cast<const char*>(body.data()), body.size())},
                           root))
      return std::nullopt;
    std::string_view v;
    if (root[name].get(v) != simdjson::SUCCESS) return std::nullopt;
    return std::string(v);
  }
  if (enc != encoding::binary) return std::nullopt;
  binary_reader r(body);
  while (!r.at_end()) {
    std::uint32_t t = 0;
    wire_type wt{};
    if (r.read_key(t, wt)) return std::nullopt;
    if (t == tag) {
      std::string out;
      if (r.get_string(wt, out)) return std::nullopt;
      return out;
    }
    if (r.skip(wt)) return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace ember::codec
