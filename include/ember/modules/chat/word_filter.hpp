// ember chat: the banned-word filter — words from the game's data file (one per line, '#'
// starts a comment), masked with '*' wherever they appear, ignoring ASCII case. The list is
// an immutable snapshot swapped on reload, so a line being filtered keeps the list it began
// with.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "ember/separate_compilation.hpp"

namespace ember::modules::chat {

class word_filter {
 public:
  /// Replaces the list by `words` (lower-cased; empty ones dropped).
  void set(std::vector<std::string> words);

  /// Reads `file` (one word per line); throws std::runtime_error if it cannot be read, and
  /// keeps the old list then. Returns the number of words.
  std::size_t load(const std::filesystem::path& file);

  std::size_t size() const noexcept { return words_->size(); }

  /// `text` with every banned word masked ('*' per byte, so UTF-8 stays valid).
  std::string mask(std::string text) const;

 private:
  std::shared_ptr<const std::vector<std::string>> words_ = std::make_shared<const std::vector<std::string>>();
};

}  // namespace ember::modules::chat

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/modules/chat/impl/word_filter.hpp"
#endif
