// ember: bodies of the storage module (included by ember/modules/storage/storage.hpp, or compiled
// once into libember-storage with EMBER_SEPARATE_COMPILATION).
#pragma once

#include "ember/modules/storage/storage.hpp"

#include <algorithm>
#include <charconv>
#include <set>
#include <tuple>

#include <simdjson.h>

#include "ember/app/module_options.hpp"
#include "ember/modules/text.hpp"

namespace ember::modules::storage {

namespace detail {

inline std::string row_id(std::string_view collection, std::string_view key, std::uint64_t owner) {
  std::string id;
  id.reserve(collection.size() + key.size() + 22);
  id.append(collection).push_back('\x1f');  // player names never hold control characters
  id.append(key).push_back('\x1f');
  id += std::to_string(owner);
  return id;
}

inline void check_name(std::string_view s, const options& o) {
  if (check_text(s, o.max_name_chars) != text_problem::none) ember_storage::fail(ember_storage::error::bad_name);
}

/// The owner a request names: a player's 0 means themself, and a player names no one else
/// for a write.
inline std::uint64_t owner_of(const caller& who, std::uint64_t owner) {
  if (!who) return owner;
  return owner == 0 ? *who : owner;
}

inline std::string version_text(std::int64_t v) { return v == 0 ? std::string() : std::to_string(v); }

/// Whether `expected` ("" any, "*" absent, or a version) holds for the row.
inline bool version_holds(std::string_view expected, const ember_storage::storage_object& row) {
  if (expected.empty()) return true;
  if (expected == "*") return !row.exists;
  return row.exists && expected == std::to_string(row.version);
}

inline void check_expected(std::string_view expected) {
  if (expected.empty() || expected == "*") return;
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(expected.data(), expected.data() + expected.size(), v);
  if (ec != std::errc() || end != expected.data() + expected.size() || v <= 0)
    ember_storage::fail(ember_storage::error::version_mismatch);  // no object has that version
}

inline void check_json(std::string_view value, const options& o) {
  if (value.size() > o.max_value_bytes) ember_storage::fail(ember_storage::error::value_too_large);
  thread_local simdjson::dom::parser parser;  // validates UTF-8 too
  simdjson::padded_string padded(value);
  if (parser.parse(padded).error() != simdjson::SUCCESS) ember_storage::fail(ember_storage::error::invalid_value);
}

inline bool may_read(const caller& who, const ember_storage::storage_object& r) {
  if (!r.exists) return false;
  if (!who) return true;
  if (r.read == ember_storage::read_permission::public_read) return true;
  return r.read == ember_storage::read_permission::owner_read && static_cast<std::uint64_t>(r.owner) == *who;
}

inline ember_storage::stored_object to_object(const ember_storage::storage_object& r) {
  ember_storage::stored_object o;
  o.collection = r.collection;
  o.key = r.object_key;
  o.owner = static_cast<std::uint64_t>(r.owner);
  o.value = r.value;
  o.version = version_text(r.version);
  o.read = r.read;
  o.write = r.write;
  o.updated_ms = static_cast<std::uint64_t>(r.updated_ms);
  return o;
}

/// A listing cursor: "OWNER:KEY" of the last object of the previous page.
inline std::string cursor_of(const ember_storage::storage_object& r) {
  return std::to_string(r.owner) + ':' + r.object_key;
}

inline std::pair<std::string, std::int64_t> parse_cursor(std::string_view c, const options& o) {
  const auto colon = c.find(':');
  std::int64_t owner = -1;
  if (colon != std::string_view::npos) {
    auto [end, ec] = std::from_chars(c.data(), c.data() + colon, owner);
    if (ec != std::errc() || end != c.data() + colon) owner = -1;
  }
  if (owner < 0 || check_text(c.substr(colon + 1), o.max_name_chars) != text_problem::none)
    ember_storage::fail(ember_storage::error::bad_cursor);
  return {std::string(c.substr(colon + 1)), owner};
}

}  // namespace detail

EMBER_DECL options options::read(app::module_options& o) {
  const auto size = [&](std::string_view key, std::size_t fallback, std::uint32_t hi) {
    return static_cast<std::size_t>(o.count(key, static_cast<std::uint32_t>(fallback), 1, hi));
  };
  options out;
  out.max_value_bytes = size("max_value_bytes", out.max_value_bytes, 16 << 20);
  out.max_batch = size("max_batch", out.max_batch, 10'000);
  out.max_name_chars = size("max_name_chars", out.max_name_chars, 1024);
  out.max_op_id_chars = size("max_op_id_chars", out.max_op_id_chars, 1024);
  out.max_page = size("max_page", out.max_page, 10'000);
  out.max_public_per_collection = size("max_public_per_collection", out.max_public_per_collection, 1'000'000);
  o.done();
  return out;
}

EMBER_DECL asio::awaitable<std::vector<ember_storage::object_ack>> service::write(
    caller who, std::vector<ember_storage::object_write> writes, std::string op_id) {
  if (writes.size() > options_.max_batch) ember_storage::fail(ember_storage::error::too_many);
  std::vector<std::string> ids;
  for (auto& w : writes) {
    detail::check_name(w.collection, options_);
    detail::check_name(w.key, options_);
    if (who && w.owner != 0 && w.owner != *who) ember_storage::fail(ember_storage::error::permission_denied);
    w.owner = detail::owner_of(who, w.owner);
    detail::check_expected(w.version);
    detail::check_json(w.value, options_);
    ids.push_back(detail::row_id(w.collection, w.key, w.owner));
  }
  check_distinct(ids);
  std::vector<ember_storage::object_ack> acks;
  if (writes.empty()) co_return acks;
  const auto op_key = co_await prepare_op(who, op_id);
  if (op_key) {
    if (auto done = co_await done_op(*op_key)) co_return acks_of(writes, *done);
  }

  // Make the rows a batch locks; an object made meanwhile by another writer is fine.
  auto rows = co_await objects_.get_many(ids);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (rows[i]) continue;
    const auto& w = writes[i];
    co_await ensure_row(objects_, ember_storage::storage_object(ids[i], w.collection, w.key, static_cast<std::int64_t>(w.owner)));
  }
  co_await check_public_room(writes, rows);

  const auto now = static_cast<std::int64_t>(data::unix_ms());
  std::vector<std::int64_t> versions;
  auto change = [&](std::span<ember_storage::storage_object> rs) {
    versions.clear();
    for (std::size_t i = 0; i < rs.size(); ++i) {
      auto& r = rs[i];
      const auto& w = writes[i];
      if (who && r.exists && r.write != ember_storage::write_permission::owner_write)
        ember_storage::fail(ember_storage::error::permission_denied);
      if (!detail::version_holds(w.version, r)) ember_storage::fail(ember_storage::error::version_mismatch);
      r.value = w.value;
      r.read = w.read;
      r.write = w.write;
      r.exists = true;
      r.public_in = w.read == ember_storage::read_permission::public_read ? w.collection : std::string();
      r.updated_ms = now;
      ++r.version;
      versions.push_back(r.version);
    }
  };
  const bool applied = co_await run_batch(ids, op_key, change, versions);
  for (std::size_t i = 0; i < writes.size(); ++i) {
    acks.emplace_back(writes[i].collection, writes[i].key, writes[i].owner, std::to_string(versions[i]));
    if (applied)
      bus_.publish(ember_storage::object_written(writes[i].collection, writes[i].key, writes[i].owner,
                                                 acks.back().version, who.value_or(0)));
  }
  co_return acks;
}

EMBER_DECL asio::awaitable<void> service::remove(caller who,
                                                  std::vector<ember_storage::object_delete> deletes,
                                                  std::string op_id) {
  if (deletes.size() > options_.max_batch) ember_storage::fail(ember_storage::error::too_many);
  std::vector<std::string> ids;
  for (auto& d : deletes) {
    detail::check_name(d.collection, options_);
    detail::check_name(d.key, options_);
    if (who && d.owner != 0 && d.owner != *who) ember_storage::fail(ember_storage::error::permission_denied);
    d.owner = detail::owner_of(who, d.owner);
    if (d.version == "*") ember_storage::fail(ember_storage::error::version_mismatch);
    detail::check_expected(d.version);
    ids.push_back(detail::row_id(d.collection, d.key, d.owner));
  }
  check_distinct(ids);
  if (deletes.empty()) co_return;
  const auto op_key = co_await prepare_op(who, op_id);
  if (op_key && co_await done_op(*op_key)) co_return;

  auto rows = co_await objects_.get_many(ids);
  std::vector<std::string> present;
  std::vector<const ember_storage::object_delete*> of_present;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (rows[i] && rows[i]->exists) {
      present.push_back(ids[i]);
      of_present.push_back(&deletes[i]);
    } else if (!deletes[i].version.empty()) {
      ember_storage::fail(ember_storage::error::version_mismatch);
    }
  }
  const auto now = static_cast<std::int64_t>(data::unix_ms());
  std::vector<std::int64_t> versions;
  auto change = [&](std::span<ember_storage::storage_object> rs) {
    versions.clear();
    for (std::size_t i = 0; i < rs.size(); ++i) {
      auto& r = rs[i];
      if (who && r.exists && r.write != ember_storage::write_permission::owner_write)
        ember_storage::fail(ember_storage::error::permission_denied);
      if (!of_present[i]->version.empty() && !detail::version_holds(of_present[i]->version, r))
        ember_storage::fail(ember_storage::error::version_mismatch);
      if (r.exists) ++r.version;  // deleted meanwhile: nothing to do
      r.exists = false;
      r.value.clear();
      r.public_in.clear();
      r.updated_ms = now;
      versions.push_back(r.version);
    }
  };
  if (!co_await run_batch(present, op_key, change, versions)) co_return;
  for (const auto* d : of_present)
    bus_.publish(ember_storage::object_written(d->collection, d->key, d->owner, std::string(), who.value_or(0)));
}

EMBER_DECL asio::awaitable<std::vector<ember_storage::stored_object>> service::read(
    caller who, std::vector<ember_storage::object_id> ids) {
  if (ids.size() > options_.max_batch) ember_storage::fail(ember_storage::error::too_many);
  std::vector<std::string> keys;
  for (auto& id : ids) {
    detail::check_name(id.collection, options_);
    detail::check_name(id.key, options_);
    keys.push_back(detail::row_id(id.collection, id.key, detail::owner_of(who, id.owner)));
  }
  std::vector<ember_storage::stored_object> out;
  if (keys.empty()) co_return out;
  for (auto& r : co_await objects_.get_many(std::move(keys)))
    if (r && detail::may_read(who, *r)) out.push_back(detail::to_object(*r));
  co_return out;
}

EMBER_DECL asio::awaitable<std::pair<std::vector<ember_storage::stored_object>, std::string>>
service::list_public(std::string collection, std::uint64_t owner, std::string cursor, std::size_t limit) {
  detail::check_name(collection, options_);
  limit = limit == 0 ? options_.max_page : std::min(limit, options_.max_page);
  std::optional<std::pair<std::string, std::int64_t>> after;
  if (!cursor.empty()) after = detail::parse_cursor(cursor, options_);
  auto rows = co_await objects_.find<ember_storage::storage_object_table::by_public_in>(collection);
  std::erase_if(rows, [&](const auto& r) {
    return !r.exists || r.read != ember_storage::read_permission::public_read ||
           (owner != 0 && static_cast<std::uint64_t>(r.owner) != owner) ||
           (after && std::tie(r.object_key, r.owner) <= std::tie(after->first, after->second));
  });
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return std::tie(a.object_key, a.owner) < std::tie(b.object_key, b.owner); });
  std::pair<std::vector<ember_storage::stored_object>, std::string> page;
  for (std::size_t i = 0; i < rows.size() && i < limit; ++i) page.first.push_back(detail::to_object(rows[i]));
  if (rows.size() > limit) page.second = detail::cursor_of(rows[limit - 1]);
  co_return page;
}

EMBER_DECL void service::check_distinct(const std::vector<std::string>& ids) {
  std::set<std::string_view> seen(ids.begin(), ids.end());
  if (seen.size() != ids.size()) ember_storage::fail(ember_storage::error::duplicate_object);
}

EMBER_DECL asio::awaitable<std::optional<std::string>> service::prepare_op(const caller& who,
                                                                           const std::string& op_id) {
  if (op_id.empty()) co_return std::nullopt;
  if (check_text(op_id, options_.max_op_id_chars) != text_problem::none) ember_storage::fail(ember_storage::error::bad_op_id);
  auto key = std::to_string(who.value_or(0)) + ':' + op_id;
  if (!co_await ops_.get(key)) co_await ensure_row(ops_, ember_storage::storage_op(key, false, std::string()));
  co_return key;
}

EMBER_DECL asio::awaitable<std::optional<std::string>> service::done_op(const std::string& key) {
  auto op = co_await ops_.get(key);
  if (op && op->done) co_return op->versions;
  co_return std::nullopt;
}

EMBER_DECL std::vector<ember_storage::object_ack> service::acks_of(
    const std::vector<ember_storage::object_write>& writes, std::string_view versions) {
  std::vector<ember_storage::object_ack> acks;
  for (const auto& w : writes) {
    const auto comma = versions.find(',');
    acks.emplace_back(w.collection, w.key, w.owner, std::string(versions.substr(0, comma)));
    versions = comma == std::string_view::npos ? std::string_view() : versions.substr(comma + 1);
  }
  return acks;
}

EMBER_DECL asio::awaitable<void> service::check_public_room(
    const std::vector<ember_storage::object_write>& writes,
    const std::vector<std::optional<ember_storage::storage_object>>& rows) {
  std::vector<std::pair<std::string, std::size_t>> adding;  // collection, objects made public
  for (std::size_t i = 0; i < writes.size(); ++i) {
    const bool already = rows[i] && rows[i]->exists && !rows[i]->public_in.empty();
    if (writes[i].read != ember_storage::read_permission::public_read || already) continue;
    auto it = std::find_if(adding.begin(), adding.end(), [&](const auto& a) { return a.first == writes[i].collection; });
    if (it == adding.end()) adding.emplace_back(writes[i].collection, 1);
    else ++it->second;
  }
  for (const auto& [collection, n] : adding) {
    auto now = co_await objects_.find<ember_storage::storage_object_table::by_public_in>(collection);
    if (now.size() + n > options_.max_public_per_collection) ember_storage::fail(ember_storage::error::collection_full);
  }
}

EMBER_DECL asio::awaitable<ember_storage::write_objects_reply> handler::write_objects(
    net::session& s, const ember_storage::write_objects_request& req) {
  co_return ember_storage::write_objects_reply{co_await service_.write(user(s), req.writes, req.op_id)};
}

EMBER_DECL asio::awaitable<ember_storage::read_objects_reply> handler::read_objects(
    net::session& s, const ember_storage::read_objects_request& req) {
  co_return ember_storage::read_objects_reply{co_await service_.read(user(s), req.ids)};
}

EMBER_DECL asio::awaitable<ember_storage::delete_objects_reply> handler::delete_objects(
    net::session& s, const ember_storage::delete_objects_request& req) {
  co_await service_.remove(user(s), req.deletes, req.op_id);
  co_return ember_storage::delete_objects_reply{};
}

EMBER_DECL asio::awaitable<ember_storage::list_objects_reply> handler::list_objects(
    net::session& s, const ember_storage::list_objects_request& req) {
  (void)user(s);
  auto [objects, cursor] = co_await service_.list_public(req.collection, req.owner, req.cursor, req.limit);
  co_return ember_storage::list_objects_reply{std::move(objects), std::move(cursor)};
}

EMBER_DECL std::uint64_t handler::user(net::session& s) {
  auto u = s.user();
  if (!u) ember_storage::fail(ember_storage::error::not_signed_in);
  return *u;
}

}  // namespace ember::modules::storage
