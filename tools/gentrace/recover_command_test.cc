// `gentrace recover` on ring files left by processes killed with SIGKILL
// (tracer/crash_test_program traces itself through a file-backed ring), and
// on bad input.
#include <dirent.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tools/gentrace/test_process.h"
#include "tracer/ring_test_util.h"

namespace gentrace::tools {
namespace {

using ::gentrace::testing::CheckTrace;
using ::gentrace::testing::ReadFile;
using ::gentrace::testing::TempPath;
using ::gentrace::testing::TraceCheck;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kProgram[] = "tracer/crash_test_program";

// Starts the program in `mode`, waits (bounded) until its stdout has a
// line starting with `wait_for`, kills it with SIGKILL. Returns that line.
std::string RunAndKill(const std::string& mode, const std::string& dir,
                       const std::string& wait_for) {
  const std::string out = dir + "/stdout";
  const pid_t pid = fork();
  if (pid == 0) {
    const int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(o, 1);
    setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
    execl(kProgram, kProgram, mode.c_str(), dir.c_str(),
          static_cast<char*>(nullptr));
    _exit(121);
  }
  std::string line;
  const absl::Time limit = absl::Now() + absl::Seconds(60);
  while (line.empty() && absl::Now() < limit) {
    for (absl::string_view l : absl::StrSplit(ReadFile(out), '\n')) {
      if (absl::StartsWith(l, wait_for)) line = std::string(l);
    }
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      ADD_FAILURE() << mode << " exited early, status " << status;
      return "";
    }
    absl::SleepFor(absl::Milliseconds(2));
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_FALSE(line.empty()) << "no \"" << wait_for << "\" from " << mode;
  return line;
}

// The names in `dir`.
std::vector<std::string> DirEntries(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) names.push_back(e->d_name);
    closedir(d);
  }
  return names;
}

std::string NewDir(const std::string& name) {
  const std::string dir = TempPath(name);
  EXPECT_EQ(mkdir(dir.c_str(), 0755), 0);
  return dir;
}

// Recovers ring -> out; returns gentrace's report.
std::string Recover(const std::string& ring, const std::string& out) {
  absl::StatusOr<ProcessResult> r =
      RunProcess(kGentraceBinary, {"recover", ring, out});
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return "";
  EXPECT_EQ(r->exit_code, 0) << r->stdout_data << r->stderr_data;
  return r->stdout_data;
}

// "recovered N generation(s) (A to B), ..." -> A, B.
void RecoveredRange(const std::string& report, uint64_t* a, uint64_t* b) {
  absl::string_view s = report;
  ASSERT_TRUE(absl::ConsumePrefix(&s, "recovered ")) << report;
  const size_t open = s.find("generation(s) (") + 14;
  const size_t to = s.find(" to ");
  const size_t close = s.find(')', to);
  ASSERT_TRUE(open != s.npos && to != s.npos && close != s.npos) << report;
  ASSERT_TRUE(absl::SimpleAtoi(s.substr(open + 1, to - open - 1), a));
  ASSERT_TRUE(absl::SimpleAtoi(s.substr(to + 4, close - to - 4), b));
}

TEST(RecoverCommandTest, KilledInTheMiddleOfARecord) {
  const std::string dir = NewDir("torn");
  // The writer stops for good between a record's bytes and its commit
  // word, says "torn SEQ", and is killed there.
  const std::string line = RunAndKill("file-ring-torn", dir, "torn ");
  ASSERT_FALSE(line.empty());
  const std::string seq = line.substr(5);
  const std::string out = dir + "/recovered.trace";
  const std::string report = Recover(dir + "/ring.gtring", out);
  // The torn record is named, with its offset, and left out.
  EXPECT_THAT(report, HasSubstr(absl::StrCat("(seq ", seq,
                                             "): not committed (torn write)")));
  EXPECT_THAT(report, HasSubstr("skipped: record at offset "));
  uint64_t first = 0, last = 0;
  RecoveredRange(report, &first, &last);
  EXPECT_GE(last, 4u);  // "ready" came after 4 whole generations
  absl::StatusOr<TraceCheck> c = CheckTrace(ReadFile(out), "recovered-torn");
  ASSERT_TRUE(c.ok()) << c.status() << "\n" << report;
  EXPECT_EQ(c->generations, last - first + 1);
  EXPECT_EQ(c->gen_numbers.front(), first);
  EXPECT_EQ(c->gen_numbers.back(), last);
  // No temporary file (OutputFile's ".NAME.tmp-PID-N") is left next to OUT.
  const std::vector<std::string> names = DirEntries(dir);
  EXPECT_EQ(std::count(names.begin(), names.end(), "recovered.trace"), 1);
  for (const std::string& n : names) EXPECT_THAT(n, Not(HasSubstr(".tmp-")));
}

TEST(RecoverCommandTest, KilledWhileTracing) {
  const std::string dir = NewDir("killed");
  const std::string line = RunAndKill("file-ring", dir, "ready ");
  ASSERT_FALSE(line.empty());
  uint64_t ready = 0;
  ASSERT_TRUE(absl::SimpleAtoi(line.substr(6), &ready));
  const std::string out = dir + "/recovered.trace";
  const std::string report = Recover(dir + "/ring.gtring", out);
  uint64_t first = 0, last = 0;
  RecoveredRange(report, &first, &last);
  EXPECT_GE(last, ready);
  absl::StatusOr<TraceCheck> c = CheckTrace(ReadFile(out), "recovered-kill");
  ASSERT_TRUE(c.ok()) << c.status() << "\n" << report;
  EXPECT_EQ(c->generations, last - first + 1);
}

TEST(RecoverCommandTest, BadInputIsOneLineAndExitOne) {
  const std::string dir = NewDir("bad");
  const std::string out = dir + "/out.trace";
  ASSERT_TRUE(WriteFile(out, "keep me"));
  struct Bad {
    std::string content;
    const char* says;
  };
  const std::vector<Bad> cases = {
      {std::string(5000, 'x'), "offset 0: not a gentrace ring file"},
      {"", "shorter than its 4096-byte header"},
  };
  for (const Bad& b : cases) {
    const std::string in = dir + "/in.gtring";
    ASSERT_TRUE(WriteFile(in, b.content));
    absl::StatusOr<ProcessResult> r =
        RunProcess(kGentraceBinary, {"recover", in, out});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->exit_code, 1);
    EXPECT_THAT(r->stderr_data,
                HasSubstr(absl::StrCat("gentrace recover: ", in, ": ")));
    EXPECT_THAT(r->stderr_data, HasSubstr(b.says));
    EXPECT_EQ(std::count(r->stderr_data.begin(), r->stderr_data.end(), '\n'), 1)
        << r->stderr_data;
    EXPECT_EQ(ReadFile(out), "keep me");  // never touched
  }
  absl::StatusOr<ProcessResult> r =
      RunProcess(kGentraceBinary, {"recover", dir + "/missing", out});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 1);
  EXPECT_THAT(r->stderr_data, HasSubstr("No such file or directory"));
  r = RunProcess(kGentraceBinary, {"recover", dir + "/missing"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 2);
}

TEST(RecoverCommandTest, TruncatedRingFileNamesTheOffset) {
  const std::string dir = NewDir("truncated");
  ASSERT_FALSE(RunAndKill("file-ring", dir, "ready ").empty());
  const std::string ring = ReadFile(dir + "/ring.gtring");
  const std::string cut = dir + "/cut.gtring";
  ASSERT_TRUE(WriteFile(cut, ring.substr(0, ring.size() / 2)));
  absl::StatusOr<ProcessResult> r =
      RunProcess(kGentraceBinary, {"recover", cut, dir + "/out.trace"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 1);
  EXPECT_THAT(r->stderr_data, HasSubstr("its header (offset 16) says"));
}

}  // namespace
}  // namespace gentrace::tools
