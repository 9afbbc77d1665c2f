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
#include <cstdint>
#include <functional>
#include <string>

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
  uint64_t generations = 0;     // complete generations written
  uint64_t bytes_written = 0;   // to the destination (compressed if so)
  uint64_t threads_seen = 0;    // threads registered in this trace
  uint64_t buffers_allocated = 0;
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

  void End();
  TaskId id() const { return id_; }

 private:
  TaskId id_ = 0;
};

namespace internal {
extern std::atomic<bool> g_enabled;
inline bool Enabled() {
  return GENTRACE_INTERNAL_COMPILED_IN &&
         __builtin_expect(g_enabled.load(std::memory_order_relaxed), 0);
}
}  // namespace internal

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
void RegionBegin(absl::string_view name, TaskId task);
void RegionBeginStatic(const StaticName& name, TaskId task);
void RegionEnd(absl::string_view name, TaskId task);
void RegionEndStatic(const StaticName& name, TaskId task);
void Log(absl::string_view category, absl::string_view message, TaskId task);
void LogStatic(const StaticName& category, absl::string_view message,
               TaskId task);
}  // namespace internal

// Regions: a named interval of a thread's (or fiber's) time, nested
// properly (Go's trace.StartRegion). Ending a region that is not the
// innermost open one also ends the regions opened inside it; ending a
// region that is not open does nothing.
inline void RegionBegin(absl::string_view name, TaskId task = 0) {
  if (internal::Enabled()) internal::RegionBegin(name, task);
}
inline void RegionEnd(absl::string_view name, TaskId task = 0) {
  if (internal::Enabled()) internal::RegionEnd(name, task);
}

class ScopedRegion {
 public:
  explicit ScopedRegion(const StaticName& name, TaskId task = 0)
      : static_name_(&name), task_(task) {
    if (internal::Enabled()) {
      active_ = true;
      internal::RegionBeginStatic(name, task);
    }
  }
  // A dynamic name must stay alive until the region ends.
  explicit ScopedRegion(absl::string_view name, TaskId task = 0)
      : name_(name), task_(task) {
    if (internal::Enabled()) {
      active_ = true;
      internal::RegionBegin(name, task);
    }
  }
  ~ScopedRegion() {
    if (active_ && internal::Enabled()) {
      if (static_name_ != nullptr) {
        internal::RegionEndStatic(*static_name_, task_);
      } else {
        internal::RegionEnd(name_, task_);
      }
    }
  }
  ScopedRegion(const ScopedRegion&) = delete;
  ScopedRegion& operator=(const ScopedRegion&) = delete;

 private:
  const StaticName* static_name_ = nullptr;
  absl::string_view name_;
  TaskId task_;
  bool active_ = false;
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

}  // namespace gentrace

#define GENTRACE_INTERNAL_CONCAT2(a, b) a##b
#define GENTRACE_INTERNAL_CONCAT(a, b) GENTRACE_INTERNAL_CONCAT2(a, b)

#if GENTRACE_INTERNAL_COMPILED_IN
// A region named by a string literal, open until the end of the scope.
#define GENTRACE_REGION(name)                                              \
  static ::gentrace::StaticName GENTRACE_INTERNAL_CONCAT(                  \
      gentrace_region_name_, __LINE__)(name);                              \
  ::gentrace::ScopedRegion GENTRACE_INTERNAL_CONCAT(gentrace_region_,      \
                                                    __LINE__)(             \
      GENTRACE_INTERNAL_CONCAT(gentrace_region_name_, __LINE__))
// The same, within a task.
#define GENTRACE_TASK_REGION(task_id, name)                                \
  static ::gentrace::StaticName GENTRACE_INTERNAL_CONCAT(                  \
      gentrace_region_name_, __LINE__)(name);                              \
  ::gentrace::ScopedRegion GENTRACE_INTERNAL_CONCAT(gentrace_region_,      \
                                                    __LINE__)(             \
      GENTRACE_INTERNAL_CONCAT(gentrace_region_name_, __LINE__), task_id)
// A log with a literal category; the message is evaluated only when
// tracing is on.
#define GENTRACE_LOG(category, message)                                    \
  do {                                                                     \
    if (::gentrace::internal::Enabled()) {                                 \
      static ::gentrace::StaticName gentrace_log_category(category);       \
      ::gentrace::internal::LogStatic(gentrace_log_category, (message), 0); \
    }                                                                      \
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
