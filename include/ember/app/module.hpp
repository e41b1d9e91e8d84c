// ember: handler modules — game logic built as a shared library that `ember-server` loads,
// and reloads while players stay connected.
//
// A module (one per server type, or one for all of them):
//
//   class world_module final : public ember::app::module {
//    public:
//     explicit world_module(ember::app::host& h) : logic_(h) {}
//     void register_commands(ember::dispatch_table& t) override { world::register_commands(t, logic_); }
//    private:
//     game_logic logic_;
//   };
//   EMBER_MODULE(world_module, world::schema_hash)
//
// The interface is narrow and versioned: one C entry point returns a `module_info` (ABI
// version, ember version, schema hash, factory). The host refuses a module whose ABI, ember
// version or schema differs from what it runs, and one whose constructor throws; the old
// module keeps serving then.
//
// The boundary: the host program exports its symbols (`-rdynamic`), so a module's copies of
// ember's and Asio's inline statics (error categories, allocator caches, the "running in
// this io_context" marker) bind to the host's: an `asio::error::eof` made in the host
// compares equal in the module. What the module's code creates must not outlive it: its
// handler objects are destroyed before it is unloaded, and requests running on its code keep
// it loaded (each request holds its dispatch table, which holds the module). Nothing else may
// escape: no timers, callbacks, detached coroutines or string_views into module data handed
// to the host. State that must survive a reload lives in the host: `host::stash` keeps bytes
// across a reload (encode them with the schema's codecs).
#pragma once

#include <dlfcn.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>

#include <asio/post.hpp>

#include "ember/app/host.hpp"
#include "ember/log.hpp"
#include "ember/net/dispatch.hpp"
#include "ember/outcome.hpp"
#include "ember/version.hpp"

/// Changes whenever `module_info` or what crosses the module boundary changes.
#define EMBER_MODULE_ABI 1

namespace ember::app {

/// The logic a module contributes: handlers registered into the host's command table.
class module {
 public:
  virtual ~module() = default;
  /// Registers this module's commands and calls (the generated `register_commands`).
  virtual void register_commands(dispatch_table& table) = 0;
  /// The schema's `command_list` (a gateway forwards what other server types serve).
  virtual std::span<const command_info> commands() const = 0;
  /// A client session this backend served has ended (save its player).
  virtual void session_closed(session&) {}
  /// The owner registry asks this backend to save and give up `user` (another takes it).
  virtual asio::awaitable<void> release_player(std::uint64_t) { co_return; }
  /// Re-reads the game data (ember/app/game_data.hpp); returns why it was refused, or ""
  /// when all went well (the data in use stays on a refusal).
  virtual std::string reload_data() { return {}; }
  /// Called once the new command table is in place, before the old module goes.
  virtual void started() {}
  /// Called before a reload replaces this module, or before the server stops: put what
  /// must survive into `host::stash`.
  virtual void stopping() {}
};

/// What a module's entry point returns (C layout: the one thing the host reads first).
struct module_info {
  std::uint32_t abi;           ///< EMBER_MODULE_ABI the module was built with
  const char* ember_version;   ///< EMBER_VERSION_STRING the module was built with
  std::uint64_t schema_hash;   ///< the generated `schema_hash` of its schema
  /// Creates the module's logic for `h`; may throw (the load is then refused).
  module* (*create)(host& h);
};

/// The entry point's name and type.
inline constexpr const char* module_entry_point = "ember_module_v1";
using module_entry_fn = const module_info* (*)();

/// A loaded module: its library handle and its logic. Unloads (after destroying the logic)
/// from the event loop once the last table and request using it is gone.
class loaded_module {
 public:
  loaded_module(void* handle, std::unique_ptr<module> logic, std::filesystem::path file,
                std::uint64_t schema, std::uint64_t generation)
      : handle_(handle), logic_(std::move(logic)), file_(std::move(file)), schema_(schema),
        generation_(generation) {}
  ~loaded_module() {
    logic_.reset();  // the module's own destructor runs while its code is mapped
    if (handle_) dlclose(handle_);
    log::info("unloaded module generation {}", generation_);
    std::error_code ignored;
    std::filesystem::remove(file_, ignored);
  }
  loaded_module(const loaded_module&) = delete;
  loaded_module& operator=(const loaded_module&) = delete;

  module& logic() noexcept { return *logic_; }
  std::uint64_t schema_hash() const noexcept { return schema_; }
  /// 1 for the first load, 2 after the first reload, ...
  std::uint64_t generation() const noexcept { return generation_; }

 private:
  void* handle_;
  std::unique_ptr<module> logic_;
  std::filesystem::path file_;  // the private copy dlopen mapped
  std::uint64_t schema_;
  std::uint64_t generation_;
};

/// Why a module was refused.
struct module_error {
  std::string message;
};
inline std::string describe(const module_error& e) { return e.message; }

/// Loads `path` for `h`: copies it to a fresh private path (so the loader never hands back
/// an older copy of a file of the same name), maps it, checks its ABI, ember version and
/// (unless `expected_schema` is 0) schema hash, creates its logic. The returned module
/// unloads itself on `h`'s event loop when the last reference goes.
inline outcome<std::shared_ptr<loaded_module>, module_error> load_module(
    host& h, const std::filesystem::path& path, std::uint64_t expected_schema) {
  namespace fs = std::filesystem;
  static std::atomic<std::uint64_t> generation{0};
  const auto gen = ++generation;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    return module_error{path.string() + ": no such module file"};
  const fs::path copy = fs::temp_directory_path() /
                        ("ember-module-" + std::to_string(::getpid()) + "-" + std::to_string(gen) +
                         "-" + path.filename().string());
  fs::copy_file(path, copy, fs::copy_options::overwrite_existing, ec);
  if (ec) return module_error{path.string() + ": cannot copy for loading: " + ec.message()};
  auto refuse = [&](std::string why, void* handle) {
    if (handle) dlclose(handle);
    std::error_code ignored;
    fs::remove(copy, ignored);
    return module_error{path.string() + ": " + std::move(why)};
  };
  void* handle = dlopen(copy.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) return refuse(std::string("cannot load: ") + dlerror(), nullptr);
  auto entry = reinterpret_cast<module_entry_fn>(dlsym(handle, module_entry_point));
  if (!entry) return refuse("not an ember module (no ember_module_v1 entry point)", handle);
  const module_info* info = entry();
  if (!info || info->abi != EMBER_MODULE_ABI)
    return refuse("built for module ABI " + std::to_string(info ? info->abi : 0) +
                      ", this server speaks " + std::to_string(EMBER_MODULE_ABI) + "; rebuild it",
                  handle);
  if (std::string(info->ember_version) != EMBER_VERSION_STRING)
    return refuse(std::string("built with ember ") + info->ember_version + ", this server is " +
                      EMBER_VERSION_STRING + "; rebuild it against the server's ember",
                  handle);
  if (expected_schema != 0 && info->schema_hash != expected_schema)
    return refuse(fmt::format("built for another schema (hash {:#x}, the server runs {:#x}); a "
                              "schema change needs a restart of the cluster",
                              info->schema_hash, expected_schema),
                  handle);
  std::unique_ptr<module> logic;
  try {
    logic.reset(info->create(h));
  } catch (const std::exception& e) {
    return refuse(std::string("its initialisation failed: ") + e.what(), handle);
  } catch (...) {
    return refuse("its initialisation failed with a non-standard exception", handle);
  }
  if (!logic) return refuse("its factory returned nothing", handle);
  auto* raw = new loaded_module(handle, std::move(logic), copy, info->schema_hash, gen);
  // The last reference may be dropped by a request finishing inside the module's own code:
  // unload from the event loop instead, after that code has returned.
  auto ex = h.context().get_executor();
  return std::shared_ptr<loaded_module>(raw, [ex, &io = h.context()](loaded_module* m) {
    if (io.stopped())
      delete m;  // shutting down: no module code is running any more
    else
      asio::post(ex, [m] { delete m; });
  });
}

}  // namespace ember::app

/// Defines a module's entry point for class `Class` (constructible from `ember::app::host&`)
/// built against the schema whose generated `schema_hash` is `SchemaHash`.
#define EMBER_MODULE(Class, SchemaHash)                                                       \
  extern "C" __attribute__((visibility("default"))) const ::ember::app::module_info*         \
  ember_module_v1() {                                                                         \
    static const ::ember::app::module_info info{                                             \
        EMBER_MODULE_ABI, EMBER_VERSION_STRING, (SchemaHash),                                 \
        [](::ember::app::host& h) -> ::ember::app::module* { return new Class(h); }};          \
    return &info;                                                                             \
  }
