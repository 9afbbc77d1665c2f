// Compiled with -DGENTRACE_DISABLE (see tests/api/BUILD.bazel).
#include "tests/api/compiled_out_part.h"

#include <mutex>

#include "tracer/gentrace.h"

#if !defined(GENTRACE_DISABLE)
#error "compiled_out_part.cc must be compiled with -DGENTRACE_DISABLE"
#endif

namespace gentrace_test {

absl::Status CompiledOutWork() {
  GENTRACE_REGION("compiled-out region");
  GENTRACE_FUNCTION_REGION();
  gentrace::ScopedRegion r("compiled-out scoped");
  gentrace::Task t = gentrace::Task::Begin("compiled-out task");
  gentrace::Log("compiled-out", "log", t.id());
  GENTRACE_LOG("compiled-out", "macro log");
  gentrace::Fiber f = gentrace::Fiber::Create("compiled-out fiber");
  (void)f.Resume();
  gentrace::Mutex mu;
  gentrace::CondVar cv;
  {
    std::unique_lock<gentrace::Mutex> l(mu);
    (void)cv.wait_for(l, std::chrono::nanoseconds(1));
  }
  gentrace::Options o;
  o.path = "/nonexistent/never.trace";
  o.cpu.enabled = true;
  o.cpu.source = gentrace::CpuProfileOptions::Source::kPerfEvent;
  return gentrace::Start(o);
}

}  // namespace gentrace_test
