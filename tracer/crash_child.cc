// See crash_child.h.
#include "tracer/crash_child.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/test_files.h"

namespace gentrace::testing {

CrashChild StartCrashChild(const std::string& program,
                           const std::string& dir_prefix,
                           const std::string& mode, bool core) {
  CrashChild c;
  c.dir = TempPath(absl::StrCat(dir_prefix, "-", mode));
  EXPECT_EQ(mkdir(c.dir.c_str(), 0755), 0) << c.dir;
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const std::string path =
      absl::StrCat(srcdir != nullptr ? srcdir : ".", "/gentrace/", program);
  std::vector<std::string> args = {program, mode, c.dir};
  if (core) args.push_back("--core");
  // Everything the child needs is built before fork.
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string mine =
      "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:"
      "handle_abort=0";
  const char* tsan_before = std::getenv("TSAN_OPTIONS");
  // The child's environment: ours, with the sanitizers' options replaced.
  // Built before fork: between fork and exec, a child of a threaded
  // process may only make async-signal-safe calls (setenv may allocate).
  std::vector<std::string> env = {
      absl::StrCat("ASAN_OPTIONS=", mine, ":detect_leaks=0:use_sigaltstack=0"),
      absl::StrCat("TSAN_OPTIONS=", tsan_before != nullptr
                                        ? absl::StrCat(tsan_before, ":", mine)
                                        : mine)};
  for (char** e = environ; *e != nullptr; ++e) {
    if (!absl::StartsWith(*e, "ASAN_OPTIONS=") &&
        !absl::StartsWith(*e, "TSAN_OPTIONS=")) {
      env.push_back(*e);
    }
  }
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string out = c.dir + "/stdout", err = c.dir + "/stderr";
  c.started = absl::Now();
  c.pid = fork();
  if (c.pid == 0) {
    if (chdir(c.dir.c_str()) != 0) _exit(120);
    const int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(o, 1);
    dup2(e, 2);
    execve(path.c_str(), argv.data(), envp.data());
    _exit(121);
  }
  EXPECT_GT(c.pid, 0) << "fork failed";
  return c;
}

void WaitCrashChild(CrashChild* c) {
  const absl::Time limit = c->started + absl::Seconds(120);
  for (;;) {
    if (c->pid <= 0 || waitpid(c->pid, &c->status, WNOHANG) == c->pid) break;
    if (absl::Now() > limit) {
      kill(c->pid, SIGKILL);
      waitpid(c->pid, &c->status, 0);
      ADD_FAILURE() << c->dir << ": still running after 120 s";
      break;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  c->elapsed = absl::Now() - c->started;
  c->out = ReadFile(c->dir + "/stdout");
  c->err = ReadFile(c->dir + "/stderr");
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

std::string CrashDumpOf(const CrashChild& c) {
  std::vector<std::string> dumps;
  for (const std::string& n : ListDir(c.dir)) {
    if (absl::StartsWith(n, "crash-") && absl::EndsWith(n, ".trace")) {
      dumps.push_back(n);
    }
  }
  EXPECT_EQ(dumps.size(), 1u) << c.err;
  return dumps.size() == 1 ? c.dir + "/" + dumps[0] : "";
}

void ExpectKilledBy(const CrashChild& c, int sig, bool core) {
  ASSERT_TRUE(WIFSIGNALED(c.status)) << "status " << c.status << "\nstdout:\n"
                                     << c.out << "\nstderr:\n"
                                     << c.err;
  EXPECT_EQ(WTERMSIG(c.status), sig) << c.err;
  if (core && !kSanitizedBuild) {
    EXPECT_TRUE(WCOREDUMP(c.status)) << c.err;
    const std::string core_file = c.dir + "/core";
    struct stat st;
    EXPECT_EQ(stat(core_file.c_str(), &st), 0) << "no " << core_file;
    unlink(core_file.c_str());
  }
}

}  // namespace gentrace::testing
