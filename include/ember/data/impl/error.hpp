// ember: bodies of the data layer's errors (ember/data/error.hpp).
#pragma once

#include "ember/data/error.hpp"
#include "ember/error.hpp"

#include <string>
#include <utility>

namespace ember::data {

EMBER_DECL const char* to_string(data_errc e) noexcept {
  switch (e) {
    case data_errc::database: return "database error";
    case data_errc::constraint: return "constraint violation";
    case data_errc::connection_lost: return "database connection lost";
    case data_errc::cache_unavailable: return "memcached unavailable";
    case data_errc::cache_error: return "memcached error";
    case data_errc::contention: return "update contention";
    case data_errc::not_found: return "row not found";
    case data_errc::journal: return "journal error";
    case data_errc::writers_behind: return "writers behind after a memcached restart";
    case data_errc::outcome_unknown: return "outcome unknown";
  }
  return "data error";
}

namespace detail {
class data_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ember.data"; }
  std::string message(int value) const override { return to_string(static_cast<data_errc>(value)); }
  std::error_condition default_error_condition(int value) const noexcept override {
    switch (static_cast<data_errc>(value)) {
      case data_errc::connection_lost:
      case data_errc::cache_unavailable:
      case data_errc::contention:
      case data_errc::writers_behind:
        return std::errc::resource_unavailable_try_again;
      case data_errc::outcome_unknown:
        return ember::outcome_unknown_condition();
      default:
        return {value, *this};
    }
  }
};
}  // namespace detail

EMBER_DECL const std::error_category& data_category() noexcept {
  static const detail::data_category_impl instance;
  return instance;
}

EMBER_DECL data_error::data_error(data_errc code, const std::string& message, std::string sqlstate)
    : std::system_error(code),
      sqlstate_(std::move(sqlstate)),
      what_(std::string(to_string(code)) + (sqlstate_.empty() ? "" : " [" + sqlstate_ + "]") + ": "),
      detail_at_(what_.size()) {
  what_ += message;
}

}  // namespace ember::data
