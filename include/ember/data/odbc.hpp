// ember: blocking ODBC wrappers for the data layer — a connection, prepared statements whose
// parameters are always bound (never spliced into SQL), typed cursors, and parameter-array
// batches for write-back. Every call blocks and nothing here is thread-safe: use a connection on
// one thread at a time, in practice on a worker of `ember::data::database`.
//
// Deployment notes (both drivers as packaged by Debian 12):
// - psqlODBC logs every connection to a file in /tmp because Debian's /etc/odbcinst.ini sets
//   `CommLog=1`, and the connection string cannot turn that off. Point `ODBCSYSINI` at a
//   directory holding a copy of odbcinst.ini with `CommLog=0`, before the first ODBC call.
// - psqlODBC: put `Protocol=7.4-1` in the connection string. The default 7.4-2 wraps every
//   statement in a savepoint so that a failed statement rolls back alone, which ember never
//   needs (its transactions roll back as a whole on any error). Measured: 52k vs 28k rows/s
//   with raw two-column arrays on a loaded machine, 75k vs 72k with ember's five-column batches
//   on a quiet one.
// - psqlODBC sends parameter arrays in sub-batches of `BatchSize` rows (default 100). When a row
//   fails, `batch_error::failed_rows()` is that row on a statement's first batch, and the whole
//   sub-batch holding it on later batches (measured, psqlODBC 13.02).
// - SQLite (libsqlite3odbc 0.9998): see `connect_options::sqlite_busy_timeout`. It reports
//   constraint violations as HY000 with SQLite's code 19; they are reported here as `constraint`
//   with SQLSTATE 23000. It reads REAL values through SQLite's text form, with 15 significant
//   digits: a double is stored exactly but may read back different in its last digits (once:
//   the rounded value reads back as itself).
#pragma once

// The parts, one purpose each: value.hpp (parameter values), batch.hpp (batch results and
// errors), cursor.hpp, statement.hpp, connection.hpp; detail/handle.hpp (owned ODBC handles).
#include "ember/data/odbc/batch.hpp"
#include "ember/data/odbc/connection.hpp"
#include "ember/data/odbc/cursor.hpp"
#include "ember/data/odbc/statement.hpp"
#include "ember/data/odbc/value.hpp"
