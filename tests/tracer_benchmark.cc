// What one traced event costs: gentrace's API against a floor measured in
// the same binary (Google Benchmark). `./dev bench` runs it interleaved with
// Go's tracer doing the same operations (tests/go/tracer_benchmark) and
// tabulates both (tests/benchmark_suite.cc, docs/TRACER.md).
//
// Each benchmark traces into a callback that only counts bytes, so the
// numbers are the tracer's own cost. Counters:
//   ns_per_event     time per recorded event (an iteration may record 2);
//                    with tracing off, per API call
//   bytes_per_event  bytes on the wire per event, tables and batch headers
//                    included (measured after Stop)
//   stack_frames     (stack mode) frames in each recorded stack: the caller
//                    and its callers, as the frame-pointer walk finds them
// Modes (the "mode" argument): 0 tracing off; 1 on without stacks; 2 on
// with stacks, the call made from 10 frames deep (the benchmark harness
// adds its own frames below those); 3 off, from as deep as mode 2.
//
// Run alone: ./dev bench //tests:tracer_benchmark [--benchmark_filter=RE]
#include <benchmark/benchmark.h>
#include <x86intrin.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>

#include "cpusample/fp_unwind.h"
#include "tracer/gentrace.h"
#include "tracer/internal/clock.h"

namespace {

// --------------------------------------------------------------- floors ---
// The least an event can cost: a TSC read, a type byte and three varints
// into a thread-local buffer (BM_Floor_Event); and the same inside a
// Go-style per-thread seqlock, a locked increment before and a release
// store after, as Go's traceAcquire/traceRelease (BM_Floor_EventSeqlock).
// BM_Floor_EventSeqlockTracerClock reads the clock the tracer reads on this
// machine instead of the TSC: where the kernel does not trust the TSC (a VM
// booted with tsc=unstable, say) the tracer reads CLOCK_MONOTONIC, and a
// floor it cannot use would measure the clock, not the tracer. Event rows
// compare with this one; its label names the clock.

struct alignas(64) FloorBuf {
  uint8_t buf[64 << 10];
  size_t pos = 0;
  uint64_t last = 0;
};
thread_local FloorBuf floor_buf;
thread_local std::atomic<uint64_t> floor_seq{0};
std::atomic<uint64_t> floor_gen{1};
std::atomic<uint64_t> floor_sink{0};

inline uint8_t* Varint(uint8_t* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<uint8_t>(v) | 0x80;
    v >>= 7;
  }
  *p++ = static_cast<uint8_t>(v);
  return p;
}

__attribute__((noinline)) void FloorFlush(FloorBuf& b) {
  floor_sink.fetch_add(b.pos, std::memory_order_relaxed);
  b.pos = 0;
}

struct TscClock {
  static uint64_t Now() { return __rdtsc() >> 4; }
};

struct TracerClock {
  static uint64_t Now() { return gentrace::internal::Now(); }
};

template <class Clock = TscClock>
__attribute__((always_inline)) inline void FloorEncode(uint8_t type,
                                                       uint64_t a1,
                                                       uint64_t a2) {
  const uint64_t gen = floor_gen.load(std::memory_order_relaxed);
  FloorBuf& b = floor_buf;
  if (b.pos + 31 > sizeof(b.buf)) FloorFlush(b);
  const uint64_t now = Clock::Now();
  uint8_t* p = b.buf + b.pos;
  *p++ = type;
  p = Varint(p, now - b.last);
  p = Varint(p, a1 + gen);
  p = Varint(p, a2);
  b.last = now;
  b.pos = static_cast<size_t>(p - b.buf);
}

__attribute__((noinline)) void FloorEvent(uint8_t type, uint64_t a1,
                                          uint64_t a2) {
  FloorEncode(type, a1, a2);
}

template <class Clock>
__attribute__((noinline)) void FloorEventSeqlock(uint8_t type, uint64_t a1,
                                                 uint64_t a2) {
  floor_seq.fetch_add(1, std::memory_order_seq_cst);
  FloorEncode<Clock>(type, a1, a2);
  floor_seq.store(floor_seq.load(std::memory_order_relaxed) + 1,
                  std::memory_order_release);
}

void FloorCounters(benchmark::State& state) {
  state.counters["ns_per_event"] = benchmark::Counter(
      static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_Floor_Event(benchmark::State& state) {
  for (auto _ : state) FloorEvent(42, 3, 7);
  FloorCounters(state);
}
BENCHMARK(BM_Floor_Event);

void BM_Floor_EventSeqlock(benchmark::State& state) {
  for (auto _ : state) FloorEventSeqlock<TscClock>(42, 3, 7);
  FloorCounters(state);
}
BENCHMARK(BM_Floor_EventSeqlock);

void BM_Floor_EventSeqlockTracerClock(benchmark::State& state) {
  gentrace::internal::InitClock();
  state.SetLabel(gentrace::internal::ClockDescription());
  for (auto _ : state) FloorEventSeqlock<TracerClock>(42, 3, 7);
  FloorCounters(state);
}
BENCHMARK(BM_Floor_EventSeqlockTracerClock);

// -------------------------------------------------------------- harness ---

std::atomic<uint64_t> trace_bytes{0};

// The "mode" argument: 0 tracing off, 1 on without stacks, 2 on with
// stacks from 10 frames deep, 3 off from 10 frames deep (what mode 2 costs
// without tracing: the suite subtracts it).
enum Mode { kOff, kNoStack, kStack10, kOffDeep };

bool Deep(Mode mode) { return mode == kStack10 || mode == kOffDeep; }

void StartTracing(Mode mode,
                  gentrace::TraceClock clock = gentrace::TraceClock::kAuto) {
  if (mode == kOff || mode == kOffDeep) return;
  gentrace::Options o;
  o.clock = clock;
  o.callback = [](absl::Span<const uint8_t> b) {
    trace_bytes.fetch_add(b.size(), std::memory_order_relaxed);
    return absl::OkStatus();
  };
  const bool stacks = mode == kStack10;
  o.stacks =
      gentrace::StackOptions{stacks, stacks, stacks, stacks, stacks, stacks};
  trace_bytes.store(0);
  if (!gentrace::Start(o).ok()) std::abort();
}

void Report(benchmark::State& state, Mode mode, int events_per_iter,
            int threads = 1) {
  const bool on = mode == kNoStack || mode == kStack10;
  if (on) (void)gentrace::Stop();
  const double events =
      static_cast<double>(state.iterations()) * events_per_iter;
  const double all_events = events * threads;
  state.counters["ns_per_event"] = benchmark::Counter(
      events, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  if (on) {
    state.counters["bytes_per_event"] =
        static_cast<double>(trace_bytes.load()) / all_events;
  }
}

// Calls f from `depth` frames below the caller.
template <typename F>
__attribute__((noinline)) void AtDepth(int depth, F& f) {
  if (depth <= 1) {
    f();
  } else {
    AtDepth(depth - 1, f);
  }
  benchmark::ClobberMemory();  // no tail call: keep the frames
}

// The frames a stack recorded from `depth` frames below the caller has (the
// event's caller included).
int StackFramesAt(int depth) {
  int frames = 0;
  auto probe = [&frames] {
    uintptr_t pcs[gentrace::cpusample::kMaxFrames];
    frames = gentrace::cpusample::UnwindCurrent(
        pcs, gentrace::cpusample::kMaxFrames);
  };
  AtDepth(depth, probe);
  return frames;
}

template <typename Body>
void RunEvents(benchmark::State& state, Body body, int events_per_iter,
               gentrace::TraceClock clock = gentrace::TraceClock::kAuto) {
  const Mode mode = static_cast<Mode>(state.range(0));
  StartTracing(mode, clock);
  if (Deep(mode)) {
    for (auto _ : state) AtDepth(9, body);
  } else {
    for (auto _ : state) body();
  }
  Report(state, mode, events_per_iter);
  if (mode == kStack10) {
    state.counters["stack_frames"] = StackFramesAt(9);
  }
}

void ModeArgs(benchmark::internal::Benchmark* b) {
  b->ArgName("mode")->Arg(kOff)->Arg(kNoStack)->Arg(kStack10)->Arg(kOffDeep);
}

// --------------------------------------------------------------- events ---

const gentrace::StaticName kRegion("bench-region");
const gentrace::StaticName kCategory("bench");

// Lambdas, not functions: the body inlines into AtDepth, as in the other
// benchmarks (a function pointer would add a frame and a call).
const auto RegionBody = [] { gentrace::ScopedRegion r(kRegion); };

void BM_RegionBeginEnd(benchmark::State& state) {
  RunEvents(state, RegionBody, 2);
}
BENCHMARK(BM_RegionBeginEnd)->Apply(ModeArgs);

void BM_RegionMacro(benchmark::State& state) {
  auto body = [] { GENTRACE_REGION("bench-macro"); };
  RunEvents(state, body, 2);
}
BENCHMARK(BM_RegionMacro)->Apply(ModeArgs);

const auto LogBody = [] {
  if (gentrace::internal::Enabled()) {
    gentrace::internal::LogStatic(kCategory, "a short message", 0);
  }
};

void BM_Log(benchmark::State& state) { RunEvents(state, LogBody, 1); }
BENCHMARK(BM_Log)->Apply(ModeArgs);

// The same two with the TSC as the trace's clock (TraceClock::kTsc), where
// the kernel keeps another clocksource and the default clock is
// CLOCK_MONOTONIC (registered only where the CPU's TSC is invariant).
// Tracing on only: the off modes do not read a clock.
void BM_RegionBeginEnd_TscClock(benchmark::State& state) {
  RunEvents(state, RegionBody, 2, gentrace::TraceClock::kTsc);
}
void BM_Log_TscClock(benchmark::State& state) {
  RunEvents(state, LogBody, 1, gentrace::TraceClock::kTsc);
}
const bool tsc_clock_registered = [] {
  const std::string cpuinfo = [] {
    std::string out;
    if (FILE* f = std::fopen("/proc/cpuinfo", "r")) {
      char buf[4096];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
      std::fclose(f);
    }
    return out;
  }();
  if (cpuinfo.find(" constant_tsc") == std::string::npos ||
      cpuinfo.find(" nonstop_tsc") == std::string::npos) {
    return false;
  }
  for (auto [name, fn] :
       {std::pair{"BM_RegionBeginEnd_TscClock", BM_RegionBeginEnd_TscClock},
        std::pair{"BM_Log_TscClock", BM_Log_TscClock}}) {
    benchmark::RegisterBenchmark(name, fn)->ArgName("mode")->Arg(kNoStack)->Arg(
        kStack10);
  }
  return true;
}();

void BM_TaskBeginEnd(benchmark::State& state) {
  auto body = [] { gentrace::Task t = gentrace::Task::Begin("bench-task"); };
  RunEvents(state, body, 2);
}
BENCHMARK(BM_TaskBeginEnd)->Apply(ModeArgs);

// Block + unblock: GoBlock, then GoUnblock and GoStart (3 events).
void BM_BlockUnblock(benchmark::State& state) {
  auto body = [] { gentrace::ScopedBlock b(gentrace::BlockReason::kSync); };
  RunEvents(state, body, 3);
}
BENCHMARK(BM_BlockUnblock)->Apply(ModeArgs);

void BM_Syscall(benchmark::State& state) {
  auto body = [] { gentrace::ScopedSyscall s; };
  RunEvents(state, body, 2);
}
BENCHMARK(BM_Syscall)->Apply(ModeArgs);

// A coroutine switch (Go 1.23's iter.Pull records the same: GoSwitch):
// into the coroutine and back, 2 events.
void BM_CoroutineSwitch(benchmark::State& state) {
  const Mode mode = static_cast<Mode>(state.range(0));
  StartTracing(mode);
  {
    gentrace::Coroutine c = gentrace::Coroutine::Create("bench-coroutine");
    auto body = [&c] {
      c.Resume();
      c.Yield();
    };
    if (Deep(mode)) {
      for (auto _ : state) AtDepth(9, body);
    } else {
      for (auto _ : state) body();
    }
  }
  Report(state, mode, 2);
}
BENCHMARK(BM_CoroutineSwitch)->Apply(ModeArgs);

// A fiber resumed and yielding: GoBlock + GoStart, then GoStop + GoUnblock
// + GoStart (5 events).
void BM_FiberResumeYield(benchmark::State& state) {
  const Mode mode = static_cast<Mode>(state.range(0));
  StartTracing(mode);
  {
    gentrace::Fiber f = gentrace::Fiber::Create("bench-fiber");
    auto body = [&f] {
      f.Resume();
      f.Yield();
    };
    if (Deep(mode)) {
      for (auto _ : state) AtDepth(9, body);
    } else {
      for (auto _ : state) body();
    }
  }
  Report(state, mode, 5);
}
BENCHMARK(BM_FiberResumeYield)->Apply(ModeArgs);

// Regions from two threads at once (contention on shared state shows).
void BM_RegionBeginEnd_Threads(benchmark::State& state) {
  if (state.thread_index() == 0) StartTracing(kNoStack);
  for (auto _ : state) gentrace::ScopedRegion r(kRegion);
  if (state.thread_index() == 0) {
    Report(state, kNoStack, 2, state.threads());
  }
}
BENCHMARK(BM_RegionBeginEnd_Threads)->Threads(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
