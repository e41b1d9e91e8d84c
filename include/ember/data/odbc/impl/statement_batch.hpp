// ember: bodies of `statement::execute_batch` (ember/data/odbc/statement.hpp): parameter-array
// batches in chunks, or row by row where arrays do not serve.
#pragma once

#include "ember/data/odbc/statement.hpp"

#include <algorithm>
#include <stdexcept>

#include "ember/data/odbc/detail/impl/binding.hpp"
#include "ember/data/odbc/detail/impl/diagnostics.hpp"
#include "ember/data/odbc/detail/impl/sql.hpp"

namespace ember::data::odbc {

EMBER_DECL batch_result statement::execute_batch(std::span<const params> rows, row_counts counts) {
  for (const auto& r : rows) check_width(r);
  if (rows.empty()) return {};
  const bool own = !conn_->in_transaction();
  if (own) conn_->begin();
  try {
    batch_result r;
    if (parameters_ == 0 || rows.size() == 1 ||
        (counts == row_counts::per_row && !conn_->batch_row_counts_) ||
        !arrays_supported(std::min<std::size_t>(rows.size(), 1000)))
      r = batch_rows(rows, counts);
    else
      r = batch_arrays(rows, counts);
    if (own) conn_->commit();
    return r;
  } catch (...) {
    if (own && conn_->in_transaction()) {
      try {
        conn_->rollback();
      } catch (...) {  // broken_ is set; the batch's own error is the one to report
      }
    }
    throw;
  }
}

EMBER_DECL bool statement::arrays_supported(std::size_t n) {
  if (conn_->arrays_) return *conn_->arrays_;
  // A driver without parameter arrays refuses SQL_ATTR_PARAMSET_SIZE (HYC00) or lowers it to 1
  // (01S02). Both drivers used here take them; the row-by-row path is the fallback.
  SQLULEN got = 0;
  const SQLRETURN rc = SQLSetStmtAttr(stmt_.get(), SQL_ATTR_PARAMSET_SIZE,
                                      reinterpret_cast<SQLPOINTER>(static_cast<std::uintptr_t>(n)), 0);
  const bool ok = detail::ok(rc) &&
                  detail::ok(SQLGetStmtAttr(stmt_.get(), SQL_ATTR_PARAMSET_SIZE, &got, 0, nullptr)) &&
                  got == n;
  SQLSetStmtAttr(stmt_.get(), SQL_ATTR_PARAMSET_SIZE, reinterpret_cast<SQLPOINTER>(std::uintptr_t{1}), 0);
  conn_->arrays_ = ok;
  return ok;
}

EMBER_DECL batch_result statement::batch_rows(std::span<const params> rows, row_counts counts) {
  batch_result r;
  if (counts == row_counts::per_row) r.per_row.reserve(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    SQLRETURN rc = SQL_SUCCESS;
    if (auto f = try_run(rows[i], "executing", rc))
      throw batch_error(f->code, f->message + " (batch row " + std::to_string(i) + ")",
                        std::move(f->sqlstate), {i});
    SQLLEN n = 0;
    if (rc != SQL_NO_DATA) SQLRowCount(stmt_.get(), &n);
    SQLFreeStmt(stmt_.get(), SQL_CLOSE);
    r.rows_affected += std::max<std::int64_t>(n, 0);
    if (counts == row_counts::per_row) r.per_row.push_back(n);
  }
  return r;
}

EMBER_DECL batch_result statement::batch_arrays(std::span<const params> rows, row_counts counts) {
  // Chunks of at most 1,000 rows and ~8 MB of bound buffers (text and bytes are bound at the
  // width of their longest value).
  constexpr std::size_t max_rows = 1000, max_bytes = std::size_t{8} << 20;
  batch_result total;
  std::vector<std::size_t> widths(parameters_);
  std::size_t begin = 0;
  while (begin < rows.size()) {
    std::fill(widths.begin(), widths.end(), 8);
    std::size_t end = begin;
    while (end < rows.size() && end - begin < max_rows) {
      std::size_t row_bytes = 0;
      for (std::size_t c = 0; c < parameters_; ++c) row_bytes += std::max(widths[c], detail::element_width(rows[end][c]));
      if (end > begin && row_bytes * (end - begin + 1) > max_bytes) break;
      for (std::size_t c = 0; c < parameters_; ++c) widths[c] = std::max(widths[c], detail::element_width(rows[end][c]));
      ++end;
    }
    auto part = batch_chunk(rows.subspan(begin, end - begin), begin, counts);
    total.rows_affected += part.rows_affected;
    total.per_row.insert(total.per_row.end(), part.per_row.begin(), part.per_row.end());
    begin = end;
  }
  return total;
}

namespace detail {

/// The column-wise buffers of a batch: an array per parameter, an element per row, each column
/// of one kind. `offset` is the index of rows[0] in the whole batch (for the message).
inline std::vector<column_buffer> fill_columns(std::span<const params> rows, std::size_t parameters,
                                               std::size_t offset, std::string_view sql) {
  const std::size_t n = rows.size();
  std::vector<column_buffer> cols(parameters);
  for (std::size_t c = 0; c < parameters; ++c) {
    auto& col = cols[c];
    for (std::size_t r = 0; r < n; ++r) {
      const auto& v = rows[r][c];
      const std::size_t kind = v.get().index();
      if (kind == null_kind) continue;
      if (col.kind == null_kind) col.kind = kind;
      if (kind != col.kind)
        throw std::invalid_argument("ember::data::odbc: batch column " + std::to_string(c + 1) + " of \"" +
                                    excerpt(sql) + "\" mixes value types (row " + std::to_string(offset + r) +
                                    ")");
      if (kind == text_kind || kind == bytes_kind) col.width = std::max(col.width, element_width(v));
    }
    if (col.kind == integer_kind || col.kind == double_kind) col.width = 8;
    else if (col.kind == bool_kind) col.width = 1;
    col.data.assign(col.width * n, std::byte{0});
    col.indicators.assign(n, SQL_NULL_DATA);
    for (std::size_t r = 0; r < n; ++r) col.store(r, rows[r][c]);
  }
  return cols;
}

/// Sets `h` up for a parameter array of `n` rows (column-wise, with a status array) and back to
/// single rows when destroyed: the driver must keep no pointer into the buffers once they are
/// gone.
class array_execution {
 public:
  array_execution(SQLHSTMT h, std::size_t n) : h_(h), status_(n, SQL_PARAM_UNUSED) {}
  array_execution(const array_execution&) = delete;
  array_execution& operator=(const array_execution&) = delete;
  ~array_execution() {
    SQLFreeStmt(h_, SQL_CLOSE);
    SQLSetStmtAttr(h_, SQL_ATTR_PARAMSET_SIZE, reinterpret_cast<SQLPOINTER>(std::uintptr_t{1}), 0);
    SQLSetStmtAttr(h_, SQL_ATTR_PARAM_STATUS_PTR, nullptr, 0);
    SQLSetStmtAttr(h_, SQL_ATTR_PARAMS_PROCESSED_PTR, nullptr, 0);
    SQLFreeStmt(h_, SQL_RESET_PARAMS);
  }

  /// Binds the columns; false if the driver refuses an attribute or a column.
  bool bind(std::vector<column_buffer>& cols) {
    SQLFreeStmt(h_, SQL_RESET_PARAMS);
    const auto n = static_cast<std::uintptr_t>(status_.size());
    if (!ok(SQLSetStmtAttr(h_, SQL_ATTR_PARAM_BIND_TYPE,
                           reinterpret_cast<SQLPOINTER>(std::uintptr_t{SQL_PARAM_BIND_BY_COLUMN}), 0)) ||
        !ok(SQLSetStmtAttr(h_, SQL_ATTR_PARAMSET_SIZE, reinterpret_cast<SQLPOINTER>(n), 0)) ||
        !ok(SQLSetStmtAttr(h_, SQL_ATTR_PARAM_STATUS_PTR, status_.data(), 0)) ||
        !ok(SQLSetStmtAttr(h_, SQL_ATTR_PARAMS_PROCESSED_PTR, &processed_, 0)))
      return false;
    for (std::size_t c = 0; c < cols.size(); ++c)
      if (!ok(bind_parameter(h_, c + 1, cols[c].parameter()))) return false;
    return true;
  }

  /// A row the driver flagged as failed.
  bool any_failed() const {
    return std::find(status_.begin(), status_.end(), SQLUSMALLINT{SQL_PARAM_ERROR}) != status_.end();
  }
  std::span<const SQLUSMALLINT> status() const noexcept { return status_; }
  std::size_t processed() const noexcept { return static_cast<std::size_t>(processed_); }

 private:
  SQLHSTMT h_;
  std::vector<SQLUSMALLINT> status_;
  SQLULEN processed_ = 0;
};

}  // namespace detail

EMBER_DECL batch_result statement::batch_chunk(std::span<const params> rows, std::size_t offset,
                                               row_counts counts) {
  const std::size_t n = rows.size();
  close_cursor();
  std::vector<detail::column_buffer> cols = detail::fill_columns(rows, parameters_, offset, sql_);
  const SQLHSTMT h = stmt_.get();
  detail::array_execution exec(h, n);
  const std::string what =
      "executing a batch of " + std::to_string(n) + " rows of \"" + detail::excerpt(sql_) + "\"";
  if (!exec.bind(cols)) conn_->raise(SQL_HANDLE_STMT, h, what);
  const SQLRETURN rc = SQLExecute(h);
  if ((!detail::ok(rc) && rc != SQL_NO_DATA) || exec.any_failed())
    batch_failed(exec.status(), exec.processed(), offset, what);
  return batch_counts(rc, exec.status(), exec.processed(), offset, counts, what);
}

EMBER_DECL void statement::batch_failed(std::span<const unsigned short> status, std::size_t processed,
                                        std::size_t offset, const std::string& what) {
  auto f = conn_->diagnose(SQL_HANDLE_STMT, stmt_.get(), what);
  const std::size_t n = status.size();
  std::vector<std::size_t> failed;
  for (std::size_t r = 0; r < n; ++r)
    if (status[r] == SQL_PARAM_ERROR) failed.push_back(offset + r);
  // libsqlite3odbc leaves the status array alone and stops at the failing row: the rows
  // processed before it are exactly its index.
  if (failed.empty() && conn_->dialect_ == odbc::dialect::sqlite && processed < n)
    failed.push_back(offset + processed);
  if (failed.size() == 1)
    f.message += " (batch row " + std::to_string(failed.front()) + ")";
  else if (!failed.empty())
    f.message += " (the driver flagged batch rows " + std::to_string(failed.front()) + ".." +
                 std::to_string(failed.back()) + ")";
  throw batch_error(f.code, f.message, std::move(f.sqlstate), std::move(failed));
}

EMBER_DECL batch_result statement::batch_counts(SQLRETURN rc, std::span<const unsigned short> status,
                                                std::size_t processed, std::size_t offset, row_counts counts,
                                                const std::string& what) {
  const SQLHSTMT h = stmt_.get();
  const std::size_t n = status.size();
  batch_result out;
  SQLLEN count = 0;
  if (rc != SQL_NO_DATA) SQLRowCount(h, &count);
  if (!conn_->batch_row_counts_) {
    out.rows_affected = std::max<std::int64_t>(count, 0);
    return out;
  }
  // psqlODBC reports one result per parameter row (SQL_PARC_BATCH): the first now, the others
  // through SQLMoreResults.
  if (counts == row_counts::per_row) out.per_row.assign(n, 0);
  for (std::size_t r = 0;; ++r) {
    if (r < n && counts == row_counts::per_row) out.per_row[r] = count;
    out.rows_affected += std::max<std::int64_t>(count, 0);
    const SQLRETURN more = SQLMoreResults(h);
    if (more == SQL_NO_DATA) break;
    if (!detail::ok(more)) batch_failed(status, processed, offset, what);
    count = 0;
    SQLRowCount(h, &count);
  }
  return out;
}

}  // namespace ember::data::odbc
