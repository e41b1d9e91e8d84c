// ember: the data layer of one server, assembled from its config.json entry. With `"db": true`
// a database pool on the top-level `db` (a relative SQLite file is found beside the config
// file); with `"mem": true` a memcached client on the top-level `memcached` (its `namespace`
// prefixes every key); with both, the `data::store` that the handler module's tables attach
// to, its journal in DATA_DIR/journal/NAME.journal.
//
//   ember::app::host h(io, cfg, "game1");
//   ember::app::data_layer data(h);                   // h.store() is set from here on
//   game_logic logic(h);                              // makes its data::table<T>s on *h.store()
//   co_await data.open();                             // schemas, journal replay, write-back
//   h.start(...);                                     // h.stop() flushes every dirty row
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <asio/awaitable.hpp>

#include "ember/app/host.hpp"
#include "ember/codec/json_writer.hpp"
#include "ember/data/store.hpp"
#include "ember/log.hpp"

namespace ember::app {

/// `connection` with a relative SQLite `Database=` made relative to `dir` (ODBC would take it
/// relative to the working directory, which a master or a service manager chooses).
inline std::string resolve_sqlite_file(std::string connection, const std::filesystem::path& dir) {
  std::string lower = connection;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::size_t at = 0;
  while ((at = lower.find("database=", at)) != std::string::npos && at != 0 && lower[at - 1] != ';') ++at;
  if (at == std::string::npos) return connection;
  const auto begin = at + 9;
  const auto end = std::min(connection.find(';', begin), connection.size());
  const std::filesystem::path file = connection.substr(begin, end - begin);
  if (file.empty() || file.is_absolute() || file == ":memory:") return connection;
  return connection.replace(begin, end - begin, (dir / file).lexically_normal().string());
}

/// A server's database, memcached and store, as its config entry asks.
class data_layer {
 public:
  /// Builds what `h.self()` asks for (nothing connects yet) and gives the host the store.
  explicit data_layer(host& h) : host_(h) {
    const auto& self = h.self();
    const auto& cfg = h.config();
    if (self.db) {
      if (!cfg.db) throw std::invalid_argument("servers." + self.name + ".db is true but the config has no db");
      auto conn = cfg.db->connection;
      if (cfg.db->driver == db_driver::sqlite) conn = resolve_sqlite_file(std::move(conn), h.data_dir());
      db_.emplace(std::move(conn));
    }
    if (self.mem) {
      if (!cfg.memcached)
        throw std::invalid_argument("servers." + self.name + ".mem is true but the config has no memcached");
      data::memcache_options o;
      for (const auto& s : cfg.memcached->servers)
        o.servers.push_back((s.host.find(':') != std::string::npos ? "[" + s.host + "]" : s.host) + ":" +
                            std::to_string(s.port));
      if (!cfg.memcached->key_namespace.empty()) o.key_prefix = cfg.memcached->key_namespace + ":";
      cache_.emplace(std::move(o));
    }
    if (db_ && cache_) {
      const auto dir = h.data_dir() / "journal";
      std::filesystem::create_directories(dir);
      store_.emplace(*cache_, *db_, data::store_options{.journal = dir / (self.name + ".journal")});
      h.set_store(&*store_);
      h.on_stop([this]() -> asio::awaitable<void> { co_await stop(); });
    }
  }
  ~data_layer() {
    if (store_) host_.set_store(nullptr);
  }
  data_layer(const data_layer&) = delete;
  data_layer& operator=(const data_layer&) = delete;

  /// Null when the config entry did not ask for it.
  data::store* store() noexcept { return store_ ? &*store_ : nullptr; }
  data::database* database() noexcept { return db_ ? &*db_ : nullptr; }
  data::memcache* cache() noexcept { return cache_ ? &*cache_ : nullptr; }

  /// Once the tables exist: creates and migrates them, writes back what the journal of a
  /// previous run holds, and starts write-back. Throws `data::data_error` (database or
  /// memcached unreachable, a memcached that evicts, ...).
  asio::awaitable<void> open() {
    if (!store_) co_return;
    co_await store_->open();
    store_->start(host_.context().get_executor());
    log::info("data: store open (journal {})", store_->options().journal.string());
  }

  /// Writes back every dirty row; the host calls it when it stops, after its clients drained.
  asio::awaitable<void> stop() {
    if (!store_ || stopped_) co_return;
    stopped_ = true;
    const auto left = co_await store_->stop();
    if (left == 0)
      log::info("data: every change written back");
    else
      log::error("data: {} rows could not be written back; they stay in the journal {} for the next start",
                 left, store_->options().journal.string());
  }

  /// Figures for the master's status page.
  void write_status(codec::json_writer& w) const {
    if (store_) {
      w.key("dirty_rows"), w.value_uint(store_->dirty_count());
      w.key("oldest_dirty_ms"), w.value_uint(static_cast<std::uint64_t>(store_->oldest_dirty_age().count()));
    }
    if (cache_) w.key("memcached_queue"), w.value_uint(cache_->queue_depth());
    if (db_) w.key("database_queue"), w.value_uint(db_->queue_depth());
  }

 private:
  host& host_;
  std::optional<data::database> db_;
  std::optional<data::memcache> cache_;
  std::optional<data::store> store_;
  bool stopped_ = false;
};

}  // namespace ember::app
