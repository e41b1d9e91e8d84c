// ember: EMBER_DECL, which lets the heaviest implementations compile once per program.
//
// ember is header-only: by default every translation unit that includes ember/net/client.hpp
// compiles the client (and, through it, simdjson). A program of many such units may instead
// define EMBER_SEPARATE_COMPILATION for all of them and include <ember/impl/src.hpp> in exactly
// one .cpp, as Asio's ASIO_SEPARATE_COMPILATION does: the others then see declarations only.
#pragma once

#if defined(EMBER_SEPARATE_COMPILATION)
#define EMBER_DECL
#else
#define EMBER_DECL inline
#endif
