// Runs code at a chosen stack depth, for the benchmarks of stack walks
// (fp_unwind_benchmark, sampler_benchmark), whose cost grows with the
// number of frames.
#ifndef GENTRACE_CPUSAMPLE_BENCHMARK_DEPTH_H_
#define GENTRACE_CPUSAMPLE_BENCHMARK_DEPTH_H_

#include <atomic>
#include <cstdint>

#include "cpusample/fp_unwind.h"

namespace gentrace::cpusample::testing {

// Written after each recursive call, so that the call is not a tail call
// and its frame stays on the stack.
inline std::atomic<uint64_t> g_depth_sink{0};

// Recurses `remaining` more frames, then runs `body`.
template <class F>
__attribute__((noinline, noclone)) void AtDepth(int remaining, F& body) {
  if (remaining <= 0) {
    body();
  } else {
    AtDepth(remaining - 1, body);
  }
  g_depth_sink.fetch_add(1, std::memory_order_relaxed);
}

// The frames below the caller of BaseDepth, as UnwindCurrent counts them.
__attribute__((noinline, noclone)) inline int BaseDepth() {
  uintptr_t pcs[kMaxFrames];
  return UnwindCurrent(pcs, kMaxFrames);
}

// Runs `body` where UnwindCurrent, called in it, finds `total` frames: the
// frames below the caller, then as many AtDepth frames as make up the rest.
template <class F>
void RunAtTotalDepth(int total, F body) {
  AtDepth(total - BaseDepth() - 1, body);
}

}  // namespace gentrace::cpusample::testing

#endif  // GENTRACE_CPUSAMPLE_BENCHMARK_DEPTH_H_
