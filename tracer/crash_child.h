// For tests: a test program that crashes on purpose, run as a child
// process and waited for with a bound, and what it left behind.
#ifndef GENTRACE_TRACER_CRASH_CHILD_H_
#define GENTRACE_TRACER_CRASH_CHILD_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "base/test_files.h"  // kSanitizedBuild

namespace gentrace::testing {

struct CrashChild {
  pid_t pid = -1;
  int status = 0;        // waitpid's, once it ended
  std::string dir;       // its working directory, fresh
  std::string out, err;  // its standard output and error, once it ended
  absl::Time started;
  absl::Duration elapsed;  // from start to its end
};

// Runs `program` (a path in the test's runfiles, e.g.
// "tracer/crash_test_program") as `program mode DIR [--core]` in a fresh
// directory DIR = TempPath(dir_prefix + "-" + mode), its standard output
// and error to files there, with the sanitizers told to leave fatal
// signals to the program's own handler.
CrashChild StartCrashChild(const std::string& program,
                           const std::string& dir_prefix,
                           const std::string& mode, bool core);

// Waits for the child at most 120 s (then kills it and fails the test),
// then reads its output.
void WaitCrashChild(CrashChild* c);

// The names in dir (no dot entries).
std::vector<std::string> ListDir(const std::string& dir);

// The one crash-*.trace the child left in its directory; "" (and a test
// failure) if there is not exactly one.
std::string CrashDumpOf(const CrashChild& c);

// The child ended by signal `sig`; with `core` in a build without a
// sanitizer, it also dumped core (the core file is then removed).
void ExpectKilledBy(const CrashChild& c, int sig, bool core);

}  // namespace gentrace::testing

#endif  // GENTRACE_TRACER_CRASH_CHILD_H_
