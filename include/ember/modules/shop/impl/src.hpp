// ember: the shop module's bodies that EMBER_SEPARATE_COMPILATION leaves out of every other
// translation unit; Meson's dependency('ember-shop') compiles them once (libember-shop).
#pragma once

#if !defined(EMBER_SEPARATE_COMPILATION)
#error "ember/modules/shop/impl/src.hpp is for EMBER_SEPARATE_COMPILATION: define it for every file of the program"
#endif

#include "ember/modules/shop/impl/shop.hpp"

// The registration of the module's commands that every program calls (extern in its header).
template void ember_shop::register_commands<0>(ember::net::dispatch_table&,
                                              ember_shop::shop_handler&);
