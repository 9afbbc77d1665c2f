// The thread registry (Go's allm, m.trace and the Ps of traceruntime.go):
// one ThreadState per thread that has traced anything, reached through an
// initial-exec thread_local; registration in the current trace session,
// P allocation and reuse, the exit hook (Go's traceThreadDestroy), and the
// reclaim of exited threads. Invariants are numbered as in runtime.h.
//
//  I6. A thread's P is touched only by that thread (and by the advancer
//      for a generation the thread has left).
//  I7. ThreadState objects on the registry are freed only by the advancer
//      (ReclaimExited; or by Start and Stop), under the runtime's control
//      lock, never while an Advance is using them, and only once the thread has
//      exited and its own G is referenced no more (I8, goroutines.h).
//
// Registration (I9, with TraceLocker): a thread whose state belongs to an
// earlier session is initialized again, under the registry's lock, before
// it writes: a new P, a new G, empty caches.
//
// Alternate signal stacks: while a crash handler is installed
// (tracer/crash_handler.h), a thread registering (its first event of a
// trace session) gets one, so that a stack overflow on it is caught. A
// thread that registered before the handler was installed gets one at its
// first event of the next session (or by calling
// InstallCrashAltStackForThisThread itself).
#ifndef GENTRACE_TRACER_INTERNAL_THREAD_REGISTRY_H_
#define GENTRACE_TRACER_INTERNAL_THREAD_REGISTRY_H_

#include <pthread.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "format/spec.h"
#include "tracer/crash_handler.h"
#include "tracer/internal/goroutines.h"
#include "tracer/internal/stack_table.h"
#include "tracer/internal/string_table.h"
#include "tracer/internal/trace_buf.h"
#include "tracer/internal/trace_state.h"

namespace gentrace::internal {

class Writer;

// Per-thread tracer state: Go's m.trace plus the thread's P and G.
struct ThreadState {
  // I1: odd while writing. The SIGPROF handler reads it to decide whether
  // to take it or elide it.
  std::atomic<uint64_t> seqlock{0};
  TraceBuf* buf[2] = {nullptr, nullptr};  // by generation parity

  // Identity, set at registration.
  uint64_t session = 0;  // trace session registered in
  pid_t tid = 0;
  uint64_t proc = 0;  // P id
  bool proc_reused = false;
  bool created = false;  // creation events written (owner only)
  // The thread's start routine, if known (gentrace run's shim sets it
  // before the thread's first event): the root frame of its G's creation
  // stack, under the frame named after the thread. 0: none.
  uintptr_t start_pc = 0;
  GState own_g;
  // The G running on this thread, or null, and the G that blocked in a
  // ScopedBlock here: references (I8), touched by this thread only.
  GState* cur_g = nullptr;
  // cur_g's id (0 if none), for the SIGPROF handler, which may interrupt
  // a change of cur_g. Change both with SetCurrentG.
  std::atomic<uint64_t> running_goid{0};
  GState* blocked_g = nullptr;

  // The thread's P (I6). Atomic only because the advancer's snapshot may
  // read them while the thread runs; the thread alone writes them.
  std::atomic<uint8_t> proc_state{format::kProcRunning};
  std::atomic<uint64_t> proc_traced_gen[2] = {{0}, {0}};
  uint64_t proc_seq = 0;
  std::atomic<bool> created_flag{false};  // mirrors `created` for the advancer

  // Unique strings (log messages) written by this thread, by parity.
  TraceBuf* sbuf[2] = {nullptr, nullptr};
  // The ids this thread has taken for them from the generation's string
  // table, by parity: [sid_next, sid_end) are still unused, and the next
  // block taken holds sid_block ids. Valid only while sbuf[p] is non-null:
  // the end of a generation clears sbuf[p] alone, and the thread's next
  // log message, finding it null, starts these afresh
  // (TraceTables::RefillUniqueStrings).
  uint64_t sid_next[2] = {0, 0};
  uint64_t sid_end[2] = {0, 0};
  uint64_t sid_block[2] = {0, 0};
  // Serializes flushing this thread's buffers between the advancer and
  // the thread's own exit.
  std::mutex flush_mu;

  // Bounds of the thread's stack, for the frame-pointer walk.
  uintptr_t stack_lo = 0;
  uintptr_t stack_hi = 0;

  // The crash handler's install count this thread's alternate signal
  // stack was set up for (owner only).
  uint32_t alt_stack_epoch = 0;

  // Lifecycle.
  std::atomic<bool> exited{false};
  uint64_t exit_gen = 0;
  ThreadState* next = nullptr;  // registry list, under the registry's lock

  // Name, under name_mu (read by the advancer).
  std::mutex name_mu;
  std::string name;
  bool name_explicit = false;

  // Caches of string and stack ids (entries are tagged by generation).
  StringCache string_cache;
  StackCache stack_cache;
};

// The calling thread's state: null before registration, 1 once the
// thread is exiting, else a ThreadState. Initial-exec: one instruction to
// read, and safe in a signal handler. __thread, not thread_local: code that
// sees only this declaration then calls no TLS wrapper function first.
extern __thread ThreadState* tls_thread
    __attribute__((tls_model("initial-exec")));
inline bool IsThreadState(const ThreadState* ts) {
  return reinterpret_cast<uintptr_t>(ts) > 1;
}

// Sets cur_g; the caller moves the references (I8).
inline void SetCurrentG(ThreadState* ts, GState* g) {
  ts->cur_g = g;
  ts->running_goid.store(g != nullptr ? g->id : 0, std::memory_order_relaxed);
}

class ThreadRegistry {
 public:
  // `goroutines` for the threads' Gs (ids, their last events at exit);
  // `writer` takes an exiting thread's buffers.
  ThreadRegistry(Goroutines* goroutines, Writer* writer)
      : goroutines_(goroutines), writer_(writer) {}
  ThreadRegistry(const ThreadRegistry&) = delete;
  ThreadRegistry& operator=(const ThreadRegistry&) = delete;

  // The calling thread's state, registering it in the current session if
  // needed. Null if tracing is off or the thread is exiting.
  ThreadState* CurrentThread() {
    ThreadState* ts = tls_thread;
    if (__builtin_expect(IsThreadState(ts) && ts->session == g_trace.session(),
                         1)) {
      return ts;
    }
    return CurrentThreadSlow(ts);
  }

  // Registers ts (null: a new state for the calling thread) in the current
  // session, if it is not already; null if tracing is off. Then, with CPU
  // samples on, attaches the thread to the sampler.
  ThreadState* Register(ThreadState* ts);

  // Sets the calling thread's name (registering it if tracing is on).
  void SetThreadName(absl::string_view name);

  // Start: threads that exited are gone for good; P ids start again at 1
  // (P 0 is the advancer's filler) and the count of threads at 0.
  // `sample_threads`: registration arms the thread's CPU timer.
  void BeginSession(bool sample_threads);
  // Stop: frees every exited thread; registration arms no timer.
  void EndSession();
  // Frees exited threads that no generation after `gen` can refer to (I7),
  // making their Ps reusable; all of them if `all`.
  void ReclaimExited(uint64_t gen, bool all);

  // The advancer's. Calls fn(ThreadState*) for every registered thread,
  // under the registry's lock. The states stay valid after the lock is
  // released until the advancer frees them (I7).
  template <typename F>
  void ForEach(F fn) {
    std::lock_guard<std::mutex> l(mu_);
    for (ThreadState* ts = threads_.load(std::memory_order_relaxed);
         ts != nullptr; ts = ts->next) {
      fn(ts);
    }
  }
  // The crash path's (crash_completion.h): the same without the lock.
  // Safe while the control lock is held: states are unlinked and freed
  // only under it (I7), and a state is linked, whole, with a release
  // store. Async-signal-safe if fn is.
  template <typename F>
  void ForEachAtCrash(F fn) {
    for (ThreadState* ts = threads_.load(std::memory_order_acquire);
         ts != nullptr; ts = ts->next) {
      fn(ts);
    }
  }
  // Gives the calling thread (ts) an alternate signal stack if a crash
  // handler was installed since it last looked. Not async-signal-safe.
  static void EnsureAltStack(ThreadState* ts) {
    if (__builtin_expect(ts->alt_stack_epoch != CrashHandlerEpoch(), 0)) {
      SetUpAltStack(ts);
    }
  }
  // The name ts has now: read again from the OS unless it was set through
  // gentrace (or the thread has exited).
  std::string RefreshName(ThreadState* ts);

  // Threads registered in the current session.
  uint64_t threads_seen();

 private:
  ThreadState* CurrentThreadSlow(ThreadState* ts);
  // The pthread key destructor: the thread is exiting.
  static void OnThreadExit(void* arg);
  // Go's traceThreadDestroy: the thread's last events, then its buffers
  // go to the writer; after this the advancer may free ts (I7).
  void ThreadExit(ThreadState* ts);
  void AttachSampler();
  static void SetUpAltStack(ThreadState* ts);
  // A P for a thread registering now. Under mu_.
  uint64_t AllocProc();
  void ReclaimExitedLocked(uint64_t gen, bool all);

  Goroutines* const goroutines_;
  Writer* const writer_;
  std::atomic<bool> sample_threads_{false};

  std::mutex mu_;
  // Written under mu_; read without it by ForEachAtCrash.
  std::atomic<ThreadState*> threads_{nullptr};
  uint64_t threads_seen_ = 0;
  // P ids: free ones become reusable two generations after their thread
  // exited, so a P never gets two statuses in one generation.
  uint64_t next_proc_ = 1;
  std::vector<std::pair<uint64_t, uint64_t>> free_procs_;  // (proc, gen)
};

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_INTERNAL_THREAD_REGISTRY_H_
