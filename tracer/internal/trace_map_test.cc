// TraceMap::ForEach: every entry exactly once, without allocating, and
// while other threads still Put (the crash path walks the current
// generation's tables so, crash_completion.h).
#include "tracer/internal/trace_map.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace gentrace::internal {
namespace {

TEST(TraceMapTest, ForEachVisitsEveryEntryOnce) {
  TraceMap map;
  constexpr int kEntries = 100000;
  std::vector<uint64_t> id_of(kEntries);
  for (int i = 0; i < kEntries; ++i) {
    const std::string key = absl::StrCat("key-", i);
    id_of[i] = map.Put(key.data(), key.size());
  }
  // Keyed by id: what each visit saw.
  std::vector<std::string> seen(kEntries + 1);
  std::vector<int> visits(kEntries + 1);
  const bool whole =
      map.ForEach([&](uint64_t id, const unsigned char* data, size_t size) {
        ASSERT_GE(id, 1u);
        ASSERT_LE(id, static_cast<uint64_t>(kEntries));
        ++visits[id];
        seen[id].assign(reinterpret_cast<const char*>(data), size);
      });
  EXPECT_TRUE(whole);
  for (int i = 0; i < kEntries; ++i) {
    ASSERT_EQ(visits[id_of[i]], 1) << i;
    ASSERT_EQ(seen[id_of[i]], absl::StrCat("key-", i));
  }
}

TEST(TraceMapTest, ForEachWhilePutting) {
  TraceMap map;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::atomic<int> running{kThreads};
  std::vector<std::thread> putters;
  for (int t = 0; t < kThreads; ++t) {
    putters.emplace_back([&map, &running, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Each key twice (threads overlap in pairs): ids stay unique.
        const std::string key = absl::StrCat("key-", t / 2, "-", i);
        map.Put(key.data(), key.size());
      }
      running.fetch_sub(1);
    });
  }
  // Walks while the puts go on: every entry seen is whole.
  int walks = 0;
  while (running.load() > 0 || walks < 3) {
    uint64_t entries = 0;
    const bool whole =
        map.ForEach([&](uint64_t id, const unsigned char* data, size_t size) {
          const absl::string_view s(reinterpret_cast<const char*>(data), size);
          ASSERT_GE(id, 1u);
          ASSERT_TRUE(s.substr(0, 4) == "key-") << s;
          ++entries;
        });
    EXPECT_TRUE(whole);
    // A Put publishes its node before it counts it: a walk may see at most
    // one node per putter that size() does not count yet (CI saw 1).
    EXPECT_LE(entries, map.size() + kThreads);
    ++walks;
  }
  for (std::thread& p : putters) p.join();
  uint64_t entries = 0;
  map.ForEach([&](uint64_t, const unsigned char*, size_t) { ++entries; });
  EXPECT_EQ(entries, static_cast<uint64_t>(kThreads / 2 * kPerThread));
  EXPECT_EQ(map.size(), entries);
}

}  // namespace
}  // namespace gentrace::internal
