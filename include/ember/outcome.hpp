// ember: the result of a call: a value or the failure that prevented it.
#pragma once

#include <utility>
#include <variant>

#include "ember/error.hpp"

namespace ember {

/// Either the reply of a call or why there is none (timeout, disconnect, remote error, ...).
template <class T>
class outcome {
 public:
  outcome(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  outcome(failure f) : v_(std::in_place_index<1>, std::move(f)) {}

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  /// The failure; only valid when `!has_value()`.
  const failure& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, failure> v_;
};

}  // namespace ember
