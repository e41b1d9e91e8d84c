// ember: handler modules — game logic built as a shared library that `ember-server` loads,
// and reloads while players stay connected.
//
// A module (one per server type, or one for all of them):
//
//   class world_module final : public ember::app::module {
//    public:
//     explicit world_module(ember::app::host& h) : logic_(h) {}
//     void register_commands(ember::net::dispatch_table& t) override { world::register_commands(t, logic_); }
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
// it loaded (each request holds its dispatch table, which holds the module); a coroutine the
// module spawns holds `keep_loaded()`. Nothing else may
// escape: no timers, callbacks, other detached coroutines or string_views into module data handed
// to the host. State that must survive a reload lives in the host: `host::hand_over` keeps a
// value of a schema type for the next build, which takes it with `host::take_over<T>` (a
// build that takes another type is refused; docs/hot-update.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

#include <asio/awaitable.hpp>

#include "ember/app/host.hpp"
#include "ember/net/dispatch.hpp"
#include "ember/outcome.hpp"
#include "ember/separate_compilation.hpp"
#include "ember/version.hpp"

/// Changes whenever `module_info` or what crosses the module boundary changes.
#define EMBER_MODULE_ABI 2

namespace ember::app {

/// The logic a module contributes: handlers registered into the host's command table.
class module {
 public:
  virtual ~module() = default;
  /// Registers this module's commands and calls (the generated `register_commands`).
  virtual void register_commands(net::dispatch_table& table) = 0;
  /// The schema's `command_list` (a gateway forwards what other server types serve).
  virtual std::span<const command_info> commands() const = 0;
  /// A client session this backend served has ended (save its player).
  virtual void session_closed(net::session&) {}
  /// The owner registry asks this backend to save and give up `user` (another takes it).
  virtual asio::awaitable<void> release_player(std::uint64_t user);
  /// Re-reads the game data (ember/app/game_data.hpp); returns why it was refused, or ""
  /// when all went well (the data in use stays on a refusal).
  virtual std::string reload_data() { return {}; }
  /// Called once the new command table is in place, before the old module goes.
  virtual void started() {}
  /// Called before a reload replaces this module, or before the server stops: put what
  /// must survive to the next build into `host::hand_over`.
  virtual void stopping() {}

  /// While a copy lives, this module's code stays loaded (a reload unloads the old build
  /// only after): take one into work the module starts that may outlive the call that
  /// started it, such as a coroutine spawned from `session_closed`. Empty when the module
  /// was not loaded by `load_module` (a program that links its logic).
  std::shared_ptr<const void> keep_loaded() const { return keep_.lock(); }
  /// `load_module` tells the module what keeps it loaded.
  void kept_loaded_by(std::weak_ptr<const void> keep) { keep_ = std::move(keep); }

 private:
  std::weak_ptr<const void> keep_;
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
                std::uint64_t schema, std::uint64_t generation);
  ~loaded_module();
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
EMBER_DECL outcome<std::shared_ptr<loaded_module>, module_error> load_module(
    host& h, const std::filesystem::path& path, std::uint64_t expected_schema);

}  // namespace ember::app

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/app/impl/module.hpp"
#endif

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
