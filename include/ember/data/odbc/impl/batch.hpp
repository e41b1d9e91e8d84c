// ember: bodies of the batch results and errors (ember/data/odbc/batch.hpp).
#pragma once

#include "ember/data/odbc/batch.hpp"

#include <utility>

namespace ember::data::odbc {

EMBER_DECL batch_error::batch_error(data_errc code, const std::string& message, std::string sqlstate,
                                    std::vector<std::size_t> failed_rows)
    : data_error(code, message, std::move(sqlstate)), failed_rows_(std::move(failed_rows)) {}

}  // namespace ember::data::odbc
