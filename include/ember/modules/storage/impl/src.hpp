// ember: the storage module's bodies that EMBER_SEPARATE_COMPILATION leaves out of every other
// translation unit; Meson's dependency('ember-storage') compiles them once (libember-storage).
#pragma once

#if !defined(EMBER_SEPARATE_COMPILATION)
#error "ember/modules/storage/impl/src.hpp is for EMBER_SEPARATE_COMPILATION: define it for every file of the program"
#endif

#include "ember/modules/storage/impl/storage.hpp"

// The registration of the module's commands that every program calls (extern in its header).
template void ember_storage::register_commands<0>(ember::net::dispatch_table&,
                                              ember_storage::storage_handler&);
