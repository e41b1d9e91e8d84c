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
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ember/app/config.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::app {

class module_options {
 public:
  EMBER_DECL module_options(const cluster_config& c, std::string_view module);
  EMBER_DECL ~module_options();
  module_options(const module_options&) = delete;
  module_options& operator=(const module_options&) = delete;

  /// The server type config.json places the module on (empty without an entry).
  EMBER_DECL std::string server();

  /// A whole number in [lo, hi], or `fallback` when the key is absent.
  EMBER_DECL std::int64_t integer(std::string_view key, std::int64_t fallback,
                                  std::int64_t lo = std::numeric_limits<std::int64_t>::min(),
                                  std::int64_t hi = std::numeric_limits<std::int64_t>::max());
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
  EMBER_DECL bool flag(std::string_view key, bool fallback);
  EMBER_DECL std::string text(std::string_view key, std::string fallback);
  /// An array of strings (absent: `fallback`).
  EMBER_DECL std::vector<std::string> texts(std::string_view key, std::vector<std::string> fallback = {});

  /// An object of whole numbers in [lo, hi] by name, in file order (absent: `fallback`), e.g.
  /// `"currencies": {"gold": 0, "gems": 100000}`.
  EMBER_DECL std::vector<std::pair<std::string, std::int64_t>> integers_by_name(
      std::string_view key, std::vector<std::pair<std::string, std::int64_t>> fallback,
      std::int64_t lo = 0, std::int64_t hi = std::numeric_limits<std::int64_t>::max());

  /// Refuses the keys of the entry that no call above asked for (a typo must not be a silently
  /// ignored limit).
  EMBER_DECL void done();

 private:
  // The parsed entry (simdjson), kept out of this header: every module's header includes it.
  struct entry;
  std::unique_ptr<entry> entry_;
};

}  // namespace ember::app

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/app/impl/module_options.hpp"
#endif
