// ember: the codecs of ember's cluster messages, the generated ember_cluster_wire.cpp (included
// by ember/cluster/detail/cluster_wire.hpp when header-only, and by ember/cluster/impl/src.hpp
// into libember).
#pragma once

#include "ember/cluster/detail/cluster_wire.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "ember/codec/table.hpp"

#if !defined(EMBER_SEPARATE_COMPILATION)
// The generator writes a source file of ordinary definitions, to compile once. Header-only
// ember has no such place, so every definition of that file is declared inline here first (an
// inline declaration may come before the definition): each file that uses the messages then
// compiles them, and the program links without duplicates. The test `cluster wire - header-only:
// two files that use the messages link into one program` fails if the generator adds a
// definition that is missing here.
namespace ember_cluster_wire::detail {
extern inline const ember::codec::table::message session_op_table;
extern inline const ember::codec::table::message push_user_table;
extern inline const ember::codec::table::message broadcast_table;
extern inline const ember::codec::table::message claim_user_table;
extern inline const ember::codec::table::message session_closed_table;
extern inline const ember::codec::table::message session_moved_table;
extern inline const ember::codec::table::message player_table;
extern inline const ember::codec::table::message players_table;
extern inline const ember::codec::table::message module_event_table;
inline void encode_binary(ember::codec::binary_writer& w, const void* m,
                          const ember::codec::table::message& t);
inline std::error_code decode_binary(ember::codec::binary_reader& r, void* m,
                                     const ember::codec::table::message& t);
inline void encode_json(ember::codec::json_writer& w, const void* m,
                        const ember::codec::table::message& t);
inline std::error_code decode_json(ember::codec::json_text in, void* m,
                                   const ember::codec::table::message& t);
}  // namespace ember_cluster_wire::detail

namespace ember_cluster_wire {
inline std::string_view to_string(session_op_kind v) noexcept;
inline bool from_string(std::string_view name, session_op_kind& out) noexcept;
inline std::string_view to_string(error e) noexcept;
inline std::string_view error_message(error e) noexcept;
[[noreturn]] inline void fail(error e);
[[noreturn]] inline void fail(error e, std::string message);
}  // namespace ember_cluster_wire
#endif

#include "ember/cluster/detail/ember_cluster_wire.cpp"
