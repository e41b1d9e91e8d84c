// libFuzzer target: the table journal's reader (ember::data::journal::parse, which journal::read
// runs on a journal file's content), on arbitrary bytes: a journal torn by a crash, garbled on
// disk, or not a journal at all.
//
// Input: [u8 mode][journal bytes]. Mode bit 0 first rewrites the checksum of every frame that
// fits, so that mutations get past the checksum into the record bodies; bits 1-3 all set also
// run the file path (slower, so not for most inputs): the bytes written to a temporary file and
// read with journal::read, and the records found appended with a `journal` and read back.
//
// Parsing may stop anywhere, but never crash or read out of bounds (ASan), and:
//   - the records are whole frames at the start of the input, as the format describes them
//     ([u32 length][u32 FNV-1a of the body][body], body = table, key, entry, each [u32 n][n
//     bytes], little-endian), and parsing stops at the first frame that is not one;
//   - a cut anywhere gives the records that end before it (a torn tail loses only itself);
//   - the records, written again, parse back to the same records and nothing else;
//   - an entry read as a lock record's rows (ember::data::detail::lock_record_rows) gives
//     pieces of the entry that, written again, read back the same.
#include "ember/data/journal.hpp"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "fuzz_support.hpp"

namespace {

using ember::data::journal;
using ember::data::journal_record;

std::uint32_t get32(std::string_view s, std::size_t at) {
  return static_cast<std::uint32_t>(static_cast<std::uint8_t>(s[at])) |
         static_cast<std::uint32_t>(static_cast<std::uint8_t>(s[at + 1])) << 8 |
         static_cast<std::uint32_t>(static_cast<std::uint8_t>(s[at + 2])) << 16 |
         static_cast<std::uint32_t>(static_cast<std::uint8_t>(s[at + 3])) << 24;
}
void put32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void set32(std::string& out, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
std::uint32_t fnv1a(std::string_view s) {
  std::uint32_t h = 2166136261u;
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return h;
}

bool same(const journal_record& a, const journal_record& b) {
  return a.table == b.table && a.key == b.key && a.entry == b.entry;
}
bool same_prefix(const std::vector<journal_record>& part, const std::vector<journal_record>& all) {
  if (part.size() > all.size()) return false;
  for (std::size_t i = 0; i < part.size(); ++i)
    if (!same(part[i], all[i])) return false;
  return true;
}

/// A frame written from the format's description, not with the journal's own encoder.
std::string frame(const journal_record& r) {
  std::string body;
  for (const std::string* s : {&r.table, &r.key, &r.entry}) {
    put32(body, static_cast<std::uint32_t>(s->size()));
    body += *s;
  }
  std::string out;
  put32(out, static_cast<std::uint32_t>(body.size()));
  put32(out, fnv1a(body));
  return out + body;
}

/// The field at `p` of a frame body, if one fits.
bool field(std::string_view body, std::size_t& p, std::string_view& out) {
  if (body.size() - p < 4) return false;
  const std::uint32_t n = get32(body, p);
  if (n > body.size() - p - 4) return false;
  out = body.substr(p + 4, n);
  p += 4 + n;
  return true;
}

/// The frame at `at` is a record as the format describes one; its end offset, or 0.
std::size_t frame_end(std::string_view in, std::size_t at) {
  if (in.size() - at < 8) return 0;
  const std::uint32_t len = get32(in, at);
  if (len > in.size() - at - 8) return 0;
  const std::string_view body = in.substr(at + 8, len);
  if (fnv1a(body) != get32(in, at + 4)) return 0;
  std::size_t p = 0;
  std::string_view s;
  for (int i = 0; i < 3; ++i)
    if (!field(body, p, s)) return 0;
  return at + 8 + len;
}

/// Where temporary files go: $TMPDIR if set, else /dev/shm when there is one (files on a disk
/// cost milliseconds each, a hundred times the rest of an input), else the system's default.
const std::filesystem::path& temp_root() {
  static const std::filesystem::path root = [] {
    std::error_code ec;
    if (!std::getenv("TMPDIR") && std::filesystem::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0)
      return std::filesystem::path("/dev/shm");
    return std::filesystem::temp_directory_path();
  }();
  return root;
}

/// A fresh temporary directory, removed with its files when this goes (libFuzzer may end the
/// process with _Exit, so nothing is left for exit time).
struct scratch_dir {
  std::filesystem::path path;
  scratch_dir() {
    std::string tmpl = (temp_root() / "ember-fuzz-journal-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) std::abort();
    path = tmpl;
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::vector<journal_record> read_path(const std::filesystem::path& p) {
  try {
    return journal::read(p);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "journal::read: %s\n", e.what());
    std::abort();
  }
}

/// The file path: bytes on disk read with journal::read, records appended with `journal`.
void check_files(std::string_view in, const std::vector<journal_record>& records) {
  const scratch_dir dir;
  const auto path = dir.path / "journal";
  std::error_code ec;
  {
    std::ofstream f(path, std::ios::binary);
    f.write(in.data(), static_cast<std::streamsize>(in.size()));
    EMBER_FUZZ_CHECK(bool(f));
  }
  auto from_file = read_path(path);
  EMBER_FUZZ_CHECK(from_file.size() == records.size() && same_prefix(from_file, records));

  std::filesystem::remove(path, ec);
  {
    journal j(path);
    for (const auto& r : records) j.append(r.table, r.key, r.entry);
  }
  from_file = read_path(path);
  EMBER_FUZZ_CHECK(from_file.size() == records.size() && same_prefix(from_file, records));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (mode & 1) {
    for (std::size_t at = 0; bytes.size() - at >= 8;) {
      const std::uint32_t len = get32(bytes, at);
      if (len > bytes.size() - at - 8) break;
      set32(bytes, at + 4, fnv1a(std::string_view(bytes).substr(at + 8, len)));
      at += 8 + len;
    }
  }
  const std::string_view in = bytes;

  std::vector<journal_record> records;
  const std::size_t used = journal::parse(in, records);
  EMBER_FUZZ_CHECK(used <= in.size());

  // every record is the next whole frame, and parsing stopped at the first frame that is not one
  std::vector<std::size_t> ends;
  std::size_t at = 0;
  for (const auto& r : records) {
    const std::size_t end = frame_end(in, at);
    EMBER_FUZZ_CHECK(end != 0);
    std::size_t p = 0;
    std::string_view table, key, entry;
    const std::string_view body = in.substr(at + 8, end - at - 8);
    EMBER_FUZZ_CHECK(field(body, p, table) && field(body, p, key) && field(body, p, entry));
    EMBER_FUZZ_CHECK(r.table == table && r.key == key && r.entry == entry);
    // any entry read as a lock record's rows: written again, they read back the same, and
    // each is a piece of the entry
    const auto rows = ember::data::detail::lock_record_rows(r.entry);
    EMBER_FUZZ_CHECK(ember::data::detail::lock_record_rows(ember::data::detail::lock_record_entry(rows)) == rows);
    for (const auto row : rows)
      EMBER_FUZZ_CHECK(row.data() >= r.entry.data() && row.data() + row.size() <= r.entry.data() + r.entry.size());
    ends.push_back(end);
    at = end;
  }
  EMBER_FUZZ_CHECK(at == used);
  EMBER_FUZZ_CHECK(frame_end(in, used) == 0);

  // a cut keeps exactly the records that end before it
  std::vector<std::size_t> cuts{0, in.size() / 2, in.size() - (in.empty() ? 0 : 1)};
  for (std::size_t i = 0; i < ends.size() && i < 16; ++i) {
    cuts.push_back(ends[i] - 1);
    cuts.push_back(ends[i]);
  }
  for (std::size_t cut : cuts) {
    std::vector<journal_record> part;
    const std::size_t part_used = journal::parse(in.substr(0, cut), part);
    std::size_t whole = 0;
    while (whole < ends.size() && ends[whole] <= cut) ++whole;
    EMBER_FUZZ_CHECK(part.size() == whole && same_prefix(part, records));
    EMBER_FUZZ_CHECK(part_used == (whole == 0 ? 0 : ends[whole - 1]));
  }

  // written again, the records parse back to themselves
  std::string again;
  for (const auto& r : records) again += frame(r);
  std::vector<journal_record> reparsed;
  EMBER_FUZZ_CHECK(journal::parse(again, reparsed) == again.size());
  EMBER_FUZZ_CHECK(reparsed.size() == records.size() && same_prefix(reparsed, records));

  if ((mode & 0x0e) == 0x0e) check_files(in, records);
  return 0;
}
