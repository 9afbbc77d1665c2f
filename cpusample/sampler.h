// Sampler: the process's CPU-profile sampler. It arms the chosen source
// (per-thread POSIX CPU timers, the process-wide ITIMER_PROF, or per-thread
// perf_event_open counters), installs the SIGPROF handler, and hands every
// sample (interrupted thread, stack from the signal's ucontext, source,
// weight) to one callback that runs inside the signal handler. It knows
// nothing about traces: the tracer's callback stamps and stores samples.
//
// Which signals are samples (Linux, measured; README.md):
//   si_code SI_TIMER (-2), si_value = our cookie  a per-thread CPU timer
//   si_code SI_KERNEL (128)                       ITIMER_PROF
//   si_code POLL_IN (1), si_fd = our counter      a perf counter overflow
//   si_code SI_QUEUE (-1), si_value = our cookie  TriggerSample()
// Anything else (kill, tgkill, other timers or fds) is not ours: it goes to
// the SIGPROF handler that was installed before Start, if any.
//
// No double counting: a thread with its own timer or counter ignores
// ITIMER_PROF signals (they stand for CPU time its own source already
// samples); the itimer only samples threads without one. This is Go's
// validSIGPROF rule.
//
// Where signals go (a profiler must not wake sleeping threads: a SIGPROF
// that interrupts nanosleep, poll, epoll_wait... makes it fail with EINTR,
// SA_RESTART or not):
//  * A thread timer signals its own thread. The kernel checks CPU timers
//    on the thread's return to user mode (CONFIG_POSIX_CPU_TIMERS_TASK_WORK,
//    x86-64 since Linux 5.10), so the signal never cuts a system call short.
//  * A perf counter signals its own thread from the overflow interrupt.
//    Counting user space only (the default, perf_kernel), it overflows only
//    in user mode, and the signal is taken before the next system call.
//  * ITIMER_PROF's signal is process-wide: the kernel gives it to the
//    thread that used the CPU, unless that thread blocks SIGPROF; then to
//    any other thread, a sleeping one included. And when a thread blocks
//    SIGPROF while one is pending process-wide, the kernel wakes another
//    thread to take it. So the handler is installed with SA_NODEFER and
//    never blocks SIGPROF: a second SIGPROF during the handler is taken
//    there, nested (the handler and the callback must be reentrant). The
//    threads of whoever uses the Sampler must not block SIGPROF while they
//    use CPU either (gentrace's own threads do not).
// What remains is a thread that blocks SIGPROF itself, one that is being
// created or is exiting (glibc, and the sanitizers' runtimes, block all
// signals in the creating thread around clone() and in a thread's last
// moments; the kernel skips exiting threads): the itimer's signal for that
// CPU time goes elsewhere. Whoever starts threads of its own while the
// itimer runs does so inside WithProcessTimerPaused (gentrace does), and
// ends them after Stop.
//
// There is one SIGPROF disposition per process, hence one sampler: all
// members are static.
//
// fork and exec: a child process inherits no armed timer and no sampling
// (perf fds are inherited but still count and signal the parent's threads),
// and must not Start or Attach unless it was forked with no other thread
// inside the Sampler. ITIMER_PROF survives execve: Stop before exec, or the
// new program may be killed by a SIGPROF it does not handle.
#ifndef GENTRACE_CPUSAMPLE_SAMPLER_H_
#define GENTRACE_CPUSAMPLE_SAMPLER_H_

#include <signal.h>
#include <sys/types.h>
#include <ucontext.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "cpusample/fp_unwind.h"
#include "cpusample/perf_event.h"

namespace gentrace::cpusample {

enum class Source : uint8_t {
  kAuto = 0,      // options only: choose (see SamplerOptions::source)
  kThreadTimer,   // timer_create on each attached thread's CPU clock
  kProcessTimer,  // setitimer(ITIMER_PROF): every thread of the process
  kPerfEvent,     // perf_event_open on each attached thread
  kManual,        // nothing armed; only TriggerSample() takes samples
};
inline constexpr int kNumSources = 5;

// "auto", "thread-timer", "process-timer", "perf-event", "manual".
const char* SourceName(Source source);

struct SamplerOptions {
  // kAuto: if `event` is a hardware event, perf counters for it; else (or
  // if the kernel refuses that) per-thread CPU timers; if timer_create is
  // refused, perf cpu-clock counters; if that is refused too, the process
  // itimer alone. Every refusal on the way is in selection_report().
  // Explicit sources fail Start with the kernel's reason instead.
  Source source = Source::kAuto;

  // Samples per CPU-second for timers and software clocks, and for
  // hardware events when period == 0 (perf frequency mode). 1..100000.
  // ITIMER_PROF and thread CPU timers are checked on scheduler ticks
  // (CONFIG_HZ, 250 here): above that rate, timers deliver one signal per
  // tick and Sample::weight carries the periods a thread timer overran.
  int hz = 100;

  // kPerfEvent with a hardware event: one sample every `period` events
  // (0: frequency mode at hz). With a software clock: nanoseconds of CPU
  // time per sample (0: 1e9 / hz).
  uint64_t period = 0;

  // The perf counter's event (kPerfEvent, and kAuto with a hardware event).
  PerfEvent event = PerfEvent::kCpuClock;

  // An event given by name (perf_event_spec.h), instead of `event`: perf
  // counters of it with kPerfEvent or kAuto (no fallback to timers: a
  // named event is counted or Start fails). `period` is events per sample
  // (ns for cpu-clock/task-clock); 0: `hz`, in frequency mode for events
  // that are not clocks.
  std::optional<PerfEventSpec> named_event;

  // Whether perf counters count kernel mode too. User space only by
  // default: a counter that overflows in kernel mode signals its thread
  // there, maybe on its way into a sleeping system call, which the signal
  // then cuts short (EINTR). Overflowing in user mode, the signal is taken
  // before the thread can enter one. (Thread timers need no such care:
  // the kernel checks them on return to user mode.)
  PerfKernel perf_kernel = PerfKernel::kExclude;

  // With kThreadTimer, kPerfEvent or kAuto: also arm ITIMER_PROF so that
  // threads that never called AttachCurrentThread are sampled too (their
  // samples have Sample::attached == false).
  bool sample_unattached_threads = true;

  // Frames to unwind at most (1..kMaxFrames), and whether the walk may use
  // the caller heuristic (UnwindOptions::caller_heuristic).
  int max_frames = kMaxFrames;
  bool caller_heuristic = true;
};

// One sample, as the callback sees it. Valid only during the callback.
struct Sample {
  const uintptr_t* pcs = nullptr;  // pcs[0]: the interrupted PC; then
                                   // return addresses (fp_unwind.h)
  int depth = 0;                   // number of pcs
  pid_t tid = 0;                   // the interrupted (sampled) thread
  Source source = Source::kManual;
  // Sampling periods this sample stands for: 1 + the timer's overrun count
  // for thread timers (exact CPU time even above the tick rate), else 1.
  uint64_t weight = 1;
  bool attached = false;           // the thread called AttachCurrentThread
  const ucontext_t* uc = nullptr;  // the interrupted context
};

// Runs in the SIGPROF handler, on the sampled thread, with SIGPROF not
// blocked: it must be async-signal-safe and reentrant (another sample may
// interrupt it on the same thread and run to completion first). `arg` is
// Start's.
using SampleCallback = void (*)(const Sample& sample, void* arg);

struct SamplerStats {
  // Samples handed to the callback, by Source (index = static_cast<int>).
  uint64_t samples[kNumSources] = {};
  // Sum of Sample::weight over those samples.
  uint64_t weight = 0;
  // ITIMER_PROF signals ignored on threads that have their own source.
  uint64_t double_counted = 0;
  // Our signals that arrived while stopping, or from an earlier Start.
  uint64_t stale = 0;
  // SIGPROFs that were not ours (forwarded to the previous handler if any).
  uint64_t not_ours = 0;
  // Threads whose own timer or counter could not be armed (they fall back
  // to the itimer when it is on).
  uint64_t arm_failures = 0;
};

class Sampler {
 public:
  Sampler() = delete;

  // Installs the SIGPROF handler (SA_SIGINFO | SA_RESTART | SA_ONSTACK |
  // SA_NODEFER),
  // arms the source chosen by `options` for every attached thread (and the
  // itimer when asked), and calls cb(sample, arg) for every sample until
  // Stop. FailedPrecondition if already running; InvalidArgument for bad
  // options; for an explicitly requested source the kernel refuses, the
  // refusal's reason (perf_event.h's PerfOpenError). Not async-signal-safe.
  static absl::Status Start(const SamplerOptions& options, SampleCallback cb,
                            void* arg);

  // Disarms every timer and counter, waits until no handler is inside the
  // callback, and restores the SIGPROF disposition found by Start, except
  // that SIG_DFL is restored as SIG_IGN (as Go does): a SIGPROF generated
  // before the disarm may still be pending on some thread, and SIG_DFL would
  // terminate the process. After Stop returns the callback is never called
  // again. No-op if not running. Not async-signal-safe; never call it from
  // the callback (it would wait for itself).
  static void Stop();

  static bool running();

  // Registers the calling thread: caches its stack bounds, and arms its
  // own timer or counter now if sampling runs with a per-thread source
  // (else at Start). Idempotent. A thread must detach before it exits; a
  // thread-local guard detaches it at exit if it did not. Not
  // async-signal-safe. An error means the thread is registered but its own
  // source could not be armed (the itimer, if on, still samples it). While
  // the itimer runs, a thread attaching may get an itimer sample in the
  // moment before its own source is armed; it is never counted twice.
  static absl::Status AttachCurrentThread();

  // Unregisters the calling thread and destroys its timer or counter.
  // No-op if not attached. Not async-signal-safe.
  static void DetachCurrentThread();

  static bool IsCurrentThreadAttached();
  static int attached_thread_count();

  // Counters since the last Start (kept after Stop). Async-signal-safe.
  static SamplerStats stats();

  // What Start chose (kManual when not running): the per-thread source for
  // attached threads, or kProcessTimer when only the itimer runs.
  static Source active_source();
  // Whether ITIMER_PROF is armed (alone, or besides per-thread sources).
  static bool process_timer_active();
  // The perf event in use (meaningful when active_source() is kPerfEvent):
  // the enum (kCpuClock for a named event), and its name as given.
  static PerfEvent active_event();
  static std::string active_event_name();
  // Samples per CPU-second asked of timers and clocks (0 if not running,
  // kManual, or a hardware counter in period mode), and the sampling
  // period: nanoseconds of CPU time for timers and software clocks, events
  // for a hardware counter (0 in perf frequency mode, or not running).
  static int effective_hz();
  static uint64_t effective_period();
  // One line: what was chosen and why, with any refusal on the way.
  static std::string selection_report();

  // Sends SIGPROF to the calling thread (rt_tgsigqueueinfo, SI_QUEUE, our
  // cookie), which the handler samples as Source::kManual with Sample::weight
  // `weight` (at least 1). Returns false if not running. For tests and
  // benchmarks of the handler path. Async-signal-safe.
  static bool TriggerSample(uint64_t weight = 1);

  // For a program that installs its own SIGPROF handler while sampling
  // runs (gentrace run's interposed sigaction): if running, `act` becomes
  // the disposition SIGPROF's that are not ours are forwarded to (and that
  // Stop restores), `old` (if not null) receives the one it replaces, and
  // the sampler's handler stays installed; returns false, doing nothing,
  // if not running. Not async-signal-safe.
  static bool ReplaceForwardedAction(const struct sigaction* act,
                                     struct sigaction* old);

  // Runs `start_threads` (which creates `threads` threads) with ITIMER_PROF
  // disarmed if it is armed, and re-arms it once every new thread has
  // called `begun->fetch_add(1)`, which must be the first thing each one
  // does. While a thread is created, the creating thread blocks every
  // signal (glibc's pthread_create, and the sanitizers' interceptors), and
  // the new thread runs with every signal blocked until its own code
  // starts (glibc restores its mask there, after the sanitizers' setup),
  // so an itimer signal due then would go to another thread, a sleeping
  // one included. Holds the sampler's lock: a new thread must not need it
  // (attach) before it counts itself. Not async-signal-safe. The CPU time
  // of that moment goes unsampled.
  static void WithProcessTimerPaused(
      int threads,
      const std::function<void(std::atomic<int>* begun)>& start_threads);
};

}  // namespace gentrace::cpusample

#endif  // GENTRACE_CPUSAMPLE_SAMPLER_H_
