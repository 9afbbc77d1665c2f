// The trace clock: one tick source for events and CPU samples.
//
// Where the CPU has an invariant TSC (constant_tsc and nonstop_tsc, and the
// kernel itself uses the TSC as its clocksource), a tick is the TSC shifted
// right so that ticks are about 5-10 ns: reading it costs one rdtsc, and
// small deltas keep events short on the wire. Elsewhere ticks come from
// CLOCK_MONOTONIC in units of 8 ns. Each generation records the tick
// frequency (a Frequency batch), measured against CLOCK_MONOTONIC when the
// clock is initialized.
//
// Now() is async-signal-safe.
#ifndef GENTRACE_TRACER_INTERNAL_CLOCK_H_
#define GENTRACE_TRACER_INTERNAL_CLOCK_H_

#include <time.h>

#include <cstdint>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace gentrace::internal {

enum class ClockSource : uint8_t { kTsc, kMonotonic };

struct ClockConfig {
  ClockSource source = ClockSource::kMonotonic;
  unsigned shift = 3;  // ticks = raw >> shift
  uint64_t ticks_per_second = 125000000;
};

// Set once by InitClock() before tracing starts; read on every event.
extern ClockConfig g_clock;

// Chooses the source and measures its frequency (about 20 ms the first
// time; later calls return at once). Not async-signal-safe.
void InitClock();

// A human-readable description ("tsc >> 4, 156.2 MHz").
const char* ClockDescription();

// CLOCK_MONOTONIC in nanoseconds. Async-signal-safe.
uint64_t MonotonicNanos();

// The current time in ticks. Async-signal-safe.
inline uint64_t Now() {
#if defined(__x86_64__)
  if (g_clock.source == ClockSource::kTsc) return __rdtsc() >> g_clock.shift;
#endif
  return MonotonicNanos() >> g_clock.shift;
}

// Forces a source (tests use it to exercise the fallback). Call before
// InitClock() or between traces.
void ForceClockSourceForTesting(ClockSource source);

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_INTERNAL_CLOCK_H_
