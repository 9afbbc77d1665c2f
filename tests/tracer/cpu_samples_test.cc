// CPU-profile samples in the trace, end to end: sample counts against the
// CPU time each thread used, attribution to threads and fibers, the hot
// function on top, exactness per generation (every sample in the
// generation it was taken in, none lost silently), SIGPROF arriving inside
// the tracer, and the errors for sources the kernel refuses.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "format/batch.h"
#include "format/gentrace_batch.h"
#include "format/leb128.h"
#include "format/spec.h"
#include "tests/interop/go_tool.h"
#include "tests/tracer/trace_check.h"
#include "tracer/gentrace.h"

namespace gentrace {
namespace {

using ::gentrace::testing::GoView;
using ::gentrace::testing::ReadFile;
using ::gentrace::testing::TempPath;
using ::gentrace::testing::ViewWithGo;
using ::testing::HasSubstr;

#if defined(GENTRACE_TSAN)
constexpr int kScale = 10;  // ThreadSanitizer: ~10x slower
#else
constexpr int kScale = 1;
#endif

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// The hot function: all the thread's CPU time is spent here.
__attribute__((noinline)) double HotLoop(double seconds) {
  const double end = ThreadCpuSeconds() + seconds;
  volatile double x = 1;
  while (ThreadCpuSeconds() < end) {
    for (int i = 0; i < 20000; ++i) x = std::sqrt(x + i);
  }
  return x;
}

// Sleeps for `seconds` of wall time even if SIGPROF interrupts the sleep
// (profiling signals cut nanosleep short with EINTR).
void SleepFor(double seconds) {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const double end = ts.tv_sec + ts.tv_nsec / 1e9 + seconds;
  for (;;) {
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const double now = ts.tv_sec + ts.tv_nsec / 1e9;
    if (now >= end) return;
    usleep(static_cast<useconds_t>((end - now) * 1e6) + 1);
  }
}

// Tracing to `path` with perf-counter CPU samples at `hz`.
Options PerfOptions(const std::string& path, absl::Duration period, int hz) {
  Options o;
  o.path = path;
  o.generation_period = period;
  o.cpu.enabled = true;
  o.cpu.source = CpuProfileOptions::Source::kPerfEvent;
  o.cpu.hz = hz;
  return o;
}

// Fields of a Go dump line ("StackSample t=.. m=.. p=.. g=.. stack=[..]").
std::string Field(const std::string& line, const std::string& key) {
  const size_t p = line.find(" " + key + "=");
  if (p == std::string::npos) return "";
  const size_t start = p + key.size() + 2;
  return line.substr(start, line.find(' ', start) - start);
}

TEST(CpuSamplesTest, CountsAttributionAndHotFunction) {
  const std::string path = TempPath("cpu.trace");
  Options o;
  o.path = path;
  o.generation_period = absl::Milliseconds(200);
  o.cpu.enabled = true;
  o.cpu.hz = 100;
  ASSERT_TRUE(Start(o).ok());
  struct Result {
    pid_t tid = 0;
    uint64_t fiber_goid = 0;
    double cpu = 0;
  };
  constexpr int kThreads = 4;
  std::vector<Result> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&results, t] {
      results[t].tid = static_cast<pid_t>(gettid());
      const double start = ThreadCpuSeconds();
      Log("start", "burning");  // registers the thread (its own timer)
      if (t == kThreads - 1) {
        // The last thread burns inside a fiber: its samples carry the
        // fiber's goroutine.
        Fiber f = Fiber::Create("burner");
        results[t].fiber_goid = f.goroutine_id();
        f.Resume();
        HotLoop(1.0);
        f.Finish();
      } else {
        HotLoop(1.0);
      }
      results[t].cpu = ThreadCpuSeconds() - start;
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(Stop().ok());
  const Stats stats = GetStats();
  EXPECT_GT(stats.cpu_samples, 200u);
  EXPECT_EQ(stats.cpu_samples_lost, 0u);
  EXPECT_THAT(stats.cpu_source, HasSubstr("thread"));

  absl::StatusOr<GoView> v = ViewWithGo(path);
  ASSERT_TRUE(v.ok());
  ASSERT_TRUE(v->valid) << v->validate_output;
  EXPECT_TRUE(v->ours_agree) << v->ours_difference;
  std::map<std::string, int> samples, hot_on_top, with_fiber;
  for (const std::string& e : v->events) {
    if (e.rfind("StackSample ", 0) != 0) continue;
    const std::string m = Field(e, "m");
    ++samples[m];
    const size_t stack = e.find("stack=[");
    // The hot function is the first or second frame (the sampled PC may be
    // in the clock call it makes).
    const size_t hot = e.find("HotLoop");
    size_t frames_before = 0;
    for (size_t p = e.find(" pc=", stack); p != std::string::npos && p < hot;
         p = e.find(" pc=", p + 1)) {
      ++frames_before;
    }
    if (hot != std::string::npos && frames_before <= 1) ++hot_on_top[m];
    for (const Result& r : results) {
      if (r.fiber_goid != 0 && m == absl::StrCat(r.tid) &&
          Field(e, "g") == absl::StrCat(r.fiber_goid)) {
        ++with_fiber[m];
      }
    }
  }
  for (const Result& r : results) {
    const std::string m = absl::StrCat(r.tid);
    const double expected = r.cpu * 100;
    EXPECT_NEAR(samples[m], expected, expected * 0.25)
        << "thread " << m << " used " << r.cpu << " s of CPU";
    EXPECT_GE(hot_on_top[m], samples[m] * 9 / 10) << "thread " << m;
    if (r.fiber_goid != 0) {
      EXPECT_GE(with_fiber[m], samples[m] * 9 / 10) << "fiber samples";
    }
  }
}

// Raw view of a trace: per generation, its CPUSample timestamps and
// gentrace's records (time span, sampler figures).
struct GenerationFacts {
  std::vector<uint64_t> sample_times;
  uint64_t start = 0, end = 0;
  bool has_span = false;
  uint64_t taken = 0, lost = 0;
  bool has_sampler = false;
};

std::map<uint64_t, GenerationFacts> ReadFacts(const std::string& bytes) {
  std::map<uint64_t, GenerationFacts> facts;
  format::BatchReader r(absl::MakeConstSpan(
      reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  EXPECT_TRUE(r.ReadHeader().ok());
  format::Batch b;
  auto varint = [](const uint8_t*& p, const uint8_t* end) {
    uint64_t v = 0;
    size_t used = 0;
    EXPECT_EQ(format::GetUvarint(p, end, &v, &used), format::VarintStatus::kOk);
    p += used;
    return v;
  };
  while (*r.Next(&b)) {
    GenerationFacts& f = facts[b.gen];
    const uint8_t* p = b.payload.data();
    const uint8_t* end = p + b.payload.size();
    if (b.kind() == format::BatchKind::kCPUSamples) {
      ++p;  // kEvCPUSamples
      while (p < end) {
        EXPECT_EQ(*p, format::kEvCPUSample);
        ++p;
        f.sample_times.push_back(varint(p, end));
        for (int i = 0; i < 4; ++i) varint(p, end);  // m, p, g, stack
      }
    } else if (b.experimental &&
               b.experiment == format::kExperimentGentraceInfo) {
      while (p < end) {
        const uint64_t kind = varint(p, end);
        if (kind == format::kRecordGeneration) {
          f.start = varint(p, end);
          f.end = varint(p, end);
          f.has_span = true;
        } else if (kind == format::kRecordSampler) {
          for (int i = 0; i < 3; ++i) varint(p, end);  // source, hz, period
          f.taken = varint(p, end);
          f.lost = varint(p, end);
          p += varint(p, end);  // event name
          f.has_sampler = true;
        } else if (kind == format::kRecordThread) {
          for (int i = 0; i < 3; ++i) varint(p, end);
          p += varint(p, end);
        } else {
          ADD_FAILURE() << "unknown record " << kind;
          break;
        }
      }
    }
  }
  return facts;
}

TEST(CpuSamplesTest, EverySampleInItsGenerationAndNoneLostSilently) {
  // The seed's property: tiny generations, heavy sampling (perf cpu-clock
  // at 1000 Hz, not tick-limited), threads busy inside the tracer.
  const std::string path = TempPath("exact.trace");
  Options o = PerfOptions(path, absl::Milliseconds(5), 1000);
  ASSERT_TRUE(Start(o).ok());
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      while (!stop.load()) {
        // Bursts of events between stretches of plain computation, so
        // signals land both inside and outside the tracer.
        for (int i = 0; i < 20; ++i) {
          GENTRACE_REGION("busy");
          Log("tick", "x");
        }
        HotLoop(0.0002);
      }
    });
  }
  // A thread the tracer never sees: sampled by the process itimer.
  threads.emplace_back([&] {
    while (!stop.load()) HotLoop(0.01);
  });
  SleepFor(1.5);
  // At least this many generations (the first ones take longer: debug
  // information loads; under ThreadSanitizer every one does).
  for (int i = 0; i < 600 && GetStats().generations < 20u / kScale + 1; ++i) {
    SleepFor(0.1);
  }
  stop.store(true);
  for (auto& t : threads) t.join();
  ASSERT_TRUE(Stop().ok());
  const Stats stats = GetStats();

  const std::map<uint64_t, GenerationFacts> facts = ReadFacts(ReadFile(path));
  ASSERT_GE(facts.size(), 20u / kScale);
  uint64_t in_trace = 0, lost = 0;
  for (const auto& [gen, f] : facts) {
    ASSERT_TRUE(f.has_span) << "generation " << gen;
    ASSERT_TRUE(f.has_sampler) << "generation " << gen;
    // Exactly the samples the handler put into this generation's buffer.
    EXPECT_EQ(f.sample_times.size(), f.taken) << "generation " << gen;
    for (uint64_t t : f.sample_times) {
      EXPECT_GE(t, f.start) << "generation " << gen;
      EXPECT_LE(t, f.end) << "generation " << gen;
    }
    in_trace += f.sample_times.size();
    lost += f.lost;
  }
  EXPECT_EQ(in_trace, stats.cpu_samples);
  EXPECT_EQ(lost, stats.cpu_samples_lost);
  EXPECT_GT(in_trace, 200u / kScale);

  absl::StatusOr<GoView> v = ViewWithGo(path, false, /*dump=*/false);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->valid) << v->validate_output;
  EXPECT_TRUE(v->ours_agree) << v->ours_difference;
  EXPECT_EQ(static_cast<uint64_t>(v->count("StackSample")), in_trace);
}

TEST(CpuSamplesTest, TinyBufferCountsLostSamples) {
  const std::string path = TempPath("lost.trace");
  // One long generation.
  Options o = PerfOptions(path, absl::Seconds(10), 5000);
  o.cpu.buffer_bytes = 64 << 10;
  ASSERT_TRUE(Start(o).ok());
  // Deep stacks fill the 64 KiB buffer between the reader's drains.
  std::function<void(int)> deep = [&](int d) {
    if (d == 0) {
      HotLoop(0.6);
      return;
    }
    deep(d - 1);
    asm volatile("" ::: "memory");
  };
  std::thread t1([&] {
    Log("a", "b");
    deep(100);
  });
  std::thread t2([&] {
    Log("a", "b");
    deep(100);
  });
  t1.join();
  t2.join();
  ASSERT_TRUE(Stop().ok());
  const Stats stats = GetStats();
  const std::map<uint64_t, GenerationFacts> facts = ReadFacts(ReadFile(path));
  uint64_t lost = 0, in_trace = 0;
  for (const auto& [gen, f] : facts) {
    lost += f.lost;
    in_trace += f.sample_times.size();
  }
  EXPECT_EQ(lost, stats.cpu_samples_lost);
  EXPECT_EQ(in_trace, stats.cpu_samples);
  EXPECT_GT(in_trace, 0u);
  EXPECT_GT(lost, 0u) << "the 64 KiB buffer should have overflowed";
}

TEST(CpuSamplesTest, SoftwarePerfEventsWork) {
  for (auto event : {CpuProfileOptions::Event::kCpuClock,
                     CpuProfileOptions::Event::kTaskClock}) {
    const std::string path = TempPath("perf.trace");
    Options o = PerfOptions(path, absl::Seconds(1), 500);
    o.cpu.event = event;
    ASSERT_TRUE(Start(o).ok());
    std::thread t([] {
      Log("a", "b");
      HotLoop(0.3);
    });
    t.join();
    ASSERT_TRUE(Stop().ok());
    EXPECT_GT(GetStats().cpu_samples, 50u);
    EXPECT_THAT(GetStats().cpu_source, HasSubstr("perf"));
  }
}

TEST(CpuSamplesTest, RefusedHardwareEventFailsStartWithTheReason) {
  Options o = PerfOptions(TempPath("hw.trace"), absl::Seconds(1), 100);
  o.cpu.event = CpuProfileOptions::Event::kCycles;
  o.cpu.period = 1000000;
  absl::Status s = Start(o);
  if (s.ok()) {
    // This machine has a PMU: hardware sampling must then work.
    std::thread t([] {
      Log("a", "b");
      HotLoop(0.2);
    });
    t.join();
    ASSERT_TRUE(Stop().ok());
    EXPECT_GT(GetStats().cpu_samples, 0u);
    return;
  }
  EXPECT_THAT(std::string(s.message()), HasSubstr("CPU profiling: "));
  EXPECT_THAT(
      std::string(s.message()),
      ::testing::AnyOf(HasSubstr("no hardware PMU"),
                       HasSubstr("perf_event_paranoid"), HasSubstr("seccomp")));
  EXPECT_FALSE(IsTracing());
  // Tracing of everything else still works without it.
  o.cpu.enabled = false;
  ASSERT_TRUE(Start(o).ok());
  Log("x", "y");
  EXPECT_TRUE(Stop().ok());
}

TEST(CpuSamplesTest, StressSignalsInsideTheTracer) {
  // High sampling, 1 ms generations, threads writing events nonstop,
  // starting and stopping: no deadlock, and Go's parser accepts the trace.
  const std::string path = TempPath("stress.trace");
  Options o = PerfOptions(path, absl::Milliseconds(2), 2000);
  ASSERT_TRUE(Start(o).ok());
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      while (!stop.load()) {
        std::thread inner([t] {
          for (int i = 0; i < 300; ++i) {
            Task task = Task::Begin("op");
            GENTRACE_REGION("r");
            if (i % 7 == t) {
              ScopedSyscall s;
            }
          }
        });
        inner.join();
      }
    });
  }
  SleepFor(0.5);
  stop.store(true);
  for (auto& t : threads) t.join();
  ASSERT_TRUE(Stop().ok());
  EXPECT_GT(GetStats().cpu_samples, 20u);

  absl::StatusOr<GoView> v = ViewWithGo(path, false, /*dump=*/false);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->valid) << v->validate_output;
  EXPECT_TRUE(v->ours_agree) << v->ours_difference;
}

}  // namespace
}  // namespace gentrace
