// ember: the inventory module's bodies that EMBER_SEPARATE_COMPILATION leaves out of every other
// translation unit; Meson's dependency('ember-inventory') compiles them once (libember-inventory).
#pragma once

#if !defined(EMBER_SEPARATE_COMPILATION)
#error "ember/modules/inventory/impl/src.hpp is for EMBER_SEPARATE_COMPILATION: define it for every file of the program"
#endif

#include "ember/modules/inventory/impl/bag_edit.hpp"
#include "ember/modules/inventory/impl/inventory.hpp"

// The registration of the module's commands that every program calls (extern in its header).
template void ember_inventory::register_commands<0>(ember::net::dispatch_table&,
                                              ember_inventory::inventory_handler&);
