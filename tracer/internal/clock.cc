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
char g_description[160] = "uninitialized";

// Whether the CPU's TSC ticks at a constant rate in every power state.
bool TscIsInvariant() {
#if defined(__x86_64__)
  static const bool invariant = [] {
    const std::string cpuinfo = base::ReadSmallFile("/proc/cpuinfo");
    return cpuinfo.find(" constant_tsc") != std::string::npos &&
           cpuinfo.find(" nonstop_tsc") != std::string::npos;
  }();
  return invariant;
#else
  return false;
#endif
}

// The kernel's clocksource ("tsc", "kvm-clock", ...).
std::string KernelClocksource() {
  std::string cs = base::ReadSmallFile(
      "/sys/devices/system/clocksource/clocksource0/current_clocksource");
  while (!cs.empty() && (cs.back() == '\n' || cs.back() == ' ')) cs.pop_back();
  return cs.empty() ? "unknown" : cs;
}

#if defined(__x86_64__)
// Raw TSC ticks per second, measured against CLOCK_MONOTONIC over ~20 ms,
// once.
double TscHz() {
  static double hz = 0;
  if (hz > 0) return hz;
  const uint64_t t0 = MonotonicNanos();
  const uint64_t c0 = __rdtsc();
  uint64_t t1 = t0;
  while (t1 - t0 < 20000000) {
    usleep(2000);
    t1 = MonotonicNanos();
  }
  const uint64_t c1 = __rdtsc();
  hz = static_cast<double>(c1 - c0) * 1e9 / static_cast<double>(t1 - t0);
  return hz;
}
#endif

}  // namespace

bool InitClock(ClockRequest request, std::string* error) {
  std::lock_guard<std::mutex> l(g_clock_mu);
  bool tsc = false;
  std::string why;
  switch (request) {
    case ClockRequest::kMonotonic:
      why = "asked for";
      break;
    case ClockRequest::kTsc:
      if (!TscIsInvariant()) {
        *error =
#if defined(__x86_64__)
            "the TSC clock was asked for, but this CPU's TSC is not "
            "invariant (/proc/cpuinfo lacks constant_tsc or nonstop_tsc)";
#else
            "the TSC clock was asked for, but there is no TSC on this "
            "architecture";
#endif
        return false;
      }
      tsc = true;
      why = "asked for";
      break;
    case ClockRequest::kAuto: {
      const std::string cs = KernelClocksource();
      if (!TscIsInvariant()) {
        why = "auto: the TSC is not invariant";
      } else if (cs.rfind("tsc", 0) == 0) {
        tsc = true;
        why = "auto: the kernel's clocksource is tsc";
      } else {
        why = "auto: the kernel's clocksource is " + cs +
              "; GENTRACE_CLOCK=tsc for the TSC";
      }
      break;
    }
  }
  ClockConfig c;
#if defined(__x86_64__)
  if (tsc) {
    const double hz = TscHz();
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
#endif
  if (!tsc) {
    c.source = ClockSource::kMonotonic;
    c.shift = 3;
    c.ticks_per_second = 1000000000u >> 3;
  }
  g_clock = c;
  std::snprintf(g_description, sizeof(g_description), "%s >> %u, %.1f MHz (%s)",
                c.source == ClockSource::kTsc ? "tsc" : "CLOCK_MONOTONIC",
                c.shift, static_cast<double>(c.ticks_per_second) / 1e6,
                why.c_str());
  return true;
}

void InitClock() {
  std::string error;
  (void)InitClock(ClockRequest::kAuto, &error);
}

std::string ClockDescription() {
  std::lock_guard<std::mutex> l(g_clock_mu);
  return g_description;
}

}  // namespace gentrace::internal
