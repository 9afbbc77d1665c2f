// Tests of the Sampler with real signals: sample counts against the CPU
// time each thread used (thread CPU clock, so a loaded machine does not
// matter), attribution to the right thread and the hot function, the
// itimer for unattached threads without double counting, perf cpu-clock,
// refusal messages, Start/Stop cycles, no callback after Stop, threads
// exiting while sampled, and forwarding of signals that are not ours.
#include "cpusample/sampler.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/debugging/symbolize.h"
#include "absl/status/status.h"
#include "cpusample/nofp_workload.h"
#include "cpusample/sample_ring.h"
#include "gtest/gtest.h"

namespace gentrace::cpusample {
namespace {

pid_t Tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

inline double WallSeconds() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

std::atomic<uint64_t> g_sink{0};
void (*volatile g_opaque)() = [] { g_sink.fetch_add(1); };

// ---- Collecting samples -----------------------------------------------------

struct Collector {
  SampleRing ring{32 << 20};
  std::atomic<bool> stopped{false};
  std::atomic<uint64_t> calls{0};
  std::atomic<uint64_t> after_stop{0};
  std::atomic<uint64_t> wrong_tid{0};
};

// The callback: async-signal-safe (atomics, a syscall, the ring).
void Collect(const Sample& s, void* arg) {
  auto* c = static_cast<Collector*>(arg);
  c->calls.fetch_add(1, std::memory_order_relaxed);
  if (c->stopped.load(std::memory_order_relaxed)) {
    c->after_stop.fetch_add(1, std::memory_order_relaxed);
  }
  if (s.tid != Tid()) c->wrong_tid.fetch_add(1, std::memory_order_relaxed);
  SampleRecord r;
  r.tid = static_cast<uint64_t>(s.tid);
  r.weight = s.weight;
  r.nframes = static_cast<uint32_t>(s.depth);
  r.tag = static_cast<uint32_t>(s.source) | (s.attached ? 0x100u : 0u);
  c->ring.TryWrite(r, s.pcs);
}

struct Rec {
  pid_t tid;
  Source source;
  bool attached;
  uint64_t weight;
  std::vector<uintptr_t> pcs;
};

std::vector<Rec> DrainAll(Collector* c) {
  std::vector<Rec> out;
  c->ring.Drain([&](const SampleRecord& r, const uintptr_t* pcs) {
    out.push_back(Rec{static_cast<pid_t>(r.tid),
                      static_cast<Source>(r.tag & 0xff), (r.tag & 0x100) != 0,
                      r.weight, std::vector<uintptr_t>(pcs, pcs + r.nframes)});
  });
  EXPECT_EQ(c->ring.lost(), 0u);
  return out;
}

std::string Symbol(uintptr_t pc) {
  static std::map<uintptr_t, std::string>* cache =
      new std::map<uintptr_t, std::string>;
  auto it = cache->find(pc);
  if (it != cache->end()) return it->second;
  char buf[1024];
  std::string name =
      absl::Symbolize(reinterpret_cast<void*>(pc), buf, sizeof(buf)) ? buf
                                                                     : "?";
  (*cache)[pc] = name;
  return name;
}

// Whether one of frames [from, to] of r is in a function named `name`.
bool FrameIn(const Rec& r, int from, int to, const std::string& name) {
  for (int i = from; i <= to && i < static_cast<int>(r.pcs.size()); ++i) {
    // Return addresses (all but the first) are looked up at pc - 1.
    if (Symbol(r.pcs[i] - (i > 0 ? 1 : 0)).find(name) != std::string::npos) {
      return true;
    }
  }
  return false;
}

// ---- Workloads --------------------------------------------------------------

// Distinct hot loops (the constants differ, so identical-code folding
// cannot merge them), each called from its own thread body. They run until
// both a wall-clock deadline and a minimum of thread CPU time have passed,
// so that a loaded machine still yields enough samples.
struct Budget {
  double wall_seconds;
  double min_cpu_seconds;
  double max_wall_seconds;
};

#define GENTRACE_DEFINE_HOT_LOOP(N)                                         \
  __attribute__((noinline, noclone)) uint64_t HotLoop##N(Budget b) {        \
    const double start = WallSeconds();                                     \
    uint64_t x = N;                                                         \
    for (;;) {                                                              \
      for (int i = 0; i < 20000; ++i) x = x * 6364136223846793005u + N + i; \
      asm volatile("" : "+r"(x));                                           \
      const double now = WallSeconds();                                     \
      if (now - start >= b.max_wall_seconds) break;                         \
      if (now - start >= b.wall_seconds &&                                  \
          ThreadCpuSeconds() >= b.min_cpu_seconds) {                        \
        break;                                                              \
      }                                                                     \
    }                                                                       \
    return x;                                                               \
  }                                                                         \
  __attribute__((noinline, noclone)) void ThreadBody##N(Budget b) {         \
    g_sink.fetch_add(HotLoop##N(b));                                        \
    g_opaque();                                                             \
  }
GENTRACE_DEFINE_HOT_LOOP(0)
GENTRACE_DEFINE_HOT_LOOP(1)
GENTRACE_DEFINE_HOT_LOOP(2)
GENTRACE_DEFINE_HOT_LOOP(3)
#undef GENTRACE_DEFINE_HOT_LOOP

void (*const kBodies[4])(Budget) = {ThreadBody0, ThreadBody1, ThreadBody2,
                                    ThreadBody3};

// A worker thread: optionally attached, runs body `index`, reports its tid
// and total CPU time.
struct Worker {
  int index = 0;
  bool attach = true;
  pid_t tid = 0;
  double cpu_seconds = 0;
  std::thread thread;
};

// Starts workers that wait for `go`, then run their body under `budget`.
void RunWorkers(std::vector<Worker>* workers, Budget budget,
                std::atomic<bool>* go, std::atomic<int>* ready) {
  for (Worker& w : *workers) {
    w.thread = std::thread([&w, budget, go, ready] {
      if (w.attach) {
        absl::Status st = Sampler::AttachCurrentThread();
        EXPECT_TRUE(st.ok()) << st;
      }
      w.tid = Tid();
      ready->fetch_add(1);
      while (!go->load()) usleep(1000);
      kBodies[w.index](budget);
      w.cpu_seconds = ThreadCpuSeconds();
      if (w.attach) Sampler::DetachCurrentThread();
    });
  }
}

void WaitReady(std::atomic<int>* ready, int n) {
  while (ready->load() < n) usleep(1000);
}

void JoinWorkers(std::vector<Worker>* workers) {
  for (Worker& w : *workers) w.thread.join();
}

// When the workers attach, relative to Start.
enum class AttachOrder {
  kBeforeStart,  // Start must arm the attached threads' sources
  kAfterStart,   // attaching arms them
};

// Samples `workers` with `o`: they attach and wait (AttachOrder says
// whether before or after Start), `while_ready` runs once the sampler runs
// and all are ready, then they run their bodies under `budget`, and the
// sampler stops. Returns every sample taken.
std::vector<Rec> SampleWorkers(
    const SamplerOptions& o, AttachOrder order, Budget budget,
    std::vector<Worker>* workers,
    const std::function<void()>& while_ready = [] {}) {
  Collector c;
  std::atomic<bool> go{false};
  std::atomic<int> ready{0};
  absl::Status st;
  if (order == AttachOrder::kAfterStart) st = Sampler::Start(o, Collect, &c);
  RunWorkers(workers, budget, &go, &ready);
  WaitReady(&ready, static_cast<int>(workers->size()));
  if (order == AttachOrder::kBeforeStart) st = Sampler::Start(o, Collect, &c);
  EXPECT_TRUE(st.ok()) << st;
  if (st.ok()) while_ready();
  go = true;
  JoinWorkers(workers);
  Sampler::Stop();
  EXPECT_EQ(c.wrong_tid.load(), 0u);
  return DrainAll(&c);
}

// The samples of one thread.
std::vector<Rec> Of(const std::vector<Rec>& all, pid_t tid) {
  std::vector<Rec> out;
  for (const Rec& r : all) {
    if (r.tid == tid) out.push_back(r);
  }
  return out;
}

uint64_t SumWeight(const std::vector<Rec>& recs) {
  uint64_t w = 0;
  for (const Rec& r : recs) w += r.weight;
  return w;
}

// Fraction of recs for which pred holds.
template <class Pred>
double Fraction(const std::vector<Rec>& recs, Pred pred) {
  if (recs.empty()) return 0;
  size_t n = 0;
  for (const Rec& r : recs) n += pred(r) ? 1 : 0;
  return static_cast<double>(n) / static_cast<double>(recs.size());
}

// Checks that a thread's samples say what it did: about cpu * hz sampling
// periods (within `tolerance`), and the hot loop (and its caller) on top.
void ExpectAttributed(const std::vector<Rec>& recs, const Worker& w, int hz,
                      double tolerance, Source source) {
  SCOPED_TRACE("worker " + std::to_string(w.index) + ", cpu " +
               std::to_string(w.cpu_seconds) + " s");
  const double expected = w.cpu_seconds * hz;
  ASSERT_GE(expected, 20) << "the thread got too little CPU time";
  const double got = static_cast<double>(SumWeight(recs));
  EXPECT_NEAR(got, expected, tolerance * expected) << recs.size() << " samples";
  for (const Rec& r : recs) {
    ASSERT_EQ(r.source, source);
    ASSERT_EQ(r.attached, w.attach);
    ASSERT_GE(r.pcs.size(), 1u);
  }
  const std::string hot = "HotLoop" + std::to_string(w.index);
  const std::string body = "ThreadBody" + std::to_string(w.index);
  EXPECT_GE(Fraction(recs, [&](const Rec& r) { return FrameIn(r, 0, 1, hot); }),
            0.9);
  // The walk goes on through the caller.
  EXPECT_GE(
      Fraction(recs, [&](const Rec& r) { return FrameIn(r, 1, 3, body); }),
      0.9);
}

class SamplerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(Sampler::running()); }
  void TearDown() override { Sampler::Stop(); }
};

// ---- Rates and attribution --------------------------------------------------

TEST_F(SamplerTest, ThreadTimersAt100HzMatchCpuTime) {
  std::vector<Worker> workers(4);
  for (int i = 0; i < 4; ++i) workers[i].index = i;
  SamplerOptions o;
  o.source = Source::kThreadTimer;
  o.hz = 100;
  o.sample_unattached_threads = false;
  // The threads attach before Start: Start must arm their timers.
  const std::vector<Rec> all = SampleWorkers(
      o, AttachOrder::kBeforeStart, {2.0, 0.4, 20.0}, &workers, [] {
        EXPECT_EQ(Sampler::attached_thread_count(), 4);
        EXPECT_EQ(Sampler::active_source(), Source::kThreadTimer);
        EXPECT_FALSE(Sampler::process_timer_active());
        EXPECT_EQ(Sampler::effective_hz(), 100);
        EXPECT_EQ(Sampler::effective_period(), 10000000u);
      });
  size_t attributed = 0;
  for (const Worker& w : workers) {
    const std::vector<Rec> mine = Of(all, w.tid);
    attributed += mine.size();
    ExpectAttributed(mine, w, 100, 0.25, Source::kThreadTimer);
  }
  EXPECT_EQ(attributed, all.size());  // no samples of anyone else
  const SamplerStats s = Sampler::stats();
  EXPECT_EQ(s.samples[static_cast<int>(Source::kThreadTimer)], all.size());
  EXPECT_EQ(s.double_counted, 0u);
  EXPECT_EQ(s.arm_failures, 0u);
}

// Samples one attached worker (body `index`, 1 s, at least 0.3 s of CPU)
// with `source` at 1000 Hz and checks that its samples add up; returns
// them, and the worker's CPU time in *cpu_seconds.
std::vector<Rec> ExpectOneWorkerAt1000Hz(Source source, int index,
                                         double* cpu_seconds) {
  std::vector<Worker> workers(1);
  workers[0].index = index;
  SamplerOptions o;
  o.source = source;
  o.hz = 1000;
  // No itimer: it would sample the thread in the moment between its
  // attaching and its own source being armed.
  o.sample_unattached_threads = false;
  const std::vector<Rec> all =
      SampleWorkers(o, AttachOrder::kAfterStart, {1.0, 0.3, 20.0}, &workers);
  std::vector<Rec> mine = Of(all, workers[0].tid);
  ExpectAttributed(mine, workers[0], 1000, 0.25, source);
  *cpu_seconds = workers[0].cpu_seconds;
  return mine;
}

TEST_F(SamplerTest, ThreadTimerAbove250HzWeighsOverruns) {
  // Thread CPU timers fire on scheduler ticks; above the tick rate each
  // signal carries the periods it overran, so the weights still add up.
  double cpu_seconds = 0;
  const std::vector<Rec> mine =
      ExpectOneWorkerAt1000Hz(Source::kThreadTimer, 0, &cpu_seconds);
  printf("1000 Hz thread timer: %zu signals for %.0f periods in %.2f s CPU\n",
         mine.size(), static_cast<double>(SumWeight(mine)), cpu_seconds);
}

TEST_F(SamplerTest, ItimerSamplesUnattachedThreadsWithoutDoubleCounting) {
  std::vector<Worker> workers(2);
  workers[0].index = 0;
  workers[0].attach = true;  // has its own thread timer
  workers[1].index = 1;
  workers[1].attach = false;  // only the itimer sees it
  SamplerOptions o;           // kAuto: thread timers + ITIMER_PROF for the rest
  o.hz = 100;
  // Attached before Start, so that Start arms its timer before the
  // itimer (a thread attaching while the itimer runs may get one itimer
  // sample before its own timer is armed).
  const std::vector<Rec> all = SampleWorkers(
      o, AttachOrder::kBeforeStart, {2.0, 0.5, 20.0}, &workers, [] {
        EXPECT_EQ(Sampler::active_source(), Source::kThreadTimer);
        EXPECT_TRUE(Sampler::process_timer_active());
      });
  const std::vector<Rec> attached = Of(all, workers[0].tid);
  const std::vector<Rec> unattached = Of(all, workers[1].tid);
  // The attached thread: its own timer only, never the itimer.
  ExpectAttributed(attached, workers[0], 100, 0.25, Source::kThreadTimer);
  // The unattached thread: the itimer only. Which thread an ITIMER_PROF
  // signal lands on is decided tick by tick (the thread running when the
  // process timer expires), so its share is binomial: wider tolerance.
  ExpectAttributed(unattached, workers[1], 100, 0.35, Source::kProcessTimer);
  // The itimer signals that landed on the attached thread were dropped.
  const SamplerStats s = Sampler::stats();
  EXPECT_GT(s.double_counted, 0u);
#if !defined(GENTRACE_TSAN)
  // Every ITIMER_PROF signal either became a sample of some unattached
  // thread or was dropped on the attached one, so together they cover the
  // process's CPU time. How they split between the two workers is up to
  // which CPU's tick sees the expiry first (a CI run dropped 137 on an
  // attached thread worth 91 periods), so only the sum is held closely.
  // (Under TSan a pending SIGPROF swallows the next one on the same
  // thread, so the sum is not kept there.)
  uint64_t itimer_samples = 0;
  for (const Rec& r : all) {
    if (r.source == Source::kProcessTimer) itimer_samples += r.weight;
  }
  const double process_periods =
      (workers[0].cpu_seconds + workers[1].cpu_seconds) * 100;
  EXPECT_NEAR(static_cast<double>(itimer_samples + s.double_counted),
              process_periods, 0.25 * process_periods)
      << itimer_samples << " itimer samples, " << s.double_counted
      << " dropped";
#endif
}

TEST_F(SamplerTest, PerfCpuClockAt100Hz) {
  std::vector<Worker> workers(2);
  workers[1].index = 1;
  SamplerOptions o;
  o.source = Source::kPerfEvent;
  o.event = PerfEvent::kCpuClock;
  o.hz = 100;
  o.sample_unattached_threads = false;
  // The threads attach after Start: Attach arms their counters.
  const std::vector<Rec> all = SampleWorkers(
      o, AttachOrder::kAfterStart, {2.0, 0.4, 20.0}, &workers, [] {
        EXPECT_EQ(Sampler::active_source(), Source::kPerfEvent);
        EXPECT_EQ(Sampler::active_event(), PerfEvent::kCpuClock);
        EXPECT_EQ(Sampler::effective_period(), 10000000u);
      });
  for (const Worker& w : workers) {
    ExpectAttributed(Of(all, w.tid), w, 100, 0.25, Source::kPerfEvent);
  }
}

TEST_F(SamplerTest, PerfCpuClockAt1000HzIsNotTickBound) {
  // One signal per overflow: the count itself is cpu * 1000, each weight 1.
  double cpu_seconds = 0;
  const std::vector<Rec> mine =
      ExpectOneWorkerAt1000Hz(Source::kPerfEvent, 2, &cpu_seconds);
  EXPECT_EQ(SumWeight(mine), mine.size());
}

// ---- What the walk recovers -------------------------------------------------

// A leaf that needs no stack: GCC gives it no frame even with
// -mno-omit-leaf-frame-pointer. Its caller calls it in a loop.
__attribute__((noinline, noclone)) uint64_t FramelessLeaf(uint64_t x) {
  for (int i = 0; i < 2000; ++i) x = x * 6364136223846793005u + i;
  return x;
}
__attribute__((noinline, noclone)) uint64_t LeafCaller(double cpu_seconds) {
  uint64_t x = 1;
  const double until = ThreadCpuSeconds() + cpu_seconds;
  while (ThreadCpuSeconds() < until) {
    for (int i = 0; i < 200; ++i) x = FramelessLeaf(x);
  }
  g_opaque();
  return x;
}

// ThreadSanitizer defers an asynchronous signal to its next interceptor
// and then runs the handler with the saved ucontext, whose stack below the
// frame pointer has been reused by then: what [rsp] held is gone.
#if defined(GENTRACE_TSAN)
#define GENTRACE_SKIP_IF_SIGNALS_DEFERRED() \
  GTEST_SKIP() << "TSan delivers signals late; [rsp] is stale by then"
#else
#define GENTRACE_SKIP_IF_SIGNALS_DEFERRED() (void)0
#endif

// Samples `body` on an attached thread with perf cpu-clock at 1000 Hz.
template <class F>
std::vector<Rec> SampleThread(bool heuristic, F body) {
  Collector c;
  SamplerOptions o;
  o.source = Source::kPerfEvent;
  o.hz = 1000;
  o.sample_unattached_threads = false;
  o.caller_heuristic = heuristic;
  EXPECT_TRUE(Sampler::Start(o, Collect, &c).ok());
  pid_t tid = 0;
  std::thread t([&] {
    EXPECT_TRUE(Sampler::AttachCurrentThread().ok());
    tid = Tid();
    body();
    Sampler::DetachCurrentThread();
  });
  t.join();
  Sampler::Stop();
  return Of(DrainAll(&c), tid);
}

// The samples taken while in function `name` (frame 0).
std::vector<Rec> InFunction(const std::vector<Rec>& recs,
                            const std::string& name) {
  std::vector<Rec> out;
  for (const Rec& r : recs) {
    if (FrameIn(r, 0, 0, name)) out.push_back(r);
  }
  return out;
}

TEST_F(SamplerTest, CallerHeuristicRecoversTheCallerOfAFramelessLeaf) {
  GENTRACE_SKIP_IF_SIGNALS_DEFERRED();
  if (*reinterpret_cast<const uint8_t*>(&FramelessLeaf) == 0x55) {
    GTEST_SKIP() << "the compiler gave FramelessLeaf a frame";
  }
  for (bool heuristic : {true, false}) {
    const std::vector<Rec> recs =
        SampleThread(heuristic, [] { g_sink += LeafCaller(0.5); });
    const std::vector<Rec> in_leaf = InFunction(recs, "FramelessLeaf");
    ASSERT_GE(in_leaf.size(), 100u);
    const double with_caller = Fraction(
        in_leaf, [](const Rec& r) { return FrameIn(r, 1, 1, "LeafCaller"); });
    printf(
        "caller heuristic %s: %zu samples in a frameless leaf, caller "
        "found in %.1f%%\n",
        heuristic ? "on" : "off", in_leaf.size(), 100 * with_caller);
    if (heuristic) {
      EXPECT_GE(with_caller, 0.95);
    } else {
      EXPECT_LE(with_caller, 0.05);  // skipped: the frame is the caller's
    }
  }
}

TEST_F(SamplerTest, CodeWithoutFramePointers) {
  GENTRACE_SKIP_IF_SIGNALS_DEFERRED();
  // Thread body (frame pointers) -> NoFpOuter -> NoFpMiddle -> NoFpHot,
  // the last three without. The first frame is always exact; the walk then
  // stops where rbp holds data instead of a frame, without faulting.
  const std::vector<Rec> recs = SampleThread(true, [] {
    const double until = ThreadCpuSeconds() + 0.5;
    while (ThreadCpuSeconds() < until) g_sink += testing::NoFpOuter(20);
  });
  const std::vector<Rec> in_hot = InFunction(recs, "NoFpHot");
  ASSERT_GE(in_hot.size(), 100u);
  const double middle = Fraction(
      in_hot, [](const Rec& r) { return FrameIn(r, 1, 1, "NoFpMiddle"); });
  const double outer = Fraction(in_hot, [](const Rec& r) {
    return FrameIn(r, 1, kMaxFrames, "NoFpOuter");
  });
  const double body = Fraction(in_hot, [](const Rec& r) {
    return FrameIn(r, 1, kMaxFrames, "SampleThread");
  });
  double mean_depth = 0;
  for (const Rec& r : in_hot) mean_depth += static_cast<double>(r.pcs.size());
  mean_depth /= static_cast<double>(in_hot.size());
  printf(
      "no frame pointers: %zu samples in NoFpHot; caller NoFpMiddle in "
      "%.1f%%, NoFpOuter in %.1f%%, the thread's body in %.1f%%, mean "
      "depth %.1f\n",
      in_hot.size(), 100 * middle, 100 * outer, 100 * body, mean_depth);
  // The frameless leaf's caller is recovered by the heuristic; beyond it
  // the chain is lost (rbp is data in NoFpMiddle).
  EXPECT_GE(middle, 0.9);
  EXPECT_LE(body, 0.1);
}

// ---- Refusals and options ---------------------------------------------------

TEST_F(SamplerTest, RefusalsAndFallbacks) {
  Collector c;
  SamplerOptions o;
  o.source = Source::kPerfEvent;
  o.event = PerfEvent::kCycles;
  struct sigaction before;
  sigaction(SIGPROF, nullptr, &before);
  absl::Status st = Sampler::Start(o, Collect, &c);
  if (internal::ReadSystemFacts().cpu_pmu_present) {
    EXPECT_TRUE(st.ok()) << st;
    Sampler::Stop();
  } else {
    // Explicitly asked for: Start fails and says why.
    EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
    EXPECT_NE(st.message().find("perf_event_open(cycles"), std::string::npos)
        << st;
    EXPECT_NE(st.message().find("no hardware PMU"), std::string::npos) << st;
    EXPECT_FALSE(Sampler::running());
    struct sigaction after;
    sigaction(SIGPROF, nullptr, &after);
    EXPECT_EQ(after.sa_handler, before.sa_handler);  // nothing installed
    // kAuto falls back to thread timers and reports the refusal.
    o.source = Source::kAuto;
    st = Sampler::Start(o, Collect, &c);
    ASSERT_TRUE(st.ok()) << st;
    EXPECT_EQ(Sampler::active_source(), Source::kThreadTimer);
    const std::string report = Sampler::selection_report();
    EXPECT_NE(report.find("no hardware PMU"), std::string::npos) << report;
    EXPECT_NE(report.find("chose thread-timer"), std::string::npos) << report;
    Sampler::Stop();
  }
  // The software clock works here.
  o.source = Source::kPerfEvent;
  o.event = PerfEvent::kCpuClock;
  st = Sampler::Start(o, Collect, &c);
  ASSERT_TRUE(st.ok()) << st;
  // One sampler per process.
  const absl::Status second = Sampler::Start(o, Collect, &c);
  EXPECT_EQ(second.code(), absl::StatusCode::kFailedPrecondition);
  Sampler::Stop();

  o.hz = 0;
  EXPECT_EQ(Sampler::Start(o, Collect, &c).code(),
            absl::StatusCode::kInvalidArgument);
  o.hz = 100;
  o.max_frames = 129;
  EXPECT_EQ(Sampler::Start(o, Collect, &c).code(),
            absl::StatusCode::kInvalidArgument);
  o.max_frames = kMaxFrames;
  EXPECT_EQ(Sampler::Start(o, nullptr, &c).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(Sampler::running());
}

TEST_F(SamplerTest, AttachIsIdempotentAndTracked) {
  const int before = Sampler::attached_thread_count();
  EXPECT_FALSE(Sampler::IsCurrentThreadAttached());
  ASSERT_TRUE(Sampler::AttachCurrentThread().ok());
  ASSERT_TRUE(Sampler::AttachCurrentThread().ok());
  EXPECT_TRUE(Sampler::IsCurrentThreadAttached());
  EXPECT_EQ(Sampler::attached_thread_count(), before + 1);
  Sampler::DetachCurrentThread();
  Sampler::DetachCurrentThread();
  EXPECT_FALSE(Sampler::IsCurrentThreadAttached());
  EXPECT_EQ(Sampler::attached_thread_count(), before);
}

// ---- Manual samples and foreign signals -------------------------------------

std::atomic<int> g_foreign_calls{0};
std::atomic<int> g_foreign_code{0};
// Another profiler's handler. Async-signal-safe.
void ForeignHandler(int, siginfo_t* si, void*) {
  g_foreign_calls.fetch_add(1);
  g_foreign_code.store(si->si_code);
}

__attribute__((noinline, noclone)) void TriggerInner() {
  EXPECT_TRUE(Sampler::TriggerSample());
  g_opaque();
}
__attribute__((noinline, noclone)) void TriggerOuter() {
  TriggerInner();
  g_opaque();
}

TEST_F(SamplerTest, ManualSamplesAndForeignSignalsGoToTheirOwners) {
  struct sigaction foreign, saved;
  memset(&foreign, 0, sizeof(foreign));
  foreign.sa_sigaction = ForeignHandler;
  foreign.sa_flags = SA_SIGINFO;
  ASSERT_EQ(sigaction(SIGPROF, &foreign, &saved), 0);
  g_foreign_calls = 0;

  Collector c;
  SamplerOptions o;
  o.source = Source::kManual;
  ASSERT_TRUE(Sampler::Start(o, Collect, &c).ok());
  EXPECT_EQ(Sampler::active_source(), Source::kManual);
  ASSERT_TRUE(Sampler::AttachCurrentThread().ok());
  TriggerOuter();  // delivered before the syscall returns to us
  // A SIGPROF that is not ours goes to the handler we replaced.
  syscall(SYS_tgkill, getpid(), Tid(), SIGPROF);
  EXPECT_EQ(g_foreign_calls.load(), 1);
  EXPECT_EQ(g_foreign_code.load(), SI_TKILL);
  Sampler::DetachCurrentThread();
  Sampler::Stop();

  const SamplerStats s = Sampler::stats();
  EXPECT_EQ(s.not_ours, 1u);
  EXPECT_EQ(s.samples[static_cast<int>(Source::kManual)], 1u);
  const std::vector<Rec> all = DrainAll(&c);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].tid, Tid());
  EXPECT_TRUE(all[0].attached);
  // pcs[0] is in libc's syscall(); the chain above it is ours.
  EXPECT_TRUE(FrameIn(all[0], 1, 4, "TriggerOuter"));

  // Stop put the foreign handler back.
  struct sigaction now;
  sigaction(SIGPROF, nullptr, &now);
  EXPECT_EQ(reinterpret_cast<void*>(now.sa_sigaction),
            reinterpret_cast<void*>(&ForeignHandler));
  EXPECT_FALSE(Sampler::TriggerSample());  // not running

  // SIG_DFL comes back as SIG_IGN, so a late SIGPROF cannot kill us.
  signal(SIGPROF, SIG_DFL);
  ASSERT_TRUE(Sampler::Start(o, Collect, &c).ok());
  Sampler::Stop();
  sigaction(SIGPROF, nullptr, &now);
  EXPECT_EQ(now.sa_handler, SIG_IGN);
  syscall(SYS_tgkill, getpid(), Tid(), SIGPROF);  // ignored
  sigaction(SIGPROF, &saved, nullptr);
}

// ---- Start/Stop and thread life cycles --------------------------------------

// Spinning threads for the life-cycle tests, attached or not.
class Spinners {
 public:
  Spinners(int attached, int unattached)
      : clocks_(static_cast<size_t>(attached + unattached)) {
    for (int i = 0; i < attached + unattached; ++i) {
      const bool attach = i < attached;
      threads_.emplace_back([this, attach, i] {
        if (attach) {
          EXPECT_TRUE(Sampler::AttachCurrentThread().ok());
        }
        EXPECT_EQ(pthread_getcpuclockid(pthread_self(), &clocks_[i]), 0);
        ready_.fetch_add(1);
        uint64_t x = 1;
        while (!stop_.load(std::memory_order_relaxed)) {
          for (int k = 0; k < 10000; ++k) x = x * 6364136223846793005u + k;
          asm volatile("" : "+r"(x));
          WallSeconds();  // lets TSan deliver deferred signals
        }
        if (attach) Sampler::DetachCurrentThread();
      });
    }
    while (ready_.load() < attached + unattached) usleep(1000);
  }
  ~Spinners() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }

  // The least CPU time any of the spinners has used, in seconds.
  double MinCpuSeconds() const {
    double least = 1e9;
    for (clockid_t c : clocks_) {
      timespec ts;
      clock_gettime(c, &ts);
      least = std::min(least, ts.tv_sec + ts.tv_nsec * 1e-9);
    }
    return least;
  }

  // Waits until every spinner has used `seconds` more CPU time than now
  // (false if that takes over a minute of wall time).
  bool WaitForCpu(double seconds) const {
    const double target = MinCpuSeconds() + seconds;
    const double deadline = WallSeconds() + 60;
    while (MinCpuSeconds() < target) {
      if (WallSeconds() > deadline) return false;
      usleep(1000);
    }
    return true;
  }

 private:
  std::vector<clockid_t> clocks_;
  std::atomic<bool> stop_{false};
  std::atomic<int> ready_{0};
  std::vector<std::thread> threads_;
};

TEST_F(SamplerTest, StartStopFiftyTimes) {
  Collector c;
  const int baseline = Sampler::attached_thread_count();
  Spinners spinners(2, 1);
  const Source sources[] = {Source::kAuto, Source::kThreadTimer,
                            Source::kPerfEvent, Source::kProcessTimer,
                            Source::kManual};
  uint64_t total = 0;
  for (int i = 0; i < 50; ++i) {
    SamplerOptions o;
    o.source = sources[i % 5];
    o.hz = 1000;
    const uint64_t calls_before = c.calls.load();
    absl::Status st = Sampler::Start(o, Collect, &c);
    ASSERT_TRUE(st.ok()) << SourceName(o.source) << ": " << st;
    EXPECT_TRUE(Sampler::running());
    // Every session samples: wait until it has (kManual: trigger one).
    if (o.source == Source::kManual) {
      EXPECT_TRUE(Sampler::TriggerSample());
    }
    const double deadline = WallSeconds() + 60;
    auto taken = [] {
      uint64_t n = 0;
      for (uint64_t k : Sampler::stats().samples) n += k;
      return n;
    };
    while (taken() == 0 && WallSeconds() < deadline) usleep(1000);
    Sampler::Stop();
    EXPECT_FALSE(Sampler::running());
    EXPECT_EQ(Sampler::attached_thread_count(), baseline + 2);
    const SamplerStats s = Sampler::stats();
    uint64_t session = 0;
    for (uint64_t n : s.samples) session += n;
    EXPECT_GT(session, 0u) << SourceName(o.source);
    // The callback's own count of its calls in this session.
    EXPECT_EQ(c.calls.load() - calls_before, session);
    total += session;
    EXPECT_EQ(s.arm_failures, 0u);
  }
  EXPECT_EQ(c.ring.written() + c.ring.lost(), total);
  EXPECT_EQ(c.wrong_tid.load(), 0u);
  DrainAll(&c);
}

void ExpectNothingAfterStop(Source source) {
  SCOPED_TRACE(SourceName(source));
  Collector c;
  Spinners spinners(2, 1);
  SamplerOptions o;
  o.source = source;
  o.hz = 1000;
  ASSERT_TRUE(Sampler::Start(o, Collect, &c).ok());
  // Until the source has delivered samples, or a minute has passed.
  const double deadline = WallSeconds() + 60;
  while (c.calls.load() < 20 && WallSeconds() < deadline) usleep(1000);
  Sampler::Stop();
  c.stopped = true;
  const uint64_t calls = c.calls.load();
  const SamplerStats at_stop = Sampler::stats();
  // Each spinner uses 100 more periods of CPU time: had anything stayed
  // armed, it would have fired.
  ASSERT_TRUE(spinners.WaitForCpu(0.1));
  EXPECT_GE(calls, 20u);
  EXPECT_EQ(c.calls.load(), calls);
  EXPECT_EQ(c.after_stop.load(), 0u);
  const SamplerStats later = Sampler::stats();
  for (int i = 0; i < kNumSources; ++i) {
    EXPECT_EQ(later.samples[i], at_stop.samples[i]);
  }
  DrainAll(&c);
}

TEST_F(SamplerTest, NoCallbackAfterStopThreadTimers) {
  ExpectNothingAfterStop(Source::kAuto);
}

TEST_F(SamplerTest, NoCallbackAfterStopPerf) {
  ExpectNothingAfterStop(Source::kPerfEvent);
}

void ExpectThreadsCanExitWhileSampled(Source source) {
  SCOPED_TRACE(SourceName(source));
  Collector c;
  const int baseline = Sampler::attached_thread_count();
  SamplerOptions o;
  o.source = source;
  o.hz = 1000;
  ASSERT_TRUE(Sampler::Start(o, Collect, &c).ok());
  std::set<pid_t> tids;
  std::mutex mu;
  for (int batch = 0; batch < 10; ++batch) {
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
      const bool explicit_detach = (batch + i) % 2 == 0;
      threads.emplace_back([&, explicit_detach] {
        ASSERT_TRUE(Sampler::AttachCurrentThread().ok());
        {
          std::lock_guard<std::mutex> lock(mu);
          tids.insert(Tid());
        }
        const double until = ThreadCpuSeconds() + 0.02;
        uint64_t x = 1;
        while (ThreadCpuSeconds() < until) {
          for (int k = 0; k < 1000; ++k) x = x * 6364136223846793005u + k;
          asm volatile("" : "+r"(x));
        }
        // The other half leave it to the exit-time guard.
        if (explicit_detach) Sampler::DetachCurrentThread();
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(Sampler::attached_thread_count(), baseline);
  }
  Sampler::Stop();
  const SamplerStats s = Sampler::stats();
  EXPECT_EQ(s.arm_failures, 0u);
  std::set<pid_t> sampled;
  for (const Rec& r : DrainAll(&c)) sampled.insert(r.tid);
  size_t seen = 0;
  for (pid_t t : tids) seen += sampled.count(t);
  // 20 ms of CPU at 1000 Hz is about 20 periods (5 ticks) per thread.
  EXPECT_GE(seen, tids.size() * 3 / 4);
  EXPECT_EQ(c.wrong_tid.load(), 0u);
}

TEST_F(SamplerTest, ThreadsExitWhileSampledThreadTimers) {
  ExpectThreadsCanExitWhileSampled(Source::kThreadTimer);
}

TEST_F(SamplerTest, ThreadsExitWhileSampledPerf) {
  ExpectThreadsCanExitWhileSampled(Source::kPerfEvent);
}

// ---- Stress: everything at once, with a concurrent consumer -----------------

TEST_F(SamplerTest, StressAttachDetachDrainWhileSampling) {
  Collector c;
  SamplerOptions o;
  o.hz = 2000;
  ASSERT_TRUE(Sampler::Start(o, Collect, &c).ok());
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> drained{0};
  std::thread consumer([&] {
    while (!stop.load()) {
      drained += c.ring.Drain([](const SampleRecord& r, const uintptr_t*) {
        EXPECT_LE(r.nframes, static_cast<uint32_t>(kMaxFrames));
      });
      usleep(1000);
    }
  });
  std::vector<std::thread> churners;
  for (int i = 0; i < 3; ++i) {
    churners.emplace_back([&] {
      uint64_t x = 1;
      for (int round = 0; round < 200; ++round) {
        ASSERT_TRUE(Sampler::AttachCurrentThread().ok());
        const double until = ThreadCpuSeconds() + 0.002;
        while (ThreadCpuSeconds() < until) {
          for (int k = 0; k < 1000; ++k) x = x * 6364136223846793005u + k;
          asm volatile("" : "+r"(x));
        }
        Sampler::DetachCurrentThread();
      }
    });
  }
  for (auto& t : churners) t.join();
  Sampler::Stop();
  stop = true;
  consumer.join();
  drained += c.ring.Drain([](const SampleRecord&, const uintptr_t*) {});
  EXPECT_EQ(drained.load(), c.ring.written());
  EXPECT_GT(drained.load(), 0u);
  EXPECT_EQ(c.wrong_tid.load(), 0u);
  EXPECT_EQ(Sampler::stats().arm_failures, 0u);
}

// ---- SIGPROF inside the handler, and sleeping threads
// ------------------------

// The handler does not block SIGPROF while it runs (SA_NODEFER). A SIGPROF
// that comes meanwhile is taken at once, nested, on the same thread: were
// it left pending, blocked, the kernel would hand a process-wide one (the
// itimer's) to another thread, waking a sleeping one (EINTR).
std::atomic<int> g_depth{0};
std::atomic<int> g_max_depth{0};
std::atomic<int> g_nested_calls{0};
void NestingCallback(const Sample& s, void* arg) {
  const int depth = g_depth.fetch_add(1) + 1;
  if (depth > g_max_depth.load()) g_max_depth.store(depth);
  g_nested_calls.fetch_add(1);
  // The first sample triggers a second one from inside its callback.
  if (depth == 1 && s.weight == 7) Sampler::TriggerSample(1);
  Collect(s, arg);
  g_depth.fetch_sub(1);
}

TEST_F(SamplerTest, SigprofInsideTheHandlerIsTakenThere) {
  GENTRACE_SKIP_IF_SIGNALS_DEFERRED();
  Collector c;
  SamplerOptions o;
  o.source = Source::kManual;
  g_depth = g_max_depth = g_nested_calls = 0;
  ASSERT_TRUE(Sampler::Start(o, NestingCallback, &c).ok());
  ASSERT_TRUE(Sampler::TriggerSample(7));
  Sampler::Stop();
  EXPECT_EQ(g_nested_calls.load(), 2);
  EXPECT_EQ(g_max_depth.load(), 2) << "the second SIGPROF waited for the "
                                      "first handler to return";
  const std::vector<Rec> all = DrainAll(&c);
  ASSERT_EQ(all.size(), 2u);
  // The nested one committed first; both are on this thread.
  EXPECT_EQ(all[0].weight, 1u);
  EXPECT_EQ(all[1].weight, 7u);
  EXPECT_EQ(all[0].tid, Tid());
  EXPECT_EQ(all[1].tid, Tid());
  EXPECT_EQ(Sampler::stats().samples[static_cast<int>(Source::kManual)], 2u);
}

// Threads sleeping (attached or not) while attached and unattached threads
// burn CPU, with thread timers plus the itimer at 1000 Hz: no sleep is cut
// short. The itimer's SIGPROF goes to the thread that used the CPU; were
// it blocked there (for instance while that thread's own timer signal is
// being handled), the kernel would pick another thread, sleeping or not.
void ExpectSleepersUndisturbed(Source source) {
  SCOPED_TRACE(SourceName(source));
  Collector c;
  // Every thread exists before Start and ends after Stop: the thread that
  // creates a thread blocks all signals meanwhile, as does one that exits,
  // and the itimer's signal due then would go to another thread
  // (sampler.h, "What remains"; ItimerPausedWhileStartingAThread).
  std::atomic<bool> stop{false}, may_exit{false};
  std::atomic<int> ready{0}, done{0};
  constexpr int kSleepers = 4;
  std::vector<int> eintr(kSleepers), calls(kSleepers);
  std::vector<std::thread> sleepers;
  for (int i = 0; i < kSleepers; ++i) {
    sleepers.emplace_back([&, i] {
      if (i % 2 == 1) {
        EXPECT_TRUE(Sampler::AttachCurrentThread().ok());
      }
      ready.fetch_add(1);
      while (!stop.load()) {
        const timespec ts = {0, 50 * 1000 * 1000};
        if (nanosleep(&ts, nullptr) != 0 && errno == EINTR) ++eintr[i];
        ++calls[i];
      }
      done.fetch_add(1);
      while (!may_exit.load()) usleep(1000);
      if (i % 2 == 1) Sampler::DetachCurrentThread();
    });
  }
  while (ready.load() < kSleepers) usleep(1000);
  Spinners spinners(2, 1);
  SamplerOptions o;
  o.source = source;
  o.hz = 1000;
  const absl::Status started = Sampler::Start(o, Collect, &c);
  if (started.ok()) EXPECT_TRUE(spinners.WaitForCpu(1.0));
  stop = true;
  while (done.load() < kSleepers) usleep(1000);
  Sampler::Stop();
  may_exit = true;
  for (auto& t : sleepers) t.join();
  ASSERT_TRUE(started.ok()) << started;
  const SamplerStats s = Sampler::stats();
  EXPECT_GT(s.samples[static_cast<int>(Source::kProcessTimer)], 100u);
  for (int i = 0; i < kSleepers; ++i) {
#if defined(GENTRACE_TSAN)
    // ThreadSanitizer blocks all signals while it runs a deferred handler:
    // the kernel then hands the itimer's signal to another thread.
    if (eintr[i] != 0) printf("sleeper %d: %d EINTR (TSan)\n", i, eintr[i]);
#else
    EXPECT_EQ(eintr[i], 0) << "sleeper " << i << ", " << calls[i] << " calls";
#endif
    EXPECT_GE(calls[i], 5);
  }
  DrainAll(&c);
}

// While a thread is created, glibc's pthread_create blocks every signal in
// the creating thread, and the new one runs with them blocked until its own
// code starts; WithProcessTimerPaused disarms the itimer until the new
// thread counts itself and re-arms it at the same rate after.
TEST_F(SamplerTest, ItimerPausedWhileStartingAThread) {
  Collector c;
  SamplerOptions o;
  o.source = Source::kProcessTimer;
  o.hz = 500;
  ASSERT_TRUE(Sampler::Start(o, Collect, &c).ok());
  itimerval before, during, in_thread, after;
  ASSERT_EQ(getitimer(ITIMER_PROF, &before), 0);
  std::thread t;
  Sampler::WithProcessTimerPaused(1, [&](std::atomic<int>* begun) {
    ASSERT_EQ(getitimer(ITIMER_PROF, &during), 0);
    // Still paused while the new thread starts, however long it takes:
    // re-armed only once it counted itself.
    t = std::thread([&in_thread, begun] {
      usleep(20000);
      getitimer(ITIMER_PROF, &in_thread);
      begun->fetch_add(1);
    });
  });
  ASSERT_EQ(getitimer(ITIMER_PROF, &after), 0);
  t.join();
  Sampler::Stop();
  EXPECT_EQ(before.it_interval.tv_usec, 2000);
  EXPECT_EQ(during.it_interval.tv_sec, 0);
  EXPECT_EQ(during.it_interval.tv_usec, 0);
  EXPECT_EQ(during.it_value.tv_sec, 0);
  EXPECT_EQ(during.it_value.tv_usec, 0);
  EXPECT_EQ(in_thread.it_value.tv_sec, 0);
  EXPECT_EQ(in_thread.it_value.tv_usec, 0);
  EXPECT_EQ(after.it_interval.tv_usec, 2000);
  EXPECT_GT(after.it_value.tv_usec, 0);
  // Not running, or without the itimer: the function just runs.
  bool ran = false;
  Sampler::WithProcessTimerPaused(0, [&](std::atomic<int>*) { ran = true; });
  EXPECT_TRUE(ran);
  itimerval off;
  ASSERT_EQ(getitimer(ITIMER_PROF, &off), 0);
  EXPECT_EQ(off.it_value.tv_usec, 0);
  DrainAll(&c);
}

TEST_F(SamplerTest, SleepersUndisturbedThreadTimersAndItimer) {
  ExpectSleepersUndisturbed(Source::kThreadTimer);
}

TEST_F(SamplerTest, SleepersUndisturbedPerfAndItimer) {
  ExpectSleepersUndisturbed(Source::kPerfEvent);
}

}  // namespace
}  // namespace gentrace::cpusample
