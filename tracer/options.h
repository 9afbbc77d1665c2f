// gentrace's options and statistics: what Start takes and GetStats gives.
// Included by tracer/gentrace.h; one declaration for builds with the tracer
// compiled in and compiled out (-DGENTRACE_DISABLE).
#ifndef GENTRACE_TRACER_OPTIONS_H_
#define GENTRACE_TRACER_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "tracer/internal/config.h"

GENTRACE_INTERNAL_NAMESPACE_BEGIN

enum class Compression {
  kNone,
  // zstd, one frame per generation: a file cut short still decompresses to
  // whole generations. `gentrace` tools read it directly; Go's tools need
  // `zstd -d` first.
  kZstd,
};

// Which events carry a call stack. Stacks cost a frame-pointer walk (a few
// ns for 10 frames) plus a table lookup; see docs/TRACER.md.
struct StackOptions {
  bool tasks = true;
  bool regions = true;
  bool logs = true;
  bool blocking = true;  // block and unblock (needed by -pprof=sync|net)
  bool syscalls = true;
  bool fibers = true;  // fiber creation, switches and wake-ups
};

// CPU-profile samples in the trace, taken on SIGPROF (Go's CPU profile in
// an execution trace). Each sample records the thread, its proc and the
// goroutine or fiber running there, and the stack; `go tool trace` shows
// them on the thread's timeline. See docs/CPU_SAMPLES.md.
struct CpuProfileOptions {
  bool enabled = false;
  enum class Source : uint8_t {
    // Per-thread CPU timers where the kernel allows, else perf cpu-clock
    // counters, else the process itimer; a hardware `event` asks for perf
    // counters first.
    kAuto,
    kThreadTimer,   // timer_create on each traced thread's CPU clock
    kProcessTimer,  // setitimer(ITIMER_PROF) alone
    kPerfEvent,     // perf_event_open on each traced thread
  };
  Source source = Source::kAuto;
  // Samples per CPU-second (timers, software clocks, hardware counters in
  // frequency mode). Timers are tick-driven: above the kernel's HZ (250 on
  // Debian) one signal stands for several periods.
  int hz = 100;
  enum class Event : uint8_t {
    kCpuClock,
    kTaskClock,
    kCycles,
    kInstructions,
    kCacheMisses,
    kBranchMisses,
  };
  Event event = Event::kCpuClock;  // for kPerfEvent (and kAuto)
  // Hardware counters: a sample every `period` events (0: frequency mode).
  // With `event_name`: events per sample (ns for cpu-clock, task-clock).
  uint64_t period = 0;
  // A perf event by the name `perf list` gives it, instead of `event`:
  // "page-faults", "context-switches", "cycles:u", "cache-misses",
  // "L1-dcache-load-misses", "r01c2", "cycles:pp". Counted by perf
  // counters with kPerfEvent or kAuto (never replaced by a timer); Start
  // fails on a name this machine does not know, listing the closest ones.
  // Not a clock: a sample every `period` events, or `hz` samples a second
  // (frequency mode) when period is 0. See docs/CPU_SAMPLES.md.
  std::string event_name;
  // Several perf events at once, by name, each with its period (events per
  // sample, ns for cpu-clock and task-clock; 0: `hz`, in frequency mode for
  // events that are not clocks): say {"cpu-clock", 0} for the timeline and
  // {"cycles", 1000000}, {"cache-misses", 10000} for attribution. At most
  // kMaxEvents; replaces event, event_name and period when not empty (set
  // one or the other). The first is the primary: its samples are the
  // trace's CPUSample events, which `go tool trace` shows; the others' go
  // into gentrace's info batches, which gentrace's reader, stats and pprof
  // read and Go's parser skips. More than one needs `signal_free` (Start
  // fails with InvalidArgument otherwise). See docs/CPU_SAMPLES.md.
  struct NamedEvent {
    std::string name;
    uint64_t period = 0;
  };
  static constexpr size_t kMaxEvents = 8;
  std::vector<NamedEvent> events;
  // Signal-free sampling: each traced thread's perf counter writes its
  // samples into a ring shared with the kernel (a perf mmap ring, with the
  // call chain the kernel walks itself), and gentrace's CPU reader thread
  // drains the rings; no SIGPROF is sent. Needs kPerfEvent or kAuto. Only
  // traced threads are sampled, and samples carry the thread, not its
  // proc or goroutine. Losses (a full ring) are counted per generation.
  bool signal_free = false;
  // Signal-free mode: the data pages of each thread's ring, a power of two
  // (8 pages of 4 KiB hold about 300 samples with 10-frame stacks). 0 (the
  // default): sized from the rate, room for 100 ms of samples of every
  // event at 300 bytes each, 8 to 64 pages (8 up to 1000 samples per
  // second, 64 above about 4400; see docs/CPU_SAMPLES.md).
  size_t ring_pages = 0;
  // Also sample threads that never wrote an event (the process itimer);
  // their samples have no proc and no goroutine.
  bool sample_unknown_threads = true;
  // Bytes of the signal-safe buffer that holds samples until they are
  // written (two of them, by generation parity). Samples that do not fit
  // are counted as lost, per generation, in the trace and in Stats.
  size_t buffer_bytes = 4 << 20;
};

// The clock that times events and CPU samples (docs/TRACER.md, "The
// clock").
enum class TraceClock {
  // The TSC where the CPU's is invariant and the kernel uses it as its own
  // clocksource (it found every CPU's in step), else CLOCK_MONOTONIC. The
  // environment variable GENTRACE_CLOCK (auto, tsc or monotonic), if set,
  // chooses instead.
  kAuto,
  // The CPU's invariant TSC even where the kernel keeps another
  // clocksource, as many VMs do (kvm-clock): an rdtsc an event instead of
  // a clock_gettime, as Tracy does. The timeline is only as right as the
  // CPUs' TSCs are in step. Start fails if the TSC is not invariant.
  kTsc,
  // CLOCK_MONOTONIC, in 8 ns ticks.
  kMonotonic,
};

struct Options {
  // Where the trace goes: exactly one of these must be set.
  std::string path;  // a file, created or truncated
  int fd = -1;       // an open file descriptor, left open
  // Called on gentrace's writer thread with consecutive chunks of the
  // trace (the header on the thread calling Start); a non-OK return stops
  // tracing and Stop() returns it. That is how the callback stops tracing:
  // Start and Stop called from inside it fail (see Stop).
  std::function<absl::Status(absl::Span<const uint8_t>)> callback;

  Compression compression = Compression::kNone;
  int zstd_level = 3;

  // How often a new generation starts (Go's default is 1 s). Each
  // generation is self-contained; shorter generations bound memory and
  // make a crashed or cut trace lose less. At least 1 ms.
  absl::Duration generation_period = absl::Seconds(1);

  StackOptions stacks;
  // Deepest stack recorded, at most 128 (Go's limit); deeper stacks keep
  // their innermost frames.
  int max_stack_depth = 64;

  CpuProfileOptions cpu;

  TraceClock clock = TraceClock::kAuto;
};

// Counters of the current (or last) trace.
struct Stats {
  uint64_t generations = 0;    // complete generations written
  uint64_t bytes_written = 0;  // to the destination (compressed if so)
  uint64_t threads_seen = 0;   // threads registered in this trace
  uint64_t buffers_allocated = 0;
  uint64_t cpu_samples = 0;       // CPU samples written into the trace
  uint64_t cpu_samples_lost = 0;  // lost periods: full buffer, >64 a sample
  // Signal-free mode: samples read from a ring after their generation had
  // ended, written at the start of the next one (docs/CPU_SAMPLES.md).
  uint64_t cpu_samples_clamped = 0;
  std::string cpu_source;  // what the sampler chose, and why
  std::string clock;       // the trace's clock, its tick rate, and why
  // Signal-free mode: per perf event, the primary first (the samples and
  // lost of the first are cpu_samples and cpu_samples_lost).
  struct CpuEventStats {
    std::string name;
    uint64_t samples = 0;  // written into the trace
    uint64_t lost = 0;     // the kernel could not put into a ring
  };
  std::vector<CpuEventStats> cpu_events;
};

GENTRACE_INTERNAL_NAMESPACE_END

#endif  // GENTRACE_TRACER_OPTIONS_H_
