// Goroutines: a thread's own G and the fibers and coroutines that run on
// threads (Go's g, with the status rules of runtime/tracestatus.go). This
// file owns a G's scheduling state and the events of its transitions:
// statuses (I4, I5), blocking, syscalls, fibers and coroutines, and the
// lifetime of fiber Gs (I8, I10). Invariants are numbered as in
// runtime.h.
//
//  I4. Each G and P gets at most one status event per generation, written
//      before any event with a sequence number for it in that generation:
//      either lazily by the first writer that touches it (EnsureGStatus,
//      WriteThreadStatus), or by the advancer's end-of-generation sweep if
//      nobody did.
//  I5. A G's scheduling state, its per-generation "status traced" marks
//      and sequence numbers change only under its lock; a transition in
//      generation N marks the status traced in N first. So a snapshot of
//      an untraced G taken under the lock before the switch is its state
//      for all of N (the advancer's sweep relies on it).
//  I8. A fiber's GState is freed only by the advancer (ReclaimFibers),
//      and only once nothing outside the fiber list points to
//      it: `refs` counts the user's handle, the thread whose cur_g or
//      blocked_g it is, and the G whose `resumer` it is. The advancer's
//      own pointers (the snapshot of its first step, the info batch) live
//      within one Advance, which is also where it frees. Whoever drops a
//      reference touches the G no more afterwards. A thread's own G is
//      counted the same way, for I7 (thread_registry.h).
//  I10. A fiber whose handle is destroyed while it is on a thread (running
//      or in a syscall there, or blocked in a scope there) stays that
//      thread's: the thread ends it (GoDestroy) at its next traced event
//      (TraceLocker, or when the scope ends). A fiber that is on no thread
//      is ended by the thread destroying the handle.
#ifndef GENTRACE_TRACER_INTERNAL_GOROUTINES_H_
#define GENTRACE_TRACER_INTERNAL_GOROUTINES_H_

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "format/spec.h"
#include "tracer/gentrace.h"
#include "tracer/internal/trace_buf.h"

namespace gentrace::internal {

class ThreadRegistry;
class TraceLocker;
class TraceTables;

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
  GState* next = nullptr;             // Goroutines' fiber list
};

// References to a G (I8). The last access to a G must come before Unref.
inline void Ref(GState* g) { g->refs.fetch_add(1, std::memory_order_relaxed); }
inline void Unref(GState* g) {
  if (g != nullptr) g->refs.fetch_sub(1, std::memory_order_release);
}

// The Gs of the trace and their transitions. Every call that writes takes
// the TraceLocker of the calling thread (I1) and acts on the G running on
// it (its cur_g), or on a fiber the call names.
class Goroutines {
 public:
  // `threads` for the calling thread's state (FiberRelease); `tables` for
  // block reasons and stacks.
  Goroutines(ThreadRegistry* threads, TraceTables* tables)
      : threads_(threads), tables_(tables) {}
  Goroutines(const Goroutines&) = delete;
  Goroutines& operator=(const Goroutines&) = delete;

  // Start: which events carry a stack in this trace.
  void BeginSession(const StackOptions& stacks) { stacks_ = stacks; }
  // A new goroutine id (thread Gs and fibers share one sequence).
  uint64_t NewId() {
    return next_goid_.fetch_add(1, std::memory_order_relaxed);
  }

  // I4: the thread's first event in the generation. Writes its P's and
  // G's statuses (or, the first time in this trace, the events that bring
  // them into existence), and the status of a fiber running there, into
  // `b`, which is fresh.
  void WriteThreadStatus(TraceLocker& tl, TraceBuf* b);
  // Whether some thread wrote an event in `gen` (for the advancer's
  // filler: Go's parser rejects an empty generation).
  bool AnyThreadWrote(uint64_t gen) const {
    return gen_active_[gen & 1].load(std::memory_order_relaxed) == gen;
  }

  // Transitions of the G running on the calling thread, with events (I4,
  // I5). Block and EnterSyscall return false (and write nothing) if no G
  // is running.
  // `at`: the time of the GoBlock / GoSyscallBegin in ticks, for a wait
  // recorded once it is over (gentrace run's interposed calls); 0 is now.
  // An earlier time than the thread's last event in the batch is clamped
  // to it.
  bool Block(TraceLocker& tl, absl::string_view reason, void* fp,
             uint64_t at = 0);
  void Unblock(TraceLocker& tl, void* fp);
  bool EnterSyscall(TraceLocker& tl, void* fp, uint64_t at = 0);
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

  // The thread's last events (part of Go's traceThreadDestroy): fibers
  // left running here leave, a block or syscall scope left open ends, and
  // the thread's own G ends with its P.
  void EndThread(TraceLocker& tl);

  // The advancer's. Calls fn(GState*) for every fiber, under the list's
  // lock.
  template <typename F>
  void ForEachFiber(F fn) {
    std::lock_guard<std::mutex> l(fibers_mu_);
    for (GState* g = fibers_; g != nullptr; g = g->next) fn(g);
  }
  // Frees the fibers nothing points to any more (I8), dropping their
  // links to their resumers (which may then be freed next time).
  void ReclaimFibers();

 private:
  // With g->mu held: g's status for this generation, if not written yet
  // (I4). The caller's buffer must have room for kMaxEventBytes.
  void EnsureGStatus(TraceLocker& tl, TraceBuf* b, GState* g);
  // Takes g->mu: the running g blocks (GoBlock), in a scope if `scope`;
  // false if it was not running. The caller's buffer must have room for 2
  // events. cur_g's reference to g becomes the caller's.
  bool BlockRunning(TraceLocker& tl, TraceBuf* b, GState* g, uint64_t reason_id,
                    uint64_t stack, bool scope, uint64_t at = 0);
  // With g->mu held: g (Waiting or Runnable) runs on this thread now, as
  // cur_g (which was null), with a reference of its own: a new one, or
  // with `adopt_ref` the caller's (a block scope's ending hands over
  // blocked_g's, which saves two atomic read-modify-writes per unblock).
  void StartHere(TraceLocker& tl, TraceBuf* b, GState* g, uint64_t stack,
                 bool adopt_ref = false);
  // Sets fiber's resumer link (Ref), returning the previous one, whose
  // reference the caller drops when done with it. Under fiber->mu.
  static GState* SetResumer(GState* fiber, GState* resumer);

  ThreadRegistry* const threads_;
  TraceTables* const tables_;
  StackOptions stacks_;
  std::atomic<uint64_t> next_goid_{1};
  // The last generation (by parity) in which some thread wrote an event.
  std::atomic<uint64_t> gen_active_[2] = {{0}, {0}};
  // Fibers (freed by the advancer, I8).
  std::mutex fibers_mu_;
  GState* fibers_ = nullptr;
};

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_INTERNAL_GOROUTINES_H_
