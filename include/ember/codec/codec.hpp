// ember: encoding and decoding message bodies, binary or JSON (PROTOCOL.md, "Body encodings").
//
//   ember::buffer out;
//   ember::codec::encode(out, chat::login_request{"ann", "secret"}, ember::codec::encoding::binary);
//   chat::login_request req;
//   if (auto ec = ember::codec::decode(out.view(), ember::codec::encoding::binary, req)) ...
//
// `encode` and `decode` dispatch by ADL to the functions ember-codegen generates for each
// message (`encode_binary`, `decode_binary`, `encode_json`, `decode_json`), which pass the
// message and its table to the table-driven codec (`table.hpp`). This header keeps simdjson
// out: JSON reading lives in the generated .cpp files and in `json_reader.hpp`.
#pragma once

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include "ember/codec/binary.hpp"
#include "ember/codec/json_writer.hpp"
#include "ember/error.hpp"
#include "ember/buffer.hpp"

namespace ember::codec {

/// How a body is encoded; the native frame says which in its flags (PROTOCOL.md).
enum class encoding : std::uint8_t {
  binary = 0,  ///< protobuf-compatible fields
  json = 1,    ///< one JSON object keyed by field name
};

/// The text of a JSON body, as the generated `decode_json` overloads take it.
struct json_text {
  std::string_view text;
};

namespace table {
/// The description of a message that the table-driven codecs walk (`ember/codec/table.hpp`);
/// generated headers only name it.
struct message;
}  // namespace table

/// Appends `msg` to `out` in the encoding `enc`.
template <class T>
void encode(buffer& out, const T& msg, encoding enc) {
  if (enc == encoding::json) {
    json_writer w(out);
    encode_json(w, msg);
  } else {
    binary_writer w(out);
    encode_binary(w, msg);
  }
}

/// Replaces `msg` with the message in `in`. Returns an `ember::errc` on bad input:
/// `malformed_body`, `truncated_body`, `wrong_wire_type`, `value_out_of_range` or
/// `nesting_too_deep`; `msg` then holds a partly decoded value.
template <class T>
std::error_code decode(bytes_view in, encoding enc, T& msg) {
  msg = T{};
  if (enc == encoding::json) {
    return decode_json(
        json_text{std::string_view(reinterpret_cast<const char*>(in.data()), in.size())}, msg);
  }
  if (enc != encoding::binary) return errc::malformed_body;
  binary_reader r(in);
  return decode_binary(r, msg);
}

/// The body of an error frame: the status (`ember::status`, or a schema's game error code)
/// and a human-readable message. Binary: status is tag 1 (varint), message tag 2 (string).
struct error_body {
  std::uint16_t status = 0;
  std::string message;

  bool operator==(const error_body&) const = default;
};

inline void encode_binary(binary_writer& w, const error_body& m) {
  w.field_uint(1, m.status);
  w.field_string(2, m.message);
}

inline std::error_code decode_binary(binary_reader& r, error_body& m) {
  while (!r.at_end()) {
    std::uint32_t tag = 0;
    wire_type wt{};
    if (auto ec = r.read_key(tag, wt)) return ec;
    std::error_code ec;
    switch (tag) {
      case 1: ec = r.get_uint(wt, m.status); break;
      case 2: ec = r.get_string(wt, m.message); break;
      default: ec = r.skip(wt); break;
    }
    if (ec) return ec;
  }
  return {};
}

inline void encode_json(json_writer& w, const error_body& m) {
  w.begin_object();
  w.key("status");
  w.value_uint(m.status);
  w.key("message");
  w.value_string(m.message);
  w.end_object();
}

namespace detail {
/// Completed by `ember/codec/json_reader.hpp`, which brings simdjson.
template <class Text>
struct json_support;
template <class>
inline constexpr bool dependent_false = false;
}  // namespace detail

/// Decodes an error body from JSON. Its parser is simdjson, which only
/// `ember/codec/json_reader.hpp` includes: a file that decodes error bodies must include it.
template <class Text>
  requires std::same_as<Text, json_text>
std::error_code decode_json(Text in, error_body& m) {
  if constexpr (requires { detail::json_support<Text>::decode_error_body; }) {
    return detail::json_support<Text>::decode_error_body(in, m);
  } else {
    static_assert(detail::dependent_false<Text>,
                  "decoding ember::codec::error_body from JSON needs simdjson: "
                  "#include \"ember/codec/json_reader.hpp\" in this file");
    return {};
  }
}

}  // namespace ember::codec
