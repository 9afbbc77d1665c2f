// GoSortFunc orders equal elements exactly as Go's slices.SortFunc does.
// The expected orders were printed by Go 1.23 for the same inputs.
#include "reader/go_sort.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace gentrace::reader {
namespace {

struct Elem {
  int64_t key;
  int index;
};

std::vector<int> Sorted(const std::vector<int64_t>& keys) {
  std::vector<Elem> v;
  for (size_t i = 0; i < keys.size(); ++i) {
    v.push_back({keys[i], static_cast<int>(i)});
  }
  GoSortFunc(v.data(), v.size(),
             [](const Elem& a, const Elem& b) { return a.key < b.key; });
  std::vector<int> out;
  for (const Elem& e : v) out.push_back(e.index);
  return out;
}

uint64_t Fnv(const std::vector<int>& p) {
  uint64_t h = 14695981039346656037u;
  for (int v : p) {
    h ^= static_cast<uint64_t>(v);
    h *= 1099511628211u;
  }
  return h;
}

TEST(GoSortTest, SameOrderAsGoForEqualKeys) {
  std::vector<int64_t> k;
  for (int i = 0; i < 100; ++i) k.push_back((i * 7) % 5);
  EXPECT_EQ(
      Sorted(k),
      (std::vector<int>{
          20, 50, 95, 45, 35, 5,  70, 0,  30, 85, 10, 55, 80, 60, 25, 15, 75,
          40, 90, 65, 23, 3,  53, 8,  63, 78, 13, 73, 43, 83, 58, 98, 88, 33,
          18, 93, 48, 68, 38, 28, 51, 26, 1,  96, 91, 6,  46, 86, 36, 11, 81,
          76, 16, 31, 71, 41, 56, 21, 66, 61, 69, 79, 99, 24, 64, 39, 94, 4,
          44, 29, 19, 54, 89, 9,  74, 84, 49, 34, 14, 59, 37, 97, 82, 32, 52,
          17, 47, 12, 62, 77, 87, 57, 92, 67, 27, 2,  22, 72, 42, 7}));
}

TEST(GoSortTest, SameOrderAsGoForLargerInputs) {
  const uint64_t want[] = {
      14165342979190882939u, 1026269315599193537u, 10142668026424581039u,
      2837130904256173664u,  1011730885101632394u, 17390269061530714406u,
      17633310841790661156u, 8341294885586780042u, 17466470191937405974u,
      13504468615089096785u, 9891210866769840593u, 882635971444998843u,
      3625251223985513735u,  6437630395049190741u, 15591942704708948117u,
      5325370098007680461u,  6261862268419793357u, 2263576829935682037u};
  int c = 0;
  for (int64_t n : {13, 50, 51, 200, 1000, 5000}) {
    std::vector<int64_t> a, b, r;
    for (int64_t i = 0; i < n; ++i) {
      a.push_back(i % 3);
      b.push_back(n - i / 4);
      r.push_back((i * 2654435761) % 97 / 10);
    }
    for (const auto& keys : {a, b, r}) {
      std::vector<int> order = Sorted(keys);
      for (size_t i = 1; i < order.size(); ++i) {
        ASSERT_LE(keys[order[i - 1]], keys[order[i]]);
      }
      EXPECT_EQ(Fnv(order), want[c]) << "case " << c << " n=" << n;
      ++c;
    }
  }
}

}  // namespace
}  // namespace gentrace::reader
