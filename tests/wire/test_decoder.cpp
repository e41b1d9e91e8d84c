// Tests of ember/wire/decoder.hpp: the native and the Firefly incremental decoders.
#include "ember/wire/decoder.hpp"  // first: the header stands on its own

#define BOOST_TEST_MODULE wire_decoder
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <span>
#include <stdexcept>
#include <vector>

#include "ember/wire/encoder.hpp"

namespace ember::wire {
// how Boost.Test prints a kind in a failed check
std::ostream& boost_test_print_type(std::ostream& os, frame_kind k) { return os << int(k); }
}  // namespace ember::wire

namespace wire = ember::wire;
using ember::buffer;
using ember::bytes_view;
using ember::errc;
using wire::frame_kind;

namespace {

/// A frame as the tests keep it: the body copied out of the callback.
struct seen_frame {
  frame_kind kind = frame_kind::request;
  std::uint8_t flags = 0;
  std::uint32_t command = 0;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::vector<std::byte> body;

  friend bool operator==(const seen_frame&, const seen_frame&) = default;
};

std::ostream& operator<<(std::ostream& os, const seen_frame& f) {
  return os << "{kind " << int(f.kind) << " flags " << int(f.flags) << " command " << f.command
            << " seq " << f.seq << " ack " << f.ack << " body " << f.body.size() << " bytes}";
}

seen_frame keep(const wire::frame& f) {
  return {f.kind, f.flags, f.command, f.seq, f.ack, {f.body.begin(), f.body.end()}};
}

/// Everything a decoder reported for a stream.
struct decoded {
  std::vector<seen_frame> frames;
  std::error_code error;  ///< what `feed` returned first, if anything
  std::error_code end;    ///< what `finish` returned

  friend bool operator==(const decoded&, const decoded&) = default;
};

std::ostream& operator<<(std::ostream& os, const decoded& d) {
  os << d.frames.size() << " frames [";
  for (const auto& f : d.frames) os << ' ' << f;
  return os << " ] error '" << d.error.message() << "' end '" << d.end.message() << "'";
}

/// Feeds `stream` cut at the ascending offsets `cuts` (one `feed` per piece) and records the
/// frames; stops at the first error, as a session does.
template <class Decoder>
decoded decode(Decoder decoder, bytes_view stream, std::span<const std::size_t> cuts = {}) {
  decoded out;
  std::size_t from = 0;
  auto feed = [&](std::size_t to) {
    if (out.error) return;
    out.error = decoder.feed(stream.subspan(from, to - from), [&](const wire::frame& f) {
      out.frames.push_back(keep(f));
      return true;
    });
    from = to;
  };
  for (std::size_t cut : cuts) feed(cut);
  feed(stream.size());
  out.end = decoder.finish();
  return out;
}

std::vector<std::byte> bytes_of_size(std::size_t n, unsigned seed = 1) {
  std::vector<std::byte> b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = std::byte((i * 31 + seed * 7) & 0xff);
  return b;
}

const std::size_t small_body_sizes[] = {0, 1, 3, 16, 17, 0, 200, 2};

// ---- the two framings, as the templated tests see them ----

struct native {
  using decoder = wire::native_decoder;
  static constexpr std::size_t header_size = wire::native_header_size;

  static decoder make(wire::decoder_limits limits = {}) { return decoder(limits); }

  /// Appends the `i`th frame of a test stream and returns what decoding it must give.
  static seen_frame append(buffer& out, unsigned i, bytes_view body) {
    const seen_frame f{frame_kind(1 + i % 7), std::uint8_t(i % 2),   100 + i,
                       7 * i + 1,             i,                     {body.begin(), body.end()}};
    const wire::frame_header h{.kind = f.kind,
                               .flags = f.flags,
                               .command = std::uint16_t(f.command),
                               .seq = f.seq,
                               .ack = f.ack};
    BOOST_REQUIRE(!wire::append_frame(out, h, body, wire::default_max_body * 4));
    return f;
  }

  /// Appends only a valid header announcing `body_size` bytes.
  static void append_header(buffer& out, std::uint32_t body_size) {
    wire::write_header(out.prepare(header_size), {.length = body_size, .command = 9, .seq = 3});
    out.commit(header_size);
  }
};

struct firefly {
  using decoder = wire::firefly_decoder;
  static constexpr std::size_t header_size = wire::firefly_header_size;
  static constexpr wire::firefly_config config{{78, 37, 38, 48}, 9, 0};

  static decoder make(wire::decoder_limits limits = {}) { return decoder(config, limits); }

  static seen_frame append(buffer& out, unsigned i, bytes_view body) {
    const seen_frame f{frame_kind::request, 0, 1000 + 70000 * i, 0, 0, {body.begin(), body.end()}};
    BOOST_REQUIRE(!wire::append_frame(out, config, f.command, body, wire::default_max_body * 4));
    return f;
  }

  static void append_header(buffer& out, std::uint32_t body_size) {
    wire::write_firefly_header(out.prepare(header_size), config, 9, body_size);
    out.commit(header_size);
  }
};

using framings = boost::mpl::list<native, firefly>;

/// A stream of frames of many sizes and its expected decoding.
template <class Framing>
struct test_stream {
  buffer bytes;
  std::vector<seen_frame> frames;

  explicit test_stream(std::span<const std::size_t> body_sizes = small_body_sizes) {
    unsigned i = 0;
    for (std::size_t n : body_sizes) {
      frames.push_back(Framing::append(bytes, i, bytes_of_size(n, i)));
      ++i;
    }
  }
  decoded expected() const { return {frames, {}, {}}; }
};

/// A callback for tests that only count.
struct counter {
  int& n;
  bool operator()(const wire::frame&) const {
    ++n;
    return true;
  }
};

bool points_into(bytes_view part, bytes_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

}  // namespace

// ---- what a wrong callback does: it does not compile ----

template <class Decoder, class F>
concept can_feed = requires(Decoder d, bytes_view b, F f) { d.feed(b, f); };

static_assert(can_feed<wire::native_decoder, bool (*)(const wire::frame&)>);
static_assert(!can_feed<wire::native_decoder, void (*)(const wire::frame&)>,
              "a callback must say whether to go on");
static_assert(!can_feed<wire::firefly_decoder, bool (*)(wire::frame&)>,
              "a callback gets the frame read-only");
static_assert(!can_feed<wire::firefly_decoder, bool (*)(int)>);

BOOST_AUTO_TEST_SUITE(both_decoders)

BOOST_AUTO_TEST_CASE_TEMPLATE(a_stream_decoded_in_one_call_gives_every_frame_in_order, F,
                              framings) {
  const test_stream<F> s;
  BOOST_TEST(decode(F::make(), s.bytes.view()) == s.expected());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(every_split_point_of_a_multi_frame_stream_decodes_the_same, F,
                              framings) {
  const test_stream<F> s;
  for (std::size_t cut = 0; cut <= s.bytes.size(); ++cut) {
    const std::size_t cuts[] = {cut};
    BOOST_TEST_CONTEXT("cut at " << cut) {
      BOOST_TEST(decode(F::make(), s.bytes.view(), cuts) == s.expected());
    }
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(every_pair_of_split_points_decodes_the_same, F, framings) {
  const test_stream<F> s;
  const decoded expected = s.expected();
  std::size_t mismatches = 0;
  for (std::size_t a = 0; a <= s.bytes.size(); ++a)
    for (std::size_t b = a; b <= s.bytes.size(); ++b) {
      const std::size_t cuts[] = {a, b};
      if (decode(F::make(), s.bytes.view(), cuts) != expected) {
        if (mismatches++ == 0) BOOST_ERROR("cuts at " << a << " and " << b << " differ");
      }
    }
  BOOST_TEST(mismatches == 0u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_stream_fed_one_byte_at_a_time_decodes_the_same, F, framings) {
  const test_stream<F> s;
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < s.bytes.size(); ++i) cuts.push_back(i);
  BOOST_TEST(decode(F::make(), s.bytes.view(), cuts) == s.expected());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(frames_merged_in_one_read_all_come_out_of_that_read, F, framings) {
  const test_stream<F> s;
  auto d = F::make();
  int n = 0;
  BOOST_TEST(!d.feed(s.bytes.view(), counter{n}));
  BOOST_TEST(n == int(s.frames.size()));
  BOOST_TEST(!d.has_partial());
  BOOST_TEST(d.buffered() == 0u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(frames_whole_inside_the_input_are_handed_out_in_place, F,
                              framings) {
  const test_stream<F> s;
  auto d = F::make();
  const bytes_view input = s.bytes.view();
  bool all_in_place = true;
  BOOST_TEST(!d.feed(input, [&](const wire::frame& f) {
    all_in_place = all_in_place && (f.body.empty() || points_into(f.body, input));
    return true;
  }));
  BOOST_TEST(all_in_place);
  BOOST_TEST(d.capacity() == 0u, "whole frames must not allocate");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_kept_frame_is_completed_with_only_the_bytes_it_lacks, F,
                              framings) {
  buffer stream;
  const auto first = F::append(stream, 0, bytes_of_size(200));
  const std::size_t first_size = stream.size();
  const auto second = F::append(stream, 1, bytes_of_size(10));
  const bytes_view all = stream.view();

  auto d = F::make();
  int n = 0;
  BOOST_TEST(!d.feed(all.first(5), counter{n}));
  BOOST_TEST(n == 0);
  BOOST_TEST(d.buffered() == 5u);
  BOOST_TEST(d.has_partial());
  BOOST_TEST(!d.feed(all.subspan(5, 20), counter{n}));
  BOOST_TEST(d.buffered() == 25u);
  BOOST_TEST(d.capacity() >= first_size, "room for the whole frame is made once");

  const bytes_view rest = all.subspan(25);
  std::vector<bool> in_place;
  std::vector<seen_frame> got;
  BOOST_TEST(!d.feed(rest, [&](const wire::frame& f) {
    in_place.push_back(points_into(f.body, rest));
    got.push_back(keep(f));
    return true;
  }));
  BOOST_TEST(got == (std::vector<seen_frame>{first, second}), boost::test_tools::per_element());
  BOOST_TEST(in_place == (std::vector<bool>{false, true}), boost::test_tools::per_element());
  BOOST_TEST(!d.has_partial());
  BOOST_TEST(!d.finish());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(empty_bodies_decode, F, framings) {
  const std::size_t sizes[] = {0, 0, 0};
  const test_stream<F> s(sizes);
  const decoded got = decode(F::make(), s.bytes.view());
  BOOST_TEST(got == s.expected());
  for (const auto& f : got.frames) BOOST_TEST(f.body.empty());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_body_of_exactly_max_body_bytes_is_accepted, F, framings) {
  for (std::size_t max : {std::size_t(0), std::size_t(100), wire::default_max_body}) {
    const std::size_t sizes[] = {max, 0, max};
    const test_stream<F> s(sizes);
    BOOST_TEST_CONTEXT("max_body " << max) {
      BOOST_TEST(decode(F::make({.max_body = max}), s.bytes.view()) == s.expected());
      const std::size_t cuts[] = {F::header_size + max / 2};
      BOOST_TEST(decode(F::make({.max_body = max}), s.bytes.view(), cuts) == s.expected());
    }
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_body_one_byte_over_max_body_is_rejected, F, framings) {
  for (std::size_t max : {std::size_t(0), std::size_t(100), wire::default_max_body}) {
    const std::size_t sizes[] = {max, max + 1, 0};
    const test_stream<F> s(sizes);
    BOOST_TEST_CONTEXT("max_body " << max) {
      const decoded got = decode(F::make({.max_body = max}), s.bytes.view());
      BOOST_TEST(got.frames.size() == 1u);
      BOOST_TEST(got.error == errc::frame_too_large);
    }
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(the_default_limit_is_64_kib, F, framings) {
  BOOST_TEST(wire::decoder_limits{}.max_body == 65536u);
  buffer header;
  F::append_header(header, 65537);
  int n = 0;
  BOOST_TEST(F::make().feed(header.view(), counter{n}) == errc::frame_too_large);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(an_oversize_header_is_rejected_before_its_body_arrives, F,
                              framings) {
  buffer header;
  F::append_header(header, 1u << 31);
  const bytes_view h = header.view();
  for (std::size_t cut = 0; cut < h.size(); ++cut) {
    BOOST_TEST_CONTEXT("header cut at " << cut) {
      auto d = F::make();
      int n = 0;
      BOOST_TEST(!d.feed(h.first(cut), counter{n}), "an incomplete header is not judged");
      BOOST_TEST(d.feed(h.subspan(cut), counter{n}) == errc::frame_too_large);
      BOOST_TEST(n == 0);
      BOOST_TEST(d.capacity() == 0u, "nothing stays allocated for a failed stream");
    }
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(frames_before_an_invalid_header_are_delivered, F, framings) {
  test_stream<F> s;
  F::append_header(s.bytes, 1u << 20);
  s.bytes.append(bytes_of_size(50));
  decoded expected = s.expected();
  expected.error = errc::frame_too_large;
  expected.end = errc::frame_too_large;
  BOOST_TEST(decode(F::make(), s.bytes.view()) == expected);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_failed_decoder_keeps_failing, F, framings) {
  buffer bad;
  F::append_header(bad, 1u << 20);
  const test_stream<F> good;
  auto d = F::make();
  int n = 0;
  BOOST_TEST(d.feed(bad.view(), counter{n}) == errc::frame_too_large);
  BOOST_TEST(d.feed(good.bytes.view(), counter{n}) == errc::frame_too_large);
  BOOST_TEST(n == 0);
  BOOST_TEST(d.finish() == errc::frame_too_large);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_stream_that_ends_inside_a_frame_is_truncated_at_finish, F,
                              framings) {
  const test_stream<F> s;
  const std::size_t last = s.bytes.size() - (F::header_size + small_body_sizes[7]);
  // ends inside the last header, then inside the last body
  for (std::size_t end : {last + 1, last + F::header_size - 1, last + F::header_size,
                          s.bytes.size() - 1}) {
    BOOST_TEST_CONTEXT("stream ends at " << end << " of " << s.bytes.size()) {
      const decoded got = decode(F::make(), s.bytes.view().first(end));
      BOOST_TEST(got.frames.size() == s.frames.size() - 1);
      BOOST_TEST(!got.error);
      BOOST_TEST(got.end == errc::truncated_frame);
    }
  }
  BOOST_TEST(!decode(F::make(), s.bytes.view().first(last)).end, "a frame boundary is clean");
  BOOST_TEST(!decode(F::make(), bytes_view{}).end, "so is an empty stream");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_false_return_stops_decoding_and_drops_the_rest, F, framings) {
  const test_stream<F> s;
  const bytes_view all = s.bytes.view();
  const std::size_t cut = all.size() - 5;  // a partial frame follows
  auto d = F::make();
  std::vector<seen_frame> got;
  BOOST_TEST(!d.feed(all.first(cut), [&](const wire::frame& f) {
    got.push_back(keep(f));
    return got.size() < 3;
  }));
  BOOST_TEST(got.size() == 3u);
  BOOST_TEST(!d.has_partial(), "the rest of the input is dropped, not kept");
  BOOST_TEST(!d.finish());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_false_return_on_a_kept_frame_drops_the_rest_too, F, framings) {
  const test_stream<F> s;
  const bytes_view all = s.bytes.view();
  auto d = F::make();
  int n = 0;
  BOOST_TEST(!d.feed(all.first(3), counter{n}));
  BOOST_TEST(d.has_partial());
  BOOST_TEST(!d.feed(all.subspan(3), [&](const wire::frame&) {
    ++n;
    return false;
  }));
  BOOST_TEST(n == 1);
  BOOST_TEST(!d.has_partial());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_throwing_callback_leaves_nothing_kept, F, framings) {
  const test_stream<F> s;
  const bytes_view all = s.bytes.view();
  for (std::size_t first : {std::size_t(0), std::size_t(4)}) {
    auto d = F::make();
    int n = 0;
    BOOST_TEST(!d.feed(all.first(first), counter{n}));
    BOOST_CHECK_THROW(d.feed(all.subspan(first),
                             [](const wire::frame&) -> bool { throw std::runtime_error("x"); }),
                      std::runtime_error);
    BOOST_TEST(!d.has_partial());
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(shrink_frees_all_memory_when_nothing_is_kept, F, framings) {
  const test_stream<F> s;
  const bytes_view all = s.bytes.view();
  auto d = F::make();
  int n = 0;
  BOOST_TEST(!d.feed(all.first(30), counter{n}));
  BOOST_TEST(d.capacity() > 0u);
  BOOST_TEST(!d.feed(all.subspan(30), counter{n}));
  BOOST_TEST(d.buffered() == 0u);
  d.shrink();
  BOOST_TEST(d.capacity() == 0u);
  BOOST_TEST(n == int(s.frames.size()));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(shrink_keeps_a_partial_frame, F, framings) {
  const test_stream<F> s;
  const bytes_view all = s.bytes.view();
  auto d = F::make();
  std::vector<seen_frame> got;
  auto on_frame = [&](const wire::frame& f) {
    got.push_back(keep(f));
    return true;
  };
  BOOST_TEST(!d.feed(all.first(30), on_frame));
  const std::size_t kept = d.buffered();
  d.shrink();
  BOOST_TEST(d.buffered() == kept);
  BOOST_TEST(!d.feed(all.subspan(30), on_frame));
  BOOST_TEST(got == s.frames, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_decoder_is_reusable_after_shrink, F, framings) {
  const test_stream<F> s;
  auto d = F::make();
  int n = 0;
  for (int round = 0; round < 3; ++round) {
    const std::size_t cut = 10 + std::size_t(round);
    BOOST_TEST(!d.feed(s.bytes.view().first(cut), counter{n}));
    BOOST_TEST(!d.feed(s.bytes.view().subspan(cut), counter{n}));
    d.shrink();
    BOOST_TEST(d.capacity() == 0u);
  }
  BOOST_TEST(n == 3 * int(s.frames.size()));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(native_decoder)

BOOST_AUTO_TEST_CASE(every_header_field_comes_through) {
  buffer out;
  const wire::frame_header h{.kind = frame_kind::push,
                             .flags = wire::flag::json,
                             .command = 0xfedc,
                             .seq = 0x89abcdef,
                             .ack = 0x01020304};
  BOOST_TEST_REQUIRE(!wire::append_frame(out, h, ember::as_bytes("{}")));
  const decoded got = decode(wire::native_decoder(), out.view());
  BOOST_TEST_REQUIRE(got.frames.size() == 1u);
  const seen_frame& f = got.frames[0];
  BOOST_TEST(f.kind == frame_kind::push);
  BOOST_TEST(f.flags == wire::flag::json);
  BOOST_TEST(f.command == 0xfedcu);
  BOOST_TEST(f.seq == 0x89abcdefu);
  BOOST_TEST(f.ack == 0x01020304u);
  BOOST_TEST(f.body.size() == 2u);
}

BOOST_AUTO_TEST_CASE(every_kind_this_version_defines_is_accepted) {
  for (int k = 1; k <= 7; ++k) {
    buffer out;
    BOOST_TEST_REQUIRE(!wire::append_frame(out, {.kind = frame_kind(k)}, bytes_view{}));
    const decoded got = decode(wire::native_decoder(), out.view());
    BOOST_TEST(got.frames.size() == 1u);
    BOOST_TEST(!got.error);
  }
}

BOOST_AUTO_TEST_CASE(unknown_kinds_are_rejected) {
  for (int k : {0, 10, 255}) {
    BOOST_TEST_CONTEXT("kind " << k) {
      buffer out;
      wire::write_header(out.prepare(16), {.length = 4, .kind = frame_kind(k)});
      out.commit(16);
      auto d = wire::native_decoder();
      int n = 0;
      BOOST_TEST(d.feed(out.view(), counter{n}) == errc::unknown_kind, "judged on the header alone");
      BOOST_TEST(n == 0);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_body_over_the_limit_is_refused_even_when_it_has_arrived) {
  buffer out;
  BOOST_TEST_REQUIRE(!wire::append_frame(out, {}, bytes_of_size(11)));
  int n = 0;
  BOOST_TEST(wire::native_decoder({.max_body = 10}).feed(out.view(), counter{n}) ==
             errc::frame_too_large);
  BOOST_TEST(n == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(firefly_decoder)

BOOST_AUTO_TEST_CASE(frames_come_out_as_requests_with_seq_and_ack_zero) {
  buffer out;
  BOOST_TEST_REQUIRE(!wire::append_frame(out, firefly::config, 0xdeadbeef, ember::as_bytes("abc")));
  const decoded got = decode(firefly::make(), out.view());
  BOOST_TEST_REQUIRE(got.frames.size() == 1u);
  BOOST_TEST(got.frames[0].kind == frame_kind::request);
  BOOST_TEST(got.frames[0].flags == 0);
  BOOST_TEST(got.frames[0].command == 0xdeadbeefu);
  BOOST_TEST(got.frames[0].seq == 0u);
  BOOST_TEST(got.frames[0].ack == 0u);
  BOOST_TEST(got.frames[0].body.size() == 3u);
}

BOOST_AUTO_TEST_CASE(a_header_with_any_other_magic_version_or_server_version_is_rejected) {
  buffer good;
  BOOST_TEST_REQUIRE(!wire::append_frame(good, firefly::config, 1, bytes_view{}));
  // bytes 0..3 magic, 4 version, 5..8 server version
  for (std::size_t i = 0; i < 9; ++i) {
    BOOST_TEST_CONTEXT("byte " << i << " changed") {
      buffer bad = good;
      bad[i] ^= std::byte{0x40};
      auto d = firefly::make();
      int n = 0;
      BOOST_TEST(d.feed(bad.view(), counter{n}) == errc::bad_magic);
      BOOST_TEST(n == 0);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_length_below_four_is_rejected) {
  for (std::uint32_t length : {0u, 1u, 2u, 3u}) {
    BOOST_TEST_CONTEXT("length " << length) {
      std::byte h[wire::firefly_header_size];
      wire::write_firefly_header(h, firefly::config, 1, 0);
      wire::detail::put_u32(h + 9, length);
      auto d = firefly::make();
      int n = 0;
      BOOST_TEST(d.feed(h, counter{n}) == errc::bad_length);
      BOOST_TEST(n == 0);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_length_of_four_is_a_frame_with_an_empty_body) {
  std::byte h[wire::firefly_header_size];
  wire::write_firefly_header(h, firefly::config, 42, 0);
  BOOST_TEST(wire::detail::get_u32(h + 9) == 4u);
  const decoded got = decode(firefly::make(), h);
  BOOST_TEST_REQUIRE(got.frames.size() == 1u);
  BOOST_TEST(got.frames[0].command == 42u);
  BOOST_TEST(got.frames[0].body.empty());
}

BOOST_AUTO_TEST_CASE(the_default_config_is_firefly_s_all_zero_header) {
  buffer out;
  BOOST_TEST_REQUIRE(!wire::append_frame(out, wire::firefly_config{}, 7, ember::as_bytes("x")));
  for (std::size_t i = 0; i < 9; ++i) BOOST_TEST(std::uint8_t(out[i]) == 0);
  BOOST_TEST(decode(wire::firefly_decoder(), out.view()).frames.size() == 1u);
  BOOST_TEST(decode(firefly::make(), out.view()).error == errc::bad_magic);
}

BOOST_AUTO_TEST_SUITE_END()
