// ember: bodies of the dispatch table (ember/net/dispatch.hpp).
#pragma once

#include "ember/net/dispatch.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace ember::net {

EMBER_DECL void dispatch_table::insert(const command_entry& e) {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), e.id,
                             [](const command_entry& x, std::uint32_t v) { return x.id < v; });
  if (it != entries_.end() && it->id == e.id)
    throw std::logic_error("command id " + std::to_string(e.id) + " registered twice");
  entries_.insert(it, e);
  if (stats_) stats_->add(e.id);
}

EMBER_DECL void dispatch_table::run_retries(std::uint16_t id) {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), id,
                             [](const command_entry& x, std::uint32_t v) { return x.id < v; });
  if (it == entries_.end() || it->id != id)
    throw std::logic_error("run_retries: no command " + std::to_string(id) + " registered");
  it->replay_retries = false;
}

}  // namespace ember::net
