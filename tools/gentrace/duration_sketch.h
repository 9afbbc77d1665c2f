// Durations of one name (a task or region type): count, total, p50, p99
// and max, in memory that does not grow with the count.
//
// The first kExactLimit durations are kept as they are, and quantiles over
// them are exact (nearest rank: the ceil(q*n)-th smallest). After that the
// durations move into logarithmic buckets: values below 256 ns exactly,
// larger ones by their top 8 significant bits, so a quantile is then off by
// less than 1/256 (0.4%) of its value. Count, total and max stay exact.
#ifndef GENTRACE_TOOLS_GENTRACE_DURATION_SKETCH_H_
#define GENTRACE_TOOLS_GENTRACE_DURATION_SKETCH_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

namespace gentrace::tools {

struct DurationSummary {
  uint64_t count = 0;
  int64_t total_ns = 0;
  int64_t p50_ns = 0;
  int64_t p99_ns = 0;
  int64_t max_ns = 0;
};

class DurationSketch {
 public:
  static constexpr size_t kExactLimit = 4096;

  // Adds one duration (negative ones count as 0).
  void Add(int64_t ns);
  DurationSummary Summary() const;
  // True while every duration is still kept exactly.
  bool exact() const { return buckets_.empty(); }

 private:
  // The nearest-rank q-quantile.
  int64_t Quantile(double q) const;
  static uint32_t BucketOf(uint64_t v);
  // The middle of bucket b (its value, for the exact ones).
  static int64_t BucketValue(uint32_t b);

  uint64_t count_ = 0;
  int64_t total_ = 0;
  int64_t max_ = 0;
  std::vector<int64_t> exact_;
  std::map<uint32_t, uint64_t> buckets_;  // bucket -> count, once overflowed
};

}  // namespace gentrace::tools

#endif  // GENTRACE_TOOLS_GENTRACE_DURATION_SKETCH_H_
