// FlightRecorder::InstallCrashHandler in crashing subprocesses
// (tests/tracer/flight_recorder_crash_program.cc): each kind of crash
// leaves a dump that our reader and Go's parser accept, and the process
// still ends with the crash's own signal (with a core dump where enabled).
// The dump holds the ring's whole generations and then the generation
// being recorded at the crash, completed: the marker and "about to crash",
// logged in it just before the crash without ending it, are there exactly
// once; where completion is not possible (the crash inside the tracer, or
// on the writer thread during an advance) or switched off, the dump holds
// the whole generations only, and says so. And the ring file after kill
// -9, through `gentrace recover`.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
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
// one whole generation (Sync), the marker `markers` times and, unless
// `about_to_crash` is negative, "about to crash" that many times.
void ExpectDump(const std::string& path, const std::string& log, int markers,
                int about_to_crash) {
  absl::StatusOr<GoView> v = ViewWithGo(path);
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_TRUE(v->valid) << v->result_line << "\n"
                        << v->validate_output << "\n"
                        << log;
  EXPECT_TRUE(v->ours_agree) << v->ours_difference;
  EXPECT_GE(v->count("Sync"), 1) << log;
  EXPECT_EQ(
      v->count_matching({"Log ", "category=\"crash\"", "message=\"marker\""}),
      markers)
      << log;
  if (about_to_crash >= 0) {
    EXPECT_EQ(v->count_matching(
                  {"Log ", "category=\"crash\"", "message=\"about to crash\""}),
              about_to_crash)
        << log;
  }
}

// The dump of a crashed child: its report lines, and the dump.
std::string ExpectCrashDump(const CrashChild& r, int sig, bool core) {
  ExpectKilledBy(r, sig, core);
  EXPECT_THAT(r.out, HasSubstr("ready ")) << r.err;
  const std::string dump = CrashDumpOf(r);
  EXPECT_FALSE(dump.empty());
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("; dump: ", dump, " (")));
  return dump;
}

// A dump whose current generation was completed: both logs are there.
void ExpectCrash(const CrashChild& r, int sig, bool core) {
  const std::string dump = ExpectCrashDump(r, sig, core);
  if (dump.empty()) return;
  EXPECT_THAT(r.err, HasSubstr(" completed: ")) << r.err;
  ExpectDump(dump, r.err, 1, 1);
}

// A dump of whole generations only (the generation being recorded at the
// crash, and both logs in it, left out), for the reason `why`.
void ExpectDegradedCrash(const CrashChild& r, int sig, bool core,
                         const std::string& why) {
  const std::string dump = ExpectCrashDump(r, sig, core);
  if (dump.empty()) return;
  EXPECT_THAT(r.err, HasSubstr(why)) << r.err;
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr(" completed: "))) << r.err;
  ExpectDump(dump, r.err, 0, 0);
}

struct Case {
  const char* mode;
  int sig;
  const char* says;  // in the handler's report line
};

class FlightRecorderCrashTest : public ::testing::TestWithParam<Case> {};

TEST_P(FlightRecorderCrashTest, DumpCompletesTheGenerationAndTheSignalGoesOn) {
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
                      Case{"terminate", SIGABRT, "caught std::terminate"}),
    [](const ::testing::TestParamInfo<Case>& i) {
      std::string n = i.param.mode;
      for (char& ch : n) {
        if (ch == '-') ch = '_';
      }
      return n;
    });

TEST(FlightRecorderCrashTest, CrashInsideTheTracerDumpsWholeGenerations) {
  // The crashing thread holds its seqlock: its buffer and the tables may
  // be mid-change, so the current generation is left out.
  CrashChild r = StartCrashChild(kProgram, "fr", "seqlock-held", true);
  WaitCrashChild(&r);
  ExpectDegradedCrash(r, SIGSEGV, true,
                      "left out: the crash was inside the tracer");
}

TEST(FlightRecorderCrashTest, CrashInSinkCallbackDuringAdvanceDumpsWholeGens) {
  // The callback faults on the writer thread while an advance waits for
  // the writer (holding the tracer's control lock): no completion, within
  // the bounded wait.
  CrashChild r = StartCrashChild(kProgram, "fr", "sink-callback", true);
  WaitCrashChild(&r);
  ExpectDegradedCrash(r, SIGSEGV, true,
                      "left out: an advance (or Start or Stop) held the "
                      "tracer's lock");
  EXPECT_LT(r.elapsed, absl::Seconds(60));
}

TEST(FlightRecorderCrashTest, CompletionSwitchedOffDumpsWholeGenerations) {
  // What the dumps were before completion: the generation being recorded
  // at the crash is missing, with both logs in it.
  CrashChild r = StartCrashChild(kProgram, "fr", "segv-no-complete", false);
  WaitCrashChild(&r);
  ExpectDegradedCrash(r, SIGSEGV, false,
                      "current generation left out (completion switched off)");
}

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

TEST(FlightRecorderCrashTest, OtherThreadsMarkersAreInTheCompletedGeneration) {
  // Four threads log a marker each and wait outside the tracer (their
  // seqlocks even); the main thread faults once all four have logged.
  CrashChild r = StartCrashChild(kProgram, "fr", "thread-markers", false);
  WaitCrashChild(&r);
  ExpectCrash(r, SIGSEGV, false);
  const std::string dump = CrashDumpOf(r);
  ASSERT_FALSE(dump.empty());
  absl::StatusOr<GoView> v = ViewWithGo(dump);
  ASSERT_TRUE(v.ok()) << v.status();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(
        v->count_matching({"Log ", "category=\"crash\"",
                           absl::StrCat("message=\"thread marker ", i, "\"")}),
        1)
        << i << "\n"
        << r.err;
  }
  EXPECT_THAT(r.err, HasSubstr(" 0 threads skipped")) << r.err;
}

// The number before `what` in the completion's report ("...: 6 batches
// from the ring, 2 from the writer, ..."), or -1.
int64_t Reported(const std::string& err, const std::string& what) {
  const size_t at = err.find(what);
  if (at == std::string::npos) return -1;
  size_t begin = at;
  while (begin > 0 && absl::ascii_isdigit(err[begin - 1])) --begin;
  int64_t n = -1;
  if (!absl::SimpleAtoi(err.substr(begin, at - begin), &n)) return -1;
  return n;
}

TEST(FlightRecorderCrashTest, BusyGenerationFromRingWriterAndThreads) {
  // The crash generation's batches are partly in the ring already (the
  // writer delivered them), partly in the threads' buffers, while the
  // workers keep tracing: every one of the main thread's 20000 logs is
  // there exactly once.
  CrashChild r = StartCrashChild(kProgram, "fr", "busy", false);
  WaitCrashChild(&r);
  ExpectCrash(r, SIGSEGV, false);
  EXPECT_GE(Reported(r.err, " batches from the ring"), 1) << r.err;
  EXPECT_GE(Reported(r.err, " thread buffers"), 1) << r.err;
  const std::string dump = CrashDumpOf(r);
  ASSERT_FALSE(dump.empty());
  absl::StatusOr<GoView> v = ViewWithGo(dump);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->count_matching({"Log ", "category=\"busy\""}), 20000);
  EXPECT_EQ(v->count_matching({"Log ", "message=\"line 19999\""}), 1);
}

TEST(FlightRecorderCrashTest, BlockedWriterQueueIsWritten) {
  // A trace destination's callback blocks the writer thread: the ring has
  // the batches before (if any: the writer may block on the previous
  // generation's last batch, still going to the callback), the writer's
  // queue the rest of the crash generation. Every log is there exactly
  // once. (BusyGenerationFromRingWriterAndThreads checks the ring's part;
  // here the completion line must be there, whatever its count.)
  CrashChild r = StartCrashChild(kProgram, "fr", "writer-stuck", false);
  WaitCrashChild(&r);
  ExpectCrash(r, SIGSEGV, false);
  EXPECT_GE(Reported(r.err, " batches from the ring"), 0) << r.err;
  EXPECT_GE(Reported(r.err, " from the writer"), 1) << r.err;
  const std::string dump = CrashDumpOf(r);
  ASSERT_FALSE(dump.empty());
  absl::StatusOr<GoView> v = ViewWithGo(dump);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->count_matching({"Log ", "category=\"busy\""}), 20000);
}

TEST(FlightRecorderCrashTest, UnsymbolizedStacksAreBarePcs) {
  // The log "about to crash" carries a stack (StackOptions::logs) captured
  // in the crash generation and never symbolized: its frames are PCs with
  // no function, file or line, which both readers accept and show.
  CrashChild r = StartCrashChild(kProgram, "fr", "segv", false);
  WaitCrashChild(&r);
  ExpectCrash(r, SIGSEGV, false);
  const std::string dump = CrashDumpOf(r);
  ASSERT_FALSE(dump.empty());
  absl::StatusOr<GoView> v = ViewWithGo(dump);
  ASSERT_TRUE(v.ok()) << v.status();
  std::string line;
  for (const std::string& e : v->events) {
    if (absl::StrContains(e, "message=\"about to crash\"")) line = e;
  }
  ASSERT_FALSE(line.empty());
  // stack=[""@"":0 pc=N;...]: the innermost frame, bare, with its PC.
  const size_t at = line.find("stack=[\"\"@\"\":0 pc=");
  ASSERT_NE(at, std::string::npos) << line;
  uint64_t pc = 0;
  const size_t digits = at + std::string("stack=[\"\"@\"\":0 pc=").size();
  const size_t end = line.find_first_of(";]", digits);
  ASSERT_TRUE(absl::SimpleAtoi(line.substr(digits, end - digits), &pc)) << line;
  EXPECT_GT(pc, 4096u) << line;
  // The same program's logs of whole generations are symbolized.
  EXPECT_GE(
      v->count_matching({"Log ", "message=\"step ", "crash_program_work.cc"}),
      1);
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
  ExpectDump(out, said, 1, -1);
}

}  // namespace
}  // namespace gentrace
