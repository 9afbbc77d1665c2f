// The preloaded shim behind `gentrace run` (libgentrace_run.so): what its
// two halves share. shim.cc starts tracing when the library is loaded,
// configured by the GENTRACE_RUN_* environment variables, and stops it at
// exit; interpose.cc defines the libc and libpthread functions it
// interposes (pthread_create, mutexes, condition variables, sleeps,
// blocking I/O...) and records in the trace the calls that waited.
//
// Reentrancy: the tracer itself locks mutexes, creates threads and writes
// files through the very functions the shim interposes. Each thread keeps
// a depth counter (ShimThread); while it is above zero (the thread is
// inside the tracer on behalf of the shim) and on gentrace's own threads
// (created from inside the tracer), every interposed function goes straight
// to libc; so does one called while the tracer holds the thread's
// seqlock on its own (the thread-exit hook). The same holds before the
// shim is ready (a library constructor that runs before ours) and while
// the real functions are being looked up with dlsym(RTLD_NEXT).
#ifndef GENTRACE_TOOLS_RUN_SHIM_H_
#define GENTRACE_TOOLS_RUN_SHIM_H_

#include <errno.h>

#include <atomic>
#include <cstdint>

#include "tracer/gentrace.h"
#include "tracer/internal/thread_registry.h"

namespace gentrace::run {

struct ShimThread {
  int depth = 0;          // > 0: inside the tracer for the shim
  bool internal = false;  // one of gentrace's own threads
};
// initial-exec: the shim is loaded at startup (LD_PRELOAD), and this must
// not allocate on first use (a dynamic TLS access may call malloc).
extern thread_local ShimThread t_shim
    __attribute__((tls_model("initial-exec")));

// Set once tracing has started (shim.cc), cleared when it stops.
extern std::atomic<bool> g_ready;
// Calls that returned faster than this (in trace clock ticks) are not
// recorded (GENTRACE_RUN_SYSCALL_THRESHOLD_US).
extern uint64_t g_threshold_ticks;

// Whether the tracer is writing events on this thread right now (its
// seqlock is odd, runtime.h I1): tracer code the shim did not call itself,
// such as the thread-exit hook, which locks mutexes while it holds the
// seqlock. A wait recorded from there would nest a second TraceLocker.
inline bool InsideTracerHere() {
  internal::ThreadState* ts = internal::tls_thread;
  return internal::IsThreadState(ts) &&
         (ts->seqlock.load(std::memory_order_relaxed) & 1) != 0;
}

// Whether an interposed call on this thread should be looked at at all.
inline bool Traceable() {
  return g_ready.load(std::memory_order_relaxed) && t_shim.depth == 0 &&
         !t_shim.internal && internal::Enabled() && !InsideTracerHere();
}

// Inside the tracer for the scope: interposed calls made meanwhile go to
// libc; errno is what it was before.
class InTracer {
 public:
  InTracer() : saved_errno_(errno) { ++t_shim.depth; }
  ~InTracer() {
    --t_shim.depth;
    errno = saved_errno_;
  }
  InTracer(const InTracer&) = delete;
  InTracer& operator=(const InTracer&) = delete;

 private:
  int saved_errno_;
};

// Records a wait that is over: the calling thread blocked for `reason`
// (or was in a system call) from `begin` (trace clock ticks) until now.
// Call inside an InTracer scope.
void RecordPastBlock(BlockReason reason, uint64_t begin);
void RecordPastSyscall(uint64_t begin);

// The current trace clock time, for RecordPast*.
uint64_t ClockNow();

// Stops tracing and writes this process's trace, once (at exit, or
// before an exec replaces the process: its atexit handlers never run, and
// the CPU-sampling itimer would survive into the new program).
void EndTrace();

}  // namespace gentrace::run

#endif  // GENTRACE_TOOLS_RUN_SHIM_H_
