// ember: per-command figures of one server — requests by status, failures, latency
// percentiles — as the master's admin API shows them (`admin_link::status_json`, "commands")
// and as Prometheus scrapes them (`write_prometheus`, on the server's `metricsport`). The
// transports record each request when its reply or error is queued (see `count_request` in
// dispatch.hpp). A command's slot is made when it is registered (`add`, which a
// `dispatch_table` calls for each of its entries), so recording never allocates.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "ember/codec/json_writer.hpp"
#include "ember/command_info.hpp"
#include "ember/detail/histogram.hpp"
#include "ember/detail/prometheus.hpp"
#include "ember/error.hpp"

namespace ember::net {

/// Requests by status, failures and a latency histogram per command id, for one server (one
/// thread, no locks). A request's latency runs from its dispatch (it arrived and its command
/// was found) to its reply or error being queued, so it includes the wait behind a session's
/// earlier ordered requests. Recording is a hash lookup, a few increments and a histogram
/// bucket, and never allocates for a command `add`ed before (about 18 KiB each, nearly all
/// histogram); a command recorded without being added gets its slot then.
class command_stats {
 public:
  using clock = std::chrono::steady_clock;
  /// Nanoseconds, up to 2^40 (18 minutes; longer counts as that), within 1.6 %.
  using histogram = ember::detail::log_linear_histogram<7, 40>;

  /// How many distinct error statuses a command counts apart; later ones count as "other",
  /// so a handler throwing ever-new codes cannot grow the figures (or a scrape's series).
  static constexpr std::size_t status_slots = 8;

  /// One error status of a command and how many requests ended with it.
  struct status_count {
    std::uint16_t status = 0;
    std::uint64_t count = 0;
  };

  /// One command's figures.
  struct entry {
    std::uint64_t count = 0;   ///< requests answered (replied or failed)
    std::uint64_t failed = 0;  ///< of those, answered with an error (any status)
    /// The failures by status, in the order each status first appeared (`statuses` used).
    std::array<status_count, status_slots> by_status{};
    std::uint8_t statuses = 0;
    std::uint64_t other_failed = 0;  ///< failures with a status past the slots
    histogram latency;               ///< nanoseconds from dispatch to the reply being queued

    /// The failures with `status` (0 for "ok": the requests that did not fail).
    std::uint64_t with_status(std::uint16_t status) const noexcept {
      if (status == 0) return count - failed;
      for (std::size_t i = 0; i < statuses; ++i)
        if (by_status[i].status == status) return by_status[i].count;
      return 0;
    }
  };

  /// One command's figures as reported, latencies in microseconds (to the nearest, at least 1
  /// when not 0).
  struct summary {
    std::uint16_t id = 0;
    std::uint64_t count = 0, failed = 0;
    std::uint64_t p50_us = 0, p90_us = 0, p99_us = 0, max_us = 0;
  };

  /// Makes the slot of `command` (nothing if it has one): registering a command here keeps
  /// its first request off the allocation path. A `dispatch_table` with these stats calls it
  /// for each of its entries.
  void add(std::uint16_t command) { entries_.try_emplace(command); }

  /// Counts one request of `command` that took `took` and ended with `status` (0: replied;
  /// else its error frame's status, an `ember::status` or a game error code).
  void record(std::uint16_t command, clock::duration took, std::uint16_t status) {
    auto it = entries_.find(command);
    if (it == entries_.end()) it = entries_.try_emplace(command).first;
    entry& e = it->second;
    ++e.count;
    if (status != 0) {
      ++e.failed;
      count_status(e, status);
    }
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(took).count();
    e.latency.record(ns > 0 ? static_cast<std::uint64_t>(ns) : 0);
  }

  /// The figures of `command`, or null when none of its requests was counted yet.
  const entry* find(std::uint16_t command) const noexcept {
    auto it = entries_.find(command);
    return it == entries_.end() || it->second.count == 0 ? nullptr : &it->second;
  }
  /// Commands counted so far.
  std::size_t size() const noexcept {
    return static_cast<std::size_t>(std::count_if(
        entries_.begin(), entries_.end(), [](const auto& kv) { return kv.second.count > 0; }));
  }
  /// Commands with a slot, counted or not.
  std::size_t slots() const noexcept { return entries_.size(); }
  void clear() noexcept { entries_.clear(); }

  /// The `status` label of a status: "ok", an `ember::status`'s name ("timeout"), or a game
  /// error's code as digits ("1003"); `buf` holds the digits.
  static std::string_view status_label(std::uint16_t status, std::array<char, 8>& buf) noexcept {
    static constexpr std::string_view names[] = {
        "ok",           "bad_request",  "unknown_command",  "internal_error", "overloaded",
        "rate_limited", "unavailable",  "timeout",          "shutting_down",  "server_full",
        "handshake_required", "unsupported_version", "too_many_requests", "session_expired",
        "replaced",     "outcome_unknown"};
    static_assert(std::size(names) == static_cast<std::size_t>(status::outcome_unknown) + 1);
    if (status < std::size(names)) return names[status];
    auto end = fmt::format_to_n(buf.data(), buf.size(), "{}", status).out;
    return {buf.data(), static_cast<std::size_t>(end - buf.data())};
  }

  /// Every counted command's figures, by id.
  std::vector<summary> summaries() const {
    std::vector<summary> out;
    out.reserve(entries_.size());
    auto us = [](std::uint64_t ns) { return ns == 0 ? 0 : ns < 1000 ? 1 : (ns + 500) / 1000; };
    for (const auto& [id, e] : entries_) {
      if (e.count == 0) continue;
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
  /// `ember_requests_total` (labelled `command` and `status`: "ok" and each error status
  /// seen, see `status_label`), `ember_request_failures_total` (counters) and
  /// `ember_request_duration_seconds` (a histogram), each labelled `command` with the
  /// command's schema name (`names`; "id_N" when it is not listed), so the label's values are
  /// bounded by the schema. Every command with a slot is written, the ones not asked yet at 0,
  /// so a rate over them starts at their first request. Commands a gateway forwards (see
  /// `write_json`) are counted the same way, from the client's request to the backend's reply
  /// being queued.
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
             "Requests answered, by command and status (ok, or the error frame's status).");
    std::array<char, 8> buf;
    for (const auto& r : rows) {
      w.sample("ember_requests_total", {{"command", r.name}, {"status", "ok"}},
               r.e->count - r.e->failed);
      for (std::size_t i = 0; i < r.e->statuses; ++i) {
        const auto& s = r.e->by_status[i];
        w.sample("ember_requests_total", {{"command", r.name}, {"status", status_label(s.status, buf)}},
                 s.count);
      }
      if (r.e->other_failed)
        w.sample("ember_requests_total", {{"command", r.name}, {"status", "other"}},
                 r.e->other_failed);
    }
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
  static void count_status(entry& e, std::uint16_t status) noexcept {
    for (std::size_t i = 0; i < e.statuses; ++i)
      if (e.by_status[i].status == status) {
        ++e.by_status[i].count;
        return;
      }
    if (e.statuses < status_slots) {
      e.by_status[e.statuses++] = status_count{status, 1};
      return;
    }
    ++e.other_failed;
  }

  std::unordered_map<std::uint16_t, entry> entries_;
};

}  // namespace ember::net
