// Cost of the frame-pointer walks at a given total stack depth: UnwindCurrent
// (known bounds, the tracer's event stacks), UnwindCurrentSignalSafe with
// unknown bounds (page probing), UnwindFromUcontext with and without the
// caller heuristic, and absl::GetStackTrace as a reference in the same run.
//
//   ./dev bench //cpusample:fp_unwind_benchmark
#include <ucontext.h>

#include <cstdint>

#include "absl/debugging/stacktrace.h"
#include "benchmark/benchmark.h"
#include "cpusample/benchmark_depth.h"
#include "cpusample/fp_unwind.h"

namespace gentrace::cpusample {
namespace {

using testing::RunAtTotalDepth;

void BM_UnwindCurrent(benchmark::State& state) {
  EnsureThreadStackBounds();
  int frames = 0;
  RunAtTotalDepth(static_cast<int>(state.range(0)), [&] {
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
  RunAtTotalDepth(static_cast<int>(state.range(0)), [&] {
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
  RunAtTotalDepth(static_cast<int>(state.range(0)), [&] {
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
  RunAtTotalDepth(static_cast<int>(state.range(0)), [&] {
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
