// Runs a program and collects its exit status and output, for tests of
// command line tools, and reads numbers out of what tools print
// (testonly).
#ifndef GENTRACE_TOOLS_GENTRACE_TEST_PROCESS_H_
#define GENTRACE_TOOLS_GENTRACE_TEST_PROCESS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gentrace::tools {

struct ProcessResult {
  int exit_code = -1;  // -1 if the program did not exit normally
  std::string stdout_data;
  std::string stderr_data;
};

// Runs `path` with `args` (argv[1..]), `stdin_data` on its standard input.
// Output goes through temporary files, so any amount of it is fine.
absl::StatusOr<ProcessResult> RunProcess(const std::string& path,
                                         const std::vector<std::string>& args,
                                         const std::string& stdin_data = "");

// The gentrace binary, as a test with data = ["//tools/gentrace"] finds it.
inline constexpr char kGentraceBinary[] = "tools/gentrace/gentrace";

// Runs the gentrace binary; a failure to run it at all comes back as exit
// code -1 with the reason in stderr_data.
ProcessResult RunGentrace(const std::vector<std::string>& args,
                          const std::string& stdin_data = "");

// Runs the gentrace binary with `args`, its standard output to /dev/null
// and its address space limited to `limit` bytes (RLIMIT_AS); its exit
// status, or -1 if it did not exit.
int RunGentraceLimited(const std::vector<std::string>& args, uint64_t limit);

// Runs `gentrace COMMAND ARGS...` on input it cannot read (`path`) and
// checks, as gtest failures, what every command does then: exit 1, nothing
// on stdout, exactly one line on stderr, "gentrace COMMAND: PATH: ...",
// containing `reason`, and no file at `out` (a command never leaves an
// output for an input it could not read whole).
void ExpectOneLineInputError(const std::string& command,
                             const std::vector<std::string>& args,
                             const std::string& path, const std::string& reason,
                             const std::string& out);

// $TEST_TMPDIR/name (/tmp/name outside Bazel).
std::string TestTempPath(const std::string& name);

// Reads a whole file; "" if it cannot be read (tests compare contents).
std::string ReadFileOrEmpty(const std::string& path);
// Writes a whole file.
bool WriteFile(const std::string& path, const std::string& data);

// ---- Numbers in what tools print.

// The integer after `"key": ` at the first `key` that follows the first
// `anchor` in JSON text; -1 if either is missing or the value there is not
// an integer.
int64_t JsonInt(const std::string& json, absl::string_view anchor,
                absl::string_view key);

// The sums, one per sample value, of the samples `go tool pprof -raw`
// prints for the profile at `path` (`go`: the go binary); empty for a
// profile without samples. An error if the tool fails or prints a sample
// line whose values are not integers.
absl::StatusOr<std::vector<int64_t>> PprofRawSums(const std::string& go,
                                                  const std::string& path);

}  // namespace gentrace::tools

#endif  // GENTRACE_TOOLS_GENTRACE_TEST_PROCESS_H_
