// Test support for tests that make traces: temporary paths, and checking a
// trace, first with gentrace's own reader and validator (always) and then
// with Go's parser, validator and raw reader (through tests/interop/go_tool,
// when the Go reference tool is available), with the events it holds,
// counted by kind.
#ifndef GENTRACE_TESTS_TRACER_TRACE_CHECK_H_
#define GENTRACE_TESTS_TRACER_TRACE_CHECK_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/test_files.h"

// TempPath and ReadFile come from base/test_files.h.
namespace gentrace::testing {

// What the checks made of a trace. Go's view when Go's tools ran
// (go_checked), else gentrace's.
struct GoView {
  // The trace is accepted: by gentrace's reader and validator, and, if
  // they ran, by Go's parser and validator and Go's raw reader, which must
  // read event after event to the end of the file (with allow_broken_tail:
  // up to where the file is cut off). Go's raw reader is what Go's raw
  // text dumps use; Go's parser frames batches and it does not, so a trace
  // can satisfy the one and derail the other.
  bool valid = false;
  // Go's "RESULT: ..." line, or ours: "gentrace: OK" / "gentrace: ERROR ...".
  std::string result_line;
  // What the checks printed, for failure messages.
  std::string validate_output;
  std::vector<std::string> events;   // dump lines (without END), if `dump`
  std::map<std::string, int> kinds;  // events by kind
  std::string end_line;              // "END ok" or "END error: ...", if `dump`
  // Go's tools ran (the Go reference tool was available). If not, the view
  // is gentrace's own and the skipped Go check is recorded in the test's
  // result (interop::RecordGoCheckSkipped).
  bool go_checked = false;
  // gentrace's reader and validator say what Go's tools say: the same
  // verdict, the same counts by kind and, with `dump`, the same events in
  // an order Go gives (reader_conformance's CompareWithGo). True when Go's
  // tools did not run.
  bool ours_agree = false;
  std::string ours_difference;  // what differs, if not

  int count(absl::string_view kind) const;
  // Number of dump lines containing every one of `needles`.
  int count_matching(std::vector<absl::string_view> needles) const;
};

// Checks the trace at `path` (see GoView) and, if `dump`, lists its events
// (big traces: leave it off; the counts by kind are there either way). With
// `allow_broken_tail`, a trace that breaks off after at least one complete
// generation is accepted, and the events after the last complete one are
// not listed. Fails only if a tool could not be run.
absl::StatusOr<GoView> ViewWithGo(const std::string& path,
                                  bool allow_broken_tail = false,
                                  bool dump = true);

// Writes the generations `from` and later of the trace at `path` (its
// header and every batch of those generations, byte for byte: the window a
// flight recorder keeps) to a new file and returns its name. Uses gentrace's
// batch framing; `path` must be uncompressed.
absl::StatusOr<std::string> CutGenerations(const std::string& path,
                                           uint64_t from);

}  // namespace gentrace::testing

#endif  // GENTRACE_TESTS_TRACER_TRACE_CHECK_H_
