// ember-master: the Prometheus file_sd file (config.json's `master.prometheus_sd`) listing the
// metrics endpoint of every server with a `metricsport`, so a Prometheus with
//
//   scrape_configs:
//     - job_name: ember
//       file_sd_configs: [{files: [/path/to/targets.json]}]
//
// scrapes the whole cluster. The master writes it when it starts, listing the servers it
// runs, and again each time that list changes: a server it stops (the admin API's stop, the
// ordered stop) or gives up on leaves it, one it runs again comes back; one waiting to be
// restarted stays, so its failing scrapes show. Each write is a temporary file renamed over
// the old one, so Prometheus never reads half a file. Each target is labelled with its
// server's name and type.
#pragma once

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "ember/app/config.hpp"
#include "ember/buffer.hpp"
#include "ember/codec/json_writer.hpp"

namespace ember::master {

/// The address a scraper reaches `s`'s metrics on: the metricsport's host, or the server's
/// own `host` when the endpoint binds every address ("0.0.0.0", "::"). IPv6 in brackets.
inline std::string metrics_target(const app::server_config& s) {
  std::string host = s.metricsport->host;
  if (host == "0.0.0.0" || host == "::" || host.empty()) host = s.host;
  if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return fmt::format("{}:{}", host, s.metricsport->port);
}

/// The file_sd JSON of `config`: one target group per server with a metricsport, in file
/// order, labelled `server` and `type`; only those named in `only` when it is given.
inline std::string prometheus_sd_json(const app::cluster_config& config,
                                      const std::vector<std::string>* only = nullptr) {
  buffer out;
  codec::json_writer w(out);
  w.begin_array();
  for (const auto& s : config.servers) {
    if (!s.metricsport) continue;
    if (only && std::find(only->begin(), only->end(), s.name) == only->end()) continue;
    w.begin_object();
    w.key("targets"), w.begin_array(), w.value_string(metrics_target(s)), w.end_array();
    w.key("labels"), w.begin_object();
    w.key("server"), w.value_string(s.name);
    w.key("type"), w.value_string(s.type);
    w.end_object();
    w.end_object();
  }
  w.end_array();
  return std::string(reinterpret_cast<const char*>(out.data()), out.size()) + "\n";
}

/// Writes `text` to `file` through a temporary file renamed over it; "" or why it failed.
inline std::string write_file_atomically(const std::filesystem::path& file, const std::string& text) {
  const auto tmp = file.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << text;
    f.flush();
    if (!f) return "cannot write " + tmp;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  if (ec) return "cannot rename " + tmp + " to " + file.string() + ": " + ec.message();
  return {};
}

}  // namespace ember::master
