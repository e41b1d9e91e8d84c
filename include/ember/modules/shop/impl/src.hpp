// ember: the shop module's bodies that EMBER_SEPARATE_COMPILATION leaves out of every other
// translation unit; Meson's dependency('ember-shop') compiles them once (libember-shop).
#pragma once

#if !defined(EMBER_SEPARATE_COMPILATION)
#error "ember/modules/shop/impl/src.hpp is for EMBER_SEPARATE_COMPILATION: define it for every file of the program"
#endif

#include "ember/modules/shop/impl/shop.hpp"
