// ember: the bodies of module loading and unloading (ember/app/module.hpp): dlopen of a private
// copy, the checks of its entry point, and the unload on the event loop.
#pragma once

#include "ember/app/module.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <atomic>
#include <exception>
#include <system_error>
#include <utility>

#include <asio/post.hpp>
#include <fmt/format.h>

#include "ember/log.hpp"

namespace ember::app {

EMBER_DECL asio::awaitable<void> module::release_player(std::uint64_t) { co_return; }

EMBER_DECL loaded_module::loaded_module(void* handle, std::unique_ptr<module> logic,
                                        std::filesystem::path file, std::uint64_t schema,
                                        std::uint64_t generation)
    : handle_(handle), logic_(std::move(logic)), file_(std::move(file)), schema_(schema),
      generation_(generation) {}

EMBER_DECL loaded_module::~loaded_module() {
  logic_.reset();  // the module's own destructor runs while its code is mapped
  if (handle_) dlclose(handle_);
  log::info("unloaded module generation {}", generation_);
  std::error_code ignored;
  std::filesystem::remove(file_, ignored);
}

EMBER_DECL outcome<std::shared_ptr<loaded_module>, module_error> load_module(
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
  std::shared_ptr<loaded_module> loaded(raw, [ex, &io = h.context()](loaded_module* m) {
    if (io.stopped())
      delete m;  // shutting down: no module code is running any more
    else
      asio::post(ex, [m] { delete m; });
  });
  loaded->logic().kept_loaded_by(loaded);
  return loaded;
}

}  // namespace ember::app
