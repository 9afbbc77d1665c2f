// For the crash test programs (testonly): the traced work they run until
// they crash, and the recursion that overflows a stack.
#ifndef GENTRACE_TRACER_CRASH_PROGRAM_WORK_H_
#define GENTRACE_TRACER_CRASH_PROGRAM_WORK_H_

#include <atomic>

namespace gentrace::testing {

// Names the calling thread "worker-ID" and, until `stop` is set, records
// steps: a "step" region holding a "work" log ("step N") and a 200 µs
// sleep recorded as a block.
void TracedWorkUntil(int id, const std::atomic<bool>& stop);

// Recurses with 512-byte frames until the stack overflows; never returns.
int RecurseUntilOverflow(int depth);

}  // namespace gentrace::testing

#endif  // GENTRACE_TRACER_CRASH_PROGRAM_WORK_H_
