// ember: what a draining client-facing server hands over of one session to the server that
// takes it (PROTOCOL.md §3, "Moving to another server"): a fixed big-endian layout (internal).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ember/buffer.hpp"
#include "ember/wire/frame.hpp"

namespace ember::net::detail {

/// One session's state, as it leaves its old server: everything a resume needs (the
/// numbering, the frames the client has not acknowledged) and what handlers set on it.
struct handed_session {
  static constexpr std::uint8_t layout = 1;  ///< byte 0: the layout's version
  /// Bounds a reader checks, so a peer's bytes cannot make it allocate without limit.
  static constexpr std::size_t max_groups = 4096, max_attributes = 1024;

  std::uint8_t push_encoding = 0;
  std::uint64_t session_id = 0;        ///< its id on the server it leaves
  std::uint64_t user = 0;
  std::uint32_t push_seq = 0;          ///< pushes numbered so far
  std::uint32_t last_request_seq = 0;  ///< highest request seq received
  std::uint32_t outbox_acked = 0;      ///< frames the client acknowledged (dropped)
  std::uint32_t outbox_sent = 0;       ///< frames sent so far
  buffer outbox;                       ///< the frames after the acknowledged ones, whole
  std::vector<std::string> groups;
  std::vector<std::pair<std::string, std::string>> attributes;

  void encode(buffer& out) const {
    auto u8 = [&](std::uint8_t v) { out.append(bytes_view(reinterpret_cast<const std::byte*>(&v), 1)); };
    auto u16 = [&](std::uint16_t v) { wire::detail::put_u16(out.prepare(2), v); out.commit(2); };
    auto u32 = [&](std::uint32_t v) { wire::detail::put_u32(out.prepare(4), v); out.commit(4); };
    auto u64 = [&](std::uint64_t v) { wire::detail::put_u64(out.prepare(8), v); out.commit(8); };
    auto text = [&](std::string_view s) {
      u32(static_cast<std::uint32_t>(s.size()));
      out.append(bytes_view(reinterpret_cast<const std::byte*>(s.data()), s.size()));
    };
    u8(layout);
    u8(push_encoding);
    u64(session_id);
    u64(user);
    u32(push_seq);
    u32(last_request_seq);
    u32(outbox_acked);
    u32(outbox_sent);
    u16(static_cast<std::uint16_t>(groups.size()));
    for (const auto& g : groups) text(g);
    u16(static_cast<std::uint16_t>(attributes.size()));
    for (const auto& [k, v] : attributes) {
      text(k);
      text(v);
    }
    u32(static_cast<std::uint32_t>(outbox.size()));
    out.append(outbox.view());
  }

  /// nullopt when `b` is not a whole state of this layout (short, or past a bound).
  static std::optional<handed_session> decode(bytes_view b) {
    std::size_t at = 0;
    bool ok = true;
    auto need = [&](std::size_t n) { return ok = ok && b.size() - at >= n; };
    auto u8 = [&]() -> std::uint8_t { return need(1) ? std::uint8_t(b[at++]) : 0; };
    auto u16 = [&]() -> std::uint16_t {
      if (!need(2)) return 0;
      at += 2;
      return wire::detail::get_u16(b.data() + at - 2);
    };
    auto u32 = [&]() -> std::uint32_t {
      if (!need(4)) return 0;
      at += 4;
      return wire::detail::get_u32(b.data() + at - 4);
    };
    auto u64 = [&]() -> std::uint64_t {
      if (!need(8)) return 0;
      at += 8;
      return wire::detail::get_u64(b.data() + at - 8);
    };
    auto text = [&]() -> std::string {
      const std::uint32_t n = u32();
      if (!need(n)) return {};
      at += n;
      return std::string(reinterpret_cast<const char*>(b.data() + at - n), n);
    };
    handed_session s;
    if (u8() != layout) return std::nullopt;
    s.push_encoding = u8();
    s.session_id = u64();
    s.user = u64();
    s.push_seq = u32();
    s.last_request_seq = u32();
    s.outbox_acked = u32();
    s.outbox_sent = u32();
    const std::uint16_t groups = u16();
    if (groups > max_groups) return std::nullopt;
    for (std::uint16_t i = 0; ok && i < groups; ++i) s.groups.push_back(text());
    const std::uint16_t attributes = u16();
    if (attributes > max_attributes) return std::nullopt;
    for (std::uint16_t i = 0; ok && i < attributes; ++i) {
      std::string k = text();
      s.attributes.emplace_back(std::move(k), text());
    }
    const std::uint32_t frames = u32();
    if (!need(frames)) return std::nullopt;
    s.outbox.append(bytes_view(b.data() + at, frames));
    at += frames;
    if (!ok || at != b.size() || s.push_encoding > 1 || s.outbox_acked > s.outbox_sent)
      return std::nullopt;
    // The frames must be whole native frames, as many as sent and not acknowledged.
    std::uint32_t count = 0;
    for (std::size_t f = 0; f < s.outbox.size(); ++count) {
      if (s.outbox.size() - f < wire::native_header_size) return std::nullopt;
      const std::size_t n = wire::native_header_size + wire::detail::get_u32(s.outbox.data() + f);
      if (s.outbox.size() - f < n) return std::nullopt;
      f += n;
    }
    if (count != s.outbox_sent - s.outbox_acked) return std::nullopt;
    return s;
  }
};

}  // namespace ember::net::detail
