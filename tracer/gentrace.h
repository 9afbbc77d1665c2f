// gentrace: Go's execution tracer for C++ programs.
//
// gentrace records what the threads of a C++ program do (tasks, regions,
// logs, blocking, syscalls, fibers, CPU samples) in Go's execution trace
// format, so `go tool trace` opens the result and Go's own parser accepts
// it. Each thread appears as a Go thread (M) with its own proc (P) and its
// own goroutine (G); docs/TRACE_MODEL.md has the whole mapping.
//
//   gentrace::Options opts;
//   opts.path = "/tmp/app.trace";
//   if (absl::Status s = gentrace::Start(opts); !s.ok()) ...
//   {
//     gentrace::Task req = gentrace::Task::Begin("request");
//     GENTRACE_REGION("parse");
//     gentrace::Log("cache", "miss", req.id());
//   }
//   absl::Status s = gentrace::Stop();   // the trace is complete
//
// Cost: with tracing off, every call below is one relaxed load and a
// branch (under a nanosecond). Compiled with -DGENTRACE_DISABLE, the same
// API does nothing and links nothing. Measured costs are in docs/TRACER.md.
//
// Threads: a thread is registered on its first event; nothing needs to be
// called when threads start or exit. Every function here is thread-safe.
// None may be called from a signal handler (Start and Stop detect the
// case where that would hang, and refuse; see Stop).
#ifndef GENTRACE_TRACER_GENTRACE_H_
#define GENTRACE_TRACER_GENTRACE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "tracer/internal/api_detail.h"
#include "tracer/internal/config.h"
#include "tracer/options.h"  // Options, StackOptions, CpuProfileOptions, Stats

GENTRACE_INTERNAL_NAMESPACE_BEGIN

// Starts tracing. Fails if tracing is already on, the options are invalid,
// or the destination cannot be opened; and, with FailedPrecondition, when
// called where it cannot run (see Stop), or while the process exits
// (after gentrace's own atexit handler has run: no thread may start then).
inline absl::Status Start(const Options& options) {
  return internal::StartTracing(options);
}

// Stops tracing, writes the last generation, and closes the destination
// (a file given by path; never a caller's fd). Returns the first error the
// destination reported while tracing, if any. If the program exits while
// tracing, Stop runs from an atexit handler; a Stop after that (from an
// atexit handler registered before the first Start) returns at once
// ("tracing is not on").
//
// With a FlightRecorder running (tracer/flight_recorder.h), Start joins
// its trace (with the same settings, else FailedPrecondition) and Stop
// ends only the destination's part, at a generation boundary: the
// recorder goes on.
//
// Start and Stop return FailedPrecondition, doing nothing, where they
// would wait for the calling thread itself: from Options::callback (on
// gentrace's writer thread, or as Start writes the header; to stop from
// the callback, return a non-OK status from it), and from a signal handler
// that interrupted its thread inside gentrace, or inside Start or Stop.
inline absl::Status Stop() { return internal::StopTracing(); }

// True between a successful Start and Stop, while the destination
// receives the trace (false once it failed, or with only a
// FlightRecorder running).
inline bool IsTracing() { return internal::TracingOn(); }

// Counters of the current (or last) trace.
inline Stats GetStats() { return internal::CurrentStats(); }

// Names the calling thread in the trace (and, truncated to 15 bytes, for
// the OS via pthread_setname_np). Names set with pthread_setname_np are
// picked up too, once a generation.
inline void SetThreadName(absl::string_view name) {
  internal::NameThread(name);
}

// ------------------------------------------------------------------ tasks

// A task id as Go's trace records it; 0 is the background task.
using TaskId = uint64_t;

// A logical operation that may span threads (Go's trace.Task). Ends when
// End() is called or the object is destroyed, whichever comes first;
// ending twice does nothing.
class Task {
 public:
  Task() = default;
  ~Task() { End(); }
  Task(Task&& other) noexcept : id_(other.id_) { other.id_ = 0; }
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      End();
      id_ = other.id_;
      other.id_ = 0;
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;

  // Begins a task named `name`, a child of `parent` (0: none). With tracing
  // off the task has id 0 and End does nothing.
  static Task Begin(absl::string_view name, TaskId parent = 0) {
    Task t;
    if (internal::Enabled()) t.id_ = internal::TaskBegin(name, parent);
    return t;
  }

  void End() {
    if (id_ == 0) return;
    const TaskId id = id_;
    id_ = 0;
    if (internal::Enabled()) internal::TaskEnd(id);
  }
  TaskId id() const { return id_; }

 private:
  TaskId id_ = 0;
};

// ------------------------------------------------------- regions and logs

// A string with static storage (a literal), whose trace string id is cached
// per generation: the fast path for names used at a fixed call site. The
// GENTRACE_* macros declare these for you.
class StaticName {
 public:
  constexpr explicit StaticName(const char* s)
      : str_(s), size_(ConstLength(s)) {}
  absl::string_view str() const { return absl::string_view(str_, size_); }
  // Internal: generation (high 40 bits) and string id (low 24 bits).
  std::atomic<uint64_t>& cache() const { return cache_; }

 private:
  static constexpr size_t ConstLength(const char* s) {
    size_t n = 0;
    while (s[n] != '\0') ++n;
    return n;
  }
  const char* str_;
  size_t size_;
  mutable std::atomic<uint64_t> cache_{0};
};

// Regions: a named interval of a thread's (or fiber's) time, nested
// properly (Go's trace.StartRegion). Ending a region that is not the
// innermost open one also ends the regions opened inside it; ending a
// region that is not open does nothing.
inline void RegionBegin(absl::string_view name, TaskId task = 0) {
  if (internal::Enabled()) (void)internal::RegionBegin(name, task);
}
inline void RegionEnd(absl::string_view name, TaskId task = 0) {
  if (internal::Enabled()) internal::RegionEnd(name, task);
}

// A region open for the lifetime of the object. Its end matches the region
// this object began, on the goroutine that began it, whatever was opened or
// ended meanwhile; if that region is gone (ended explicitly, or its
// goroutine ended) or its goroutine does not run on the thread when the
// scope ends (its fiber moved away), nothing is recorded.
class ScopedRegion {
 public:
  explicit ScopedRegion(const StaticName& name, TaskId task = 0) {
    if (internal::Enabled()) token_ = internal::RegionBeginStatic(name, task);
  }
  // The name may be a temporary: the region keeps a copy.
  explicit ScopedRegion(absl::string_view name, TaskId task = 0) {
    if (internal::Enabled()) token_ = internal::RegionBegin(name, task);
  }
  ~ScopedRegion() {
    if (token_ != 0 && internal::Enabled()) internal::RegionEndToken(token_);
  }
  ScopedRegion(const ScopedRegion&) = delete;
  ScopedRegion& operator=(const ScopedRegion&) = delete;

 private:
  uint64_t token_ = 0;  // which open region this scope began; 0: none
};

// Logs: a categorized message on the current thread (Go's trace.Log).
// Messages longer than 1024 bytes are truncated.
inline void Log(absl::string_view category, absl::string_view message,
                TaskId task = 0) {
  if (internal::Enabled()) internal::Log(category, message, task);
}
// Formats only when tracing is on.
template <typename... Args>
void Logf(absl::string_view category, const absl::FormatSpec<Args...>& format,
          const Args&... args) {
  if (internal::Enabled()) {
    internal::Log(category, absl::StrFormat(format, args...), 0);
  }
}

// ------------------------------------------------- blocking and syscalls

// Why a thread blocks. The names are Go's, so `go tool trace -pprof=sync`
// counts kSync, kCondWait, kChanReceive, kChanSend and kSelect, and
// `-pprof=net` counts kNetwork.
enum class BlockReason : uint8_t {
  kUnspecified,
  kSync,         // "sync": a mutex or lock
  kCondWait,     // "sync.(*Cond).Wait"
  kNetwork,      // "network": sockets, epoll
  kSleep,        // "sleep"
  kChanReceive,  // "chan receive": a queue pop
  kChanSend,     // "chan send": a queue push
  kSelect,       // "select": waiting on several things
};

// Go's string for a reason.
inline absl::string_view BlockReasonName(BlockReason reason) {
  constexpr absl::string_view kNames[] = {
      "unspecified",        // kUnspecified
      "sync",               // kSync
      "sync.(*Cond).Wait",  // kCondWait
      "network",            // kNetwork
      "sleep",              // kSleep
      "chan receive",       // kChanReceive
      "chan send",          // kChanSend
      "select",             // kSelect
  };
  const size_t i = static_cast<size_t>(reason);
  return i < sizeof(kNames) / sizeof(kNames[0]) ? kNames[i] : kNames[0];
}

// The calling thread blocks (is not runnable) for this scope. Nested
// inside another ScopedBlock or a ScopedSyscall it records nothing.
class ScopedBlock {
 public:
  explicit ScopedBlock(BlockReason reason) {
    if (internal::Enabled()) active_ = internal::BlockBegin(reason);
  }
  ~ScopedBlock() {
    if (active_) internal::BlockEnd();
  }
  ScopedBlock(const ScopedBlock&) = delete;
  ScopedBlock& operator=(const ScopedBlock&) = delete;

 private:
  bool active_ = false;
};

// The calling thread is in a system call for this scope
// (`go tool trace -pprof=syscall`). Nested inside another ScopedSyscall or
// a ScopedBlock it records nothing.
class ScopedSyscall {
 public:
  ScopedSyscall() {
    if (internal::Enabled()) active_ = internal::SyscallBegin();
  }
  ~ScopedSyscall() {
    if (active_) internal::SyscallEnd();
  }
  ScopedSyscall(const ScopedSyscall&) = delete;
  ScopedSyscall& operator=(const ScopedSyscall&) = delete;

 private:
  bool active_ = false;
};

// ------------------------------------------------- fibers and coroutines

namespace internal {
// Owns the goroutine of a Fiber or Coroutine: moving hands it over,
// destruction releases it (see Fiber).
class GoroutineHandle {
 public:
  GoroutineHandle() = default;
  explicit GoroutineHandle(GState* g) : g_(g) {}
  ~GoroutineHandle() { Reset(); }
  GoroutineHandle(GoroutineHandle&& other) noexcept : g_(other.g_) {
    other.g_ = nullptr;
  }
  GoroutineHandle& operator=(GoroutineHandle&& other) noexcept {
    if (this != &other) {
      Reset();
      g_ = other.g_;
      other.g_ = nullptr;
    }
    return *this;
  }
  GState* get() const { return g_; }

 private:
  void Reset() {
    if (g_ != nullptr) {
      FiberRelease(g_);
      g_ = nullptr;
    }
  }
  GState* g_ = nullptr;
};
}  // namespace internal

// A fiber: work with its own goroutine in the trace, run by whichever
// thread resumes it (a green thread, a coroutine driven by a scheduler, or
// an executor's work item). Its regions belong to it and move with it
// between threads. While a fiber runs on a thread, the thread's own
// goroutine waits ("running fiber").
//
//   Fiber f = Fiber::Create("request 17");   // runnable
//   f.Resume();            // on a worker: runs here
//   ... f.Block(BlockReason::kNetwork);  // waits; the worker's own G runs
//   f.Wake();              // any thread: runnable again
//   f.Resume(); ... f.Finish();   // possibly on another thread
//
// Calls that do not fit the fiber's state (resuming a running fiber,
// yielding one that runs on another thread) record nothing and return
// false. A fiber belongs to the trace it was created in; with tracing off,
// Create returns an empty fiber whose calls do nothing.
//
// Destroying a fiber (or a Coroutine) that has not finished ends it: at
// once if it runs on this thread or on no thread (running it briefly here
// if needed); if it is on another thread (running, in a ScopedSyscall, or
// blocked in a ScopedBlock or a traced wait there), that thread ends it at
// its next gentrace call, block end, or exit, and until then it stays that
// thread's. Its memory lives until no thread runs it, no fiber links back
// to it as its resumer, and the handle is gone, so scopes that outlive
// their fiber are safe (docs/TRACER.md). A handle object itself is not
// thread-safe: do not destroy it while another thread calls its methods.
class Fiber {
 public:
  Fiber() = default;

  // A runnable fiber; `name` is its goroutine's name in `go tool trace`.
  static Fiber Create(absl::string_view name) {
    Fiber f;
    if (internal::Enabled()) {
      f.g_ = internal::GoroutineHandle(internal::FiberCreate(name, false));
    }
    return f;
  }

  // Runs the fiber on the calling thread (waking it if it was blocked).
  bool Resume() { return g() != nullptr && internal::FiberResume(g()); }
  // The fiber, running here, gives the thread back and stays runnable.
  bool Yield() { return g() != nullptr && internal::FiberYield(g()); }
  // The fiber, running here, waits for Wake(); the thread is given back.
  bool Block(BlockReason reason) {
    return g() != nullptr && internal::FiberBlock(g(), reason);
  }
  // From any thread: a blocked fiber becomes runnable.
  bool Wake() { return g() != nullptr && internal::FiberWake(g()); }
  // The fiber, running here, ends; the thread is given back.
  bool Finish() { return g() != nullptr && internal::FiberFinish(g()); }

  // The fiber's goroutine id in the trace (0 for an empty fiber).
  uint64_t goroutine_id() const { return internal::GoroutineId(g()); }
  explicit operator bool() const { return g() != nullptr; }

 private:
  internal::GState* g() const { return g_.get(); }
  internal::GoroutineHandle g_;
};

// A coroutine with symmetric transfer, as Go 1.23 records its coroutines
// (iter.Pull): created suspended; Resume switches into it directly from the
// running goroutine (GoSwitch), Yield switches back to whoever resumed it,
// Return ends it and switches back (GoSwitchDestroy).
class Coroutine {
 public:
  Coroutine() = default;

  static Coroutine Create(absl::string_view name) {
    Coroutine c;
    if (internal::Enabled()) {
      c.g_ = internal::GoroutineHandle(internal::FiberCreate(name, true));
    }
    return c;
  }
  // Called by the goroutine that runs the coroutine next.
  bool Resume() {
    return g() != nullptr && internal::CoroutineSwitch(g(), false);
  }
  // Called inside the coroutine: back to the goroutine that resumed it.
  bool Yield() { return SwitchBack(false); }
  // Called inside the coroutine: it ends, and the resumer runs again.
  bool Return() { return SwitchBack(true); }

  // The coroutine's goroutine id in the trace (0 for an empty one).
  uint64_t goroutine_id() const { return internal::GoroutineId(g()); }
  explicit operator bool() const { return g() != nullptr; }

 private:
  bool SwitchBack(bool destroy) {
    if (g() == nullptr) return false;
    internal::GState* back = internal::RunningFiberResumer(g());
    return back != nullptr && internal::CoroutineSwitch(back, destroy);
  }
  internal::GState* g() const { return g_.get(); }
  internal::GoroutineHandle g_;
};

// ------------------------------------------------ traced synchronization

// A mutex whose contention is traced: a thread that has to wait is blocked
// ("sync", counted by `go tool trace -pprof=sync`), and the unlock that
// lets a waiter in records that it woke it. Waiters are woken in arrival
// order in the trace; the OS may still let another thread take the lock
// first, in which case the woken one waits on as runnable. Meets the C++
// Lockable requirements (use with std::lock_guard, std::unique_lock).
class Mutex {
 public:
  void lock() {
    if (mu_.try_lock()) return;
    if (!internal::Enabled()) {
      mu_.lock();
      return;
    }
    LockSlow();
  }
  bool try_lock() { return mu_.try_lock(); }
  void unlock() {
    mu_.unlock();
    if (internal::Enabled()) UnlockSlow();
  }

 private:
  void LockSlow();
  void UnlockSlow();

  std::mutex mu_;
  std::mutex waiters_mu_;
  std::vector<internal::GState*> waiters_;  // under waiters_mu_, FIFO
};

// A condition variable for gentrace::Mutex whose waits are traced
// ("sync.(*Cond).Wait") and whose notifications record exactly which
// waiter they woke: each waiter sleeps on its own, and notify_one wakes the
// longest waiting one.
class CondVar {
 public:
  void wait(std::unique_lock<Mutex>& lock) {
    (void)wait_for(lock, std::chrono::nanoseconds::max());
  }
  template <typename Predicate>
  void wait(std::unique_lock<Mutex>& lock, Predicate pred) {
    while (!pred()) wait(lock);
  }
  // Returns std::cv_status::timeout if not notified in time.
  std::cv_status wait_for(std::unique_lock<Mutex>& lock,
                          std::chrono::nanoseconds timeout);
  void notify_one();
  void notify_all();

 private:
  struct Waiter;
  std::mutex mu_;
  Waiter* head_ = nullptr;  // FIFO of sleeping waiters, under mu_
  Waiter* tail_ = nullptr;
};

GENTRACE_INTERNAL_NAMESPACE_END

// ----------------------------------------------------------------- macros

// A region named by a string literal, open until the end of the scope.
#define GENTRACE_REGION(name) \
  GENTRACE_INTERNAL_REGION(name, 0, __COUNTER__)
// The same, within a task.
#define GENTRACE_TASK_REGION(task_id, name) \
  GENTRACE_INTERNAL_REGION(name, task_id, __COUNTER__)
// A region named after the enclosing function (its unqualified name, as
// __func__ gives it), open until the end of the scope.
#define GENTRACE_FUNCTION_REGION() \
  GENTRACE_INTERNAL_REGION(__func__, 0, __COUNTER__)
// A log with a literal category; the message is evaluated only when
// tracing is on.
#define GENTRACE_LOG(category, message)                                     \
  do {                                                                      \
    if (::gentrace::internal::Enabled()) {                                  \
      static ::gentrace::StaticName gentrace_log_category(category);        \
      ::gentrace::internal::LogStatic(gentrace_log_category, (message), 0); \
    }                                                                       \
  } while (0)

#define GENTRACE_INTERNAL_REGION(name, task_id, n)                          \
  static ::gentrace::StaticName GENTRACE_INTERNAL_CONCAT(gentrace_name_, n)( \
      name);                                                                 \
  ::gentrace::ScopedRegion GENTRACE_INTERNAL_CONCAT(gentrace_region_, n)(    \
      GENTRACE_INTERNAL_CONCAT(gentrace_name_, n), task_id)

#include "tracer/flight_recorder.h"     // IWYU pragma: export
#include "tracer/internal/sync_impl.h"  // IWYU pragma: export
#if !GENTRACE_INTERNAL_COMPILED_IN
#include "tracer/internal/compiled_out.h"  // IWYU pragma: export
#endif

#endif  // GENTRACE_TRACER_GENTRACE_H_
