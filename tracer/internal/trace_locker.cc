// The seqlock protocol's slow paths; see trace_locker.h.
#include "tracer/internal/trace_locker.h"

#include "tracer/internal/runtime.h"

namespace gentrace::internal {

std::atomic<void (*)()> g_locker_hook{nullptr};

void SetTraceLockerHookForTesting(void (*hook)()) {
  g_locker_hook.store(hook, std::memory_order_relaxed);
}

bool TraceLocker::AcquireInNewSession(ThreadState* ts, Mode mode) {
  // I9: a thread registered in an earlier session (a Stop and a Start
  // since CurrentThread) must not write with that session's P and G.
  for (;;) {
    if (mode == kKeepSession) {
      gen_ = 0;
      return true;
    }
    ts->seqlock.store(ts->seqlock.load(std::memory_order_relaxed) + 1,
                      std::memory_order_release);
    if (Runtime::Get().threads().Register(ts) == nullptr) {
      gen_ = 0;  // tracing is off again
      return false;
    }
    ts->seqlock.fetch_add(1, std::memory_order_seq_cst);
    gen_ = g_trace.gen_seq_cst();
    if (gen_ == 0 || ts->session == g_trace.session()) return true;
  }
}

void TraceLocker::EndReleasedFibers() {
  Runtime::Get().goroutines().EndReleasedFibers(*this);
}

TraceBuf* TraceLocker::ReserveSlow() {
  Writer& writer = Runtime::Get().writer();
  TraceBuf*& slot = ts_->buf[gen_ & 1];
  if (slot != nullptr) writer.FlushBuf(slot);  // full
  slot = writer.NewBuf(gen_, static_cast<uint64_t>(ts_->tid));
  if (ts_->proc_traced_gen[gen_ & 1].load(std::memory_order_relaxed) != gen_) {
    Runtime::Get().goroutines().WriteThreadStatus(*this, slot);
  }
  return slot;
}

}  // namespace gentrace::internal
