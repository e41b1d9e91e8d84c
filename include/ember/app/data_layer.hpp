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

#include <filesystem>
#include <optional>
#include <string>

#include <asio/awaitable.hpp>

#include "ember/app/host.hpp"
#include "ember/codec/json_writer.hpp"
#include "ember/data/store.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::app {

/// `connection` with a relative SQLite `Database=` made relative to `dir` (ODBC would take it
/// relative to the working directory, which a master or a service manager chooses).
EMBER_DECL std::string resolve_sqlite_file(std::string connection,
                                           const std::filesystem::path& dir);

/// A server's database, memcached and store, as its config entry asks.
class data_layer {
 public:
  /// Builds what `h.self()` asks for (nothing connects yet) and gives the host the store.
  explicit data_layer(host& h);
  ~data_layer();
  data_layer(const data_layer&) = delete;
  data_layer& operator=(const data_layer&) = delete;

  /// Null when the config entry did not ask for it.
  data::store* store() noexcept { return store_ ? &*store_ : nullptr; }
  data::database* database() noexcept { return db_ ? &*db_ : nullptr; }
  data::memcache* cache() noexcept { return cache_ ? &*cache_ : nullptr; }

  /// Once the tables exist: creates and migrates them, writes back what the journal of a
  /// previous run holds, and starts write-back. Throws `data::data_error` (database or
  /// memcached unreachable, a memcached that evicts, ...).
  asio::awaitable<void> open();

  /// Writes back every dirty row; the host calls it when it stops, after its clients drained.
  asio::awaitable<void> stop();

  /// Figures for the master's status page.
  void write_status(codec::json_writer& w) const;
  /// The same figures as Prometheus metric families (the host's `/metrics`).
  void write_metrics(ember::detail::prometheus_writer& w) const;

 private:
  host& host_;
  std::optional<data::database> db_;
  std::optional<data::memcache> cache_;
  std::optional<data::store> store_;
  bool stopped_ = false;
  bool opened_ = false;
};

}  // namespace ember::app

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/app/impl/data_layer.hpp"
#endif
