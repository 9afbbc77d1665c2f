// perf_event_open as a CPU-sample source: which events exist, how a counter
// is opened on one thread so that every overflow raises SIGPROF at that
// thread, and why the kernel refused one, in words a user can act on.
//
// What Linux does (measured on 6.x, see README.md): a counter opened with
// O_ASYNC, F_SETSIG SIGPROF and F_SETOWN_EX F_OWNER_TID, and enabled with
// PERF_EVENT_IOC_ENABLE (no event limit), sends one SIGPROF with si_code
// POLL_IN and si_fd = the counter's fd to the owner thread on every
// overflow, with no re-arming and no mmap ring. PERF_EVENT_IOC_REFRESH(n)
// instead disables the counter after n overflows and signals POLL_HUP, so
// it would need an ioctl in every handler; we do not use it.
#ifndef GENTRACE_CPUSAMPLE_PERF_EVENT_H_
#define GENTRACE_CPUSAMPLE_PERF_EVENT_H_

#include <sys/types.h>

#include <climits>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cpusample/perf_event_spec.h"

namespace gentrace::cpusample {

// The events a perf source can count. Software clocks count nanoseconds of
// CPU time and are driven by high-resolution timers (not the scheduler
// tick); hardware events need a PMU, which virtual machines often lack.
enum class PerfEvent : uint8_t {
  kCpuClock,      // software: PERF_COUNT_SW_CPU_CLOCK
  kTaskClock,     // software: PERF_COUNT_SW_TASK_CLOCK
  kCycles,        // hardware: PERF_COUNT_HW_CPU_CYCLES
  kInstructions,  // hardware: PERF_COUNT_HW_INSTRUCTIONS
  kCacheMisses,   // hardware: PERF_COUNT_HW_CACHE_MISSES
  kBranchMisses,  // hardware: PERF_COUNT_HW_BRANCH_MISSES
};

// "cpu-clock", "task-clock", "cycles", ... (perf's own names).
const char* PerfEventName(PerfEvent event);
bool IsHardwareEvent(PerfEvent event);
// The event as a spec (perf_event_spec.h), with no modifiers; resolving its
// name gives the same type and config.
PerfEventSpec SpecOf(PerfEvent event);

// Whether a perf counter also counts (and so samples) time in the kernel.
enum class PerfKernel : uint8_t {
  kIfAllowed,  // include kernel mode if perf_event_paranoid and our
               // capabilities allow it, else count user space only
  kInclude,    // require kernel mode; fail if not allowed
  kExclude,    // user space only (allowed at perf_event_paranoid <= 2)
};

namespace internal {

// How one counter is opened; the result of ProbePerfConfig.
// What is opened: an event's attr fields and name (a PerfEventSpec, as
// plain data: PerfConfig lives in constant-initialized sampler state).
struct PerfConfigEvent {
  uint32_t type = 1;    // PERF_TYPE_SOFTWARE
  uint64_t config = 0;  // PERF_COUNT_SW_CPU_CLOCK
  uint64_t config1 = 0;
  uint64_t config2 = 0;
  bool hardware = false;
  bool clock = true;
  bool exclude_hv = true;
  char name[128] = "cpu-clock";  // as given (truncated)
};
PerfConfigEvent ConfigEventOf(const PerfEventSpec& spec);

struct PerfConfig {
  // The enum event, or kCpuClock when the event was given by name; `spec`
  // is what is opened either way.
  PerfEvent event = PerfEvent::kCpuClock;
  PerfConfigEvent spec;
  uint64_t sample_period = 0;  // events (ns for software clocks) per sample
  uint64_t sample_freq = 0;    // else: samples per second (kernel-adjusted)
  bool exclude_kernel = false;
  bool exclude_user = false;  // only with a `:k` name
  int precise_ip = 0;         // 0 (may skid) .. 3 (requested zero skid)
};

// Facts about this system that explain a refusal.
struct SystemFacts {
  int perf_event_paranoid = INT_MIN;  // INT_MIN: unreadable
  int seccomp_mode = -1;              // Seccomp: in /proc/self/status; -1: ?
  bool cpu_pmu_present = false;       // /sys/bus/event_source/devices/cpu
};
SystemFacts ReadSystemFacts();

// The Status for a perf_event_open refusal with errno `err`: the event, the
// reason (no PMU; perf_event_paranoid with its current and needed values; a
// seccomp filter; otherwise the raw errno text) and what would help.
absl::Status PerfOpenError(PerfEvent event, int err, bool exclude_kernel,
                           const SystemFacts& facts);
// The same for an event given by name (perf_event_spec.h); `hardware`: it
// needs a PMU.
absl::Status PerfOpenError(absl::string_view event, bool hardware, int err,
                           bool exclude_kernel, const SystemFacts& facts);

// Finds a configuration the kernel accepts for `event` on thread `tid` at
// `hz` samples per CPU-second (software clocks, and hardware events when
// period == 0, using frequency mode) or every `period` events (hardware):
// tries kernel mode first under kIfAllowed, then user space only, and for
// hardware events precise_ip 2, 1, then 0. Opens and closes a probe counter.
absl::StatusOr<PerfConfig> ProbePerfConfig(PerfEvent event, int hz,
                                           uint64_t period, PerfKernel kernel,
                                           pid_t tid);
// The same for an event given by name. Its modifiers decide: `:u`, `:k`,
// `:uk` override `kernel`, and the precise level asked (`:p`...) is tried
// alone (perf's meaning: that level or an error); the clock events sample
// at `hz` unless `period` is set, the others every `period` events, or at
// `hz` in frequency mode when period == 0.
absl::StatusOr<PerfConfig> ProbePerfConfig(const PerfEventSpec& spec, int hz,
                                           uint64_t period, PerfKernel kernel,
                                           pid_t tid);

// Opens a counter of `config` on thread `tid` (of this process), disabled,
// set up to send SIGPROF to that thread on every overflow. Returns its fd
// (close-on-exec). Not async-signal-safe (it may build a Status).
absl::StatusOr<int> OpenPerfCounter(const PerfConfig& config, pid_t tid);

// Starts / stops counting. Async-signal-safe (one ioctl each).
bool EnablePerfCounter(int fd);
void DisablePerfCounter(int fd);

}  // namespace internal
}  // namespace gentrace::cpusample

#endif  // GENTRACE_CPUSAMPLE_PERF_EVENT_H_
