// Work of the crash test programs; see crash_program_work.h.
#include "tracer/crash_program_work.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tracer/gentrace.h"

namespace gentrace::testing {

void TracedWorkUntil(int id, const std::atomic<bool>& stop) {
  SetThreadName(absl::StrCat("worker-", id));
  uint64_t n = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    ScopedRegion r("step");
    Log("work", absl::StrCat("step ", n++));
    ScopedBlock b(BlockReason::kSleep);
    absl::SleepFor(absl::Microseconds(200));
  }
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winfinite-recursion"
int RecurseUntilOverflow(int depth) {
  volatile char pad[512];
  pad[0] = static_cast<char>(depth);
  return RecurseUntilOverflow(depth + 1) + pad[0];
}
#pragma GCC diagnostic pop

}  // namespace gentrace::testing
