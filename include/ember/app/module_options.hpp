// ember: a gameplay module's limits from config.json's `modules.NAME` entry, read with the
// same checks and messages as the rest of the file:
//
//   ember::app::module_options o(host.config(), "friends");
//   opts.max_friends = o.count("max_friends", opts.max_friends, 1, 10'000);
//   opts.invite_ttl  = o.duration_ms("invite_ttl_ms", opts.invite_ttl);
//   o.done();   // a key nobody asked for is refused: "config.json: modules.friends.max_freinds:
//               //  unknown key (did you mean 'max_friends'?); expected one of: ..."
//
// A module without an entry gets its defaults. Every problem throws `std::invalid_argument`
// naming the file and the field, which stops the server's start-up.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>

#include "ember/app/config.hpp"
#include "ember/app/detail/impl/config_json.hpp"

namespace ember::app {

class module_options {
 public:
  module_options(const cluster_config& c, std::string_view module)
      : path_(detail::json_path{}.key("modules").key(module)) {
    auto it = c.modules.find(module);
    if (it == c.modules.end()) return;
    file_ = it->second.file;
    json_ = simdjson::padded_string(it->second.json);
    guarded([&] {
      entry_ = parser_.parse(json_).value_unsafe();
      asked_.push_back("server");
    });
  }
  module_options(const module_options&) = delete;
  module_options& operator=(const module_options&) = delete;

  /// The server type config.json places the module on (empty without an entry).
  std::string server() {
    std::string out;
    if (auto v = get("server")) guarded([&] { out = detail::read_string(*v, path_.key("server")); });
    return out;
  }

  /// A whole number in [lo, hi], or `fallback` when the key is absent.
  std::int64_t integer(std::string_view key, std::int64_t fallback,
                       std::int64_t lo = std::numeric_limits<std::int64_t>::min(),
                       std::int64_t hi = std::numeric_limits<std::int64_t>::max()) {
    std::int64_t out = fallback;
    if (auto v = get(key)) {
      guarded([&] {
        out = detail::read_whole(*v, path_.key(key), lo, hi, fmt::format("a whole number {}..{}", lo, hi));
      });
    }
    return out;
  }
  /// A count (or size) in [lo, hi].
  std::uint32_t count(std::string_view key, std::uint32_t fallback, std::uint32_t lo = 0,
                      std::uint32_t hi = std::numeric_limits<std::uint32_t>::max()) {
    return static_cast<std::uint32_t>(integer(key, fallback, lo, hi));
  }
  /// Milliseconds, written as a whole number of them (`..._ms` keys), at least 0.
  std::chrono::milliseconds duration_ms(std::string_view key, std::chrono::milliseconds fallback) {
    return std::chrono::milliseconds(
        integer(key, fallback.count(), 0, std::numeric_limits<std::int64_t>::max() / 1'000'000));
  }
  bool flag(std::string_view key, bool fallback) {
    bool out = fallback;
    if (auto v = get(key)) guarded([&] { out = detail::read_bool(*v, path_.key(key)); });
    return out;
  }
  std::string text(std::string_view key, std::string fallback) {
    std::string out = std::move(fallback);
    if (auto v = get(key)) guarded([&] { out = detail::read_string(*v, path_.key(key)); });
    return out;
  }
  /// An array of strings (absent: `fallback`).
  std::vector<std::string> texts(std::string_view key, std::vector<std::string> fallback = {}) {
    auto out = std::move(fallback);
    if (auto v = get(key)) {
      guarded([&] {
        const auto p = path_.key(key);
        if (v->type() != detail::element_type::ARRAY)
          detail::fail(p, fmt::format("expected an array of strings, got {}", detail::describe(*v)));
        out.clear();
        std::size_t i = 0;
        for (auto e : detail::array_of(*v)) out.push_back(detail::read_string(e, p.index(i++)));
      });
    }
    return out;
  }

  /// Refuses the keys of the entry that no call above asked for (a typo must not be a silently
  /// ignored limit).
  void done() {
    if (!entry_) return;
    const std::vector<std::string_view> known(asked_.begin(), asked_.end());
    guarded([&] { detail::members m(*entry_, path_, known); });
  }

 private:
  std::optional<detail::element> get(std::string_view key) {
    asked_.emplace_back(key);
    if (!entry_ || entry_->type() != detail::element_type::OBJECT) return std::nullopt;
    detail::element v;
    if (entry_->get_object().value_unsafe()[key].get(v) != simdjson::SUCCESS) return std::nullopt;
    return v;
  }

  template <class Fn>
  void guarded(Fn fn) {
    try {
      fn();
    } catch (const detail::config_failure& f) {
      throw std::invalid_argument(config_error{file_, 0, f.path.str(), f.message}.what());
    } catch (const simdjson::simdjson_error& e) {
      throw std::invalid_argument(config_error{file_, 0, path_.str(), e.what()}.what());
    }
  }

  detail::json_path path_;
  std::string file_ = "config.json";
  simdjson::padded_string json_;
  simdjson::dom::parser parser_;
  std::optional<detail::element> entry_;
  std::vector<std::string> asked_;  // the keys asked for
};

}  // namespace ember::app
