// The crash path's handshake with the parts of the runtime that change
// what it reads (crash_snapshot.h): the advancer (a generation switch,
// flushes, table resets, freeing threads and fibers) and Start and Stop
// (sessions, tables, the writer's consumers).
//
//  X1. A part changes that state only inside Enter()/Exit(), and does not
//      enter once the gate is closed. Close() returns true only once no
//      part is inside: from then on the crash path reads that state
//      without locks, and nothing changes it under it. (Dekker: Enter
//      publishes `inside_` and then reads `closed_`; Close publishes
//      `closed_` and then reads `inside_`; both seq_cst.)
//  X2. A thread that exits while the gate is closed leaves its buffers
//      where they are (ThreadRegistry::ThreadExit, inside its seqlock
//      hold), for the crash path to write.
//
// The gate is process-wide, like the trace state (trace_state.h).
#ifndef GENTRACE_TRACER_INTERNAL_CRASH_GATE_H_
#define GENTRACE_TRACER_INTERNAL_CRASH_GATE_H_

#include <time.h>

#include <atomic>
#include <cstdint>

namespace gentrace::internal {

class CrashGate {
 public:
  constexpr CrashGate() = default;
  CrashGate(const CrashGate&) = delete;
  CrashGate& operator=(const CrashGate&) = delete;

  // X1: false (and not inside) if the gate is closed.
  bool Enter() {
    inside_.fetch_add(1, std::memory_order_seq_cst);
    if (closed_.load(std::memory_order_seq_cst)) {
      inside_.fetch_sub(1, std::memory_order_release);
      return false;
    }
    return true;
  }
  void Exit() { inside_.fetch_sub(1, std::memory_order_release); }
  // Waits (polling every millisecond) until the gate is open, then enters.
  // For the advancer, which parks while a crash snapshot is taken.
  void EnterWhenOpen() {
    while (!Enter()) {
      const timespec ms = {0, 1000000};
      nanosleep(&ms, nullptr);
    }
  }

  bool closed() const { return closed_.load(std::memory_order_seq_cst); }

  // The crash path's. Closes the gate; true once no part is inside, false
  // if one still is at `deadline_ns` (CLOCK_MONOTONIC). Async-signal-safe.
  bool Close(uint64_t deadline_ns);
  // Opens the gate again (after a crash snapshot the process goes on
  // with, and in tests). Async-signal-safe.
  void Open() { closed_.store(false, std::memory_order_seq_cst); }

 private:
  std::atomic<bool> closed_{false};
  std::atomic<int> inside_{0};
};

inline bool CrashGate::Close(uint64_t deadline_ns) {
  closed_.store(true, std::memory_order_seq_cst);
  for (;;) {
    if (inside_.load(std::memory_order_acquire) == 0) return true;
    timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (static_cast<uint64_t>(now.tv_sec) * 1000000000u +
            static_cast<uint64_t>(now.tv_nsec) >=
        deadline_ns) {
      return false;
    }
    const timespec pause = {0, 200000};
    nanosleep(&pause, nullptr);
  }
}

// The process's gate (defined in runtime.cc).
extern CrashGate g_crash_gate;

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_INTERNAL_CRASH_GATE_H_
