// ember: a log-linear histogram (HdrHistogram-style) for latencies: fixed memory, under 1.6 %
// relative error, any number of samples, mergeable. ember-bench measures with it, and a
// server's `command_stats` keeps one per command.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>

namespace ember::detail {

/// Values (e.g. nanoseconds) bucketed by power of two, then in 2^(SubBits-1) linear
/// sub-buckets each: a value is reported as its bucket's upper edge, at most 1/2^(SubBits-1)
/// above it (1.6 % with 7). Values of 2^ValueBits and more are counted in the top bucket
/// (`max()` stays exact). Memory: 8 bytes × ((ValueBits - SubBits + 3) × 2^(SubBits-1)); 30 KiB
/// for the defaults, 18 KiB for `<7, 40>` (nanoseconds up to 18 minutes). Recording is a few
/// instructions and never allocates.
template <int SubBits = 7, int ValueBits = 64>
class log_linear_histogram {
  static_assert(SubBits >= 2 && SubBits < ValueBits && ValueBits <= 64);

 public:
  static constexpr int sub_bits = SubBits;
  static constexpr int sub_count = 1 << sub_bits;
  static constexpr int magnitudes = ValueBits - sub_bits;
  /// The largest value told apart from larger ones.
  static constexpr std::uint64_t largest =
      ValueBits == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << (ValueBits % 64)) - 1;

  void record(std::uint64_t v) noexcept {
    ++counts_[index_of(v < largest ? v : largest)];
    ++total_;
    sum_ += v;
    if (v > max_) max_ = v;
  }
  void merge(const log_linear_histogram& o) noexcept {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    sum_ += o.sum_;
    if (o.max_ > max_) max_ = o.max_;
  }
  void reset() noexcept {
    counts_.fill(0);
    total_ = sum_ = max_ = 0;
  }
  std::uint64_t count() const noexcept { return total_; }
  /// The sum of every recorded value, exact (wraps past 2^64: 584 years of nanoseconds).
  std::uint64_t sum() const noexcept { return sum_; }
  std::uint64_t max() const noexcept { return max_; }

  /// For each of the ascending `bounds`, how many samples are at most that bound, written to
  /// the same index of `out` (one pass; `out` as long as `bounds`). A sample in the bucket that
  /// holds a bound counts as at most it: the count may include values a bucket's width (1.6 % with
  /// 7 sub-bits) above the bound, and never misses one below it. Prometheus histograms (`le` buckets) are made from this.
  void cumulative_counts(std::span<const std::uint64_t> bounds,
                         std::span<std::uint64_t> out) const noexcept {
    std::uint64_t seen = 0;
    std::size_t i = 0;
    for (std::size_t b = 0; b < bounds.size() && b < out.size(); ++b) {
      const auto last = index_of(bounds[b] < largest ? bounds[b] : largest);
      for (; i <= last && i < counts_.size(); ++i) seen += counts_[i];
      out[b] = seen;
    }
  }

  /// The smallest recorded value v such that `q` of all samples are <= v (upper bucket edge;
  /// `max()` when that is lower, or when v is in the top bucket).
  std::uint64_t quantile(double q) const noexcept {
    if (total_ == 0) return 0;
    auto want = static_cast<std::uint64_t>(q * static_cast<double>(total_) + 0.5);
    if (want == 0) want = 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= want) {
        std::uint64_t upper = upper_edge(i);
        return upper < max_ && upper < largest ? upper : max_;
      }
    }
    return max_;
  }

 private:
  static std::size_t index_of(std::uint64_t v) noexcept {
    if (v < sub_count) return static_cast<std::size_t>(v);
    int magnitude = 63 - std::countl_zero(v) - (sub_bits - 1);  // >= 1
    auto sub = static_cast<std::size_t>(v >> magnitude) - sub_count / 2;
    return static_cast<std::size_t>(magnitude) * (sub_count / 2) + sub_count / 2 + sub;
  }
  static std::uint64_t upper_edge(std::size_t i) noexcept {
    if (i < sub_count) return i;
    std::size_t magnitude = (i - sub_count / 2) / (sub_count / 2);
    std::size_t sub = (i - sub_count / 2) % (sub_count / 2) + sub_count / 2;
    return ((static_cast<std::uint64_t>(sub) + 1) << magnitude) - 1;
  }

  std::array<std::uint64_t, (magnitudes + 1) * (sub_count / 2) + sub_count> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t max_ = 0;
};

/// The default: any 64-bit value, 30 KiB.
using histogram = log_linear_histogram<>;

}  // namespace ember::detail
