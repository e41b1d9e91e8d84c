// ember-server: the generic host. Assembles one server of a cluster from its config.json
// entry (client listener, root, links, routing, player ownership) and runs the handler
// module the entry names (`app`, a path relative to the config file). SIGHUP reloads the
// module from the same path while sessions, groups and links stay; SIGUSR1 re-reads the game
// data; SIGINT/SIGTERM stop it.
//
// usage: ember-server CONFIG.json NAME
//        ember-server --check CONFIG.json
#include <csignal>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include "ember/app/admin.hpp"
#include "ember/app/data_layer.hpp"
#include "ember/app/host.hpp"
#include "ember/app/module.hpp"
#include "ember/cluster/backend.hpp"
#include "ember/cluster/ownership.hpp"
#include "ember/codec/json_reader.hpp"
#include "ember/log.hpp"

namespace {

namespace fs = std::filesystem;
using ember::app::loaded_module;

/// The module being served, and how to swap it.
class module_server {
 public:
  module_server(ember::app::host& h, fs::path path) : host_(h), path_(std::move(path)) {}

  /// Loads the first module; false (after logging) if refused. Its tables, if any, attach
  /// to the host's store now.
  bool load() {
    auto m = ember::app::load_module(host_, path_, 0);
    if (!m) {
      ember::log::error("{}", m.error().message);
      return false;
    }
    current_ = std::move(*m);
    guard_tables();
    return true;
  }

  /// Starts the server with the loaded module (after the data layer opened).
  void start() {
    host_.start(table_of(current_), current_->logic().commands());
    // The host's callbacks call whichever module is current, and keep it loaded meanwhile.
    if (auto* b = host_.backend())
      b->on_session_closed([this](ember::net::session& s) { current_->logic().session_closed(s); });
    if (auto* o = host_.ownership())
      o->on_release([this](std::uint64_t user) -> asio::awaitable<void> {
        auto keep = current_;
        co_await keep->logic().release_player(user);
      });
    current_->logic().started();
    ember::log::info("serving module {} (generation {})", path_.string(), current_->generation());
  }

  /// Loads the module file again; on success the new build serves the next requests, and
  /// the old one goes when its last request is done. On failure the old one keeps serving.
  /// Returns "" or why the new build was refused.
  std::string reload() {
    const auto began = std::chrono::steady_clock::now();
    auto old = current_;
    old->logic().stopping();  // it stashes what must survive
    auto m = ember::app::load_module(host_, path_, old->schema_hash());
    if (!m) {
      ember::log::error("reload refused, the running module keeps serving: {}", m.error().message);
      old->logic().started();
      return m.error().message;
    }
    current_ = std::move(*m);
    guard_tables();
    host_.replace_table(table_of(current_));
    current_->logic().started();
    const auto took = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - began);
    ember::log::info("reloaded module {} (generation {}) in {:.1f} ms; requests already running "
                     "finish on generation {}",
                     path_.string(), current_->generation(), took.count(), old->generation());
    return {};
  }

  /// Re-reads the game data; on failure the data in use stays. Returns "" or why.
  std::string reload_data() {
    auto why = current_->logic().reload_data();
    if (!why.empty())
      ember::log::error("data reload refused, the data in use stays: {}", why);
    else
      ember::log::info("data reloaded");
    return why;
  }

  std::string version() const { return "generation " + std::to_string(current_->generation()); }

  void stop() {
    if (current_) current_->logic().stopping();
  }

 private:
  // A module's tables run its code: it stays loaded while they are written back.
  void guard_tables() {
    if (auto* s = host_.store()) s->guard_tables(current_);
  }

  static ember::net::dispatch_table table_of(const std::shared_ptr<loaded_module>& m) {
    ember::net::dispatch_table t;
    m->logic().register_commands(t);
    t.set_keep_alive(m);  // the table, and each request started from it, keep the module
    return t;
  }

  ember::app::host& host_;
  fs::path path_;
  std::shared_ptr<loaded_module> current_;
};

// The host owns the per-thread JSON parser: a module that decoded JSON with a thread_local
// of its own could not be unmapped until the thread ends (its destructor is registered).
[[maybe_unused]] auto* const host_json_parser = &ember::codec::json::thread_parser;

int run(const ember::app::cluster_config& config, const fs::path& config_file,
        const std::string& name) {
  asio::io_context io(1);
  ember::app::host host(io, config, name);
  host.set_data_dir(config_file.parent_path());
  ember::log::set_tag(name);
  if (host.self().app.empty()) {
    std::fprintf(stderr, "%s: servers.%s.app: no module to load; name one in the config\n",
                 config_file.c_str(), name.c_str());
    return 1;
  }
  fs::path module_path = host.self().app;
  if (module_path.is_relative()) module_path = config_file.parent_path() / module_path;
  ember::app::data_layer data(host);  // before the module: its tables attach to the store
  module_server modules(host, module_path);
  if (!modules.load()) return 1;
  int rc = EXIT_SUCCESS;
  host.serve_metrics();  // health checks answer while the data layer opens
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    co_await data.open();
    modules.start();
  }, [&](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      ember::log::error("cannot start: {}", x.what());
    }
    rc = EXIT_FAILURE;
    io.stop();
  });

  asio::signal_set reloads(io, SIGHUP);
  std::function<void()> wait_reload = [&] {
    reloads.async_wait([&](std::error_code ec, int) {
      if (ec) return;
      (void)modules.reload();
      wait_reload();
    });
  };
  wait_reload();
  asio::signal_set data_reloads(io, SIGUSR1);
  std::function<void()> wait_data = [&] {
    data_reloads.async_wait([&](std::error_code ec, int) {
      if (ec) return;
      (void)modules.reload_data();
      wait_data();
    });
  };
  wait_data();
  asio::signal_set stops(io, SIGINT, SIGTERM);
  std::unique_ptr<ember::app::admin_link> admin;
  bool stopping = false;
  auto stop = [&] {
    if (std::exchange(stopping, true)) return;
    ember::log::info("stopping");
    reloads.cancel();
    data_reloads.cancel();
    stops.cancel();
    modules.stop();
    asio::co_spawn(io, host.stop(), [&](std::exception_ptr) {
      admin.reset();
      io.stop();
    });
  };
  stops.async_wait([&](std::error_code ec, int) {
    if (!ec) stop();
  });
  // The master, if the config has one: status, reloads and stop from its admin API.
  admin = std::make_unique<ember::app::admin_link>(
      host, ember::app::admin_hooks{[&] { return modules.reload(); },
                                    [&] { return modules.reload_data(); },
                                    [&] { asio::post(io, stop); },
                                    [&] { return modules.version(); },
                                    [&](ember::codec::json_writer& w) { data.write_status(w); }});
  io.run();
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  const std::string first = argc > 1 ? argv[1] : "";
  const bool check = first == "--check";
  const bool master = argc == 5 && std::string(argv[3]) == "--master";
  const bool help = first == "--help" || first == "-h";
  if (help || (argc != 3 && !(master && !check))) {
    std::fprintf(help ? stdout : stderr,
                 "usage: %s CONFIG.json NAME [--master HOST:PORT]   run server NAME of the cluster\n"
                 "       %s --check CONFIG.json                     validate a config and exit\n"
                 "  --master: register with the master at HOST:PORT (its rootport) instead of the\n"
                 "            config's (a server started by hand, perhaps on another machine)\n",
                 argv[0], argv[0]);
    return help ? 0 : 2;
  }
  const fs::path file = check ? argv[2] : argv[1];
  auto config = ember::app::load_config(file);
  if (!config) {
    std::fprintf(stderr, "%s\n", config.error().what().c_str());
    return 1;
  }
  if (check) {
    std::printf("%s: %zu servers, valid\n", file.c_str(), config->servers.size());
    return 0;
  }
  if (master) {
    if (auto why = ember::app::use_master(*config, argv[4]); !why.empty()) {
      std::fprintf(stderr, "%s\n", why.c_str());
      return 2;
    }
  }
  try {
    return run(*config, file, argv[2]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argv[2], e.what());
    return 1;
  }
}
