// ember's player storage module (docs/modules/storage.md): JSON objects addressed by
// (collection, key, owner), with read and write permissions, a version for compare-and-swap
// ("" any, "*" only if absent, or the current version), batches applied all or none, and the
// public objects of a collection listed page by page.
//
// An object is a row of `storage_object`. A batch locks its rows with
// `ember::data::transact_many`, which locks rows that exist: an object never written is first
// made as a placeholder row (exists = false), so "only if absent" and a first write are a
// change of a row like any other. A delete keeps the row (exists = false) and its version
// counter, so an old version never becomes current again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "ember/data/cache_entry.hpp"
#include "ember/data/error.hpp"
#include "ember/data/table.hpp"
#include "ember/data/transaction.hpp"
#include "ember/modules/events.hpp"
#include "ember/modules/storage/detail/ember_storage.hpp"
#include "ember/modules/storage/detail/ember_storage_server.hpp"
#include "ember/net/session.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::app {
class module_options;  // ember/app/module_options.hpp
}

namespace ember::modules::storage {

struct options {
  std::size_t max_value_bytes = 16 * 1024;           ///< of one object's JSON text
  std::size_t max_batch = 64;                        ///< writes, deletes or reads in one request
  std::size_t max_name_chars = 128;                  ///< of a collection or a key
  std::size_t max_op_id_chars = 64;
  std::size_t max_page = 100;                        ///< objects in one listed page
  std::size_t max_public_per_collection = 1000;      ///< public objects of one collection

  /// From config.json's `modules.storage` (the same names).
  static options read(app::module_options& o);
};

/// Who asks: a player (clients, through the handler) or the server itself (the game, other
/// modules), which may read and write every object.
using caller = std::optional<std::uint64_t>;
inline constexpr caller server_caller = std::nullopt;

/// The typed interface the game and other modules call. Player-facing checks (permissions,
/// "only the caller's own objects") apply when `who` is a player; `server_caller` may do all.
class service {
 public:
  service(data::store& s, event_bus& bus, options o = {})
      : store_(s), bus_(bus), options_(o), objects_(s), ops_(s) {}

  const options& limits() const noexcept { return options_; }

  /// Writes `writes` all or none; returns each object's new version, in order. A non-empty
  /// `op_id` makes a retry of the same batch (same caller, same op id) return the first
  /// result and change nothing.
  asio::awaitable<std::vector<ember_storage::object_ack>> write(caller who, std::vector<ember_storage::object_write> writes,
                                                                std::string op_id = {});

  /// Deletes `deletes` all or none. An object that does not exist is skipped, unless a
  /// version was expected of it (version_mismatch).
  asio::awaitable<void> remove(caller who, std::vector<ember_storage::object_delete> deletes, std::string op_id = {});

  /// The objects of `ids` that exist and `who` may read, in the order asked.
  asio::awaitable<std::vector<ember_storage::stored_object>> read(caller who, std::vector<ember_storage::object_id> ids);

  /// One page of the public objects of `collection` (only `owner`'s if not 0), in (key,
  /// owner) order, after `cursor` (empty: from the start); and the cursor of the next page
  /// (empty: this was the last).
  asio::awaitable<std::pair<std::vector<ember_storage::stored_object>, std::string>> list_public(
      std::string collection, std::uint64_t owner, std::string cursor, std::size_t limit);

 private:
  struct applied_by_twin {};

  static void check_distinct(const std::vector<std::string>& ids);

  template <class Table, class Row>
  static asio::awaitable<void> ensure_row(Table& t, Row r) {
    try {
      co_await t.insert(std::move(r));
    } catch (const data::data_error& e) {
      if (e.code() != data::data_errc::constraint) throw;  // made meanwhile: fine
    }
  }

  /// The op row's key for a batch with an op id (made if new), or nullopt without one.
  asio::awaitable<std::optional<std::string>> prepare_op(const caller& who, const std::string& op_id);

  /// The versions a batch with this op key wrote, if it was applied.
  asio::awaitable<std::optional<std::string>> done_op(const std::string& key);

  static std::vector<ember_storage::object_ack> acks_of(const std::vector<ember_storage::object_write>& writes,
                                                        std::string_view versions);

  /// Refuses a batch that would make a collection hold more public objects than allowed. A
  /// check before the batch, so two batches at once may pass it together: the cap bounds
  /// the listing, it is not a quota.
  asio::awaitable<void> check_public_room(const std::vector<ember_storage::object_write>& writes,
                                          const std::vector<std::optional<ember_storage::storage_object>>& rows);

  /// Runs `change` over the rows of `ids` in one transaction, with the op row (marked done,
  /// holding `versions`) when there is an op key. A retry that finds the op done by a
  /// concurrent twin returns false: the twin applied the batch (`versions` are its).
  template <class Change>
  asio::awaitable<bool> run_batch(const std::vector<std::string>& ids, const std::optional<std::string>& op_key,
                                  Change& change, std::vector<std::int64_t>& versions) {
    std::vector<data::row_ref<ember_storage::storage_object_table>> refs;
    for (const auto& id : ids) refs.push_back(data::at(objects_, id));
    if (!op_key) {
      co_await data::transact_many(store_, [&](std::span<ember_storage::storage_object> rs) { change(rs); }, std::move(refs));
      co_return true;
    }
    std::string twin_versions;
    try {
      co_await data::transact_many(
          store_,
          [&](std::span<ember_storage::storage_object> rs, ember_storage::storage_op& op) {
            if (op.done) {
              twin_versions = op.versions;
              throw applied_by_twin{};
            }
            change(rs);
            op.done = true;
            op.versions.clear();
            for (auto v : versions) op.versions += (op.versions.empty() ? "" : ",") + std::to_string(v);
          },
          std::move(refs), data::at(ops_, *op_key));
    } catch (const applied_by_twin&) {
      versions.clear();
      for (const auto& a : acks_of(std::vector<ember_storage::object_write>(ids.size()), twin_versions))
        versions.push_back(a.version.empty() ? 0 : std::stoll(a.version));
      co_return false;
    }
    co_return true;
  }

  data::store& store_;
  event_bus& bus_;
  options options_;
  data::table<ember_storage::storage_object_table> objects_;
  data::table<ember_storage::storage_op_table> ops_;
};

/// The client commands: each the caller's own objects, through the service.
class handler final : public ember_storage::storage_handler {
 public:
  explicit handler(service& s) : service_(s) {}

  asio::awaitable<ember_storage::write_objects_reply> write_objects(net::session& s,
                                                                    const ember_storage::write_objects_request& req) override;
  asio::awaitable<ember_storage::read_objects_reply> read_objects(net::session& s,
                                                                  const ember_storage::read_objects_request& req) override;
  asio::awaitable<ember_storage::delete_objects_reply> delete_objects(net::session& s,
                                                                      const ember_storage::delete_objects_request& req) override;
  asio::awaitable<ember_storage::list_objects_reply> list_objects(net::session& s,
                                                                  const ember_storage::list_objects_request& req) override;

 private:
  static std::uint64_t user(net::session& s);

  service& service_;
};

}  // namespace ember::modules::storage

#if defined(EMBER_SEPARATE_COMPILATION)
// Registering the module's commands compiles once, in its library (impl/src.hpp), not in
// every file that registers them.
extern template void ember_storage::register_commands<0>(ember::net::dispatch_table&,
    ember_storage::storage_handler&);
#else
#include "ember/modules/storage/impl/storage.hpp"
#endif
