// The Sampler's signal side (sampler.h): the SIGPROF handler and all of the
// Sampler's code that runs in a signal handler, kept apart so that the
// async-signal-safe boundary is visible. Everything declared here, and
// everything signal_handler.cc defines (with Sampler::TriggerSample and
// Sampler::stats, sampler.h's async-signal-safe members), is
// async-signal-safe; no other code of the Sampler runs in a signal handler.
//
// The handler touches g_sampler.handler (HandlerState, sampler_state.h), its
// own thread's SamplerThreadState (tid, perf_fd, own_source) through
// tls_sampler_thread, the weight TriggerSample left for it, and the stack.
// Outside this file it calls only UnwindFromUcontext (fp_unwind.h,
// async-signal-safe), the SampleCallback (which must be so itself), and,
// for a signal that is not ours, the handler Start replaced.
#ifndef GENTRACE_CPUSAMPLE_SIGNAL_HANDLER_H_
#define GENTRACE_CPUSAMPLE_SIGNAL_HANDLER_H_

#include <signal.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>

#include "cpusample/sampler.h"

namespace gentrace::cpusample::internal {

// si_value of our timers and TriggerSample: a magic tag and the session
// number, so that signals from an earlier Start are recognized as stale.
inline constexpr uint64_t kCookieMagic = uint64_t{0x67656e74} << 32;  // "gent"
inline constexpr uint64_t kCookieMagicMask = uint64_t{0xffffffff} << 32;

// The cookie of session number `session`. Async-signal-safe.
constexpr uint64_t SessionCookie(uint32_t session) {
  return kCookieMagic | session;
}

// The set of our perf counters' fds below kFdBits, so that the handler
// recognizes a counter's signal whose thread has already detached. All
// members are async-signal-safe.
class PerfFdSet {
 public:
  static constexpr int kFdBits = 1 << 16;

  void Add(int fd) {
    if (fd >= 0 && fd < kFdBits) {
      words_[fd / 64].fetch_or(uint64_t{1} << (fd % 64));
    }
  }
  void Remove(int fd) {
    if (fd >= 0 && fd < kFdBits) {
      words_[fd / 64].fetch_and(~(uint64_t{1} << (fd % 64)));
    }
  }
  bool Contains(int fd) const {
    return fd >= 0 && fd < kFdBits &&
           (words_[fd / 64].load(std::memory_order_relaxed) >> (fd % 64)) & 1;
  }

 private:
  std::atomic<uint64_t> words_[kFdBits / 64] = {};
};

// The SIGPROF handler Start installs (SA_SIGINFO | SA_RESTART | SA_ONSTACK
// | SA_NODEFER). Async-signal-safe and reentrant (invariant 5).
void HandleSigprof(int sig, siginfo_t* si, void* ucontext);

}  // namespace gentrace::cpusample::internal

#endif  // GENTRACE_CPUSAMPLE_SIGNAL_HANDLER_H_
