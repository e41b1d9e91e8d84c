// ember: the friends module's bodies that EMBER_SEPARATE_COMPILATION leaves out of every other
// translation unit; Meson's dependency('ember-friends') compiles them once (libember-friends).
#pragma once

#if !defined(EMBER_SEPARATE_COMPILATION)
#error "ember/modules/friends/impl/src.hpp is for EMBER_SEPARATE_COMPILATION: define it for every file of the program"
#endif

#include "ember/modules/friends/impl/friends.hpp"

// The registration of the module's commands that every program calls (extern in its header).
template void ember_friends::register_commands<0>(ember::net::dispatch_table&,
                                              ember_friends::friends_handler&);
