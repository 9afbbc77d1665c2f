// The two words every traced call reads before it writes: the current
// generation (Go's trace.gen) and the trace session threads register in.
//
// They are process globals (g_trace), like Enabled()'s flag, so that the
// hot path reads them with one load each, not through the Runtime object.
// Who writes them: Runtime::Start (a new session, then its first
// generation), the advancer (every switch, and 0 at the end of a trace),
// the crash path (0 while it completes the current generation, with the
// control lock held; crash_completion.h), and a forked child (generation 0; it
// keeps the rest, so its traces and sessions continue its parent's numbering).
#ifndef GENTRACE_TRACER_INTERNAL_TRACE_STATE_H_
#define GENTRACE_TRACER_INTERNAL_TRACE_STATE_H_

#include <atomic>
#include <cstdint>

namespace gentrace::internal {

class TraceState {
 public:
  constexpr TraceState() = default;
  TraceState(const TraceState&) = delete;
  TraceState& operator=(const TraceState&) = delete;

  // The current generation (0 = tracing is off).
  uint64_t gen() const { return gen_.load(std::memory_order_acquire); }
  // The same, ordered after a seqlock RMW (I1, I2): a plain load on x86.
  uint64_t gen_seq_cst() const { return gen_.load(std::memory_order_seq_cst); }
  // The session of the current (or last) trace; 0 before the first. A
  // thread registered in another session registers again (I9).
  uint64_t session() const { return session_.load(std::memory_order_relaxed); }

  // Starts a new session (Start, before it publishes the first generation:
  // a thread that reads that generation sees the new session, I9).
  uint64_t NewSession() {
    const uint64_t s = session() + 1;
    session_.store(s, std::memory_order_relaxed);
    return s;
  }
  // The highest generation published in this process so far, across
  // traces (and, in a forked child, its parent's). A new trace starts above
  // it: ids cached per generation (a StaticName's, the threads' caches)
  // must never be taken for ids of a later trace.
  uint64_t last_gen() const {
    return last_gen_.load(std::memory_order_relaxed);
  }

  // Publishes generation `gen` (0: tracing off). A full barrier against
  // the seqlocks (I2). Callers are serialized (Start, the advancer: the
  // control lock; a forked child: alone).
  void SetGen(uint64_t gen) {
    if (gen > last_gen()) last_gen_.store(gen, std::memory_order_relaxed);
    gen_.store(gen, std::memory_order_seq_cst);
  }
  // The crash path's (crash_completion.h), with the control lock held so
  // that no other caller of SetGen runs: generation `from` becomes `to`
  // (0 while it completes the generation: no thread starts writing any
  // more), unless it is not `from`. A full barrier, as SetGen.
  // Async-signal-safe.
  bool SwapGen(uint64_t from, uint64_t to) {
    return gen_.compare_exchange_strong(from, to, std::memory_order_seq_cst);
  }

 private:
  std::atomic<uint64_t> gen_{0};
  std::atomic<uint64_t> session_{0};
  std::atomic<uint64_t> last_gen_{0};
};

// The process's words (defined in runtime.cc).
extern TraceState g_trace;

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_INTERNAL_TRACE_STATE_H_
