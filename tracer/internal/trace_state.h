// The two words every traced call reads before it writes: the current
// generation (Go's trace.gen) and the trace session threads register in.
//
// They are process globals (g_trace), like Enabled()'s flag, so that the
// hot path reads them with one load each, not through the Runtime object.
// Who writes them: Runtime::Start (a new session, then its first
// generation), the advancer (every switch, and 0 at the end of a trace),
// and a forked child (generation 0).
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
  // Publishes generation `gen` (0: tracing off). A full barrier against
  // the seqlocks (I2).
  void SetGen(uint64_t gen) { gen_.store(gen, std::memory_order_seq_cst); }

 private:
  std::atomic<uint64_t> gen_{0};
  std::atomic<uint64_t> session_{0};
};

// The process's words (defined in runtime.cc).
extern TraceState g_trace;

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_INTERNAL_TRACE_STATE_H_
