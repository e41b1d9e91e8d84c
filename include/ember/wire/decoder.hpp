// ember: both incremental frame decoders, native and Firefly.
#pragma once

#include "ember/wire/basic_decoder.hpp"    // IWYU pragma: export
#include "ember/wire/firefly_decoder.hpp"  // IWYU pragma: export
#include "ember/wire/limits.hpp"           // IWYU pragma: export
#include "ember/wire/native_decoder.hpp"   // IWYU pragma: export
