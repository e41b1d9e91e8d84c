// ember: the non-template code of the data layer that EMBER_SEPARATE_COMPILATION leaves out of
// every other translation unit. Include it in exactly one .cpp of the program; Meson's
// dependency('ember-data') does this for you (libember-data).
#pragma once

#if !defined(EMBER_SEPARATE_COMPILATION)
#error "ember/data/impl/src.hpp is for EMBER_SEPARATE_COMPILATION: define it for every file of the program"
#endif

#include "ember/data/impl/error.hpp"
#include "ember/data/impl/cache_entry.hpp"
#include "ember/data/impl/worker_pool.hpp"
#include "ember/data/impl/journal.hpp"
#include "ember/data/odbc/detail/impl/handle.hpp"
#include "ember/data/odbc/impl/batch.hpp"
#include "ember/data/odbc/impl/connection.hpp"
#include "ember/data/odbc/impl/cursor.hpp"
#include "ember/data/odbc/impl/statement.hpp"
#include "ember/data/odbc/impl/statement_batch.hpp"
#include "ember/data/impl/row_io.hpp"
#include "ember/data/impl/memcache.hpp"
#include "ember/data/impl/database.hpp"
#include "ember/data/impl/restart_fence.hpp"
#include "ember/data/impl/row_queue.hpp"
#include "ember/data/impl/store.hpp"
#include "ember/data/impl/table.hpp"

#include "ember/app/impl/data_layer.hpp"
