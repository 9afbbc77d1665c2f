// The public API (gentrace.h) on top of the runtime.
//
// Every entry point here is an out-of-line function with a frame of its
// own: its frame pointer starts the stack walk, so the first recorded PC is
// the caller's.
#include <pthread.h>

#include "absl/hash/hash.h"
#include "tracer/gentrace.h"
#include "tracer/runtime.h"

namespace gentrace {

using internal::Runtime;
using internal::ThreadState;
using internal::TraceBuf;
using internal::TraceLocker;
using internal::kMaxEventBytes;

namespace {

// The one place that maps BlockReason to Go's strings.
constexpr absl::string_view kBlockReasonNames[] = {
    "unspecified",       // kUnspecified
    "sync",              // kSync
    "sync.(*Cond).Wait", // kCondWait
    "network",           // kNetwork
    "sleep",             // kSleep
    "chan receive",      // kChanReceive
    "chan send",         // kChanSend
    "select",            // kSelect
};

std::atomic<uint64_t> g_next_task{1};

inline uint64_t NameHash(absl::string_view s) {
  return absl::HashOf(s);
}

// Writes one event with up to four args after dt.
template <typename... Args>
void Write(Runtime& rt, TraceLocker& tl, uint8_t type, Args... args) {
  TraceBuf* b = rt.Reserve(tl, kMaxEventBytes);
  uint64_t now = internal::Now();
  uint64_t dt = now > b->last_time ? now - b->last_time : 0;
  if (now > b->last_time) b->last_time = now;
  b->Byte(type);
  b->Varint(dt);
  (b->Varint(static_cast<uint64_t>(args)), ...);
}

// Region begin/end share everything but how the name's id is found.
template <typename NameId>
__attribute__((always_inline)) inline void RegionBeginImpl(
    absl::string_view text, const StaticName* static_name, TaskId task,
    NameId name_id, void* fp) {
  Runtime& rt = Runtime::Get();
  ThreadState* ts = rt.CurrentThread();
  if (ts == nullptr) return;
  TraceLocker tl(ts);
  if (!tl.ok() || ts->cur_g == nullptr) return;
  const uint64_t id = name_id(tl);
  const uint64_t stack = rt.StackId(tl, rt.options().stacks.regions, fp);
  Write(rt, tl, format::kEvUserRegionBegin, task, id, stack);
  internal::OpenRegion r;
  r.hash = NameHash(text);
  r.task = task;
  r.static_name = static_name;
  if (static_name == nullptr) r.name = std::string(text);
  ts->cur_g->regions.push_back(std::move(r));
}

template <typename NameId>
__attribute__((always_inline)) inline void RegionEndImpl(
    absl::string_view text, TaskId task, NameId name_id, void* fp) {
  Runtime& rt = Runtime::Get();
  ThreadState* ts = rt.CurrentThread();
  if (ts == nullptr) return;
  TraceLocker tl(ts);
  if (!tl.ok() || ts->cur_g == nullptr) return;
  std::vector<internal::OpenRegion>& regions = ts->cur_g->regions;
  const uint64_t hash = NameHash(text);
  // Find the innermost open region with this name and task. Go's parser
  // rejects an end that does not match the innermost region, so inner ones
  // are ended first; an end with no open region is dropped.
  size_t i = regions.size();
  while (i > 0) {
    const internal::OpenRegion& r = regions[i - 1];
    if (r.hash == hash && r.task == task && r.text() == text) break;
    --i;
  }
  if (i == 0) return;
  const uint64_t stack = rt.StackId(tl, rt.options().stacks.regions, fp);
  while (regions.size() > i) {
    const internal::OpenRegion& inner = regions.back();
    Write(rt, tl, format::kEvUserRegionEnd, inner.task,
          rt.StringId(tl, inner.text()), stack);
    regions.pop_back();
  }
  Write(rt, tl, format::kEvUserRegionEnd, task, name_id(tl), stack);
  regions.pop_back();
}

}  // namespace

absl::Status Start(const Options& options) {
  return Runtime::Get().Start(options);
}
absl::Status Stop() { return Runtime::Get().Stop(); }
bool IsTracing() { return Runtime::Get().gen() != 0; }
Stats GetStats() { return Runtime::Get().GetStats(); }

void SetThreadName(absl::string_view name) {
  std::string os(name.substr(0, 15));
  pthread_setname_np(pthread_self(), os.c_str());
  Runtime::Get().SetThreadName(name);
}

absl::string_view BlockReasonName(BlockReason reason) {
  const size_t i = static_cast<size_t>(reason);
  return i < sizeof(kBlockReasonNames) / sizeof(kBlockReasonNames[0])
             ? kBlockReasonNames[i]
             : kBlockReasonNames[0];
}

Task& Task::operator=(Task&& other) noexcept {
  if (this != &other) {
    End();
    id_ = other.id_;
    other.id_ = 0;
  }
  return *this;
}

__attribute__((noinline)) Task Task::Begin(absl::string_view name,
                                           TaskId parent) {
  Task t;
  if (!internal::Enabled()) return t;
  Runtime& rt = Runtime::Get();
  ThreadState* ts = rt.CurrentThread();
  if (ts == nullptr) return t;
  TraceLocker tl(ts);
  if (!tl.ok() || ts->cur_g == nullptr) return t;
  t.id_ = g_next_task.fetch_add(1, std::memory_order_relaxed);
  const uint64_t name_id = rt.StringId(tl, name);
  const uint64_t stack = rt.StackId(tl, rt.options().stacks.tasks,
                                    __builtin_frame_address(0));
  Write(rt, tl, format::kEvUserTaskBegin, t.id_, parent, name_id, stack);
  return t;
}

__attribute__((noinline)) void Task::End() {
  if (id_ == 0) return;
  const TaskId id = id_;
  id_ = 0;
  if (!internal::Enabled()) return;
  Runtime& rt = Runtime::Get();
  ThreadState* ts = rt.CurrentThread();
  if (ts == nullptr) return;
  TraceLocker tl(ts);
  if (!tl.ok() || ts->cur_g == nullptr) return;
  const uint64_t stack = rt.StackId(tl, rt.options().stacks.tasks,
                                    __builtin_frame_address(0));
  Write(rt, tl, format::kEvUserTaskEnd, id, stack);
}

namespace internal {

__attribute__((noinline)) void RegionBegin(absl::string_view name,
                                           TaskId task) {
  RegionBeginImpl(
      name, nullptr, task,
      [name](TraceLocker& tl) { return Runtime::Get().StringId(tl, name); },
      __builtin_frame_address(0));
}

__attribute__((noinline)) void RegionBeginStatic(const StaticName& name,
                                                 TaskId task) {
  RegionBeginImpl(
      name.str(), &name, task,
      [&name](TraceLocker& tl) {
        return Runtime::Get().StaticStringId(tl, name);
      },
      __builtin_frame_address(0));
}

__attribute__((noinline)) void RegionEnd(absl::string_view name,
                                         TaskId task) {
  RegionEndImpl(
      name, task,
      [name](TraceLocker& tl) { return Runtime::Get().StringId(tl, name); },
      __builtin_frame_address(0));
}

__attribute__((noinline)) void RegionEndStatic(const StaticName& name,
                                               TaskId task) {
  RegionEndImpl(
      name.str(), task,
      [&name](TraceLocker& tl) {
        return Runtime::Get().StaticStringId(tl, name);
      },
      __builtin_frame_address(0));
}

template <typename CategoryId>
__attribute__((always_inline)) inline void LogImpl(CategoryId category_id,
                                                   absl::string_view message,
                                                   TaskId task, void* fp) {
  Runtime& rt = Runtime::Get();
  ThreadState* ts = rt.CurrentThread();
  if (ts == nullptr) return;
  TraceLocker tl(ts);
  if (!tl.ok() || ts->cur_g == nullptr) return;
  const uint64_t key = category_id(tl);
  const uint64_t value = rt.UniqueStringId(tl, message);
  const uint64_t stack = rt.StackId(tl, rt.options().stacks.logs, fp);
  Write(rt, tl, format::kEvUserLog, task, key, value, stack);
}

__attribute__((noinline)) void Log(absl::string_view category,
                                   absl::string_view message, TaskId task) {
  LogImpl([category](TraceLocker& tl) {
            return Runtime::Get().StringId(tl, category);
          },
          message, task, __builtin_frame_address(0));
}

__attribute__((noinline)) void LogStatic(const StaticName& category,
                                         absl::string_view message,
                                         TaskId task) {
  LogImpl([&category](TraceLocker& tl) {
            return Runtime::Get().StaticStringId(tl, category);
          },
          message, task, __builtin_frame_address(0));
}

__attribute__((noinline)) bool BlockBegin(BlockReason reason) {
  Runtime& rt = Runtime::Get();
  ThreadState* ts = rt.CurrentThread();
  if (ts == nullptr) return false;
  TraceLocker tl(ts);
  return tl.ok() &&
         rt.Block(tl, BlockReasonName(reason), __builtin_frame_address(0));
}

__attribute__((noinline)) void BlockEnd() {
  Runtime& rt = Runtime::Get();
  ThreadState* ts = rt.CurrentThread();
  if (ts == nullptr) return;
  TraceLocker tl(ts);
  if (tl.ok()) rt.Unblock(tl, __builtin_frame_address(0));
}

__attribute__((noinline)) bool SyscallBegin() {
  Runtime& rt = Runtime::Get();
  ThreadState* ts = rt.CurrentThread();
  if (ts == nullptr) return false;
  TraceLocker tl(ts);
  return tl.ok() && rt.EnterSyscall(tl, __builtin_frame_address(0));
}

__attribute__((noinline)) void SyscallEnd() {
  Runtime& rt = Runtime::Get();
  ThreadState* ts = rt.CurrentThread();
  if (ts == nullptr) return;
  TraceLocker tl(ts);
  if (tl.ok()) rt.ExitSyscall(tl);
}

}  // namespace internal
}  // namespace gentrace
