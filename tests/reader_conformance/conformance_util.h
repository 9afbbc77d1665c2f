// Helpers for the reader conformance tests: run programs (the Go toolchain,
// traced Go programs, gotool), read Go's .test archives, and compare our
// reader's event dump with Go's.
#ifndef GENTRACE_TESTS_READER_CONFORMANCE_CONFORMANCE_UTIL_H_
#define GENTRACE_TESTS_READER_CONFORMANCE_CONFORMANCE_UTIL_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gentrace::conformance {

// The Go installation the tests use: $GENTRACE_GOROOT, else
// /usr/lib/go-1.23; "" if neither has bin/go.
std::string GoRoot();

// A directory for the Go build cache that survives test runs when
// possible ($GENTRACE_GO_CACHE/gocache, else ~/.cache/gentrace-go/gocache,
// else under $TEST_TMPDIR).
std::string GoCacheDir();

// The environment tests run Go commands in: the build cache above, no user
// or workspace settings (GOFLAGS empty, GOENV and GOWORK off), the local
// toolchain and GoRoot()'s installation, no cgo; then `extra` (e.g. a
// GODEBUG setting for a traced program, or HOME).
std::vector<std::string> GoEnv(const std::vector<std::string>& extra = {});

// A fresh temporary directory (under $TEST_TMPDIR).
std::string TempDir(absl::string_view name);

struct ProcessOutput {
  int exit_code = -1;   // -1 unless the process exited normally
  int term_signal = 0;  // the signal that ended it, if any
  std::string output;   // stdout and stderr, interleaved
};

// Runs argv with `env` added to (and overriding) the test's environment,
// in directory `cwd` ("" = current), with output captured. If `while_running`
// is set it is called every 20 ms with the pid until it returns false (it
// may kill the process).
absl::StatusOr<ProcessOutput> RunProgram(
    const std::vector<std::string>& argv,
    const std::vector<std::string>& env = {}, const std::string& cwd = "",
    std::function<bool(pid_t)> while_running = nullptr);

std::string ReadFile(const std::string& path);
bool WriteFile(const std::string& path, absl::string_view data);
// Sorted file names in a directory that end with `suffix`.
std::vector<std::string> ListDir(const std::string& dir,
                                 absl::string_view suffix);

// Our reader's events of a trace, for comparison with Go's dump.
struct OurEvents {
  // One line per event, as tests/go/gotool.go dump prints it.
  std::vector<std::string> lines;
  // Each event's time as the trace gave it, before the reader moved it
  // forward to keep times strictly increasing (Reader::last_raw_time).
  std::vector<int64_t> raw_times;
  // "END ok" or "END error: <msg>".
  std::string end;

  // The whole dump as gotool dump prints it: the lines, then `end`, each
  // followed by a newline.
  std::string Text() const;
};

// Our reader's events of a trace in memory or in a file.
OurEvents ReadOurEvents(absl::string_view trace);
OurEvents ReadOurEventsFile(const std::string& path);
// Our reader's dump text (ReadOurEvents(...).Text()).
std::string OurDump(absl::string_view trace);
std::string OurDumpFile(const std::string& path);
// Go's dump (gotool dump FILE).
absl::StatusOr<std::string> GoDump(const std::string& path);

// Strips the context gentrace adds to Go's ordering errors
// (" (at EVENT on thread M, generation G)") so messages compare with Go's.
std::string WithoutContext(absl::string_view message);

// Compares our events with Go's dump of the same trace. Returns "" if they
// match, else a description of the first difference.
//
// Go's reader delivers the events of different threads that have equal
// times in a random order (it fills its heap of threads from a map), and
// then moves each time that is not after the one before forward to that
// one plus 1 ns, in the order it chose. That, and nothing else, is
// forgiven. Events are paired by thread (the m= field) and their order
// within the thread, and:
//  * every field but t= must be equal, so each thread's events come in the
//    same order with the same arguments;
//  * two events may come in the other order only if their times as the
//    trace gave them (ours.raw_times) are equal;
//  * every t= in Go's dump must be the one its order gives: the event's raw
//    time, or the previous event's t + 1 if that is later (and the same for
//    ours, which rules out a time of ours that differs from its raw time by
//    more than the move);
//  * Go must stop after the same number of events, and END lines match if
//    both are "END ok", or both are errors with the same message after
//    WithoutContext (with any message if `any_error`). Only the first line
//    of a message counts (Go prints its state after "failed to advance" in
//    map order), and Go names the first bad stack frame it finds in map
//    order, so which one does not count either.
std::string CompareWithGo(const OurEvents& ours, absl::string_view go,
                          bool any_error = false);

// Compares our dump of the trace file at `path` with Go's. Go's order of
// equal times differs from run to run, and in a broken trace that order
// can even decide which thread finds a resource's state first (so a
// transition reads from=Undetermined in one run and from=Running in
// another): ours must be an output Go can give. Go is run up to `tries`
// times until a run matches by CompareWithGo. If Go's accessors panicked
// (Go then stops with "PANIC in an accessor"), any error of ours matches.
// Returns "" or the first difference.
std::string MatchGo(const std::string& path, const OurEvents& ours,
                    int tries = 10);

// A Go .test archive: its expectation and trace text.
struct GoTestCase {
  enum Expect { kSuccess, kFailure, kInvalid } expect = kSuccess;
  std::string pattern;  // the FAILURE/INVALID regexp (Go syntax, simple)
  std::string trace_text;
  int trace_first_line = 1;
};
absl::StatusOr<GoTestCase> ParseGoTest(absl::string_view archive);

// Go's regexp.MatchString for the simple patterns .test files use
// (translated to ECMAScript).
bool GoRegexpMatch(const std::string& pattern, const std::string& s);

}  // namespace gentrace::conformance

#endif  // GENTRACE_TESTS_READER_CONFORMANCE_CONFORMANCE_UTIL_H_
