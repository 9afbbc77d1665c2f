// The reader on real traces of Go programs: each program in
// tests/data/go/programs is built with the Go toolchain and run with several
// generations per trace (GODEBUG=traceadvanceperiod), and our reader's
// event dump must be one Go's reader gives (tests/go/gotool.go dump): the
// same lines but for the order Go picks among equal times and the times it
// then gives them (CompareWithGo). Every event must also pass the
// validator, and the trace must read the same from a file, a buffer and
// zstd-compressed data.
//
// "killed" is SIGKILLed while it traces: both readers must deliver the same
// complete generations and then fail.
//
// Needs Go (GENTRACE_GOROOT or /usr/lib/go-1.23) and the Go reference tool
// (GENTRACE_GOTOOL); skipped otherwise. cgocallback also needs a C
// compiler.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "reader/dump.h"
#include "reader/reader.h"
#include "reader/validator.h"
#include "tests/interop/go_tool.h"
#include "tests/reader_conformance/conformance_util.h"

namespace gentrace::conformance {
namespace {

constexpr char kProgramDir[] = "tests/data/go/programs";

struct Program {
  const char* name;
  const char* godebug;  // added to GODEBUG
  bool cgo;
  bool go122;  // built with Go 1.22 (its runtime writes "go 1.22 trace")
  // Text that must occur in the dump, and how often at least.
  const char* must_contain;
  int min_count;
  int min_generations;
};

const Program kPrograms[] = {
    {"cpuprofile", "", false, false, "StackSample ", 5, 2},
    {"blocking", "", false, false, "reason=\"sleep\"", 100, 1},
    {"syscalls", "", false, false, "from=Syscall to=Runnable", 1, 2},
    {"annotations", "", false, false, "RegionBegin ", 16, 1},
    {"manygoroutines", "", false, false, "from=NotExist to=Runnable", 20000, 2},
    {"iterpull", "", false, false, "from=NotExist to=Waiting", 50, 1},
    {"gomaxprocs", "", false, false, "name=\"/sched/gomaxprocs:threads\"", 7,
     2},
    {"gc", "", false, false, "GC concurrent mark phase", 4, 2},
    {"gc", "traceallocfree=1", false, false, "Experimental ", 1000, 2},
    {"cgocallback", "", true, false, "from=NotExist to=Syscall", 8, 1},
    // The same programs under Go 1.22's runtime (no iter.Pull there).
    {"cpuprofile", "", false, true, "StackSample ", 5, 2},
    {"blocking", "", false, true, "reason=\"sleep\"", 100, 1},
    {"syscalls", "", false, true, "from=Syscall to=Runnable", 1, 2},
    {"annotations", "", false, true, "RegionBegin ", 16, 1},
    {"gc", "", false, true, "GC concurrent mark phase", 4, 2},
};

std::string ProgramName(const Program& p) {
  return absl::StrCat(p.name, *p.godebug ? "_allocfree" : "",
                      p.go122 ? "_go122" : "");
}

// Go 1.22, for traces its runtime writes: $GENTRACE_GOROOT_122, else
// /usr/lib/go-1.22; "" if not installed.
std::string GoRoot122() {
  const char* env = std::getenv("GENTRACE_GOROOT_122");
  for (const char* c : {env, "/usr/lib/go-1.22"}) {
    if (c != nullptr && *c != '\0' &&
        access(absl::StrCat(c, "/bin/go").c_str(), X_OK) == 0) {
      return c;
    }
  }
  return "";
}

class GoProgramsTest : public ::testing::TestWithParam<Program> {
 protected:
  void SetUp() override {
    GENTRACE_REQUIRE_GO_TOOL();
    goroot_ = GoRoot();
    if (goroot_.empty()) {
      GENTRACE_SKIP_GO_CHECK("no Go installation (GENTRACE_GOROOT)");
    }
    dir_ = TempDir("goprog");
    gocache_ = GoCacheDir();
  }

  std::vector<std::string> GoEnv(bool cgo) {
    return {absl::StrCat("GOCACHE=", gocache_, go122_ ? "-go122" : ""),
            absl::StrCat("GOPATH=", dir_, "/gopath"),
            absl::StrCat("HOME=", dir_),
            "GOFLAGS=",
            "GOENV=off",
            "GOTOOLCHAIN=local",
            "GOWORK=off",
            absl::StrCat("GOROOT=", goroot_),
            absl::StrCat("CGO_ENABLED=", cgo ? "1" : "0")};
  }

  // Builds programs/<name>/main.go into dir_/<name>; returns its path or "".
  std::string Build(const std::string& name, bool cgo) {
    const std::string bin = absl::StrCat(dir_, "/", name);
    absl::StatusOr<ProcessOutput> out =
        RunProgram({goroot_ + "/bin/go", "build", "-o", bin,
                    absl::StrCat(kProgramDir, "/", name, "/main.go")},
                   GoEnv(cgo));
    EXPECT_TRUE(out.ok()) << out.status();
    if (!out.ok()) return "";
    EXPECT_EQ(out->exit_code, 0) << "go build " << name << ":\n" << out->output;
    return out->exit_code == 0 ? bin : "";
  }

  std::string goroot_, dir_, gocache_;
  bool go122_ = false;
};

// Checks the dumps of one trace file; returns our dump.
std::string CheckTrace(const std::string& path, bool expect_ok) {
  const OurEvents events = ReadOurEventsFile(path);
  EXPECT_EQ(MatchGo(path, events), "");
  const std::string ours = events.Text();
  if (expect_ok) {
    EXPECT_TRUE(absl::EndsWith(ours, "END ok\n"))
        << ours.substr(ours.size() > 300 ? ours.size() - 300 : 0);
  }
  // The same from memory and from zstd-compressed memory.
  const std::string raw = ReadFile(path);
  EXPECT_EQ(OurDump(raw), ours);
  std::string z(ZSTD_compressBound(raw.size()), '\0');
  size_t n = ZSTD_compress(z.data(), z.size(), raw.data(), raw.size(), 1);
  EXPECT_FALSE(ZSTD_isError(n));
  z.resize(n);
  EXPECT_EQ(OurDump(z), ours);
  return ours;
}

TEST_P(GoProgramsTest, DumpEqualsGos) {
  const Program& p = GetParam();
  if (p.go122) {
    goroot_ = GoRoot122();
    if (goroot_.empty()) GENTRACE_SKIP_GO_CHECK("Go 1.22 is not installed");
    go122_ = true;
  }
  if (p.cgo && access("/usr/bin/gcc", X_OK) != 0 &&
      access("/usr/bin/cc", X_OK) != 0) {
    GTEST_SKIP() << "cgo needs a C compiler";
  }
  const std::string bin = Build(p.name, p.cgo);
  ASSERT_FALSE(bin.empty());
  const std::string trace = absl::StrCat(dir_, "/", ProgramName(p), ".trace");
  std::vector<std::string> env = GoEnv(p.cgo);
  env.push_back(absl::StrCat("GODEBUG=traceadvanceperiod=50000000",
                             *p.godebug ? "," : "", p.godebug));
  absl::StatusOr<ProcessOutput> out = RunProgram({bin, trace}, env);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->exit_code, 0) << out->output;

  EXPECT_EQ(ReadFile(trace).substr(0, 13),
            p.go122 ? "go 1.22 trace" : "go 1.23 trace");
  const std::string dump = CheckTrace(trace, /*expect_ok=*/true);
  int count = 0;
  for (size_t pos = 0;
       (pos = dump.find(p.must_contain, pos)) != std::string::npos; ++pos) {
    ++count;
  }
  EXPECT_GE(count, p.min_count) << p.must_contain;
  int syncs = 0;
  for (absl::string_view line : absl::StrSplit(dump, '\n')) {
    syncs += absl::StartsWith(line, "Sync ");
  }
  EXPECT_GE(syncs, p.min_generations);

  // Go's validator rules, on our events.
  absl::StatusOr<std::unique_ptr<reader::Reader>> r =
      reader::Reader::Open(trace);
  ASSERT_TRUE(r.ok());
  reader::Validator v;
  reader::Event ev;
  uint64_t n = 0;
  while ((*r)->ReadEvent(&ev)) {
    ++n;
    absl::Status s = v.Event(ev);
    ASSERT_TRUE(s.ok()) << "event #" << n << ": " << s;
  }
  EXPECT_TRUE((*r)->status().ok()) << (*r)->status();
}

INSTANTIATE_TEST_SUITE_P(Programs, GoProgramsTest,
                         ::testing::ValuesIn(kPrograms),
                         [](const ::testing::TestParamInfo<Program>& info) {
                           return ProgramName(info.param);
                         });

class KilledTracerTest : public GoProgramsTest {};

TEST_F(KilledTracerTest, CompleteGenerationsThenAnError) {
  const std::string bin = Build("killed", false);
  ASSERT_FALSE(bin.empty());
  const std::string trace = dir_ + "/killed.trace";
  std::vector<std::string> env = GoEnv(false);
  env.push_back("GODEBUG=traceadvanceperiod=20000000");
  // Kill it once the trace has grown past a few generations' worth.
  absl::StatusOr<ProcessOutput> out =
      RunProgram({bin, trace}, env, "", [&trace](pid_t pid) {
        struct stat st;
        if (stat(trace.c_str(), &st) == 0 && st.st_size > (1 << 20)) {
          kill(pid, SIGKILL);
          return false;
        }
        return true;
      });
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->term_signal, SIGKILL) << out->output;
  const std::string dump = CheckTrace(trace, /*expect_ok=*/false);
  // At least one complete generation before the broken tail.
  EXPECT_TRUE(absl::StrContains(dump, "\nSync ")) << dump.substr(0, 500);
}

}  // namespace
}  // namespace gentrace::conformance
