// Compiled with -DGENTRACE_DISABLE and linked without the tracer library:
// that this test links at all shows the whole instrumentation API compiles
// to nothing; the test checks the stubs behave as documented.
#include <gtest/gtest.h>

#include <thread>

#include "tracer/gentrace.h"

#if !defined(GENTRACE_DISABLE)
#error "this test must be compiled with -DGENTRACE_DISABLE"
#endif

namespace gentrace {
namespace {

TEST(DisabledTest, EverythingIsANoOp) {
  Options o;
  o.path = "/nonexistent/never-written.trace";
  absl::Status s = Start(o);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_FALSE(IsTracing());
  Task t = Task::Begin("task");
  EXPECT_EQ(t.id(), 0u);
  GENTRACE_REGION("region");
  GENTRACE_TASK_REGION(t.id(), "task region");
  GENTRACE_LOG("category", "message");
  RegionBegin("r");
  RegionEnd("r");
  Log("a", "b", t.id());
  Logf("a", "%d", 1);
  { ScopedBlock b(BlockReason::kSync); }
  { ScopedSyscall sc; }
  Fiber f = Fiber::Create("fiber");
  EXPECT_FALSE(f.Resume());
  EXPECT_FALSE(f);
  Coroutine c = Coroutine::Create("co");
  EXPECT_FALSE(c.Resume());
  SetThreadName("name");
  t.End();
  EXPECT_FALSE(Stop().ok());
  EXPECT_EQ(GetStats().generations, 0u);
}

TEST(DisabledTest, MutexAndCondVarStillSynchronize) {
  Mutex mu;
  CondVar cv;
  bool ready = false;
  std::thread th([&] {
    std::lock_guard<Mutex> l(mu);
    ready = true;
    cv.notify_all();
  });
  {
    std::unique_lock<Mutex> l(mu);
    cv.wait(l, [&] { return ready; });
  }
  th.join();
  EXPECT_TRUE(ready);
}

}  // namespace
}  // namespace gentrace
