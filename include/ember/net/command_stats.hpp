// ember: per-command figures of one server — requests, failures, latency percentiles — as the
// master's admin API shows them (`admin_link::status_json`, "commands") and as Prometheus
// scrapes them (`write_prometheus`, on the server's `metricsport`). The transports record
// each request when its reply or error is queued (see `count_request` in dispatch.hpp).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ember/codec/json_writer.hpp"
#include "ember/command_info.hpp"
#include "ember/detail/histogram.hpp"
#include "ember/detail/prometheus.hpp"

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

  /// The `le` bounds of the latency histograms a scrape gets, in seconds (100 µs to 10 s): a
  /// fixed, small set read off each command's log-linear histogram when scraped.
  static constexpr double latency_bounds_s[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                                1,      2.5,     5,      10};

  /// Writes the figures as Prometheus metric families (ember/detail/prometheus.hpp):
  /// `ember_requests_total`, `ember_request_failures_total` (counters) and
  /// `ember_request_duration_seconds` (a histogram), each labelled `command` with the
  /// command's schema name (`names`; "id_N" when it is not listed), so the label's values are
  /// bounded by the schema. Commands a gateway forwards (see `write_json`) are counted the
  /// same way, from the client's request to the backend's reply being queued.
  void write_prometheus(ember::detail::prometheus_writer& w,
                        std::span<const command_info> names = {}) const {
    struct row {
      std::uint16_t id;
      std::string name;
      const entry* e;
    };
    std::vector<row> rows;
    rows.reserve(entries_.size());
    for (const auto& [id, e] : entries_) {
      std::string name = "id_" + std::to_string(id);
      for (const auto& c : names)
        if (c.id == id) name = std::string(c.name);
      rows.push_back(row{id, std::move(name), &e});
    }
    std::sort(rows.begin(), rows.end(), [](const row& a, const row& b) { return a.id < b.id; });
    w.family("ember_requests_total", "counter",
             "Requests answered (replied or failed), by command.");
    for (const auto& r : rows) w.sample("ember_requests_total", {{"command", r.name}}, r.e->count);
    w.family("ember_request_failures_total", "counter",
             "Requests answered with an error (any status), by command.");
    for (const auto& r : rows)
      w.sample("ember_request_failures_total", {{"command", r.name}}, r.e->failed);
    w.family("ember_request_duration_seconds", "histogram",
             "Time from a request's dispatch to its reply or error being queued, by command.");
    constexpr std::size_t n = std::size(latency_bounds_s);
    std::uint64_t bounds_ns[n];
    for (std::size_t i = 0; i < n; ++i)
      bounds_ns[i] = static_cast<std::uint64_t>(latency_bounds_s[i] * 1e9 + 0.5);
    std::uint64_t cumulative[n];
    for (const auto& r : rows) {
      r.e->latency.cumulative_counts(bounds_ns, cumulative);
      w.histogram("ember_request_duration_seconds", {{"command", r.name}}, latency_bounds_s,
                  cumulative, static_cast<double>(r.e->latency.sum()) / 1e9, r.e->latency.count());
    }
  }

 private:
  std::unordered_map<std::uint16_t, entry> entries_;
};

}  // namespace ember::net
