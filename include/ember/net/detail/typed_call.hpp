// ember: typed calls over a type-erased one, shared by the client and links. Light on purpose:
// ember/net/client.hpp includes it, and a call instantiates it once per command.
#pragma once

#include <optional>
#include <system_error>
#include <utility>

#include <asio/awaitable.hpp>

#include "ember/codec/codec.hpp"
#include "ember/outcome.hpp"
#include "ember/buffer.hpp"

namespace ember::net::detail {

/// Decodes a reply body into the caller's typed reply.
using decode_fn = std::error_code (*)(bytes_view, codec::encoding, void* out);

/// Decodes into a `std::optional<Reply>`.
template <class Reply>
std::error_code decode_into(bytes_view body, codec::encoding enc, void* out) {
  auto& reply = *static_cast<std::optional<Reply>*>(out);
  reply.emplace();
  return codec::decode(body, enc, *reply);
}

/// Turns a type-erased call, `erased(decode_fn, void* out) -> awaitable<failure>`, into a
/// typed one.
template <class Reply, class ErasedCall>
asio::awaitable<outcome<Reply>> typed_call(ErasedCall erased) {
  std::optional<Reply> reply;
  failure f = co_await erased(&decode_into<Reply>, &reply);
  if (f.code) co_return f;
  co_return std::move(*reply);
}

/// A decode_fn that keeps the reply body as bytes in a `buffer` (raw calls, for tools).
inline std::error_code keep_raw_reply(bytes_view body, codec::encoding, void* out) {
  static_cast<buffer*>(out)->append(body);
  return {};
}

}  // namespace ember::net::detail
