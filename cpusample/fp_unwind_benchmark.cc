// Cost of the frame-pointer walks at a given total stack depth: UnwindCurrent
// (known bounds, the tracer's event stacks), UnwindCurrentSignalSafe with
// unknown bounds (page probing), UnwindFromUcontext with and without the
// caller heuristic, and absl::GetStackTrace as a reference in the same run.
//
//   ./dev bench //cpusample:fp_unwind_benchmark
#include <ucontext.h>

#include <atomic>
#include <cstdint>

#include "absl/debugging/stacktrace.h"
#include "benchmark/benchmark.h"
#include "cpusample/fp_unwind.h"

namespace gentrace::cpusample {
namespace {

std::atomic<uint64_t> g_sink{0};

// Frames between main and a benchmark function.
int BaseDepth() {
  uintptr_t pcs[kMaxFrames];
  return UnwindCurrent(pcs, kMaxFrames);
}

// Recurses until the stack holds `total` frames, then runs `body`.
template <class F>
__attribute__((noinline, noclone)) void AtDepth(int remaining, F& body) {
  if (remaining <= 0) {
    body();
  } else {
    AtDepth(remaining - 1, body);
  }
  g_sink.fetch_add(1, std::memory_order_relaxed);
}

template <class F>
void RunAtTotalDepth(benchmark::State& state, int total, F body) {
  const int base = BaseDepth();
  AtDepth(total - base - 1, body);
}

void BM_UnwindCurrent(benchmark::State& state) {
  EnsureThreadStackBounds();
  int frames = 0;
  RunAtTotalDepth(state, static_cast<int>(state.range(0)), [&] {
    uintptr_t pcs[kMaxFrames];
    for (auto _ : state) {
      frames = UnwindCurrent(pcs, kMaxFrames);
      benchmark::DoNotOptimize(pcs);
    }
  });
  state.counters["frames"] = frames;
}
BENCHMARK(BM_UnwindCurrent)->Arg(10)->Arg(30);

void BM_UnwindCurrentUnknownBounds(benchmark::State& state) {
  const StackBounds saved = EnsureThreadStackBounds();
  int frames = 0;
  RunAtTotalDepth(state, static_cast<int>(state.range(0)), [&] {
    uintptr_t pcs[kMaxFrames];
    SetThreadStackBounds(StackBounds());  // after RunAtTotalDepth's walk
    for (auto _ : state) {
      frames = UnwindCurrentSignalSafe(pcs, kMaxFrames);
      benchmark::DoNotOptimize(pcs);
    }
  });
  SetThreadStackBounds(saved);
  state.counters["frames"] = frames;
}
BENCHMARK(BM_UnwindCurrentUnknownBounds)->Arg(10)->Arg(30);

void BM_UnwindFromUcontext(benchmark::State& state) {
  EnsureThreadStackBounds();
  RefreshCodeRanges();
  UnwindOptions o;
  o.caller_heuristic = state.range(1) != 0;
  int frames = 0;
  RunAtTotalDepth(state, static_cast<int>(state.range(0)), [&] {
    ucontext_t uc;
    getcontext(&uc);
    uintptr_t pcs[kMaxFrames];
    for (auto _ : state) {
      frames = UnwindFromUcontext(&uc, pcs, o);
      benchmark::DoNotOptimize(pcs);
    }
  });
  state.counters["frames"] = frames;
}
BENCHMARK(BM_UnwindFromUcontext)
    ->ArgNames({"depth", "heuristic"})
    ->Args({10, 0})
    ->Args({10, 1})
    ->Args({30, 0})
    ->Args({30, 1});

void BM_AbslGetStackTrace(benchmark::State& state) {
  int frames = 0;
  RunAtTotalDepth(state, static_cast<int>(state.range(0)), [&] {
    void* pcs[kMaxFrames];
    for (auto _ : state) {
      frames = absl::GetStackTrace(pcs, kMaxFrames, 0);
      benchmark::DoNotOptimize(pcs);
    }
  });
  state.counters["frames"] = frames;
}
BENCHMARK(BM_AbslGetStackTrace)->Arg(10)->Arg(30);

}  // namespace
}  // namespace gentrace::cpusample
