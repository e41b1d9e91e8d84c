// ember-ws-bench: the same echo load over TCP and over WebSocket, against one
// bench_echo_server (--port and --websocket-port), in one run, rounds alternating. Raw sockets
// on one io thread and one code path for both transports: each connection does ember's
// handshake, keeps D echo requests in flight, and writes what it has queued in one write --
// on WebSocket as one masked binary message (PROTOCOL.md §11: a message holds whole frames).
// Buffers are reused and masking is eight bytes at a time, so the client is not what limits
// WebSocket. Reports req/s, latency, the server's CPU per request (/proc/PID/stat) and the
// WebSocket / TCP ratios.
//
// --idle N opens N idle sessions over one transport and reports the server's resident memory
// (/proc/PID/status VmRSS) per session.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

#include <CLI/CLI.hpp>
#include <asio/connect.hpp>
#include <asio/error.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>

#include "bench.hpp"
#include "ember/detail/histogram.hpp"
#include "ember/wire/frame.hpp"
#include "ember/wire/handshake.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
using asio::ip::tcp;
namespace wire = ember::wire;

struct settings {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::uint16_t ws_port = 0;
  int connections = 100;
  int depth = 16;
  std::size_t payload = 64;
  double duration = 2;
  double warmup = 0.5;
  int rounds = 3;
  int server_pid = 0;
  bool resumable = true;
  bool json = false;
  bool quiet = false;
  int idle = 0;
  std::string transport = "ws";
};

/// utime + stime of a process, in seconds.
double cpu_seconds(int pid) {
  std::ifstream f(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(f)), {});
  const auto close_paren = text.rfind(')');
  if (close_paren == std::string::npos) return -1;
  std::istringstream rest(text.substr(close_paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

/// Resident memory of a process, in bytes (/proc/PID/status VmRSS).
long resident_bytes(int pid) {
  std::ifstream f(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6)) * 1024;
  return -1;
}

/// What a round (or the whole of an idle run) shares between its connections.
struct run_state {
  bool measuring = false;
  bool stop = false;
  std::uint64_t ok = 0;       // replies while measuring
  std::uint64_t errors = 0;   // error frames, failed connections, unexpected closes
  int ready = 0;              // connections through their handshake
  int finished = 0;           // connections closed (or failed)
  std::string first_error;
  ember::detail::histogram latency;
  void fail(std::string why) {
    ++errors;
    if (first_error.empty()) first_error = std::move(why);
  }
};

/// One client connection over TCP or WebSocket. Lives in a shared_ptr held by its handlers.
class connection : public std::enable_shared_from_this<connection> {
 public:
  // Room before the queued native frames for the largest masked WebSocket header (10 + 4), so
  // a message is framed without moving its payload.
  static constexpr std::size_t room = 14;

  connection(asio::io_context& io, const settings& s, bool ws, run_state& st,
             const std::vector<std::byte>& request, bool load)
      : socket_(io), s_(s), ws_(ws), st_(st), request_(request), load_(load),
        mask_state_(0x9E3779B97F4A7C15ull ^ reinterpret_cast<std::uintptr_t>(this)) {
    // an idle session needs little: thousands of them live in this process
    in_.resize(load ? 64 * 1024 : 1024);
    if (load) sent_.resize(4096);
    out_.resize(room);
    writing_buf_.reserve(4096);
    native_.reserve(4096);
  }

  void start() {
    auto self = shared_from_this();
    const tcp::endpoint ep(asio::ip::make_address(s_.host), ws_ ? s_.ws_port : s_.port);
    socket_.async_connect(ep, [this, self](std::error_code ec) {
      if (ec) return fail("connect: " + ec.message());
      socket_.set_option(tcp::no_delay(true));
      if (ws_) {
        // A client's upgrade as a browser (without Origin) or a native client would send it.
        static constexpr std::string_view upgrade =
            "GET /bench HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
        const auto* p = reinterpret_cast<const std::byte*>(upgrade.data());
        raw_.assign(p, p + upgrade.size());
        phase_ = phase::upgrade;
      } else {
        phase_ = phase::hello;
      }
      queue_hello();
      flush();
      read();
    });
  }

  void close() {
    std::error_code ignored;
    socket_.close(ignored);
  }

 private:
  enum class phase { upgrade, hello, running, done };

  /// Ends the connection; a non-empty `why` counts as an error of the run.
  void fail(std::string why) {
    if (phase_ == phase::done) return;
    if (!why.empty()) st_.fail(std::move(why));
    finish();
  }
  void finish() {
    if (phase_ == phase::done) return;
    phase_ = phase::done;
    ++st_.finished;
    close();
  }

  // --- output ------------------------------------------------------------------------------

  void queue_frame(wire::frame_kind kind, std::uint32_t seq, const std::byte* body, std::size_t n) {
    const std::size_t at = out_.size();
    out_.resize(at + wire::native_header_size + n);
    wire::frame_header h;
    h.length = static_cast<std::uint32_t>(n);
    h.kind = kind;
    h.command = kind == wire::frame_kind::request ? bench::cmd::echo::id : 0;
    h.seq = seq;
    h.ack = s_.resumable ? received_ : 0;
    wire::write_header(out_.data() + at, h);
    if (n) std::memcpy(out_.data() + at + wire::native_header_size, body, n);
  }

  void queue_hello() {
    ember::buffer b;
    wire::client_hello hello;
    hello.resumable = s_.resumable;
    hello.encode(b);
    queue_frame(wire::frame_kind::handshake, 0, b.data(), b.size());
  }

  void queue_request() {
    const std::uint32_t seq = ++next_seq_;
    sent_[seq % sent_.size()] = clock_type::now();
    queue_frame(wire::frame_kind::request, seq, request_.data(), request_.size());
    ++in_flight_;
  }

  /// One write of everything queued, if none is in flight.
  void flush() {
    if (writing_ || phase_ == phase::done) return;
    std::size_t from = room;
    if (!raw_.empty()) {
      // the upgrade request goes before the first frames, unframed
      writing_buf_.assign(raw_.begin(), raw_.end());
      raw_.clear();
    } else {
      writing_buf_.clear();
    }
    const std::size_t n = out_.size() - room;
    if (n == 0 && writing_buf_.empty()) return;
    if (n != 0 && ws_) from = frame_message(n);
    writing_buf_.insert(writing_buf_.end(), out_.begin() + static_cast<std::ptrdiff_t>(from), out_.end());
    out_.resize(room);
    writing_ = true;
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(writing_buf_), [this, self](std::error_code ec, std::size_t) {
      writing_ = false;
      if (ec) return fail("write: " + ec.message());
      flush();
    });
  }

  /// Masks the `n` bytes after `room` as one binary message and writes its header just before
  /// them; returns where the message starts.
  std::size_t frame_message(std::size_t n) {
    // xorshift64: a new mask per message, as RFC 6455 asks (browsers use a strong random source;
    // the server's cost does not depend on where the key comes from)
    mask_state_ ^= mask_state_ << 13;
    mask_state_ ^= mask_state_ >> 7;
    mask_state_ ^= mask_state_ << 17;
    std::array<std::byte, 4> key;
    std::memcpy(key.data(), &mask_state_, 4);
    std::byte* p = out_.data() + room;
    std::uint64_t k8;
    std::byte kb[8];
    for (int j = 0; j < 8; ++j) kb[j] = key[j & 3];
    std::memcpy(&k8, kb, 8);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      std::uint64_t w;
      std::memcpy(&w, p + i, 8);
      w ^= k8;
      std::memcpy(p + i, &w, 8);
    }
    for (; i < n; ++i) p[i] ^= key[i & 3];
    std::byte h[room];
    std::size_t hn = 0;
    h[hn++] = std::byte{0x82};  // FIN, binary
    if (n < 126) {
      h[hn++] = std::byte(0x80 | n);
    } else if (n <= 0xFFFF) {
      h[hn++] = std::byte{0x80 | 126};
      h[hn++] = std::byte(n >> 8);
      h[hn++] = std::byte(n);
    } else {
      h[hn++] = std::byte{0x80 | 127};
      for (int b = 7; b >= 0; --b) h[hn++] = std::byte(std::uint64_t(n) >> (8 * b));
    }
    for (int j = 0; j < 4; ++j) h[hn++] = key[j];
    std::memcpy(p - hn, h, hn);
    return room - hn;
  }

  // --- input -------------------------------------------------------------------------------

  void read() {
    auto self = shared_from_this();
    socket_.async_read_some(asio::buffer(in_.data() + in_used_, in_.size() - in_used_),
                            [this, self](std::error_code ec, std::size_t n) {
                              if (ec == asio::error::operation_aborted) return fail({});  // we closed it
                              if (ec) return fail(phase_ == phase::running && st_.stop
                                                      ? std::string() : "read: " + ec.message());
                              in_used_ += n;
                              if (!consume()) return;
                              if (phase_ == phase::done) return;
                              flush();
                              read();
                            });
  }

  /// Takes what `in_` holds: the upgrade answer, then WebSocket frames (or, on TCP, the native
  /// stream itself) into `native_`, whose whole frames are then handled. False: the connection
  /// failed.
  bool consume() {
    std::size_t at = 0;
    if (phase_ == phase::upgrade) {
      const std::string_view text(reinterpret_cast<const char*>(in_.data()), in_used_);
      const auto end = text.find("\r\n\r\n");
      if (end == std::string_view::npos) {
        if (in_used_ == in_.size()) return fail("upgrade answer too long"), false;
        return true;
      }
      if (text.substr(0, 12) != "HTTP/1.1 101") return fail("upgrade refused: " + std::string(text.substr(0, end))), false;
      at = end + 4;
      phase_ = phase::hello;
    }
    if (!ws_) {
      native_.insert(native_.end(), in_.begin() + static_cast<std::ptrdiff_t>(at),
                     in_.begin() + static_cast<std::ptrdiff_t>(in_used_));
      at = in_used_;
    } else {
      while (at < in_used_) {
        if (ws_left_ == 0) {
          // a server frame's header: 2, 4 or 10 bytes, never masked
          const std::size_t avail = in_used_ - at;
          if (avail < 2) break;
          const auto b0 = std::to_integer<unsigned>(in_[at]), b1 = std::to_integer<unsigned>(in_[at + 1]);
          std::size_t hn = 2;
          std::uint64_t len = b1 & 0x7F;
          if (len == 126) hn = 4;
          if (len == 127) hn = 10;
          if (avail < hn) break;
          if (hn > 2) {
            len = 0;
            for (std::size_t i = 2; i < hn; ++i) len = len << 8 | std::to_integer<unsigned>(in_[at + i]);
          }
          const unsigned op = b0 & 0x0F;
          if (op == 0x8) return fail(st_.stop ? std::string() : "the server closed the WebSocket"), false;
          if (op != 0x2 && op != 0x0) return fail(fmt::format("unexpected WebSocket opcode {}", op)), false;
          at += hn;
          ws_left_ = len;
          if (len == 0) continue;
        }
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(ws_left_, in_used_ - at));
        native_.insert(native_.end(), in_.begin() + static_cast<std::ptrdiff_t>(at),
                       in_.begin() + static_cast<std::ptrdiff_t>(at + n));
        at += n;
        ws_left_ -= n;
      }
    }
    // keep an incomplete WebSocket header for the next read
    if (at < in_used_) std::memmove(in_.data(), in_.data() + at, in_used_ - at);
    in_used_ -= at;
    return handle_frames();
  }

  bool handle_frames() {
    std::size_t at = 0;
    const auto now = clock_type::now();
    while (native_.size() - at >= wire::native_header_size) {
      const auto h = wire::read_header(native_.data() + at);
      if (native_.size() - at - wire::native_header_size < h.length) break;
      at += wire::native_header_size + h.length;
      switch (h.kind) {
        case wire::frame_kind::handshake:
          if (phase_ != phase::hello) return fail("a second server hello"), false;
          phase_ = phase::running;
          ++st_.ready;
          if (load_)
            for (int i = 0; i < s_.depth && !st_.stop; ++i) queue_request();
          break;
        case wire::frame_kind::response:
        case wire::frame_kind::error: {
          ++received_;
          --in_flight_;
          if (h.kind == wire::frame_kind::error) {
            st_.fail(fmt::format("error frame for request {}", h.seq));
          } else if (st_.measuring) {
            ++st_.ok;
            st_.latency.record(static_cast<std::uint64_t>(
                std::chrono::nanoseconds(now - sent_[h.seq % sent_.size()]).count()));
          }
          if (!st_.stop) queue_request();
          break;
        }
        case wire::frame_kind::push:
          ++received_;
          break;
        case wire::frame_kind::ping:
          queue_frame(wire::frame_kind::pong, h.seq, nullptr, 0);
          break;
        default:
          break;
      }
    }
    native_.erase(native_.begin(), native_.begin() + static_cast<std::ptrdiff_t>(at));
    if (st_.stop && in_flight_ == 0 && phase_ == phase::running) finish();
    return true;
  }

  tcp::socket socket_;
  const settings& s_;
  const bool ws_;
  run_state& st_;
  const std::vector<std::byte>& request_;  // an echo request's body
  const bool load_;                         // false: idle after the handshake
  phase phase_ = phase::upgrade;
  std::vector<std::byte> in_;
  std::size_t in_used_ = 0;
  std::uint64_t ws_left_ = 0;  // payload bytes of the current server frame still to come
  std::vector<std::byte> native_;
  std::vector<std::byte> raw_;  // the upgrade request, before any frame
  std::vector<std::byte> out_, writing_buf_;
  bool writing_ = false;
  std::uint64_t mask_state_;
  std::uint32_t next_seq_ = 0;
  std::uint32_t received_ = 0;
  int in_flight_ = 0;
  std::vector<clock_type::time_point> sent_;  // by seq, for latency
};

void raise_file_limit() {
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);
}

/// Runs `io` until `done()` or `limit` passes; false on the deadline.
template <class Done>
bool run_until(asio::io_context& io, Done done, std::chrono::duration<double> limit) {
  const auto deadline = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(limit);
  while (!done()) {
    if (clock_type::now() >= deadline) return false;
    io.run_for(std::chrono::milliseconds(5));
    if (io.stopped()) io.restart();
  }
  return true;
}

struct round_result {
  bool ws = false;
  double rps = 0;
  double cpu_us = -1;
  double client_cpu_us = -1;  // this process's, per request: high means the client limits
  double p50_us = 0, p99_us = 0;
  std::uint64_t requests = 0, errors = 0;
  std::string first_error;
};

round_result run_round(const settings& s, bool ws, const std::vector<std::byte>& body) {
  asio::io_context io(1);
  run_state st;
  std::vector<std::shared_ptr<connection>> conns;
  for (int i = 0; i < s.connections; ++i) {
    conns.push_back(std::make_shared<connection>(io, s, ws, st, body, true));
    conns.back()->start();
  }
  round_result r;
  r.ws = ws;
  if (!run_until(io, [&] { return st.ready + st.finished >= s.connections; }, std::chrono::seconds(10)))
    st.fail("connections not ready in 10 s");
  io.run_for(std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(s.warmup)));
  io.restart();
  const double cpu0 = s.server_pid ? cpu_seconds(s.server_pid) : 0;
  const double self0 = cpu_seconds(getpid());
  const auto t0 = clock_type::now();
  st.measuring = true;
  io.run_for(std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(s.duration)));
  io.restart();
  st.measuring = false;
  const double elapsed = std::chrono::duration<double>(clock_type::now() - t0).count();
  const double cpu = s.server_pid ? cpu_seconds(s.server_pid) - cpu0 : 0;
  const double self = cpu_seconds(getpid()) - self0;
  st.stop = true;  // no new requests; each connection closes when its last reply is in
  if (!run_until(io, [&] { return st.finished >= s.connections; }, std::chrono::seconds(5)))
    st.fail("replies still missing 5 s after the round");
  for (auto& c : conns) c->close();
  io.run_for(std::chrono::milliseconds(10));
  r.requests = st.ok;
  r.errors = st.errors;
  r.first_error = st.first_error;
  r.rps = double(st.ok) / elapsed;
  if (s.server_pid && st.ok) r.cpu_us = cpu * 1e6 / double(st.ok);
  if (st.ok) r.client_cpu_us = self * 1e6 / double(st.ok);
  r.p50_us = double(st.latency.quantile(0.5)) / 1e3;
  r.p99_us = double(st.latency.quantile(0.99)) / 1e3;
  return r;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

int run_throughput(const settings& s) {
  raise_file_limit();
  bench::echo_request req;
  req.payload.assign(s.payload, std::byte{'x'});
  ember::buffer b;
  ember::codec::encode(b, req, ember::codec::encoding::binary);
  const std::vector<std::byte> body(b.data(), b.data() + b.size());
  std::vector<round_result> results;
  std::uint64_t errors = 0;
  for (int r = 0; r < s.rounds; ++r) {
    for (bool ws : {false, true}) {
      auto res = run_round(s, ws, body);
      errors += res.errors;
      if (!s.quiet)
        std::fprintf(stderr, "round %d/%d %-9s %9.0f req/s  p50 %6.0f us  p99 %6.0f us  CPU/req server %.2f us client %.2f us%s%s\n",
                     r + 1, s.rounds, ws ? "websocket" : "tcp", res.rps, res.p50_us, res.p99_us, res.cpu_us,
                     res.client_cpu_us,
                     res.errors ? fmt::format("  {} errors: ", res.errors).c_str() : "", res.first_error.c_str());
      results.push_back(std::move(res));
    }
  }
  auto pick = [&](bool ws, auto field) {
    std::vector<double> v;
    for (auto& r : results)
      if (r.ws == ws) v.push_back(field(r));
    return median(v);
  };
  const double tcp_rps = pick(false, [](auto& r) { return r.rps; });
  const double ws_rps = pick(true, [](auto& r) { return r.rps; });
  const double tcp_cpu = pick(false, [](auto& r) { return r.cpu_us; });
  const double ws_cpu = pick(true, [](auto& r) { return r.cpu_us; });
  const double tcp_client = pick(false, [](auto& r) { return r.client_cpu_us; });
  const double ws_client = pick(true, [](auto& r) { return r.client_cpu_us; });
  const double tcp_p99 = pick(false, [](auto& r) { return r.p99_us; });
  const double ws_p99 = pick(true, [](auto& r) { return r.p99_us; });
  // each WebSocket round against the TCP round just before it
  std::vector<double> pair_ratios;
  for (std::size_t i = 0; i + 1 < results.size(); i += 2)
    if (results[i].rps > 0) pair_ratios.push_back(results[i + 1].rps / results[i].rps);
  std::string pairs;
  for (double p : pair_ratios) pairs += fmt::format("{}{:.2f}", pairs.empty() ? "" : ",", p);
  const double ratio = tcp_rps > 0 ? ws_rps / tcp_rps : 0;
  // on a shared machine a neighbour's burst spoils single rounds; the median pair is steadier
  const double pair_median = median(pair_ratios);
  const double cpu_ratio = tcp_cpu > 0 ? ws_cpu / tcp_cpu : 0;
  if (s.json)
    fmt::print("{{\"connections\":{},\"depth\":{},\"payload\":{},\"rounds\":{},\"seconds\":{},"
               "\"tcp_rps\":{:.0f},\"ws_rps\":{:.0f},\"ratio\":{:.3f},\"pair_ratios\":[{}],\"pair_median\":{:.3f},"
               "\"tcp_cpu_us\":{:.3f},\"ws_cpu_us\":{:.3f},\"cpu_ratio\":{:.3f},"
               "\"tcp_client_cpu_us\":{:.3f},\"ws_client_cpu_us\":{:.3f},"
               "\"tcp_p99_us\":{:.0f},\"ws_p99_us\":{:.0f},\"errors\":{}}}\n",
               s.connections, s.depth, s.payload, s.rounds, s.duration, tcp_rps, ws_rps, ratio, pairs,
               pair_median, tcp_cpu, ws_cpu, cpu_ratio, tcp_client, ws_client, tcp_p99, ws_p99, errors);
  else
    fmt::print("echo {}x{}, {} B, median of {} rounds of {} s each:\n"
               "  tcp        {:9.0f} req/s  server CPU {:.2f} us/req (client {:.2f})  p99 {:.0f} us\n"
               "  websocket  {:9.0f} req/s  server CPU {:.2f} us/req (client {:.2f})  p99 {:.0f} us\n"
               "  websocket / tcp: throughput {:.2f} (pairs: {}; median pair {:.2f}), server CPU per request {:.2f}; errors {}\n",
               s.connections, s.depth, s.payload, s.rounds, s.duration, tcp_rps, tcp_cpu, tcp_client, tcp_p99,
               ws_rps, ws_cpu, ws_client, ws_p99, ratio, pairs, pair_median, cpu_ratio, errors);
  return errors || tcp_rps == 0 || ws_rps == 0 ? 1 : 0;
}

/// Idle mode: N sessions through their handshake, then nothing; the server's memory per session.
int run_idle(const settings& s) {
  if (!s.server_pid) {
    std::fprintf(stderr, "--idle needs --server-pid (a local server whose memory to read)\n");
    return 2;
  }
  raise_file_limit();
  const bool ws = s.transport == "ws";
  const std::vector<std::byte> body;
  asio::io_context io(1);
  run_state st;
  std::vector<std::shared_ptr<connection>> conns;
  conns.reserve(std::size_t(s.idle) + 100);
  // at most 200 handshakes at once: the listen backlog is not what is measured
  auto open = [&](int n) {
    const int target = st.ready + n;
    int started = 0;
    return run_until(io, [&] {
      while (started < n && int(conns.size()) - st.ready - st.finished < 200) {
        conns.push_back(std::make_shared<connection>(io, s, ws, st, body, false));
        conns.back()->start();
        ++started;
      }
      if (!s.quiet && st.ready % 1000 == 0 && st.ready)
        std::fprintf(stderr, "\r%s: %d sessions open   ", ws ? "websocket" : "tcp", st.ready);
      return st.ready >= target || st.errors != 0;
    }, std::chrono::seconds(120));
  };
  auto settle = [&] {
    io.run_for(std::chrono::milliseconds(500));
    io.restart();
  };
  bool ok = open(100);  // warm-up: the server's one-time allocations are not counted
  settle();
  const long before = resident_bytes(s.server_pid);
  ok = ok && open(s.idle);
  settle();
  const long after = resident_bytes(s.server_pid);
  if (!s.quiet) std::fputs("\n", stderr);
  for (auto& c : conns) c->close();
  io.run_for(std::chrono::milliseconds(10));
  const double per = double(after - before) / double(s.idle);
  if (s.json)
    fmt::print("{{\"transport\":\"{}\",\"idle_sessions\":{},\"ready\":{},\"errors\":{},\"rss_before\":{},"
               "\"rss_after\":{},\"bytes_per_session\":{:.0f}}}\n",
               ws ? "websocket" : "tcp", s.idle, st.ready - 100, st.errors, before, after, per);
  else
    fmt::print("{}: {} idle sessions ({} errors{}{}): server resident memory {:.1f} -> {:.1f} MiB, "
               "{:.0f} bytes ({:.2f} KiB) per session\n",
               ws ? "websocket" : "tcp", s.idle, st.errors, st.errors ? ", first: " : "", st.first_error,
               before / 1048576.0, after / 1048576.0, per, per / 1024);
  return ok && st.errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  settings s;
  CLI::App app{"ember-ws-bench: echo over TCP and over WebSocket against one bench_echo_server, "
               "rounds alternating; or --idle: the server's memory per idle session"};
  app.add_option("--host", s.host, "server address");
  app.add_option("-p,--port", s.port, "the server's TCP port")->required();
  app.add_option("-w,--websocket-port", s.ws_port, "the server's WebSocket port")->required();
  app.add_option("-c,--connections", s.connections, "connections")->check(CLI::Range(1, 100000));
  app.add_option("-d,--depth", s.depth, "requests in flight per connection")->check(CLI::Range(1, 2048));
  app.add_option("--payload", s.payload, "payload bytes per request")->check(CLI::Range(0, 60000));
  app.add_option("--duration", s.duration, "seconds measured per round")->check(CLI::Range(0.1, 600.0));
  app.add_option("--warmup", s.warmup, "seconds before measuring, per round")->check(CLI::Range(0.0, 60.0));
  app.add_option("--rounds", s.rounds, "rounds per transport, alternating TCP and WebSocket")
      ->check(CLI::Range(1, 100));
  app.add_option("--server-pid", s.server_pid, "the local server's PID: its CPU per request (and memory, --idle)");
  app.add_flag("!--no-resume", s.resumable, "sessions that end with their connection (no acknowledgements)");
  app.add_option("--idle", s.idle, "idle mode: open N sessions over --transport and report the "
                 "server's resident memory per session (needs --server-pid)")->check(CLI::Range(1, 19000));
  app.add_option("--transport", s.transport, "idle mode: tcp or ws")->check(CLI::IsMember({"tcp", "ws"}));
  app.add_flag("--json", s.json, "print the summary as JSON");
  app.add_flag("-q,--quiet", s.quiet, "no progress lines");
  CLI11_PARSE(app, argc, argv);
  return s.idle ? run_idle(s) : run_throughput(s);
}
