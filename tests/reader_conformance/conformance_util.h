// Helpers for the reader conformance tests: run programs (the Go toolchain,
// traced Go programs, gotool), read Go's .test archives, and compare our
// reader's event dump with Go's.
#ifndef GENTRACE_TESTS_READER_CONFORMANCE_CONFORMANCE_UTIL_H_
#define GENTRACE_TESTS_READER_CONFORMANCE_CONFORMANCE_UTIL_H_

#include <sys/types.h>

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

// Our reader's dump of a trace in memory or a file: event lines and the
// END line, as tests/go/gotool.go dump prints them.
std::string OurDump(absl::string_view trace);
std::string OurDumpFile(const std::string& path);
// Go's dump (gotool dump FILE).
absl::StatusOr<std::string> GoDump(const std::string& path);

// Strips the context gentrace adds to Go's ordering errors
// (" (at EVENT on thread M, generation G)") so messages compare with Go's.
std::string WithoutContext(absl::string_view message);

// Compares two dumps. Exactly equal is a match. Otherwise events whose
// times tied (which Go's reader orders at random: it fills its heap of
// threads from a map) may come in another order: they then have times
// T, T+1, T+2... in both dumps, and are compared as a set. END lines
// match if both are "END ok", or both errors with the same message after
// WithoutContext (unless `any_error`). Returns "" for a match, else a
// description of the first difference.
std::string CompareDumps(absl::string_view ours, absl::string_view go,
                         bool any_error = false);

// A weaker comparison for traces with many equal timestamps (Go's own
// output then differs from run to run, and an early tie can change the
// order of later events): each generation (up to its Sync) must have the
// same events, compared as a set without their times, and the END lines
// must match as in CompareDumps.
std::string CompareDumpsPerGeneration(absl::string_view ours,
                                      absl::string_view go,
                                      bool any_error = false);

// Compares our dump of the trace file at `path` with Go's. Go orders
// threads with equal timestamps at random (its heap is filled from a map),
// so a trace can have several correct dumps: Go is run up to `tries` times
// until one matches ours by CompareDumps, and failing that, by
// CompareDumpsPerGeneration (an early tie can reorder later events). If Go's
// accessors panicked, any error of ours matches. Returns "" or the first
// difference.
std::string MatchGo(const std::string& path, absl::string_view ours,
                    int tries = 30);

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
