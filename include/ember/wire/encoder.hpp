// ember: writing whole frames, native or Firefly, into an output buffer, with the body encoded
// in place after the header.
#pragma once

#include <cassert>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <system_error>

#include "ember/error.hpp"
#include "ember/buffer.hpp"
#include "ember/wire/frame.hpp"
#include "ember/wire/limits.hpp"

namespace ember::wire {

/// Where a native frame being encoded starts in its buffer; from `begin_frame`, for
/// `end_frame`. An offset rather than a pointer, so the buffer may grow in between.
struct frame_mark {
  std::size_t offset = 0;
};

/// Where a Firefly frame being encoded starts in its buffer; a type of its own so that
/// `end_frame` always patches the header its `begin_frame` wrote.
struct firefly_frame_mark {
  std::size_t offset = 0;
};

/// Appends a native header for a frame whose body the caller appends next; `h.length` is
/// ignored (`end_frame` writes it).
inline frame_mark begin_frame(buffer& out, const frame_header& h) {
  const frame_mark m{out.size()};
  write_header(out.prepare(native_header_size), h);
  out.commit(native_header_size);
  return m;
}

/// Appends a Firefly header carrying `command` for a frame whose body the caller appends next.
inline firefly_frame_mark begin_frame(buffer& out, const firefly_config& config,
                                      std::uint32_t command) {
  const firefly_frame_mark m{out.size()};
  write_firefly_header(out.prepare(firefly_header_size), config, command, 0);
  out.commit(firefly_header_size);
  return m;
}

/// Completes the native frame begun at `m`: its body is every byte appended since the header,
/// and its length is written now. A body longer than `max_body` is taken out again with its
/// header, leaving `out` as it was before `begin_frame`, and the result is
/// `errc::frame_too_large` (the peer would close the session on such a frame).
[[nodiscard]] inline std::error_code end_frame(buffer& out, frame_mark m,
                                               std::size_t max_body = default_max_body) noexcept {
  assert(out.size() >= m.offset + native_header_size);
  const std::size_t body = out.size() - m.offset - native_header_size;
  if (body > max_body || body > std::numeric_limits<std::uint32_t>::max()) {
    out.resize(m.offset);
    return errc::frame_too_large;
  }
  detail::put_u32(out.data() + m.offset, std::uint32_t(body));
  return {};
}

/// Completes the Firefly frame begun at `m`, as the native `end_frame` does; the length field
/// is the body's length plus 4.
[[nodiscard]] inline std::error_code end_frame(buffer& out, firefly_frame_mark m,
                                               std::size_t max_body = default_max_body) noexcept {
  assert(out.size() >= m.offset + firefly_header_size);
  const std::size_t body = out.size() - m.offset - firefly_header_size;
  if (body > max_body || body > std::numeric_limits<std::uint32_t>::max() - 4) {
    out.resize(m.offset);
    return errc::frame_too_large;
  }
  detail::put_u32(out.data() + m.offset + 9, std::uint32_t(body + 4));
  return {};
}

/// Writes a body by appending to the buffer it is given.
template <class F>
concept body_writer = std::invocable<F&, buffer&>;

namespace detail {
template <class Mark, class WriteBody>
std::error_code write_body_and_end(buffer& out, Mark m, WriteBody& write_body,
                                   std::size_t max_body) {
  try {
    write_body(out);
  } catch (...) {
    out.resize(m.offset);
    throw;
  }
  return end_frame(out, m, max_body);
}
}  // namespace detail

/// Appends a whole native frame whose body `write_body(out)` appends in place. If the body is
/// longer than `max_body` nothing stays appended and the result is `errc::frame_too_large`;
/// if `write_body` throws, `out` is put back as it was and the exception goes on.
template <body_writer WriteBody>
[[nodiscard]] std::error_code append_frame(buffer& out, const frame_header& head,
                                           WriteBody&& write_body,
                                           std::size_t max_body = default_max_body) {
  return detail::write_body_and_end(out, begin_frame(out, head), write_body, max_body);
}

/// Appends a whole Firefly frame carrying `command` whose body `write_body(out)` appends in
/// place; failures as for the native `append_frame`.
template <body_writer WriteBody>
[[nodiscard]] std::error_code append_frame(buffer& out, const firefly_config& config,
                                           std::uint32_t command, WriteBody&& write_body,
                                           std::size_t max_body = default_max_body) {
  return detail::write_body_and_end(out, begin_frame(out, config, command), write_body,
                                    max_body);
}

/// Appends a whole native frame with body `body`; a body longer than `max_body` appends
/// nothing and returns `errc::frame_too_large`.
[[nodiscard]] inline std::error_code append_frame(buffer& out, const frame_header& head,
                                                  bytes_view body,
                                                  std::size_t max_body = default_max_body) {
  if (body.size() > max_body) return errc::frame_too_large;
  const frame_mark m = begin_frame(out, head);
  out.append(body);
  return end_frame(out, m, max_body);
}

/// Appends a whole Firefly frame carrying `command` with body `body`; a body longer than
/// `max_body` appends nothing and returns `errc::frame_too_large`.
[[nodiscard]] inline std::error_code append_frame(buffer& out, const firefly_config& config,
                                                  std::uint32_t command, bytes_view body,
                                                  std::size_t max_body = default_max_body) {
  if (body.size() > max_body) return errc::frame_too_large;
  const firefly_frame_mark m = begin_frame(out, config, command);
  out.append(body);
  return end_frame(out, m, max_body);
}

}  // namespace ember::wire
