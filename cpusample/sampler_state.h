// The Sampler's state (sampler.h): one SamplerState, owned by sampler.cc
// (g_sampler), one SamplerThreadState per attached thread, and the
// thread-local through which the SIGPROF handler finds its thread's.
//
// Every field says which thread or context touches it:
//  * control: Start, Stop, AttachCurrentThread, DetachCurrentThread and the
//    getters (sampler.cc), on any thread, never in a signal handler;
//  * handler: the SIGPROF handler, TriggerSample and stats()
//    (signal_handler.cc), in signal handlers too.
//
// Invariant 1: SamplerState::mu guards every field marked "control, under
// mu": the registry of attached threads, the session's configuration, and
// every timer_t and perf fd. The handler never takes mu: it touches only
// SamplerState::handler (atomics), its own thread's SamplerThreadState
// (through tls_sampler_thread; invariant 2 in sampler.cc), and the stack.
// Invariants 2 and 3 are in sampler.cc, 4 and 5 in signal_handler.cc.
#ifndef GENTRACE_CPUSAMPLE_SAMPLER_STATE_H_
#define GENTRACE_CPUSAMPLE_SAMPLER_STATE_H_

#include <pthread.h>
#include <signal.h>
#include <sys/types.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "cpusample/fp_unwind.h"
#include "cpusample/perf_event.h"
#include "cpusample/sampler.h"
#include "cpusample/signal_handler.h"

namespace gentrace::cpusample::internal {

// One attached thread, created by AttachCurrentThread and deleted by
// DetachCurrentThread on that thread (invariant 2).
struct SamplerThreadState {
  // Set before the thread is visible to anyone, then constant. tid is read
  // by this thread's handler and TriggerSample; clock by control.
  pid_t tid = 0;
  clockid_t clock = 0;
  // Control, under mu (the registry, and the thread's own timer).
  SamplerThreadState* prev = nullptr;
  SamplerThreadState* next = nullptr;
  timer_t timer{};
  bool has_timer = false;
  // Written by control under mu; read by this thread's handler.
  std::atomic<int> perf_fd{-1};
  // True while the thread's own timer or counter may fire (invariant 3).
  std::atomic<bool> own_source{false};
};

// The calling thread's SamplerThreadState, or null. Written by its own
// thread (Attach, Detach); read by its own handler and TriggerSample.
// Initial-exec and external linkage on purpose: gold (Bazel's linker here)
// mislinked an initial-exec access to an internal-linkage TLS variable of
// this shared object (its GOT entry pointed at another TLS variable, a
// thread_local's guard).
extern __thread SamplerThreadState* tls_sampler_thread
    __attribute__((tls_model("initial-exec")));

// What the handler reads and writes besides its thread's SamplerThreadState.
// Atomics only. Control writes the configuration below before it sets
// `enabled` (invariant 4) and clears `enabled` before it changes any of it.
struct HandlerState {
  // Written by Start and Stop; read by the handler (invariant 4).
  std::atomic<bool> enabled{false};
  // Raised and lowered by every run of the handler; Stop waits for zero.
  std::atomic<int> in_handler{0};
  // Start's callback and its argument; read by the handler.
  std::atomic<SampleCallback> callback{nullptr};
  std::atomic<void*> arg{nullptr};
  // The session's si_value (SessionCookie); written by Start; read by the
  // handler, ArmTimer and TriggerSample.
  std::atomic<uint64_t> cookie{0};
  // Whether ITIMER_PROF signals are ours this session; written by Start;
  // read by the handler.
  std::atomic<bool> itimer_ours{false};
  // SamplerOptions' walk settings; written by Start; read by the handler.
  std::atomic<int> max_frames{kMaxFrames};
  std::atomic<bool> caller_heuristic{true};
  // The disposition Start replaced (a handler address, SIG_DFL or SIG_IGN,
  // and its sa_flags); written by Start; read by the handler to forward
  // signals that are not ours.
  std::atomic<uintptr_t> prev_handler{0};
  std::atomic<int> prev_flags{0};
  // Whether Start has succeeded and Stop not yet run; written by control;
  // read by running() and TriggerSample.
  std::atomic<bool> running{false};
  // This process's ids for TriggerSample's siginfo; written by Start.
  std::atomic<pid_t> pid{0};
  std::atomic<uid_t> uid{0};

  // Statistics (SamplerStats): added to by the handler, except
  // arm_failures (control, under mu); reset by Start; read by stats().
  std::atomic<uint64_t> samples[kNumSources] = {};
  std::atomic<uint64_t> weight{0};
  std::atomic<uint64_t> double_counted{0};
  std::atomic<uint64_t> stale{0};
  std::atomic<uint64_t> not_ours{0};
  std::atomic<uint64_t> arm_failures{0};

  // Our perf counters' fds; added and removed by control under mu; read by
  // the handler for a signal whose thread has already detached. Last: 8 KiB
  // that the handler rarely reads.
  PerfFdSet perf_fds;
};

// The whole sampler; one per process (g_sampler). Constant-initialized, so
// that a call from another object's static initializer finds it ready.
struct SamplerState {
  std::mutex mu;

  // Control, under mu.
  SamplerThreadState* threads = nullptr;  // the registry, a list
  int thread_count = 0;
  bool running = false;             // Start succeeded, Stop not yet run
  uint32_t session = 0;             // Start's count, in the cookie
  Source active = Source::kManual;  // the per-thread source, or the itimer
  bool itimer_on = false;           // ITIMER_PROF armed this session
  PerfConfig perf;                  // the perf counters' configuration
  int hz = 0;                       // SamplerOptions::hz
  uint64_t period = 0;              // thread timers' period, ns
  // selection_report(). std::optional only for constant initialization
  // (std::string's constructor is constexpr from C++20 on).
  std::optional<std::string> report;
  struct sigaction saved_action {};    // the disposition Stop restores
  uint64_t rng = 0x9e3779b97f4a7c15u;  // spreads first expiries

  // The pthread key whose destructor detaches a thread that exits while
  // attached; created once (pthread_once), then read by Attach and Detach
  // on any thread.
  pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
  pthread_key_t exit_key = 0;

  // Shared with the handler.
  HandlerState handler;
};

// Defined in sampler.cc.
extern SamplerState g_sampler;

}  // namespace gentrace::cpusample::internal

#endif  // GENTRACE_CPUSAMPLE_SAMPLER_STATE_H_
