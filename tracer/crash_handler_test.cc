// The crash handler, in this process (install, callbacks, the prepared
// file) and in crashing subprocesses (tracer/crash_test_program): each kind
// of crash leaves a dump that our reader and Go's parser accept, and the
// process still ends with the crash's own signal (and a core dump where
// RLIMIT_CORE allows: this machine's core_pattern is a plain file name,
// written into the crashing process's working directory).
#include "tracer/crash_handler.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tracer/crash_child.h"
#include "tracer/ring_test_util.h"

namespace gentrace {
namespace {

using ::gentrace::testing::CheckTrace;
using ::gentrace::testing::CrashChild;
using ::gentrace::testing::CrashDumpOf;
using ::gentrace::testing::ExpectKilledBy;
using ::gentrace::testing::ListDir;
using ::gentrace::testing::ReadFile;
using ::gentrace::testing::StartCrashChild;
using ::gentrace::testing::TempPath;
using ::gentrace::testing::TraceCheck;
using ::gentrace::testing::WaitCrashChild;
using ::testing::HasSubstr;

TEST(CrashHandlerTest, InstallPreparesAnUnnamedFileAndUninstallRestores) {
  const std::string dir = TempPath("dumps");
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  struct sigaction before;
  sigaction(SIGSEGV, nullptr, &before);
  CrashHandlerOptions o;
  o.path_template = dir + "/x-%p-%%.trace";
  ASSERT_TRUE(InstallCrashHandler(o).ok());
  EXPECT_EQ(CrashDumpPath(), absl::StrCat(dir, "/x-", getpid(), "-%.trace"));
  // Nothing appears before a crash.
  EXPECT_TRUE(ListDir(dir).empty());
  EXPECT_EQ(InstallCrashHandler(o).code(),
            absl::StatusCode::kFailedPrecondition);
  struct sigaction during;
  sigaction(SIGSEGV, nullptr, &during);
  EXPECT_NE(reinterpret_cast<void*>(during.sa_sigaction),
            reinterpret_cast<void*>(before.sa_sigaction));
  EXPECT_TRUE(during.sa_flags & SA_ONSTACK);
  stack_t ss;
  ASSERT_EQ(sigaltstack(nullptr, &ss), 0);
  EXPECT_FALSE(ss.ss_flags & SS_DISABLE);
  EXPECT_GE(ss.ss_size, o.alt_stack_size);
  UninstallCrashHandler();
  struct sigaction after;
  sigaction(SIGSEGV, nullptr, &after);
  EXPECT_EQ(reinterpret_cast<void*>(after.sa_sigaction),
            reinterpret_cast<void*>(before.sa_sigaction));
  EXPECT_EQ(CrashDumpPath(), "");
  EXPECT_TRUE(ListDir(dir).empty());
}

TEST(CrashHandlerTest, CallbackSlots) {
  auto fn = [](const CrashContext&, void*) {};
  std::vector<int> ids;
  for (int i = 0; i < kMaxCrashDumpCallbacks; ++i) {
    ids.push_back(RegisterCrashDumpCallback(fn, nullptr));
    EXPECT_EQ(ids.back(), i);
  }
  EXPECT_EQ(RegisterCrashDumpCallback(fn, nullptr), -1);
  UnregisterCrashDumpCallback(3);
  EXPECT_EQ(RegisterCrashDumpCallback(fn, nullptr), 3);
  for (int id : ids) UnregisterCrashDumpCallback(id);
}

TEST(CrashHandlerTest, AltStackForAnotherThread) {
  std::thread t([] {
    stack_t ss;
    sigaltstack(nullptr, &ss);
    const bool had = !(ss.ss_flags & SS_DISABLE);
    ASSERT_TRUE(InstallCrashAltStackForThisThread(128 << 10).ok());
    sigaltstack(nullptr, &ss);
    EXPECT_FALSE(ss.ss_flags & SS_DISABLE);
    if (!had) {
      EXPECT_GE(ss.ss_size, 128u << 10);
    }
    // Again: nothing changes.
    const void* sp = ss.ss_sp;
    ASSERT_TRUE(InstallCrashAltStackForThisThread(128 << 10).ok());
    sigaltstack(nullptr, &ss);
    EXPECT_EQ(ss.ss_sp, sp);
  });
  t.join();
}

// ---- Subprocesses

// crash_test_program's child, and the newest generation it said was
// committed before it crashed ("ready N").
struct CrashRun : CrashChild {
  uint64_t ready_generations = 0;
};

CrashRun RunCrash(const std::string& mode, bool core) {
  CrashRun r;
  static_cast<CrashChild&>(r) =
      StartCrashChild("tracer/crash_test_program", "crash", mode, core);
  WaitCrashChild(&r);
  for (absl::string_view line : absl::StrSplit(r.out, '\n')) {
    if (absl::ConsumePrefix(&line, "ready ")) {
      EXPECT_TRUE(absl::SimpleAtoi(line, &r.ready_generations));
    }
  }
  return r;
}

void ExpectCrash(const CrashRun& r, int sig, bool core) {
  ExpectKilledBy(r, sig, core);
  if (::testing::Test::HasFatalFailure()) return;
  EXPECT_GE(r.ready_generations, 4u) << r.out << r.err;
  const std::string dump = CrashDumpOf(r);
  ASSERT_FALSE(dump.empty());
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("; dump: ", dump, " (")));
  const std::string bytes = ReadFile(dump);
  absl::StatusOr<TraceCheck> c = CheckTrace(bytes, "dump");
  ASSERT_TRUE(c.ok()) << c.status() << "\n" << r.err;
  // The ring's callback said which generations it wrote; the reader found
  // exactly those, and the newest is at least the one committed before
  // "ready" (generation numbers start at 1 in a fresh process).
  uint64_t first = 0, last = 0;
  for (absl::string_view line : absl::StrSplit(r.err, '\n')) {
    if (absl::ConsumePrefix(&line, "ring snapshot: generations ")) {
      std::vector<std::string> f = absl::StrSplit(line, absl::ByAnyChar("-,"));
      ASSERT_GE(f.size(), 2u);
      ASSERT_TRUE(absl::SimpleAtoi(f[0], &first));
      ASSERT_TRUE(absl::SimpleAtoi(f[1], &last));
    }
  }
  ASSERT_GT(first, 0u) << r.err;
  EXPECT_GE(last, r.ready_generations);
  EXPECT_EQ(c->generations, last - first + 1);
  ASSERT_FALSE(c->gen_numbers.empty());
  EXPECT_EQ(c->gen_numbers.front(), first);
  EXPECT_EQ(c->gen_numbers.back(), last);
}

struct Case {
  const char* mode;
  int sig;
  const char* says;  // in the handler's report line
};

class CrashKindTest : public ::testing::TestWithParam<Case> {};

TEST_P(CrashKindTest, DumpIsValidAndSignalGoesOn) {
  const Case& c = GetParam();
  const CrashRun r = RunCrash(c.mode, /*core=*/true);
  ExpectCrash(r, c.sig, /*core=*/true);
  EXPECT_THAT(r.err, HasSubstr(c.says));
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, CrashKindTest,
    ::testing::Values(
        Case{"segv", SIGSEGV, "caught SIGSEGV (si_code 2, address 0x"},
        Case{"abort", SIGABRT, "caught SIGABRT on thread"},
        Case{"fpe", SIGFPE, "caught SIGFPE (si_code 1,"},
        Case{"trap", SIGTRAP, "caught SIGTRAP"},
        Case{"overflow", SIGSEGV, "caught SIGSEGV"},
        Case{"overflow-thread", SIGSEGV, "caught SIGSEGV"},
        Case{"terminate", SIGABRT, "caught std::terminate"},
        Case{"callback-crash", SIGABRT,
             "1 dump callback(s) abandoned (crashed: SIGSEGV)"},
        Case{"lock-held", SIGSEGV, "lock-held: dumped without the lock"}),
    [](const ::testing::TestParamInfo<Case>& i) {
      std::string n = i.param.mode;
      for (char& ch : n) {
        if (ch == '-') ch = '_';
      }
      return n;
    });

TEST(CrashHandlerTest, TwoThreadsCrashingAtOnceDumpOnce) {
  const CrashRun r = RunCrash("two-threads", /*core=*/false);
  ExpectCrash(r, SIGSEGV, false);
  int reports = 0;
  for (absl::string_view line : absl::StrSplit(r.err, '\n')) {
    reports += absl::StartsWith(line, "gentrace: caught");
  }
  EXPECT_EQ(reports, 1) << r.err;
}

TEST(CrashHandlerTest, HangingCallbackIsCutOffAtTheDeadline) {
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer holds asynchronous signals back until the thread
  // passes one of its interceptors that may deliver them; a callback
  // blocked in a lock never does, so the watchdog cannot fire.
  GTEST_SKIP() << "the watchdog signal is deferred under ThreadSanitizer";
#endif
  // dump_timeout is 1 s in this mode; the hanging callback runs after the
  // ring's, which has written the dump by then.
  const CrashRun r = RunCrash("callback-hang", /*core=*/false);
  ExpectCrash(r, SIGSEGV, false);
  EXPECT_THAT(r.err, HasSubstr("1 dump callback(s) abandoned; dump timed out"));
  EXPECT_LT(r.elapsed, absl::Seconds(30));
}

}  // namespace
}  // namespace gentrace
