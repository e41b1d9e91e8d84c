// ember: the implementations that EMBER_SEPARATE_COMPILATION leaves out of every other
// translation unit. Include this header in exactly one .cpp of the program.
#pragma once

#if !defined(EMBER_SEPARATE_COMPILATION)
#error "ember/impl/src.hpp is for EMBER_SEPARATE_COMPILATION: define it for every file of the program"
#endif

#include "ember/net/client.hpp"
#include "ember/net/impl/client.hpp"
