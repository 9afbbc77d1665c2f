// The tracer runtime: per-thread state, the seqlock protocol, event
// writing, generations and their advance. A port of Go's runtime tracer
// (runtime/trace.go, traceruntime.go, tracebuf.go, traceevent.go,
// tracestatus.go) to C++ threads, with the G/P/M mapping docs/TRACER.md
// describes: every registered thread is an M with its own P and its own G.
//
// Invariants (numbered as referred to in the code):
//  I1. A thread writes trace events only between TraceAcquire and
//      TraceRelease on its own ThreadState: its seqlock is odd exactly
//      while it may touch its buffers, and the generation it writes to is
//      the one it read after making the seqlock odd.
//  I2. After the advancer switches the global generation from N to N+1,
//      it waits until every thread's seqlock is even or has changed since
//      the switch; from then on no thread can write to generation N, and
//      the advancer may flush the threads' generation-N buffers and
//      finish N.
//  I3. Generation N is complete on the sink (Frequency, events, statuses,
//      stacks, strings, thread info) before any byte of N+1: the writer
//      thread drains N's queue and is told N is complete before it starts
//      on N+1; the advancer does not start advancing N+1 before that.
//  I4. Each G and P gets at most one status event per generation, written
//      before any event with a sequence number for it in that generation:
//      either lazily by the first writer that touches it, or by the
//      end-of-generation sweep if nobody did.
//  I5. A G's scheduling state, its per-generation "status traced" marks
//      and sequence numbers change only under its lock; a transition in
//      generation N marks the status traced in N first. So a snapshot of
//      an untraced G taken under the lock before the switch is its state
//      for all of N.
//  I6. A thread's P is touched only by that thread (and by the advancer
//      for a generation the thread has left).
//  I7. ThreadState objects on the registry are freed only by the advancer
//      (or by Start and Stop), never while an Advance is using them, and
//      only once the thread has exited and its own G is referenced no more
//      (I8).
//  I8. A fiber's GState is freed only by the advancer (or by Stop), and
//      only once nothing outside the runtime's fiber list points to it:
//      `refs` counts the user's handle, the thread whose cur_g or
//      blocked_g it is, and the G whose `resumer` it is. The advancer's
//      own pointers (the snapshot of step 1, the info batch) live within
//      one Advance, which is also where it frees. Whoever drops a
//      reference touches the G no more afterwards. A thread's own G is
//      counted the same way, for I7.
//  I9. A thread writes only into the trace session it is registered in:
//      TraceLocker checks the thread's session after making its seqlock
//      odd (so Stop cannot end that session meanwhile, I2) and registers
//      the thread again if a Stop and Start came in between.
//  I10. A fiber whose handle is destroyed while it is on a thread (running
//      or in a syscall there, or blocked in a scope there) stays that
//      thread's: the thread ends it (GoDestroy) at its next traced event
//      (TraceLocker, or when the scope ends). A fiber that is on no
//      thread is ended by the thread destroying the handle.
#ifndef GENTRACE_TRACER_INTERNAL_RUNTIME_H_
#define GENTRACE_TRACER_INTERNAL_RUNTIME_H_

#include <pthread.h>
#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "format/spec.h"
#include "tracer/gentrace.h"
#include "tracer/internal/clock.h"
#include "tracer/internal/sink.h"
#include "tracer/internal/stack_table.h"
#include "tracer/internal/string_table.h"
#include "tracer/internal/trace_buf.h"
#include "tracer/internal/tracecpu.h"

namespace gentrace::internal {

// A tiny spinlock for G state (held for a few hundred ns at most).
class SpinLock {
 public:
  void lock() {
    while (locked_.exchange(true, std::memory_order_acquire)) {
      while (locked_.load(std::memory_order_relaxed)) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
      }
    }
  }
  void unlock() { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

// An open region on a G's region stack.
struct OpenRegion {
  uint64_t token = 0;  // unique among open regions, for ScopedRegion
  TaskId task = 0;
  const StaticName* static_name = nullptr;  // or
  std::string name;                         // a copy of a dynamic name
  absl::string_view text() const {
    return static_name != nullptr ? static_name->str()
                                  : absl::string_view(name);
  }
};

// A goroutine: a thread's own activity, or a fiber (a unit of work with
// its own stack of regions that runs on whichever thread resumes it).
struct GState {
  uint64_t id = 0;
  SpinLock mu;
  // Guarded by mu (I5).
  format::GoStatus state = format::kGoRunning;
  uint64_t traced_gen[2] = {0, 0};  // generation whose status is written
  uint64_t seq[2] = {0, 0};         // last sequence number per parity
  uint64_t m = format::kNoThread;   // thread it runs on (Running/Syscall)
  // Blocked in a ScopedBlock (or a traced wait) on a thread, as that
  // thread's blocked_g: only that thread runs it again (I10).
  bool scope_blocked = false;
  // Only the thread running the G touches these.
  std::vector<OpenRegion> regions;
  uint64_t region_count = 0;  // regions begun, for their tokens
  // The G to run again when this fiber leaves its thread (a reference,
  // I8). Changed by the thread running the fiber, or switching into it.
  GState* resumer = nullptr;

  // Fibers only (thread Gs live in their ThreadState).
  bool fiber = false;
  std::string name;
  uint64_t session = 0;               // trace the fiber belongs to
  std::atomic<bool> dead{false};      // ended (or abandoned): never runs
  std::atomic<bool> released{false};  // the user's handle is gone
  std::atomic<int> refs{0};           // I8
  GState* next = nullptr;             // Runtime::fibers_ list
};

// References to a G (I8). The last access to a G must come before Unref.
inline void Ref(GState* g) { g->refs.fetch_add(1, std::memory_order_relaxed); }
inline void Unref(GState* g) {
  if (g != nullptr) g->refs.fetch_sub(1, std::memory_order_release);
}

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
  // Serializes flushing this thread's buffers between the advancer and
  // the thread's own exit.
  std::mutex flush_mu;

  // Bounds of the thread's stack, for the frame-pointer walk.
  uintptr_t stack_lo = 0;
  uintptr_t stack_hi = 0;

  // Lifecycle.
  std::atomic<bool> exited{false};
  uint64_t exit_gen = 0;
  ThreadState* next = nullptr;  // registry list, under Runtime::threads_mu

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
// read, and safe in a signal handler.
extern __attribute__((
    tls_model("initial-exec"))) thread_local ThreadState* tls_thread;
inline bool IsThreadState(const ThreadState* ts) {
  return reinterpret_cast<uintptr_t>(ts) > 1;
}

// Sets cur_g; the caller moves the references (I8).
inline void SetCurrentG(ThreadState* ts, GState* g) {
  ts->cur_g = g;
  ts->running_goid.store(g != nullptr ? g->id : 0, std::memory_order_relaxed);
}

// Encodes an event (type, time delta, args) at time `now` into a buffer
// that has room for it (see Runtime::Reserve). Async-signal-safe.
template <typename... Args>
inline void EmitAt(TraceBuf* b, uint64_t now, uint8_t type, Args... args) {
  const uint64_t dt = now > b->last_time ? now - b->last_time : 0;
  if (now > b->last_time) b->last_time = now;
  b->Byte(type);
  b->Varint(dt);
  (b->Varint(static_cast<uint64_t>(args)), ...);
}
// The same, now.
template <typename... Args>
inline void Emit(TraceBuf* b, uint8_t type, Args... args) {
  EmitAt(b, Now(), type, args...);
}

// Holds a thread's seqlock for the scope of writing events (Go's
// traceLocker). ok() is false when tracing is off; then nothing may be
// written. On the way in, a thread registered in an earlier trace session
// registers again (I9), and a fiber running here whose handle is gone
// ends (I10).
class TraceLocker {
 public:
  // kKeepSession: a thread of an earlier session is not registered again
  // (ok() is false); for the thread's exit.
  enum Mode { kRegister, kKeepSession };
  explicit TraceLocker(ThreadState* ts, Mode mode = kRegister);
  ~TraceLocker() {
    if (ts_ != nullptr) {
      ts_->seqlock.store(ts_->seqlock.load(std::memory_order_relaxed) + 1,
                         std::memory_order_release);
    }
  }
  TraceLocker(const TraceLocker&) = delete;
  TraceLocker& operator=(const TraceLocker&) = delete;
  bool ok() const { return gen_ != 0; }
  uint64_t gen() const { return gen_; }
  ThreadState* thread() const { return ts_; }

 private:
  ThreadState* ts_ = nullptr;
  uint64_t gen_ = 0;
};

// The global runtime (Go's `trace` variable). One per process; replaced
// in a forked child.
class Runtime {
 public:
  static Runtime& Get() { return *instance_; }

  absl::Status Start(const Options& options);
  absl::Status Stop();
  Stats GetStats();

  // Ends the current generation now, as the advancer does every
  // generation_period: asks the advancer to advance and returns once the
  // generation that was current at the call is complete on the
  // destination (later generations may be complete too: requests that
  // meet are served by one advance). May be called from any thread except
  // gentrace's own (the writer, which runs Options::callback, and the
  // advancer), and not where Stop may not (gentrace.h): it then fails
  // with FailedPrecondition, as it does if tracing is off, or stops before
  // the advance (the final advance of Stop also completes the generation:
  // that is success). If the destination failed, returns its error once
  // tracing has stopped.
  absl::Status AdvanceNow();

  // The calling thread's state, registering it in the current session if
  // needed. Null if tracing is off or the thread is exiting.
  ThreadState* CurrentThread();

  // The current generation (0 = off).
  uint64_t gen() const { return gen_.load(std::memory_order_acquire); }
  // The same, ordered after a seqlock RMW (I1, I2): a plain load on x86.
  uint64_t gen_seq_cst() const { return gen_.load(std::memory_order_seq_cst); }
  const Options& options() const { return options_; }

  // Event writing (call with a TraceLocker held; see I1). Reserve makes
  // room for `bytes` and writes the thread's statuses first if this is its
  // first event in the generation.
  TraceBuf* Reserve(TraceLocker& tl, size_t bytes) {
    ThreadState* ts = tl.thread();
    const uint64_t gen = tl.gen();
    TraceBuf* b = ts->buf[gen & 1];
    if (__builtin_expect(b != nullptr && b->available() >= bytes, 1)) return b;
    return ReserveSlow(tl, bytes);
  }

  // Ids in the current generation's tables.
  uint64_t StringId(TraceLocker& tl, absl::string_view s);
  uint64_t StaticStringId(TraceLocker& tl, const StaticName& name);
  // Writes s as a new string (never deduplicated; for log messages).
  uint64_t UniqueStringId(TraceLocker& tl, absl::string_view s);
  // If `want`, walks the stack from frame pointer `fp` (the API entry
  // function's frame, so the first PC is the caller's) and returns its id;
  // otherwise 0.
  uint64_t StackId(TraceLocker& tl, bool want, void* fp) {
    return want ? CaptureStackId(tl, fp) : 0;
  }

  // G transitions of the thread's own G, with events (I4, I5). Block and
  // EnterSyscall return false (and write nothing) if the G is not running.
  bool Block(TraceLocker& tl, absl::string_view reason, void* fp);
  void Unblock(TraceLocker& tl, void* fp);
  bool EnterSyscall(TraceLocker& tl, void* fp);
  void ExitSyscall(TraceLocker& tl);

  // Fibers (see gentrace.h). Each returns false, writing nothing, on
  // misuse (a fiber of another trace, resumed twice, not running here...).
  GState* FiberCreate(TraceLocker& tl, absl::string_view name, bool blocked,
                      void* fp);
  bool FiberResume(TraceLocker& tl, GState* fiber, void* fp);
  bool FiberLeave(TraceLocker& tl, GState* fiber, format::EventType how,
                  absl::string_view reason, void* fp);
  bool FiberWake(TraceLocker& tl, GState* fiber, void* fp);
  bool CoroutineSwitch(TraceLocker& tl, GState* target, bool destroy_current);
  // Drops the user's handle (I8). A fiber on no thread is dead from now
  // on; one on a thread is ended by that thread (I10).
  void FiberRelease(GState* fiber);
  // Ends the fibers running on this thread whose handles are gone, and
  // then those that run again after them (I10).
  void EndReleasedFibers(TraceLocker& tl);
  uint64_t session() const {
    return session_atomic_.load(std::memory_order_relaxed);
  }

  // Thread exit: final events and buffer flush (Go's traceThreadDestroy).
  void ThreadExit(ThreadState* ts);
  void SetThreadName(absl::string_view name);

  // Fork handling: the child starts with tracing off and fresh state.
  static void AtForkChild();

  // For the CPU-sample bridge (tracecpu.cc): buffers and stacks of a
  // generation the caller may write to (C1, C2).
  TraceBuf* NewBuf(uint64_t gen, uint64_t m, uint8_t exp = 0);
  void FlushBuf(TraceBuf* b);  // hands a finished buffer to the writer
  uint64_t PutStack(uint64_t gen, const uintptr_t* pcs, int n,
                    bool exact_first) {
    return stacks_[gen & 1].Put(pcs, n, exact_first);
  }

 private:
  Runtime() = default;
  friend class RuntimeInit;

  friend class TraceLocker;

  ThreadState* Register(ThreadState* ts);
  // Sets fiber's resumer link (Ref), returning the previous one, whose
  // reference the caller drops when done with it. Under fiber->mu.
  static GState* SetResumer(GState* fiber, GState* resumer);
  void AttachSampler();
  // With g->mu held: g's status for this generation, if not written yet
  // (I4). The caller's buffer must have room for kMaxEventBytes.
  void EnsureGStatus(TraceLocker& tl, TraceBuf* b, GState* g);
  // Takes g->mu: the running g blocks (GoBlock), in a scope if `scope`;
  // false if it was not running. The caller's buffer must have room for 2
  // events. cur_g's reference to g becomes the caller's.
  bool BlockRunning(TraceLocker& tl, TraceBuf* b, GState* g, uint64_t reason_id,
                    uint64_t stack, bool scope);
  // With g->mu held: g (Waiting or Runnable) runs on this thread now, as
  // cur_g (which was null), with a reference of its own.
  void StartHere(TraceLocker& tl, TraceBuf* b, GState* g, uint64_t stack);
  uint64_t CaptureStackId(TraceLocker& tl, void* fp);
  TraceBuf* ReserveSlow(TraceLocker& tl, size_t bytes);
  void WriteThreadStatus(TraceLocker& tl, TraceBuf* b);
  uint64_t AllocProc();

  // Advancer and writer threads.
  void AdvancerLoop();
  void WriterLoop();
  void Advance(bool stop);
  // Frees exited threads that no generation can refer to any more (all of
  // them if `all`); under threads_mu_.
  void ReclaimExitedThreads(uint64_t gen, bool all);
  // Writes gen's own batches and tables; `end_time` is the stamp taken
  // just after the switch out of gen (tracecpu.h C5).
  void FinishGeneration(uint64_t gen, uint64_t end_time);

  static Runtime* instance_;

  // Serializes Start, Stop and Advance.
  std::mutex control_mu_;
  Options options_;
  bool running_ = false;
  uint64_t session_ = 0;
  std::atomic<uint64_t> gen_{0};
  uint64_t first_gen_ = 1;
  uint64_t last_gen_ = 0;        // last generation of any trace in this process
  uint64_t gen_start_time_ = 0;  // when the current generation began
  std::atomic<uint64_t> session_atomic_{0};  // session_, for CurrentThread

  // Registry of thread states (I7).
  std::mutex threads_mu_;
  ThreadState* threads_ = nullptr;
  uint64_t threads_seen_ = 0;
  // P ids: free ones become reusable two generations after their thread
  // exited, so a P never gets two statuses in one generation.
  uint64_t next_proc_ = 1;
  // The last generation (by parity) in which some thread wrote an event.
  std::atomic<uint64_t> gen_active_[2] = {{0}, {0}};
  std::vector<std::pair<uint64_t, uint64_t>> free_procs_;  // (proc, gen)
  std::atomic<uint64_t> next_goid_{1};
  // Fibers, under fibers_mu_ (freed by the advancer, I8).
  std::mutex fibers_mu_;
  GState* fibers_ = nullptr;

  // Per-generation tables, by parity.
  StringTable strings_[2];
  StackTable stacks_[2];
  StackSymbolizer symbolizer_;

  // Buffers: pool, and finished ones per generation parity for the writer.
  BufPool pool_;
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  BufQueue full_[2];
  uint64_t writer_gen_ = 0;     // generation the writer is draining
  uint64_t completed_gen_ = 0;  // last generation whose buffers are all queued
  uint64_t written_gen_ = 0;    // last generation fully written
  bool writer_exit_ = false;
  std::unique_ptr<Sink> sink_;
  absl::Status sink_error_;  // first failure; under queue_mu_
  std::atomic<bool> sink_failed_{false};
  uint64_t generations_written_ = 0;

  // CPU samples (tracecpu.h), when Options::cpu.enabled.
  CpuProfiler cpu_{this};
  std::atomic<bool> cpu_active_{false};

  std::thread advancer_;
  std::thread writer_;
  std::mutex advancer_mu_;
  std::condition_variable advancer_cv_;
  // Under advancer_mu_: Stop asks the advancer to finish; AdvanceNow's
  // requests (tickets) and the last one an advance has served; whether the
  // advancer has returned (or not been started).
  bool advancer_stop_ = false;
  uint64_t advance_requested_ = 0;
  uint64_t advance_served_ = 0;
  bool advancer_exited_ = true;
  std::condition_variable advance_done_cv_;
};

// Runtime::AdvanceNow for tests: makes a generation boundary fall exactly
// where a test needs it, instead of sleeping for one.
absl::Status AdvanceGenerationForTesting();

// Tests only: `hook` runs at the start of every TraceLocker, before the
// seqlock is taken: in every API call, right after CurrentThread. Null
// removes it.
void SetTraceLockerHookForTesting(void (*hook)());

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_INTERNAL_RUNTIME_H_
