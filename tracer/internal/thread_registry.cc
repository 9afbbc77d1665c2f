// The thread registry; see thread_registry.h.
#include "tracer/internal/thread_registry.h"

#include <pthread.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "base/sys.h"
#include "cpusample/fp_unwind.h"
#include "cpusample/ring_sampler.h"
#include "cpusample/sampler.h"
#include "tracer/internal/runtime.h"
#include "tracer/internal/trace_locker.h"
#include "tracer/internal/writer.h"

namespace gentrace::internal {

// The calling thread's state. Initial-exec so that reading it is a single
// instruction and is safe in a signal handler. External linkage on
// purpose: gold has been seen to mislink a file-private initial-exec
// variable in a shared library that also has a thread_local with a
// destructor (cpusample/README.md).
__thread ThreadState* tls_thread __attribute__((tls_model("initial-exec"))) =
    nullptr;

namespace {

// Marks a thread that has exited (or is exiting): it records nothing more.
ThreadState* const kExitedThread = reinterpret_cast<ThreadState*>(1);

pthread_key_t g_exit_key;
pthread_once_t g_exit_key_once = PTHREAD_ONCE_INIT;

// The kernel's name of a thread of this process ("" if it is gone).
std::string OsThreadName(pid_t tid) {
  std::string s = base::ReadSmallFile(
      absl::StrCat("/proc/self/task/", static_cast<int>(tid), "/comm"), 64);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
  return s;
}

}  // namespace

void ThreadRegistry::OnThreadExit(void* arg) {
  auto* ts = static_cast<ThreadState*>(arg);
  tls_thread = kExitedThread;
  // The runtime of now: in a forked child, a new one.
  Runtime::Get().threads().ThreadExit(ts);
}

ThreadState* ThreadRegistry::CurrentThreadSlow(ThreadState* ts) {
  if (ts == kExitedThread || g_trace.gen() == 0) return nullptr;
  return Register(ts);
}

uint64_t ThreadRegistry::AllocProc() {
  // A P freed in generation g is reused from g+2 on.
  const uint64_t g = g_trace.gen();
  for (size_t i = 0; i < free_procs_.size(); ++i) {
    if (free_procs_[i].second + 2 <= g) {
      uint64_t p = free_procs_[i].first;
      free_procs_.erase(free_procs_.begin() + static_cast<long>(i));
      return p;
    }
  }
  return next_proc_++;
}

ThreadState* ThreadRegistry::Register(ThreadState* ts) {
  pthread_once(&g_exit_key_once,
               [] { pthread_key_create(&g_exit_key, &OnThreadExit); });
  if (ts == nullptr) {
    ts = new ThreadState();
    ts->tid = base::GetTid();
    const cpusample::StackBounds bounds = cpusample::EnsureThreadStackBounds();
    ts->stack_lo = bounds.lo;
    ts->stack_hi = bounds.hi;
    ts->name = OsThreadName(ts->tid);
    tls_thread = ts;
    pthread_setspecific(g_exit_key, ts);
    EnsureAltStack(ts);
    std::lock_guard<std::mutex> l(mu_);
    ts->next = threads_.load(std::memory_order_relaxed);
    threads_.store(ts, std::memory_order_release);  // ForEachAtCrash
  }
  std::unique_lock<std::mutex> l(mu_);
  const uint64_t session = g_trace.session();
  if (g_trace.gen() == 0 || session == 0) return nullptr;
  if (ts->session == session) {
    l.unlock();
    AttachSampler();
    return ts;
  }
  // (Re)initialize for this trace session. No event of this thread is in
  // flight: it is not holding its seqlock. The Gs it ran or blocked in an
  // earlier session stay as that trace left them.
  GState* old_cur = ts->cur_g;
  GState* old_blocked = ts->blocked_g;
  const uint64_t before = next_proc_;
  ts->proc = AllocProc();
  ts->proc_reused = ts->proc < before;
  ts->created = false;
  ts->created_flag.store(false, std::memory_order_relaxed);
  ts->proc_state.store(format::kProcRunning, std::memory_order_relaxed);
  ts->proc_traced_gen[0].store(0, std::memory_order_relaxed);
  ts->proc_traced_gen[1].store(0, std::memory_order_relaxed);
  ts->proc_seq = 0;
  {
    std::lock_guard<SpinLock> gl(ts->own_g.mu);
    ts->own_g.id = goroutines_->NewId();
    ts->own_g.state = format::kGoRunning;
    ts->own_g.traced_gen[0] = ts->own_g.traced_gen[1] = 0;
    ts->own_g.seq[0] = ts->own_g.seq[1] = 0;
    ts->own_g.m = static_cast<uint64_t>(ts->tid);
    ts->own_g.regions.clear();
    ts->own_g.session = session;
    ts->own_g.scope_blocked = false;
  }
  Ref(&ts->own_g);
  SetCurrentG(ts, &ts->own_g);
  ts->blocked_g = nullptr;
  ts->string_cache = StringCache();
  ts->stack_cache = StackCache();
  ++threads_seen_;
  // Last: the SIGPROF handler takes the thread for traced once the
  // session matches (it runs on this thread, between any two statements).
  std::atomic_signal_fence(std::memory_order_seq_cst);
  ts->session = session;
  l.unlock();
  Unref(old_cur);
  Unref(old_blocked);
  AttachSampler();
  return ts;
}

void ThreadRegistry::SetUpAltStack(ThreadState* ts) {
  // Read the epoch first: an install after this read is seen next time.
  const uint32_t epoch = CrashHandlerEpoch();
  if (epoch % 2 == 1) {
    // Installed. A failure (no memory for the stack) leaves the thread
    // without one: it then dies of a stack overflow without a dump, as it
    // would without the handler.
    (void)InstallCrashAltStackForThisThread();
  }
  ts->alt_stack_epoch = epoch;
}

void ThreadRegistry::AttachSampler() {
  // Per-thread CPU timers and counters are armed for traced threads; in
  // signal-free mode (no-op otherwise) each gets its perf ring.
  if (sample_threads_.load(std::memory_order_relaxed)) {
    if (!cpusample::Sampler::IsCurrentThreadAttached()) {
      (void)cpusample::Sampler::AttachCurrentThread();  // else: the itimer
    }
    if (cpusample::RingSampler::running() &&
        !cpusample::RingSampler::IsCurrentThreadAttached()) {
      (void)cpusample::RingSampler::AttachCurrentThread();  // else: counted
    }
  }
}

void ThreadRegistry::SetThreadName(absl::string_view name) {
  ThreadState* ts = tls_thread;
  if (ts == nullptr) {
    // Not registered yet: registration (now or later) will pick the name
    // up from the OS, so set that; keep the full name once registered.
    ts = g_trace.gen() != 0 ? CurrentThread() : nullptr;
  }
  if (IsThreadState(ts)) {
    std::lock_guard<std::mutex> l(ts->name_mu);
    ts->name = std::string(StringTable::Truncate(name));
    ts->name_explicit = true;
  }
}

void ThreadRegistry::ThreadExit(ThreadState* ts) {
  cpusample::Sampler::DetachCurrentThread();
  cpusample::RingSampler::DetachCurrentThread();
  {
    TraceLocker tl(ts, TraceLocker::kKeepSession);
    if (tl.ok() && ts->created) {
      goroutines_->EndThread(tl);
      ts->exit_gen = tl.gen();
    }
    // Go's traceThreadDestroy: flush both generations' buffers now; the
    // advancer may be waiting for us to flush the older one.
    std::lock_guard<std::mutex> fl(ts->flush_mu);
    for (int i = 0; i < 2; ++i) {
      if (ts->buf[i] != nullptr) writer_->FlushBuf(ts->buf[i]);
      if (ts->sbuf[i] != nullptr) writer_->FlushBuf(ts->sbuf[i]);
      ts->buf[i] = ts->sbuf[i] = nullptr;
    }
    // The thread's references, whether or not it is traced now (I8).
    GState* cur = ts->cur_g;
    GState* blocked = ts->blocked_g;
    SetCurrentG(ts, nullptr);
    ts->blocked_g = nullptr;
    Unref(cur);
    Unref(blocked);
  }
  // Last touch: after this the advancer may free ts (I7).
  ts->exited.store(true, std::memory_order_release);
}

void ThreadRegistry::BeginSession(bool sample_threads) {
  sample_threads_.store(sample_threads);
  std::lock_guard<std::mutex> l(mu_);
  // Threads that exited while tracing was off are gone for good.
  ReclaimExitedLocked(0, /*all=*/true);
  // P 0 is kept for the idle filler (see the advancer); threads get 1, 2...
  next_proc_ = 1;
  free_procs_.clear();
  threads_seen_ = 0;
}

void ThreadRegistry::EndSession() {
  sample_threads_.store(false);
  std::lock_guard<std::mutex> l(mu_);
  ReclaimExitedLocked(0, /*all=*/true);
}

void ThreadRegistry::ReclaimExited(uint64_t gen, bool all) {
  std::lock_guard<std::mutex> l(mu_);
  ReclaimExitedLocked(gen, all);
}

void ThreadRegistry::ReclaimExitedLocked(uint64_t gen, bool all) {
  // A thread that exited in generation g has no buffer left once g is
  // complete, and no advance refers to it after the one finishing g+1
  // (I7); its P may then be reused (AllocProc).
  // A thread whose own G some fiber still links to as its resumer stays
  // (I8).
  const uint64_t session = g_trace.session();
  ThreadState* prev = nullptr;
  ThreadState* ts = threads_.load(std::memory_order_relaxed);
  while (ts != nullptr) {
    ThreadState* const next = ts->next;
    if (ts->exited.load(std::memory_order_acquire) &&
        ts->own_g.refs.load(std::memory_order_acquire) == 0 &&
        (all || ts->session != session || ts->exit_gen + 1 <= gen)) {
      if (prev == nullptr) {
        threads_.store(next, std::memory_order_release);
      } else {
        prev->next = next;
      }
      if (ts->session == session && ts->created) {
        free_procs_.emplace_back(ts->proc, ts->exit_gen);
      }
      delete ts;
    } else {
      prev = ts;
    }
    ts = next;
  }
}

std::string ThreadRegistry::RefreshName(ThreadState* ts) {
  std::lock_guard<std::mutex> nl(ts->name_mu);
  if (!ts->name_explicit && !ts->exited.load()) {
    std::string os = OsThreadName(ts->tid);
    if (!os.empty()) ts->name = os;
  }
  return ts->name;
}

uint64_t ThreadRegistry::threads_seen() {
  std::lock_guard<std::mutex> l(mu_);
  return threads_seen_;
}

}  // namespace gentrace::internal
