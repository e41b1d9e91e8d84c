// ember: the tournaments module's bodies that EMBER_SEPARATE_COMPILATION leaves out of every
// other translation unit; Meson's dependency('ember-tournaments') compiles them once
// (libember-tournaments).
#pragma once

#if !defined(EMBER_SEPARATE_COMPILATION)
#error "ember/modules/tournaments/impl/src.hpp is for EMBER_SEPARATE_COMPILATION: define it for every file of the program"
#endif

#include "ember/modules/tournaments/impl/tournaments.hpp"

// The registration of the module's commands that every program calls (extern in its header).
template void ember_tournaments::register_commands<0>(ember::net::dispatch_table&,
                                              ember_tournaments::tournaments_handler&);
