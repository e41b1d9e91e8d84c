// ember-bench: a log-linear latency histogram (HdrHistogram-style): fixed memory (30 KiB),
// under 1.6 % relative error, any number of samples, mergeable.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace ember::bench {

/// Latencies in nanoseconds, bucketed by power of two and then 64 linear sub-buckets each.
class histogram {
 public:
  static constexpr int sub_bits = 7;
  static constexpr int sub_count = 1 << sub_bits;
  static constexpr int magnitudes = 64 - sub_bits;

  void record(std::uint64_t ns) noexcept {
    ++counts_[index_of(ns)];
    ++total_;
    if (ns > max_) max_ = ns;
  }
  void merge(const histogram& o) noexcept {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    if (o.max_ > max_) max_ = o.max_;
  }
  std::uint64_t count() const noexcept { return total_; }
  std::uint64_t max() const noexcept { return max_; }

  /// The smallest recorded value v such that `q` of all samples are <= v (upper bucket edge).
  std::uint64_t quantile(double q) const noexcept {
    if (total_ == 0) return 0;
    auto want = static_cast<std::uint64_t>(q * static_cast<double>(total_) + 0.5);
    if (want == 0) want = 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= want) {
        std::uint64_t upper = upper_edge(i);
        return upper < max_ ? upper : max_;
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
  std::uint64_t max_ = 0;
};

}  // namespace ember::bench
