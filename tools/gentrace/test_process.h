// Runs a program and collects its exit status and output, for tests of
// command line tools (testonly).
#ifndef GENTRACE_TOOLS_GENTRACE_TEST_PROCESS_H_
#define GENTRACE_TOOLS_GENTRACE_TEST_PROCESS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

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

// $TEST_TMPDIR/name (/tmp/name outside Bazel).
std::string TestTempPath(const std::string& name);

// Reads a whole file; "" if it cannot be read (tests compare contents).
std::string ReadFileOrEmpty(const std::string& path);
// Writes a whole file.
bool WriteFile(const std::string& path, const std::string& data);

}  // namespace gentrace::tools

#endif  // GENTRACE_TOOLS_GENTRACE_TEST_PROCESS_H_
