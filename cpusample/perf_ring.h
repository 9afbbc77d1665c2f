// Signal-free sampling: one thread's perf counters write their samples into
// a ring the kernel shares with us (the perf mmap ring), and a reader drains
// it whenever it likes. No signal per sample, no handler on the sampled
// thread: the kernel records the interrupted IP, the thread, the time (on
// the clock we choose, `use_clockid`) and the user call chain it walks
// itself through frame pointers.
//
// Several events share one ring (PERF_EVENT_IOC_SET_OUTPUT): each sample
// carries its counter's id (PERF_SAMPLE_IDENTIFIER), which Drain turns back
// into the index of the event it came from.
//
// Nothing is lost silently. The ring is mapped writable, so the kernel
// never overwrites records we have not consumed: when it is full, it
// counts what it could not write and, once there is room again, writes a
// PERF_RECORD_LOST record with that count just before the next sample it
// writes. Drain adds those counts to lost(). With a period of 1 (every
// event a sample), the counter's own value (ReadCount) therefore equals the
// samples drained plus lost(), once a sample has been written after the
// last overrun and the ring has been drained (a count the kernel still
// holds for its next LOST record is not visible in the ring; on Linux 6.0+
// UnreportedLost reads it from the kernel's per-event counts instead).
//
// Threading: Open, Enable, Disable and ReadCount from any thread; Drain
// from one thread at a time (the ring has one consumer). None of it is
// async-signal-safe except Enable/Disable.
#ifndef GENTRACE_CPUSAMPLE_PERF_RING_H_
#define GENTRACE_CPUSAMPLE_PERF_RING_H_

#include <sys/types.h>
#include <time.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "cpusample/perf_event.h"
#include "cpusample/perf_event_spec.h"

namespace gentrace::cpusample {

struct PerfRingEvent {
  PerfEventSpec spec;
  // One sample every `period` events (nanoseconds of CPU time for
  // cpu-clock and task-clock); if 0, `freq` samples per second
  // (kernel-adjusted frequency mode). One of the two must be set.
  uint64_t period = 0;
  uint64_t freq = 0;
};

struct PerfRingOptions {
  // Size of the data area in pages: a power of two, 1..65536. Each record
  // of a sample with a call chain of d frames takes 48 + 8 * d bytes.
  // Unprivileged processes may lock perf_event_mlock_kb (default 516 KiB)
  // per CPU of such memory in all, then RLIMIT_MEMLOCK.
  size_t data_pages = 64;
  // The kernel's user-space call chain with each sample (frame pointers).
  bool callchain = true;
  // Frames at most per call chain (Open lowers it to
  // kernel.perf_event_max_stack, 127 by default, which the kernel enforces).
  int max_callchain = 64;
  // The clock of the samples' times.
  clockid_t clock = CLOCK_MONOTONIC;
  // With a spec whose modifiers name no level (PerfLevels::kDefault):
  // whether to count kernel mode (see PerfKernel; kIfAllowed is treated as
  // kExclude here: a ring is opened once, not probed).
  PerfKernel kernel = PerfKernel::kExclude;
};

// One sample, valid only during Drain's callback.
struct PerfRingSample {
  size_t event = 0;  // index into the events given to Open
  uint64_t ip = 0;   // the interrupted instruction
  pid_t pid = 0;
  pid_t tid = 0;
  uint64_t time = 0;  // nanoseconds of PerfRingOptions::clock
  // The user-space call chain, innermost first (callchain[0] is normally
  // ip), without the kernel's context markers; empty without `callchain`.
  const uint64_t* callchain = nullptr;
  size_t callchain_size = 0;
};

struct PerfRingDrainStats {
  uint64_t samples = 0;        // PERF_RECORD_SAMPLE records read
  uint64_t lost = 0;           // samples PERF_RECORD_LOST records reported
  uint64_t other_records = 0;  // records of other types (skipped)
  // Per event (index as given to Open): samples read, and samples lost
  // since the previous Drain. Lost by event comes from the kernel's own
  // per-event counts (PERF_FORMAT_LOST, Linux 6.0+), read after the
  // records: exact, overruns not yet reported by a LOST record included.
  // Before 6.0, from the LOST records, each counted for the event whose
  // id it carries: the kernel gives a ring's whole count to the event that
  // writes next, so the split between events is approximate there, the
  // total exact once reported.
  std::vector<uint64_t> samples_by_event;
  std::vector<uint64_t> lost_by_event;
};

class PerfRing {
 public:
  // Opens one counter per event on thread `tid` of this process (disabled)
  // and maps their shared ring. Errors name the event and the reason
  // (perf_event.h's PerfOpenError), or the mapping's limit.
  static absl::StatusOr<std::unique_ptr<PerfRing>> Open(
      const std::vector<PerfRingEvent>& events, pid_t tid,
      const PerfRingOptions& options);
  ~PerfRing();
  PerfRing(const PerfRing&) = delete;
  PerfRing& operator=(const PerfRing&) = delete;

  // Starts / stops every counter. Async-signal-safe (ioctls).
  bool Enable();
  void Disable();

  // Reads every record the kernel has completed, calling `on_sample` for
  // each sample, then gives the space back. Returns what it read (lost()
  // and the totals accumulate as well).
  PerfRingDrainStats Drain(
      absl::FunctionRef<void(const PerfRingSample&)> on_sample);

  // Totals over every Drain.
  uint64_t samples() const { return total_.samples; }
  uint64_t lost() const { return total_.lost; }

  // The kernel's count of event `event` since Open (read(2) on its fd).
  absl::StatusOr<uint64_t> ReadCount(size_t event) const;
  // The kernel's count of event `event`'s samples that did not fit in the
  // ring (Linux 6.0+, PERF_FORMAT_LOST; Unimplemented before), whether or
  // not a LOST record has reported them yet.
  absl::StatusOr<uint64_t> ReadLost(size_t event) const;
  // Once the counters are disabled and the ring drained: the lost samples
  // no LOST record will ever report (an overrun with no sample after it),
  // from the kernel's per-event counts (0 where the kernel has none).
  uint64_t UnreportedLost() const;

  // The ring's fd: poll() it for POLLIN when a quarter of the ring is full.
  int fd() const { return fds_.empty() ? -1 : fds_[0]; }
  size_t num_events() const { return fds_.size(); }
  size_t data_bytes() const { return data_size_; }

 private:
  PerfRing() = default;

  std::vector<int> fds_;
  std::vector<uint64_t> ids_;  // PERF_EVENT_IOC_ID of each fd
  bool callchain_ = false;
  bool lost_counts_ = false;  // the fds were opened with PERF_FORMAT_LOST
  // The kernel's per-event lost counts as the last Drain read them.
  std::vector<uint64_t> kernel_lost_seen_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  size_t data_size_ = 0;
  unsigned char* data_ = nullptr;
  std::vector<unsigned char> scratch_;  // a record that wraps, copied
  std::vector<uint64_t> chain_;         // the call chain without markers
  PerfRingDrainStats total_;
};

}  // namespace gentrace::cpusample

#endif  // GENTRACE_CPUSAMPLE_PERF_RING_H_
