// ember: per-command figures of one server — requests, failures, latency percentiles — as the
// master's admin API shows them (`admin_link::status_json`, "commands"). The transports record
// each request when its reply or error is queued (see `count_request` in dispatch.hpp).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ember/codec/json_writer.hpp"
#include "ember/command_info.hpp"
#include "ember/detail/histogram.hpp"

namespace ember::net {

/// Requests, failures and a latency histogram per command id, for one server (one thread, no
/// locks). A request's latency runs from its dispatch (it arrived and its command was found)
/// to its reply or error being queued, so it includes the wait behind a session's earlier
/// ordered requests. Recording is a hash lookup, two increments and a histogram bucket; the
/// first request of a command makes its entry (about 18 KiB, nearly all histogram).
class command_stats {
 public:
  using clock = std::chrono::steady_clock;
  /// Nanoseconds, up to 2^40 (18 minutes; longer counts as that), within 1.6 %.
  using histogram = ember::detail::log_linear_histogram<7, 40>;

  /// One command's figures.
  struct entry {
    std::uint64_t count = 0;   ///< requests answered (replied or failed)
    std::uint64_t failed = 0;  ///< of those, answered with an error (any status)
    histogram latency;         ///< nanoseconds from dispatch to the reply being queued
  };

  /// One command's figures as reported, latencies in microseconds (to the nearest, at least 1
  /// when not 0).
  struct summary {
    std::uint16_t id = 0;
    std::uint64_t count = 0, failed = 0;
    std::uint64_t p50_us = 0, p90_us = 0, p99_us = 0, max_us = 0;
  };

  /// Counts one request of `command` that took `took` and failed or not.
  void record(std::uint16_t command, clock::duration took, bool failed) {
    entry& e = entries_[command];
    ++e.count;
    e.failed += failed ? 1 : 0;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(took).count();
    e.latency.record(ns > 0 ? static_cast<std::uint64_t>(ns) : 0);
  }

  /// The figures of `command`, or null when none of its requests was counted yet.
  const entry* find(std::uint16_t command) const noexcept {
    auto it = entries_.find(command);
    return it == entries_.end() ? nullptr : &it->second;
  }
  /// Commands counted so far.
  std::size_t size() const noexcept { return entries_.size(); }
  void clear() noexcept { entries_.clear(); }

  /// Every counted command's figures, by id.
  std::vector<summary> summaries() const {
    std::vector<summary> out;
    out.reserve(entries_.size());
    auto us = [](std::uint64_t ns) { return ns == 0 ? 0 : ns < 1000 ? 1 : (ns + 500) / 1000; };
    for (const auto& [id, e] : entries_) {
      out.push_back(summary{id, e.count, e.failed, us(e.latency.quantile(0.5)),
                            us(e.latency.quantile(0.9)), us(e.latency.quantile(0.99)),
                            us(e.latency.max())});
    }
    std::sort(out.begin(), out.end(), [](const summary& a, const summary& b) { return a.id < b.id; });
    return out;
  }

  /// Writes the figures as a JSON array of {id, name, forwarded, count, failed, p50_us, p90_us,
  /// p99_us, max_us}, by id. `names` (the schema's `command_list`) gives each its name (null
  /// when it is not listed). `gateway_type`, this server's type when it is a gateway (empty
  /// otherwise), marks as forwarded the commands other types serve: a gateway counts those
  /// from the client's request to the backend's reply being queued for the client.
  void write_json(codec::json_writer& w, std::span<const command_info> names = {},
                  std::string_view gateway_type = {}) const {
    w.begin_array();
    for (const auto& s : summaries()) {
      const command_info* info = nullptr;
      for (const auto& c : names)
        if (c.id == s.id) info = &c;
      w.begin_object();
      w.key("id"), w.value_uint(s.id);
      w.key("name");
      if (info)
        w.value_string(info->name);
      else
        w.value_null();
      const bool forwarded =
          info && !info->internal && !gateway_type.empty() && info->server != gateway_type;
      w.key("forwarded"), w.value_bool(forwarded);
      w.key("count"), w.value_uint(s.count);
      w.key("failed"), w.value_uint(s.failed);
      w.key("p50_us"), w.value_uint(s.p50_us);
      w.key("p90_us"), w.value_uint(s.p90_us);
      w.key("p99_us"), w.value_uint(s.p99_us);
      w.key("max_us"), w.value_uint(s.max_us);
      w.end_object();
    }
    w.end_array();
  }

 private:
  std::unordered_map<std::uint16_t, entry> entries_;
};

}  // namespace ember::net
