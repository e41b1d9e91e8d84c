// Writes a seed corpus for the fuzz targets: a few valid streams, built with the frame encoder,
// and valid cache entries, journals and lookup lists of the data layer, built with its own
// writers, so they follow the formats as they are, not as they were when someone saved them.
// Usage: make_fuzz_seeds DIR  (creates DIR/<target>/seed-N)
#include "datatest.hpp"
#include "ember/data/cache_entry.hpp"
#include "ember/data/journal.hpp"
#include "ember/data/key_list.hpp"
#include "ember/wire/encoder.hpp"
#include "ember/wire/handshake.hpp"
#include "ember/wire/websocket.hpp"

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

using namespace ember;
namespace fs = std::filesystem;

namespace {

constexpr wire::firefly_config example_game{{78, 37, 38, 48}, 9, 0};

/// A native session's first frames: handshake, two requests, a ping, a push with JSON.
buffer native_stream() {
  buffer b;
  const bytes_view hello = as_bytes(std::string_view("\x00\x01\x00\x00", 4));
  (void)wire::append_frame(b, {.kind = wire::frame_kind::handshake}, hello);
  (void)wire::append_frame(b, {.kind = wire::frame_kind::request, .command = 101, .seq = 1},
                           as_bytes("\x0a\x05alice\x12\x06secret"));
  (void)wire::append_frame(b, {.kind = wire::frame_kind::request, .command = 105, .seq = 2},
                           bytes_view{});
  (void)wire::append_frame(b, {.kind = wire::frame_kind::ping, .seq = 7}, bytes_view{});
  (void)wire::append_frame(b,
                           {.kind = wire::frame_kind::push,
                            .flags = wire::flag::json,
                            .command = 201,
                            .seq = 1,
                            .ack = 1},
                           as_bytes(R"({"room":"lobby","text":"hi"})"));
  return b;
}

buffer firefly_stream() {
  buffer b;
  (void)wire::append_frame(b, example_game, 1001, as_bytes(R"({"user":"alice"})"));
  (void)wire::append_frame(b, example_game, 1002, bytes_view{});
  (void)wire::append_frame(b, example_game, 70000, as_bytes("raw bytes"));
  return b;
}

bool write(const fs::path& dir, int n, std::initializer_list<bytes_view> parts) {
  fs::create_directories(dir);
  std::ofstream out(dir / ("seed-" + std::to_string(n)), std::ios::binary);
  for (bytes_view p : parts) out.write(reinterpret_cast<const char*>(p.data()), p.size());
  return bool(out);
}

bytes_view bytes(const std::vector<unsigned char>& v) {
  return {reinterpret_cast<const std::byte*>(v.data()), v.size()};
}

// --- the data layer: rows of tests/data/data_test.toml

datatest::player a_player() { return {42, "alice", 1500, "the bold", 7}; }
datatest::item an_item() {
  return {9001, 42, 3, datatest::rarity::epic, true, {std::byte{1}, std::byte{0}, std::byte{0xff}}, 2.5};
}
datatest::account an_account() { return {"alice", 42}; }

/// Cache entries: live rows, a locked one, a tombstone, a locked tombstone.
std::vector<std::string> cache_entries() {
  using data::cache_entry;
  const auto player = a_player();
  const auto item = an_item();
  const auto account = an_account();
  const std::string live = cache_entry::make(3, &player);
  const std::string tomb = cache_entry::make<datatest::player>(12, nullptr);
  return {
      live,
      cache_entry::make(1, &item),
      cache_entry::make(300, &account),
      cache_entry::with_lease(*cache_entry::parse(live), 1767225600000),
      tomb,
      cache_entry::with_lease(*cache_entry::parse(tomb), 1),
  };
}

/// A journal's bytes as `journal` writes them (in the file `scratch`, removed after): records
/// of every table, a transaction's lock record (store::journal_locks), and last a deleted row.
std::optional<std::string> journal_bytes(const fs::path& scratch) {
  using data::cache_entry;
  const auto player = a_player();
  const auto item = an_item();
  const auto account = an_account();
  std::error_code ec;
  fs::remove(scratch, ec);
  try {
    data::journal j(scratch);
    j.append("player", "42", cache_entry::make(3, &player));
    j.append("item", "9001", cache_entry::make(1, &item));
    j.append("account", "alice", cache_entry::make(300, &account));
    using namespace std::string_view_literals;
    j.append("ember:locks", "1767225600000",
             data::detail::lock_record_entry({"player\0" "42"sv, "player\0" "43"sv, "item\0" "9001"sv}));
    j.append("player", "43", cache_entry::make<datatest::player>(4, nullptr));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_fuzz_seeds: %s\n", e.what());
    return std::nullopt;
  }
  std::ifstream in(scratch, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  fs::remove(scratch, ec);
  return all;
}

bytes_view text(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return EXIT_FAILURE;
  }
  const fs::path root = argv[1];
  std::error_code ec;
  const buffer native = native_stream();
  const buffer firefly = firefly_stream();
  const std::vector<unsigned char> limit_256{0x10}, firefly_256{0x88}, firefly_zero_cfg{0x08};
  // 3 cuts (inside the first header, at a frame boundary, inside a body), limit 256
  const std::vector<unsigned char> split{3, 0x00, 0x05, 0x00, 0x14, 0x00, 0x30, 0x10};

  buffer zero_cfg;
  (void)wire::append_frame(zero_cfg, wire::firefly_config{}, 1, as_bytes("x"));

  bool ok = true;
  ok &= write(root / "fuzz_native_decoder", 1, {bytes(limit_256), native.view()});
  ok &= write(root / "fuzz_native_decoder", 2,
              {bytes(limit_256), native.view().first(native.size() - 3)});
  ok &= write(root / "fuzz_firefly_decoder", 1, {bytes(firefly_256), firefly.view()});
  ok &= write(root / "fuzz_firefly_decoder", 2, {bytes(firefly_zero_cfg), zero_cfg.view()});
  // handshakes: a resuming client hello, a server hello; an outbox of 5 frames and 3 acks; a
  // take-over hello
  {
    wire::client_hello c;
    c.resumable = c.resume = true;
    c.received = 3;
    c.token[0] = 7;
    buffer ch, sh;
    c.encode(ch);
    wire::server_hello h;
    h.resumed = true;
    h.session_id = 42;
    h.resume_grace_ms = 30'000;
    h.encode(sh);
    const std::vector<unsigned char> pick_client{0}, pick_server{1},
        outbox{2, 5, 0, 10, 200, 3, 64, 3, 1, 4, 9};
    ok &= write(root / "fuzz_handshake", 1, {bytes(pick_client), ch.view()});
    ok &= write(root / "fuzz_handshake", 2, {bytes(pick_server), sh.view()});
    ok &= write(root / "fuzz_handshake", 3, {bytes(outbox)});
    c.take_over = true;  // a server taking the session over, with its proof
    c.proof.fill(0x5a);
    buffer take;
    c.encode(take);
    ok &= write(root / "fuzz_handshake", 4, {bytes(pick_client), take.view()});
  }
  ok &= write(root / "fuzz_stream_split", 1, {bytes(split), native.view()});
  ok &= write(root / "fuzz_stream_split", 2, {bytes(split), firefly.view()});

  // WebSocket: a client's frames (a native stream fragmented, with a ping between the
  // fragments, then a close) fed in pieces of 7 bytes, limit 4 KiB; upgrade requests
  {
    namespace ws = wire::websocket;
    const std::array<std::byte, 4> key{std::byte{1}, std::byte{0x80}, std::byte{0x7f}, std::byte{0xff}};
    buffer frames;
    const bytes_view nv = native.view();
    ws::append_frame(frames, ws::opcode::binary, nv.first(20), false, key);
    ws::append_frame(frames, ws::opcode::ping, as_bytes("p"), true, key);
    ws::append_frame(frames, ws::opcode::continuation, nv.subspan(20), true, key);
    ws::append_frame(frames, ws::opcode::binary, nv, true, key);
    ws::append_close(frames, ws::close_code::normal, "bye Ã©", key);
    const std::vector<unsigned char> ws_limits{0xff, 6};
    ok &= write(root / "fuzz_websocket_decoder", 1, {bytes(ws_limits), frames.view()});
    const std::string_view upgrade =
        "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Origin: https://game.example.com\r\n\r\n";
    const std::vector<unsigned char> listed{0x1d}, none{0x1c};
    ok &= write(root / "fuzz_http_upgrade", 1, {bytes(listed), as_bytes(upgrade)});
    ok &= write(root / "fuzz_http_upgrade", 2, {bytes(none), as_bytes(upgrade)});
  }

  int n = 0;
  for (const std::string& e : cache_entries()) ok &= write(root / "fuzz_cache_entry", ++n, {text(e)});
  // regression: a version varint whose tenth byte has bits past 64 (parse used to drop them)
  const std::vector<unsigned char> overlong{1, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x03, 0};
  ok &= write(root / "fuzz_cache_entry", ++n, {bytes(overlong)});

  fs::create_directories(root, ec);
  if (const auto journal = journal_bytes(root / ".journal-seed.tmp")) {
    // [u8 mode][journal]: as it is, torn in the middle of its last record (checksums fixed),
    // and through the file path too
    const std::vector<unsigned char> plain{0}, fix_sums{1}, files{0x0f};
    const bytes_view all = text(*journal);
    ok &= write(root / "fuzz_journal", 1, {bytes(plain), all});
    ok &= write(root / "fuzz_journal", 2, {bytes(fix_sums), all.first(all.size() - 5)});
    ok &= write(root / "fuzz_journal", 3, {bytes(files), all});
  } else {
    ok = false;
  }

  const std::string ints = data::encode_keys(std::vector<std::int64_t>{1, 42, -7, 9223372036854775807});
  const std::string names = data::encode_keys(std::vector<std::string>{"alice", "", "b:o:b", "x"});
  ok &= write(root / "fuzz_key_list", 1, {text(ints)});
  ok &= write(root / "fuzz_key_list", 2, {text(names)});
  ok &= write(root / "fuzz_key_list", 3, {text(ints), text(std::string("3:ab"))});

  if (!ok) {
    std::fprintf(stderr, "%s: cannot write seeds under %s\n", argv[0], argv[1]);
    return EXIT_FAILURE;
  }
  return EXIT_SUCCESS;
}
