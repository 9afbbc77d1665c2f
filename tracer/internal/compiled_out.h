// The entry points of tracer/internal/api_detail.h as inline no-ops, for
// programs compiled with -DGENTRACE_DISABLE (they link nothing of the
// tracer). Included by tracer/gentrace.h in that case only.
#ifndef GENTRACE_TRACER_INTERNAL_COMPILED_OUT_H_
#define GENTRACE_TRACER_INTERNAL_COMPILED_OUT_H_

#if GENTRACE_INTERNAL_COMPILED_IN
#error "tracer/internal/compiled_out.h is for -DGENTRACE_DISABLE builds only"
#endif

GENTRACE_INTERNAL_NAMESPACE_BEGIN
namespace internal {

inline absl::Status StartTracing(const Options&) {
  return absl::UnimplementedError(
      "gentrace was compiled out (GENTRACE_DISABLE)");
}
inline absl::Status StopTracing() {
  return absl::FailedPreconditionError("tracing is not on");
}
inline bool TracingOn() { return false; }
inline Stats CurrentStats() { return Stats(); }
inline void NameThread(absl::string_view) {}
inline TaskId TaskBegin(absl::string_view, TaskId) { return 0; }
inline void TaskEnd(TaskId) {}
inline uint64_t RegionBegin(absl::string_view, TaskId) { return 0; }
inline uint64_t RegionBeginStatic(const StaticName&, TaskId) { return 0; }
inline void RegionEnd(absl::string_view, TaskId) {}
inline void RegionEndToken(uint64_t) {}
inline void Log(absl::string_view, absl::string_view, TaskId) {}
inline void LogStatic(const StaticName&, absl::string_view, TaskId) {}
inline bool BlockBegin(BlockReason) { return false; }
inline void BlockEnd() {}
inline bool SyscallBegin() { return false; }
inline void SyscallEnd() {}
inline GState* FiberCreate(absl::string_view, bool) { return nullptr; }
inline bool FiberResume(GState*) { return false; }
inline bool FiberYield(GState*) { return false; }
inline bool FiberBlock(GState*, BlockReason) { return false; }
inline bool FiberWake(GState*) { return false; }
inline bool FiberFinish(GState*) { return false; }
inline void FiberRelease(GState*) {}
inline bool CoroutineSwitch(GState*, bool) { return false; }
inline GState* RunningFiberResumer(GState*) { return nullptr; }
inline uint64_t GoroutineId(const GState*) { return 0; }
inline GState* WaitBegin(BlockReason) { return nullptr; }
inline void WaitEnd(GState*) {}
inline void WakeWaiter(GState*) {}

}  // namespace internal
GENTRACE_INTERNAL_NAMESPACE_END

#endif  // GENTRACE_TRACER_INTERNAL_COMPILED_OUT_H_
