// DurationSketch: nearest-rank quantiles, exact while it keeps every
// duration, within 1/256 of the true value once it has moved to buckets.
#include "tools/gentrace/duration_sketch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace gentrace::tools {
namespace {

int64_t NearestRank(std::vector<int64_t> v, double q) {
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(q * v.size()));
  rank = std::max<size_t>(1, std::min(rank, v.size()));
  return v[rank - 1];
}

TEST(DurationSketchTest, Empty) {
  DurationSummary s = DurationSketch().Summary();
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.p50_ns, 0);
  EXPECT_EQ(s.p99_ns, 0);
  EXPECT_EQ(s.max_ns, 0);
}

TEST(DurationSketchTest, ExactSmall) {
  DurationSketch d;
  for (int64_t v : {40, 10, 20}) d.Add(v);
  DurationSummary s = d.Summary();
  EXPECT_EQ(s.count, 3u);
  EXPECT_EQ(s.total_ns, 70);
  EXPECT_EQ(s.p50_ns, 20);  // rank ceil(1.5) = 2
  EXPECT_EQ(s.p99_ns, 40);  // rank ceil(2.97) = 3
  EXPECT_EQ(s.max_ns, 40);
  EXPECT_TRUE(d.exact());
}

TEST(DurationSketchTest, ExactUpToLimitThenWithinBucketError) {
  DurationSketch d;
  std::vector<int64_t> all;
  uint64_t x = 12345;
  int64_t total = 0;
  for (size_t i = 0; i < 3 * DurationSketch::kExactLimit; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    // Spread over six decades: 100 ns to 100 ms.
    const int64_t v = static_cast<int64_t>(
        100 * std::pow(10.0, 6.0 * ((x >> 11) & 0xfffff) / 0x100000));
    d.Add(v);
    all.push_back(v);
    total += v;
    if (all.size() == DurationSketch::kExactLimit) {
      ASSERT_TRUE(d.exact());
      EXPECT_EQ(d.Summary().p50_ns, NearestRank(all, 0.5));
      EXPECT_EQ(d.Summary().p99_ns, NearestRank(all, 0.99));
    }
  }
  EXPECT_FALSE(d.exact());
  DurationSummary s = d.Summary();
  EXPECT_EQ(s.count, all.size());
  EXPECT_EQ(s.total_ns, total);
  EXPECT_EQ(s.max_ns, *std::max_element(all.begin(), all.end()));
  for (double q : {0.5, 0.99}) {
    const double want = NearestRank(all, q);
    const double got = q == 0.5 ? s.p50_ns : s.p99_ns;
    EXPECT_LE(std::abs(got - want), want / 256 + 1) << q;
  }
}

TEST(DurationSketchTest, NegativeCountsAsZero) {
  DurationSketch d;
  d.Add(-5);
  EXPECT_EQ(d.Summary().total_ns, 0);
  EXPECT_EQ(d.Summary().max_ns, 0);
}

}  // namespace
}  // namespace gentrace::tools
