// ember: the matchmaking module's bodies that EMBER_SEPARATE_COMPILATION leaves out of every
// other translation unit; Meson's dependency('ember-matchmaking') compiles them once
// (libember-matchmaking).
#pragma once

#if !defined(EMBER_SEPARATE_COMPILATION)
#error "ember/modules/matchmaking/impl/src.hpp is for EMBER_SEPARATE_COMPILATION: define it for every file of the program"
#endif

#include "ember/modules/matchmaking/impl/matchmaking.hpp"

// The registration of the module's commands that every program calls (extern in its header).
template void ember_matchmaking::register_commands<0>(ember::net::dispatch_table&,
                                              ember_matchmaking::matchmaking_handler&);
