// Test support for tracer tests: temporary paths, and checking a trace
// with Go's own parser (through tests/interop/go_tool) with the events it
// delivered, counted by kind.
#ifndef GENTRACE_TESTS_TRACER_TRACE_CHECK_H_
#define GENTRACE_TESTS_TRACER_TRACE_CHECK_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gentrace::testing {

// A fresh path under the test's temporary directory.
std::string TempPath(absl::string_view name);

// Reads a whole file (empty on error).
std::string ReadFile(const std::string& path);

// Go's view of a trace: its event dump and verdict.
struct GoView {
  bool valid = false;       // parser + validator accepted all of it
  std::string result_line;  // "RESULT: ..."
  std::string validate_output;
  std::vector<std::string> events;   // dump lines (without END)
  std::map<std::string, int> kinds;  // events by kind (Go's reader)
  std::string end_line;              // "END ok" or "END error: ..."
  bool ours_agree = false;           // gentrace's reader says the same
  std::string ours_difference;       // what differs, if not

  int count(absl::string_view kind) const;
  // Number of dump lines containing every one of `needles`.
  int count_matching(std::vector<absl::string_view> needles) const;
};

// Validates the trace at path with Go's tools and, if `dump`, lists its
// events (big traces: leave it off; counts by kind come from the summary).
// The same trace is also read with gentrace's own reader: `ours_agree`
// says whether it delivered the same events (the same dump lines, in an
// order Go could give, when `dump`; else the same counts by kind) and the
// same outcome.
absl::StatusOr<GoView> ViewWithGo(const std::string& path,
                                  bool allow_broken_tail = false,
                                  bool dump = true);

}  // namespace gentrace::testing

#endif  // GENTRACE_TESTS_TRACER_TRACE_CHECK_H_
