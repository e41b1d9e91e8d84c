// ember: a client-facing server's budget for the bytes its sessions buffer (output queued for
// clients, input of frames not yet whole), and the watermarks at which it refuses new work and
// sheds the sessions holding the most (docs/operations.md, "Sizing the overload budget").
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

namespace ember::net {

/// The memory budget of a server's sessions, as Envoy's overload manager keeps one: every
/// session's write queue is bounded (`max_write_queue`), this bounds their sum.
struct overload_options {
  /// Bytes all sessions together may buffer: output queued for clients (and kept for a
  /// resume) plus input of frames not yet whole. 0: no budget (only the per-session bounds).
  std::size_t max_buffered_bytes = std::size_t{1} << 30;
  /// From this fraction of the budget up, new requests are answered `overloaded` without
  /// running and new connections are refused, until use falls to `low_watermark`.
  double high_watermark = 0.9;
  /// Past the budget itself, the sessions holding the most are closed until use is at or
  /// below this fraction of it.
  double low_watermark = 0.75;

  bool operator==(const overload_options&) const = default;
};

/// The account of buffered bytes of one server (one io thread: plain integers). Sessions
/// report what they hold when it changes; the account says when to refuse and when to shed.
class buffer_budget {
 public:
  explicit buffer_budget(const overload_options& o) noexcept
      : max_(o.max_buffered_bytes == 0 ? unlimited : o.max_buffered_bytes),
        high_(o.max_buffered_bytes == 0 ? unlimited : fraction(o.max_buffered_bytes, o.high_watermark)),
        low_(o.max_buffered_bytes == 0 ? unlimited : fraction(o.max_buffered_bytes, o.low_watermark)) {}

  /// A holder whose output was `held` bytes now holds `now` (`held` is updated).
  void set_output(std::size_t& held, std::size_t now) noexcept {
    output_ += now - held;  // modular arithmetic: a decrease wraps back exactly
    held = now;
    settle();
  }
  /// The same for input.
  void set_input(std::size_t& held, std::size_t now) noexcept {
    input_ += now - held;
    held = now;
    settle();
  }

  /// At or past the high watermark (and not yet back to the low one): refuse new work.
  bool refusing() const noexcept { return refusing_; }
  /// Past the budget: shed the biggest holders.
  bool over() const noexcept { return output_ + input_ > max_; }

  std::size_t in_use() const noexcept { return output_ + input_; }
  std::size_t output() const noexcept { return output_; }
  std::size_t input() const noexcept { return input_; }
  /// The most ever in use at once (tests, and sizing the budget).
  std::size_t peak() const noexcept { return peak_; }
  /// The budget; `std::numeric_limits<std::size_t>::max()` when there is none.
  std::size_t max() const noexcept { return max_; }
  std::size_t high() const noexcept { return high_; }
  std::size_t low() const noexcept { return low_; }
  bool limited() const noexcept { return max_ != unlimited; }

 private:
  static constexpr std::size_t unlimited = std::numeric_limits<std::size_t>::max();
  static std::size_t fraction(std::size_t n, double f) noexcept {
    return static_cast<std::size_t>(static_cast<double>(n) * f);
  }
  void settle() noexcept {
    const std::size_t used = output_ + input_;
    if (used > peak_) peak_ = used;
    if (refusing_) {
      if (used <= low_) refusing_ = false;
    } else if (used >= high_) {
      refusing_ = true;
    }
  }

  std::size_t max_;
  std::size_t high_;
  std::size_t low_;
  std::size_t output_ = 0;
  std::size_t input_ = 0;
  std::size_t peak_ = 0;
  bool refusing_ = false;
};

}  // namespace ember::net
