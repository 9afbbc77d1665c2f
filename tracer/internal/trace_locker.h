// The seqlock protocol every event is written under (Go's traceAcquire and
// traceRelease, runtime/traceruntime.go), and the event encoder (Go's
// traceEventWriter, traceevent.go). Invariants are numbered as in
// runtime.h.
//
//  I1. A thread writes trace events only between TraceAcquire and
//      TraceRelease on its own ThreadState (a TraceLocker's lifetime): its
//      seqlock is odd exactly while it may touch its buffers, and the
//      generation it writes to is the one it read after making the seqlock
//      odd. The advancer relies on it to know when a thread has left a
//      generation (I2, advancer.h).
//  I9. A thread writes only into the trace session it is registered in:
//      TraceLocker checks the thread's session after making its seqlock
//      odd (so Stop cannot end that session meanwhile, I2) and registers
//      the thread again if a Stop and Start came in between.
#ifndef GENTRACE_TRACER_INTERNAL_TRACE_LOCKER_H_
#define GENTRACE_TRACER_INTERNAL_TRACE_LOCKER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "tracer/internal/clock.h"
#include "tracer/internal/goroutines.h"
#include "tracer/internal/thread_registry.h"
#include "tracer/internal/trace_buf.h"
#include "tracer/internal/trace_state.h"

namespace gentrace::internal {

// Tests only (SetTraceLockerHookForTesting).
extern std::atomic<void (*)()> g_locker_hook;

// Holds a thread's seqlock for the scope of writing events (Go's
// traceLocker). ok() is false when tracing is off; then nothing may be
// written. On the way in, a thread registered in an earlier trace session
// registers again (I9), and a fiber running here whose handle is gone
// ends (I10, goroutines.h).
class TraceLocker {
 public:
  // kKeepSession: a thread of an earlier session is not registered again
  // (ok() is false); for the thread's exit.
  enum Mode { kRegister, kKeepSession };
  explicit TraceLocker(ThreadState* ts, Mode mode = kRegister) {
    if (void (*hook)() = g_locker_hook.load(std::memory_order_relaxed)) {
      hook();
    }
    // I1: make the seqlock odd, then read the generation. The RMW is a
    // full barrier, so the advancer that stores a new generation and then
    // reads our seqlock cannot miss us.
    ts->seqlock.fetch_add(1, std::memory_order_seq_cst);
    gen_ = g_trace.gen_seq_cst();
    // I9: Start publishes the session before the generation, so a thread
    // that reads the new generation sees the new session.
    if (__builtin_expect(gen_ != 0 && ts->session != g_trace.session(), 0) &&
        !AcquireInNewSession(ts, mode)) {
      return;
    }
    ts_ = ts;
    // I10: a fiber running here whose handle is gone ends before this
    // event.
    if (GState* g = ts->cur_g; gen_ != 0 && g != nullptr &&
                               g->released.load(std::memory_order_relaxed)) {
      EndReleasedFibers();
    }
  }
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

  // A buffer of this generation with room for `bytes` (at most a few
  // events) for the thread to write into (Go's traceWriter.ensure). The
  // thread's first event in a generation gets its statuses first (I4).
  TraceBuf* Reserve(size_t bytes) {
    TraceBuf* b = ts_->buf[gen_ & 1];
    if (__builtin_expect(b != nullptr && b->available() >= bytes, 1)) return b;
    return ReserveSlow();
  }

 private:
  // The thread is registered in an earlier session (I9): unless
  // kKeepSession, releases the seqlock, registers the thread again and
  // takes the seqlock again. False if tracing stopped meanwhile (then the
  // seqlock is not held and gen() is 0).
  bool AcquireInNewSession(ThreadState* ts, Mode mode);
  void EndReleasedFibers();
  TraceBuf* ReserveSlow();

  ThreadState* ts_ = nullptr;
  uint64_t gen_ = 0;
};

// Encodes an event (type, time delta, args) at time `now` into a buffer
// that has room for it (TraceLocker::Reserve). Async-signal-safe.
template <typename... Args>
inline void EmitAt(TraceBuf* b, uint64_t now, uint8_t type, Args... args) {
  const uint64_t last = b->last_time;
  const uint64_t dt = now > last ? now - last : 0;
  if (now > last) b->last_time = now;
  // A local cursor, stored once: a byte store through b->data may alias
  // b->pos, so writing through b->Byte/Varint reloads and stores pos at
  // every field.
  uint8_t* p = b->cursor();
  *p++ = type;
  p = format::PutUvarint(p, dt);
  ((p = format::PutUvarint(p, static_cast<uint64_t>(args))), ...);
  b->SetCursor(p);
}
// The same, now.
template <typename... Args>
inline void Emit(TraceBuf* b, uint8_t type, Args... args) {
  EmitAt(b, Now(), type, args...);
}

// Tests only: `hook` runs at the start of every TraceLocker, before the
// seqlock is taken: in every API call, right after CurrentThread. Null
// removes it.
void SetTraceLockerHookForTesting(void (*hook)());

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_INTERNAL_TRACE_LOCKER_H_
