// ember: a writer of Prometheus' text exposition format 0.0.4 (the body of a `/metrics`
// answer, Content-Type `text/plain; version=0.0.4`): per metric family a `# HELP` and a
// `# TYPE` line, then one line per sample, `name{label="value",...} number`. Label values are
// escaped (`\\`, `\"`, `\n`), help texts too (`\\`, `\n`); numbers print exactly (integers as
// integers, doubles shortest-round-trip, `+Inf`/`-Inf`/`NaN`). Histograms are written as
// cumulative `_bucket{le="..."}` lines ending with `le="+Inf"`, then `_sum` and `_count`.
//
//   std::string text;
//   ember::detail::prometheus_writer w(text);
//   w.family("ember_requests_total", "counter", "Requests answered, by command.");
//   w.sample("ember_requests_total", {{"command", "login"}}, 42);
//
// It writes only when a scrape asks (it appends to a string); recording figures is the job of
// plain counters elsewhere.
#pragma once

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include <fmt/format.h>

namespace ember::detail {

/// One label of a sample: its name (a Prometheus label name) and its value (any text).
struct prometheus_label {
  std::string_view name;
  std::string_view value;
};

/// Appends metric families in the text exposition format 0.0.4 to a string.
class prometheus_writer {
 public:
  using labels = std::initializer_list<prometheus_label>;

  /// The Content-Type of a body in this format.
  static constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

  explicit prometheus_writer(std::string& out) : out_(out) {}

  /// Starts a family: its `# HELP` and `# TYPE` lines. `type` is "counter", "gauge",
  /// "histogram" or "untyped". Write each family once, its samples right after it.
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    for (char c : help) {
      if (c == '\\')
        out_ += "\\\\";
      else if (c == '\n')
        out_ += "\\n";
      else
        out_ += c;
    }
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  /// One sample line of the current family; `value` is any integer or floating-point number.
  template <class Number>
    requires(std::is_arithmetic_v<Number> && !std::is_same_v<Number, bool>)
  void sample(std::string_view name, labels ls, Number value) {
    begin(name, ls);
    if constexpr (std::is_integral_v<Number>)
      fmt::format_to(std::back_inserter(out_), "{}\n", value);
    else
      number(static_cast<double>(value));
  }

  /// A family of one unlabelled sample.
  template <class Number>
  void single(std::string_view name, std::string_view type, std::string_view help, Number value) {
    family(name, type, help);
    sample(name, {}, value);
  }

  /// The samples of one histogram series (call `family(name, "histogram", ...)` first):
  /// `cumulative[i]` samples are at most `bounds[i]` (ascending, in the metric's unit),
  /// `count` in all (the `+Inf` bucket), adding up to `sum`.
  void histogram(std::string_view name, labels ls, std::span<const double> bounds,
                 std::span<const std::uint64_t> cumulative, double sum, std::uint64_t count) {
    series_.assign(name);
    series_ += "_bucket";
    for (std::size_t i = 0; i < bounds.size() && i < cumulative.size(); ++i) {
      begin_labels(series_, ls);
      out_ += ls.size() ? ",le=\"" : "le=\"";
      number_text(bounds[i]);
      fmt::format_to(std::back_inserter(out_), "\"}} {}\n", cumulative[i]);
    }
    begin_labels(series_, ls);
    fmt::format_to(std::back_inserter(out_), "{}le=\"+Inf\"}} {}\n", ls.size() ? "," : "", count);
    series_.assign(name);
    series_ += "_sum";
    sample(series_, ls, sum);
    series_.assign(name);
    series_ += "_count";
    sample(series_, ls, count);
  }

  /// Text of `v` as the format writes numbers.
  static std::string format_number(double v) {
    std::string s;
    prometheus_writer w(s);
    w.number_text(v);
    return s;
  }

 private:
  void begin(std::string_view name, labels ls) {
    out_ += name;
    if (ls.size()) {
      out_ += '{';
      label_list(ls);
      out_ += '}';
    }
    out_ += ' ';
  }
  // `name{labels` with the brace left open (histogram buckets add `le`).
  void begin_labels(std::string_view name, labels ls) {
    out_ += name;
    out_ += '{';
    label_list(ls);
  }
  void label_list(labels ls) {
    bool first = true;
    for (const auto& l : ls) {
      if (!first) out_ += ',';
      first = false;
      out_ += l.name;
      out_ += "=\"";
      for (char c : l.value) {
        if (c == '\\')
          out_ += "\\\\";
        else if (c == '"')
          out_ += "\\\"";
        else if (c == '\n')
          out_ += "\\n";
        else
          out_ += c;
      }
      out_ += '"';
    }
  }
  void number(double v) {
    number_text(v);
    out_ += '\n';
  }
  void number_text(double v) {
    if (std::isnan(v))
      out_ += "NaN";
    else if (std::isinf(v))
      out_ += v > 0 ? "+Inf" : "-Inf";
    else
      fmt::format_to(std::back_inserter(out_), "{}", v);
  }

  std::string& out_;
  std::string series_;
};

}  // namespace ember::detail
