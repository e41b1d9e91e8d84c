// ember: a server's link to the master (config.json's `master.rootport`): it registers there
// like any node (name, type, the cluster secret), reconnects by itself when the master comes
// back, and answers the master's admin requests: status, reload of logic or data, stop, find or
// kick a player, change the log level, drain, ban an account (with the accounts module). A server runs the same with or without a master; the game never waits on it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "ember/app/host.hpp"
#include "ember/cluster/node.hpp"
#include "ember/codec/json_writer.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::app {

/// Admin requests from the master to a server (ember's reserved ids).
enum class admin_call : std::uint16_t {
  status = 0xff20,  ///< empty; reply: a JSON object (see `admin_link::status_json`)
  reload = 0xff21,  ///< u8 what (1 logic, 2 data); reply: JSON {"ok": bool, "message": str}
  stop = 0xff22,    ///< empty; reply: empty, then the server stops gracefully
  /// A notify from the master: the root named in the body (bytes of its name) has registered
  /// again, so a node waiting out its backoff links to it now (Firefly's rejoin).
  root_back = 0xff23,
  /// The user id as decimal text; reply: JSON {"session": bool, "session_id", "address",
  /// "owns": bool} — whether a client session of this server is bound to the user, and
  /// whether this backend owns the player (the master's console finds players with it).
  find_player = 0xff24,
  /// "USER\nREASON" (decimal id, a newline, UTF-8 text); reply: JSON {"ok": bool, "message"}.
  /// Ends the user's client session on this server with `status::session_expired` and the
  /// reason (the client may log in again; banning is the accounts module's, not this).
  kick = 0xff25,
  /// A level's name ("debug", "info", "warn" or "error"); reply: JSON {"ok": bool, "message",
  /// "level": the threshold now}. The server's log threshold changes at once, until the next
  /// such call or a restart (config.json's `log.level` is read at start only).
  set_log_level = 0xff26,
  /// u8 flags (1: stop once drained); reply: JSON {"ok": bool, "message", "state"}. Starts
  /// `host::drain` and answers at once; the status's "drain" field follows it ("draining",
  /// then "drained"), with "drained_players" and "drain_ms".
  drain = 0xff27,
  /// "ACCOUNT\nUNTIL_MS\nREASON" (decimal account id; the end of the ban in ms since the Unix
  /// epoch, 0: until unbanned; UTF-8 text); reply: JSON {"ok": bool, "accounts": bool,
  /// "message"}. Bans the account through the accounts module of this server
  /// (`host::set_admin_ban`); "accounts" is false when this server hosts none.
  ban = 0xff28,
};

/// What a server does for the master's admin requests (set by whoever runs the module).
struct admin_hooks {
  /// Reloads the handler module; returns "" or why it was refused.
  std::function<std::string()> reload_logic;
  /// Re-reads the game data; returns "" or why it was refused.
  std::function<std::string()> reload_data;
  /// Stops the server gracefully.
  std::function<void()> stop;
  /// Which build of the module serves (e.g. its generation).
  std::function<std::string()> module_version;
  /// Adds fields of its own to the status object (e.g. `data_layer::write_status`).
  std::function<void(codec::json_writer&)> more_status;
};

/// Points `config` at the master given as "host:port" on a server's command line (a server
/// started by hand, perhaps on another machine, joins the cluster that way). Returns "" or
/// why the text is not host:port.
EMBER_DECL std::string use_master(cluster_config& config, std::string_view host_port);

/// The link to the master; does nothing when the config has no `master.rootport`.
class admin_link {
 public:
  admin_link(host& h, admin_hooks hooks);
  admin_link(const admin_link&) = delete;
  admin_link& operator=(const admin_link&) = delete;

  /// True while linked to the master.
  bool connected() const noexcept { return node_ && node_->connected(); }

  /// This server's status, as the master's admin API shows it.
  std::string status_json() const;

 private:
  void serve(const cluster::node_connector::link_ptr& l);

  host& host_;
  admin_hooks hooks_;
  std::unique_ptr<cluster::node_connector> node_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::uint64_t reloads_ = 0, reload_failures_ = 0;
  bool stop_when_drained_ = false;
};

}  // namespace ember::app

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/app/impl/admin.hpp"
#endif
