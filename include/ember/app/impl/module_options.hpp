// ember: bodies of module_options (ember/app/module_options.hpp): a module's entry of
// config.json, parsed with simdjson and read with config.json's own checks and messages.
#pragma once

#include <optional>
#include <stdexcept>

#include <fmt/format.h>
#include <simdjson.h>

#include "ember/app/config.hpp"
#include "ember/app/detail/impl/config_json.hpp"
#include "ember/app/module_options.hpp"

namespace ember::app {

struct module_options::entry {
  detail::json_path path;
  std::string file = "config.json";
  simdjson::padded_string json;
  simdjson::dom::parser parser;
  std::optional<detail::element> root;
  std::vector<std::string> asked;  // the keys asked for

  std::optional<detail::element> get(std::string_view key) {
    asked.emplace_back(key);
    if (!root || root->type() != detail::element_type::OBJECT) return std::nullopt;
    detail::element v;
    if (root->get_object().value_unsafe()[key].get(v) != simdjson::SUCCESS) return std::nullopt;
    return v;
  }

  template <class Fn>
  void guarded(Fn fn) {
    try {
      fn();
    } catch (const detail::config_failure& f) {
      throw std::invalid_argument(config_error{file, 0, f.path.str(), f.message}.what());
    } catch (const simdjson::simdjson_error& e) {
      throw std::invalid_argument(config_error{file, 0, path.str(), e.what()}.what());
    }
  }
};

EMBER_DECL module_options::module_options(const cluster_config& c, std::string_view module)
    : entry_(std::make_unique<entry>()) {
  auto& e = *entry_;
  e.path = detail::json_path{}.key("modules").key(module);
  auto it = c.modules.find(module);
  if (it == c.modules.end()) return;
  e.file = it->second.file;
  e.json = simdjson::padded_string(it->second.json);
  e.guarded([&] {
    e.root = e.parser.parse(e.json).value_unsafe();
    e.asked.push_back("server");
  });
}

EMBER_DECL module_options::~module_options() = default;

EMBER_DECL std::string module_options::server() {
  std::string out;
  if (auto v = entry_->get("server"))
    entry_->guarded([&] { out = detail::read_string(*v, entry_->path.key("server")); });
  return out;
}

EMBER_DECL std::int64_t module_options::integer(std::string_view key, std::int64_t fallback,
                                                std::int64_t lo, std::int64_t hi) {
  std::int64_t out = fallback;
  if (auto v = entry_->get(key)) {
    entry_->guarded([&] {
      out = detail::read_whole(*v, entry_->path.key(key), lo, hi,
                               fmt::format("a whole number {}..{}", lo, hi));
    });
  }
  return out;
}

EMBER_DECL bool module_options::flag(std::string_view key, bool fallback) {
  bool out = fallback;
  if (auto v = entry_->get(key))
    entry_->guarded([&] { out = detail::read_bool(*v, entry_->path.key(key)); });
  return out;
}

EMBER_DECL std::string module_options::text(std::string_view key, std::string fallback) {
  std::string out = std::move(fallback);
  if (auto v = entry_->get(key))
    entry_->guarded([&] { out = detail::read_string(*v, entry_->path.key(key)); });
  return out;
}

EMBER_DECL std::vector<std::string> module_options::texts(std::string_view key,
                                                          std::vector<std::string> fallback) {
  auto out = std::move(fallback);
  if (auto v = entry_->get(key)) {
    entry_->guarded([&] {
      const auto p = entry_->path.key(key);
      if (v->type() != detail::element_type::ARRAY)
        detail::fail(p, fmt::format("expected an array of strings, got {}", detail::describe(*v)));
      out.clear();
      std::size_t i = 0;
      for (auto e : detail::array_of(*v)) out.push_back(detail::read_string(e, p.index(i++)));
    });
  }
  return out;
}

EMBER_DECL std::vector<std::pair<std::string, std::int64_t>> module_options::integers_by_name(
    std::string_view key, std::vector<std::pair<std::string, std::int64_t>> fallback,
    std::int64_t lo, std::int64_t hi) {
  auto out = std::move(fallback);
  if (auto v = entry_->get(key)) {
    entry_->guarded([&] {
      const detail::members m(*v, entry_->path.key(key), {});
      out.clear();
      for (const auto& [name, e] : m.entries())
        out.emplace_back(std::string(name), detail::read_whole(e, m.at(name), lo, hi,
                                                               fmt::format("a whole number {}..{}", lo, hi)));
    });
  }
  return out;
}

EMBER_DECL void module_options::done() {
  if (!entry_->root) return;
  const std::vector<std::string_view> known(entry_->asked.begin(), entry_->asked.end());
  entry_->guarded([&] { detail::members m(*entry_->root, entry_->path, known); });
}

}  // namespace ember::app
