// ember: the cluster layer's non-template code, for ember/impl/src.hpp (EMBER_SEPARATE_COMPILATION).
#pragma once

#include "ember/cluster/detail/impl/auth_exchange.hpp"
#include "ember/cluster/detail/impl/cluster_wire.hpp"
#include "ember/cluster/impl/auth.hpp"
#include "ember/cluster/impl/backend.hpp"
#include "ember/cluster/impl/gateway.hpp"
#include "ember/cluster/impl/keyed_queue.hpp"
#include "ember/cluster/impl/link.hpp"
#include "ember/cluster/impl/link_session.hpp"
#include "ember/cluster/impl/node.hpp"
#include "ember/cluster/impl/ownership.hpp"
#include "ember/cluster/impl/root.hpp"
#include "ember/cluster/impl/route_wire.hpp"
