// ember: game configuration data (items, levels...) as typed, read-only tables, reloaded on
// command and swapped atomically.
//
//   ember::app::data_slot<ember::app::data_table<world::item, &world::item::id>> items{"data/items.json"};
//   items.reload();                               // at start, and on each "reload data"
//   auto snapshot = items.current();              // a handler keeps it across every co_await:
//   const world::item* sword = snapshot->find(7); // it sees the old set or the new, never a mix
//
// A file is a JSON array of rows, each in the schema's JSON form. A file that does not parse,
// a row that does not decode, or a key used twice is refused with the file, line and row,
// and the data in use stays.
#pragma once

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "ember/app/detail/json_path.hpp"  // line_at
#include "ember/codec/codec.hpp"
#include "ember/outcome.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::app {

/// Why a data file was refused.
struct data_error {
  std::string file;
  std::size_t line = 0;  ///< 0: the whole file
  std::string message;

  std::string what() const;
};
inline std::string describe(const data_error& e) { return e.what(); }

namespace detail {

/// The byte ranges of the elements of a top-level JSON array (strings and nesting aware);
/// false if the text is not one array.
EMBER_DECL bool split_json_array(std::string_view text,
                                 std::vector<std::pair<std::size_t, std::size_t>>& out,
                                 std::size_t& error_at);

}  // namespace detail

/// Rows of schema struct `Row`, by the key member `Key` (e.g. `&item::id`).
template <class Row, auto Key>
class data_table {
 public:
  using key_type = std::remove_cvref_t<decltype(std::declval<const Row&>().*Key)>;

  /// Parses `text` (the contents of `file`, which only appears in errors).
  static outcome<std::shared_ptr<const data_table>, data_error> parse(std::string_view text,
                                                                      const std::string& file) {
    std::vector<std::pair<std::size_t, std::size_t>> spans;
    std::size_t at = 0;
    if (!detail::split_json_array(text, spans, at))
      return data_error{file, detail::line_at(text, at), "expected a JSON array of rows"};
    auto table = std::make_shared<data_table>();
    std::map<key_type, std::size_t> lines;
    for (std::size_t i = 0; i < spans.size(); ++i) {
      const auto [b, e] = spans[i];
      const auto line = detail::line_at(text, b);
      Row row{};
      if (auto ec = codec::decode(as_bytes(text.substr(b, e - b)), codec::encoding::json, row))
        return data_error{file, line, fmt::format("row [{}]: {}", i, ec.message())};
      const auto key = row.*Key;
      if (auto [it, fresh] = lines.try_emplace(key, line); !fresh)
        return data_error{file, line,
                          fmt::format("row [{}]: key {} is used twice (first on line {})", i,
                                      key, it->second)};
      table->index_.emplace(key, table->rows_.size());
      table->rows_.push_back(std::move(row));
    }
    return std::shared_ptr<const data_table>(std::move(table));
  }

  /// Reads and parses `file`.
  static outcome<std::shared_ptr<const data_table>, data_error> load(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return data_error{file.string(), 0, "cannot read the file"};
    std::stringstream ss;
    ss << in.rdbuf();
    return parse(ss.str(), file.string());
  }

  /// The row with `key`, or null.
  const Row* find(const key_type& key) const {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &rows_[it->second];
  }
  const std::vector<Row>& rows() const noexcept { return rows_; }
  std::size_t size() const noexcept { return rows_.size(); }

 private:
  std::vector<Row> rows_;
  std::map<key_type, std::size_t> index_;
};

/// The data in use, from one file: `current()` is a snapshot, `reload()` swaps in a new one
/// if the file is good. One thread: no locks (handlers run on the server's event loop).
template <class Table>
class data_slot {
 public:
  explicit data_slot(std::filesystem::path file) : file_(std::move(file)) {}

  /// Loads the file; on success the next `current()` is the new data, on failure the data in
  /// use stays and the error says where the file is wrong.
  outcome<std::size_t, data_error> reload() {
    auto t = Table::load(file_);
    if (!t) return t.error();
    current_ = std::move(*t);
    ++version_;
    return current_->size();
  }
  /// The data in use (empty before the first successful reload). Hold it for as long as one
  /// piece of work must see one consistent set.
  std::shared_ptr<const Table> current() const {
    return current_ ? current_ : std::make_shared<const Table>();
  }
  /// How many times data was loaded.
  std::uint64_t version() const noexcept { return version_; }
  const std::filesystem::path& file() const noexcept { return file_; }

 private:
  std::filesystem::path file_;
  std::shared_ptr<const Table> current_;
  std::uint64_t version_ = 0;
};

}  // namespace ember::app

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/app/impl/game_data.hpp"
#endif
