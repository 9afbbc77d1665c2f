// The Sampler's signal side (see signal_handler.h): the SIGPROF handler,
// and Sampler::TriggerSample and Sampler::stats. Every function in this
// file is async-signal-safe.
//
// Invariants kept here (1 is in sampler_state.h, 2 and 3 in sampler.cc):
//  4. The handler raises in_handler before it reads enabled (seq_cst both
//     ways), so once Stop has cleared enabled and then seen in_handler == 0,
//     no handler can still reach the callback.
//  5. The handler is reentrant (SA_NODEFER, sampler.h "Where signals go"):
//     it keeps its state on the stack or in atomics, and a nested run on
//     the same thread completes before the one it interrupted goes on.
#include "cpusample/signal_handler.h"

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>

#include "base/sys.h"
#include "cpusample/fp_unwind.h"
#include "cpusample/sampler_state.h"

namespace gentrace::cpusample {
namespace internal {

// The weight of the calling thread's next TriggerSample, taken (and reset)
// by the handler of that signal, which may run late under ThreadSanitizer.
// Initial-exec with external linkage (see tls_sampler_thread).
__thread uint64_t tls_trigger_weight
    __attribute__((tls_model("initial-exec"))) = 0;

namespace {

enum class Verdict { kSample, kDoubleCounted, kStale, kNotOurs };

// Decides what a SIGPROF is: its source and weight if it is a sample.
// `ts` is the calling thread's SamplerThreadState, or null.
// Async-signal-safe.
Verdict Classify(const siginfo_t* si, const SamplerThreadState* ts,
                 Source* source, uint64_t* weight) {
  const HandlerState& h = g_sampler.handler;
  *weight = 1;
  switch (si->si_code) {
    case SI_KERNEL:  // setitimer(ITIMER_PROF)
      if (!h.itimer_ours.load(std::memory_order_acquire)) {
        return Verdict::kNotOurs;
      }
      *source = Source::kProcessTimer;
      // No double counting: the thread's own source samples its CPU time.
      if (ts != nullptr && ts->own_source.load(std::memory_order_acquire)) {
        return Verdict::kDoubleCounted;
      }
      return Verdict::kSample;
    case SI_TIMER:    // timer_create
    case SI_QUEUE: {  // TriggerSample
      const uint64_t cookie =
          reinterpret_cast<uintptr_t>(si->si_value.sival_ptr);
      if ((cookie & kCookieMagicMask) != kCookieMagic) return Verdict::kNotOurs;
      if (cookie != h.cookie.load(std::memory_order_acquire)) {
        return Verdict::kStale;
      }
      if (si->si_code == SI_TIMER) {
        *source = Source::kThreadTimer;
        if (si->si_overrun > 0)
          *weight += static_cast<uint64_t>(si->si_overrun);
      } else {
        *source = Source::kManual;
        if (tls_trigger_weight > 1) *weight = tls_trigger_weight;
        tls_trigger_weight = 0;
      }
      return Verdict::kSample;
    }
    case POLL_IN:   // a perf counter overflowed
    case POLL_HUP:  // the same, with an event limit (not used by us)
      if ((ts != nullptr &&
           ts->perf_fd.load(std::memory_order_acquire) == si->si_fd) ||
          h.perf_fds.Contains(si->si_fd)) {
        *source = Source::kPerfEvent;
        return Verdict::kSample;
      }
      return Verdict::kNotOurs;
    default:
      return Verdict::kNotOurs;
  }
}

// Hands a signal that is not ours to the handler Start replaced.
// Async-signal-safe (as far as that handler is).
void ForwardToPrevious(int sig, siginfo_t* si, void* uc) {
  const HandlerState& h = g_sampler.handler;
  const uintptr_t prev = h.prev_handler.load(std::memory_order_acquire);
  if (prev == reinterpret_cast<uintptr_t>(SIG_DFL) ||
      prev == reinterpret_cast<uintptr_t>(SIG_IGN)) {
    return;  // not ours, and nobody else wants it: drop it
  }
  if ((h.prev_flags.load(std::memory_order_acquire) & SA_SIGINFO) != 0) {
    reinterpret_cast<void (*)(int, siginfo_t*, void*)>(prev)(sig, si, uc);
  } else {
    reinterpret_cast<void (*)(int)>(prev)(sig);
  }
}

}  // namespace

// Async-signal-safe: one system call.

// Async-signal-safe and reentrant (invariant 5): atomics, the stack walk
// and the callback (which must be so itself); errno is preserved.
void HandleSigprof(int sig, siginfo_t* si, void* ucv) {
  HandlerState& h = g_sampler.handler;
  const int saved_errno = errno;
  h.in_handler.fetch_add(1, std::memory_order_seq_cst);
  const SamplerThreadState* ts = tls_sampler_thread;
  Source source = Source::kManual;
  uint64_t weight = 1;
  Verdict verdict = Classify(si, ts, &source, &weight);
  if (verdict != Verdict::kNotOurs &&
      !h.enabled.load(std::memory_order_seq_cst)) {
    verdict = Verdict::kStale;
  }
  switch (verdict) {
    case Verdict::kSample: {
      uintptr_t pcs[kMaxFrames];
      UnwindOptions uo;
      uo.max_frames = h.max_frames.load(std::memory_order_relaxed);
      uo.caller_heuristic = h.caller_heuristic.load(std::memory_order_relaxed);
      const ucontext_t* uc = static_cast<const ucontext_t*>(ucv);
      Sample sample;
      sample.pcs = pcs;
      sample.depth = UnwindFromUcontext(uc, pcs, uo);
      sample.tid = ts != nullptr ? ts->tid : base::GetTid();
      sample.source = source;
      sample.weight = weight;
      sample.attached = ts != nullptr;
      sample.uc = uc;
      const SampleCallback cb = h.callback.load(std::memory_order_acquire);
      if (cb != nullptr) cb(sample, h.arg.load(std::memory_order_acquire));
      h.samples[static_cast<int>(source)].fetch_add(1,
                                                    std::memory_order_relaxed);
      h.weight.fetch_add(weight, std::memory_order_relaxed);
      break;
    }
    case Verdict::kDoubleCounted:
      h.double_counted.fetch_add(1, std::memory_order_relaxed);
      break;
    case Verdict::kStale:
      h.stale.fetch_add(1, std::memory_order_relaxed);
      break;
    case Verdict::kNotOurs:
      h.not_ours.fetch_add(1, std::memory_order_relaxed);
      break;
  }
  h.in_handler.fetch_sub(1, std::memory_order_seq_cst);
  if (verdict == Verdict::kNotOurs) ForwardToPrevious(sig, si, ucv);
  errno = saved_errno;
}

}  // namespace internal

// Sends SIGPROF with our cookie to the calling thread; the handler of that
// signal takes `weight` from tls_trigger_weight. Async-signal-safe.
bool Sampler::TriggerSample(uint64_t weight) {
  const internal::HandlerState& h = internal::g_sampler.handler;
  if (!h.running.load(std::memory_order_acquire)) return false;
  internal::tls_trigger_weight = weight;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  siginfo_t si;
  memset(&si, 0, sizeof(si));
  si.si_signo = SIGPROF;
  si.si_code = SI_QUEUE;
  si.si_pid = h.pid.load(std::memory_order_relaxed);
  si.si_uid = h.uid.load(std::memory_order_relaxed);
  si.si_value.sival_ptr = reinterpret_cast<void*>(
      static_cast<uintptr_t>(h.cookie.load(std::memory_order_acquire)));
  const internal::SamplerThreadState* ts = internal::tls_sampler_thread;
  const pid_t tid = ts != nullptr ? ts->tid : base::GetTid();
  return syscall(SYS_rt_tgsigqueueinfo, si.si_pid, tid, SIGPROF, &si) == 0;
}

// Async-signal-safe: relaxed loads.
SamplerStats Sampler::stats() {
  const internal::HandlerState& h = internal::g_sampler.handler;
  SamplerStats s;
  for (int i = 0; i < kNumSources; ++i) {
    s.samples[i] = h.samples[i].load(std::memory_order_relaxed);
  }
  s.weight = h.weight.load(std::memory_order_relaxed);
  s.double_counted = h.double_counted.load(std::memory_order_relaxed);
  s.stale = h.stale.load(std::memory_order_relaxed);
  s.not_ours = h.not_ours.load(std::memory_order_relaxed);
  s.arm_failures = h.arm_failures.load(std::memory_order_relaxed);
  return s;
}

}  // namespace gentrace::cpusample
