// The tracer's entry points behind the inline API of tracer/gentrace.h.
// Part of the public headers' implementation; not for direct use.
//
// Each public call checks Enabled() inline (one relaxed load) and only then
// calls one of these. The tracer library defines them (tracer/api.cc); with
// -DGENTRACE_DISABLE they are inline no-ops (tracer/internal/compiled_out.h)
// and Enabled() is a constant false, so the calls compile to nothing.
#ifndef GENTRACE_TRACER_INTERNAL_API_DETAIL_H_
#define GENTRACE_TRACER_INTERNAL_API_DETAIL_H_

#include <atomic>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "tracer/internal/config.h"
#include "tracer/options.h"

GENTRACE_INTERNAL_NAMESPACE_BEGIN

// A task id as Go's trace records it; 0 is the background task.
using TaskId = uint64_t;
class StaticName;
enum class BlockReason : uint8_t;

namespace internal {

#if GENTRACE_INTERNAL_COMPILED_IN
extern std::atomic<bool> g_enabled;
inline bool Enabled() {
  return __builtin_expect(g_enabled.load(std::memory_order_relaxed), 0);
}
#else
constexpr bool Enabled() { return false; }
#endif

// A goroutine of the trace (a fiber's or a coroutine's); opaque here.
struct GState;

GENTRACE_INTERNAL_ENTRY absl::Status StartTracing(const Options& options);
GENTRACE_INTERNAL_ENTRY absl::Status StopTracing();
GENTRACE_INTERNAL_ENTRY bool TracingOn();
GENTRACE_INTERNAL_ENTRY Stats CurrentStats();
GENTRACE_INTERNAL_ENTRY void NameThread(absl::string_view name);

GENTRACE_INTERNAL_ENTRY TaskId TaskBegin(absl::string_view name,
                                         TaskId parent);
GENTRACE_INTERNAL_ENTRY void TaskEnd(TaskId id);

// Region begins return a token naming the region they opened (0: none).
GENTRACE_INTERNAL_ENTRY uint64_t RegionBegin(absl::string_view name,
                                             TaskId task);
GENTRACE_INTERNAL_ENTRY uint64_t RegionBeginStatic(const StaticName& name,
                                                   TaskId task);
GENTRACE_INTERNAL_ENTRY void RegionEnd(absl::string_view name, TaskId task);
GENTRACE_INTERNAL_ENTRY void RegionEndToken(uint64_t token);
GENTRACE_INTERNAL_ENTRY void Log(absl::string_view category,
                                 absl::string_view message, TaskId task);
GENTRACE_INTERNAL_ENTRY void LogStatic(const StaticName& category,
                                       absl::string_view message, TaskId task);

// Begins return whether they recorded the begin (the thread's goroutine was
// running); only then does the scope record its end.
GENTRACE_INTERNAL_ENTRY bool BlockBegin(BlockReason reason);
GENTRACE_INTERNAL_ENTRY void BlockEnd();
GENTRACE_INTERNAL_ENTRY bool SyscallBegin();
GENTRACE_INTERNAL_ENTRY void SyscallEnd();

// Fibers and coroutines (g is never null here).
GENTRACE_INTERNAL_ENTRY GState* FiberCreate(absl::string_view name,
                                            bool blocked);
GENTRACE_INTERNAL_ENTRY bool FiberResume(GState* g);
GENTRACE_INTERNAL_ENTRY bool FiberYield(GState* g);
GENTRACE_INTERNAL_ENTRY bool FiberBlock(GState* g, BlockReason reason);
GENTRACE_INTERNAL_ENTRY bool FiberWake(GState* g);
GENTRACE_INTERNAL_ENTRY bool FiberFinish(GState* g);
// The user's handle is gone (see Fiber's destructor).
GENTRACE_INTERNAL_ENTRY void FiberRelease(GState* g);
GENTRACE_INTERNAL_ENTRY bool CoroutineSwitch(GState* target,
                                             bool destroy_current);
// The goroutine that resumed `g`, if `g` runs on the calling thread.
GENTRACE_INTERNAL_ENTRY GState* RunningFiberResumer(GState* g);
GENTRACE_INTERNAL_ENTRY uint64_t GoroutineId(const GState* g);

// Traced waits (Mutex, CondVar): the goroutine running on this thread, if
// it was running and now waits; WaitEnd records its wake-up (self-woken,
// or by a notify/unlock that called WakeWaiter).
GENTRACE_INTERNAL_ENTRY GState* WaitBegin(BlockReason reason);
GENTRACE_INTERNAL_ENTRY void WaitEnd(GState* g);
GENTRACE_INTERNAL_ENTRY void WakeWaiter(GState* g);

}  // namespace internal

GENTRACE_INTERNAL_NAMESPACE_END

#endif  // GENTRACE_TRACER_INTERNAL_API_DETAIL_H_
