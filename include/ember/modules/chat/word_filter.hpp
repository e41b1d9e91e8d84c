// ember chat: the banned-word filter — words from the game's data file (one per line, '#'
// starts a comment), masked with '*' wherever they appear, ignoring ASCII case. The list is
// an immutable snapshot swapped on reload, so a line being filtered keeps the list it began
// with.
#pragma once

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ember::modules::chat {

class word_filter {
 public:
  /// Replaces the list by `words` (lower-cased; empty ones dropped).
  void set(std::vector<std::string> words) {
    for (auto& w : words) std::transform(w.begin(), w.end(), w.begin(), [](unsigned char c) { return std::tolower(c); });
    std::erase_if(words, [](const std::string& w) { return w.empty(); });
    words_ = std::make_shared<const std::vector<std::string>>(std::move(words));
  }

  /// Reads `file` (one word per line); throws std::runtime_error if it cannot be read, and
  /// keeps the old list then. Returns the number of words.
  std::size_t load(const std::filesystem::path& file) {
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

  std::size_t size() const noexcept { return words_->size(); }

  /// `text` with every banned word masked ('*' per byte, so UTF-8 stays valid).
  std::string mask(std::string text) const {
    const auto words = words_;
    std::string lower = text;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    for (const auto& w : *words)
      for (auto at = lower.find(w); at != std::string::npos; at = lower.find(w, at + w.size()))
        std::fill_n(text.begin() + static_cast<std::ptrdiff_t>(at), w.size(), '*');
    return text;
  }

 private:
  std::shared_ptr<const std::vector<std::string>> words_ = std::make_shared<const std::vector<std::string>>();
};

}  // namespace ember::modules::chat
