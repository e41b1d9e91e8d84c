// ember: the wire layer: buffers, frame headers, the frame encoder and both decoders.
#pragma once

#include "ember/buffer.hpp"   // IWYU pragma: export
#include "ember/wire/decoder.hpp"  // IWYU pragma: export
#include "ember/wire/encoder.hpp"  // IWYU pragma: export
#include "ember/wire/frame.hpp"    // IWYU pragma: export
#include "ember/wire/limits.hpp"   // IWYU pragma: export
