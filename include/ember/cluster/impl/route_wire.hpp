// ember: bodies of the route envelope's writer and reader (included by
// ember/cluster/route_wire.hpp).
#pragma once

#include "ember/cluster/route_wire.hpp"

namespace ember::cluster::route {

namespace detail {
inline void put_u64(std::byte* p, std::uint64_t v) noexcept {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = std::byte(v & 0xff);
}
inline std::uint64_t get_u64(const std::byte* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | std::uint64_t(p[i]);
  return v;
}
}  // namespace detail

EMBER_DECL void write_envelope(buffer& out, const envelope& e) {
  std::byte b[envelope::with_id_size];
  detail::put_u64(b, e.session);
  detail::put_u64(b + 8, e.user);
  auto byte16 = static_cast<std::uint8_t>(e.push_encoding);
  std::size_t n = envelope::size;
  if (e.request_id) {
    byte16 |= envelope::has_request_id;
    detail::put_u64(b + envelope::size, e.request_id);
    n = envelope::with_id_size;
  }
  b[16] = std::byte(byte16);
  out.append(bytes_view(b, n));
}

EMBER_DECL std::optional<envelope> read_envelope(bytes_view body, bytes_view& client_body) {
  if (body.size() < envelope::size) return std::nullopt;
  const auto byte16 = static_cast<std::uint8_t>(body[16]);
  const auto enc = byte16 & 0x01;
  if ((byte16 & ~(0x01 | envelope::has_request_id)) != 0) return std::nullopt;
  envelope e;
  e.session = detail::get_u64(body.data());
  e.user = detail::get_u64(body.data() + 8);
  e.push_encoding = static_cast<codec::encoding>(enc);
  std::size_t n = envelope::size;
  if (byte16 & envelope::has_request_id) {
    if (body.size() < envelope::with_id_size) return std::nullopt;
    e.request_id = detail::get_u64(body.data() + envelope::size);
    n = envelope::with_id_size;
  }
  client_body = body.subspan(n);
  return e;
}

}  // namespace ember::cluster::route
