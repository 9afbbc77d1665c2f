// gentrace: Go's execution tracer for C++ programs.
//
// gentrace records what the threads of a C++ program do (tasks, regions,
// logs, blocking, syscalls, thread names) in Go's execution trace format,
// so `go tool trace` opens the result and Go's own parser accepts it. Each
// registered OS thread appears as a Go thread (M) with its own proc (P) and
// its own goroutine (G); see ../shared/design/MAPPING.md for the mapping.
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
// branch (about a nanosecond). Compiling with -DGENTRACE_DISABLE turns the
// inline API and the GENTRACE_* macros into nothing. Measured costs with
// tracing on are in docs/TRACER.md.
//
// Threads: a thread is registered on its first event; nothing needs to be
// called when threads start or exit. Every function here is thread-safe.
// None may be called from a signal handler.
#ifndef GENTRACE_TRACER_GENTRACE_H_
#define GENTRACE_TRACER_GENTRACE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

#if defined(GENTRACE_DISABLE)
#define GENTRACE_INTERNAL_COMPILED_IN 0
#else
#define GENTRACE_INTERNAL_COMPILED_IN 1
#endif

#if GENTRACE_INTERNAL_COMPILED_IN
namespace gentrace {

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
  uint64_t period = 0;
  // Also sample threads that never wrote an event (the process itimer);
  // their samples have no proc and no goroutine.
  bool sample_unknown_threads = true;
  // Bytes of the signal-safe buffer that holds samples until they are
  // written (two of them, by generation parity). Samples that do not fit
  // are counted as lost, per generation, in the trace and in Stats.
  size_t buffer_bytes = 4 << 20;
};

struct Options {
  // Where the trace goes: exactly one of these must be set.
  std::string path;  // a file, created or truncated
  int fd = -1;       // an open file descriptor, left open
  // Called on gentrace's writer thread with consecutive chunks of the
  // trace; a non-OK return stops tracing and Stop() returns it.
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
};

// Starts tracing. Fails if tracing is already on, the options are invalid,
// or the destination cannot be opened.
absl::Status Start(const Options& options);

// Stops tracing, writes the last generation, and closes the destination
// (a file given by path; never a caller's fd). Returns the first error the
// destination reported while tracing, if any. If the program exits while
// tracing, Stop runs from an atexit handler.
absl::Status Stop();

// True between a successful Start and Stop.
bool IsTracing();

struct Stats {
  uint64_t generations = 0;    // complete generations written
  uint64_t bytes_written = 0;  // to the destination (compressed if so)
  uint64_t threads_seen = 0;   // threads registered in this trace
  uint64_t buffers_allocated = 0;
  uint64_t cpu_samples = 0;       // CPU samples written into the trace
  uint64_t cpu_samples_lost = 0;  // lost periods: full buffer, >64 a sample
  std::string cpu_source;         // what the sampler chose, and why
};
// Counters of the current (or last) trace.
Stats GetStats();

// Names the calling thread in the trace (and, truncated to 15 bytes, for
// the OS via pthread_setname_np). Names set with pthread_setname_np are
// picked up too, once a generation.
void SetThreadName(absl::string_view name);

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
  Task& operator=(Task&& other) noexcept;
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;

  // Begins a task named `name`, a child of `parent` (0: none). With tracing
  // off the task has id 0 and End does nothing.
  static Task Begin(absl::string_view name, TaskId parent = 0);

  void End() {
    if (id_ != 0) EndSlow();
  }
  TaskId id() const { return id_; }

 private:
  void EndSlow();
  TaskId id_ = 0;
};

namespace internal {
extern std::atomic<bool> g_enabled;
inline bool Enabled() {
  return GENTRACE_INTERNAL_COMPILED_IN &&
         __builtin_expect(g_enabled.load(std::memory_order_relaxed), 0);
}
TaskId TaskBegin(absl::string_view name, TaskId parent);
}  // namespace internal

inline Task Task::Begin(absl::string_view name, TaskId parent) {
  Task t;
  if (internal::Enabled()) t.id_ = internal::TaskBegin(name, parent);
  return t;
}

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

namespace internal {
// Begins return a token naming the region they opened (0 if none).
uint64_t RegionBegin(absl::string_view name, TaskId task);
uint64_t RegionBeginStatic(const StaticName& name, TaskId task);
void RegionEnd(absl::string_view name, TaskId task);
void RegionEndToken(uint64_t token);
void Log(absl::string_view category, absl::string_view message, TaskId task);
void LogStatic(const StaticName& category, absl::string_view message,
               TaskId task);
}  // namespace internal

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
absl::string_view BlockReasonName(BlockReason reason);

namespace internal {
// Begin functions return whether they recorded the begin (the thread's
// goroutine was running); only then does the scope record its end.
bool BlockBegin(BlockReason reason);
void BlockEnd();
bool SyscallBegin();
void SyscallEnd();
}  // namespace internal

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

namespace internal {
struct GState;
GState* FiberCreate(absl::string_view name, bool blocked);
bool FiberResume(GState* g);
bool FiberYield(GState* g);
bool FiberBlock(GState* g, BlockReason reason);
bool FiberWake(GState* g);
bool FiberFinish(GState* g);
void FiberRelease(GState* g);
bool CoroutineSwitch(GState* target, bool destroy_current);
GState* RunningFiberResumer(GState* g);
uint64_t GoroutineId(const GState* g);
}  // namespace internal

namespace internal {
// Owns the goroutine of a Fiber or Coroutine: moving hands it over, and
// destruction ends it if it has not ended (FiberRelease).
class GoroutineHandle {
 public:
  GoroutineHandle() = default;
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

  // The goroutine's id in the trace (0 for an empty handle).
  uint64_t goroutine_id() const { return GoroutineId(g_); }

 protected:
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
// Create returns an empty fiber whose calls do nothing. Destroying a fiber
// that has not finished ends it (running it briefly here if needed).
class Fiber : public internal::GoroutineHandle {
 public:
  // A runnable fiber; `name` is its goroutine's name in `go tool trace`.
  static Fiber Create(absl::string_view name) {
    Fiber f;
    if (internal::Enabled()) f.g_ = internal::FiberCreate(name, false);
    return f;
  }

  // Runs the fiber on the calling thread (waking it if it was blocked).
  bool Resume() { return g_ != nullptr && internal::FiberResume(g_); }
  // The fiber, running here, gives the thread back and stays runnable.
  bool Yield() { return g_ != nullptr && internal::FiberYield(g_); }
  // The fiber, running here, waits for Wake(); the thread is given back.
  bool Block(BlockReason reason) {
    return g_ != nullptr && internal::FiberBlock(g_, reason);
  }
  // From any thread: a blocked fiber becomes runnable.
  bool Wake() { return g_ != nullptr && internal::FiberWake(g_); }
  // The fiber, running here, ends; the thread is given back.
  bool Finish() { return g_ != nullptr && internal::FiberFinish(g_); }

  explicit operator bool() const { return g_ != nullptr; }
};

// A coroutine with symmetric transfer, as Go 1.23 records its coroutines
// (iter.Pull): created suspended; Resume switches into it directly from the
// running goroutine (GoSwitch), Yield switches back to whoever resumed it,
// Return ends it and switches back (GoSwitchDestroy).
class Coroutine : public internal::GoroutineHandle {
 public:
  static Coroutine Create(absl::string_view name) {
    Coroutine c;
    if (internal::Enabled()) c.g_ = internal::FiberCreate(name, true);
    return c;
  }
  // Called by the goroutine that runs the coroutine next.
  bool Resume() {
    return g_ != nullptr && internal::CoroutineSwitch(g_, false);
  }
  // Called inside the coroutine: back to the goroutine that resumed it.
  bool Yield() {
    internal::GState* back = internal::RunningFiberResumer(g_);
    return back != nullptr && internal::CoroutineSwitch(back, false);
  }
  // Called inside the coroutine: it ends, and the resumer runs again.
  bool Return() {
    internal::GState* back = internal::RunningFiberResumer(g_);
    return back != nullptr && internal::CoroutineSwitch(back, true);
  }
};

namespace internal {
// The goroutine running on this thread, and whether it was running;
// WaitEnd records its wake-up (self-woken, or by a Notify/unlock).
GState* WaitBegin(BlockReason reason);
void WaitEnd(GState* g);
// From the thread that releases waiters: record that it woke `g`.
void WakeWaiter(GState* g);
// Makes the calling thread's goroutine run again if a wait left it waiting.
void EnsureRunning();
}  // namespace internal

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
  void wait(std::unique_lock<Mutex>& lock);
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

}  // namespace gentrace
#else   // !GENTRACE_INTERNAL_COMPILED_IN
// Compiled with -DGENTRACE_DISABLE: the same API, in an inline namespace of
// its own (no clash with the real one in other translation units), doing
// nothing, all inline. Start reports that tracing was compiled out.
namespace gentrace {
inline namespace compiled_out {

enum class Compression { kNone, kZstd };
struct StackOptions {
  bool tasks = true, regions = true, logs = true, blocking = true,
       syscalls = true, fibers = true;
};
struct Options {
  std::string path;
  int fd = -1;
  std::function<absl::Status(absl::Span<const uint8_t>)> callback;
  Compression compression = Compression::kNone;
  int zstd_level = 3;
  absl::Duration generation_period = absl::Seconds(1);
  StackOptions stacks;
  int max_stack_depth = 64;
  struct {
    bool enabled = false;
    int hz = 100;
  } cpu;
};
inline absl::Status Start(const Options&) {
  return absl::UnimplementedError(
      "gentrace was compiled out (GENTRACE_DISABLE)");
}
inline absl::Status Stop() {
  return absl::FailedPreconditionError("tracing is not on");
}
inline bool IsTracing() { return false; }
struct Stats {
  uint64_t generations = 0, bytes_written = 0, threads_seen = 0,
           buffers_allocated = 0, cpu_samples = 0, cpu_samples_lost = 0;
  std::string cpu_source;
};
inline Stats GetStats() { return Stats(); }
inline void SetThreadName(absl::string_view) {}
using TaskId = uint64_t;
class Task {
 public:
  static Task Begin(absl::string_view, TaskId = 0) { return Task(); }
  void End() {}
  TaskId id() const { return 0; }
};
class StaticName {
 public:
  constexpr explicit StaticName(const char* s) : str_(s) {}
  absl::string_view str() const { return str_; }

 private:
  const char* str_;
};
inline void RegionBegin(absl::string_view, TaskId = 0) {}
inline void RegionEnd(absl::string_view, TaskId = 0) {}
class ScopedRegion {
 public:
  explicit ScopedRegion(const StaticName&, TaskId = 0) {}
  explicit ScopedRegion(absl::string_view, TaskId = 0) {}
};
inline void Log(absl::string_view, absl::string_view, TaskId = 0) {}
template <typename... Args>
void Logf(absl::string_view, const absl::FormatSpec<Args...>&, const Args&...) {
}
enum class BlockReason : uint8_t {
  kUnspecified,
  kSync,
  kCondWait,
  kNetwork,
  kSleep,
  kChanReceive,
  kChanSend,
  kSelect,
};
class ScopedBlock {
 public:
  explicit ScopedBlock(BlockReason) {}
};
class ScopedSyscall {
 public:
  ScopedSyscall() {}
};
class Fiber {
 public:
  static Fiber Create(absl::string_view) { return Fiber(); }
  bool Resume() { return false; }
  bool Yield() { return false; }
  bool Block(BlockReason) { return false; }
  bool Wake() { return false; }
  bool Finish() { return false; }
  uint64_t goroutine_id() const { return 0; }
  explicit operator bool() const { return false; }
};
class Coroutine {
 public:
  static Coroutine Create(absl::string_view) { return Coroutine(); }
  bool Resume() { return false; }
  bool Yield() { return false; }
  bool Return() { return false; }
  uint64_t goroutine_id() const { return 0; }
};
class Mutex {
 public:
  void lock() { mu_.lock(); }
  bool try_lock() { return mu_.try_lock(); }
  void unlock() { mu_.unlock(); }

 private:
  std::mutex mu_;
};
class CondVar {
 public:
  void wait(std::unique_lock<Mutex>& lock) { cv_.wait(lock); }
  template <typename Predicate>
  void wait(std::unique_lock<Mutex>& lock, Predicate pred) {
    cv_.wait(lock, pred);
  }
  std::cv_status wait_for(std::unique_lock<Mutex>& lock,
                          std::chrono::nanoseconds timeout) {
    return cv_.wait_for(lock, timeout);
  }
  void notify_one() { cv_.notify_one(); }
  void notify_all() { cv_.notify_all(); }

 private:
  std::condition_variable_any cv_;
};

}  // namespace compiled_out
}  // namespace gentrace
#endif  // GENTRACE_INTERNAL_COMPILED_IN

#define GENTRACE_INTERNAL_CONCAT2(a, b) a##b
#define GENTRACE_INTERNAL_CONCAT(a, b) GENTRACE_INTERNAL_CONCAT2(a, b)

#if GENTRACE_INTERNAL_COMPILED_IN
// A region named by a string literal, open until the end of the scope.
#define GENTRACE_REGION(name)                             \
  static ::gentrace::StaticName GENTRACE_INTERNAL_CONCAT( \
      gentrace_region_name_, __LINE__)(name);             \
  ::gentrace::ScopedRegion GENTRACE_INTERNAL_CONCAT(      \
      gentrace_region_,                                   \
      __LINE__)(GENTRACE_INTERNAL_CONCAT(gentrace_region_name_, __LINE__))
// The same, within a task.
#define GENTRACE_TASK_REGION(task_id, name)                           \
  static ::gentrace::StaticName GENTRACE_INTERNAL_CONCAT(             \
      gentrace_region_name_, __LINE__)(name);                         \
  ::gentrace::ScopedRegion GENTRACE_INTERNAL_CONCAT(gentrace_region_, \
                                                    __LINE__)(        \
      GENTRACE_INTERNAL_CONCAT(gentrace_region_name_, __LINE__), task_id)
// A log with a literal category; the message is evaluated only when
// tracing is on.
#define GENTRACE_LOG(category, message)                                     \
  do {                                                                      \
    if (::gentrace::internal::Enabled()) {                                  \
      static ::gentrace::StaticName gentrace_log_category(category);        \
      ::gentrace::internal::LogStatic(gentrace_log_category, (message), 0); \
    }                                                                       \
  } while (0)
#else
#define GENTRACE_REGION(name) \
  do {                        \
  } while (0)
#define GENTRACE_TASK_REGION(task_id, name) \
  do {                                      \
  } while (0)
#define GENTRACE_LOG(category, message) \
  do {                                  \
  } while (0)
#endif

#endif  // GENTRACE_TRACER_GENTRACE_H_
