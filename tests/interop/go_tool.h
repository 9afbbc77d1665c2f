// Runs Go's own trace parser from gentrace's C++ tests.
//
// gentrace writes Go's trace wire format, so Go's parser (internal/trace and
// testtrace.Validator) is the referee for every trace our tests produce, and
// Go's reader is the reference our C++ reader's output is compared against.
// The Go side is tests/go/gotool.go, built by tests/go/build.sh; tests find
// the binary through the GENTRACE_GOTOOL environment variable (./dev test sets
// it) and skip with GENTRACE_REQUIRE_GO_TOOL() when it is not there.
//
// Example:
//
//   TEST(WriterTest, GoAcceptsTrace) {
//     GENTRACE_REQUIRE_GO_TOOL();
//     ... write /tmp/x.trace ...
//     absl::StatusOr<GoValidateResult> v = GoValidate("/tmp/x.trace");
//     ASSERT_TRUE(v.ok()) << v.status();
//     EXPECT_TRUE(v->ok) << v->output;
//   }

#ifndef GENTRACE_TESTS_INTEROP_GO_TOOL_H_
#define GENTRACE_TESTS_INTEROP_GO_TOOL_H_

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace gentrace {
namespace interop {

// The environment variable naming the gotool binary.
inline constexpr char kGoToolEnvVar[] = "GENTRACE_GOTOOL";

// Returns the value of GENTRACE_GOTOOL, or "" when it is unset.
std::string GoToolPath();

// True if GENTRACE_GOTOOL names an executable file.
bool GoToolAvailable();

// What one run of gotool produced.
struct GoRunResult {
  // The exit status if the tool exited normally, else -1.
  int exit_code = -1;
  // The signal that killed the tool, or 0 if it exited normally.
  int term_signal = 0;
  std::string stdout_data;
  std::string stderr_data;
};

// Runs gotool with `args` (not including the program name), feeding it
// `stdin_data` on standard input, and collects everything it writes. A
// nonzero exit code is a result, not an error: the returned status is an
// error only if the tool could not be run at all (GENTRACE_GOTOOL unset,
// spawn or I/O failure).
absl::StatusOr<GoRunResult> RunGoTool(const std::vector<std::string>& args,
                                      const std::string& stdin_data = "");

// The verdict of `gotool validate` on one trace file.
struct GoValidateResult {
  // True if the tool exited with 0: the trace is "RESULT: OK", or
  // "RESULT: PARTIAL ..." and allow_broken_tail was set.
  bool ok = false;
  // The final "RESULT: OK|PARTIAL <err>|ERROR <err>" line.
  std::string result_line;
  // Everything the tool printed (summary, validator errors, RESULT line),
  // followed by its stderr, if any. Meant for failure messages.
  std::string output;
};

// Validates the trace at `trace_path` with Go's parser and validator. With
// `allow_broken_tail`, a trace whose reading fails only after at least one
// complete generation (which go tool trace still opens) counts as ok.
absl::StatusOr<GoValidateResult> GoValidate(const std::string& trace_path,
                                            bool allow_broken_tail = false);

}  // namespace interop
}  // namespace gentrace

// Skips the current test unless the Go reference tool is available. Use at the
// top of a TEST body (or in SetUp()).
#define GENTRACE_REQUIRE_GO_TOOL()                                 \
  do {                                                             \
    if (!::gentrace::interop::GoToolAvailable()) {                 \
      GTEST_SKIP() << "Go reference toolchain not available (set " \
                      "GENTRACE_GOTOOL; ./dev test does)";         \
    }                                                              \
  } while (0)

#endif  // GENTRACE_TESTS_INTEROP_GO_TOOL_H_
