// ember: the bodies of app::data_layer (ember/app/data_layer.hpp). Under
// EMBER_SEPARATE_COMPILATION they compile into libember-data (ember/data/impl/src.hpp), with
// the rest of the data layer.
#pragma once

#include "ember/app/data_layer.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <stdexcept>
#include <utility>

#include "ember/detail/prometheus.hpp"
#include "ember/log.hpp"

namespace ember::app {

EMBER_DECL std::string resolve_sqlite_file(std::string connection,
                                           const std::filesystem::path& dir) {
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

EMBER_DECL data_layer::data_layer(host& h) : host_(h) {
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
  if (db_ || cache_) {
    h.add_health_source("data", health_source{
        [this](ember::detail::prometheus_writer& w) { write_metrics(w); },
        [this] { return opened_ ? std::string() : std::string("data layer not open"); }});
  }
}

EMBER_DECL data_layer::~data_layer() {
  host_.remove_health_source("data");
  if (store_) host_.set_store(nullptr);
}

EMBER_DECL asio::awaitable<void> data_layer::open() {
  if (!store_) {
    opened_ = true;
    co_return;
  }
  co_await store_->open();
  store_->start(host_.context().get_executor());
  opened_ = true;
  log::info("data: store open (journal {})", store_->options().journal.string());
}

EMBER_DECL asio::awaitable<void> data_layer::stop() {
  if (!store_ || stopped_) co_return;
  stopped_ = true;
  const auto left = co_await store_->stop();
  if (left == 0)
    log::info("data: every change written back");
  else
    log::error("data: {} rows could not be written back; they stay in the journal {} for the next start",
               left, store_->options().journal.string());
}

EMBER_DECL void data_layer::write_status(codec::json_writer& w) const {
  if (store_) {
    w.key("dirty_rows"), w.value_uint(store_->dirty_count());
    w.key("oldest_dirty_ms"), w.value_uint(static_cast<std::uint64_t>(store_->oldest_dirty_age().count()));
  }
  if (cache_) w.key("memcached_queue"), w.value_uint(cache_->queue_depth());
  if (db_) w.key("database_queue"), w.value_uint(db_->queue_depth());
}

EMBER_DECL void data_layer::write_metrics(ember::detail::prometheus_writer& w) const {
  if (store_) {
    w.single("ember_data_dirty_rows", "gauge", "Rows changed and not yet written back to the database.",
             store_->dirty_count());
    w.single("ember_data_oldest_dirty_age_seconds", "gauge",
             "Age of the oldest change not yet written back, in seconds (0: none).",
             static_cast<double>(store_->oldest_dirty_age().count()) / 1000.0);
    w.single("ember_data_journal_bytes", "gauge",
             "Size of the journal of acknowledged changes, in bytes.", store_->journal_bytes());
    const auto& c = store_->counters();
    w.single("ember_data_cache_hits_total", "counter", "Row reads memcached answered.", c.cache_hits);
    w.single("ember_data_cache_misses_total", "counter",
             "Rows loaded from the database after memcached missed.", c.cache_misses);
    w.single("ember_data_cas_retries_total", "counter",
             "Compare-and-swaps on memcached lost to another writer.", c.cas_retries);
    w.single("ember_data_rows_written_total", "counter", "Rows written back to the database.",
             c.rows_written);
    w.single("ember_data_uncertain_writes_total", "counter",
             "Row changes whose store memcached did not answer (outcome unknown).", c.uncertain_writes);
    w.single("ember_data_uncertain_stored_total", "counter",
             "Of those, found stored later, then journalled and written back.", c.uncertain_stored);
    w.single("ember_data_fence_waits_total", "counter",
             "Row loads that waited for other writers to write back after a memcached restart.",
             store_->fence_waits());
  }
  if (cache_)
    w.single("ember_data_memcached_queue_depth", "gauge",
             "memcached operations waiting for a worker.", cache_->queue_depth());
  if (db_)
    w.single("ember_data_database_queue_depth", "gauge", "Database operations waiting for a worker.",
             db_->queue_depth());
}

}  // namespace ember::app
