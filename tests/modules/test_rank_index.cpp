// The leaderboard's rank index against the obvious answer: every record sorted, at every step of
// random writes and removals, in both orders, with ties, at the pages' boundaries.
#include "ember/modules/leaderboard/rank_index.hpp"

#define BOOST_TEST_MODULE rank_index
#include <boost/test/unit_test.hpp>

#include <random>

using namespace ember::modules::leaderboard;

namespace {

// Every record in rank order, the slow way.
std::vector<rank_key> sorted(const rank_index& idx, const std::unordered_map<std::uint64_t, rank_key>& all) {
  std::vector<rank_key> v;
  for (auto& [_, k] : all) v.push_back(k);
  std::sort(v.begin(), v.end(), [&](const rank_key& a, const rank_key& b) { return idx.before(a, b); });
  return v;
}

void check_all(const rank_index& idx, const std::unordered_map<std::uint64_t, rank_key>& all) {
  const auto want = sorted(idx, all);
  BOOST_REQUIRE_EQUAL(idx.size(), want.size());
  const auto whole = idx.page(1, want.size() + 5);
  BOOST_REQUIRE_EQUAL(whole.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    BOOST_REQUIRE(whole[i].key == want[i]);
    BOOST_REQUIRE_EQUAL(whole[i].rank, i + 1);
    BOOST_REQUIRE_EQUAL(idx.rank(want[i].owner), i + 1);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(random_writes_and_removals_keep_every_rank_right_in_both_orders) {
  for (auto order : {sort_order::descending, sort_order::ascending}) {
    rank_index idx(order, 4);  // tiny blocks: splits and empty blocks happen all the time
    std::unordered_map<std::uint64_t, rank_key> all;
    std::mt19937_64 rng(order == sort_order::descending ? 1 : 2);
    for (int step = 0; step < 3000; ++step) {
      const std::uint64_t owner = rng() % 200 + 1;
      if (rng() % 5 == 0) {
        BOOST_REQUIRE_EQUAL(idx.erase(owner), all.erase(owner) == 1);
      } else {
        // Few distinct scores and subscores: ties decided by time, then by owner.
        rank_key k{static_cast<std::int64_t>(rng() % 7) - 3, static_cast<std::int64_t>(rng() % 3),
                   rng() % 4, owner};
        idx.set(k);
        all[owner] = k;
      }
      if (step % 50 == 0) check_all(idx, all);
    }
    check_all(idx, all);
  }
}

BOOST_AUTO_TEST_CASE(ties_rank_by_subscore_then_who_got_there_first) {
  rank_index desc;
  desc.set({100, 0, 5, 1});
  desc.set({100, 0, 3, 2});  // same score, earlier
  desc.set({100, 1, 9, 3});  // same score, better subscore
  desc.set({200, 0, 9, 4});
  BOOST_TEST(desc.rank(4) == 1u);
  BOOST_TEST(desc.rank(3) == 2u);
  BOOST_TEST(desc.rank(2) == 3u);
  BOOST_TEST(desc.rank(1) == 4u);
  rank_index asc(sort_order::ascending);  // a race's times: the lowest first
  asc.set({61'000, 0, 1, 1});
  asc.set({59'500, 0, 2, 2});
  BOOST_TEST(asc.rank(2) == 1u);
  BOOST_TEST(asc.rank(1) == 2u);
  BOOST_TEST(asc.rank(99) == 0u);
}

BOOST_AUTO_TEST_CASE(pages_meet_without_gap_or_overlap_at_every_boundary) {
  rank_index idx(sort_order::descending, 8);
  for (std::uint64_t o = 1; o <= 250; ++o) idx.set({static_cast<std::int64_t>(o), 0, 0, o});
  for (std::size_t n : {1u, 7u, 8u, 9u, 16u, 100u, 250u, 251u}) {
    std::uint64_t next = 1, seen = 0;
    for (;;) {
      auto p = idx.page(next, n);
      if (p.empty()) break;
      BOOST_REQUIRE_EQUAL(p.front().rank, next);
      for (auto& r : p) BOOST_REQUIRE_EQUAL(r.key.score, static_cast<std::int64_t>(251 - r.rank));
      seen += p.size();
      next += p.size();
    }
    BOOST_TEST(seen == 250u);
  }
  BOOST_TEST(idx.page(0, 10).empty());    // ranks start at 1
  BOOST_TEST(idx.page(251, 10).empty());  // past the last
  BOOST_TEST(idx.page(250, 10).size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_cursor_page_neither_repeats_nor_skips_when_records_move_between_pages) {
  rank_index idx(sort_order::descending, 4);
  for (std::uint64_t o = 1; o <= 30; ++o) idx.set({static_cast<std::int64_t>(o * 10), 0, 0, o});
  auto first = idx.page(1, 10);  // scores 300..210
  BOOST_REQUIRE_EQUAL(first.size(), 10u);
  // Between pages, a record from below jumps to the top: by rank number the next page would
  // repeat 210; by cursor it starts right after it.
  idx.set({1000, 0, 1, 5});
  auto second = idx.page_after(first.back().key, 10);
  BOOST_REQUIRE_EQUAL(second.size(), 10u);
  BOOST_TEST(second.front().key.score == 200);
  BOOST_TEST(second.front().rank == 12u);  // the true rank now: 1000 moved above
  BOOST_TEST(second.back().key.score == 110);
  // A cursor whose record has since gone still finds its place.
  idx.erase(second.back().key.owner);
  auto third = idx.page_after(second.back().key, 100);
  BOOST_TEST(third.front().key.score == 100);
  BOOST_TEST(third.size() == 9u);  // 100..10 without 50, which moved to the top
  BOOST_TEST(idx.page_after(third.back().key, 10).empty());
}

BOOST_AUTO_TEST_CASE(around_a_player_centres_and_stops_at_the_ends) {
  rank_index idx;
  for (std::uint64_t o = 1; o <= 20; ++o) idx.set({static_cast<std::int64_t>(100 - o), 0, 0, o});
  auto mid = idx.around(10, 5);
  BOOST_REQUIRE_EQUAL(mid.size(), 5u);
  BOOST_TEST(mid.front().rank == 8u);
  BOOST_TEST(mid[2].key.owner == 10u);
  auto top = idx.around(1, 5);
  BOOST_TEST(top.front().rank == 1u);
  BOOST_TEST(top.size() == 5u);
  auto bottom = idx.around(20, 5);
  BOOST_TEST(bottom.front().rank == 16u);
  BOOST_TEST(bottom.back().rank == 20u);
  BOOST_TEST(idx.around(20, 50).size() == 20u);
  BOOST_TEST(idx.around(77, 5).empty());
}

BOOST_AUTO_TEST_CASE(a_new_period_starts_empty) {
  rank_index idx;
  idx.set({1, 0, 0, 1});
  idx.clear();
  BOOST_TEST(idx.size() == 0u);
  BOOST_TEST(idx.rank(1) == 0u);
  idx.set({5, 0, 0, 2});
  BOOST_TEST(idx.rank(2) == 1u);
}
