// ember: the leaderboard module's bodies that EMBER_SEPARATE_COMPILATION leaves out of every
// other translation unit; Meson's dependency('ember-leaderboard') compiles them once
// (libember-leaderboard).
#pragma once

#if !defined(EMBER_SEPARATE_COMPILATION)
#error "ember/modules/leaderboard/impl/src.hpp is for EMBER_SEPARATE_COMPILATION: define it for every file of the program"
#endif

#include "ember/modules/leaderboard/impl/leaderboard.hpp"

// The registration of the module's commands that every program calls (extern in its header).
template void ember_leaderboard::register_commands<0>(ember::net::dispatch_table&,
                                              ember_leaderboard::leaderboard_handler&);
