// The data layer's umbrella header (pkg-config `ember-data`): memcached in front of
// an ODBC database, typed tables, transactions and the write-back journal.
#pragma once

#include "ember/data/database.hpp"
#include "ember/data/error.hpp"
#include "ember/data/memcache.hpp"
#include "ember/data/store.hpp"
#include "ember/data/table.hpp"
#include "ember/data/transaction.hpp"
#include "ember/app/data_layer.hpp"
