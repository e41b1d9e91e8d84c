// ember: the per-process journal of acknowledged table changes. A change is appended here
// before its update returns; write-back marks it done by rewriting the journal with only what
// is still dirty. A process killed before its flush replays the journal at start-up.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ember/data/error.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::data {

/// One journal record: the newest cache entry of a row that this process changed.
struct journal_record {
  std::string table;
  std::string key;    ///< the row key as text (see `table<T>`)
  std::string entry;  ///< the cache entry: version, deleted flag, row bytes
};

namespace detail {
/// The rows of a lock record's entry (`store::journal_locks`: each row as [varint length]
/// ["TABLE\0KEY"]), up to the first that is cut short.
EMBER_DECL std::vector<std::string_view> lock_record_rows(std::string_view entry);
/// The entry of a lock record of `rows`.
EMBER_DECL std::string lock_record_entry(const std::vector<std::string_view>& rows);
}  // namespace detail

/// An append-only file of `journal_record`s, each framed as [u32 length][u32 checksum][body].
///
/// Durability: every append is a `write(2)` to the file before the update that made it is
/// acknowledged, so a process killed with SIGKILL loses nothing (the kernel holds the bytes).
/// `sync_job()` (fdatasync) runs on a worker on the store's sync interval; a power loss or a kernel
/// crash can cost the acknowledged changes of the last interval. Replay stops at the first torn
/// or corrupt record: only a crash in the middle of an append makes one, and that record's
/// update was never acknowledged.
class journal {
 public:
  /// Opens (creating) `path` for appending.
  explicit journal(std::filesystem::path path);

  const std::filesystem::path& path() const noexcept { return path_; }
  /// Bytes in the journal file now.
  std::uint64_t size() const noexcept { return size_; }

  /// Appends one record; throws `data_error(journal)` when the file cannot take it (disk full):
  /// the change it records must then not be acknowledged.
  void append(std::string_view table, std::string_view key, std::string_view entry);

  /// A job for a worker thread that forces what was appended so far to the disk.
  auto sync_job() const {
    return [file = file_](std::size_t) { sync(*file); };
  }

  /// Starts replacing the journal with `live` (the records still dirty): they are written to
  /// `PATH.next`, and appends go there from now on. `finish_rewrite_job()` then syncs it and
  /// renames it over the journal on a worker. A crash in between leaves both files, and
  /// `read` takes the newest version of each row from both.
  void begin_rewrite(const std::vector<journal_record>& live);
  auto finish_rewrite_job() const {
    return [file = file_, from = next_path(), to = path_](std::size_t) { finish_rewrite(*file, from, to); };
  }

  /// Every whole record of the journal at `path` and of an unfinished rewrite beside it, in
  /// order (callers keep the newest version of each row).
  static std::vector<journal_record> read(const std::filesystem::path& path);

  /// Appends to `out` the whole records at the start of `bytes` (a journal file's content),
  /// stopping at the first torn or corrupt one; returns the bytes those records take.
  static std::size_t parse(std::string_view bytes, std::vector<journal_record>& out);

 private:
  struct file {
    explicit file(int f) noexcept : fd(f) {}
    file(const file&) = delete;
    file& operator=(const file&) = delete;
    ~file();
    int fd;
  };
  std::filesystem::path next_path() const { return path_.string() + ".next"; }

  // What sync_job() and finish_rewrite_job() do on the worker.
  static void sync(const file& f);
  static void finish_rewrite(const file& f, const std::filesystem::path& from, const std::filesystem::path& to);

  static std::shared_ptr<file> open_file(const std::filesystem::path& p, int flags);
  static std::uint64_t file_size(int fd);
  static void read_file(const std::filesystem::path& path, std::vector<journal_record>& out);
  static void encode(std::string& out, std::string_view table, std::string_view key, std::string_view entry);
  static void put(std::string& out, std::string_view s);
  static bool take(std::string_view body, std::size_t& p, std::string& out);
  static void put32(std::string& out, std::uint32_t v);
  static std::uint32_t get32(std::string_view s, std::size_t at);
  /// FNV-1a: catches a torn or garbled record, which is all a local journal needs.
  static std::uint32_t checksum(std::string_view s);
  static void write_all(int fd, std::string_view data);
  [[noreturn]] static void fail(const std::string& what);

  std::filesystem::path path_;
  std::shared_ptr<file> file_;
  std::uint64_t size_ = 0;
};

}  // namespace ember::data

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/data/impl/journal.hpp"
#endif
