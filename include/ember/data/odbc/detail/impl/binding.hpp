// ember: binding parameter values to a statement — one SQLBindParameter per kind of value, shared
// by single executions (a value in place) and batches (a column-wise array per parameter).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "ember/data/odbc/detail/impl/sql.hpp"
#include "ember/data/odbc/value.hpp"

namespace ember::data::odbc::detail {

// Indexes of the alternatives of value::storage.
enum value_kind : std::size_t { null_kind, integer_kind, double_kind, text_kind, bytes_kind, bool_kind };
static_assert(std::is_same_v<std::variant_alternative_t<text_kind, value::storage>, std::string> &&
              std::is_same_v<std::variant_alternative_t<bool_kind, value::storage>, bool>);

/// Where one parameter's values are and how to bind them: the arguments of SQLBindParameter
/// that are not fixed by the kind.
struct parameter_buffer {
  std::size_t kind = null_kind;
  void* data = nullptr;
  SQLULEN column_size = 0;    ///< text and bytes only
  SQLLEN buffer_length = 0;   ///< bytes per element (of an array)
  SQLLEN* indicators = nullptr;
};

/// Binds parameter `number` (1-based) as `b` describes. A NULL (or a batch column of NULLs) is
/// bound as VARCHAR: that goes into a column of any type with both drivers (tested: BIGINT,
/// DOUBLE PRECISION, TEXT, BYTEA, BOOLEAN), and the same statement then takes typed values in
/// that place. Bytes are VARBINARY, not LONGVARBINARY: psqlODBC maps the latter to large
/// objects, not bytea.
inline SQLRETURN bind_parameter(SQLHSTMT h, std::size_t number, const parameter_buffer& b) {
  const auto num = static_cast<SQLUSMALLINT>(number);
  struct types {
    SQLSMALLINT c, sql;
  };
  types t{};
  switch (b.kind) {
    case null_kind:
    case text_kind: t = {SQL_C_CHAR, SQL_VARCHAR}; break;
    case integer_kind: t = {SQL_C_SBIGINT, SQL_BIGINT}; break;
    case double_kind: t = {SQL_C_DOUBLE, SQL_DOUBLE}; break;
    case bytes_kind: t = {SQL_C_BINARY, SQL_VARBINARY}; break;
    case bool_kind: t = {SQL_C_BIT, SQL_BIT}; break;
    default: return SQL_ERROR;
  }
  return SQLBindParameter(h, num, SQL_PARAM_INPUT, t.c, t.sql, b.column_size, 0, b.data, b.buffer_length,
                          b.indicators);
}

/// The buffers bound for one execution; they must outlive SQLExecute.
struct single_binding {
  std::vector<SQLLEN> indicators;
  std::vector<unsigned char> bits;
};

/// How to bind `v` in place, as parameter `i` of the execution `b` holds the buffers of.
inline parameter_buffer single_parameter(const value& v, std::size_t i, single_binding& b) {
  static char empty[1] = {};
  SQLLEN& ind = b.indicators[i];
  parameter_buffer out{v.get().index(), nullptr, 0, 0, &ind};
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, null_t>) {
          ind = SQL_NULL_DATA;
          out.data = empty;
          out.column_size = 1;
        } else if constexpr (std::is_same_v<T, bool>) {
          b.bits[i] = x ? 1 : 0;
          out.data = &b.bits[i];
        } else if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, double>) {
          out.data = const_cast<T*>(&x);
        } else {  // text or bytes
          ind = static_cast<SQLLEN>(x.size());
          out.column_size = std::max<SQLULEN>(x.size(), 1);
          out.buffer_length = ind;
          out.data = x.empty() ? static_cast<void*>(empty) : const_cast<void*>(static_cast<const void*>(x.data()));
        }
      },
      v.get());
  return out;
}

/// Bytes one element of a batch column needs for `v`: text with its terminator, bytes as they
/// are, 8 for anything else.
inline std::size_t element_width(const value& v) noexcept {
  if (auto* s = std::get_if<std::string>(&v.get())) return s->size() + 1;
  if (auto* b = std::get_if<bytes>(&v.get())) return b->size();
  return 8;
}

/// One parameter's column of a batch: an element per row.
struct column_buffer {
  std::size_t kind = null_kind;  // the kind of the column's non-NULL values
  std::size_t width = 1;         // bytes per element
  std::vector<std::byte> data;
  std::vector<SQLLEN> indicators;

  /// How to bind the column as a parameter array.
  parameter_buffer parameter() noexcept {
    parameter_buffer out{kind, data.data(), 0, static_cast<SQLLEN>(width), indicators.data()};
    if (kind == null_kind || kind == text_kind) out.column_size = std::max<SQLULEN>(width - 1, 1);
    if (kind == bytes_kind) out.column_size = std::max<SQLULEN>(width, 1);
    if (kind == integer_kind || kind == double_kind) out.buffer_length = 0;
    return out;
  }

  /// Copies `v` into element `r` (of the width and kind already set).
  void store(std::size_t r, const value& v) {
    std::byte* at = data.data() + r * width;
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, bool>) {
            *at = std::byte{static_cast<unsigned char>(x ? 1 : 0)};
            indicators[r] = 0;
          } else if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, double>) {
            std::memcpy(at, &x, sizeof x);
            indicators[r] = 0;
          } else if constexpr (!std::is_same_v<T, null_t>) {
            if (!x.empty()) std::memcpy(at, x.data(), x.size());
            indicators[r] = static_cast<SQLLEN>(x.size());
          }
        },
        v.get());
  }
};

}  // namespace ember::data::odbc::detail
