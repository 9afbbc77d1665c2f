// Runs Go's own trace parser from gentrace's C++ tests.
//
// gentrace writes Go's trace wire format, so Go's parser (internal/trace and
// testtrace.Validator) is the referee for every trace our tests produce, and
// Go's reader is the reference our C++ reader's output is compared against.
// The Go side is tests/go/gotool.go, built by tests/go/build.sh; tests find
// the binary through the GENTRACE_GOTOOL environment variable (./dev test sets
// it).
//
// Go is an extra referee, never the only one: a test checks a trace with
// gentrace's own reader and validator first, which always run, and only the
// Go step may be skipped. A skipped Go step is recorded in the test's result
// (RecordGoCheckSkipped) and ./dev test counts it, so a run without Go is
// visible, and is not a green run (docs/BUILDING.md).
//
// Example:
//
//   TEST(WriterTest, GoAcceptsTrace) {
//     ... write /tmp/x.trace, check it with gentrace's reader ...
//     if (!GoCheckEnabled("validate x.trace")) return;  // skip recorded
//     absl::StatusOr<GoValidateResult> v = GoValidate("/tmp/x.trace");
//     ASSERT_TRUE(v.ok()) << v.status();
//     EXPECT_TRUE(v->ok) << v->output;
//   }

#ifndef GENTRACE_TESTS_INTEROP_GO_TOOL_H_
#define GENTRACE_TESTS_INTEROP_GO_TOOL_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

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

// What Go's raw reader (internal/trace/raw, behind Go's raw text dumps) made
// of a trace file: `gotool raw`.
struct GoRawResult {
  // True if the raw reader read event after event up to exactly the end of
  // the file.
  bool reached_end = false;
  // True if it stopped because the rest of the file is too short for the
  // event it was reading. A file cut off inside an event gives that, but
  // so can a misread one (the reader takes some byte for a long length):
  // check end_offset too.
  bool cut_tail = false;
  // Where the last complete event it read ends (the file size if
  // reached_end).
  uint64_t end_offset = 0;
  // "RAW: OK <n> events, <bytes> bytes" or "RAW: ERROR after <n> events at
  // byte <offset>: <err>".
  std::string result_line;
};

// Reads the trace at `trace_path` with Go's raw reader. Go's parser frames
// batches and Go's raw reader does not, so a trace can satisfy the first and
// still derail the second (GO_FORMAT.md section 18).
absl::StatusOr<GoRawResult> GoRawRead(const std::string& trace_path);

// The name of the test property that marks a test case in which a check
// with Go's tools was skipped; its value lists the skipped steps.
// tools/dev/count_tests.sh counts the test cases that carry it.
inline constexpr char kGoSkippedProperty[] = "gentrace_go_check_skipped";

// Records in the current test's result that the Go step `step` was
// skipped (the property above, which a test's XML carries) and says so on
// stdout. Call it wherever a check with Go is left out.
void RecordGoCheckSkipped(absl::string_view step);

// For tests of code that skips Go checks: while one is alive, the Go
// reference tool is unavailable (GENTRACE_GOTOOL is unset, and set back
// afterwards) and skipped Go checks are collected here rather than recorded
// in the test's result, so that the test does not count as one that left
// out a check. One at a time.
class ScopedNoGoTool {
 public:
  ScopedNoGoTool();
  ~ScopedNoGoTool();
  ScopedNoGoTool(const ScopedNoGoTool&) = delete;
  ScopedNoGoTool& operator=(const ScopedNoGoTool&) = delete;

  // The steps skipped so far, in order.
  const std::vector<std::string>& skipped() const { return skipped_; }

 private:
  friend void RecordGoCheckSkipped(absl::string_view step);
  bool was_set_ = false;
  std::string saved_;
  std::vector<std::string> skipped_;
};

// True if the Go reference tool is available; otherwise records `step` as
// a skipped Go check and returns false. For the Go step of a test that has
// done its own checks:
//   if (GoCheckEnabled("cut windows")) { ... }
bool GoCheckEnabled(absl::string_view step);

}  // namespace interop
}  // namespace gentrace

// Skips the current test, recording a skipped Go check, unless the Go
// reference tool is available. Only for tests that are about Go's tools
// themselves, or that compare with Go and have nothing to check without
// it: a test that checks a trace does its own checks first and uses
// GoCheckEnabled() for the Go step.
#define GENTRACE_REQUIRE_GO_TOOL()                                 \
  do {                                                             \
    if (!::gentrace::interop::GoCheckEnabled("the whole test")) {  \
      GTEST_SKIP() << "Go reference toolchain not available (set " \
                      "GENTRACE_GOTOOL; ./dev test does)";         \
    }                                                              \
  } while (0)

// Skips the current test for want of something Go provides (`why`: a Go
// installation, Go's testdata), recording a skipped Go check.
#define GENTRACE_SKIP_GO_CHECK(why)                 \
  do {                                              \
    ::gentrace::interop::RecordGoCheckSkipped(why); \
    GTEST_SKIP() << (why);                          \
  } while (0)

#endif  // GENTRACE_TESTS_INTEROP_GO_TOOL_H_
