// ember: the non-template code of the runtime (all but the data layer) that
// EMBER_SEPARATE_COMPILATION leaves out of every other translation unit. Include it in exactly
// one .cpp of the program; Meson's dependency('ember') does this for you (libember).
#pragma once

#if !defined(EMBER_SEPARATE_COMPILATION)
#error "ember/impl/src.hpp is for EMBER_SEPARATE_COMPILATION: define it for every file of the program"
#endif

#include "ember/impl/error.hpp"
#include "ember/impl/log.hpp"
#include "ember/detail/impl/host_port.hpp"
#include "ember/wire/impl/websocket.hpp"
#include "ember/net/detail/impl/call_table.hpp"
#include "ember/net/impl/dispatch.hpp"
#include "ember/net/impl/client.hpp"
#include "ember/net/impl/server.hpp"
#include "ember/cluster/impl/src.hpp"
#include "ember/app/impl/src.hpp"
