// The tracer feeding a GenerationRing (as the runtime's flight recorder
// will): windows that start after generation 1, because older generations
// were evicted, are valid traces for our reader and for Go's parser.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tracer/gentrace.h"
#include "tracer/internal/generation_ring.h"
#include "tracer/internal/ring_sink.h"
#include "tracer/ring_test_util.h"

namespace gentrace::internal {
namespace {

using ::gentrace::testing::CallbackToRingSink;
using ::gentrace::testing::CheckTrace;
using ::gentrace::testing::StringTraceSink;
using ::gentrace::testing::TraceCheck;

// Waits (bounded) until the ring has committed `n` generations.
bool WaitForCommitted(GenerationRing* ring, uint64_t n) {
  const absl::Time limit = absl::Now() + absl::Seconds(60);
  while (ring->stats().generations_committed < n) {
    if (absl::Now() > limit) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

TEST(RingTracerTest, EvictedWindowsAreValidTraces) {
  GenerationRingOptions o;
  // Room for generations of up to 1 MiB: under ThreadSanitizer a 5 ms
  // generation can last far longer, and a ring that cannot hold the
  // previous generation beside the one being written has no whole
  // generation to give.
  o.max_bytes = 2 << 20;
  o.min_age = absl::Hours(1);
  std::unique_ptr<GenerationRing> ring = *GenerationRing::Create(o);
  RingSink ring_sink(ring.get());
  CallbackToRingSink shim(&ring_sink);
  Options opts;
  opts.callback = [&shim](absl::Span<const uint8_t> b) {
    return shim.Write(b);
  };
  opts.generation_period = absl::Milliseconds(5);
  ASSERT_TRUE(Start(opts).ok());
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  for (int i = 0; i < 2; ++i) {
    workers.emplace_back([&stop, i] {
      SetThreadName(absl::StrCat("worker-", i));
      Task task = Task::Begin("job");
      for (uint64_t n = 0; !stop.load(std::memory_order_relaxed); ++n) {
        ScopedRegion r("step");
        Log("work", absl::StrCat("step ", n), task.id());
        ScopedBlock b(BlockReason::kSleep);
        absl::SleepFor(absl::Microseconds(100));
      }
    });
  }
  // Until the oldest generations have been evicted for room, then three
  // snapshots, each after two more generations.
  const absl::Time limit = absl::Now() + absl::Seconds(60);
  while (ring->stats().generations_evicted < 3 && absl::Now() < limit) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_GE(ring->stats().generations_evicted, 3u);
  for (int k = 0; k < 3; ++k) {
    if (!WaitForCommitted(ring.get(),
                          ring->stats().generations_committed + 2)) {
      const GenerationRingStats st = ring->stats();
      stop = true;
      for (std::thread& t : workers) t.join();
      FAIL() << "no new generation committed for 60 s: committed "
             << st.generations_committed << ", held " << st.generations_held
             << ", dropped " << st.generations_dropped_too_big << "+"
             << st.generations_dropped_pinned << ", tracer generations "
             << GetStats().generations << ", Stop: " << Stop();
    }
    StringTraceSink sink;
    absl::StatusOr<SnapshotInfo> info = ring->WriteTo(&sink);
    const GenerationRingStats st = ring->stats();
    ASSERT_TRUE(info.ok()) << info.status() << " (held " << st.generations_held
                           << ", committed " << st.generations_committed
                           << ", evicted " << st.generations_evicted
                           << ", dropped " << st.generations_dropped_too_big
                           << "+" << st.generations_dropped_pinned << ")";
    EXPECT_GT(info->first_gen, 1u);
    absl::StatusOr<TraceCheck> c =
        CheckTrace(sink.data, absl::StrCat("tracer-window-", k));
    ASSERT_TRUE(c.ok()) << c.status() << " (generations " << info->first_gen
                        << "-" << info->last_gen << ")";
    EXPECT_EQ(c->generations, info->generations);
    EXPECT_EQ(c->gen_numbers.front(), info->first_gen);
  }
  stop = true;
  for (std::thread& t : workers) t.join();
  EXPECT_TRUE(Stop().ok());
}

}  // namespace
}  // namespace gentrace::internal
