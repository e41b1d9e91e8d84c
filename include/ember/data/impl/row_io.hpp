// ember: bodies of the schema queries of ember/data/row_io.hpp.
#pragma once

#include "ember/data/row_io.hpp"

namespace ember::data {

EMBER_DECL std::set<std::string> existing_columns(odbc::connection& c, dialect d, std::string_view name) {
  std::set<std::string> out;
  auto cur = d == dialect::postgresql
                 ? c.prepare("SELECT column_name FROM information_schema.columns WHERE table_name = ?")
                       .query(std::string(name))
                 : c.prepare("SELECT name FROM pragma_table_info(?)").query(std::string(name));
  while (cur.next()) out.insert(cur.get<std::string>(0));
  return out;
}

EMBER_DECL void create_key_table(odbc::connection& c) {
  c.execute("CREATE TABLE IF NOT EXISTS ember_keys (name TEXT PRIMARY KEY, next_key BIGINT NOT NULL)");
}

// The lock's key is any number of ember's own: its schema changes take turns under it.
EMBER_DECL schema_turn::schema_turn(odbc::connection& c, dialect d) : held_(d == dialect::postgresql ? &c : nullptr) {
  if (held_) held_->execute("SELECT pg_advisory_lock(7305280041)");
}

EMBER_DECL schema_turn::~schema_turn() {
  if (!held_) return;
  try {
    held_->execute("SELECT pg_advisory_unlock(7305280041)");
  } catch (const std::exception&) {  // a broken connection: PostgreSQL dropped the lock with it
  }
}

}  // namespace ember::data
