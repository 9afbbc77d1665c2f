// FlightRecorder::InstallCrashHandler in crashing subprocesses
// (tests/tracer/flight_recorder_crash_program.cc): each kind of crash
// leaves a dump that our reader and Go's parser accept, holding whole
// generations and the marker logged before the last whole one, and the
// process still ends with the crash's own signal (with a core dump where
// enabled). And the ring file after kill -9, through `gentrace recover`.
#include <dirent.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
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

namespace gentrace {
namespace {

using ::gentrace::testing::GoView;
using ::gentrace::testing::ReadFile;
using ::gentrace::testing::TempPath;
using ::gentrace::testing::ViewWithGo;
using ::testing::HasSubstr;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

const char kProgram[] = "tests/flight_recorder_crash_program";
const char kGentrace[] = "tools/gentrace/gentrace";

std::string Runfile(const std::string& path) {
  return std::string(getenv("TEST_SRCDIR")) + "/gentrace/" + path;
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') names.push_back(e->d_name);
    }
    closedir(d);
  }
  return names;
}

struct Child {
  pid_t pid = -1;
  int status = 0;
  std::string dir, out, err;
};

// Starts the program in a directory of its own, stdout and stderr to files
// there.
Child Spawn(const std::string& mode, bool core) {
  Child r;
  r.dir = TempPath(absl::StrCat("fr-", mode));
  EXPECT_EQ(mkdir(r.dir.c_str(), 0755), 0);
  r.pid = fork();
  if (r.pid == 0) {
    if (chdir(r.dir.c_str()) != 0) _exit(120);
    const int o = open("stdout", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = open("stderr", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(o, 1);
    dup2(e, 2);
    // Sanitizers must leave these signals to the program's own handler.
    const std::string mine =
        "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:"
        "handle_abort=0";
    setenv("ASAN_OPTIONS", (mine + ":detect_leaks=0:use_sigaltstack=0").c_str(),
           1);
    const char* tsan = getenv("TSAN_OPTIONS");
    setenv("TSAN_OPTIONS",
           (tsan != nullptr ? std::string(tsan) + ":" + mine : mine).c_str(),
           1);
    std::vector<std::string> args = {kProgram, mode, r.dir};
    if (core) args.push_back("--core");
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(Runfile(kProgram).c_str(), argv.data());
    _exit(121);
  }
  return r;
}

// Bounded wait: a hung child fails the test instead of hanging it.
void Wait(Child* r) {
  const absl::Time limit = absl::Now() + absl::Seconds(120);
  for (;;) {
    if (waitpid(r->pid, &r->status, WNOHANG) == r->pid) break;
    if (absl::Now() > limit) {
      kill(r->pid, SIGKILL);
      waitpid(r->pid, &r->status, 0);
      ADD_FAILURE() << "still running after 120 s";
      break;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  r->out = ReadFile(r->dir + "/stdout");
  r->err = ReadFile(r->dir + "/stderr");
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

void ExpectCrash(const Child& r, int sig, bool core) {
  ASSERT_TRUE(WIFSIGNALED(r.status)) << "status " << r.status << "\nstdout:\n"
                                     << r.out << "\nstderr:\n"
                                     << r.err;
  EXPECT_EQ(WTERMSIG(r.status), sig) << r.err;
  if (core && !kSanitized) {
    EXPECT_TRUE(WCOREDUMP(r.status)) << r.err;
    unlink((r.dir + "/core").c_str());
  }
  EXPECT_THAT(r.out, HasSubstr("ready ")) << r.err;
  std::vector<std::string> dumps;
  for (const std::string& n : ListDir(r.dir)) {
    if (absl::StartsWith(n, "crash-") && absl::EndsWith(n, ".trace")) {
      dumps.push_back(n);
    }
  }
  ASSERT_EQ(dumps.size(), 1u) << r.err;
  const std::string dump = r.dir + "/" + dumps[0];
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
  Child r = Spawn(c.mode, /*core=*/true);
  Wait(&r);
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
  Child r = Spawn("two-threads", /*core=*/false);
  Wait(&r);
  ExpectCrash(r, SIGSEGV, false);
  int reports = 0;
  for (absl::string_view line : absl::StrSplit(r.err, '\n')) {
    reports += absl::StartsWith(line, "gentrace: caught");
  }
  EXPECT_EQ(reports, 1) << r.err;
}

TEST(FlightRecorderCrashTest, RingFileAfterKill9IsRecovered) {
  Child r = Spawn("ring-file", /*core=*/false);
  const absl::Time limit = absl::Now() + absl::Seconds(120);
  while (!absl::StrContains(ReadFile(r.dir + "/stdout"), "ready ") &&
         absl::Now() < limit) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  kill(r.pid, SIGKILL);
  Wait(&r);
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
