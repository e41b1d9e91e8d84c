// ember: the per-process journal of acknowledged table changes. A change is appended here
// before its update returns; write-back marks it done by rewriting the journal with only what
// is still dirty. A process killed before its flush replays the journal at start-up.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ember/data/error.hpp"

namespace ember::data {

/// One journal record: the newest cache entry of a row that this process changed.
struct journal_record {
  std::string table;
  std::string key;    ///< the row key as text (see `table<T>`)
  std::string entry;  ///< the cache entry: version, deleted flag, row bytes
};

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
  explicit journal(std::filesystem::path path) : path_(std::move(path)) {
    file_ = open_file(path_, O_WRONLY | O_CREAT | O_APPEND);
    size_ = file_size(file_->fd);
  }

  const std::filesystem::path& path() const noexcept { return path_; }
  /// Bytes in the journal file now.
  std::uint64_t size() const noexcept { return size_; }

  /// Appends one record; throws `data_error(journal)` when the file cannot take it (disk full):
  /// the change it records must then not be acknowledged.
  void append(std::string_view table, std::string_view key, std::string_view entry) {
    std::string rec;
    encode(rec, table, key, entry);
    try {
      write_all(file_->fd, rec);
    } catch (...) {
      // A half-written record would hide every later one from replay: cut it off.
      [[maybe_unused]] const int rc = ::ftruncate(file_->fd, static_cast<off_t>(size_));
      throw;
    }
    size_ += rec.size();
  }

  /// A job for a worker thread that forces what was appended so far to the disk.
  auto sync_job() const {
    return [file = file_](std::size_t) {
      if (::fdatasync(file->fd) != 0) fail("fdatasync");
    };
  }

  /// Starts replacing the journal with `live` (the records still dirty): they are written to
  /// `PATH.next`, and appends go there from now on. `finish_rewrite_job()` then syncs it and
  /// renames it over the journal on a worker. A crash in between leaves both files, and
  /// `read` takes the newest version of each row from both.
  void begin_rewrite(const std::vector<journal_record>& live) {
    auto next = open_file(next_path(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND);
    std::string all;
    for (const auto& r : live) encode(all, r.table, r.key, r.entry);
    write_all(next->fd, all);
    file_ = std::move(next);
    size_ = all.size();
  }
  auto finish_rewrite_job() const {
    return [file = file_, from = next_path(), to = path_](std::size_t) {
      if (::fdatasync(file->fd) != 0) fail("fdatasync " + from.string());
      if (::rename(from.c_str(), to.c_str()) != 0) fail("rename " + from.string());
      const auto dir = to.parent_path().empty() ? std::filesystem::path(".") : to.parent_path();
      const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
      }
    };
  }

  /// Every whole record of the journal at `path` and of an unfinished rewrite beside it, in
  /// order (callers keep the newest version of each row).
  static std::vector<journal_record> read(const std::filesystem::path& path) {
    std::vector<journal_record> out;
    read_file(path, out);
    read_file(std::filesystem::path(path.string() + ".next"), out);
    return out;
  }

  /// Appends to `out` the whole records at the start of `bytes` (a journal file's content),
  /// stopping at the first torn or corrupt one; returns the bytes those records take.
  static std::size_t parse(std::string_view bytes, std::vector<journal_record>& out) {
    std::size_t at = 0;
    while (bytes.size() - at >= 8) {
      const std::uint32_t len = get32(bytes, at), sum = get32(bytes, at + 4);
      if (len > bytes.size() - at - 8) break;  // torn tail
      const std::string_view body = bytes.substr(at + 8, len);
      if (checksum(body) != sum) break;
      journal_record r;
      std::size_t p = 0;
      if (!take(body, p, r.table) || !take(body, p, r.key) || !take(body, p, r.entry)) break;
      out.push_back(std::move(r));
      at += 8 + len;
    }
    return at;
  }

 private:
  struct file {
    explicit file(int f) noexcept : fd(f) {}
    file(const file&) = delete;
    file& operator=(const file&) = delete;
    ~file() { ::close(fd); }
    int fd;
  };
  std::filesystem::path next_path() const { return path_.string() + ".next"; }

  static std::shared_ptr<file> open_file(const std::filesystem::path& p, int flags) {
    const int fd = ::open(p.c_str(), flags | O_CLOEXEC, 0644);
    if (fd < 0) fail("open " + p.string());
    return std::make_shared<file>(fd);
  }
  static std::uint64_t file_size(int fd) {
    struct stat st {};
    return ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
  }
  static void read_file(const std::filesystem::path& path, std::vector<journal_record>& out) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return;
      fail("open " + path.string());
    }
    std::string all;
    char buf[65536];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        ::close(fd);
        fail("read " + path.string());
      }
      if (n == 0) break;
      all.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    parse(all, out);
  }
  static void encode(std::string& out, std::string_view table, std::string_view key, std::string_view entry) {
    std::string body;
    put(body, table);
    put(body, key);
    put(body, entry);
    put32(out, static_cast<std::uint32_t>(body.size()));
    put32(out, checksum(body));
    out += body;
  }
  static void put(std::string& out, std::string_view s) {
    put32(out, static_cast<std::uint32_t>(s.size()));
    out += s;
  }
  static bool take(std::string_view body, std::size_t& p, std::string& out) {
    if (body.size() - p < 4) return false;
    const std::uint32_t n = get32(body, p);
    p += 4;
    if (n > body.size() - p) return false;
    out.assign(body.substr(p, n));
    p += n;
    return true;
  }
  static void put32(std::string& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  static std::uint32_t get32(std::string_view s, std::size_t at) {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + i])) << (8 * i);
    return v;
  }
  /// FNV-1a: catches a torn or garbled record, which is all a local journal needs.
  static std::uint32_t checksum(std::string_view s) {
    std::uint32_t h = 2166136261u;
    for (unsigned char c : s) h = (h ^ c) * 16777619u;
    return h;
  }
  static void write_all(int fd, std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::write(fd, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail("write");
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  [[noreturn]] static void fail(const std::string& what) {
    throw data_error(data_errc::journal, what + ": " + std::strerror(errno));
  }

  std::filesystem::path path_;
  std::shared_ptr<file> file_;
  std::uint64_t size_ = 0;
};

}  // namespace ember::data
