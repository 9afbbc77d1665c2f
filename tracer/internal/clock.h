// The trace clock: one tick source for events and CPU samples.
//
// Each trace chooses its clock when it starts (InitClock, from
// Options::clock). With the TSC, a tick is the TSC shifted right so that
// ticks are about 5-10 ns: reading it costs one rdtsc, and small deltas
// keep events short on the wire. Otherwise ticks come from
// CLOCK_MONOTONIC in units of 8 ns. By default the TSC is chosen where the
// CPU's is invariant (constant_tsc and nonstop_tsc) and the kernel itself
// uses it as its clocksource. Each generation records the tick frequency
// (a Frequency batch), for the TSC measured against CLOCK_MONOTONIC the
// first time it is chosen.
//
// Now() is async-signal-safe.
#ifndef GENTRACE_TRACER_INTERNAL_CLOCK_H_
#define GENTRACE_TRACER_INTERNAL_CLOCK_H_

#include <time.h>

#include <cstdint>
#include <string>

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

// Set by InitClock() before a trace starts; read on every event.
extern ClockConfig g_clock;

// What a trace asks for (Options::clock).
enum class ClockRequest : uint8_t { kAuto, kTsc, kMonotonic };

// Chooses the clock for the trace about to start and measures its
// frequency (about 20 ms the first time the TSC is chosen). Only while no
// trace runs. False, with *error saying why, if the TSC is asked for and
// this CPU has no invariant one. Not async-signal-safe.
bool InitClock(ClockRequest request, std::string* error);
// The default choice (kAuto).
void InitClock();

// A human-readable description of the clock chosen last, and why
// ("tsc >> 4, 131.0 MHz (asked for)"). A copy: a Start on another thread
// may choose again meanwhile.
std::string ClockDescription();

// CLOCK_MONOTONIC in nanoseconds. Async-signal-safe.
uint64_t MonotonicNanos();

// The current time in ticks. Async-signal-safe.
inline uint64_t Now() {
#if defined(__x86_64__)
  if (g_clock.source == ClockSource::kTsc) return __rdtsc() >> g_clock.shift;
#endif
  return MonotonicNanos() >> g_clock.shift;
}

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_INTERNAL_CLOCK_H_
