// Test support: what a test of the data layer or of a gameplay module runs on — a database (a
// fresh SQLite file, or a fresh database on one PostgreSQL shared by the whole test program),
// a memcached of its own, and a folder for journals; and a store opened over them.
//
//   EMBER_ON_BOTH_DATABASES(claims_apply_once) {      // runs as _sqlite and _postgresql
//     asio::io_context io;
//     ember::test::data_env::node n(e, io);           // n.store: an ember::data::store
//     my_module::service s(n.store, ...);             // tables are made on the store
//     n.open();                                       // then it opens (creates them)
//     ...
//   }
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <asio/io_context.hpp>

#include "ember/data/database.hpp"
#include "ember/data/memcache.hpp"
#include "ember/data/odbc.hpp"
#include "ember/data/store.hpp"
#include "support/memcached.hpp"
#include "support/postgres.hpp"
#include "support/run.hpp"

namespace ember::test {

/// One PostgreSQL for the whole test program (it takes about a second to start).
inline postgres& shared_postgres() {
  static postgres pg;
  return pg;
}

struct data_env {
  explicit data_env(bool on_postgres) : postgres_(on_postgres) {
    static int counter = 0;
    dir = std::filesystem::temp_directory_path() /
          ("ember-data-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    std::filesystem::create_directories(dir);
    if (on_postgres) {
      auto& pg = shared_postgres();
      const auto name = "t" + std::to_string(counter);
      asio::io_context io;
      data::database admin(pg.connection_string());
      run(io, admin.run([name](data::odbc::connection& c) {
        c.execute("DROP DATABASE IF EXISTS " + name);
        c.execute("CREATE DATABASE " + name);
      }));
      connection = pg.connection_string();
      const auto at = connection.find("Database=postgres");
      connection.replace(at, std::string("Database=postgres").size(), "Database=" + name);
    } else {
      connection = "Driver=SQLite3;Database=" + (dir / "game.db").string() + ";";
    }
  }
  ~data_env() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  data_env(const data_env&) = delete;
  data_env& operator=(const data_env&) = delete;

  bool on_postgres() const noexcept { return postgres_; }

  /// A process's view of the data: its memcached client, database pool and store, on `io`
  /// (several nodes of one env are several processes sharing the data).
  struct node {
    node(data_env& e, asio::io_context& io, const std::string& journal = "node.journal",
         std::chrono::milliseconds fence_timeout = std::chrono::seconds(10))
        : cache({.servers = {e.mc.address()}, .key_prefix = "t:"}),
          db(e.connection),
          store(cache, db, {.journal = e.dir / journal, .fence_timeout = fence_timeout}),
          io_(io) {}
    /// Opens the store once the tables are made on it (it creates what they need).
    void open() { run(io_, store.open()); }
    data::memcache cache;
    data::database db;
    data::store store;

   private:
    asio::io_context& io_;
  };

  /// One integer from the database, read with a plain query (-1 for NULL).
  std::int64_t scalar(const std::string& sql) {
    asio::io_context io;
    data::database db(connection);
    return run(io, db.run([sql](data::odbc::connection& c) {
      auto cur = c.prepare(sql).query();
      if (!cur.next()) throw std::runtime_error("no row: " + sql);
      return cur.get<std::optional<std::int64_t>>(0).value_or(-1);
    }));
  }

  std::filesystem::path dir;
  std::string connection;
  memcached_server mc;

 private:
  bool postgres_;
};

}  // namespace ember::test

/// Defines the test `name` twice, on SQLite and on PostgreSQL: its body sees `e`, the data_env.
#define EMBER_ON_BOTH_DATABASES(name)                                                   \
  void name(ember::test::data_env& e);                                                  \
  BOOST_AUTO_TEST_CASE(name##_sqlite) { ember::test::data_env e(false); name(e); }      \
  BOOST_AUTO_TEST_CASE(name##_postgresql) { ember::test::data_env e(true); name(e); }   \
  void name(ember::test::data_env& e)
