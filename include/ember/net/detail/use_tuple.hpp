// ember: the completion token of the server's own waits: errors as values, not exceptions.
#pragma once

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

namespace ember::net::detail {

/// `co_await op(use_tuple)` gives `(error_code, result...)` instead of throwing.
inline constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace ember::net::detail
