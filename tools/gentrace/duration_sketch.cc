// See duration_sketch.h.
#include "tools/gentrace/duration_sketch.h"

#include <algorithm>
#include <cmath>

namespace gentrace::tools {

void DurationSketch::Add(int64_t ns) {
  if (ns < 0) ns = 0;
  ++count_;
  total_ += ns;
  max_ = std::max(max_, ns);
  if (buckets_.empty() && exact_.size() < kExactLimit) {
    exact_.push_back(ns);
    return;
  }
  if (!exact_.empty()) {
    for (int64_t v : exact_) ++buckets_[BucketOf(static_cast<uint64_t>(v))];
    exact_.clear();
    exact_.shrink_to_fit();
  }
  ++buckets_[BucketOf(static_cast<uint64_t>(ns))];
}

uint32_t DurationSketch::BucketOf(uint64_t v) {
  if (v < 256) return static_cast<uint32_t>(v);
  int width = 64 - __builtin_clzll(v);  // >= 9
  const int shift = width - 8;
  // v >> shift is in [128, 255]; each shift has 128 buckets above 256.
  return 256 + static_cast<uint32_t>(shift - 1) * 128 +
         static_cast<uint32_t>((v >> shift) - 128);
}

int64_t DurationSketch::BucketValue(uint32_t b) {
  if (b < 256) return b;
  const uint32_t shift = (b - 256) / 128 + 1;
  const uint64_t top = (b - 256) % 128 + 128;
  return static_cast<int64_t>((top << shift) + (uint64_t{1} << (shift - 1)));
}

int64_t DurationSketch::Quantile(double q) const {
  if (count_ == 0) return 0;
  uint64_t rank = static_cast<uint64_t>(std::ceil(q * count_));
  rank = std::max<uint64_t>(1, std::min(rank, count_));
  if (buckets_.empty()) {
    std::vector<int64_t> v = exact_;
    std::nth_element(v.begin(), v.begin() + (rank - 1), v.end());
    return v[rank - 1];
  }
  uint64_t seen = 0;
  for (const auto& [b, n] : buckets_) {
    seen += n;
    if (seen >= rank) return std::min(BucketValue(b), max_);
  }
  return max_;
}

DurationSummary DurationSketch::Summary() const {
  DurationSummary s;
  s.count = count_;
  s.total_ns = total_;
  s.max_ns = max_;
  s.p50_ns = Quantile(0.5);
  s.p99_ns = Quantile(0.99);
  return s;
}

}  // namespace gentrace::tools
