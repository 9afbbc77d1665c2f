// gentrace::FlightRecorder (tracer/flight_recorder.h): alone and next to a
// trace to a file, WriteTo's semantics (the newest events are in the
// snapshot, one WriteTo at a time), the memory bound, snapshots while many
// threads trace. Every trace is checked by our reader, then Go's parser
// when available (ViewWithGo).
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/tracer/trace_check.h"
#include "tracer/gentrace.h"

namespace gentrace {
namespace {

using ::gentrace::testing::GoView;
using ::gentrace::testing::ReadFile;
using ::gentrace::testing::TempPath;
using ::gentrace::testing::ViewWithGo;
using ::testing::HasSubstr;

// Checks the trace at path and returns how many Log events carry `marker`
// as their message (-1 if the trace is not valid).
int MarkerLogs(const std::string& path, const std::string& marker,
               GoView* view_out = nullptr) {
  absl::StatusOr<GoView> v = ViewWithGo(path);
  EXPECT_TRUE(v.ok()) << v.status();
  if (!v.ok()) return -1;
  EXPECT_TRUE(v->valid) << v->result_line << "\n" << v->validate_output;
  EXPECT_TRUE(v->ours_agree) << v->ours_difference;
  if (!v->valid) return -1;
  if (view_out != nullptr) *view_out = *v;
  return v->count_matching({"Log ", absl::StrCat("message=\"", marker, "\"")});
}

// Traced work on `n` threads until stopped. The default pause keeps
// generations small enough for the rings below even under a sanitizer.
class Workers {
 public:
  explicit Workers(int n, absl::Duration pause = absl::Milliseconds(1)) {
    for (int i = 0; i < n; ++i) {
      threads_.emplace_back([this, i, pause] {
        SetThreadName(absl::StrCat("worker-", i));
        for (uint64_t k = 0; !stop_.load(std::memory_order_relaxed); ++k) {
          ScopedRegion r("step");
          Log("work", absl::StrCat("step ", k));
          if (pause > absl::ZeroDuration()) {
            ScopedBlock b(BlockReason::kSleep);
            absl::SleepFor(pause);
          }
        }
      });
    }
  }
  ~Workers() { Join(); }
  void Join() {
    stop_ = true;
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

FlightRecorderOptions SmallOptions() {
  FlightRecorderOptions o;
  o.max_bytes = 16 << 20;
  o.min_age = absl::Seconds(60);
  o.generation_period = absl::Milliseconds(20);
  return o;
}

TEST(FlightRecorderTest, AloneSnapshotHoldsTheNewestEvents) {
  FlightRecorder fr(SmallOptions());
  ASSERT_TRUE(fr.Start().ok());
  EXPECT_TRUE(fr.Enabled());
  EXPECT_FALSE(IsTracing());  // no file trace: only the recorder
  Workers w(2);
  absl::SleepFor(absl::Milliseconds(60));
  // Logged in the generation being recorded: WriteTo must end it first.
  Log("test", "newest");
  const std::string path = TempPath("alone.trace");
  absl::StatusOr<uint64_t> n = fr.WriteTo(path);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, ReadFile(path).size());
  EXPECT_EQ(MarkerLogs(path, "newest"), 1);
  const FlightRecorderStats st = fr.stats();
  EXPECT_EQ(st.snapshots, 1u);
  EXPECT_GE(st.generations_held, 1u);
  w.Join();
  EXPECT_TRUE(fr.Stop().ok());
  EXPECT_FALSE(fr.Enabled());
  // As Go: no snapshot from a stopped recorder.
  EXPECT_EQ(fr.WriteTo(TempPath("stopped.trace")).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(FlightRecorderTest, WriteToFdAndCallbackGiveTheSameKindOfTrace) {
  FlightRecorder fr(SmallOptions());
  ASSERT_TRUE(fr.Start().ok());
  Workers w(2);
  Log("test", "for fd");
  const std::string fd_path = TempPath("fd.trace");
  const int fd = open(fd_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  absl::StatusOr<uint64_t> n = fr.WriteTo(fd);
  ASSERT_TRUE(n.ok()) << n.status();
  // The fd stays open (ours).
  EXPECT_EQ(fcntl(fd, F_GETFD), 0);
  close(fd);
  EXPECT_EQ(*n, ReadFile(fd_path).size());
  EXPECT_EQ(MarkerLogs(fd_path, "for fd"), 1);

  Log("test", "for callback");
  std::string bytes;
  n = fr.WriteTo([&bytes](absl::Span<const uint8_t> b) {
    bytes.append(reinterpret_cast<const char*>(b.data()), b.size());
    return absl::OkStatus();
  });
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, bytes.size());
  const std::string cb_path = TempPath("callback.trace");
  {
    FILE* f = fopen(cb_path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    fwrite(bytes.data(), 1, bytes.size(), f);
    fclose(f);
  }
  EXPECT_EQ(MarkerLogs(cb_path, "for callback"), 1);
  // A failing callback fails WriteTo with its error; recording goes on.
  n = fr.WriteTo([](absl::Span<const uint8_t>) {
    return absl::DataLossError("disk full");
  });
  EXPECT_EQ(n.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(fr.Enabled());
  w.Join();
  EXPECT_TRUE(fr.Stop().ok());
}

TEST(FlightRecorderTest, SecondConcurrentWriteToFailsAsInGo) {
  FlightRecorder fr(SmallOptions());
  ASSERT_TRUE(fr.Start().ok());
  Workers w(1);
  absl::Notification inside, second_done;
  std::string bytes;
  std::thread first([&] {
    absl::StatusOr<uint64_t> n = fr.WriteTo([&](absl::Span<const uint8_t> b) {
      if (!inside.HasBeenNotified()) {
        inside.Notify();
        second_done.WaitForNotification();
      }
      bytes.append(reinterpret_cast<const char*>(b.data()), b.size());
      return absl::OkStatus();
    });
    EXPECT_TRUE(n.ok()) << n.status();
  });
  inside.WaitForNotification();
  absl::StatusOr<uint64_t> second = fr.WriteTo(TempPath("second.trace"));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAborted)
      << second.status();
  second_done.Notify();
  first.join();
  const std::string path = TempPath("first.trace");
  FILE* f = fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  fwrite(bytes.data(), 1, bytes.size(), f);
  fclose(f);
  EXPECT_GE(MarkerLogs(path, "none"), 0);  // valid
  // And a WriteTo after both is fine again.
  EXPECT_TRUE(fr.WriteTo(TempPath("third.trace")).ok());
  w.Join();
  EXPECT_TRUE(fr.Stop().ok());
}

TEST(FlightRecorderTest, FileTraceStopsAndTheRecorderGoesOn) {
  const std::string file = TempPath("file1.trace");
  Options opts;
  opts.path = file;
  opts.generation_period = absl::Milliseconds(20);
  ASSERT_TRUE(Start(opts).ok());
  FlightRecorder fr(SmallOptions());
  ASSERT_TRUE(fr.Start().ok());
  Workers w(2);
  Log("test", "both");
  ASSERT_TRUE(Stop().ok());
  EXPECT_FALSE(IsTracing());
  EXPECT_TRUE(fr.Enabled());
  Log("test", "recorder only");
  const std::string snap = TempPath("snap1.trace");
  ASSERT_TRUE(fr.WriteTo(snap).ok());
  w.Join();
  EXPECT_TRUE(fr.Stop().ok());
  EXPECT_EQ(MarkerLogs(file, "both"), 1);
  EXPECT_EQ(MarkerLogs(file, "recorder only"), 0);
  EXPECT_EQ(MarkerLogs(snap, "recorder only"), 1);
}

TEST(FlightRecorderTest, RecorderStopsAndTheFileTraceGoesOn) {
  FlightRecorder fr(SmallOptions());
  ASSERT_TRUE(fr.Start().ok());
  const std::string file = TempPath("file2.trace");
  Options opts;
  opts.path = file;
  opts.generation_period = absl::Milliseconds(20);
  ASSERT_TRUE(Start(opts).ok());
  Workers w(2);
  Log("test", "both");
  const std::string snap = TempPath("snap2.trace");
  ASSERT_TRUE(fr.WriteTo(snap).ok());
  ASSERT_TRUE(fr.Stop().ok());
  EXPECT_FALSE(fr.Enabled());
  EXPECT_TRUE(IsTracing());
  Log("test", "file only");
  w.Join();
  ASSERT_TRUE(Stop().ok());
  EXPECT_EQ(MarkerLogs(snap, "both"), 1);
  EXPECT_EQ(MarkerLogs(file, "both"), 1);
  EXPECT_EQ(MarkerLogs(file, "file only"), 1);
}

TEST(FlightRecorderTest, JoiningWithOtherSettingsIsRefused) {
  Options opts;
  opts.path = TempPath("settings.trace");
  opts.generation_period = absl::Milliseconds(50);
  ASSERT_TRUE(Start(opts).ok());
  FlightRecorder fr(SmallOptions());  // 20 ms
  absl::Status s = fr.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("generation_period"));
  EXPECT_FALSE(fr.Enabled());
  EXPECT_TRUE(IsTracing());
  ASSERT_TRUE(Stop().ok());
  // And the other way round.
  ASSERT_TRUE(fr.Start().ok());
  s = Start(opts);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("generation_period"));
  EXPECT_TRUE(fr.Enabled());
  // Only one recorder at a time.
  FlightRecorder other(SmallOptions());
  EXPECT_EQ(other.Start().code(), absl::StatusCode::kFailedPrecondition);
  // The clock is a setting too (the recorder's is kAuto).
  Options clock = opts;
  clock.generation_period = SmallOptions().generation_period;
  clock.clock = TraceClock::kMonotonic;
  s = Start(clock);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("clock: the running trace has auto, this asks for "
                        "monotonic"));
  EXPECT_TRUE(fr.Stop().ok());
}

TEST(FlightRecorderTest, MemoryStaysWithinTheBoundAtAHighEventRate) {
  FlightRecorderOptions o;
  o.max_bytes = 256 << 10;
  o.min_age = absl::Hours(1);  // max_bytes must win
  o.generation_period = absl::Milliseconds(5);
  FlightRecorder fr(o);
  ASSERT_TRUE(fr.Start().ok());
  Workers w(4, absl::ZeroDuration());  // as fast as they can
  const absl::Time limit = absl::Now() + absl::Seconds(60);
  while (fr.stats().bytes_received < 8 * o.max_bytes && absl::Now() < limit) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  w.Join();
  const FlightRecorderStats st = fr.stats();
  ASSERT_GE(st.bytes_received, 8 * o.max_bytes);
  EXPECT_EQ(st.region_bytes, o.max_bytes);
  EXPECT_LE(st.bytes_held, st.region_bytes);
  EXPECT_GT(st.generations_evicted + st.generations_dropped, 0u);
  // The snapshot, counted by its own destination, is within the bound.
  uint64_t counted = 0;
  std::string bytes;
  absl::StatusOr<uint64_t> n = fr.WriteTo([&](absl::Span<const uint8_t> b) {
    counted += b.size();
    bytes.append(reinterpret_cast<const char*>(b.data()), b.size());
    return absl::OkStatus();
  });
  EXPECT_TRUE(fr.Stop().ok());
  if (!n.ok()) {
    // Only when every generation was too big for the ring (possible on a
    // slow sanitizer build): then they must have been counted as dropped.
    EXPECT_EQ(n.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_GT(fr.stats().generations_dropped, 0u);
    return;
  }
  EXPECT_EQ(*n, counted);
  EXPECT_LE(counted, o.max_bytes + 16);
  const std::string path = TempPath("bounded.trace");
  FILE* f = fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  fwrite(bytes.data(), 1, bytes.size(), f);
  fclose(f);
  EXPECT_GE(MarkerLogs(path, "none"), 0);
}

TEST(FlightRecorderTest, AGenerationBiggerThanTheRingIsDroppedWhole) {
  FlightRecorderOptions o;
  o.max_bytes = 64 << 10;
  o.generation_period = absl::Seconds(100);  // ends only at WriteTo
  FlightRecorder fr(o);
  ASSERT_TRUE(fr.Start().ok());
  // About 1 MiB of logs in one generation.
  const std::string text(1000, 'x');
  for (int i = 0; i < 1000; ++i) Log("big", text);
  absl::StatusOr<uint64_t> n = fr.WriteTo(TempPath("big.trace"));
  EXPECT_EQ(n.status().code(), absl::StatusCode::kFailedPrecondition)
      << n.status();
  const FlightRecorderStats st = fr.stats();
  EXPECT_EQ(st.generations_dropped, 1u);
  EXPECT_GT(st.bytes_dropped, 64u << 10);
  EXPECT_EQ(st.generations_held, 0u);
  // The next generation fits, and a snapshot holds it.
  Log("test", "small");
  const std::string small = TempPath("small.trace");
  n = fr.WriteTo(small);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(MarkerLogs(small, "small"), 1);
  EXPECT_TRUE(fr.Stop().ok());
}

TEST(FlightRecorderTest, SnapshotsWhileEightThreadsTraceAreAllValid) {
  // A short min_age, as a service would use: the ring holds a few
  // generations and has room to spare, so the writer never needs bytes a
  // snapshot is still copying (with the ring full of history it would
  // wait 100 ms for them and then drop its generation, which a slow
  // sanitizer build does hit).
  FlightRecorderOptions o = SmallOptions();
  o.min_age = absl::Milliseconds(200);
  FlightRecorder fr(o);
  ASSERT_TRUE(fr.Start().ok());
  Workers w(8);
  for (int i = 0; i < 5; ++i) {
    const std::string marker = absl::StrCat("snapshot ", i);
    Log("test", marker);
    const std::string path = TempPath(absl::StrCat("eight-", i, ".trace"));
    absl::StatusOr<uint64_t> n = fr.WriteTo(path);
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(MarkerLogs(path, marker), 1) << path;
    absl::SleepFor(absl::Milliseconds(30));
  }
  w.Join();
  EXPECT_TRUE(fr.Stop().ok());
  EXPECT_EQ(fr.stats().snapshots, 5u);
}

TEST(FlightRecorderTest, StartsAgainAfterStop) {
  FlightRecorder fr(SmallOptions());
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(fr.Start().ok());
    const std::string marker = absl::StrCat("round ", round);
    Log("test", marker);
    const std::string path = TempPath(absl::StrCat("round-", round, ".trace"));
    ASSERT_TRUE(fr.WriteTo(path).ok());
    EXPECT_EQ(MarkerLogs(path, marker), 1);
    // The first round's events are not in the second trace.
    if (round == 1) {
      EXPECT_EQ(MarkerLogs(path, "round 0"), 0);
    }
    ASSERT_TRUE(fr.Stop().ok());
  }
}

}  // namespace
}  // namespace gentrace
