// RingSampler: the process's signal-free sampler. Each attached thread gets
// its own perf counter(s) writing into a perf mmap ring (perf_ring.h); no
// SIGPROF is ever sent, no handler runs on the sampled threads, and the
// kernel walks the user call chain itself. A reader (the tracer's CPU
// reader thread and its advancer) calls Drain to collect the samples of
// every ring.
//
// Thread lifetime: AttachCurrentThread opens the calling thread's ring;
// DetachCurrentThread (or the thread's exit, through a thread-local guard)
// stops its counters and retires the ring: the next Drain reads what is
// left in it, adds its counters' totals to counted(), and closes it. So no
// sample is lost to a thread exiting between two drains.
//
// Only attached threads are sampled (there is no process-wide fallback
// without signals). Like Sampler, one per process: all members are static.
// Not async-signal-safe.
#ifndef GENTRACE_CPUSAMPLE_RING_SAMPLER_H_
#define GENTRACE_CPUSAMPLE_RING_SAMPLER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "cpusample/perf_ring.h"

namespace gentrace::cpusample {

struct RingSamplerOptions {
  std::vector<PerfRingEvent> events;  // one or more; index 0 is the primary
  PerfRingOptions ring;
};

struct RingSamplerStats {
  uint64_t samples = 0;  // samples drained, every event
  uint64_t lost = 0;     // lost samples, every event
  // Of those, the ones no LOST record reported, found at a ring's close in
  // the kernel's per-event counts (PerfRing::UnreportedLost).
  uint64_t lost_unreported = 0;
  // Per event: samples drained and lost (PerfRingDrainStats).
  std::vector<uint64_t> samples_by_event;
  std::vector<uint64_t> lost_by_event;
  // Sum of the counters' own values (read(2)) of the rings closed so far,
  // per event: with a period of 1, samples + lost of that event.
  std::vector<uint64_t> counted;
  uint64_t rings_opened = 0;
  uint64_t attach_failures = 0;  // threads whose ring could not be opened
};

class RingSampler {
 public:
  RingSampler() = delete;

  // Checks the options by opening (and closing) a ring on the calling
  // thread, then accepts attachments. Errors: the kernel's refusal (no
  // PMU, perf_event_paranoid...), bad options; FailedPrecondition if
  // already running.
  static absl::Status Start(const RingSamplerOptions& options);
  // Stops every counter (no sample after it returns); the rings keep what
  // they hold for a last Drain. Threads attaching later get no ring.
  static void DisableAll();
  // Closes every ring, including those not drained: call Drain first.
  // Attachments after Stop are no-ops.
  static void Stop();
  static bool running();

  // Opens and enables the calling thread's ring. Idempotent. An error
  // leaves the thread unsampled (counted in attach_failures).
  static absl::Status AttachCurrentThread();
  // Disables the calling thread's counters and retires its ring.
  static void DetachCurrentThread();
  static bool IsCurrentThreadAttached();

  // Reads every ring (retired ones too, which it then closes), calling
  // on_sample for each sample, in ring order (each ring's samples in the
  // order the kernel wrote them). Returns this call's counts, with `lost`
  // the sum of lost_by_event (PerfRingDrainStats: on Linux 6.0+ the
  // kernel's exact per-event counts, overruns no LOST record reported
  // included). One Drain at a time (serialized inside).
  // With `close_all` (the last drain, after DisableAll), every ring is
  // retired and closed too.
  static PerfRingDrainStats Drain(
      absl::FunctionRef<void(const PerfRingSample&)> on_sample,
      bool close_all = false);

  // The fds of the live rings, to poll() for POLLIN: a ring is a quarter
  // full. Valid until the next Drain or Stop.
  static std::vector<int> PollFds();

  // Totals since Start (kept after Stop).
  static RingSamplerStats stats();
  // "perf ring: page-faults (period 1), 8 pages per thread".
  static std::string description();
};

}  // namespace gentrace::cpusample

#endif  // GENTRACE_CPUSAMPLE_RING_SAMPLER_H_
