// ember: the guilds module's bodies that EMBER_SEPARATE_COMPILATION leaves out of every other
// translation unit; Meson's dependency('ember-guilds') compiles them once (libember-guilds).
#pragma once

#if !defined(EMBER_SEPARATE_COMPILATION)
#error "ember/modules/guilds/impl/src.hpp is for EMBER_SEPARATE_COMPILATION: define it for every file of the program"
#endif

#include "ember/modules/guilds/impl/guilds.hpp"

// The registration of the module's commands that every program calls (extern in its header).
template void ember_guilds::register_commands<0>(ember::net::dispatch_table&,
                                              ember_guilds::guilds_handler&);
