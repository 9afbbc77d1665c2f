// FlightRecorder::InstallCrashHandler in crashing subprocesses
// (tests/tracer/flight_recorder_crash_program.cc): each kind of crash
// leaves a dump that our reader and Go's parser accept, holding whole
// generations and the marker logged before the last whole one, and the
// process still ends with the crash's own signal (with a core dump where
// enabled). And the ring file after kill -9, through `gentrace recover`.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/tracer/trace_check.h"
#include "tracer/crash_child.h"

namespace gentrace {
namespace {

using ::gentrace::testing::CrashChild;
using ::gentrace::testing::CrashDumpOf;
using ::gentrace::testing::ExpectKilledBy;
using ::gentrace::testing::GoView;
using ::gentrace::testing::ReadFile;
using ::gentrace::testing::StartCrashChild;
using ::gentrace::testing::ViewWithGo;
using ::gentrace::testing::WaitCrashChild;
using ::testing::HasSubstr;

const char kProgram[] = "tests/flight_recorder_crash_program";
const char kGentrace[] = "tools/gentrace/gentrace";

std::string Runfile(const std::string& path) {
  return std::string(getenv("TEST_SRCDIR")) + "/gentrace/" + path;
}

// Checks the trace at path (our reader, then Go's parser): valid, at least
// one whole generation, the marker once, and not what was logged in the
// generation being recorded at the crash.
void ExpectDumpWithMarker(const std::string& path, const std::string& log) {
  absl::StatusOr<GoView> v = ViewWithGo(path);
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_TRUE(v->valid) << v->result_line << "\n"
                        << v->validate_output << "\n"
                        << log;
  EXPECT_TRUE(v->ours_agree) << v->ours_difference;
  EXPECT_GE(v->count("Sync"), 1) << log;
  EXPECT_EQ(
      v->count_matching({"Log ", "category=\"crash\"", "message=\"marker\""}),
      1)
      << log;
}

void ExpectCrash(const CrashChild& r, int sig, bool core) {
  ExpectKilledBy(r, sig, core);
  EXPECT_THAT(r.out, HasSubstr("ready ")) << r.err;
  const std::string dump = CrashDumpOf(r);
  ASSERT_FALSE(dump.empty());
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("; dump: ", dump, " (")));
  ExpectDumpWithMarker(dump, r.err);
}

struct Case {
  const char* mode;
  int sig;
  const char* says;  // in the handler's report line
};

class FlightRecorderCrashTest : public ::testing::TestWithParam<Case> {};

TEST_P(FlightRecorderCrashTest, DumpIsValidAndTheSignalGoesOn) {
  const Case& c = GetParam();
  CrashChild r = StartCrashChild(kProgram, "fr", c.mode, /*core=*/true);
  WaitCrashChild(&r);
  ExpectCrash(r, c.sig, /*core=*/true);
  EXPECT_THAT(r.err, HasSubstr(c.says));
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, FlightRecorderCrashTest,
    ::testing::Values(Case{"segv", SIGSEGV, "caught SIGSEGV"},
                      Case{"abort", SIGABRT, "caught SIGABRT"},
                      Case{"stack-overflow", SIGSEGV, "caught SIGSEGV"},
                      Case{"stack-overflow-thread", SIGSEGV, "caught SIGSEGV"},
                      Case{"terminate", SIGABRT, "caught std::terminate"},
                      Case{"seqlock-held", SIGSEGV, "caught SIGSEGV"},
                      Case{"sink-callback", SIGSEGV, "caught SIGSEGV"}),
    [](const ::testing::TestParamInfo<Case>& i) {
      std::string n = i.param.mode;
      for (char& ch : n) {
        if (ch == '-') ch = '_';
      }
      return n;
    });

TEST(FlightRecorderCrashTest, TwoThreadsCrashingAtOnceDumpOnce) {
  CrashChild r = StartCrashChild(kProgram, "fr", "two-threads", false);
  WaitCrashChild(&r);
  ExpectCrash(r, SIGSEGV, false);
  int reports = 0;
  for (absl::string_view line : absl::StrSplit(r.err, '\n')) {
    reports += absl::StartsWith(line, "gentrace: caught");
  }
  EXPECT_EQ(reports, 1) << r.err;
}

TEST(FlightRecorderCrashTest, RingFileAfterKill9IsRecovered) {
  CrashChild r = StartCrashChild(kProgram, "fr", "ring-file", false);
  const absl::Time limit = absl::Now() + absl::Seconds(120);
  while (!absl::StrContains(ReadFile(r.dir + "/stdout"), "ready ") &&
         absl::Now() < limit) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  kill(r.pid, SIGKILL);
  WaitCrashChild(&r);
  ASSERT_TRUE(WIFSIGNALED(r.status));
  EXPECT_EQ(WTERMSIG(r.status), SIGKILL);
  ASSERT_THAT(r.out, HasSubstr("ready ")) << r.err;
  const std::string ring = r.dir + "/ring.gtring";
  const std::string out = r.dir + "/recovered.trace";
  const pid_t pid = fork();
  if (pid == 0) {
    const int e = open((r.dir + "/recover.err").c_str(),
                       O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(e, 1);
    dup2(e, 2);
    const std::string bin = Runfile(kGentrace);
    execl(bin.c_str(), kGentrace, "recover", ring.c_str(), out.c_str(),
          static_cast<char*>(nullptr));
    _exit(121);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  const std::string said = ReadFile(r.dir + "/recover.err");
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << said;
  EXPECT_THAT(said, HasSubstr("recovered "));
  ExpectDumpWithMarker(out, said);
}

}  // namespace
}  // namespace gentrace
