// The tracer runtime; see runtime.h for the design and its invariants.
#include "tracer/internal/runtime.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cpusample/fp_unwind.h"
#include "cpusample/sampler.h"
#include "format/gentrace_batch.h"
#include "format/header.h"

namespace gentrace {
namespace internal {

std::atomic<bool> g_enabled{false};

// The calling thread's state. Initial-exec so that reading it is a single
// instruction and is safe in a signal handler. External linkage on
// purpose: gold has been seen to mislink a file-private initial-exec
// variable in a shared library that also has a thread_local with a
// destructor (cpusample/README.md).
__attribute__((
    tls_model("initial-exec"))) thread_local ThreadState* tls_thread = nullptr;

// True on gentrace's own threads (the advancer, and the writer, which runs
// Options::callback): Start, Stop and AdvanceNow there would wait for the
// calling thread itself. External linkage for the reason above.
__attribute__((
    tls_model("initial-exec"))) thread_local bool tls_gentrace_thread = false;
// True while the thread is inside Start, Stop or AdvanceNow.
__attribute__((tls_model("initial-exec"))) thread_local bool tls_in_control =
    false;

namespace {

// Marks a thread that has exited (or is exiting): it records nothing more.
ThreadState* const kExitedThread = reinterpret_cast<ThreadState*>(1);

pthread_key_t g_exit_key;
pthread_once_t g_once = PTHREAD_ONCE_INIT;

void OnThreadExit(void* arg) {
  auto* ts = static_cast<ThreadState*>(arg);
  tls_thread = kExitedThread;
  Runtime::Get().ThreadExit(ts);
}

// Set when gentrace's exit handler runs: no trace starts after it (its
// threads would run while the process tears itself down).
std::atomic<bool> g_exiting{false};

void AtExitStop() {
  g_exiting.store(true);
  if (Runtime::Get().gen() != 0) (void)Runtime::Get().Stop();
}

// The calls that start, stop and advance tracing, and why one may have to
// be refused (CheckControlCaller).
enum ControlOp { kOpStart, kOpStop, kOpAdvanceNow, kNumOps };
enum Refusal { kOnWriterThread, kInsideControlCall, kInSignalHandler, kNum };

absl::Status MakeRefusal(ControlOp op, Refusal why) {
  static constexpr const char* kNames[kNumOps] = {"Start", "Stop",
                                                  "AdvanceNow"};
  static constexpr const char* kWhy[kNum] = {
      " called on gentrace's writer thread (from Options::callback), which "
      "it would wait for: to stop tracing from the callback, return a "
      "non-OK status from the callback (Stop then returns it); call Start, "
      "Stop and AdvanceNow from another thread",
      " called while this thread is inside Start, Stop or AdvanceNow (from "
      "Options::callback as Start writes the header or Stop flushes the "
      "destination, or from a signal handler), which it would wait for: "
      "call it after that call returns",
      " called from a signal handler that interrupted this thread inside "
      "gentrace, which it would wait for forever: call it outside the "
      "handler (for example, set a flag that the thread checks)",
  };
  return absl::FailedPreconditionError(absl::StrCat(kNames[op], kWhy[why]));
}

// Made once, by the first Start, so that refusing allocates nothing: a
// copy only counts a reference, which is async-signal-safe.
const absl::Status* g_refusals[kNumOps][kNum];

void MakeRefusals() {
  for (int op = 0; op < kNumOps; ++op) {
    for (int why = 0; why < kNum; ++why) {
      g_refusals[op][why] = new absl::Status(
          MakeRefusal(static_cast<ControlOp>(op), static_cast<Refusal>(why)));
    }
  }
}

absl::Status Refuse(ControlOp op, Refusal why) {
  const absl::Status* s = g_refusals[op][why];
  return s != nullptr ? *s : MakeRefusal(op, why);
}

// Why `op` must not run on the calling thread now, because it would wait
// for the calling thread itself; or OK. Async-signal-safe once Start has
// run (as it has, wherever a refusal is due).
absl::Status CheckControlCaller(ControlOp op) {
  if (tls_gentrace_thread) return Refuse(op, kOnWriterThread);
  if (tls_in_control) return Refuse(op, kInsideControlCall);
  if (ThreadState* ts = tls_thread;
      IsThreadState(ts) && (ts->seqlock.load(std::memory_order_relaxed) & 1)) {
    return Refuse(op, kInSignalHandler);
  }
  return absl::OkStatus();
}

// Marks the calling thread as inside Start, Stop or AdvanceNow.
class ControlCall {
 public:
  ControlCall() { tls_in_control = true; }
  ~ControlCall() { tls_in_control = false; }
  ControlCall(const ControlCall&) = delete;
  ControlCall& operator=(const ControlCall&) = delete;
};

void InitOnce() {
  MakeRefusals();
  pthread_key_create(&g_exit_key, OnThreadExit);
  pthread_atfork(nullptr, nullptr, &Runtime::AtForkChild);
  std::atexit(AtExitStop);
}

pid_t GetTid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

std::string OsThreadName(pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/task/%d/comm",
                static_cast<int>(tid));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  char buf[64];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return "";
  std::string s(buf, static_cast<size_t>(n));
  while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
  return s;
}

// With GENTRACE_DEBUG=1 in the environment, the advancer reports on stderr
// what each generation's end cost (for diagnosing slow generations).
void DebugLog(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void DebugLog(const char* fmt, ...) {
  static const bool on = [] {
    const char* v = std::getenv("GENTRACE_DEBUG");
    return v != nullptr && v[0] == '1';
  }();
  if (!on) return;
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "gentrace: [%.3f] %s\n",
               static_cast<double>(MonotonicNanos() % 1000000000000ull) / 1e9,
               line);
}

// gentrace's own threads block SIGPIPE (a write to a pipe with no reader
// gives EPIPE). Not SIGPROF: they take the samples of the CPU time they use
// (NoteInternalThread, tracecpu.h C6).
void BlockSignalsInInternalThread() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

// Runs fn (a write to the sink on the caller's thread) so that a pipe with
// no reader gives EPIPE instead of killing the process with SIGPIPE.
template <typename F>
absl::Status WithSigpipeBlocked(F fn) {
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigset_t pending;
  sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  absl::Status s = fn();
  if (!was_pending) {
    // Consume a SIGPIPE this write raised, so unblocking cannot deliver it.
    const timespec zero = {0, 0};
    while (sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return s;
}

constexpr uint64_t kGenMask = (uint64_t{1} << 40) - 1;
// A P no thread ever gets; it fills otherwise empty generations.
constexpr uint64_t kFillerProc = 0;
constexpr uint64_t kIdLimit = uint64_t{1} << 24;

}  // namespace

Runtime* Runtime::instance_ = new Runtime();

namespace {
std::atomic<void (*)()> g_locker_hook{nullptr};
}  // namespace

void SetTraceLockerHookForTesting(void (*hook)()) {
  g_locker_hook.store(hook, std::memory_order_relaxed);
}

TraceLocker::TraceLocker(ThreadState* ts, Mode mode) {
  Runtime& rt = Runtime::Get();
  if (void (*hook)() = g_locker_hook.load(std::memory_order_relaxed)) hook();
  for (;;) {
    // I1: make the seqlock odd, then read the generation. The RMW is a
    // full barrier, so the advancer that stores a new generation and then
    // reads our seqlock cannot miss us.
    ts->seqlock.fetch_add(1, std::memory_order_seq_cst);
    gen_ = rt.gen_seq_cst();
    // I9: Start publishes the session before the generation, so a thread
    // that reads the new generation sees the new session. A thread
    // registered in an earlier session (a Stop and a Start since
    // CurrentThread) must not write with that session's P and G.
    if (__builtin_expect(gen_ == 0 || ts->session == rt.session(), 1)) break;
    if (mode == kKeepSession) {
      gen_ = 0;
      break;
    }
    ts->seqlock.store(ts->seqlock.load(std::memory_order_relaxed) + 1,
                      std::memory_order_release);
    if (rt.Register(ts) == nullptr) {  // tracing is off again
      gen_ = 0;
      return;
    }
    rt.AttachSampler();
  }
  ts_ = ts;
  // I10: a fiber running here whose handle is gone ends before this event.
  if (GState* g = ts->cur_g; gen_ != 0 && g != nullptr &&
                             g->released.load(std::memory_order_relaxed)) {
    rt.EndReleasedFibers(*this);
  }
}

void Runtime::AtForkChild() {
  // The child has only the forking thread; the tracer's threads, locks and
  // buffers stay behind. Leave the old state untouched (it may be mid-use)
  // and start over with tracing off. The parent's trace is unaffected.
  g_enabled.store(false, std::memory_order_relaxed);
  tls_thread = nullptr;
  instance_ = new Runtime();
}

ThreadState* Runtime::CurrentThread() {
  ThreadState* ts = tls_thread;
  if (__builtin_expect(
          IsThreadState(ts) &&
              ts->session == session_atomic_.load(std::memory_order_relaxed),
          1)) {
    return ts;
  }
  if (ts == kExitedThread || gen() == 0) return nullptr;
  ts = Register(ts);
  if (ts != nullptr) AttachSampler();
  return ts;
}

uint64_t Runtime::AllocProc() {
  // Under threads_mu_. A P freed in generation g is reused from g+2 on.
  const uint64_t g = gen();
  for (size_t i = 0; i < free_procs_.size(); ++i) {
    if (free_procs_[i].second + 2 <= g) {
      uint64_t p = free_procs_[i].first;
      free_procs_.erase(free_procs_.begin() + static_cast<long>(i));
      return p;
    }
  }
  return next_proc_++;
}

ThreadState* Runtime::Register(ThreadState* ts) {
  pthread_once(&g_once, InitOnce);
  if (ts == nullptr) {
    ts = new ThreadState();
    ts->tid = GetTid();
    const cpusample::StackBounds bounds = cpusample::EnsureThreadStackBounds();
    ts->stack_lo = bounds.lo;
    ts->stack_hi = bounds.hi;
    ts->name = OsThreadName(ts->tid);
    tls_thread = ts;
    pthread_setspecific(g_exit_key, ts);
    std::lock_guard<std::mutex> l(threads_mu_);
    ts->next = threads_;
    threads_ = ts;
  }
  std::unique_lock<std::mutex> l(threads_mu_);
  const uint64_t session = session_atomic_.load(std::memory_order_relaxed);
  if (gen() == 0 || session == 0) return nullptr;
  if (ts->session == session) return ts;
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
    ts->own_g.id = next_goid_.fetch_add(1, std::memory_order_relaxed);
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
  return ts;
}

void Runtime::AttachSampler() {
  // Per-thread CPU timers and counters are armed for traced threads.
  if (cpu_active_.load(std::memory_order_relaxed) &&
      !cpusample::Sampler::IsCurrentThreadAttached()) {
    (void)cpusample::Sampler::AttachCurrentThread();  // else: the itimer
  }
}

TraceBuf* Runtime::NewBuf(uint64_t gen, uint64_t m, uint8_t exp) {
  TraceBuf* b = pool_.Get();
  b->Begin(gen, m, Now(), exp);
  return b;
}

void Runtime::FlushBuf(TraceBuf* b) {
  if (b->empty_payload()) {
    pool_.Put(b);
    return;
  }
  b->Finish();
  {
    std::lock_guard<std::mutex> l(queue_mu_);
    full_[b->gen & 1].Push(b);
  }
  queue_cv_.notify_all();
}

TraceBuf* Runtime::ReserveSlow(TraceLocker& tl, size_t bytes) {
  ThreadState* ts = tl.thread();
  const uint64_t gen = tl.gen();
  TraceBuf*& slot = ts->buf[gen & 1];
  if (slot != nullptr) FlushBuf(slot);  // full
  slot = NewBuf(gen, static_cast<uint64_t>(ts->tid));
  if (ts->proc_traced_gen[gen & 1].load(std::memory_order_relaxed) != gen) {
    gen_active_[gen & 1].store(gen, std::memory_order_relaxed);
    WriteThreadStatus(tl, slot);
  }
  return slot;
}

void Runtime::WriteThreadStatus(TraceLocker& tl, TraceBuf* b) {
  // I4: the thread's first event in this generation. Write its P's and
  // G's statuses (or, the first time in this trace, the events that bring
  // them into existence) before anything else.
  ThreadState* ts = tl.thread();
  const uint64_t gen = tl.gen();
  const uint64_t tid = static_cast<uint64_t>(ts->tid);
  GState& g = ts->own_g;
  ts->proc_traced_gen[gen & 1].store(gen, std::memory_order_relaxed);
  if (!ts->created) {
    if (ts->proc_reused) {
      // The parser last saw this P idle, after its previous thread ended.
      Emit(b, format::kEvProcStatus, ts->proc, format::kProcIdle);
      Emit(b, format::kEvProcStart, ts->proc, 1);
      ts->proc_seq = 1;
    } else {
      Emit(b, format::kEvProcStatus, ts->proc, format::kProcRunning);
      ts->proc_seq = 0;
    }
    std::string name;
    {
      std::lock_guard<std::mutex> nl(ts->name_mu);
      name = ts->name.empty() ? absl::StrCat("thread ", ts->tid) : ts->name;
    }
    const uintptr_t synthetic = SyntheticFramePc(name);
    const uint64_t new_stack = stacks_[gen & 1].Put(&synthetic, 1, true);
    std::lock_guard<SpinLock> gl(g.mu);
    Emit(b, format::kEvGoCreate, g.id, new_stack, 0);
    g.traced_gen[gen & 1] = gen;
    g.seq[gen & 1] = 1;
    Emit(b, format::kEvGoStart, g.id, 1);
    g.state = format::kGoRunning;
    g.m = tid;
    ts->created = true;
    ts->created_flag.store(true, std::memory_order_release);
    return;
  }
  Emit(b, format::kEvProcStatus, ts->proc,
       ts->proc_state.load(std::memory_order_relaxed));
  ts->proc_seq = 0;
  {
    std::lock_guard<SpinLock> gl(g.mu);
    EnsureGStatus(tl, b, &g);
  }
  // A fiber running here binds to this thread too: its status goes here.
  if (GState* cur = ts->cur_g; cur != nullptr && cur != &g) {
    std::lock_guard<SpinLock> gl(cur->mu);
    EnsureGStatus(tl, b, cur);
  }
}

void Runtime::EnsureGStatus(TraceLocker& tl, TraceBuf* b, GState* g) {
  const uint64_t gen = tl.gen();
  if (g->traced_gen[gen & 1] == gen) return;
  const bool bound =
      g->state == format::kGoRunning || g->state == format::kGoSyscall;
  Emit(b, format::kEvGoStatus, g->id, bound ? g->m : format::kNoThread,
       g->state);
  g->traced_gen[gen & 1] = gen;
  g->seq[gen & 1] = 0;
}

void Runtime::StartHere(TraceLocker& tl, TraceBuf* b, GState* g,
                        uint64_t stack) {
  const uint64_t gen = tl.gen();
  EnsureGStatus(tl, b, g);
  if (g->state == format::kGoWaiting) {
    Emit(b, format::kEvGoUnblock, g->id, ++g->seq[gen & 1], stack);
    g->state = format::kGoRunnable;
  }
  Emit(b, format::kEvGoStart, g->id, ++g->seq[gen & 1]);
  g->state = format::kGoRunning;
  g->m = static_cast<uint64_t>(tl.thread()->tid);
  Ref(g);
  SetCurrentG(tl.thread(), g);
}

uint64_t Runtime::StringId(TraceLocker& tl, absl::string_view s) {
  return strings_[tl.gen() & 1].Put(s, tl.gen(), &tl.thread()->string_cache);
}

uint64_t Runtime::StaticStringId(TraceLocker& tl, const StaticName& name) {
  const uint64_t gen = tl.gen();
  const uint64_t c = name.cache().load(std::memory_order_relaxed);
  if ((c >> 24) == (gen & kGenMask) && c != 0) return c & (kIdLimit - 1);
  const uint64_t id = StringId(tl, name.str());
  if (id < kIdLimit) {
    name.cache().store(((gen & kGenMask) << 24) | id,
                       std::memory_order_relaxed);
  }
  return id;
}

uint64_t Runtime::UniqueStringId(TraceLocker& tl, absl::string_view s) {
  s = StringTable::Truncate(s);
  ThreadState* ts = tl.thread();
  const uint64_t gen = tl.gen();
  const uint64_t id = strings_[gen & 1].NextId();
  TraceBuf*& b = ts->sbuf[gen & 1];
  if (b == nullptr || b->available() < StringEntrySize(s)) {
    if (b != nullptr) FlushBuf(b);
    b = NewBuf(gen, format::kNoThread);
    b->Byte(format::kEvStrings);
  }
  WriteStringEntry(b, id, s);
  return id;
}

uint64_t Runtime::CaptureStackId(TraceLocker& tl, void* fp) {
  ThreadState* ts = tl.thread();
  uintptr_t pcs[format::kMaxFramesPerStack];
  // The walk starts at the API function's frame, so the first PC is the
  // return address into its caller.
  const uintptr_t start = reinterpret_cast<uintptr_t>(fp);
  const int n =
      start >= ts->stack_lo && start < ts->stack_hi
          ? cpusample::internal::WalkBounded(start, start, ts->stack_hi, pcs, 0,
                                             options_.max_stack_depth, 0)
          : 0;
  return stacks_[tl.gen() & 1].Put(pcs, n, false, tl.gen(), &ts->stack_cache);
}

bool Runtime::Block(TraceLocker& tl, absl::string_view reason, void* fp) {
  ThreadState* ts = tl.thread();
  GState* g = ts->cur_g;
  if (g == nullptr) return false;
  const uint64_t reason_id = StringId(tl, reason);
  const uint64_t stack = StackId(tl, options_.stacks.blocking, fp);
  TraceBuf* b = Reserve(tl, 2 * kMaxEventBytes);
  if (!BlockRunning(tl, b, g, reason_id, stack, /*scope=*/true)) return false;
  ts->blocked_g = g;  // cur_g's reference moves here
  return true;
}

bool Runtime::BlockRunning(TraceLocker& tl, TraceBuf* b, GState* g,
                           uint64_t reason_id, uint64_t stack, bool scope) {
  std::lock_guard<SpinLock> gl(g->mu);
  if (g->state != format::kGoRunning) return false;
  EnsureGStatus(tl, b, g);
  Emit(b, format::kEvGoBlock, reason_id, stack);
  g->state = format::kGoWaiting;
  g->m = format::kNoThread;
  g->scope_blocked = scope;
  SetCurrentG(tl.thread(), nullptr);
  return true;
}

void Runtime::Unblock(TraceLocker& tl, void* fp) {
  ThreadState* ts = tl.thread();
  GState* g = ts->blocked_g;
  if (g == nullptr || ts->cur_g != nullptr) return;
  ts->blocked_g = nullptr;
  const uint64_t stack = StackId(tl, options_.stacks.blocking, fp);
  TraceBuf* b = Reserve(tl, 3 * kMaxEventBytes);
  {
    std::lock_guard<SpinLock> gl(g->mu);
    g->scope_blocked = false;
    if (g->state == format::kGoWaiting || g->state == format::kGoRunnable) {
      StartHere(tl, b, g, stack);
    }
  }
  Unref(g);  // blocked_g's
  // A fiber whose handle went away while it was blocked ends now (I10).
  if (ts->cur_g != nullptr && ts->cur_g->released.load()) {
    EndReleasedFibers(tl);
  }
}

bool Runtime::EnterSyscall(TraceLocker& tl, void* fp) {
  ThreadState* ts = tl.thread();
  GState* g = ts->cur_g;
  if (g == nullptr) return false;
  const uint64_t stack = StackId(tl, options_.stacks.syscalls, fp);
  TraceBuf* b = Reserve(tl, 2 * kMaxEventBytes);
  std::lock_guard<SpinLock> gl(g->mu);
  if (g->state != format::kGoRunning) return false;
  EnsureGStatus(tl, b, g);
  Emit(b, format::kEvGoSyscallBegin, ++ts->proc_seq, stack);
  g->state = format::kGoSyscall;
  ts->proc_state.store(format::kProcSyscall, std::memory_order_relaxed);
  return true;
}

void Runtime::ExitSyscall(TraceLocker& tl) {
  ThreadState* ts = tl.thread();
  GState* g = ts->cur_g;
  if (g == nullptr) return;
  TraceBuf* b = Reserve(tl, 2 * kMaxEventBytes);
  {
    std::lock_guard<SpinLock> gl(g->mu);
    if (g->state != format::kGoSyscall) return;
    EnsureGStatus(tl, b, g);
    Emit(b, format::kEvGoSyscallEnd);
    g->state = format::kGoRunning;
    ts->proc_state.store(format::kProcRunning, std::memory_order_relaxed);
  }
  // A fiber whose handle went away during the syscall ends now (I10).
  if (g->released.load()) EndReleasedFibers(tl);
}

namespace {
// The reason a G gives while a fiber it resumed runs on its thread.
constexpr absl::string_view kRunningFiber = "running fiber";
constexpr absl::string_view kFiberYield = "yield";
}  // namespace

GState* Runtime::FiberCreate(TraceLocker& tl, absl::string_view name,
                             bool blocked, void* fp) {
  ThreadState* ts = tl.thread();
  GState* cur = ts->cur_g;
  // GoCreate needs a P, which every traced thread has, and a running G if
  // any: not from a thread blocked in a ScopedBlock.
  if (cur == nullptr) return nullptr;
  auto* g = new GState();
  g->id = next_goid_.fetch_add(1, std::memory_order_relaxed);
  g->fiber = true;
  g->name = std::string(StringTable::Truncate(name));
  g->session = ts->session;
  g->state = blocked ? format::kGoWaiting : format::kGoRunnable;
  g->refs.store(1, std::memory_order_relaxed);  // the user's handle
  const uint64_t gen = tl.gen();
  const uintptr_t synthetic = SyntheticFramePc(name);
  const uint64_t new_stack = stacks_[gen & 1].Put(&synthetic, 1, true);
  const uint64_t stack = StackId(tl, options_.stacks.fibers, fp);
  TraceBuf* b = Reserve(tl, 2 * kMaxEventBytes);
  {
    std::lock_guard<SpinLock> cl(cur->mu);
    EnsureGStatus(tl, b, cur);
  }
  Emit(b, blocked ? format::kEvGoCreateBlocked : format::kEvGoCreate, g->id,
       new_stack, stack);
  g->traced_gen[gen & 1] = gen;  // created in gen: seq starts at 0
  g->seq[gen & 1] = 0;
  std::lock_guard<std::mutex> l(fibers_mu_);
  g->next = fibers_;
  fibers_ = g;
  return g;
}

namespace {
// Whether `g` may start running on a thread that asks for it. Under g->mu.
bool Resumable(const GState* g) {
  return (g->state == format::kGoRunnable || g->state == format::kGoWaiting) &&
         !g->scope_blocked && !g->dead.load(std::memory_order_relaxed);
}
}  // namespace

bool Runtime::FiberResume(TraceLocker& tl, GState* fiber, void* fp) {
  ThreadState* ts = tl.thread();
  GState* cur = ts->cur_g;
  if (cur == nullptr || cur == fiber || fiber->session != ts->session) {
    return false;
  }
  {
    std::lock_guard<SpinLock> fl(fiber->mu);
    if (!Resumable(fiber)) return false;
  }
  const uint64_t reason = StringId(tl, kRunningFiber);
  const uint64_t stack = StackId(tl, options_.stacks.fibers, fp);
  TraceBuf* b = Reserve(tl, 4 * kMaxEventBytes);
  if (!BlockRunning(tl, b, cur, reason, stack, /*scope=*/false)) return false;
  // cur_g's reference to cur is ours now; the fiber's resumer link takes
  // one of its own.
  bool resumed = false;
  GState* old_link = nullptr;
  {
    std::lock_guard<SpinLock> fl(fiber->mu);
    if (Resumable(fiber)) {
      StartHere(tl, b, fiber, stack);
      old_link = SetResumer(fiber, cur);
      resumed = true;
    }
  }
  if (!resumed) {
    // Resumed elsewhere meanwhile (a misuse): take our own G back.
    std::lock_guard<SpinLock> cl(cur->mu);
    StartHere(tl, b, cur, 0);
  }
  Unref(old_link);
  Unref(cur);
  return resumed;
}

bool Runtime::FiberLeave(TraceLocker& tl, GState* fiber, format::EventType how,
                         absl::string_view reason, void* fp) {
  ThreadState* ts = tl.thread();
  if (ts->cur_g != fiber || fiber == &ts->own_g) return false;
  const uint64_t reason_id =
      how == format::kEvGoDestroy ? 0 : StringId(tl, reason);
  const uint64_t stack =
      how == format::kEvGoDestroy ? 0 : StackId(tl, options_.stacks.fibers, fp);
  TraceBuf* b = Reserve(tl, 4 * kMaxEventBytes);
  GState* back = nullptr;  // with the fiber's resumer link's reference
  {
    std::lock_guard<SpinLock> fl(fiber->mu);
    if (fiber->state != format::kGoRunning) return false;
    EnsureGStatus(tl, b, fiber);
    if (how == format::kEvGoDestroy) {
      Emit(b, format::kEvGoDestroy);
      fiber->state = format::kGoBad;
      fiber->dead.store(true, std::memory_order_release);
    } else {
      Emit(b, how, reason_id, stack);
      fiber->state =
          how == format::kEvGoStop ? format::kGoRunnable : format::kGoWaiting;
    }
    fiber->m = format::kNoThread;
    back = SetResumer(fiber, nullptr);
    SetCurrentG(ts, nullptr);
  }
  // Run the G that resumed the fiber again; if it has ended (or cannot
  // run here), the thread's own G.
  GState* run[2] = {back, &ts->own_g};
  for (GState* g : run) {
    if (g == nullptr || g->dead.load(std::memory_order_acquire)) continue;
    std::lock_guard<SpinLock> gl(g->mu);
    if ((g->state == format::kGoWaiting || g->state == format::kGoRunnable) &&
        !g->scope_blocked) {
      StartHere(tl, b, g, 0);
      break;
    }
  }
  Unref(back);
  Unref(fiber);  // cur_g's
  return true;
}

void Runtime::EndReleasedFibers(TraceLocker& tl) {
  ThreadState* ts = tl.thread();
  for (GState* g = ts->cur_g;
       g != nullptr && g->fiber && g->released.load(std::memory_order_acquire);
       g = ts->cur_g) {
    // Not while in a syscall: ExitSyscall comes back here.
    if (!FiberLeave(tl, g, format::kEvGoDestroy, "", nullptr)) return;
  }
}

bool Runtime::FiberWake(TraceLocker& tl, GState* fiber, void* fp) {
  ThreadState* ts = tl.thread();
  if (fiber->session != ts->session) return false;
  const uint64_t stack = StackId(tl, options_.stacks.fibers, fp);
  TraceBuf* b = Reserve(tl, 2 * kMaxEventBytes);
  std::lock_guard<SpinLock> fl(fiber->mu);
  if (fiber->state != format::kGoWaiting ||
      fiber->dead.load(std::memory_order_relaxed)) {
    return false;
  }
  // The waker writes the woken G's status if this generation has none yet
  // (Go's emitUnblockStatus, MAPPING.md rule 2).
  EnsureGStatus(tl, b, fiber);
  Emit(b, format::kEvGoUnblock, fiber->id, ++fiber->seq[tl.gen() & 1], stack);
  fiber->state = format::kGoRunnable;
  return true;
}

bool Runtime::CoroutineSwitch(TraceLocker& tl, GState* target,
                              bool destroy_current) {
  ThreadState* ts = tl.thread();
  GState* cur = ts->cur_g;
  if (cur == nullptr || cur == target || target->session != ts->session ||
      (destroy_current && !cur->fiber)) {
    return false;
  }
  // Switching back to the G that switched into cur (Yield, Return) ends
  // cur's resumer link; switching into another G makes cur its resumer.
  const bool back = target == cur->resumer;
  const uint64_t gen = tl.gen();
  TraceBuf* b = Reserve(tl, 3 * kMaxEventBytes);
  GState* dropped[2] = {nullptr, nullptr};
  {
    // Two G locks: the running one, then the waiting target. No one holds
    // a waiting G's lock while taking a running one's, so no cycle.
    std::lock_guard<SpinLock> cl(cur->mu);
    std::lock_guard<SpinLock> tlk(target->mu);
    if (cur->state != format::kGoRunning ||
        target->state != format::kGoWaiting || target->scope_blocked ||
        target->dead.load(std::memory_order_relaxed)) {
      return false;
    }
    EnsureGStatus(tl, b, cur);
    EnsureGStatus(tl, b, target);
    Emit(b, destroy_current ? format::kEvGoSwitchDestroy : format::kEvGoSwitch,
         target->id, ++target->seq[gen & 1]);
    if (destroy_current) {
      cur->state = format::kGoBad;
      cur->dead.store(true, std::memory_order_release);
    } else {
      cur->state = format::kGoWaiting;
    }
    if (back || destroy_current) dropped[0] = SetResumer(cur, nullptr);
    if (!back && !destroy_current) dropped[1] = SetResumer(target, cur);
    cur->m = format::kNoThread;
    target->state = format::kGoRunning;
    target->m = static_cast<uint64_t>(ts->tid);
    Ref(target);
    SetCurrentG(ts, target);
  }
  Unref(dropped[0]);
  Unref(dropped[1]);
  Unref(cur);  // cur_g's
  return true;
}

GState* Runtime::SetResumer(GState* fiber, GState* resumer) {
  GState* old = fiber->resumer;
  fiber->resumer = resumer;
  if (resumer != nullptr) Ref(resumer);
  return old;
}

void Runtime::FiberRelease(GState* fiber) {
  // I10. From now on, a thread that runs the fiber ends it: one that runs
  // it now (or switches into it, through a resumer link, at any moment)
  // does so at its next traced event.
  {
    std::lock_guard<SpinLock> fl(fiber->mu);
    fiber->released.store(true, std::memory_order_release);
  }
  // End it here: if it runs here, TraceLocker ends it; if it is on no
  // thread, run it here briefly and end it.
  if (ThreadState* ts = CurrentThread(); ts != nullptr) {
    TraceLocker tl(ts);
    if (tl.ok() && ts->cur_g != fiber && FiberResume(tl, fiber, nullptr)) {
      EndReleasedFibers(tl);
    }
  }
  {
    std::lock_guard<SpinLock> fl(fiber->mu);
    // Still on no thread (tracing is off, this thread cannot run it, ...):
    // it never runs again, and stays in the trace as it was last seen.
    const bool on_thread = fiber->state == format::kGoRunning ||
                           fiber->state == format::kGoSyscall ||
                           fiber->scope_blocked;
    if (!on_thread) fiber->dead.store(true, std::memory_order_release);
  }
  Unref(fiber);  // the handle's
}

void Runtime::SetThreadName(absl::string_view name) {
  ThreadState* ts = tls_thread;
  if (ts == nullptr) {
    // Not registered yet: registration (now or later) will pick the name
    // up from the OS, so set that; keep the full name once registered.
    ts = gen() != 0 ? CurrentThread() : nullptr;
  }
  if (IsThreadState(ts)) {
    std::lock_guard<std::mutex> l(ts->name_mu);
    ts->name = std::string(StringTable::Truncate(name));
    ts->name_explicit = true;
  }
}

void Runtime::ThreadExit(ThreadState* ts) {
  cpusample::Sampler::DetachCurrentThread();
  {
    TraceLocker tl(ts, TraceLocker::kKeepSession);
    if (tl.ok() && ts->created) {
      // Fibers left running here leave first, down to the thread's own G:
      // one whose handle is gone ends, the others yield (they stay
      // runnable, to be resumed elsewhere). A block or syscall scope left
      // open ends.
      for (GState* cur = ts->cur_g; cur != nullptr && cur != &ts->own_g;
           cur = ts->cur_g) {
        const bool end = cur->released.load(std::memory_order_acquire);
        if (!FiberLeave(tl, cur, end ? format::kEvGoDestroy : format::kEvGoStop,
                        kFiberYield, nullptr)) {
          break;
        }
      }
      if (ts->cur_g == nullptr) Unblock(tl, nullptr);
      TraceBuf* b = Reserve(tl, 4 * kMaxEventBytes);
      GState& g = ts->own_g;
      std::lock_guard<SpinLock> gl(g.mu);
      EnsureGStatus(tl, b, &g);
      if (g.state == format::kGoSyscall) {
        Emit(b, format::kEvGoSyscallEnd);
        g.state = format::kGoRunning;
      } else if (g.state == format::kGoWaiting ||
                 g.state == format::kGoRunnable) {
        StartHere(tl, b, &g, 0);
      }
      if (g.state == format::kGoRunning) {
        Emit(b, format::kEvGoDestroy);
        Emit(b, format::kEvProcStop);
      }
      g.state = format::kGoBad;
      ts->exit_gen = tl.gen();
    }
    // Go's traceThreadDestroy: flush both generations' buffers now; the
    // advancer may be waiting for us to flush the older one.
    std::lock_guard<std::mutex> fl(ts->flush_mu);
    for (int i = 0; i < 2; ++i) {
      if (ts->buf[i] != nullptr) FlushBuf(ts->buf[i]);
      if (ts->sbuf[i] != nullptr) FlushBuf(ts->sbuf[i]);
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

absl::Status Runtime::Start(const Options& options) {
  pthread_once(&g_once, InitOnce);
  if (absl::Status s = CheckControlCaller(kOpStart); !s.ok()) return s;
  if (g_exiting.load()) {
    return absl::FailedPreconditionError(
        "Start called while the process is exiting (from an atexit handler "
        "or a static destructor that runs after gentrace's exit handler, "
        "which stopped tracing): no threads may start now; start tracing "
        "before exit begins");
  }
  ControlCall in_control;
  std::lock_guard<std::mutex> cl(control_mu_);
  if (running_) return absl::FailedPreconditionError("tracing is already on");
  const int destinations = !options.path.empty() + (options.fd >= 0) +
                           static_cast<int>(options.callback != nullptr);
  if (destinations != 1) {
    return absl::InvalidArgumentError(
        "set exactly one of Options::path, Options::fd, Options::callback");
  }
  if (options.generation_period < absl::Milliseconds(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("generation_period must be at least 1ms, got ",
                     absl::FormatDuration(options.generation_period)));
  }
  if (options.max_stack_depth < 1 ||
      options.max_stack_depth > static_cast<int>(format::kMaxFramesPerStack)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_stack_depth must be in [1, 128], got ", options.max_stack_depth));
  }
  // CPU sampling first: if the kernel refuses what was asked, fail before
  // creating the destination. Samples taken before the first generation
  // starts are not written (the handler sees generation 0).
  if (options.cpu.enabled) {
    if (absl::Status s = cpu_.Start(options.cpu); !s.ok()) return s;
  }
  auto stop_cpu = [this] {
    cpu_.Stop();
    cpu_active_.store(false);
  };
  std::unique_ptr<Sink> sink;
  if (!options.path.empty()) {
    absl::StatusOr<std::unique_ptr<Sink>> f = MakeFileSink(options.path);
    if (!f.ok()) {
      stop_cpu();
      return f.status();
    }
    sink = std::move(*f);
  } else if (options.fd >= 0) {
    if (fcntl(options.fd, F_GETFL) < 0) {
      stop_cpu();
      return absl::InvalidArgumentError(absl::StrCat(
          "Options::fd ", options.fd, " is not open: ", std::strerror(errno)));
    }
    sink = MakeFdSink(options.fd);
  } else {
    sink = MakeCallbackSink(options.callback);
  }
  if (options.compression == Compression::kZstd) {
    absl::StatusOr<std::unique_ptr<Sink>> z =
        MakeZstdSink(std::move(sink), options.zstd_level);
    if (!z.ok()) {
      stop_cpu();
      return z.status();
    }
    sink = std::move(*z);
  }
  InitClock();
  const std::string header = format::EncodeHeader(format::Version::kGo123);
  if (absl::Status s = WithSigpipeBlocked([&] {
        return sink->Write(absl::MakeConstSpan(
            reinterpret_cast<const uint8_t*>(header.data()), header.size()));
      });
      !s.ok()) {
    stop_cpu();
    return s;
  }

  options_ = options;
  cpu_active_.store(options.cpu.enabled);
  {
    std::lock_guard<std::mutex> l(queue_mu_);
    sink_ = std::move(sink);
    sink_error_ = absl::OkStatus();
    sink_failed_.store(false);
    generations_written_ = 0;
  }
  {
    std::lock_guard<std::mutex> l(threads_mu_);
    // Threads that exited while tracing was off are gone for good.
    ReclaimExitedThreads(0, /*all=*/true);
    // P 0 is kept for the idle filler (see Advance); threads get 1, 2, ...
    next_proc_ = 1;
    free_procs_.clear();
    threads_seen_ = 0;
  }
  for (int i = 0; i < 2; ++i) {
    strings_[i].Reset();
    stacks_[i].Reset();
  }
  symbolizer_.Reset();
  // Generation numbers never repeat within the process, even across
  // traces: ids cached per generation (StaticName, thread caches) must not
  // be mistaken for ids of a later trace. Go's parser accepts a trace
  // starting at any generation.
  first_gen_ = last_gen_ + 1;
  {
    std::lock_guard<std::mutex> l(queue_mu_);
    writer_gen_ = first_gen_;
    completed_gen_ = first_gen_ - 1;
    written_gen_ = first_gen_ - 1;
    writer_exit_ = false;
  }
  ++session_;
  session_atomic_.store(session_, std::memory_order_relaxed);
  gen_start_time_ = OrderedNow();  // tracecpu.h C5
  gen_.store(first_gen_, std::memory_order_seq_cst);
  g_enabled.store(true, std::memory_order_release);
  running_ = true;
  {
    std::lock_guard<std::mutex> l(advancer_mu_);
    advancer_stop_ = false;
    advancer_exited_ = false;
  }
  writer_ = std::thread([this] { WriterLoop(); });
  advancer_ = std::thread([this] { AdvancerLoop(); });
  return absl::OkStatus();
}

absl::Status Runtime::Stop() {
  if (absl::Status s = CheckControlCaller(kOpStop); !s.ok()) return s;
  ControlCall in_control;
  std::unique_lock<std::mutex> cl(control_mu_);
  if (!running_) return absl::FailedPreconditionError("tracing is not on");
  // No sample after this; the final Advance writes what was taken.
  cpu_.Stop();
  {
    std::lock_guard<std::mutex> l(advancer_mu_);
    advancer_stop_ = true;
  }
  advancer_cv_.notify_all();
  cl.unlock();
  advancer_.join();  // it runs the final Advance(stop=true)
  cl.lock();
  writer_.join();
  absl::Status close = sink_->Close();
  running_ = false;
  cpu_active_.store(false);
  {
    std::lock_guard<std::mutex> l(threads_mu_);
    ReclaimExitedThreads(0, /*all=*/true);
  }
  for (int i = 0; i < 2; ++i) {
    strings_[i].Reset();
    stacks_[i].Reset();
  }
  pool_.Clear();
  std::lock_guard<std::mutex> l(queue_mu_);
  if (!sink_error_.ok()) return sink_error_;
  return close;
}

Stats Runtime::GetStats() {
  Stats s;
  {
    std::lock_guard<std::mutex> l(queue_mu_);
    s.generations = generations_written_;
    s.bytes_written = sink_ != nullptr ? sink_->bytes_written() : 0;
  }
  {
    std::lock_guard<std::mutex> l(threads_mu_);
    s.threads_seen = threads_seen_;
  }
  s.buffers_allocated = pool_.allocated();
  s.cpu_samples = cpu_.samples();
  s.cpu_samples_lost = cpu_.lost();
  s.cpu_source = cpu_.source_description();
  return s;
}

void Runtime::AdvancerLoop() {
  tls_gentrace_thread = true;
  BlockSignalsInInternalThread();
  cpu_.NoteInternalThread("gentrace advancer");
  // Symbolizing the first generation's stacks would otherwise load debug
  // information then, making that generation long.
  const uint64_t t0 = MonotonicNanos();
  symbolizer_.WarmUp();
  DebugLog("warm-up %.1f ms", (MonotonicNanos() - t0) / 1e6);
  std::unique_lock<std::mutex> l(advancer_mu_);
  for (;;) {
    advancer_cv_.wait_for(
        l, absl::ToChronoNanoseconds(options_.generation_period), [this] {
          return advancer_stop_ || sink_failed_.load() ||
                 advance_requested_ > advance_served_;
        });
    const bool stop = advancer_stop_ || sink_failed_.load();
    // Every AdvanceNow request made so far is served by this advance: the
    // generation current when it was made ends here (or ended earlier).
    const uint64_t serving = advance_requested_;
    l.unlock();
    {
      std::lock_guard<std::mutex> cl(control_mu_);
      Advance(stop);
    }
    l.lock();
    advance_served_ = serving;
    if (stop) advancer_exited_ = true;
    advance_done_cv_.notify_all();
    if (stop) return;
  }
}

absl::Status Runtime::AdvanceNow() {
  if (absl::Status s = CheckControlCaller(kOpAdvanceNow); !s.ok()) return s;
  ControlCall in_control;
  std::unique_lock<std::mutex> l(advancer_mu_);
  if (advancer_exited_ || advancer_stop_ || gen() == 0) {
    return absl::FailedPreconditionError("tracing is not on");
  }
  const uint64_t ticket = ++advance_requested_;
  advancer_cv_.notify_all();
  advance_done_cv_.wait(
      l, [&] { return advance_served_ >= ticket || advancer_exited_; });
  if (sink_failed_.load()) {
    // The advancer stops tracing next (it saw the failure, or sees it now);
    // return once it has, so the caller finds tracing off.
    advancer_cv_.notify_all();
    advance_done_cv_.wait(l, [this] { return advancer_exited_; });
    l.unlock();  // the writer takes queue_mu_, then advancer_mu_
    std::lock_guard<std::mutex> ql(queue_mu_);
    return absl::Status(
        sink_error_.code(),
        absl::StrCat("tracing stopped: the destination failed: ",
                     sink_error_.message()));
  }
  if (advance_served_ < ticket) {
    return absl::FailedPreconditionError(
        "tracing stopped before the generation ended");
  }
  return absl::OkStatus();
}

absl::Status AdvanceGenerationForTesting() {
  return Runtime::Get().AdvanceNow();
}

void Runtime::WriterLoop() {
  tls_gentrace_thread = true;
  BlockSignalsInInternalThread();
  cpu_.NoteInternalThread("gentrace writer");
  std::unique_lock<std::mutex> l(queue_mu_);
  for (;;) {
    queue_cv_.wait(l, [this] {
      return !full_[writer_gen_ & 1].empty() || completed_gen_ >= writer_gen_ ||
             writer_exit_;
    });
    if (TraceBuf* b = full_[writer_gen_ & 1].Pop()) {
      const bool failed = sink_failed_.load(std::memory_order_relaxed);
      l.unlock();
      absl::Status s;
      if (!failed) s = sink_->Write(absl::MakeConstSpan(b->data, b->pos));
      pool_.Put(b);
      l.lock();
      if (!s.ok() && sink_error_.ok()) {
        sink_error_ = s;
        sink_failed_.store(true);
        // Wake the advancer so tracing stops promptly.
        std::lock_guard<std::mutex> al(advancer_mu_);
        advancer_cv_.notify_all();
      }
      continue;
    }
    if (completed_gen_ >= writer_gen_) {
      const bool failed = sink_failed_.load(std::memory_order_relaxed);
      l.unlock();
      absl::Status s = failed ? absl::OkStatus() : sink_->EndGeneration();
      l.lock();
      if (!s.ok() && sink_error_.ok()) {
        sink_error_ = s;
        sink_failed_.store(true);
      }
      if (!failed && s.ok()) ++generations_written_;
      written_gen_ = writer_gen_;
      ++writer_gen_;
      queue_cv_.notify_all();
      continue;
    }
    if (writer_exit_) return;
  }
}

void Runtime::Advance(bool stop) {
  const uint64_t gen = gen_.load(std::memory_order_acquire);
  if (gen == 0) return;
  const uint64_t t_begin = MonotonicNanos();
  DebugLog("advance gen %llu begins", static_cast<unsigned long long>(gen));

  // 1. Note every G and P whose status has not been written in `gen`, and
  //    its state, before switching (I5): if it stays silent for the rest of
  //    gen, this is its state for all of gen.
  struct UntracedProc {
    ThreadState* ts;
    uint8_t state;
  };
  struct UntracedG {
    GState* g;
    format::GoStatus state;
    uint64_t m;
  };
  std::vector<UntracedProc> untraced_procs;
  std::vector<UntracedG> untraced_gs;
  auto note_g = [&](GState* g) {
    std::lock_guard<SpinLock> gl(g->mu);
    if (g->traced_gen[gen & 1] != gen && g->state != format::kGoBad &&
        !g->dead.load(std::memory_order_relaxed) &&
        (!g->fiber || g->session == session_)) {
      untraced_gs.push_back({g, g->state, g->m});
    }
  };
  {
    std::lock_guard<std::mutex> l(threads_mu_);
    for (ThreadState* ts = threads_; ts != nullptr; ts = ts->next) {
      if (ts->session != session_ ||
          !ts->created_flag.load(std::memory_order_acquire) ||
          ts->exited.load(std::memory_order_acquire)) {
        continue;
      }
      if (ts->proc_traced_gen[gen & 1].load(std::memory_order_relaxed) != gen) {
        untraced_procs.push_back(
            {ts, ts->proc_state.load(std::memory_order_relaxed)});
      }
      note_g(&ts->own_g);
    }
  }
  {
    std::lock_guard<std::mutex> l(fibers_mu_);
    for (GState* g = fibers_; g != nullptr; g = g->next) note_g(g);
  }

  // 2. Switch the generation (or turn tracing off).
  //    The next generation starts just before the switch and this one
  //    ends just after it (tracecpu.h C5).
  last_gen_ = gen;
  const uint64_t switch_time = OrderedNow();
  if (stop) g_enabled.store(false, std::memory_order_relaxed);
  gen_.store(stop ? 0 : gen + 1, std::memory_order_seq_cst);
  const uint64_t end_time = OrderedNow();

  // 3. The generation's clock frequency.
  {
    TraceBuf* b = NewBuf(gen, format::kNoThread);
    b->Byte(format::kEvFrequency);
    b->Varint(g_clock.ticks_per_second);
    FlushBuf(b);
  }

  // 4. Flush every thread's buffers of `gen` once it has left gen (I2).
  //    Threads registering from now on see the new generation.
  //    A thread has left gen once its seqlock was even, or has changed
  //    since the switch (the hold that may have read gen has ended; any
  //    later hold reads the new generation). Waiting for a change, not for
  //    an even value, matters for threads that are almost always inside
  //    the tracer.
  struct Pending {
    ThreadState* ts;
    uint64_t seq;
  };
  std::vector<Pending> pending;
  {
    std::lock_guard<std::mutex> l(threads_mu_);
    for (ThreadState* ts = threads_; ts != nullptr; ts = ts->next) {
      pending.push_back({ts, ts->seqlock.load(std::memory_order_seq_cst)});
    }
  }
  while (!pending.empty()) {
    size_t kept = 0;
    for (const Pending& p : pending) {
      ThreadState* ts = p.ts;
      if (p.seq % 2 != 0 &&
          ts->seqlock.load(std::memory_order_acquire) == p.seq) {
        pending[kept++] = p;  // still in the hold it was in; come back
        continue;
      }
      std::lock_guard<std::mutex> fl(ts->flush_mu);
      if (TraceBuf* b = ts->buf[gen & 1]) FlushBuf(b);
      if (TraceBuf* b = ts->sbuf[gen & 1]) FlushBuf(b);
      ts->buf[gen & 1] = ts->sbuf[gen & 1] = nullptr;
    }
    pending.resize(kept);
    if (!pending.empty()) sched_yield();
  }

  // 5. Statuses of whatever stayed silent in `gen` (MAPPING.md rule 3).
  //    A P, and a G running or in a syscall on a thread, go into a batch of
  //    that thread, so they bind to it; waiting and runnable Gs into a
  //    NoThread batch. A thread with a silent G bound to it was silent
  //    itself (writing any event writes its statuses), so nothing else of
  //    that thread is in `gen` after these.
  {
    absl::flat_hash_map<uint64_t, TraceBuf*> batches;
    auto buf = [&](uint64_t m) {
      TraceBuf*& b = batches[m];
      if (b == nullptr || b->available() < kMaxEventBytes) {
        if (b != nullptr) FlushBuf(b);
        b = NewBuf(gen, m);
      }
      return b;
    };
    // The sweep's events go to many batches within a few ticks; distinct
    // times keep their order the same for every reader (Go's moves one of
    // two equal times by a tick, whichever batch it reads first).
    uint64_t sweep_time = 0;
    auto at = [&sweep_time] {
      sweep_time = std::max(Now(), sweep_time + 1);
      return sweep_time;
    };
    for (const UntracedProc& p : untraced_procs) {
      ThreadState* ts = p.ts;
      if (ts->proc_traced_gen[gen & 1].load(std::memory_order_relaxed) != gen) {
        TraceBuf* b = buf(static_cast<uint64_t>(ts->tid));
        EmitAt(b, at(), format::kEvProcStatus, ts->proc, p.state);
      }
    }
    for (const UntracedG& u : untraced_gs) {
      std::lock_guard<SpinLock> gl(u.g->mu);
      if (u.g->traced_gen[gen & 1] == gen) continue;
      const bool bound =
          u.state == format::kGoRunning || u.state == format::kGoSyscall;
      TraceBuf* b = buf(bound ? u.m : format::kNoThread);
      EmitAt(b, at(), format::kEvGoStatus, u.g->id,
             bound ? u.m : format::kNoThread, u.state);
      u.g->traced_gen[gen & 1] = gen;
    }
    for (auto& [m, b] : batches) FlushBuf(b);
    // Go's reader rejects a generation without a single event ("frontier
    // is empty"). If no thread wrote anything in `gen` and nothing was
    // swept, say that P 0, which no thread ever gets, is idle.
    if (batches.empty() &&
        gen_active_[gen & 1].load(std::memory_order_relaxed) != gen) {
      TraceBuf* b = NewBuf(gen, format::kNoThread);
      Emit(b, format::kEvProcStatus, kFillerProc, format::kProcIdle);
      FlushBuf(b);
    }
  }

  const uint64_t t_flushed = MonotonicNanos();
  FinishGeneration(gen, end_time);
  gen_start_time_ = switch_time;  // the next generation's start
  DebugLog("advance gen %llu: flush+sweep %.2f ms, tables %.2f ms",
           static_cast<unsigned long long>(gen), (t_flushed - t_begin) / 1e6,
           (MonotonicNanos() - t_flushed) / 1e6);

  // I8: free the fibers nothing points to any more (dropping their links
  // to their resumers, which may then be freed next time), then the
  // threads (I7).
  {
    std::lock_guard<std::mutex> l(fibers_mu_);
    GState** link = &fibers_;
    while (GState* g = *link) {
      if (g->refs.load(std::memory_order_acquire) == 0) {
        *link = g->next;
        Unref(g->resumer);
        delete g;
      } else {
        link = &g->next;
      }
    }
  }
  {
    std::lock_guard<std::mutex> l(threads_mu_);
    ReclaimExitedThreads(gen, stop);
  }

  if (stop) {
    std::lock_guard<std::mutex> l(queue_mu_);
    writer_exit_ = true;
    queue_cv_.notify_all();
  }
}

void Runtime::ReclaimExitedThreads(uint64_t gen, bool all) {
  // Under threads_mu_. A thread that exited in generation g has no buffer
  // left once g is complete, and no advance refers to it after the one
  // finishing g+1 (I7); its P may then be reused (AllocProc).
  // A thread whose own G some fiber still links to as its resumer stays
  // (I8).
  ThreadState** link = &threads_;
  while (ThreadState* ts = *link) {
    if (ts->exited.load(std::memory_order_acquire) &&
        ts->own_g.refs.load(std::memory_order_acquire) == 0 &&
        (all || ts->session != session_ || ts->exit_gen + 1 <= gen)) {
      *link = ts->next;
      if (ts->session == session_ && ts->created) {
        free_procs_.emplace_back(ts->proc, ts->exit_gen);
      }
      delete ts;
    } else {
      link = &ts->next;
    }
  }
}

void Runtime::FinishGeneration(uint64_t gen, uint64_t end_time) {
  auto new_table_buf = [this, gen] { return NewBuf(gen, format::kNoThread); };
  auto flush = [this](TraceBuf* b) { FlushBuf(b); };

  // CPU samples of `gen` (tracecpu.h C3: before the stack table).
  CpuGenerationInfo cpu;
  const bool cpu_on = options_.cpu.enabled;
  if (cpu_on) cpu = cpu_.FinishGeneration(gen);

  // Thread names and ids, and the sampler's figures, for this generation
  // (gentrace's own batch).
  {
    TableWriter w(
        0,
        [this, gen] {
          return NewBuf(gen, format::kNoThread,
                        format::kExperimentGentraceInfo);
        },
        flush);
    {
      TraceBuf* b = w.Ensure(3 * format::kMaxVarintLen);
      b->Varint(format::kRecordGeneration);
      b->Varint(gen_start_time_);
      b->Varint(end_time);
    }
    if (cpu_on) cpu_.WriteInfoRecords(cpu, &w);
    // Reading names from /proc happens without threads_mu_, so threads can
    // register meanwhile; the states stay allocated (only this thread, the
    // advancer, frees them: I7).
    std::vector<ThreadState*> threads;
    {
      std::lock_guard<std::mutex> l(threads_mu_);
      for (ThreadState* ts = threads_; ts != nullptr; ts = ts->next) {
        if (ts->session == session_ &&
            ts->created_flag.load(std::memory_order_acquire)) {
          threads.push_back(ts);
        }
      }
    }
    for (ThreadState* ts : threads) {
      std::string name;
      {
        std::lock_guard<std::mutex> nl(ts->name_mu);
        if (!ts->name_explicit && !ts->exited.load()) {
          std::string os = OsThreadName(ts->tid);
          if (!os.empty()) ts->name = os;
        }
        name = ts->name;
      }
      TraceBuf* b = w.Ensure(1 + 4 * format::kMaxVarintLen + name.size());
      b->Varint(format::kRecordThread);
      b->Varint(static_cast<uint64_t>(ts->tid));
      b->Varint(ts->proc);
      b->Varint(ts->own_g.id);
      b->Varint(name.size());
      b->Bytes(name.data(), name.size());
    }
    std::lock_guard<std::mutex> fl(fibers_mu_);
    for (GState* g = fibers_; g != nullptr; g = g->next) {
      if (g->session != session_ || g->dead.load(std::memory_order_acquire)) {
        continue;
      }
      TraceBuf* b = w.Ensure(1 + 3 * format::kMaxVarintLen + g->name.size());
      b->Varint(format::kRecordFiber);
      b->Varint(g->id);
      b->Varint(g->name.size());
      b->Bytes(g->name.data(), g->name.size());
    }
  }

  // Stacks, then strings: symbolizing stacks adds strings (Go's order).
  {
    TableWriter w(format::kEvStacks, new_table_buf, flush);
    stacks_[gen & 1].Dump(w, strings_[gen & 1], symbolizer_);
  }
  stacks_[gen & 1].Reset();
  {
    TableWriter w(format::kEvStrings, new_table_buf, flush);
    strings_[gen & 1].Dump(w);
  }
  strings_[gen & 1].Reset();

  // I3: the writer may now finish `gen`; wait until it has, so at most two
  // generations are ever in memory.
  std::unique_lock<std::mutex> l(queue_mu_);
  completed_gen_ = gen;
  queue_cv_.notify_all();
  queue_cv_.wait(l, [this, gen] { return written_gen_ >= gen; });
}

}  // namespace internal
}  // namespace gentrace
