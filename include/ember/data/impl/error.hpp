// ember: bodies of the data layer's errors (ember/data/error.hpp).
#pragma once

#include "ember/data/error.hpp"

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
  }
  return "data error";
}

EMBER_DECL data_error::data_error(data_errc code, const std::string& message, std::string sqlstate)
    : std::runtime_error(std::string(to_string(code)) + (sqlstate.empty() ? "" : " [" + sqlstate + "]") +
                         ": " + message),
      code_(code),
      sqlstate_(std::move(sqlstate)) {}

}  // namespace ember::data
