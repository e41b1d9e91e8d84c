// ember-bench is built with EMBER_SEPARATE_COMPILATION: the client compiles here, once.
#include "ember/impl/src.hpp"
