// End-to-end tests of the tracer: programs that trace themselves, with the
// resulting traces checked by Go's own parser and validator (and their
// events counted from Go's reader) when the Go reference tool is available.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "format/batch.h"
#include "format/gentrace_batch.h"
#include "format/header.h"
#include "reader/gentrace_info.h"
#include "reader/reader.h"
#include "tests/interop/go_tool.h"
#include "tests/tracer/trace_check.h"
#include "tracer/gentrace.h"
#include "tracer/internal/runtime.h"

namespace gentrace {
namespace {

using ::gentrace::testing::CutGenerations;
using ::gentrace::testing::GoView;
using ::gentrace::testing::ReadFile;
using ::gentrace::testing::TempPath;
using ::gentrace::testing::ViewWithGo;
using ::testing::HasSubstr;

#if defined(GENTRACE_TSAN)
constexpr int kScale = 10;  // ThreadSanitizer is ~10x slower
#else
constexpr int kScale = 1;
#endif

// Tests end generations where they need a boundary (EndGeneration), so
// by default no generation ends by the clock.
constexpr absl::Duration kNoTimedGenerations = absl::Hours(1);

Options FileOptions(const std::string& path,
                    absl::Duration period = kNoTimedGenerations) {
  Options o;
  o.path = path;
  o.generation_period = period;
  return o;
}

GoView MustView(const std::string& path, bool allow_broken_tail = false,
                bool dump = true) {
  absl::StatusOr<GoView> v = ViewWithGo(path, allow_broken_tail, dump);
  EXPECT_TRUE(v.ok()) << v.status();
  if (!v.ok()) return GoView();
  EXPECT_TRUE(v->valid) << v->validate_output;
  EXPECT_TRUE(v->ours_agree) << v->ours_difference;
  return *v;
}

// Ends the current generation now; it is complete when this returns.
void EndGeneration() {
  absl::Status s = internal::AdvanceGenerationForTesting();
  ASSERT_TRUE(s.ok()) << s;
}

// Our reader reads the whole trace without an error; returns its event
// count.
int ExpectOurReaderAccepts(const std::string& path) {
  absl::StatusOr<std::unique_ptr<reader::Reader>> r =
      reader::Reader::Open(path);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return 0;
  reader::Event ev;
  int n = 0;
  while ((*r)->ReadEvent(&ev)) ++n;
  EXPECT_TRUE((*r)->status().ok()) << path << ": " << (*r)->status();
  return n;
}

// The value of `key=` in a dump line ("" if absent).
std::string Field(const std::string& line, absl::string_view key) {
  const std::string k = absl::StrCat(" ", key, "=");
  const size_t p = line.find(k);
  if (p == std::string::npos) return "";
  const size_t b = p + k.size();
  return line.substr(b, line.find(' ', b) - b);
}

// Reads the batch framing of a trace: generations seen, in order.
std::vector<uint64_t> Generations(const std::string& bytes) {
  std::vector<uint64_t> gens;
  format::BatchReader r(absl::MakeConstSpan(
      reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  EXPECT_TRUE(r.ReadHeader().ok());
  format::Batch b;
  for (;;) {
    absl::StatusOr<bool> more = r.Next(&b);
    EXPECT_TRUE(more.ok()) << more.status();
    if (!more.ok() || !*more) break;
    if (gens.empty() || gens.back() != b.gen) gens.push_back(b.gen);
  }
  return gens;
}

TEST(TracerTest, RecordsTasksRegionsLogsWithNamesAndStacks) {
  const std::string path = TempPath("basic.trace");
  ASSERT_TRUE(Start(FileOptions(path)).ok());
  EXPECT_TRUE(IsTracing());
  std::thread t([] {
    SetThreadName("basic-worker");
    for (int i = 0; i < 100; ++i) {
      Task task = Task::Begin("request");
      GENTRACE_REGION("outer");
      {
        ScopedRegion inner(absl::StrCat("dynamic-", i % 3), task.id());
        Log("cache", absl::StrCat("miss ", i), task.id());
        GENTRACE_LOG("static-category", "hello");
        Logf("fmt", "value=%d", i);
      }
    }
  });
  t.join();
  ASSERT_TRUE(Stop().ok());
  EXPECT_FALSE(IsTracing());

  GoView v = MustView(path);
  EXPECT_EQ(v.end_line, "END ok");
  EXPECT_EQ(v.count("TaskBegin"), 100);
  EXPECT_EQ(v.count("TaskEnd"), 100);
  EXPECT_EQ(v.count("RegionBegin"), 200);
  EXPECT_EQ(v.count("RegionEnd"), 200);
  EXPECT_EQ(v.count("Log"), 300);
  EXPECT_EQ(
      v.count_matching({"Log ", "category=\"cache\"", "message=\"miss 42\""}),
      1);
  EXPECT_EQ(v.count_matching({"Log ", "message=\"value=7\""}), 1);
  EXPECT_EQ(v.count_matching({"RegionBegin", "type=\"dynamic-2\""}), 33);
  // The thread's goroutine is named after the thread.
  EXPECT_EQ(v.count_matching(
                {"from=NotExist to=Runnable", "tstack=[\"basic-worker\""}),
            1);
  // Stacks start at the caller, in this file, not inside gentrace.
  EXPECT_GE(v.count_matching({"Log ", "stack=[\"", "tracer_test.cc\":"}), 300);
  EXPECT_EQ(v.count_matching({"Log ", "stack=[\"", "gentrace.h\":"}), 0);
}

// The leaf both callers below call: one call site of Log, reached at the
// same depth from two callers (the thread's stack cache files stacks by
// the first return address and the depth, tracer/internal/stack_table.h).
__attribute__((noinline)) void LogFromLeaf(const char* who) {
  Log("leaf", who);
  asm volatile("" ::: "memory");  // no tail call: keep the frame
}
__attribute__((noinline)) void CallerAlpha() {
  LogFromLeaf("alpha");
  asm volatile("" ::: "memory");
}
__attribute__((noinline)) void CallerBeta() {
  LogFromLeaf("beta");
  asm volatile("" ::: "memory");
}

// Stacks that begin alike and differ further out, alternating (as from an
// unrolled loop), each keep their own stack: fails if the stack cache
// answers for a stack it did not compare in full.
TEST(TracerTest, StacksFromOneCallSiteAndDepthKeepTheirCallers) {
  const std::string path = TempPath("same-site.trace");
  ASSERT_TRUE(Start(FileOptions(path)).ok());
  for (int i = 0; i < 50; ++i) {
    CallerAlpha();
    CallerBeta();
    CallerBeta();
    CallerAlpha();
  }
  ASSERT_TRUE(Stop().ok());
  GoView v = MustView(path);
  EXPECT_EQ(v.end_line, "END ok");
  EXPECT_EQ(v.count_matching({"Log ", "message=\"alpha\""}), 100);
  EXPECT_EQ(v.count_matching({"Log ", "message=\"beta\""}), 100);
  EXPECT_EQ(v.count_matching(
                {"Log ", "message=\"alpha\"", "CallerAlpha", "LogFromLeaf"}),
            100);
  EXPECT_EQ(v.count_matching(
                {"Log ", "message=\"beta\"", "CallerBeta", "LogFromLeaf"}),
            100);
  EXPECT_EQ(v.count_matching({"Log ", "message=\"alpha\"", "CallerBeta"}), 0);
  EXPECT_EQ(v.count_matching({"Log ", "message=\"beta\"", "CallerAlpha"}), 0);
}

TEST(TracerTest, OffCallsDoNothing) {
  EXPECT_FALSE(IsTracing());
  Task t = Task::Begin("off");
  EXPECT_EQ(t.id(), 0u);
  GENTRACE_REGION("off");
  Log("a", "b");
  { ScopedBlock b(BlockReason::kSync); }
  { ScopedSyscall s; }
  t.End();
  EXPECT_FALSE(Stop().ok());
}

TEST(TracerTest, RejectsBadOptions) {
  Options none;
  EXPECT_THAT(std::string(Start(none).message()), HasSubstr("exactly one of"));
  Options two = FileOptions(TempPath("x.trace"));
  two.fd = 1;
  EXPECT_FALSE(Start(two).ok());
  Options period = FileOptions(TempPath("x.trace"), absl::Microseconds(10));
  EXPECT_THAT(std::string(Start(period).message()), HasSubstr("at least 1ms"));
  Options depth = FileOptions(TempPath("x.trace"));
  depth.max_stack_depth = 129;
  EXPECT_THAT(std::string(Start(depth).message()), HasSubstr("[1, 128]"));
  Options dir = FileOptions("/nonexistent-dir/x.trace");
  EXPECT_THAT(std::string(Start(dir).message()),
              HasSubstr("cannot create trace file /nonexistent-dir/x.trace"));
  Options badfd;
  badfd.fd = 987;
  EXPECT_THAT(std::string(Start(badfd).message()), HasSubstr("not open"));
  Options zstd = FileOptions(TempPath("x.trace"));
  zstd.compression = Compression::kZstd;
  zstd.zstd_level = 99;
  EXPECT_FALSE(Start(zstd).ok());
  EXPECT_FALSE(IsTracing());

  ASSERT_TRUE(Start(FileOptions(TempPath("ok.trace"))).ok());
  EXPECT_THAT(std::string(Start(FileOptions(TempPath("y.trace"))).message()),
              HasSubstr("already on"));
  EXPECT_TRUE(Stop().ok());
}

// Whether this CPU's TSC is invariant (what TraceClock::kTsc needs), read
// here independently of the tracer.
bool CpuHasInvariantTsc() {
#if defined(__x86_64__)
  const std::string cpuinfo = ReadFile("/proc/cpuinfo");
  return cpuinfo.find(" constant_tsc") != std::string::npos &&
         cpuinfo.find(" nonstop_tsc") != std::string::npos;
#else
  return false;
#endif
}

int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * int64_t{1000000000} + ts.tv_nsec;
}

// Each clock times events right: the span between two logs, as our reader
// reads it from the trace (ticks over the trace's Frequency), lies between
// CLOCK_MONOTONIC's inner and outer spans around them. A frequency off by
// 1% is 1 ms here, far outside the bounds.
TEST(TracerTest, EachClockTimesEventsAsTheMonotonicClockDoes) {
  struct Case {
    TraceClock clock;
    const char* description;
  };
  for (const Case& c : {Case{TraceClock::kMonotonic, "CLOCK_MONOTONIC >> 3"},
                        Case{TraceClock::kTsc, "tsc >> "}}) {
    SCOPED_TRACE(c.description);
    if (c.clock == TraceClock::kTsc && !CpuHasInvariantTsc()) {
      Options o = FileOptions(TempPath("no-tsc.trace"));
      o.clock = TraceClock::kTsc;
      EXPECT_THAT(std::string(Start(o).message()), HasSubstr("invariant"));
      continue;
    }
    const std::string path = TempPath("clock.trace");
    Options o = FileOptions(path);
    o.clock = c.clock;
    ASSERT_TRUE(Start(o).ok());
    EXPECT_THAT(GetStats().clock, HasSubstr(c.description));
    EXPECT_THAT(GetStats().clock, HasSubstr("asked for"));
    const int64_t t0 = MonotonicNs();
    Log("clock", "first");
    const int64_t t1 = MonotonicNs();
    absl::SleepFor(absl::Milliseconds(100));
    const int64_t t2 = MonotonicNs();
    Log("clock", "second");
    const int64_t t3 = MonotonicNs();
    ASSERT_TRUE(Stop().ok());

    absl::StatusOr<std::unique_ptr<reader::Reader>> r =
        reader::Reader::Open(path);
    ASSERT_TRUE(r.ok()) << r.status();
    reader::Event ev;
    int64_t first = -1, second = -1;
    while ((*r)->ReadEvent(&ev)) {
      if (ev.kind() != reader::EventKind::kLog) continue;
      if (ev.log().message == "first") first = ev.time();
      if (ev.log().message == "second") second = ev.time();
    }
    ASSERT_TRUE((*r)->status().ok()) << (*r)->status();
    ASSERT_GE(first, 0);
    ASSERT_GE(second, 0);
    // A tick is at most 8 ns; allow a few, and 0.2% of the span for the
    // TSC's measured frequency.
    const int64_t inner = t2 - t1, outer = t3 - t0;
    EXPECT_GE(second - first, inner - inner / 500 - 100);
    EXPECT_LE(second - first, outer + outer / 500 + 100);
    EXPECT_EQ(MustView(path).end_line, "END ok");
  }
}

// GENTRACE_CLOCK chooses the clock when Options::clock is kAuto, and only
// then; a value it does not know fails Start, naming it.
TEST(TracerTest, ClockFromTheEnvironment) {
  const std::string path = TempPath("env-clock.trace");
  ASSERT_EQ(setenv("GENTRACE_CLOCK", "monotonic", 1), 0);
  ASSERT_TRUE(Start(FileOptions(path)).ok());
  EXPECT_THAT(GetStats().clock, HasSubstr("CLOCK_MONOTONIC >> 3"));
  ASSERT_TRUE(Stop().ok());

  ASSERT_EQ(setenv("GENTRACE_CLOCK", "hpet", 1), 0);
  EXPECT_THAT(std::string(Start(FileOptions(path)).message()),
              HasSubstr("GENTRACE_CLOCK=\"hpet\": expected auto, tsc or "
                        "monotonic"));
  EXPECT_FALSE(IsTracing());
  Options explicit_clock = FileOptions(path);
  explicit_clock.clock = TraceClock::kMonotonic;
  ASSERT_TRUE(Start(explicit_clock).ok());
  ASSERT_TRUE(Stop().ok());

  ASSERT_EQ(setenv("GENTRACE_CLOCK", "auto", 1), 0);
  ASSERT_TRUE(Start(FileOptions(path)).ok());
  EXPECT_THAT(GetStats().clock, HasSubstr("(auto: "));
  ASSERT_TRUE(Stop().ok());
  ASSERT_EQ(unsetenv("GENTRACE_CLOCK"), 0);
  EXPECT_EQ(MustView(path).end_line, "END ok");
}

TEST(TracerTest, MisuseNeverBreaksTheTrace) {
  const std::string path = TempPath("misuse.trace");
  Options o = FileOptions(path);
  o.max_stack_depth = 128;
  ASSERT_TRUE(Start(o).ok());
  // Ending a region that is not innermost ends the inner ones first.
  RegionBegin("a");
  RegionBegin("b");
  RegionBegin("c");
  RegionEnd("a");
  // Ending regions that are not open is ignored.
  RegionEnd("never-begun");
  RegionEnd("b");
  // Same name, different task: distinct regions.
  RegionBegin("t", 5);
  RegionEnd("t", 6);
  RegionEnd("t", 5);
  // A task ended twice, and ended after being moved from.
  Task t = Task::Begin("twice");
  t.End();
  t.End();
  Task moved = Task::Begin("moved");
  Task other = std::move(moved);
  moved.End();
  other.End();
  // Strings over 1024 bytes are truncated.
  const std::string long_name(5000, 'x');
  Log("long", long_name);
  RegionBegin(long_name);
  RegionEnd(long_name);
  // Stacks deeper than 128 frames keep their innermost 128.
  std::function<void(int)> recurse = [&](int depth) {
    if (depth == 0) {
      Log("deep", "bottom");
      return;
    }
    recurse(depth - 1);
    asm volatile("" ::: "memory");  // keep the frames
  };
  recurse(200);
  // Events while blocked are dropped (a blocked goroutine cannot log), and
  // nested or mismatched scopes write nothing extra.
  {
    ScopedBlock b(BlockReason::kSync);
    Log("while", "blocked");
    ScopedBlock nested(BlockReason::kSync);
    ScopedSyscall sys;
  }
  {
    ScopedSyscall sys;
    ScopedSyscall nested;
    ScopedBlock blocked_in_syscall(BlockReason::kSleep);
    Log("in", "syscall");
  }
  ASSERT_TRUE(Stop().ok());

  GoView v = MustView(path);
  EXPECT_EQ(v.end_line, "END ok");
  EXPECT_EQ(v.count("RegionBegin"), 5);  // a b c t long
  EXPECT_EQ(v.count("RegionEnd"), 5);
  EXPECT_EQ(v.count("TaskBegin"), 2);
  EXPECT_EQ(v.count("TaskEnd"), 2);
  EXPECT_EQ(v.count_matching({"Log ", "category=\"while\""}), 0);
  EXPECT_EQ(v.count_matching({"Log ", "category=\"in\""}), 1);
  EXPECT_EQ(v.count_matching({"Log ", std::string(1024, 'x') + "\""}), 1);
  EXPECT_EQ(v.count_matching({"Log ", std::string(1025, 'x')}), 0);
  EXPECT_EQ(v.count_matching({"to=Waiting"}), 1);
  EXPECT_EQ(v.count_matching({"to=Syscall"}), 1);
  // The deep log's stack has exactly 128 frames.
  for (const std::string& e : v.events) {
    if (e.find("category=\"deep\"") == std::string::npos) continue;
    size_t frames = 0;
    for (size_t p = e.find(" pc="); p != std::string::npos;
         p = e.find(" pc=", p + 1)) {
      ++frames;
    }
    EXPECT_EQ(frames, 128u);
  }
}

TEST(TracerTest, BlockingAndSyscallsAcrossGenerations) {
  const std::string path = TempPath("block.trace");
  ASSERT_TRUE(Start(FileOptions(path)).ok());
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([i] {
      for (int k = 0; k < 5; ++k) {
        GENTRACE_REGION("work");
        // Each block and syscall spans a generation boundary.
        if (i % 2 == 0) {
          ScopedBlock b(BlockReason::kNetwork);
          EndGeneration();
        } else {
          ScopedSyscall s;
          EndGeneration();
        }
      }
    });
  }
  // A thread that stays silent through many generations, then logs.
  std::thread silent([] {
    Log("silent", "first");
    for (int i = 0; i < 9; ++i) EndGeneration();
    Log("silent", "second");
  });
  for (auto& t : threads) t.join();
  silent.join();
  ASSERT_TRUE(Stop().ok());
  const std::vector<uint64_t> gens = Generations(ReadFile(path));
  // Requests that meet may share an advance: at least the silent
  // thread's nine boundaries, at most all 29, and the last at Stop.
  EXPECT_GE(gens.size(), 9u + 1);
  EXPECT_LE(gens.size(), 29u + 1);
  EXPECT_EQ(GetStats().generations, gens.size());
  for (size_t i = 1; i < gens.size(); ++i) EXPECT_EQ(gens[i], gens[i - 1] + 1);

  GoView v = MustView(path);
  EXPECT_EQ(v.count_matching({"to=Waiting", "reason=\"network\""}), 10);
  EXPECT_EQ(v.count_matching({"from=Running to=Syscall"}), 10);
  EXPECT_EQ(v.count_matching({"category=\"silent\""}), 2);
  // Every window of whole generations parses on its own (flight recorder).
  for (uint64_t from = 2; from <= gens.size(); from += 3) {
    absl::StatusOr<std::string> window = CutGenerations(path, from);
    ASSERT_TRUE(window.ok()) << window.status();
    SCOPED_TRACE(absl::StrCat("window from ", from));
    MustView(*window, false, /*dump=*/false);
  }
}

// Log messages take their string ids from per-thread blocks of the
// generation's table, which dynamic names share: every message must keep
// its own text whatever the threads interleave, when a block runs out, when
// a string buffer fills mid-block, and after a generation ends with part of
// a block unused.
TEST(TracerTest, LogMessagesKeepTheirTextAcrossThreadsIdBlocksAndGenerations) {
  const std::string path = TempPath("logids.trace");
  ASSERT_TRUE(Start(FileOptions(path)).ok());
  constexpr int kThreads = 4;
  constexpr int kRounds = 3;
  // Every other message is long (but under format::kMaxStringSize): a
  // thread's 64 KiB string buffer fills near its 180th message of a
  // generation, inside its block of ids 127..254, and again near the
  // 360th, inside 255..510.
  constexpr int kPerRound = 600 / kScale > 200 ? 600 / kScale : 200;
  const std::string padding(700, 'x');
  auto message = [&padding](int t, int r, int k) {
    std::string m = absl::StrCat("t", t, " r", r, " m", k);
    if (k % 2 == 1) absl::StrAppend(&m, " ", padding);
    return m;
  };
  // Lockstep: the threads log a round, then wait while the main thread
  // ends two generations.
  std::mutex mu;
  std::condition_variable cv;
  int done = 0;
  int round = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        {
          std::unique_lock<std::mutex> l(mu);
          cv.wait(l, [&] { return round == r; });
        }
        for (int k = 0; k < kPerRound; ++k) {
          Log("ids", message(t, r, k));
          if (k % 2 == 0) {
            ScopedRegion region(absl::StrCat("name t", t, " r", r, " ", k));
          }
        }
        std::lock_guard<std::mutex> l(mu);
        ++done;
        cv.notify_all();
      }
    });
  }
  for (int r = 0; r < kRounds; ++r) {
    {
      std::unique_lock<std::mutex> l(mu);
      cv.wait(l, [&] { return done == kThreads * (r + 1); });
    }
    EndGeneration();
    EndGeneration();
    std::lock_guard<std::mutex> l(mu);
    ++round;
    cv.notify_all();
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(Stop().ok());

  std::map<std::string, int> want;
  for (int t = 0; t < kThreads; ++t) {
    for (int r = 0; r < kRounds; ++r) {
      for (int k = 0; k < kPerRound; ++k) want[message(t, r, k)] = 1;
    }
  }
  std::map<std::string, int> got;
  int regions = 0;
  absl::StatusOr<std::unique_ptr<reader::Reader>> rd =
      reader::Reader::Open(path);
  ASSERT_TRUE(rd.ok()) << rd.status();
  reader::Event ev;
  while ((*rd)->ReadEvent(&ev)) {
    if (ev.kind() == reader::EventKind::kLog) {
      EXPECT_EQ(ev.log().category, "ids");
      ++got[std::string(ev.log().message)];
    }
    if (ev.kind() == reader::EventKind::kRegionBegin &&
        absl::StartsWith(ev.region().type, "name t")) {
      ++regions;
    }
  }
  ASSERT_TRUE((*rd)->status().ok()) << (*rd)->status();
  EXPECT_EQ(got.size(), want.size());
  EXPECT_TRUE(got == want) << "a message was lost, repeated or changed";
  EXPECT_EQ(regions, kThreads * kRounds * ((kPerRound + 1) / 2));
  MustView(path, false, /*dump=*/false);
}

TEST(TracerTest, ManyThreadsStartingAndExitingWithTinyGenerations) {
  // 64 threads at a time, each writing kEvents events, with threads ending
  // and new ones starting all along, and a generation every 10 ms.
  const int kThreads = 64;
  const int kEvents = 100000 / kScale;
  const std::string path = TempPath("stress.trace");
  Options options = FileOptions(path, absl::Milliseconds(10));
  // Without stacks: Go's validator then checks ~10M events in seconds.
  options.stacks = StackOptions{false, false, false, false, false, false};
  ASSERT_TRUE(Start(options).ok());
  std::atomic<int> logs{0};
  std::atomic<int> tasks{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Half of the threads hand over to a fresh thread halfway.
      const int mine = t % 2 == 0 ? kEvents / 2 : kEvents;
      // Six events an iteration: about n events for body(n).
      auto body = [&](int n) {
        for (int i = 0; i < n / 6; ++i) {
          tasks.fetch_add(1, std::memory_order_relaxed);
          Task task = Task::Begin("op");
          GENTRACE_REGION("step");
          if (i % 64 == 0) {
            Log("progress", "tick", task.id());
            logs.fetch_add(1);
          } else {
            RegionBegin("inner");
            RegionEnd("inner");
          }
        }
      };
      body(mine);
      if (t % 2 == 0) {
        std::thread successor(body, kEvents / 2);
        successor.join();
      }
    });
  }
  // Generations end by the clock, and at least three times on demand.
  for (int i = 0; i < 3; ++i) EndGeneration();
  for (auto& t : threads) t.join();
  ASSERT_TRUE(Stop().ok());
  const Stats stats = GetStats();
  EXPECT_EQ(stats.threads_seen, static_cast<uint64_t>(kThreads + kThreads / 2));
  EXPECT_GE(stats.generations, 3u + 1);

  GoView v = MustView(path, false, /*dump=*/false);  // millions of events
  EXPECT_EQ(v.count("TaskBegin"), tasks.load());
  EXPECT_EQ(v.count("TaskEnd"), tasks.load());
  EXPECT_EQ(v.count("Log"), logs.load());
  EXPECT_EQ(v.count("RegionBegin"), v.count("RegionEnd"));
  // Each iteration: a task, the "step" region, and a log or a region.
  EXPECT_EQ(v.count("RegionBegin") + v.count("Log"), 2 * tasks.load());
  EXPECT_GE(6 * tasks.load(), kThreads * kEvents * 99 / 100);
  EXPECT_EQ(v.count("Sync"), static_cast<int>(stats.generations));
}

TEST(TracerTest, HundredStartStopCycles) {
  std::vector<std::string> paths;
  std::atomic<bool> done{false};
  // A thread that outlives all the cycles, writing all along.
  std::thread background([&] {
    while (!done.load()) {
      GENTRACE_REGION("background");
      usleep(100);
    }
  });
  const int kCycles = 100 / kScale;
  for (int i = 0; i < kCycles; ++i) {
    paths.push_back(TempPath(absl::StrCat("cycle-", i, ".trace")));
    ASSERT_TRUE(Start(FileOptions(paths.back(), absl::Milliseconds(2))).ok());
    std::thread t([i] {
      Log("cycle", absl::StrCat(i));
      GENTRACE_REGION("r");
    });
    Log("main", "x");
    t.join();
    if (i % 10 == 0) {  // several generations now and then
      for (int k = 0; k < 3; ++k) EndGeneration();
    }
    ASSERT_TRUE(Stop().ok()) << i;
  }
  done.store(true);
  background.join();

  for (size_t i = 0; i + 1 < paths.size(); ++i) {
    SCOPED_TRACE(paths[i]);
    MustView(paths[i], false, /*dump=*/false);
  }
  GoView last = MustView(paths.back());
  EXPECT_EQ(
      last.count_matching({"category=\"cycle\"",
                           absl::StrCat("message=\"", kCycles - 1, "\"")}),
      1);
}

// The thread the locker hook pauses, and how it hands over (below).
thread_local bool t_pause_in_locker = false;
absl::Notification* g_locker_paused = nullptr;
absl::Notification* g_locker_resume = nullptr;
void PauseInLocker() {
  if (!t_pause_in_locker) return;
  t_pause_in_locker = false;
  g_locker_paused->Notify();
  g_locker_resume->WaitForNotification();
}

// A thread registered in one trace is paused between CurrentThread (which
// finds it registered) and its seqlock while tracing stops and starts
// again: it must register again, not write into the new trace with the
// old trace's P and goroutine (Go's parser: "found goroutine status for
// new goroutine after the first generation").
TEST(TracerTest, StopAndStartBeforeTheSeqlockRegistersTheThreadAgain) {
  const std::string path1 = TempPath("stale-1.trace");
  const std::string path2 = TempPath("stale-2.trace");
  ASSERT_TRUE(Start(FileOptions(path1)).ok());
  absl::Notification paused, resume;
  g_locker_paused = &paused;
  g_locker_resume = &resume;
  internal::SetTraceLockerHookForTesting(&PauseInLocker);
  std::thread t([] {
    SetThreadName("stale-thread");
    Log("t", "trace 1");  // P 1 of trace 1
    t_pause_in_locker = true;
    Log("t", "trace 2");
  });
  paused.WaitForNotification();
  ASSERT_TRUE(Stop().ok());
  ASSERT_TRUE(Start(FileOptions(path2)).ok());
  Log("main", "trace 2");  // P 1 of trace 2
  EndGeneration();         // t writes in the second generation
  resume.Notify();
  t.join();
  internal::SetTraceLockerHookForTesting(nullptr);
  ASSERT_TRUE(Stop().ok());
  EXPECT_EQ(GetStats().threads_seen, 2u);  // main, and t again

  EXPECT_GT(ExpectOurReaderAccepts(path1), 0);
  ExpectOurReaderAccepts(path2);
  GoView v1 = MustView(path1);
  EXPECT_EQ(v1.end_line, "END ok");
  EXPECT_EQ(v1.count("Log"), 1);
  GoView v2 = MustView(path2);
  EXPECT_EQ(v2.end_line, "END ok");
  // t comes into trace 2 as a new goroutine, created with its name, on a
  // P of its own.
  EXPECT_EQ(v2.count_matching(
                {"from=NotExist to=Runnable", "tstack=[\"stale-thread\""}),
            1);
  std::string t_p, main_p;
  for (const std::string& e : v2.events) {
    if (e.rfind("Log ", 0) != 0) continue;
    (e.find("category=\"t\"") != std::string::npos ? t_p : main_p) =
        Field(e, "p");
  }
  EXPECT_EQ(main_p, "1");
  EXPECT_EQ(t_p, "2");
}

// ---- Start, Stop and AdvanceNow where they would wait for themselves.
// Each case runs in a child process (this binary again, with one test
// selected and kChildEnv naming the case), killed after a timeout: a hang
// fails the test instead of hanging the suite.

constexpr char kChildEnv[] = "GENTRACE_TEST_CHILD";
constexpr char kChildTraceEnv[] = "GENTRACE_TEST_CHILD_TRACE";

bool IsChild(const char* mode) {
  const char* v = std::getenv(kChildEnv);
  return v != nullptr && std::string(v) == mode;
}
std::string ChildTracePath() {
  const char* v = std::getenv(kChildTraceEnv);
  return v != nullptr ? v : "";
}

struct ChildResult {
  bool timed_out = false;
  int exit_code = -1;  // -1: it did not exit normally
  std::string output;  // stdout and stderr
};

// Runs TracerTest.`test` in a child process in `mode`, writing its trace
// to `trace`; kills it after `timeout`.
ChildResult RunChild(const std::string& test, const std::string& mode,
                     const std::string& trace, absl::Duration timeout) {
  ChildResult result;
  const std::string out_path = TempPath(absl::StrCat("child-", mode, ".out"));
  const int fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  EXPECT_GE(fd, 0);
  // Everything the child needs is made before fork: after it, the child
  // only redirects its output and execs.
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  env.push_back(absl::StrCat(kChildEnv, "=", mode));
  env.push_back(absl::StrCat(kChildTraceEnv, "=", trace));
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string exe = "/proc/self/exe";
  std::string filter = absl::StrCat("--gtest_filter=TracerTest.", test);
  char* argv[] = {exe.data(), filter.data(), nullptr};
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fd, 1);
    dup2(fd, 2);
    execve(exe.c_str(), argv, envp.data());
    _exit(127);
  }
  close(fd);
  EXPECT_GT(pid, 0);
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  for (;;) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (absl::Now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      result.timed_out = true;
      break;
    }
    usleep(10000);
  }
  if (!result.timed_out && WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  }
  result.output = ReadFile(out_path);
  return result;
}

constexpr absl::Duration kChildTimeout = absl::Seconds(60);

// What a refused call must say: why, and what to do instead.
void ExpectRefused(const absl::Status& s, absl::string_view why,
                   absl::string_view instead) {
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(std::string(why)));
  EXPECT_THAT(std::string(s.message()), HasSubstr(std::string(instead)));
}

// Stop, Start and AdvanceNow from Options::callback: on gentrace's writer
// thread (which the advance Stop needs waits for), and inside Start as it
// writes the header (holding the lock Stop takes). Refused with an error
// that says what to do instead; tracing goes on, and Stop from the
// program's thread completes the trace.
TEST(TracerTest, ControlCallsFromTheSinkCallbackAreRefused) {
  if (IsChild("callback")) {
    static std::string* bytes = new std::string;
    static absl::Status in_start[3], on_writer[3];
    static std::atomic<int> writer_calls{0};
    static std::thread::id main_id = std::this_thread::get_id();
    Options o;
    o.generation_period = kNoTimedGenerations;
    o.callback = [](absl::Span<const uint8_t> chunk) {
      const bool header = bytes->empty();
      bytes->append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
      absl::Status* out = nullptr;
      if (header && std::this_thread::get_id() == main_id) {
        out = in_start;
      } else if (std::this_thread::get_id() != main_id &&
                 writer_calls.fetch_add(1) == 0) {
        out = on_writer;
      }
      if (out != nullptr) {
        out[0] = Stop();
        out[1] = Start(FileOptions(TempPath("never.trace")));
        out[2] = internal::AdvanceGenerationForTesting();
      }
      return absl::OkStatus();
    };
    ASSERT_TRUE(Start(o).ok());
    Log("before", "callback");
    EndGeneration();
    EXPECT_TRUE(IsTracing());
    Log("after", "callback");
    ASSERT_TRUE(Stop().ok());
    for (int i = 0; i < 3; ++i) {
      ExpectRefused(in_start[i], "inside Start", "after that call returns");
      ExpectRefused(on_writer[i], "writer thread",
                    "return a non-OK status from the callback");
    }
    FILE* f = fopen(ChildTracePath().c_str(), "wb");
    ASSERT_NE(f, nullptr);
    fwrite(bytes->data(), 1, bytes->size(), f);
    fclose(f);
    return;
  }
  const std::string trace = TempPath("callback-child.trace");
  const ChildResult r = RunChild("ControlCallsFromTheSinkCallbackAreRefused",
                                 "callback", trace, kChildTimeout);
  ASSERT_FALSE(r.timed_out) << "hung:\n" << r.output;
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("[  PASSED  ] 1 test"));
  EXPECT_GT(ExpectOurReaderAccepts(trace), 0);
  GoView v = MustView(trace);
  EXPECT_EQ(v.end_line, "END ok");
  EXPECT_EQ(v.count("Log"), 2);
  EXPECT_EQ(v.count("Sync"), 2);
}

absl::Status g_signal_results[3];
const Options* g_signal_start_options = nullptr;
void ControlCallsInHandler(int) {
  // Nothing here allocates (ThreadSanitizer checks), refusals included.
  g_signal_results[0] = Stop();
  g_signal_results[1] = Start(*g_signal_start_options);
  g_signal_results[2] = internal::AdvanceGenerationForTesting();
}

// A signal handler that interrupted its thread inside the tracer (the
// thread's seqlock is odd: the advance that Stop needs waits for it
// forever) calls Stop, Start and AdvanceNow: refused.
TEST(TracerTest, ControlCallsFromASignalHandlerInsideTheTracerAreRefused) {
  if (IsChild("signal")) {
    ASSERT_TRUE(Start(FileOptions(ChildTracePath())).ok());
    Log("before", "signal");
    const Options never = FileOptions(TempPath("never.trace"));
    g_signal_start_options = &never;
    struct sigaction sa = {};
    sa.sa_handler = ControlCallsInHandler;
    sigemptyset(&sa.sa_mask);
    ASSERT_EQ(sigaction(SIGUSR1, &sa, nullptr), 0);
    {
      // Inside the tracer, as any gentrace call is while it writes.
      internal::TraceLocker tl(
          internal::Runtime::Get().threads().CurrentThread());
      ASSERT_TRUE(tl.ok());
      raise(SIGUSR1);
    }
    for (const absl::Status& s : g_signal_results) {
      ExpectRefused(s, "signal handler that interrupted",
                    "outside the handler");
    }
    EXPECT_TRUE(IsTracing());
    Log("after", "signal");
    ASSERT_TRUE(Stop().ok());
    return;
  }
  const std::string trace = TempPath("signal-child.trace");
  const ChildResult r =
      RunChild("ControlCallsFromASignalHandlerInsideTheTracerAreRefused",
               "signal", trace, kChildTimeout);
  ASSERT_FALSE(r.timed_out) << "hung:\n" << r.output;
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("[  PASSED  ] 1 test"));
  EXPECT_GT(ExpectOurReaderAccepts(trace), 0);
  GoView v = MustView(trace);
  EXPECT_EQ(v.end_line, "END ok");
  EXPECT_EQ(v.count("Log"), 2);
}

void ControlCallsAtExit() {
  // Runs after gentrace's own exit handler has stopped tracing.
  const absl::Status start = Start(FileOptions(TempPath("at-exit.trace")));
  const absl::Status stop = Stop();
  const absl::Status advance = internal::AdvanceGenerationForTesting();
  std::printf("at exit: start: %s\nat exit: stop: %s\nat exit: advance: %s\n",
              start.ToString().c_str(), stop.ToString().c_str(),
              advance.ToString().c_str());
  if (start.ok()) (void)Stop();
  std::fflush(stdout);
}

// Start and Stop from an atexit handler registered before gentrace's own
// (so it runs after gentrace's exit handler stopped tracing, while the
// process exits): Start is refused (no threads start during exit), Stop
// returns at once. The trace the exit handler finished is complete.
TEST(TracerTest, ControlCallsFromAnEarlierAtexitHandler) {
  if (IsChild("atexit")) {
    std::atexit(ControlCallsAtExit);  // before gentrace's (a fresh process)
    ASSERT_TRUE(Start(FileOptions(ChildTracePath())).ok());
    Log("before", "exit");
    return;  // exit() with tracing on
  }
  const std::string trace = TempPath("atexit-child.trace");
  const ChildResult r = RunChild("ControlCallsFromAnEarlierAtexitHandler",
                                 "atexit", trace, kChildTimeout);
  ASSERT_FALSE(r.timed_out) << "hung:\n" << r.output;
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr("at exit: start: FAILED_PRECONDITION: Start called "
                        "while the process is exiting"));
  EXPECT_THAT(
      r.output,
      HasSubstr("at exit: stop: FAILED_PRECONDITION: tracing is not on"));
  EXPECT_THAT(r.output, HasSubstr("at exit: advance: FAILED_PRECONDITION: "
                                  "tracing is not on"));
  EXPECT_GT(ExpectOurReaderAccepts(trace), 0);
  GoView v = MustView(trace);
  EXPECT_EQ(v.end_line, "END ok");
  EXPECT_EQ(v.count("Log"), 1);
}

TEST(TracerTest, ZstdOneFramePerGeneration) {
  const std::string path = TempPath("z.trace.zst");
  Options o = FileOptions(path);
  o.compression = Compression::kZstd;
  ASSERT_TRUE(Start(o).ok());
  for (int i = 0; i < 30; ++i) {
    Log("z", absl::StrCat("message ", i));
    if (i % 6 == 0) EndGeneration();
  }
  ASSERT_TRUE(Stop().ok());
  const std::string compressed = ReadFile(path);
  ASSERT_TRUE(format::LooksLikeZstd(absl::MakeConstSpan(
      reinterpret_cast<const uint8_t*>(compressed.data()), compressed.size())));
  // Walk the frames: each one decompresses on its own and the first holds
  // the header; the frame count equals the generation count.
  std::string plain;
  size_t pos = 0, frames = 0;
  std::vector<size_t> frame_ends;
  while (pos < compressed.size()) {
    const size_t len = ZSTD_findFrameCompressedSize(compressed.data() + pos,
                                                    compressed.size() - pos);
    ASSERT_FALSE(ZSTD_isError(len));
    const unsigned long long size =
        ZSTD_getFrameContentSize(compressed.data() + pos, len);
    std::string out(size == ZSTD_CONTENTSIZE_UNKNOWN ? (1 << 22) : size, '\0');
    const size_t n =
        ZSTD_decompress(out.data(), out.size(), compressed.data() + pos, len);
    ASSERT_FALSE(ZSTD_isError(n)) << ZSTD_getErrorName(n);
    plain.append(out.data(), n);
    pos += len;
    ++frames;
    frame_ends.push_back(plain.size());
  }
  const std::vector<uint64_t> gens = Generations(plain);
  EXPECT_EQ(frames, gens.size());
  ASSERT_EQ(gens.size(), 5u + 1);

  const std::string plain_path = TempPath("z.trace");
  {
    FILE* f = fopen(plain_path.c_str(), "wb");
    fwrite(plain.data(), 1, plain.size(), f);
    fclose(f);
  }
  GoView v = MustView(plain_path);
  EXPECT_EQ(v.count("Log"), 30);
  // A file cut after any whole frame is a valid trace of whole generations.
  const std::string cut_path = TempPath("z-cut.trace");
  {
    FILE* f = fopen(cut_path.c_str(), "wb");
    fwrite(plain.data(), 1, frame_ends[2], f);
    fclose(f);
  }
  GoView cut = MustView(cut_path);
  EXPECT_EQ(cut.count("Sync"), 3);
}

TEST(TracerTest, AdvanceNowEndsTheCurrentGeneration) {
  EXPECT_THAT(std::string(internal::AdvanceGenerationForTesting().message()),
              HasSubstr("tracing is not on"));
  const std::string path = TempPath("advance.trace");
  ASSERT_TRUE(Start(FileOptions(path)).ok());
  Log("gen", "1");
  EndGeneration();
  // Complete on the destination when AdvanceNow returns.
  EXPECT_EQ(GetStats().generations, 1u);
  EXPECT_EQ(Generations(ReadFile(path)).size(), 1u);
  Log("gen", "2");
  EndGeneration();
  EXPECT_EQ(GetStats().generations, 2u);
  // From several threads at once: every call returns after a boundary
  // that followed it; calls that meet may share one.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([] {
      for (int i = 0; i < 10; ++i) {
        const uint64_t before = GetStats().generations;
        Log("gen", "many");
        EndGeneration();
        EXPECT_GT(GetStats().generations, before);
      }
    });
  }
  for (auto& t : threads) t.join();
  const uint64_t forced = GetStats().generations;
  EXPECT_GE(forced, 2u + 10);
  EXPECT_LE(forced, 2u + 40);
  ASSERT_TRUE(Stop().ok());
  EXPECT_EQ(GetStats().generations, forced + 1);
  EXPECT_THAT(std::string(internal::AdvanceGenerationForTesting().message()),
              HasSubstr("tracing is not on"));

  GoView v = MustView(path);
  EXPECT_EQ(v.count("Sync"), static_cast<int>(forced + 1));
  EXPECT_EQ(v.count("Log"), 2 + 40);
}

TEST(TracerTest, FailingSinkStopsTracingAndStopReportsIt) {
  std::atomic<size_t> seen{0};
  Options o;
  o.generation_period = kNoTimedGenerations;
  o.callback = [&](absl::Span<const uint8_t> bytes) {
    if (seen.fetch_add(bytes.size()) > 2000) {
      return absl::ResourceExhaustedError("disk full (simulated)");
    }
    return absl::OkStatus();
  };
  ASSERT_TRUE(Start(o).ok());
  for (int i = 0; i < 40; ++i) Log("fill", std::string(100, 'y'));
  // Writing the generation fails; tracing stops by itself, and the advance
  // that wrote it says why.
  absl::Status advance = internal::AdvanceGenerationForTesting();
  EXPECT_EQ(advance.code(), absl::StatusCode::kResourceExhausted) << advance;
  EXPECT_THAT(std::string(advance.message()),
              HasSubstr("disk full (simulated)"));
  EXPECT_FALSE(IsTracing());
  Log("after", "failure");  // harmless
  absl::Status s = Stop();
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(s.message()), HasSubstr("disk full (simulated)"));
  // And tracing can start again.
  ASSERT_TRUE(Start(FileOptions(TempPath("again.trace"))).ok());
  EXPECT_TRUE(Stop().ok());
}

TEST(TracerTest, ClosedPipeIsAnErrorNotASignal) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  close(fds[0]);  // nobody will read
  Options o;
  o.fd = fds[1];
  // The header write fails at once; the process survives (no SIGPIPE).
  absl::Status s = Start(o);
  EXPECT_THAT(std::string(s.message()), HasSubstr("Broken pipe"));
  EXPECT_FALSE(IsTracing());
  close(fds[1]);

  // A reader that goes away while tracing: Stop reports it.
  ASSERT_EQ(pipe(fds), 0);
  o.fd = fds[1];
  o.generation_period = kNoTimedGenerations;
  ASSERT_TRUE(Start(o).ok());
  char header[16];
  ASSERT_EQ(read(fds[0], header, sizeof(header)), 16);
  close(fds[0]);
  Log("x", "y");
  s = internal::AdvanceGenerationForTesting();
  EXPECT_THAT(std::string(s.message()), HasSubstr("Broken pipe"));
  EXPECT_FALSE(IsTracing());
  s = Stop();
  EXPECT_THAT(std::string(s.message()), HasSubstr("Broken pipe"));
  close(fds[1]);
}

TEST(TracerTest, ForkLeavesParentTraceIntactAndChildOff) {
  const std::string path = TempPath("fork.trace");
  ASSERT_TRUE(Start(FileOptions(path)).ok());
  Log("before", "fork");
  pid_t pid = fork();
  if (pid == 0) {
    // Child: tracing is off, calls are harmless, Stop says so.
    const bool tracing = IsTracing();
    Log("child", "ignored");
    GENTRACE_REGION("child");
    const bool stop_failed = !Stop().ok();
    _exit(!tracing && stop_failed ? 0 : 1);
  }
  ASSERT_GT(pid, 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EndGeneration();
  Log("after", "fork");
  ASSERT_TRUE(Stop().ok());

  GoView v = MustView(path);
  EXPECT_EQ(v.count("Log"), 2);
  EXPECT_EQ(v.count_matching({"category=\"child\""}), 0);
}

TEST(TracerTest, ThreadNamesAreRecordedEveryGeneration) {
  const std::string path = TempPath("names.trace");
  ASSERT_TRUE(Start(FileOptions(path)).ok());
  std::thread t([] {
    Log("x", "y");
    EndGeneration();  // named after the thread
    pthread_setname_np(pthread_self(), "renamed-by-os");
    for (int i = 0; i < 3; ++i) EndGeneration();
  });
  t.join();
  ASSERT_TRUE(Stop().ok());
  // gentrace's info batches carry thread records; the OS rename shows up.
  const std::string bytes = ReadFile(path);
  EXPECT_NE(bytes.find("renamed-by-os"), std::string::npos);
  format::BatchReader r(absl::MakeConstSpan(
      reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  ASSERT_TRUE(r.ReadHeader().ok());
  format::Batch b;
  int info_batches = 0;
  while (*r.Next(&b)) {
    if (b.experimental && b.experiment == format::kExperimentGentraceInfo) {
      ++info_batches;
    }
  }
  EXPECT_EQ(info_batches, 4 + 1);

  // gentrace's reader decodes them: per generation, its time span and the
  // threads with their names.
  absl::StatusOr<std::unique_ptr<reader::Reader>> rd =
      reader::Reader::Open(path);
  ASSERT_TRUE(rd.ok()) << rd.status();
  reader::Event ev;
  int generations = 0, renamed = 0;
  while ((*rd)->ReadEvent(&ev)) {
    if (ev.kind() != reader::EventKind::kSync) continue;
    ++generations;
    reader::GentraceInfo info;
    ASSERT_TRUE(reader::DecodeGentraceInfo(*(*rd)->generation(), &info).ok());
    ASSERT_EQ(info.spans.size(), 1u);
    EXPECT_LT(info.spans[0].start, info.spans[0].end);
    for (const reader::ThreadInfo& t : info.threads) {
      renamed += t.name == "renamed-by-os";
    }
  }
  EXPECT_TRUE((*rd)->status().ok()) << (*rd)->status();
  EXPECT_EQ(generations, 4 + 1);
  // Read at the end of each of the three generations after the rename
  // (the thread still lives); the last one has only the recorded name.
  EXPECT_EQ(renamed, 4);
}

}  // namespace
}  // namespace gentrace
