// ember: the `ember::net::session` a handler receives for a request that came over a link: the
// calling server, not a client. Pushes go back as notifies; groups and broadcasts belong to
// client-facing servers and throw `std::logic_error("not on a link")`.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ember/net/session.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::cluster {

class link;

/// The peer server of a link, seen as a session by generated handlers. It lives as long as
/// its link (and any request still running); user and attributes are kept here, locally.
class link_session final : public net::session {
 public:
  /// A session for the peer of `l`.
  explicit link_session(std::weak_ptr<link> l, std::uint64_t id);

  /// The link's id.
  std::uint64_t id() const noexcept override { return id_; }

  /// Groups are not available on a link: throws `std::logic_error`.
  void join(std::string_view) override { not_on_a_link(); }
  /// Groups are not available on a link: throws `std::logic_error`.
  void leave(std::string_view) override { not_on_a_link(); }
  /// Groups are not available on a link: throws `std::logic_error`.
  bool in_group(std::string_view) const override { not_on_a_link(); }

  /// Stored locally (0 unbinds).
  void bind_user(std::uint64_t user) override { user_ = user; }
  /// The bound user, if any.
  std::optional<std::uint64_t> user() const override {
    return user_ ? std::optional<std::uint64_t>(user_) : std::nullopt;
  }
  /// Stored locally, for as long as the link lives.
  void set_attribute(std::string_view key, std::string value) override {
    attributes_[std::string(key)] = std::move(value);
  }
  /// A stored attribute, if any.
  std::optional<std::string_view> attribute(std::string_view key) const override;

  /// The link's peer address.
  std::string remote_address() const override;
  /// Closes the link.
  void close(std::string_view reason) override;
  /// True while the link is open.
  bool is_open() const noexcept override;
  /// Sends the push as a notify on the link (dropped when the link is gone or overloaded).
  void push_body(std::uint16_t push_id, const net::body_writer& body) override;
  /// Broadcasts are not available on a link: throws `std::logic_error`.
  void broadcast_body(std::string_view, std::uint16_t, const net::body_writer&) override {
    not_on_a_link();
  }

 private:
  [[noreturn]] static void not_on_a_link();

  std::weak_ptr<link> link_;
  std::uint64_t id_;
  std::uint64_t user_ = 0;
  std::map<std::string, std::string, std::less<>> attributes_;
};

}  // namespace ember::cluster

#include "ember/cluster/link.hpp"

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/cluster/impl/link_session.hpp"
#endif
