// ember: config.json, the description of a cluster: its servers by name, their ports, the
// roots each joins, their modules, database, memcached, logs and limits (docs/config.md).
//
//   auto cfg = ember::app::load_config("config.json");
//   if (!cfg) { fmt::print(stderr, "{}\n", cfg.error().what()); return EXIT_FAILURE; }
//   for (const auto& s : cfg->servers) ...
//
// Parsing validates everything start-up needs: unknown keys, wrong types, ranges, ports used
// twice, roots that do not exist or join each other in a cycle. The first problem found is
// returned as a `config_error` naming the JSON path of the bad field and what was expected.
// The result is plain structs: C++ members carry the JSON keys' names, except that a
// `..._ms` key becomes a `std::chrono::milliseconds` member without the suffix.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ember/codec/codec.hpp"
#include "ember/log.hpp"
#include "ember/net/server_options.hpp"
#include "ember/outcome.hpp"
#include "ember/separate_compilation.hpp"
#include "ember/wire/frame.hpp"

namespace ember::app {

/// Bounds and timeouts of a server's client listener; every field mirrors the
/// `net::server_options` field of the same name and has its default.
struct limits_config {
  std::size_t max_frame = 64 * 1024;        ///< largest request body accepted, bytes
  std::size_t max_write_queue = 1 << 20;    ///< bytes queued to a client that does not read
  std::uint32_t max_in_flight = 1024;       ///< requests of one session not yet answered
  std::size_t max_sessions = 100'000;
  std::size_t max_sessions_per_address = 10'000;
  double max_request_rate = 2'000;  ///< per session per second; 0 = unlimited
  double request_burst = 4'000;     ///< requests a session may send at once
  std::chrono::milliseconds idle_timeout{60'000};      ///< `idle_timeout_ms`
  std::chrono::milliseconds frame_timeout{10'000};     ///< `frame_timeout_ms`
  std::chrono::milliseconds handshake_timeout{10'000}; ///< `handshake_timeout_ms`
  std::chrono::milliseconds resume_grace{30'000};      ///< `resume_grace_ms`; 0: no resume
  std::size_t resume_outbox = 1 << 20;                 ///< bytes kept for a resume
  /// `overload`: the budget of all sessions' buffered bytes together, and its watermarks.
  net::overload_options overload{};

  bool operator==(const limits_config&) const = default;
};

/// Where a server logs, from which level on and in which format.
struct log_config {
  log::level level = log::level::info;
  log::format format = log::format::plain;  ///< `json`: one JSON object per line, for pipelines
  std::string file;  ///< empty: standard error

  bool operator==(const log_config&) const = default;
};

/// A WebSocket listener beside a client listener (`netport.websocket`): RFC 6455 on a port of
/// its own, whose sessions are the client listener's (PROTOCOL.md §11).
struct websocket_config {
  std::uint16_t port = 0;
  /// Web pages (`Origin` headers) allowed to open a session; "*" allows any. A client that
  /// sends no Origin (not a browser) is always let in. Empty: no browser page.
  std::vector<std::string> origins;
  std::size_t max_request = 8 * 1024;  ///< most bytes of the upgrade request

  bool operator==(const websocket_config&) const = default;
};

/// TLS on a server's client listeners (`netport.tls`, PROTOCOL.md "TLS"). The files are
/// checked when the server starts (`to_server_options`): a missing one is named by its field.
struct tls_config {
  std::string cert;        ///< PEM certificate chain, the server's own first
  std::string key;         ///< PEM private key
  bool tcp = true;         ///< `listeners` has "tcp": the client port speaks TLS
  bool websocket = true;   ///< `listeners` has "websocket": the WebSocket port is `wss://`
  /// PEM CA certificate(s) `cert` chains to. The cluster's other net servers check this
  /// server's certificate with it when they relay a resume to its TLS client port; without
  /// it they cannot, and this server is nobody's `resume_peer`. Empty: none.
  std::string ca{};

  bool operator==(const tls_config&) const = default;
};

/// A server's client listener (`netport`).
struct listener_config {
  std::uint16_t port = 0;
  net::framing framing = net::framing::native;
  /// Body encoding of a Firefly listener; native frames say theirs in their flags.
  codec::encoding encoding = codec::encoding::json;
  wire::firefly_config firefly{};  ///< header values a Firefly client must send
  /// Overrides the server's `limits.idle_timeout_ms` for this listener.
  std::optional<std::chrono::milliseconds> idle_timeout;
  std::optional<websocket_config> websocket;  ///< browsers' way in; none: TCP only
  std::optional<tls_config> tls;              ///< none: plain TCP and ws://
  /// `"shared": N`: N servers of the config (this one among them, each saying N) listen on
  /// this host and port together (SO_REUSEPORT): the kernel spreads new connections over
  /// them, so a client-facing server type scales across cores without a load balancer.
  /// 0: this server alone.
  std::uint16_t shared = 0;

  bool operator==(const listener_config& o) const;
};

/// A root a server joins as a node (one `remoteport` entry), with `host` and `rootport`
/// filled in from the root's own entry when the file leaves them out.
struct root_ref {
  std::string rootname;
  std::string host;
  std::uint16_t rootport = 0;

  bool operator==(const root_ref&) const = default;
};

/// Where a server answers Prometheus scrapes and health checks (`metricsport`): HTTP
/// `GET /metrics`, `/healthz` and `/readyz`, unauthenticated (docs/operations.md).
struct metrics_config {
  std::string host = "127.0.0.1";  ///< loopback unless the config says otherwise
  std::uint16_t port = 0;

  bool operator==(const metrics_config&) const = default;
};

/// TLS of a server's links (`link_tls`, PROTOCOL.md "TLS"): its certificate and key, and the
/// CA every peer's certificate must chain to. A root and the nodes that join it either all have
/// it or none does. The files are checked when the server starts.
struct link_tls_config {
  std::string cert;
  std::string key;
  std::string ca;

  bool operator==(const link_tls_config&) const = default;
};

/// One entry of `servers`: one process of the cluster.
struct server_config {
  std::string name;                ///< its key in `servers`
  std::string type;                ///< which handlers it runs; defaults to `name`
  std::string host = "127.0.0.1";  ///< address its listeners bind
  std::optional<listener_config> netport;  ///< client listener, if client-facing
  std::optional<std::uint16_t> rootport;   ///< set: this server is a root, nodes join here
  std::vector<root_ref> remoteport;        ///< the roots it joins, in file order
  std::optional<metrics_config> metricsport;  ///< metrics and health over HTTP; none: off
  std::string app;     ///< handler module to load; empty: none
  std::string reload;  ///< module re-run on hot update (Firefly); empty: none
  bool db = false;     ///< uses the database of the top-level `db`
  bool mem = false;    ///< uses the memcached of the top-level `memcached`
  log_config log;
  limits_config limits;
  std::chrono::milliseconds call_timeout{5'000};  ///< default deadline of its calls to servers
  std::optional<int> cpu;                          ///< CPU to pin the process to
  std::optional<link_tls_config> link_tls;         ///< TLS on its links; none: plain TCP

  bool is_root() const noexcept { return rootport.has_value(); }
  bool operator==(const server_config&) const = default;
};

/// The master process: its link port and its admin HTTP port.
struct master_config {
  std::string host = "127.0.0.1";
  std::optional<std::uint16_t> rootport;  ///< link port servers register on
  std::uint16_t webport = 0;              ///< admin HTTP port
  std::string token;                      ///< admin commands must present it
  /// Where the master writes a Prometheus file_sd JSON file listing every server's
  /// `metricsport` (relative: to the config file's directory); empty: it writes none.
  std::string prometheus_sd;

  bool operator==(const master_config&) const = default;
};

/// Which ODBC driver family the connection string is for.
enum class db_driver : std::uint8_t { sqlite, postgresql };

/// The database every server with `"db": true` uses.
struct db_config {
  db_driver driver = db_driver::sqlite;
  std::string connection;  ///< ODBC connection string, passed to the driver as written

  bool operator==(const db_config&) const = default;
};

/// One memcached server, from "host:port" (or "host", port 11211; "[::1]:11211" for IPv6).
struct memcached_server {
  std::string host;
  std::uint16_t port = 11211;

  bool operator==(const memcached_server&) const = default;
};

/// The memcached cluster every server with `"mem": true` uses.
struct memcached_config {
  std::vector<memcached_server> servers;
  std::string key_namespace;  ///< JSON key `namespace`: prefix of every cache key

  bool operator==(const memcached_config&) const = default;
};

/// A gameplay module's entry of `modules` (docs/modules/README.md): the server type that
/// serves its commands, and the whole entry as JSON, which the module reads its limits from
/// (`ember::app::module_options`).
struct module_config {
  std::string server;
  std::string json;  ///< the entry's object, "server" included
  std::string file;  ///< the config file, for the module's messages

  bool operator==(const module_config&) const = default;
};

/// A whole config.json, validated, with `defaults` already applied to every server.
struct cluster_config {
  std::string secret;  ///< shared by all links; empty when no server links
  std::optional<master_config> master;
  std::optional<db_config> db;
  std::optional<memcached_config> memcached;
  std::vector<server_config> servers;  ///< in file order
  std::map<std::string, module_config, std::less<>> modules;  ///< by module name
  /// `defaults.log`: what every server inherits, and how ember-master writes its own lines.
  log_config log;

  /// The server called `name`, or null.
  const server_config* find(std::string_view name) const noexcept;

  /// The servers of type `type`, in file order.
  std::vector<const server_config*> of_type(std::string_view type) const;

  /// The servers that join the root `root`, in file order.
  std::vector<const server_config*> nodes_of(std::string_view root) const;

  bool operator==(const cluster_config&) const = default;
};

/// Why a config was refused: the JSON path of the bad field and what was expected there.
struct config_error {
  std::string file;     ///< as given to `parse_config` / `load_config`
  std::size_t line = 0; ///< of the offending key, best effort (0: unknown)
  std::string path;     ///< e.g. "servers.game1.remoteport[0].rootname"; empty: the document
  std::string message;  ///< e.g. "no server named 'gate2' (servers are: gate, net1)"

  /// "config.json:12: servers.game1.remoteport[0].rootname: no server named 'gate2' (...)";
  /// the line and the path are left out when unknown or empty.
  std::string what() const;
};

/// Text of a config error (for `outcome::value()` on a failed parse).
inline std::string describe(const config_error& e) { return e.what(); }

/// A parsed config or the reason there is none.
using config_result = outcome<cluster_config, config_error>;

/// Parses and validates the text of a config.json. `file_name` only appears in errors.
EMBER_DECL config_result parse_config(std::string_view json_text, std::string_view file_name);

/// Reads and parses the file at `file`; an unreadable file is a `config_error` naming it.
EMBER_DECL config_result load_config(const std::filesystem::path& file);

/// Throws `std::invalid_argument` "FIELD: cannot read 'FILE': REASON" unless `file` can be
/// opened for reading (the TLS files, checked where a server starts).
EMBER_DECL void require_readable(const std::string& file, std::string_view field);

/// The options of `s`'s client listener: its host, netport and limits.
/// Precondition: `s.netport` has a value (throws `std::invalid_argument` otherwise).
EMBER_DECL net::server_options to_server_options(const server_config& s);
/// The same, with the cluster's other client listeners as `resume_peers`.
EMBER_DECL net::server_options to_server_options(const server_config& s, const cluster_config& c);

}  // namespace ember::app

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/app/impl/config.hpp"
#endif
