// ember: what a parameter-array batch (`statement::execute_batch`) reports — its row counts,
// and `batch_error`, naming the rows the driver flagged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ember/data/error.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::data::odbc {

/// Whether `execute_batch` reports rows affected per parameter row or only in total.
enum class row_counts {
  total,    ///< only `batch_result::rows_affected`
  per_row,  ///< also `batch_result::per_row` (on drivers that only report a total, rows run one by one)
};

/// The outcome of `statement::execute_batch`.
struct batch_result {
  std::int64_t rows_affected = 0;     ///< rows inserted, updated or deleted by the whole batch
  std::vector<std::int64_t> per_row;  ///< rows affected by each parameter row, with row_counts::per_row
};

/// A batch failed (nothing of it is kept when it ran in its own transaction). Which rows failed
/// is known when the driver tells: libsqlite3odbc names the row; psqlODBC names the row or flags
/// the whole sub-batch holding it (see the notes at the top of ember/data/odbc.hpp). Empty
/// when unknown.
class batch_error : public data_error {
 public:
  batch_error(data_errc code, const std::string& message, std::string sqlstate,
              std::vector<std::size_t> failed_rows);
  /// Indexes (into the rows passed to execute_batch) the driver flagged as failed, ascending.
  const std::vector<std::size_t>& failed_rows() const noexcept { return failed_rows_; }

 private:
  std::vector<std::size_t> failed_rows_;
};


}  // namespace ember::data::odbc

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/data/odbc/impl/batch.hpp"
#endif
