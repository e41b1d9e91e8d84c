// ember: EMBER_DECL, which lets the runtime's non-template code compile once per program.
//
// Every runtime header declares; its bodies sit in an impl/ header beside it. By default
// (header-only) the public header includes them, and every translation unit that uses the
// runtime compiles what it uses. With EMBER_SEPARATE_COMPILATION defined for every file of a
// program, as Asio's ASIO_SEPARATE_COMPILATION, the public headers hold declarations and
// templates only, and the bodies compile once: in the file that includes <ember/impl/src.hpp>
// (and <ember/data/impl/src.hpp> for the data layer). Meson's dependency('ember') and
// dependency('ember-data') do this for you: they define the macro and link libember and
// libember-data, built from those two headers.
#pragma once

#if defined(EMBER_SEPARATE_COMPILATION)
#define EMBER_DECL
#else
#define EMBER_DECL inline
#endif
