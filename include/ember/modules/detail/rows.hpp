// ember: what the gameplay modules do alike with their rows — insert a row that another
// process may have inserted first, and keep a schema message (an operation's first result,
// returned to its retries) in a bytes column.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "ember/buffer.hpp"
#include "ember/codec/codec.hpp"
#include "ember/data/error.hpp"
#include "ember/data/table.hpp"

namespace ember::modules::detail {

/// Inserts `r` unless a row with its key exists (someone else inserted it: fine).
template <class T>
asio::awaitable<void> insert_if_absent(data::table<T>& rows, typename T::row r) {
  try {
    co_await rows.insert(std::move(r));
  } catch (const data::data_error& e) {
    if (e.code() != data::data_errc::constraint) throw;
  }
}

/// `rows.insert_at(r)`, where a row with that key may exist already (then it is left as it is).
template <class T>
asio::awaitable<void> insert_if_absent_at(data::table<T>& rows, typename T::row r) {
  try {
    co_await rows.insert_at(std::move(r));
  } catch (const data::data_error& e) {
    if (e.code() != data::data_errc::constraint) throw;
  }
}

/// `m` in the binary encoding, for a bytes column.
template <class Message>
std::vector<std::byte> to_bytes(const Message& m) {
  buffer out;
  codec::encode(out, m, codec::encoding::binary);
  const auto v = out.view();
  return {v.begin(), v.end()};
}

/// The message `to_bytes` stored; throws naming `what` ("wallet: a stored operation result")
/// if the bytes do not decode.
template <class Message>
Message from_bytes(const std::vector<std::byte>& bytes, std::string_view what) {
  Message m{};
  if (auto ec = codec::decode(bytes_view(bytes.data(), bytes.size()), codec::encoding::binary, m))
    throw std::runtime_error(std::string(what) + " does not decode: " + ec.message());
  return m;
}

}  // namespace ember::modules::detail
