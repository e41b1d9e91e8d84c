// ember: bodies of the journal (ember/data/journal.hpp).
#pragma once

#include "ember/data/journal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ember/data/cache_entry.hpp"  // its varints

namespace ember::data {

EMBER_DECL journal::journal(std::filesystem::path path) : path_(std::move(path)) {
  file_ = open_file(path_, O_WRONLY | O_CREAT | O_APPEND);
  size_ = file_size(file_->fd);
}

EMBER_DECL void journal::append(std::string_view table, std::string_view key, std::string_view entry) {
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

EMBER_DECL void journal::sync(const file& f) {
  if (::fdatasync(f.fd) != 0) fail("fdatasync");
}

EMBER_DECL void journal::begin_rewrite(const std::vector<journal_record>& live) {
  auto next = open_file(next_path(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND);
  std::string all;
  for (const auto& r : live) encode(all, r.table, r.key, r.entry);
  write_all(next->fd, all);
  file_ = std::move(next);
  size_ = all.size();
}

EMBER_DECL void journal::finish_rewrite(const file& f, const std::filesystem::path& from,
                                        const std::filesystem::path& to) {
  if (::fdatasync(f.fd) != 0) fail("fdatasync " + from.string());
  if (::rename(from.c_str(), to.c_str()) != 0) fail("rename " + from.string());
  const auto dir = to.parent_path().empty() ? std::filesystem::path(".") : to.parent_path();
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

EMBER_DECL std::vector<std::string_view> detail::lock_record_rows(std::string_view entry) {
  std::vector<std::string_view> rows;
  for (std::size_t at = 0; at < entry.size();) {
    std::uint64_t size = 0;
    if (!cache_entry::get_varint(entry, at, size) || size > entry.size() - at) break;
    rows.push_back(entry.substr(at, size));
    at += size;
  }
  return rows;
}

EMBER_DECL std::string detail::lock_record_entry(const std::vector<std::string_view>& rows) {
  std::string entry;
  for (const auto row : rows) {
    cache_entry::put_varint(entry, row.size());
    entry.append(row);
  }
  return entry;
}

EMBER_DECL std::vector<journal_record> journal::read(const std::filesystem::path& path) {
  std::vector<journal_record> out;
  read_file(path, out);
  read_file(std::filesystem::path(path.string() + ".next"), out);
  return out;
}

EMBER_DECL std::size_t journal::parse(std::string_view bytes, std::vector<journal_record>& out) {
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

EMBER_DECL journal::file::~file() { ::close(fd); }

EMBER_DECL std::shared_ptr<journal::file> journal::open_file(const std::filesystem::path& p, int flags) {
  const int fd = ::open(p.c_str(), flags | O_CLOEXEC, 0644);
  if (fd < 0) fail("open " + p.string());
  return std::make_shared<file>(fd);
}

EMBER_DECL std::uint64_t journal::file_size(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

EMBER_DECL void journal::read_file(const std::filesystem::path& path, std::vector<journal_record>& out) {
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

EMBER_DECL void journal::encode(std::string& out, std::string_view table, std::string_view key,
                                std::string_view entry) {
  std::string body;
  put(body, table);
  put(body, key);
  put(body, entry);
  put32(out, static_cast<std::uint32_t>(body.size()));
  put32(out, checksum(body));
  out += body;
}

EMBER_DECL void journal::put(std::string& out, std::string_view s) {
  put32(out, static_cast<std::uint32_t>(s.size()));
  out += s;
}

EMBER_DECL bool journal::take(std::string_view body, std::size_t& p, std::string& out) {
  if (body.size() - p < 4) return false;
  const std::uint32_t n = get32(body, p);
  p += 4;
  if (n > body.size() - p) return false;
  out.assign(body.substr(p, n));
  p += n;
  return true;
}

EMBER_DECL void journal::put32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

EMBER_DECL std::uint32_t journal::get32(std::string_view s, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + i])) << (8 * i);
  return v;
}

EMBER_DECL std::uint32_t journal::checksum(std::string_view s) {
  std::uint32_t h = 2166136261u;
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return h;
}

EMBER_DECL void journal::write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("write");
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

EMBER_DECL void journal::fail(const std::string& what) {
  throw data_error(data_errc::journal, what + ": " + std::strerror(errno));
}

}  // namespace ember::data
