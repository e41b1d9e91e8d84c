// Writes a seed corpus for the wire fuzz targets: a few valid streams, built with the frame
// encoder so they follow the format as it is, not as it was when someone saved them.
// Usage: make_fuzz_seeds DIR  (creates DIR/<target>/seed-N)
#include "ember/wire/encoder.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
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

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return EXIT_FAILURE;
  }
  const fs::path root = argv[1];
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
  ok &= write(root / "fuzz_stream_split", 1, {bytes(split), native.view()});
  ok &= write(root / "fuzz_stream_split", 2, {bytes(split), firefly.view()});
  if (!ok) {
    std::fprintf(stderr, "%s: cannot write seeds under %s\n", argv[0], argv[1]);
    return EXIT_FAILURE;
  }
  return EXIT_SUCCESS;
}
