// ember: the notifications module's bodies that EMBER_SEPARATE_COMPILATION leaves out of every
// other translation unit; Meson's dependency('ember-notifications') compiles them once
// (libember-notifications).
#pragma once

#if !defined(EMBER_SEPARATE_COMPILATION)
#error "ember/modules/notifications/impl/src.hpp is for EMBER_SEPARATE_COMPILATION: define it for every file of the program"
#endif

#include "ember/modules/notifications/impl/notifications.hpp"

// The registration of the module's commands that every program calls (extern in its header).
template void ember_notifications::register_commands<0>(ember::net::dispatch_table&,
                                              ember_notifications::notifications_handler&);
