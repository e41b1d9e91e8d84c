// ember: the quests module's bodies that EMBER_SEPARATE_COMPILATION leaves out of every other
// translation unit; Meson's dependency('ember-quests') compiles them once (libember-quests).
#pragma once

#if !defined(EMBER_SEPARATE_COMPILATION)
#error "ember/modules/quests/impl/src.hpp is for EMBER_SEPARATE_COMPILATION: define it for every file of the program"
#endif

#include "ember/modules/quests/impl/quests.hpp"

// The registration of the module's commands that every program calls (extern in its header).
template void ember_quests::register_commands<0>(ember::net::dispatch_table&,
                                              ember_quests::quests_handler&);
