// ember chat: bodies of word_filter.hpp (included by it, or compiled once into libember-chat
// with EMBER_SEPARATE_COMPILATION).
#pragma once

#include "ember/modules/chat/word_filter.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <stdexcept>
#include <utility>

namespace ember::modules::chat {

EMBER_DECL void word_filter::set(std::vector<std::string> words) {
  for (auto& w : words) std::transform(w.begin(), w.end(), w.begin(), [](unsigned char c) { return std::tolower(c); });
  std::erase_if(words, [](const std::string& w) { return w.empty(); });
  words_ = std::make_shared<const std::vector<std::string>>(std::move(words));
}

EMBER_DECL std::size_t word_filter::load(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot read the banned-word file " + file.string());
  std::vector<std::string> words;
  for (std::string line; std::getline(in, line);) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    auto start = line.find_first_not_of(" \t");
    if (start != std::string::npos) words.push_back(line.substr(start));
  }
  set(std::move(words));
  return words_->size();
}

EMBER_DECL std::string word_filter::mask(std::string text) const {
  const auto words = words_;
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const auto& w : *words)
    for (auto at = lower.find(w); at != std::string::npos; at = lower.find(w, at + w.size()))
      std::fill_n(text.begin() + static_cast<std::ptrdiff_t>(at), w.size(), '*');
  return text;
}

}  // namespace ember::modules::chat
