// Sampler: source selection, per-thread arming, the thread registry, and
// Start/Stop of the SIGPROF handler (see sampler.h). Nothing here runs in a
// signal handler: the handler, and the Sampler members that are
// async-signal-safe (stats, TriggerSample), are in signal_handler.cc; the
// state both sides share is g_sampler (sampler_state.h, which says who
// touches each field and holds invariant 1).
//
// Invariants kept here (4 and 5 are in signal_handler.cc):
//  2. A SamplerThreadState is read by signal handlers only on its own
//     thread, via tls_sampler_thread, which that thread clears before it
//     deletes the state (DetachCurrentThread; it unlinks and disarms it
//     first, so the last samples of its own source still count as
//     attached). Other threads touch it only under mu, and only while it is
//     linked.
//  3. SamplerThreadState::own_source is true while the thread's own timer
//     or counter may fire; the handler then ignores ITIMER_PROF on that
//     thread (no double counting). It is set before the source is armed.
#include "cpusample/sampler.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/attributes.h"
#include "absl/strings/str_cat.h"
#include "base/sys.h"
#include "cpusample/sampler_state.h"
#include "cpusample/signal_handler.h"

namespace gentrace::cpusample {
namespace internal {

// Constant initialization, checked by the compiler.
#if defined(__clang__)
#define GENTRACE_CPUSAMPLE_CONSTINIT ABSL_CONST_INIT
#else
#define GENTRACE_CPUSAMPLE_CONSTINIT __constinit
#endif
GENTRACE_CPUSAMPLE_CONSTINIT SamplerState g_sampler;
#undef GENTRACE_CPUSAMPLE_CONSTINIT

__thread SamplerThreadState* tls_sampler_thread
    __attribute__((tls_model("initial-exec"))) = nullptr;

}  // namespace internal

namespace {

using base::GetTid;
using internal::g_sampler;
using internal::HandlerState;
using internal::tls_sampler_thread;
using ThreadState = internal::SamplerThreadState;

// Detaches a thread that exits while still attached: a pthread key whose
// value is set while the thread is attached (a pthread key rather than a
// thread_local object, whose guard variable would be one more TLS variable
// accessed through the dynamic model).
void DetachAtExit(void*) { Sampler::DetachCurrentThread(); }
void CreateExitKey() { pthread_key_create(&g_sampler.exit_key, DetachAtExit); }

// ---- Arming (mu held) -------------------------------------------------------

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
  uint64_t& rng = g_sampler.rng;
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

// Creates a CPU timer on `clock` that sends SIGPROF with si_value `cookie`
// to thread `tid`, unarmed. Returns 0 or timer_create's errno.
int CreateThreadTimer(clockid_t clock, pid_t tid, uint64_t cookie,
                      timer_t* id) {
  sigevent sev;
  memset(&sev, 0, sizeof(sev));
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = SIGPROF;
  sev.sigev_value.sival_ptr =
      reinterpret_cast<void*>(static_cast<uintptr_t>(cookie));
  sev._sigev_un._tid = tid;
  return timer_create(clock, &sev, id) == 0 ? 0 : errno;
}

absl::Status ArmTimer(ThreadState* t) {
  timer_t id;
  if (const int err = CreateThreadTimer(t->clock, t->tid,
                                        g_sampler.handler.cookie.load(), &id);
      err != 0) {
    return absl::UnavailableError(absl::StrCat(
        "timer_create(CPU clock of thread ", t->tid,
        ", SIGEV_THREAD_ID) failed: ", base::ErrnoText(err), SeccompNote()));
  }
  // Invariant 3: own_source before the timer can fire.
  t->own_source.store(true, std::memory_order_release);
  // The first expiry is uniform in (0, period], as Go does, so that a
  // thread that runs for a fraction of a period still has that chance of
  // being sampled, rather than none.
  const uint64_t period = g_sampler.period;
  itimerspec its;
  its.it_interval = NsToTimespec(period);
  its.it_value = NsToTimespec(1 + NextRandom() % period);
  if (timer_settime(id, 0, &its, nullptr) != 0) {
    const int err = errno;
    timer_delete(id);
    t->own_source.store(false, std::memory_order_release);
    return absl::InternalError(
        absl::StrCat("timer_settime failed: ", base::ErrnoText(err)));
  }
  t->timer = id;
  t->has_timer = true;
  return absl::OkStatus();
}

absl::Status ArmPerf(ThreadState* t) {
  HandlerState& h = g_sampler.handler;
  absl::StatusOr<int> fd = internal::OpenPerfCounter(g_sampler.perf, t->tid);
  if (!fd.ok()) return fd.status();
  h.perf_fds.Add(*fd);
  t->perf_fd.store(*fd, std::memory_order_release);
  // Invariant 3: own_source before the counter can fire.
  t->own_source.store(true, std::memory_order_release);
  if (!internal::EnablePerfCounter(*fd)) {
    const int err = errno;
    t->own_source.store(false, std::memory_order_release);
    t->perf_fd.store(-1, std::memory_order_release);
    h.perf_fds.Remove(*fd);
    close(*fd);
    return absl::InternalError(absl::StrCat(
        "ioctl(PERF_EVENT_IOC_ENABLE) failed: ", base::ErrnoText(err)));
  }
  return absl::OkStatus();
}

absl::Status ArmThread(ThreadState* t) {
  absl::Status st;
  if (g_sampler.active == Source::kThreadTimer) {
    st = ArmTimer(t);
  } else if (g_sampler.active == Source::kPerfEvent) {
    st = ArmPerf(t);
  }
  if (!st.ok()) {
    g_sampler.handler.arm_failures.fetch_add(1, std::memory_order_relaxed);
  }
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
    g_sampler.handler.perf_fds.Remove(fd);
    close(fd);
  }
  t->own_source.store(false, std::memory_order_release);
}

void DisarmAllThreads() {
  for (ThreadState* t = g_sampler.threads; t != nullptr; t = t->next) {
    DisarmThread(t);
  }
}

absl::Status ArmItimer(int hz) {
  itimerval it;
  const long us = hz >= 1000000 ? 1 : 1000000 / hz;
  it.it_interval.tv_sec = us / 1000000;
  it.it_interval.tv_usec = us % 1000000;
  it.it_value = it.it_interval;
  g_sampler.handler.itimer_ours.store(true, std::memory_order_release);
  if (setitimer(ITIMER_PROF, &it, nullptr) != 0) {
    const int err = errno;
    return absl::UnavailableError(
        absl::StrCat("setitimer(ITIMER_PROF) failed: ", base::ErrnoText(err),
                     SeccompNote()));
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
  clockid_t clock;
  if (pthread_getcpuclockid(pthread_self(), &clock) != 0) {
    return absl::UnavailableError("pthread_getcpuclockid failed");
  }
  timer_t id;
  if (const int err = CreateThreadTimer(clock, GetTid(), 0, &id); err != 0) {
    return absl::UnavailableError(
        absl::StrCat("timer_create(thread CPU clock, SIGEV_THREAD_ID) "
                     "failed: ",
                     base::ErrnoText(err), SeccompNote()));
  }
  timer_delete(id);
  return absl::OkStatus();
}

std::string DescribePerf(const internal::PerfConfig& c) {
  std::string s = absl::StrCat("perf-event: ", c.spec.name,
                               " counter per attached thread, ");
  if (c.sample_freq != 0) {
    absl::StrAppend(&s, "frequency ", c.sample_freq, " Hz");
  } else {
    absl::StrAppend(&s, "period ", c.sample_period,
                    c.spec.clock ? " ns" : " events");
  }
  absl::StrAppend(&s, c.exclude_user     ? ", kernel only"
                      : c.exclude_kernel ? ", user space only"
                                         : ", kernel included");
  if (c.spec.hardware) absl::StrAppend(&s, ", precise_ip ", c.precise_ip);
  return s;
}

void ResetStats() {
  HandlerState& h = g_sampler.handler;
  for (auto& s : h.samples) s.store(0, std::memory_order_relaxed);
  h.weight.store(0, std::memory_order_relaxed);
  h.double_counted.store(0, std::memory_order_relaxed);
  h.stale.store(0, std::memory_order_relaxed);
  h.not_ours.store(0, std::memory_order_relaxed);
  h.arm_failures.store(0, std::memory_order_relaxed);
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

// Probes perf counters of `event` (period: SamplerOptions::period) and, if
// the kernel accepts them, makes them the active source. mu held.
absl::Status UsePerf(const SamplerOptions& o, PerfEvent event,
                     uint64_t period) {
  absl::StatusOr<internal::PerfConfig> c =
      o.named_event.has_value()
          ? internal::ProbePerfConfig(*o.named_event, o.hz, o.period,
                                      o.perf_kernel, GetTid())
          : internal::ProbePerfConfig(event, o.hz, period, o.perf_kernel,
                                      GetTid());
  if (!c.ok()) return c.status();
  g_sampler.perf = *c;
  g_sampler.active = Source::kPerfEvent;
  *g_sampler.report = DescribePerf(g_sampler.perf);
  return absl::OkStatus();
}

// Probes per-thread CPU timers and, if the kernel accepts them, makes them
// the active source. mu held.
absl::Status UseThreadTimers(const SamplerOptions& o) {
  absl::Status st = ProbeThreadTimer();
  if (!st.ok()) return st;
  g_sampler.active = Source::kThreadTimer;
  *g_sampler.report = absl::StrCat(
      "thread-timer: POSIX CPU timer per attached thread at ", o.hz, " Hz");
  return absl::OkStatus();
}

// kAuto: the first source the kernel accepts, in SamplerOptions::source's
// order, recording each refusal in the report. mu held.
void ChooseAuto(const SamplerOptions& o) {
  std::string refusals;
  bool chosen = false;
  auto attempt = [&](absl::Status st) {
    if (st.ok()) {
      chosen = true;
    } else {
      absl::StrAppend(&refusals, st.message(), "; ");
    }
  };
  if (IsHardwareEvent(o.event)) attempt(UsePerf(o, o.event, o.period));
  if (!chosen) attempt(UseThreadTimers(o));
  if (!chosen) attempt(UsePerf(o, PerfEvent::kCpuClock, 0));
  if (chosen) {
    g_sampler.itimer_on = o.sample_unattached_threads;
  } else {
    g_sampler.active = Source::kProcessTimer;
    g_sampler.itimer_on = true;
  }
  if (!refusals.empty()) {
    *g_sampler.report =
        absl::StrCat("auto: refused: ", refusals, "chose ", *g_sampler.report);
  }
}

// Picks the source (active, itimer_on, perf, report). mu held.
absl::Status ChooseSource(const SamplerOptions& o) {
  g_sampler.itimer_on = false;
  std::string& report = g_sampler.report.emplace();
  switch (o.source) {
    case Source::kManual:
      g_sampler.active = Source::kManual;
      report = "manual: nothing armed; samples only on TriggerSample()";
      return absl::OkStatus();
    case Source::kProcessTimer:
      g_sampler.active = Source::kProcessTimer;
      g_sampler.itimer_on = true;
      break;
    case Source::kThreadTimer:
      if (absl::Status st = UseThreadTimers(o); !st.ok()) return st;
      g_sampler.itimer_on = o.sample_unattached_threads;
      break;
    case Source::kPerfEvent:
      if (absl::Status st = UsePerf(o, o.event, o.period); !st.ok()) return st;
      g_sampler.itimer_on = o.sample_unattached_threads;
      break;
    case Source::kAuto:
      if (o.named_event.has_value()) {  // counted as named, or an error
        if (absl::Status st = UsePerf(o, o.event, o.period); !st.ok()) {
          return st;
        }
        g_sampler.itimer_on = o.sample_unattached_threads;
        break;
      }
      ChooseAuto(o);
      break;
  }
  if (g_sampler.itimer_on) {
    absl::StrAppend(&report, report.empty() ? "" : "; ",
                    "process-timer: ITIMER_PROF at ", o.hz, " Hz for ",
                    g_sampler.active == Source::kProcessTimer
                        ? "all threads"
                        : "unattached threads");
  }
  return absl::OkStatus();
}

// Installs HandleSigprof, remembering the disposition it replaces for Stop
// and for forwarding signals that are not ours. mu held.
absl::Status InstallHandler() {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = internal::HandleSigprof;
  // SA_NODEFER: SIGPROF stays unblocked while the handler runs (sampler.h,
  // "Where signals go"); the handler is reentrant (invariant 5).
  sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  struct sigaction old;
  if (sigaction(SIGPROF, &sa, &old) != 0) {
    const int err = errno;
    return absl::InternalError(
        absl::StrCat("sigaction(SIGPROF) failed: ", base::ErrnoText(err)));
  }
  g_sampler.saved_action = old;
  uintptr_t prev = (old.sa_flags & SA_SIGINFO) != 0
                       ? reinterpret_cast<uintptr_t>(old.sa_sigaction)
                       : reinterpret_cast<uintptr_t>(old.sa_handler);
  if (prev == reinterpret_cast<uintptr_t>(&internal::HandleSigprof)) {
    prev = reinterpret_cast<uintptr_t>(SIG_IGN);  // never forward to us
  }
  HandlerState& h = g_sampler.handler;
  h.prev_flags.store(old.sa_flags, std::memory_order_release);
  h.prev_handler.store(prev, std::memory_order_release);
  return absl::OkStatus();
}

// Waits until no handler is running (Stop's half of invariant 4). mu held.
void WaitForHandlers() {
  while (g_sampler.handler.in_handler.load(std::memory_order_seq_cst) != 0) {
    sched_yield();
  }
}

void UnlinkThread(ThreadState* t) {
  if (t->prev != nullptr) t->prev->next = t->next;
  if (t->next != nullptr) t->next->prev = t->prev;
  if (g_sampler.threads == t) g_sampler.threads = t->next;
  t->prev = t->next = nullptr;
  --g_sampler.thread_count;
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
  std::lock_guard<std::mutex> lock(g_sampler.mu);
  if (g_sampler.running) {
    return absl::FailedPreconditionError(
        "cpusample::Sampler is already running: Stop it first (there is one "
        "SIGPROF sampler per process)");
  }
  HandlerState& h = g_sampler.handler;
  ++g_sampler.session;
  h.cookie.store(internal::SessionCookie(g_sampler.session),
                 std::memory_order_release);
  h.itimer_ours.store(false, std::memory_order_release);
  g_sampler.hz = options.hz;
  g_sampler.period = PeriodNs(options.hz > 0 ? options.hz : 1);
  g_sampler.rng ^= static_cast<uint64_t>(GetTid()) * 0x9e3779b97f4a7c15u +
                   static_cast<uint64_t>(time(nullptr));
  if (g_sampler.rng == 0) g_sampler.rng = 1;
  if (absl::Status st = ChooseSource(options); !st.ok()) return st;
  std::string& report = *g_sampler.report;

  // The handler's configuration, before it is enabled (invariant 4).
  ResetStats();
  h.pid.store(getpid(), std::memory_order_relaxed);
  h.uid.store(getuid(), std::memory_order_relaxed);
  h.max_frames.store(options.max_frames, std::memory_order_relaxed);
  h.caller_heuristic.store(options.caller_heuristic, std::memory_order_relaxed);
  h.arg.store(arg, std::memory_order_release);
  h.callback.store(cb, std::memory_order_release);
  if (absl::Status st = InstallHandler(); !st.ok()) return st;
  h.enabled.store(true, std::memory_order_seq_cst);

  int failures = 0;
  std::string first_failure;
  for (ThreadState* t = g_sampler.threads; t != nullptr; t = t->next) {
    absl::Status st = ArmThread(t);
    if (!st.ok() && failures++ == 0) first_failure = std::string(st.message());
  }
  if (failures != 0) {
    absl::StrAppend(&report, "; ", failures,
                    " attached thread(s) could not be armed: ", first_failure);
  }
  if (g_sampler.itimer_on) {
    absl::Status st = ArmItimer(g_sampler.hz);
    if (!st.ok()) {
      if (options.source == Source::kProcessTimer ||
          g_sampler.active == Source::kProcessTimer) {
        h.enabled.store(false, std::memory_order_seq_cst);
        DisarmAllThreads();
        WaitForHandlers();
        sigaction(SIGPROF, &g_sampler.saved_action, nullptr);
        return st;
      }
      g_sampler.itimer_on = false;
      absl::StrAppend(&report, "; ", st.message());
    }
  }
  g_sampler.running = true;
  h.running.store(true, std::memory_order_release);
  return absl::OkStatus();
}

bool Sampler::ReplaceForwardedAction(const struct sigaction* act,
                                     struct sigaction* old) {
  std::lock_guard<std::mutex> lock(g_sampler.mu);
  if (!g_sampler.handler.running.load(std::memory_order_acquire)) {
    return false;
  }
  if (old != nullptr) *old = g_sampler.saved_action;
  if (act == nullptr) return true;
  g_sampler.saved_action = *act;
  uintptr_t prev = (act->sa_flags & SA_SIGINFO) != 0
                       ? reinterpret_cast<uintptr_t>(act->sa_sigaction)
                       : reinterpret_cast<uintptr_t>(act->sa_handler);
  if (prev == reinterpret_cast<uintptr_t>(&internal::HandleSigprof)) {
    prev = reinterpret_cast<uintptr_t>(SIG_IGN);  // never forward to us
  }
  HandlerState& h = g_sampler.handler;
  // A SIGPROF forwarded during this change may pair the old address with
  // the new flags; both are plain function pointers on x86-64 and
  // aarch64, where an extra argument is ignored.
  h.prev_flags.store(act->sa_flags, std::memory_order_release);
  h.prev_handler.store(prev, std::memory_order_release);
  return true;
}

void Sampler::Stop() {
  std::lock_guard<std::mutex> lock(g_sampler.mu);
  if (!g_sampler.running) return;
  HandlerState& h = g_sampler.handler;
  // Invariant 4: from here on the handler drops our signals; once no
  // handler is inside, none can reach the callback any more.
  h.enabled.store(false, std::memory_order_seq_cst);
  if (g_sampler.itimer_on) DisarmItimer();
  DisarmAllThreads();
  WaitForHandlers();
  struct sigaction restore = g_sampler.saved_action;
  const bool was_default =
      (restore.sa_flags & SA_SIGINFO) == 0 && restore.sa_handler == SIG_DFL;
  if (was_default) restore.sa_handler = SIG_IGN;
  sigaction(SIGPROF, &restore, nullptr);
  g_sampler.running = false;
  h.running.store(false, std::memory_order_release);
  g_sampler.itimer_on = false;
  g_sampler.active = Source::kManual;
}

void Sampler::WithProcessTimerPaused(
    int threads,
    const std::function<void(std::atomic<int>* begun)>& start_threads) {
  std::lock_guard<std::mutex> lock(g_sampler.mu);
  const bool pause = g_sampler.running && g_sampler.itimer_on;
  if (pause) DisarmItimer();
  // Waited for even without a pause: `begun` lives in this frame.
  std::atomic<int> begun{0};
  start_threads(&begun);
  while (begun.load() < threads) std::this_thread::yield();
  if (!pause) return;
  if (absl::Status st = ArmItimer(g_sampler.hz); !st.ok()) {
    // setitimer with the values Start used cannot fail; if it ever does,
    // say so where the choice of source is reported.
    g_sampler.itimer_on = false;
    absl::StrAppend(&*g_sampler.report,
                    "; re-arming after a pause: ", st.message());
  }
}

bool Sampler::running() {
  return g_sampler.handler.running.load(std::memory_order_acquire);
}

absl::Status Sampler::AttachCurrentThread() {
  if (tls_sampler_thread != nullptr) return absl::OkStatus();
  EnsureThreadStackBounds();
  RefreshCodeRanges();
  clockid_t clock;
  if (const int err = pthread_getcpuclockid(pthread_self(), &clock); err != 0) {
    return absl::InternalError(
        absl::StrCat("pthread_getcpuclockid failed: ", base::ErrnoText(err)));
  }
  auto* t = new ThreadState;
  t->tid = GetTid();
  t->clock = clock;
  pthread_once(&g_sampler.exit_key_once, CreateExitKey);
  pthread_setspecific(g_sampler.exit_key, t);  // detach at exit
  // Visible to this thread's handler before anything can fire for it.
  tls_sampler_thread = t;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  std::lock_guard<std::mutex> lock(g_sampler.mu);
  t->next = g_sampler.threads;
  if (g_sampler.threads != nullptr) g_sampler.threads->prev = t;
  g_sampler.threads = t;
  ++g_sampler.thread_count;
  if (g_sampler.running) return ArmThread(t);
  return absl::OkStatus();
}

void Sampler::DetachCurrentThread() {
  ThreadState* t = tls_sampler_thread;
  if (t == nullptr) return;
  pthread_setspecific(g_sampler.exit_key, nullptr);
  {
    // Disarm while this thread's handler still sees t, so that every
    // sample of its own source is marked attached.
    std::lock_guard<std::mutex> lock(g_sampler.mu);
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
  std::lock_guard<std::mutex> lock(g_sampler.mu);
  return g_sampler.thread_count;
}

Source Sampler::active_source() {
  std::lock_guard<std::mutex> lock(g_sampler.mu);
  return g_sampler.running ? g_sampler.active : Source::kManual;
}

bool Sampler::process_timer_active() {
  std::lock_guard<std::mutex> lock(g_sampler.mu);
  return g_sampler.running && g_sampler.itimer_on;
}

PerfEvent Sampler::active_event() {
  std::lock_guard<std::mutex> lock(g_sampler.mu);
  return g_sampler.perf.event;
}

std::string Sampler::active_event_name() {
  std::lock_guard<std::mutex> lock(g_sampler.mu);
  return g_sampler.perf.spec.name;
}

int Sampler::effective_hz() {
  std::lock_guard<std::mutex> lock(g_sampler.mu);
  if (!g_sampler.running || g_sampler.active == Source::kManual) return 0;
  if (g_sampler.active == Source::kPerfEvent && !g_sampler.perf.spec.clock &&
      g_sampler.perf.sample_freq == 0) {
    return 0;
  }
  return g_sampler.hz;
}

uint64_t Sampler::effective_period() {
  std::lock_guard<std::mutex> lock(g_sampler.mu);
  if (!g_sampler.running || g_sampler.active == Source::kManual) return 0;
  if (g_sampler.active == Source::kPerfEvent) {
    return g_sampler.perf.sample_period;
  }
  return g_sampler.period;
}

std::string Sampler::selection_report() {
  std::lock_guard<std::mutex> lock(g_sampler.mu);
  return g_sampler.report.value_or(std::string());
}

}  // namespace gentrace::cpusample
