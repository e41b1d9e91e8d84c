// ember's umbrella header: everything libember provides (pkg-config `ember`).
//
// Namespaces follow folders: ember::net (sessions, dispatch, client),
// ember::cluster (links, routing, ownership), ember::app (host, config, modules),
// ember::codec and ember::wire (encodings and framing); the foundation types
// (buffer, outcome, errors, log, spawn) sit in ember itself. The data layer needs
// ODBC and links libember-data: include "ember/data.hpp" for it.
#pragma once

#include "ember/buffer.hpp"
#include "ember/command_info.hpp"
#include "ember/error.hpp"
#include "ember/log.hpp"
#include "ember/outcome.hpp"
#include "ember/request_deadline.hpp"
#include "ember/spawn.hpp"
#include "ember/version.hpp"

#include "ember/net/client.hpp"
#include "ember/net/dispatch.hpp"
#include "ember/net/groups.hpp"
#include "ember/net/server.hpp"
#include "ember/net/session.hpp"

#include "ember/cluster/backend.hpp"
#include "ember/cluster/gateway.hpp"
#include "ember/cluster/node.hpp"
#include "ember/cluster/ownership.hpp"
#include "ember/cluster/root.hpp"

#include "ember/app/host.hpp"
#include "ember/app/module.hpp"
