// A piece of a program compiled with -DGENTRACE_DISABLE, linked into a
// program whose other parts have the tracer compiled in (api_test.cc).
#ifndef GENTRACE_TESTS_API_COMPILED_OUT_PART_H_
#define GENTRACE_TESTS_API_COMPILED_OUT_PART_H_

#include "absl/status/status.h"

namespace gentrace_test {

// Uses the whole API compiled out: regions (by macro and by object), a log,
// a task, a fiber, a Mutex and CondVar. Returns what Start said there.
absl::Status CompiledOutWork();

}  // namespace gentrace_test

#endif  // GENTRACE_TESTS_API_COMPILED_OUT_PART_H_
