// ember: the result of an operation that can fail: a value or the error that prevented it.
#pragma once

#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "ember/error.hpp"

namespace ember {

/// Text of a call's failure, for the exception thrown by a misused `outcome::value()`.
inline std::string describe(const failure& f) {
  return f.message.empty() ? f.code.message() : f.code.message() + ": " + f.message;
}

/// Either a value or why there is none: a call's reply or its `failure` (timeout, disconnect,
/// remote error, ...), a parsed config or its `config_error`. `E` needs a `describe(const E&)`
/// found by ADL.
template <class T, class E = failure>
class outcome {
 public:
  outcome(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  outcome(E error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  /// The value. When there is none, a call's failure is thrown as `call_error` (a
  /// `std::system_error`: a handler may let it escape), any other error as `std::runtime_error`
  /// with its description.
  T& value() & { return check(), std::get<0>(v_); }
  const T& value() const& { return check(), std::get<0>(v_); }
  T&& value() && { return check(), std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  /// The error; only valid when `!has_value()`.
  const E& error() const { return std::get<1>(v_); }

 private:
  void check() const {
    if (has_value()) return;
    if constexpr (std::is_same_v<E, failure>) throw call_error(error());
    else throw std::runtime_error(describe(error()));
  }

  std::variant<T, E> v_;
};

}  // namespace ember
