// The public API (gentrace.h) on top of the runtime.
//
// Every entry point here is an out-of-line function with a frame of its
// own: its frame pointer starts the stack walk, so the first recorded PC is
// the caller's.
#include <pthread.h>

#include <algorithm>

#include "tracer/gentrace.h"
#include "tracer/internal/runtime.h"

namespace gentrace {

using internal::GState;
using internal::kMaxEventBytes;
using internal::OpenRegion;
using internal::Runtime;
using internal::ThreadState;
using internal::TraceBuf;
using internal::TraceLocker;

namespace {

std::atomic<uint64_t> g_next_task{1};

// Writes one event with up to four args after dt. Inlined: a call here
// costs every event a few stores and reloads of the locker.
template <typename... Args>
__attribute__((always_inline)) inline void Write(TraceLocker& tl, uint8_t type,
                                                 Args... args) {
  internal::Emit(tl.Reserve(kMaxEventBytes), type, args...);
}

// A region's name: a literal with a cached id (StaticName), or any text.
struct RegionName {
  absl::string_view text;
  const StaticName* static_name;  // null for a dynamic name
  uint64_t Id(Runtime& rt, TraceLocker& tl) const {
    return static_name != nullptr ? rt.tables().StaticStringId(tl, *static_name)
                                  : rt.tables().StringId(tl, text);
  }
};

__attribute__((always_inline)) inline uint64_t RegionBeginImpl(
    const RegionName& name, TaskId task, void* fp) {
  Runtime& rt = Runtime::Get();
  ThreadState* ts = rt.threads().CurrentThread();
  if (ts == nullptr) return 0;
  TraceLocker tl(ts);
  if (!tl.ok() || ts->cur_g == nullptr) return 0;
  const uint64_t id = name.Id(rt, tl);
  const uint64_t stack =
      rt.tables().StackId(tl, rt.options().stacks.regions, fp);
  Write(tl, format::kEvUserRegionBegin, task, id, stack);
  GState* g = ts->cur_g;
  internal::OpenRegion& r = g->regions.emplace_back();
  // Unique among the regions open at once: the goroutine, and a count of
  // its regions.
  r.token = (g->id << 32) | (++g->region_count & 0xffffffffu);
  r.task = task;
  r.static_name = name.static_name;
  if (name.static_name == nullptr) {
    r.name.assign(name.text.data(), name.text.size());
  }
  return r.token;
}

// Ends the innermost open region of the running goroutine that `match`
// accepts. Go's parser rejects an end that does not match the innermost
// region, so the regions opened inside it are ended first; an end with no
// matching open region is dropped.
template <typename Match>
__attribute__((always_inline)) inline void RegionEndImpl(Match match,
                                                         void* fp) {
  Runtime& rt = Runtime::Get();
  ThreadState* ts = rt.threads().CurrentThread();
  if (ts == nullptr) return;
  TraceLocker tl(ts);
  if (!tl.ok() || ts->cur_g == nullptr) return;
  std::vector<internal::OpenRegion>& regions = ts->cur_g->regions;
  size_t i = regions.size();
  while (i > 0 && !match(regions[i - 1])) --i;
  if (i == 0) return;
  const uint64_t stack =
      rt.tables().StackId(tl, rt.options().stacks.regions, fp);
  while (regions.size() >= i) {
    const internal::OpenRegion& r = regions.back();
    const uint64_t name = r.static_name != nullptr
                              ? rt.tables().StaticStringId(tl, *r.static_name)
                              : rt.tables().StringId(tl, r.name);
    Write(tl, format::kEvUserRegionEnd, r.task, name, stack);
    regions.pop_back();
  }
}

}  // namespace

namespace internal {

absl::Status StartTracing(const Options& options) {
  return Runtime::Get().Start(options);
}
absl::Status StopTracing() { return Runtime::Get().Stop(); }
bool TracingOn() { return Runtime::Get().DestinationActive(); }
Stats CurrentStats() { return Runtime::Get().GetStats(); }

void NameThread(absl::string_view name) {
  std::string os(name.substr(0, 15));
  pthread_setname_np(pthread_self(), os.c_str());
  Runtime::Get().threads().SetThreadName(name);
}

__attribute__((noinline)) TaskId TaskBegin(absl::string_view name,
                                           TaskId parent) {
  Runtime& rt = Runtime::Get();
  ThreadState* ts = rt.threads().CurrentThread();
  if (ts == nullptr) return 0;
  TraceLocker tl(ts);
  if (!tl.ok() || ts->cur_g == nullptr) return 0;
  const TaskId id = g_next_task.fetch_add(1, std::memory_order_relaxed);
  const uint64_t name_id = rt.tables().StringId(tl, name);
  const uint64_t stack = rt.tables().StackId(tl, rt.options().stacks.tasks,
                                             __builtin_frame_address(0));
  Write(tl, format::kEvUserTaskBegin, id, parent, name_id, stack);
  return id;
}

__attribute__((noinline)) void TaskEnd(TaskId id) {
  Runtime& rt = Runtime::Get();
  ThreadState* ts = rt.threads().CurrentThread();
  if (ts == nullptr) return;
  TraceLocker tl(ts);
  if (!tl.ok() || ts->cur_g == nullptr) return;
  const uint64_t stack = rt.tables().StackId(tl, rt.options().stacks.tasks,
                                             __builtin_frame_address(0));
  Write(tl, format::kEvUserTaskEnd, id, stack);
}

__attribute__((noinline)) uint64_t RegionBegin(absl::string_view name,
                                               TaskId task) {
  return RegionBeginImpl({name, nullptr}, task, __builtin_frame_address(0));
}

__attribute__((noinline)) uint64_t RegionBeginStatic(const StaticName& name,
                                                     TaskId task) {
  return RegionBeginImpl({name.str(), &name}, task, __builtin_frame_address(0));
}

__attribute__((noinline)) void RegionEnd(absl::string_view name, TaskId task) {
  RegionEndImpl(
      [&](const OpenRegion& r) { return r.task == task && r.text() == name; },
      __builtin_frame_address(0));
}

__attribute__((noinline)) void RegionEndToken(uint64_t token) {
  RegionEndImpl([token](const OpenRegion& r) { return r.token == token; },
                __builtin_frame_address(0));
}

template <typename CategoryId>
__attribute__((always_inline)) inline void LogImpl(CategoryId category_id,
                                                   absl::string_view message,
                                                   TaskId task, void* fp) {
  Runtime& rt = Runtime::Get();
  ThreadState* ts = rt.threads().CurrentThread();
  if (ts == nullptr) return;
  TraceLocker tl(ts);
  if (!tl.ok() || ts->cur_g == nullptr) return;
  const uint64_t key = category_id(tl);
  const uint64_t value = rt.tables().UniqueStringId(tl, message);
  const uint64_t stack = rt.tables().StackId(tl, rt.options().stacks.logs, fp);
  Write(tl, format::kEvUserLog, task, key, value, stack);
}

__attribute__((noinline)) void Log(absl::string_view category,
                                   absl::string_view message, TaskId task) {
  LogImpl(
      [category](TraceLocker& tl) {
        return Runtime::Get().tables().StringId(tl, category);
      },
      message, task, __builtin_frame_address(0));
}

__attribute__((noinline)) void LogStatic(const StaticName& category,
                                         absl::string_view message,
                                         TaskId task) {
  LogImpl(
      [&category](TraceLocker& tl) {
        return Runtime::Get().tables().StaticStringId(tl, category);
      },
      message, task, __builtin_frame_address(0));
}

__attribute__((noinline)) bool BlockBegin(BlockReason reason) {
  Runtime& rt = Runtime::Get();
  ThreadState* ts = rt.threads().CurrentThread();
  if (ts == nullptr) return false;
  TraceLocker tl(ts);
  return tl.ok() && rt.goroutines().Block(tl, BlockReasonName(reason),
                                          __builtin_frame_address(0));
}

__attribute__((noinline)) void BlockEnd() {
  Runtime& rt = Runtime::Get();
  ThreadState* ts = rt.threads().CurrentThread();
  if (ts == nullptr) return;
  TraceLocker tl(ts);
  if (tl.ok()) rt.goroutines().Unblock(tl, __builtin_frame_address(0));
}

__attribute__((noinline)) bool SyscallBegin() {
  Runtime& rt = Runtime::Get();
  ThreadState* ts = rt.threads().CurrentThread();
  if (ts == nullptr) return false;
  TraceLocker tl(ts);
  return tl.ok() &&
         rt.goroutines().EnterSyscall(tl, __builtin_frame_address(0));
}

__attribute__((noinline)) void SyscallEnd() {
  Runtime& rt = Runtime::Get();
  ThreadState* ts = rt.threads().CurrentThread();
  if (ts == nullptr) return;
  TraceLocker tl(ts);
  if (tl.ok()) rt.goroutines().ExitSyscall(tl);
}

// ------------------------------------------------------------------ fibers

namespace {

// Runs fn(rt, tl) with the calling thread's seqlock held, if tracing.
template <typename F>
__attribute__((always_inline)) inline bool WithThread(F fn) {
  Runtime& rt = Runtime::Get();
  ThreadState* ts = rt.threads().CurrentThread();
  if (ts == nullptr) return false;
  TraceLocker tl(ts);
  return tl.ok() && fn(rt, tl);
}

}  // namespace

__attribute__((noinline)) GState* FiberCreate(absl::string_view name,
                                              bool blocked) {
  void* fp = __builtin_frame_address(0);
  GState* g = nullptr;
  WithThread([&](Runtime& rt, TraceLocker& tl) {
    g = rt.goroutines().FiberCreate(tl, name, blocked, fp);
    return g != nullptr;
  });
  return g;
}

__attribute__((noinline)) bool FiberResume(GState* g) {
  void* fp = __builtin_frame_address(0);
  return WithThread([&](Runtime& rt, TraceLocker& tl) {
    return rt.goroutines().FiberResume(tl, g, fp);
  });
}

__attribute__((noinline)) bool FiberYield(GState* g) {
  void* fp = __builtin_frame_address(0);
  return WithThread([&](Runtime& rt, TraceLocker& tl) {
    return rt.goroutines().FiberLeave(tl, g, format::kEvGoStop, "yield", fp);
  });
}

__attribute__((noinline)) bool FiberBlock(GState* g, BlockReason reason) {
  void* fp = __builtin_frame_address(0);
  return WithThread([&](Runtime& rt, TraceLocker& tl) {
    return rt.goroutines().FiberLeave(tl, g, format::kEvGoBlock,
                                      BlockReasonName(reason), fp);
  });
}

__attribute__((noinline)) bool FiberWake(GState* g) {
  void* fp = __builtin_frame_address(0);
  return WithThread([&](Runtime& rt, TraceLocker& tl) {
    return rt.goroutines().FiberWake(tl, g, fp);
  });
}

__attribute__((noinline)) bool FiberFinish(GState* g) {
  return WithThread([&](Runtime& rt, TraceLocker& tl) {
    return rt.goroutines().FiberLeave(tl, g, format::kEvGoDestroy, "", nullptr);
  });
}

void FiberRelease(GState* g) {
  // Ends an unfinished fiber: here if it runs here or on no thread, else
  // on the thread where it is, at that thread's next event.
  Runtime::Get().goroutines().FiberRelease(g);
}

bool CoroutineSwitch(GState* target, bool destroy_current) {
  return WithThread([&](Runtime& rt, TraceLocker& tl) {
    return rt.goroutines().CoroutineSwitch(tl, target, destroy_current);
  });
}

GState* RunningFiberResumer(GState* g) {
  if (g == nullptr || !Enabled()) return nullptr;
  ThreadState* ts = Runtime::Get().threads().CurrentThread();
  return ts != nullptr && ts->cur_g == g ? g->resumer : nullptr;
}

uint64_t GoroutineId(const GState* g) { return g != nullptr ? g->id : 0; }

// ------------------------------------------------------- mutex, condvar

__attribute__((noinline)) GState* WaitBegin(BlockReason reason) {
  void* fp = __builtin_frame_address(0);
  GState* g = nullptr;
  WithThread([&](Runtime& rt, TraceLocker& tl) {
    GState* cur = tl.thread()->cur_g;
    if (rt.goroutines().Block(tl, BlockReasonName(reason), fp)) g = cur;
    return g != nullptr;
  });
  return g;
}

__attribute__((noinline)) void WaitEnd(GState* g) {
  if (g == nullptr) return;
  void* fp = __builtin_frame_address(0);
  WithThread([&](Runtime& rt, TraceLocker& tl) {
    rt.goroutines().Unblock(tl, fp);
    return true;
  });
}

__attribute__((noinline)) void WakeWaiter(GState* g) {
  void* fp = __builtin_frame_address(0);
  WithThread([&](Runtime& rt, TraceLocker& tl) {
    return rt.goroutines().FiberWake(tl, g, fp);
  });
}

}  // namespace internal
}  // namespace gentrace
