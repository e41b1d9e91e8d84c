// ember: the small string attributes of a session (`session::set_attribute`), one type for
// every kind of session that keeps them: a client's on its server, a gateway's client as a
// backend sees it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ember::net {

/// Key-value strings kept with a session. A session has a handful, so a flat array searched
/// in order beats a map in both memory and time.
class session_attributes {
 public:
  /// Sets `key` to `value`, replacing what it held.
  void set(std::string_view key, std::string value) {
    for (auto& [k, v] : items_) {
      if (k == key) {
        v = std::move(value);
        return;
      }
    }
    items_.emplace_back(std::string(key), std::move(value));
  }
  /// The value of `key`, if set (valid until the next `set`).
  std::optional<std::string_view> get(std::string_view key) const {
    for (const auto& [k, v] : items_)
      if (k == key) return std::string_view(v);
    return std::nullopt;
  }
  /// Every key and value, in the order first set.
  const std::vector<std::pair<std::string, std::string>>& items() const noexcept { return items_; }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

}  // namespace ember::net
