// Trace clock selection and calibration; see clock.h.
#include "tracer/internal/clock.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

#include "base/sys.h"

namespace gentrace::internal {

ClockConfig g_clock;

uint64_t MonotonicNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<uint64_t>(ts.tv_nsec);
}

namespace {

std::mutex g_clock_mu;
bool g_clock_ready = false;
bool g_forced = false;
char g_description[96] = "uninitialized";

// The TSC is a usable trace clock only if it ticks at a constant rate in
// every power state and the kernel trusts it as its own clocksource (which
// means it found the TSCs of all CPUs synchronized).
bool TscIsUsable() {
#if defined(__x86_64__)
  std::string cpuinfo = base::ReadSmallFile("/proc/cpuinfo");
  if (cpuinfo.find(" constant_tsc") == std::string::npos ||
      cpuinfo.find(" nonstop_tsc") == std::string::npos) {
    return false;
  }
  std::string cs = base::ReadSmallFile(
      "/sys/devices/system/clocksource/clocksource0/current_clocksource");
  return cs.rfind("tsc", 0) == 0;
#else
  return false;
#endif
}

#if defined(__x86_64__)
// Raw TSC ticks per second, measured against CLOCK_MONOTONIC over ~20 ms.
double MeasureTscHz() {
  const uint64_t t0 = MonotonicNanos();
  const uint64_t c0 = __rdtsc();
  uint64_t t1 = t0;
  while (t1 - t0 < 20000000) {
    usleep(2000);
    t1 = MonotonicNanos();
  }
  const uint64_t c1 = __rdtsc();
  return static_cast<double>(c1 - c0) * 1e9 / static_cast<double>(t1 - t0);
}
#endif

}  // namespace

void ForceClockSourceForTesting(ClockSource source) {
  std::lock_guard<std::mutex> l(g_clock_mu);
  g_forced = true;
  g_clock_ready = false;
  g_clock.source = source;
}

void InitClock() {
  std::lock_guard<std::mutex> l(g_clock_mu);
  if (g_clock_ready) return;
  ClockConfig c;
  bool tsc = g_forced ? g_clock.source == ClockSource::kTsc : TscIsUsable();
#if defined(__x86_64__)
  if (tsc) {
    double hz = MeasureTscHz();
    // Shift so that one tick is at least ~5 ns: fine enough for any viewer,
    // coarse enough that back-to-back events have one-byte deltas.
    unsigned shift = 0;
    while ((hz / static_cast<double>(uint64_t{1} << (shift + 1))) >= 1.0e8) {
      ++shift;
    }
    c.source = ClockSource::kTsc;
    c.shift = shift;
    c.ticks_per_second = static_cast<uint64_t>(
        hz / static_cast<double>(uint64_t{1} << shift) + 0.5);
  }
#else
  tsc = false;
#endif
  if (!tsc) {
    c.source = ClockSource::kMonotonic;
    c.shift = 3;
    c.ticks_per_second = 1000000000u >> 3;
  }
  g_clock = c;
  std::snprintf(g_description, sizeof(g_description), "%s >> %u, %.1f MHz",
                c.source == ClockSource::kTsc ? "tsc" : "CLOCK_MONOTONIC",
                c.shift, static_cast<double>(c.ticks_per_second) / 1e6);
  g_clock_ready = true;
}

const char* ClockDescription() { return g_description; }

}  // namespace gentrace::internal
