// ember-master: the process supervisor of a cluster. Starts every server of a config.json
// as a child process (`ember-server CONFIG NAME`), roots first; prints each line they write
// prefixed with the server's name; restarts a server that crashes, with backoff, and gives up
// on one that keeps crashing; on SIGINT/SIGTERM stops them in order (client-facing servers,
// then backends, then roots) and prints a summary. A memcached the config names on loopback
// that nobody runs is started first and stopped last (services.hpp). See docs/operations.md.
//
// usage: ember-master CONFIG.json [--only NAME]... [--server-binary PATH] [--memcached PATH|none]
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>

#include "admin_api.hpp"
#include "ember/app/admin.hpp"
#include "ember/detail/process_metrics.hpp"
#include "prometheus_sd.hpp"
#include "services.hpp"
#include "supervisor.hpp"

namespace fs = std::filesystem;

namespace {

/// ember-server beside this program if it is there (an installed tree), else from PATH.
std::string default_server_program() {
  std::error_code ec;
  const auto self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto beside = self.parent_path() / "ember-server";
    if (::access(beside.c_str(), X_OK) == 0) return beside.string();
  }
  return "ember-server";
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a closed stdout must not kill the master
  ember::master::options o;
  double window_s = 30, stop_timeout_s = 10;
  std::string memcached = "memcached";
  CLI::App app{"ember-master: runs every server of a cluster's config.json, restarts those "
               "that crash, stops them in order on SIGINT/SIGTERM"};
  app.add_option("config", o.config_file, "the cluster's config.json")->required();
  app.add_option("--only", o.only, "run only this server (repeat for several)")
      ->allow_extra_args(false);
  app.add_option("--server-binary", o.program,
                 "program started as `PROGRAM CONFIG NAME` for every server (default: "
                 "ember-server)");
  app.add_option("--max-crashes", o.rules.max_crashes,
                 "give up on a server after this many crashes within the window (default 5)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--crash-window", window_s, "the window, in seconds (default 30)")
      ->check(CLI::Range(0.001, 86400.0));
  app.add_option("--stop-timeout", stop_timeout_s,
                 "seconds a server has to stop after SIGTERM before SIGKILL (default 10)")
      ->check(CLI::Range(0.001, 3600.0));
  app.add_option("--memcached", memcached,
                 "memcached program started for a loopback memcached of the config that is not "
                 "running (default: memcached from PATH; none: never start one)");
  CLI11_PARSE(app, argc, argv);
  o.rules.window = std::chrono::milliseconds(static_cast<long>(window_s * 1000));
  o.rules.stop_timeout = std::chrono::milliseconds(static_cast<long>(stop_timeout_s * 1000));
  if (o.program.empty()) o.program = default_server_program();

  auto config = ember::app::load_config(o.config_file);
  if (!config) {
    std::fprintf(stderr, "%s\n", config.error().what().c_str());
    return 1;
  }
  // The master's own lines take `defaults.log`'s format (its servers read their own `log`).
  ember::log::set_format(config->log.format);
  if (config->log.format == ember::log::format::json) ember::log::set_tag("master");
  for (const auto& name : o.only) {
    if (config->find(name)) continue;
    std::string names;
    for (const auto& s : config->servers) names += (names.empty() ? "" : ", ") + s.name;
    std::fprintf(stderr, "--only %s: no server of that name in %s (servers are: %s)\n",
                 name.c_str(), o.config_file.c_str(), names.c_str());
    return 2;
  }
  if (memcached != "none") {
    o.services = ember::master::memcached_services(*config, o.only, memcached);
  }

  std::filesystem::path sd;
  if (const auto& m = config->master; m && !m->prometheus_sd.empty()) {
    sd = m->prometheus_sd;
    if (sd.is_relative()) sd = o.config_file.parent_path() / sd;
  }

  asio::io_context io(1);
  ember::master::supervisor master(io, *config, std::move(o));
  // The scrape targets: the servers the master runs, written before any starts (Prometheus
  // finds each as it comes up) and again whenever one is stopped, given up on or back.
  if (!sd.empty()) {
    auto write_targets = [&, sd](const std::vector<std::string>& serving) {
      const auto text = ember::master::prometheus_sd_json(*config, &serving);
      if (auto why = ember::master::write_file_atomically(sd, text); !why.empty()) {
        ember::log::error("master.prometheus_sd: {}", why);
        return false;
      }
      std::size_t listed = 0;
      for (const auto& name : serving)
        if (const auto* s = config->find(name); s && s->metricsport) ++listed;
      ember::log::info("Prometheus targets: {} servers written to {}", listed, sd.string());
      return true;
    };
    if (!write_targets(master.serving())) {
      std::fprintf(stderr, "master: master.prometheus_sd: cannot write %s\n", sd.string().c_str());
      return 1;
    }
    master.on_serving_changed([write_targets](const std::vector<std::string>& serving) {
      (void)write_targets(serving);
    });
  }
  // Servers register on master.rootport (ember/app/admin.hpp); the admin API answers on
  // master.webport. Both need the config's master section; without it the master only runs
  // the processes.
  std::unique_ptr<ember::cluster::root> links;
  std::unique_ptr<ember::master::admin_api> admin;
  if (const auto& m = config->master; m && m->rootport) {
    try {
      links = std::make_unique<ember::cluster::root>(
          io.get_executor(),
          ember::cluster::root_options{"master", config->secret, m->host, *m->rootport, {}});
      links->start();
      // Firefly's rejoin: when a root registers (it has just started, or restarted), its
      // nodes waiting out a reconnect backoff are told to link to it now.
      links->on_join([&](const ember::cluster::root::link_ptr& joined) {
        const auto* root = config->find(joined->peer().name);
        if (!root || !root->rootport) return;
        std::string told;
        for (const auto* node : config->nodes_of(root->name))
          if (auto l = links->find(node->name);
              l && !l->notify_bytes(std::uint16_t(ember::app::admin_call::root_back), ember::as_bytes(root->name)))
            told += (told.empty() ? "" : ", ") + node->name;
        if (!told.empty()) ember::log::info("root {} registered: told its nodes ({}) to link now", root->name, told);
      });
      admin = std::make_unique<ember::master::admin_api>(
          io.get_executor(), *links, m->host, m->webport, m->token, master.names(),
          [&](const std::string& name) { return master.process_json(name); },
          [&](const std::string& name) {
            if (name.empty())
              master.stop_all();
            else
              master.stop_one(name);
          });
      admin->set_restart([&](const std::string& name) { return master.restart_one(name); });
      admin->set_metrics([&](ember::detail::prometheus_writer& w) {
        ember::detail::write_process_metrics(w);
        master.write_metrics(w);
        w.single("ember_master_linked_servers", "gauge", "Servers linked to the master's rootport.",
                 links->size());
      });
      ember::log::info("admin API on http://{}:{} (token from config), servers register on {}",
                       m->host, m->webport, *m->rootport);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "master: cannot listen on master.rootport %u / webport %u: %s\n",
                   unsigned(*m->rootport), unsigned(m->webport), e.what());
      return 1;
    }
  }
  master.on_finished([&] {
    admin.reset();
    if (links) links->stop();
  });
  master.start();
  io.run();
  return master.exit_code();
}
