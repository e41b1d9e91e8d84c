// ember: the non-template code of the data layer that EMBER_SEPARATE_COMPILATION leaves out of
// every other translation unit. Include it in exactly one .cpp of the program; Meson's
// dependency('ember-data') does this for you (libember-data).
#pragma once

#if !defined(EMBER_SEPARATE_COMPILATION)
#error "ember/data/impl/src.hpp is for EMBER_SEPARATE_COMPILATION: define it for every file of the program"
#endif
