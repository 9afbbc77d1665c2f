// Completing the current generation at a crash: after the flight
// recorder's ring has written its whole generations into the crash dump
// (GenerationRing::WriteCrashSnapshot), the generation being recorded at
// the crash is written after them, whole, so that the events logged just
// before the crash are in the dump. Everything here runs in the crash
// handler's dump callback (tracer/crash_handler.h): async-signal-safe,
// with no allocation, no lock it waits for, no symbolizer, and every wait
// bounded by a deadline.
//
// The steps, in order (Prepare, then the ring's snapshot, then Finish):
//
//  1. The control lock (Runtime::control_mu_), tried until a deadline: no
//     advance, Start or Stop runs from then on, so the current generation
//     G does not end, no table is reset and no thread state is freed (I7).
//     Not taken in time (an advance is running or stuck, or the crash is
//     inside one): no completion.
//  2. The crashing thread must not be inside the tracer (its seqlock
//     even): otherwise its buffers and the tables may be mid-change, and
//     there is no completion.
//  3. The generation is switched from G to 0 (TraceState::SwapGen): a
//     thread that takes its seqlock from then on reads 0 and writes
//     nothing (I1). Each thread that was inside the tracer is waited for
//     until its seqlock is even or has changed (I2's test), until a
//     deadline; after that its buffers are left out (counted as skipped).
//  4. The writer's lock, tried until a deadline: no batch is taken off or
//     put on the queue from then on. The writer must be on G (it is: G-1
//     was complete before G's advance returned, I3).
//
// Then the caller writes the ring's snapshot with include_active, which
// holds the ring's whole generations and the whole Appends of G the
// writer thread delivered (R4). Finish checks that those Appends are
// exactly the batches the writer took of G, or all but the one in flight
// (which is then written from the writer's buffer), and that the ring's
// newest whole generation is G-1 (or that it holds none). Then it writes:
// the batch in flight if the ring lacks it, the queued batches of G, each
// thread's current event and string buffers of G (copied under the
// seqlock: read it even, copy, read it again; retried a few times, else
// the thread's buffers are skipped), G's Frequency batch, an idle filler
// status if G has no event at all (Go's parser refuses an empty
// generation), gentrace's info batch (G's span, the threads' ids, Ps, Gs
// and names where the name's lock is free, and the loaded modules as the
// last advance recorded them, from ModuleList's pre-encoded copy), and
// G's stack and string
// tables, walked without locks (TraceMap::ForEach). Stack frames are
// written as bare PCs: function and file are the empty string (id 0),
// line 0, since nothing may symbolize here (`gentrace symbolize` names
// them later from the binaries, by the module records).
//
// When a check fails after the ring wrote G's Appends, the file is cut
// back to the end of the whole generations (ftruncate), so the dump is
// what it would be without completion. Release undoes steps 4, 3 and 1
// (the ring stays frozen) in case the process goes on after the dump.
//
// Not in the completed generation: CPU samples not yet handed to the
// writer (the profiler writes them at the generation's end), the
// end-of-generation sweep of statuses (only needed by a window starting
// at G, and G is the last generation of the dump), fibers' names.
#ifndef GENTRACE_TRACER_INTERNAL_CRASH_COMPLETION_H_
#define GENTRACE_TRACER_INTERNAL_CRASH_COMPLETION_H_

#include <sys/types.h>

#include <cstdint>

#include "tracer/internal/generation_ring.h"

namespace gentrace::internal {

struct ThreadState;

struct CrashCompletionResult {
  bool completed = false;
  // Why not, if not: a static string.
  const char* reason = nullptr;
  uint64_t gen = 0;              // the generation completed (or tried)
  uint64_t bytes = 0;            // written after the ring's snapshot
  uint64_t ring_batches = 0;     // of G, from the ring (its whole Appends)
  uint64_t queued_batches = 0;   // of G, from the writer (in flight, queued)
  uint64_t thread_buffers = 0;   // threads' current buffers written
  uint64_t threads_skipped = 0;  // threads whose buffers were left out
  uint64_t stacks = 0;
  uint64_t strings = 0;
  int error = 0;  // errno of a failed write, if any
};

class CrashCompletion {
 public:
  CrashCompletion() = default;
  CrashCompletion(const CrashCompletion&) = delete;
  CrashCompletion& operator=(const CrashCompletion&) = delete;

  // Steps 1-4 above. `crash_tid` is the crashing thread; every wait ends
  // by `deadline_ns` (CLOCK_MONOTONIC). False, with result().reason, when
  // the generation cannot be completed; then nothing is held.
  bool Prepare(int crash_tid, uint64_t deadline_ns);
  // After a successful Prepare and the ring's crash snapshot (`ring`,
  // written to fd from offset `start`): writes the rest of the generation,
  // or cuts the file back to the whole generations if the ring's part
  // does not fit with the rest.
  void Finish(int fd, off_t start, const CrashSnapshotResult& ring);
  // Gives back what Prepare took: the tracer may go on (not the ring,
  // which the snapshot froze). Idempotent.
  void Release();

  const CrashCompletionResult& result() const { return result_; }

 private:
  bool Fail(const char* reason);
  // Writes one thread's buffer of gen (event or strings), copied under the
  // seqlock; false if it never got a stable copy.
  bool WriteThreadBuffer(int fd, ThreadState* ts, bool strings);

  CrashCompletionResult result_;
  bool held_control_ = false;
  bool swapped_gen_ = false;
  bool held_writer_ = false;
  uint64_t deadline_ns_ = 0;
  uint64_t copy_until_ = 0;  // WriteThreadBuffer waits no longer
  int crash_tid_ = 0;
};

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_INTERNAL_CRASH_COMPLETION_H_
