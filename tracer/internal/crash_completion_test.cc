// CrashCompletion in process (the crash handler's callback runs the same
// code in a signal handler; tests/tracer/flight_recorder_crash_test covers
// that): the batch the writer is delivering when the crash comes, stopped
// inside the ring's Append, is not in the ring's snapshot and is written
// from the writer's buffer instead, so the completed generation holds
// every event once.
#include "tracer/internal/crash_completion.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/sys.h"
#include "tracer/gentrace.h"
#include "tracer/internal/clock.h"
#include "tracer/internal/generation_ring.h"
#include "tracer/internal/ring_sink.h"
#include "tracer/internal/runtime.h"
#include "tracer/ring_test_util.h"

namespace gentrace::internal {
namespace {

using ::gentrace::testing::CheckTrace;
using ::gentrace::testing::ReadFile;
using ::gentrace::testing::TempPath;
using ::gentrace::testing::TraceCheck;

// The writer thread stops inside an Append (before a record's commit
// word) once armed, until released.
std::atomic<bool> g_armed{false};
std::atomic<bool> g_stuck{false};
std::atomic<bool> g_release{false};

void StopWriterOnce(uint64_t, void*) {
  if (!g_armed.exchange(false)) return;
  g_stuck = true;
  while (!g_release.load()) absl::SleepFor(absl::Milliseconds(1));
}

std::string Line(int i) { return absl::StrFormat("crashline-%05d", i); }

int Occurrences(const std::string& hay, const std::string& needle) {
  int n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos;
       at = hay.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

TEST(CrashCompletionTest, BatchInFlightIsWrittenFromTheWriter) {
  GenerationRingOptions ro;
  ro.max_bytes = 16 << 20;
  ro.min_age = absl::Hours(1);
  std::unique_ptr<GenerationRing> ring = *GenerationRing::Create(ro);
  ring->SetBeforeCommitHookForTesting(&StopWriterOnce, nullptr);
  TraceSettings settings;
  settings.generation_period = absl::Hours(1);  // ends only when asked
  ASSERT_TRUE(
      Runtime::Get()
          .StartRecorder(settings, std::make_unique<RingSink>(ring.get()))
          .ok());
  // Two whole generations in the ring.
  gentrace::Log("setup", "before");
  ASSERT_TRUE(AdvanceGenerationForTesting().ok());
  ASSERT_TRUE(AdvanceGenerationForTesting().ok());
  ASSERT_GE(ring->stats().generations_held, 1u);
  const uint64_t gen = Runtime::Get().gen();

  // Enough logs for several full buffers: the first one to reach the ring
  // stops the writer inside its Append; the others wait in its queue or in
  // this thread's buffers.
  g_armed = true;
  constexpr int kLogs = 12000;
  for (int i = 0; i < kLogs; ++i) gentrace::Log("crash", Line(i));
  const absl::Time limit = absl::Now() + absl::Seconds(30);
  while (!g_stuck.load() && absl::Now() < limit) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_TRUE(g_stuck.load()) << "no buffer reached the writer";

  const std::string path = TempPath("crash-completion.trace");
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  CrashCompletion completion;
  ASSERT_TRUE(completion.Prepare(static_cast<int>(base::GetTid()),
                                 MonotonicNanos() + 5'000'000'000u))
      << completion.result().reason;
  CrashSnapshotOptions o;
  o.include_active = true;
  o.wait_ns = 10'000'000;  // the writer stays stuck: it is left out
  const CrashSnapshotResult r = ring->WriteCrashSnapshot(fd, o);
  EXPECT_TRUE(r.writer_busy);
  completion.Finish(fd, 0, r);
  completion.Release();
  close(fd);
  const CrashCompletionResult& c = completion.result();
  EXPECT_TRUE(c.completed) << c.reason;
  EXPECT_EQ(c.gen, gen);
  EXPECT_GE(c.queued_batches, 1u);  // the one in flight at least
  EXPECT_EQ(c.threads_skipped, 0u);

  g_release = true;
  (void)Runtime::Get().StopRecorder();  // the frozen ring failed it

  const std::string trace = ReadFile(path);
  absl::StatusOr<TraceCheck> check = CheckTrace(trace, "crash-completion");
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_EQ(check->gen_numbers.back(), gen);
  // Every log's message once (a message is written once, with its log).
  for (int i = 0; i < kLogs; ++i) {
    ASSERT_EQ(Occurrences(trace, Line(i)), 1) << Line(i);
  }
}

}  // namespace
}  // namespace gentrace::internal
