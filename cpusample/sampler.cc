// Sampler: source selection, per-thread arming, the thread registry and the
// SIGPROF handler (see sampler.h).
//
// Invariants:
//  1. g_mu guards the registry (g_threads), the session configuration and
//     every timer_t / perf fd. The signal handler never takes it: it reads
//     only atomics, its own thread's ThreadState (through tls_sampler_thread),
//     and the stack.
//  2. A ThreadState is read by signal handlers only on its own thread, via
//     tls_sampler_thread, which that thread clears before it deletes the
//     state (DetachCurrentThread; it unlinks and disarms it first, so the
//     last samples of its own source still count as attached). Other
//     threads touch it only under g_mu, and only while it is linked.
//  3. ThreadState::own_source is true while the thread's own timer or
//     counter may fire; the handler then ignores ITIMER_PROF on that thread
//     (no double counting). It is set before the source is armed.
//  4. The handler increments g_in_handler before it reads g_enabled
//     (seq_cst both ways), so once Stop has cleared g_enabled and seen
//     g_in_handler == 0, no handler can still reach the callback.
//  5. The handler is reentrant (SA_NODEFER, sampler.h "Where signals
//     go"): it keeps its state on the stack or in atomics, and a nested
//     run on the same thread completes before the one it interrupted
//     goes on.
#include "cpusample/sampler.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"

namespace gentrace::cpusample {
namespace internal {

// One attached thread. (In `internal`, not an anonymous namespace, because
// tls_sampler_thread below must have external linkage.)
struct SamplerThreadState {
  pid_t tid = 0;
  clockid_t clock = 0;
  // Guarded by g_mu.
  SamplerThreadState* prev = nullptr;
  SamplerThreadState* next = nullptr;
  timer_t timer{};
  bool has_timer = false;
  // Read by this thread's signal handler.
  std::atomic<int> perf_fd{-1};
  std::atomic<bool> own_source{false};
};

// The calling thread's registration, or null. External linkage on purpose:
// gold (Bazel's linker here) mislinked an initial-exec access to an
// internal-linkage TLS variable of this shared object (its GOT entry
// pointed at another TLS variable, a thread_local's guard).
__thread SamplerThreadState* tls_sampler_thread
    __attribute__((tls_model("initial-exec"))) = nullptr;

// The weight of the calling thread's next TriggerSample, taken (and reset)
// by the handler of that signal, which may run late under ThreadSanitizer.
__thread uint64_t tls_trigger_weight
    __attribute__((tls_model("initial-exec"))) = 0;

}  // namespace internal

namespace {

using ThreadState = internal::SamplerThreadState;
using internal::tls_sampler_thread;
using internal::tls_trigger_weight;

// si_value of our timers and TriggerSample: a magic tag and the session
// number, so that signals from an earlier Start are recognized as stale.
constexpr uint64_t kCookieMagic = uint64_t{0x67656e74} << 32;  // "gent"
constexpr uint64_t kCookieMagicMask = uint64_t{0xffffffff} << 32;

// Detaches a thread that exits while still attached: a pthread key whose
// value is set while the thread is attached (a pthread key rather than a
// thread_local object, whose guard variable would be one more TLS variable
// accessed through the dynamic model).
pthread_once_t g_exit_key_once = PTHREAD_ONCE_INIT;
pthread_key_t g_exit_key;
void DetachAtExit(void*) { Sampler::DetachCurrentThread(); }
void CreateExitKey() { pthread_key_create(&g_exit_key, DetachAtExit); }

std::mutex g_mu;
// Guarded by g_mu.
ThreadState* g_threads = nullptr;
int g_thread_count = 0;
bool g_running = false;
uint32_t g_session = 0;
Source g_active = Source::kManual;
bool g_itimer_on = false;
internal::PerfConfig g_perf;
int g_hz = 0;
uint64_t g_period = 0;
std::string g_report;
struct sigaction g_saved_action;
uint64_t g_rng = 0x9e3779b97f4a7c15u;

// Read by the signal handler.
std::atomic<bool> g_running_flag{false};
std::atomic<bool> g_enabled{false};
std::atomic<int> g_in_handler{0};
std::atomic<SampleCallback> g_cb{nullptr};
std::atomic<void*> g_arg{nullptr};
std::atomic<uint64_t> g_cookie{0};
std::atomic<bool> g_itimer_ours{false};
std::atomic<int> g_max_frames{kMaxFrames};
std::atomic<bool> g_heuristic{true};
std::atomic<uintptr_t> g_prev_handler{0};
std::atomic<int> g_prev_flags{0};
std::atomic<pid_t> g_pid{0};
std::atomic<uid_t> g_uid{0};

// Stats, reset by Start.
std::atomic<uint64_t> g_samples[kNumSources];
std::atomic<uint64_t> g_weight{0};
std::atomic<uint64_t> g_double_counted{0};
std::atomic<uint64_t> g_stale{0};
std::atomic<uint64_t> g_not_ours{0};
std::atomic<uint64_t> g_arm_failures{0};

// Our perf counters' fds below kFdBits, for a signal whose thread has
// already detached.
constexpr int kFdBits = 1 << 16;
std::atomic<uint64_t> g_perf_fds[kFdBits / 64];

// The fd bitmap's accessors. Async-signal-safe.
void SetFdBit(int fd) {
  if (fd >= 0 && fd < kFdBits) {
    g_perf_fds[fd / 64].fetch_or(uint64_t{1} << (fd % 64));
  }
}
void ClearFdBit(int fd) {
  if (fd >= 0 && fd < kFdBits) {
    g_perf_fds[fd / 64].fetch_and(~(uint64_t{1} << (fd % 64)));
  }
}
bool FdBit(int fd) {
  return fd >= 0 && fd < kFdBits &&
         (g_perf_fds[fd / 64].load(std::memory_order_relaxed) >> (fd % 64)) & 1;
}

// Async-signal-safe.
pid_t GetTid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

// ---- The signal handler ---------------------------------------------------

enum class Verdict { kSample, kDoubleCounted, kStale, kNotOurs };

// Decides what a SIGPROF is. Async-signal-safe.
Verdict Classify(const siginfo_t* si, const ThreadState* ts, Source* source,
                 uint64_t* weight) {
  *weight = 1;
  switch (si->si_code) {
    case SI_KERNEL:  // setitimer(ITIMER_PROF)
      if (!g_itimer_ours.load(std::memory_order_acquire)) {
        return Verdict::kNotOurs;
      }
      *source = Source::kProcessTimer;
      if (ts != nullptr && ts->own_source.load(std::memory_order_acquire)) {
        return Verdict::kDoubleCounted;
      }
      return Verdict::kSample;
    case SI_TIMER:    // timer_create
    case SI_QUEUE: {  // TriggerSample
      const uint64_t cookie =
          reinterpret_cast<uintptr_t>(si->si_value.sival_ptr);
      if ((cookie & kCookieMagicMask) != kCookieMagic) return Verdict::kNotOurs;
      if (cookie != g_cookie.load(std::memory_order_acquire)) {
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
          FdBit(si->si_fd)) {
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
  const uintptr_t h = g_prev_handler.load(std::memory_order_acquire);
  if (h == reinterpret_cast<uintptr_t>(SIG_DFL) ||
      h == reinterpret_cast<uintptr_t>(SIG_IGN)) {
    return;  // not ours, and nobody else wants it: drop it
  }
  if ((g_prev_flags.load(std::memory_order_acquire) & SA_SIGINFO) != 0) {
    reinterpret_cast<void (*)(int, siginfo_t*, void*)>(h)(sig, si, uc);
  } else {
    reinterpret_cast<void (*)(int)>(h)(sig);
  }
}

// The SIGPROF handler. Async-signal-safe and reentrant (invariant 5):
// atomics, the stack walk, and the callback (which must be so itself);
// errno is preserved.
void HandleSigprof(int sig, siginfo_t* si, void* ucv) {
  const int saved_errno = errno;
  g_in_handler.fetch_add(1, std::memory_order_seq_cst);
  ThreadState* ts = tls_sampler_thread;
  Source source = Source::kManual;
  uint64_t weight = 1;
  Verdict verdict = Classify(si, ts, &source, &weight);
  if (verdict != Verdict::kNotOurs &&
      !g_enabled.load(std::memory_order_seq_cst)) {
    verdict = Verdict::kStale;
  }
  switch (verdict) {
    case Verdict::kSample: {
      uintptr_t pcs[kMaxFrames];
      UnwindOptions uo;
      uo.max_frames = g_max_frames.load(std::memory_order_relaxed);
      uo.caller_heuristic = g_heuristic.load(std::memory_order_relaxed);
      const ucontext_t* uc = static_cast<const ucontext_t*>(ucv);
      Sample sample;
      sample.pcs = pcs;
      sample.depth = UnwindFromUcontext(uc, pcs, uo);
      sample.tid = ts != nullptr ? ts->tid : GetTid();
      sample.source = source;
      sample.weight = weight;
      sample.attached = ts != nullptr;
      sample.uc = uc;
      const SampleCallback cb = g_cb.load(std::memory_order_acquire);
      if (cb != nullptr) cb(sample, g_arg.load(std::memory_order_acquire));
      g_samples[static_cast<int>(source)].fetch_add(1,
                                                    std::memory_order_relaxed);
      g_weight.fetch_add(weight, std::memory_order_relaxed);
      break;
    }
    case Verdict::kDoubleCounted:
      g_double_counted.fetch_add(1, std::memory_order_relaxed);
      break;
    case Verdict::kStale:
      g_stale.fetch_add(1, std::memory_order_relaxed);
      break;
    case Verdict::kNotOurs:
      g_not_ours.fetch_add(1, std::memory_order_relaxed);
      break;
  }
  g_in_handler.fetch_sub(1, std::memory_order_seq_cst);
  if (verdict == Verdict::kNotOurs) ForwardToPrevious(sig, si, ucv);
  errno = saved_errno;
}

// ---- Arming (g_mu held) ---------------------------------------------------

std::string ErrnoText(int err) {
  char buf[256];
  return absl::StrCat(internal::ErrnoName(err), ": ",
                      strerror_r(err, buf, sizeof(buf)));
}

std::string SeccompNote() {
  return internal::ReadSystemFacts().seccomp_mode == 2
             ? "; a seccomp filter is active (Seccomp: 2 in /proc/self/status)"
             : "";
}

uint64_t PeriodNs(int hz) {
  const uint64_t ns = 1000000000u / static_cast<uint64_t>(hz);
  return ns == 0 ? 1 : ns;
}

timespec NsToTimespec(uint64_t ns) {
  timespec ts;
  ts.tv_sec = static_cast<time_t>(ns / 1000000000u);
  ts.tv_nsec = static_cast<long>(ns % 1000000000u);
  return ts;
}

uint64_t NextRandom() {  // xorshift64; only spreads first expiries
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return g_rng;
}

absl::Status ArmTimer(ThreadState* t) {
  sigevent sev;
  memset(&sev, 0, sizeof(sev));
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = SIGPROF;
  sev.sigev_value.sival_ptr =
      reinterpret_cast<void*>(static_cast<uintptr_t>(g_cookie.load()));
  sev._sigev_un._tid = t->tid;
  timer_t id;
  if (timer_create(t->clock, &sev, &id) != 0) {
    const int err = errno;
    return absl::UnavailableError(absl::StrCat(
        "timer_create(CPU clock of thread ", t->tid,
        ", SIGEV_THREAD_ID) failed: ", ErrnoText(err), SeccompNote()));
  }
  t->own_source.store(true, std::memory_order_release);
  // The first expiry is uniform in (0, period], as Go does, so that a
  // thread that runs for a fraction of a period still has that chance of
  // being sampled, rather than none.
  const uint64_t period = g_period;
  itimerspec its;
  its.it_interval = NsToTimespec(period);
  its.it_value = NsToTimespec(1 + NextRandom() % period);
  if (timer_settime(id, 0, &its, nullptr) != 0) {
    const int err = errno;
    timer_delete(id);
    t->own_source.store(false, std::memory_order_release);
    return absl::InternalError(
        absl::StrCat("timer_settime failed: ", ErrnoText(err)));
  }
  t->timer = id;
  t->has_timer = true;
  return absl::OkStatus();
}

absl::Status ArmPerf(ThreadState* t) {
  absl::StatusOr<int> fd = internal::OpenPerfCounter(g_perf, t->tid);
  if (!fd.ok()) return fd.status();
  SetFdBit(*fd);
  t->perf_fd.store(*fd, std::memory_order_release);
  t->own_source.store(true, std::memory_order_release);
  if (!internal::EnablePerfCounter(*fd)) {
    const int err = errno;
    t->own_source.store(false, std::memory_order_release);
    t->perf_fd.store(-1, std::memory_order_release);
    ClearFdBit(*fd);
    close(*fd);
    return absl::InternalError(
        absl::StrCat("ioctl(PERF_EVENT_IOC_ENABLE) failed: ", ErrnoText(err)));
  }
  return absl::OkStatus();
}

absl::Status ArmThread(ThreadState* t) {
  absl::Status st;
  if (g_active == Source::kThreadTimer) {
    st = ArmTimer(t);
  } else if (g_active == Source::kPerfEvent) {
    st = ArmPerf(t);
  }
  if (!st.ok()) g_arm_failures.fetch_add(1, std::memory_order_relaxed);
  return st;
}

void DisarmThread(ThreadState* t) {
  if (t->has_timer) {
    timer_delete(t->timer);
    t->has_timer = false;
  }
  const int fd = t->perf_fd.exchange(-1, std::memory_order_acq_rel);
  if (fd >= 0) {
    internal::DisablePerfCounter(fd);
    ClearFdBit(fd);
    close(fd);
  }
  t->own_source.store(false, std::memory_order_release);
}

absl::Status ArmItimer(int hz) {
  itimerval it;
  const long us = hz >= 1000000 ? 1 : 1000000 / hz;
  it.it_interval.tv_sec = us / 1000000;
  it.it_interval.tv_usec = us % 1000000;
  it.it_value = it.it_interval;
  g_itimer_ours.store(true, std::memory_order_release);
  if (setitimer(ITIMER_PROF, &it, nullptr) != 0) {
    const int err = errno;
    return absl::UnavailableError(absl::StrCat(
        "setitimer(ITIMER_PROF) failed: ", ErrnoText(err), SeccompNote()));
  }
  return absl::OkStatus();
}

void DisarmItimer() {
  itimerval zero;
  memset(&zero, 0, sizeof(zero));
  setitimer(ITIMER_PROF, &zero, nullptr);
}

// Whether this thread can have a CPU timer that signals it: creates one
// (unarmed) and deletes it.
absl::Status ProbeThreadTimer() {
  ThreadState probe;
  probe.tid = GetTid();
  if (pthread_getcpuclockid(pthread_self(), &probe.clock) != 0) {
    return absl::UnavailableError("pthread_getcpuclockid failed");
  }
  sigevent sev;
  memset(&sev, 0, sizeof(sev));
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = SIGPROF;
  sev._sigev_un._tid = probe.tid;
  timer_t id;
  if (timer_create(probe.clock, &sev, &id) != 0) {
    const int err = errno;
    return absl::UnavailableError(
        absl::StrCat("timer_create(thread CPU clock, SIGEV_THREAD_ID) "
                     "failed: ",
                     ErrnoText(err), SeccompNote()));
  }
  timer_delete(id);
  return absl::OkStatus();
}

std::string DescribePerf(const internal::PerfConfig& c) {
  std::string s = absl::StrCat("perf-event: ", PerfEventName(c.event),
                               " counter per attached thread, ");
  if (c.sample_freq != 0) {
    absl::StrAppend(&s, "frequency ", c.sample_freq, " Hz");
  } else {
    absl::StrAppend(&s, "period ", c.sample_period,
                    IsHardwareEvent(c.event) ? " events" : " ns");
  }
  absl::StrAppend(&s,
                  c.exclude_kernel ? ", user space only" : ", kernel included");
  if (IsHardwareEvent(c.event))
    absl::StrAppend(&s, ", precise_ip ", c.precise_ip);
  return s;
}

void ResetStats() {
  for (auto& s : g_samples) s.store(0, std::memory_order_relaxed);
  g_weight.store(0, std::memory_order_relaxed);
  g_double_counted.store(0, std::memory_order_relaxed);
  g_stale.store(0, std::memory_order_relaxed);
  g_not_ours.store(0, std::memory_order_relaxed);
  g_arm_failures.store(0, std::memory_order_relaxed);
}

absl::Status ValidateOptions(const SamplerOptions& o, SampleCallback cb) {
  if (cb == nullptr) return absl::InvalidArgumentError("callback is null");
  if (o.source != Source::kManual && (o.hz < 1 || o.hz > 100000)) {
    return absl::InvalidArgumentError(
        absl::StrCat("hz must be in [1, 100000], got ", o.hz));
  }
  if (o.max_frames < 1 || o.max_frames > kMaxFrames) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_frames must be in [1, ", kMaxFrames, "], got ", o.max_frames));
  }
  return absl::OkStatus();
}

// Picks the source (g_active, g_itimer_on, g_perf, g_report). g_mu held.
absl::Status ChooseSource(const SamplerOptions& o) {
  g_itimer_on = false;
  g_report.clear();
  const pid_t self = GetTid();
  const std::string timers = absl::StrCat(
      "thread-timer: POSIX CPU timer per attached thread at ", o.hz, " Hz");
  switch (o.source) {
    case Source::kManual:
      g_active = Source::kManual;
      g_report = "manual: nothing armed; samples only on TriggerSample()";
      return absl::OkStatus();
    case Source::kProcessTimer:
      g_active = Source::kProcessTimer;
      g_itimer_on = true;
      break;
    case Source::kThreadTimer: {
      absl::Status st = ProbeThreadTimer();
      if (!st.ok()) return st;
      g_active = Source::kThreadTimer;
      g_report = timers;
      g_itimer_on = o.sample_unattached_threads;
      break;
    }
    case Source::kPerfEvent: {
      absl::StatusOr<internal::PerfConfig> c = internal::ProbePerfConfig(
          o.event, o.hz, o.period, o.perf_kernel, self);
      if (!c.ok()) return c.status();
      g_perf = *c;
      g_active = Source::kPerfEvent;
      g_report = DescribePerf(g_perf);
      g_itimer_on = o.sample_unattached_threads;
      break;
    }
    case Source::kAuto: {
      std::string refusals;
      bool chosen = false;
      if (IsHardwareEvent(o.event)) {
        absl::StatusOr<internal::PerfConfig> c = internal::ProbePerfConfig(
            o.event, o.hz, o.period, o.perf_kernel, self);
        if (c.ok()) {
          g_perf = *c;
          g_active = Source::kPerfEvent;
          g_report = DescribePerf(g_perf);
          chosen = true;
        } else {
          absl::StrAppend(&refusals, c.status().message(), "; ");
        }
      }
      if (!chosen) {
        absl::Status st = ProbeThreadTimer();
        if (st.ok()) {
          g_active = Source::kThreadTimer;
          g_report = timers;
          chosen = true;
        } else {
          absl::StrAppend(&refusals, st.message(), "; ");
        }
      }
      if (!chosen) {
        absl::StatusOr<internal::PerfConfig> c = internal::ProbePerfConfig(
            PerfEvent::kCpuClock, o.hz, 0, o.perf_kernel, self);
        if (c.ok()) {
          g_perf = *c;
          g_active = Source::kPerfEvent;
          g_report = DescribePerf(g_perf);
          chosen = true;
        } else {
          absl::StrAppend(&refusals, c.status().message(), "; ");
        }
      }
      if (chosen) {
        g_itimer_on = o.sample_unattached_threads;
      } else {
        g_active = Source::kProcessTimer;
        g_itimer_on = true;
      }
      if (!refusals.empty()) {
        g_report =
            absl::StrCat("auto: refused: ", refusals, "chose ", g_report);
      }
      break;
    }
  }
  if (g_itimer_on) {
    absl::StrAppend(&g_report, g_report.empty() ? "" : "; ",
                    "process-timer: ITIMER_PROF at ", o.hz, " Hz for ",
                    g_active == Source::kProcessTimer ? "all threads"
                                                      : "unattached threads");
  }
  return absl::OkStatus();
}

void UnlinkThread(ThreadState* t) {
  if (t->prev != nullptr) t->prev->next = t->next;
  if (t->next != nullptr) t->next->prev = t->prev;
  if (g_threads == t) g_threads = t->next;
  t->prev = t->next = nullptr;
  --g_thread_count;
}

}  // namespace

const char* SourceName(Source source) {
  switch (source) {
    case Source::kAuto:
      return "auto";
    case Source::kThreadTimer:
      return "thread-timer";
    case Source::kProcessTimer:
      return "process-timer";
    case Source::kPerfEvent:
      return "perf-event";
    case Source::kManual:
      return "manual";
  }
  return "unknown";
}

absl::Status Sampler::Start(const SamplerOptions& options, SampleCallback cb,
                            void* arg) {
  if (absl::Status st = ValidateOptions(options, cb); !st.ok()) return st;
  RefreshCodeRanges();
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_running) {
    return absl::FailedPreconditionError(
        "cpusample::Sampler is already running: Stop it first (there is one "
        "SIGPROF sampler per process)");
  }
  ++g_session;
  g_cookie.store(kCookieMagic | g_session, std::memory_order_release);
  g_itimer_ours.store(false, std::memory_order_release);
  g_hz = options.hz;
  g_period = PeriodNs(options.hz > 0 ? options.hz : 1);
  g_rng ^= static_cast<uint64_t>(GetTid()) * 0x9e3779b97f4a7c15u +
           static_cast<uint64_t>(time(nullptr));
  if (g_rng == 0) g_rng = 1;
  if (absl::Status st = ChooseSource(options); !st.ok()) return st;

  ResetStats();
  g_pid.store(getpid(), std::memory_order_relaxed);
  g_uid.store(getuid(), std::memory_order_relaxed);
  g_max_frames.store(options.max_frames, std::memory_order_relaxed);
  g_heuristic.store(options.caller_heuristic, std::memory_order_relaxed);
  g_arg.store(arg, std::memory_order_release);
  g_cb.store(cb, std::memory_order_release);

  // Install the handler, remembering the one we replace.
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = HandleSigprof;
  // SA_NODEFER: SIGPROF stays unblocked while the handler runs (sampler.h,
  // "Where signals go"); the handler is reentrant.
  sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  struct sigaction old;
  if (sigaction(SIGPROF, &sa, &old) != 0) {
    const int err = errno;
    return absl::InternalError(
        absl::StrCat("sigaction(SIGPROF) failed: ", ErrnoText(err)));
  }
  g_saved_action = old;
  uintptr_t prev = (old.sa_flags & SA_SIGINFO) != 0
                       ? reinterpret_cast<uintptr_t>(old.sa_sigaction)
                       : reinterpret_cast<uintptr_t>(old.sa_handler);
  if (prev == reinterpret_cast<uintptr_t>(&HandleSigprof)) {
    prev = reinterpret_cast<uintptr_t>(SIG_IGN);  // never forward to us
  }
  g_prev_flags.store(old.sa_flags, std::memory_order_release);
  g_prev_handler.store(prev, std::memory_order_release);
  g_enabled.store(true, std::memory_order_seq_cst);

  int failures = 0;
  std::string first_failure;
  for (ThreadState* t = g_threads; t != nullptr; t = t->next) {
    absl::Status st = ArmThread(t);
    if (!st.ok() && failures++ == 0) first_failure = std::string(st.message());
  }
  if (failures != 0) {
    absl::StrAppend(&g_report, "; ", failures,
                    " attached thread(s) could not be armed: ", first_failure);
  }
  if (g_itimer_on) {
    absl::Status st = ArmItimer(g_hz);
    if (!st.ok()) {
      if (options.source == Source::kProcessTimer ||
          g_active == Source::kProcessTimer) {
        g_enabled.store(false, std::memory_order_seq_cst);
        for (ThreadState* t = g_threads; t != nullptr; t = t->next) {
          DisarmThread(t);
        }
        while (g_in_handler.load(std::memory_order_seq_cst) != 0) {
          sched_yield();
        }
        sigaction(SIGPROF, &g_saved_action, nullptr);
        return st;
      }
      g_itimer_on = false;
      absl::StrAppend(&g_report, "; ", st.message());
    }
  }
  g_running = true;
  g_running_flag.store(true, std::memory_order_release);
  return absl::OkStatus();
}

void Sampler::Stop() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_running) return;
  // From here on the handler drops our signals (invariant 4).
  g_enabled.store(false, std::memory_order_seq_cst);
  if (g_itimer_on) DisarmItimer();
  for (ThreadState* t = g_threads; t != nullptr; t = t->next) DisarmThread(t);
  while (g_in_handler.load(std::memory_order_seq_cst) != 0) sched_yield();
  struct sigaction restore = g_saved_action;
  const bool was_default =
      (restore.sa_flags & SA_SIGINFO) == 0 && restore.sa_handler == SIG_DFL;
  if (was_default) restore.sa_handler = SIG_IGN;
  sigaction(SIGPROF, &restore, nullptr);
  g_running = false;
  g_running_flag.store(false, std::memory_order_release);
  g_itimer_on = false;
  g_active = Source::kManual;
}

bool Sampler::running() {
  return g_running_flag.load(std::memory_order_acquire);
}

absl::Status Sampler::AttachCurrentThread() {
  if (tls_sampler_thread != nullptr) return absl::OkStatus();
  EnsureThreadStackBounds();
  RefreshCodeRanges();
  clockid_t clock;
  if (const int err = pthread_getcpuclockid(pthread_self(), &clock); err != 0) {
    return absl::InternalError(
        absl::StrCat("pthread_getcpuclockid failed: ", ErrnoText(err)));
  }
  auto* t = new ThreadState;
  t->tid = GetTid();
  t->clock = clock;
  pthread_once(&g_exit_key_once, CreateExitKey);
  pthread_setspecific(g_exit_key, t);  // detach at exit
  // Visible to this thread's handler before anything can fire for it.
  tls_sampler_thread = t;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  std::lock_guard<std::mutex> lock(g_mu);
  t->next = g_threads;
  if (g_threads != nullptr) g_threads->prev = t;
  g_threads = t;
  ++g_thread_count;
  if (g_running) return ArmThread(t);
  return absl::OkStatus();
}

void Sampler::DetachCurrentThread() {
  ThreadState* t = tls_sampler_thread;
  if (t == nullptr) return;
  pthread_setspecific(g_exit_key, nullptr);
  {
    // Disarm while this thread's handler still sees t, so that every
    // sample of its own source is marked attached.
    std::lock_guard<std::mutex> lock(g_mu);
    UnlinkThread(t);
    DisarmThread(t);
  }
  // Invariant 2: this thread's handler stops using t before it goes away.
  tls_sampler_thread = nullptr;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  delete t;
}

bool Sampler::IsCurrentThreadAttached() {
  return tls_sampler_thread != nullptr;
}

int Sampler::attached_thread_count() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_thread_count;
}

SamplerStats Sampler::stats() {
  SamplerStats s;
  for (int i = 0; i < kNumSources; ++i) {
    s.samples[i] = g_samples[i].load(std::memory_order_relaxed);
  }
  s.weight = g_weight.load(std::memory_order_relaxed);
  s.double_counted = g_double_counted.load(std::memory_order_relaxed);
  s.stale = g_stale.load(std::memory_order_relaxed);
  s.not_ours = g_not_ours.load(std::memory_order_relaxed);
  s.arm_failures = g_arm_failures.load(std::memory_order_relaxed);
  return s;
}

Source Sampler::active_source() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_running ? g_active : Source::kManual;
}

bool Sampler::process_timer_active() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_running && g_itimer_on;
}

PerfEvent Sampler::active_event() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_perf.event;
}

int Sampler::effective_hz() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_running || g_active == Source::kManual) return 0;
  if (g_active == Source::kPerfEvent && IsHardwareEvent(g_perf.event) &&
      g_perf.sample_freq == 0) {
    return 0;
  }
  return g_hz;
}

uint64_t Sampler::effective_period() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_running || g_active == Source::kManual) return 0;
  if (g_active == Source::kPerfEvent) return g_perf.sample_period;
  return g_period;
}

std::string Sampler::selection_report() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_report;
}

bool Sampler::TriggerSample(uint64_t weight) {
  if (!g_running_flag.load(std::memory_order_acquire)) return false;
  tls_trigger_weight = weight;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  siginfo_t si;
  memset(&si, 0, sizeof(si));
  si.si_signo = SIGPROF;
  si.si_code = SI_QUEUE;
  si.si_pid = g_pid.load(std::memory_order_relaxed);
  si.si_uid = g_uid.load(std::memory_order_relaxed);
  si.si_value.sival_ptr = reinterpret_cast<void*>(
      static_cast<uintptr_t>(g_cookie.load(std::memory_order_acquire)));
  const ThreadState* ts = tls_sampler_thread;
  const pid_t tid = ts != nullptr ? ts->tid : GetTid();
  return syscall(SYS_rt_tgsigqueueinfo, si.si_pid, tid, SIGPROF, &si) == 0;
}

}  // namespace gentrace::cpusample
