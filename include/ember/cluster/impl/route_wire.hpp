// ember: bodies of the routing layer's message writer and reader (included by
// ember/cluster/route_wire.hpp).
#pragma once

#include "ember/cluster/route_wire.hpp"

namespace ember::cluster::route {

EMBER_DECL writer& writer::str(std::string_view s) {
  put(s.size(), 4);
  out_.append(s);
  return *this;
}

EMBER_DECL writer& writer::bytes(bytes_view b) {
  put(b.size(), 4);
  out_.append(b);
  return *this;
}

EMBER_DECL writer& writer::rest(bytes_view b) {
  out_.append(b);
  return *this;
}

EMBER_DECL writer& writer::put(std::uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) out_.push_back(std::byte(v >> (8 * i)));
  return *this;
}

EMBER_DECL std::string_view reader::str() {
  auto b = bytes();
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

EMBER_DECL bytes_view reader::bytes() {
  const auto n = get(4);
  if (!ok_ || n > in_.size()) {
    ok_ = false;
    return {};
  }
  auto b = in_.first(n);
  in_ = in_.subspan(n);
  return b;
}

EMBER_DECL std::uint64_t reader::get(std::size_t n) {
  if (!ok_ || in_.size() < n) {
    ok_ = false;
    return 0;
  }
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = (v << 8) | std::uint64_t(in_[i]);
  in_ = in_.subspan(n);
  return v;
}

EMBER_DECL void write_envelope(buffer& out, const envelope& e) {
  writer(out).u64(e.session).u64(e.user).u8(static_cast<std::uint8_t>(e.push_encoding));
}

EMBER_DECL std::optional<envelope> read_envelope(bytes_view body, bytes_view& client_body) {
  reader r(body);
  envelope e;
  e.session = r.u64();
  e.user = r.u64();
  const auto enc = r.u8();
  if (!r.ok() || enc > 1) return std::nullopt;
  e.push_encoding = static_cast<codec::encoding>(enc);
  client_body = r.rest();
  return e;
}

}  // namespace ember::cluster::route
