// ember: bodies of cluster::link_session (included by ember/cluster/link_session.hpp).
#pragma once

#include "ember/cluster/link_session.hpp"

#include <stdexcept>

#include "ember/cluster/link.hpp"
#include "ember/log.hpp"

namespace ember::cluster {

EMBER_DECL link_session::link_session(std::weak_ptr<link> l, std::uint64_t id)
    : link_(std::move(l)), id_(id) {}

EMBER_DECL std::optional<std::string_view> link_session::attribute(std::string_view key) const {
  auto it = attributes_.find(key);
  if (it == attributes_.end()) return std::nullopt;
  return std::string_view(it->second);
}

EMBER_DECL void link_session::not_on_a_link() { throw std::logic_error("not on a link"); }

// link_session's members that need the whole link.
EMBER_DECL std::string link_session::remote_address() const {
  auto l = link_.lock();
  return l ? l->remote_address() : std::string("?");
}
EMBER_DECL void link_session::close(std::string_view reason) {
  if (auto l = link_.lock()) {
    log::info("link {}: closed by a handler: {}", l->peer().name, reason);
    l->close(make_error_code(errc::disconnected));
  }
}
EMBER_DECL bool link_session::is_open() const noexcept {
  auto l = link_.lock();
  return l && l->is_open();
}
EMBER_DECL void link_session::push_body(std::uint16_t push_id, const net::body_writer& body) {
  if (auto l = link_.lock()) (void)l->notify(push_id, body);
}


}  // namespace ember::cluster
