// `gentrace pprof --type=block|syscall|sched|region` on a trace Go's runtime
// wrote (tests/data/go/programs/stats, as cli_commands_test runs it): the
// profiles `go tool pprof -raw` reads from our output total what it reads
// from `go tool trace -pprof=sync|syscall|sched` on the same trace, and
// what `gentrace stats --json` reports (go_pprof_ns; region counts and
// times).
//
// Needs Go (GENTRACE_GOROOT or /usr/lib/go-1.23); without it the test is
// skipped and the skip recorded (go_tool.h).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/interop/go_tool.h"
#include "tests/reader_conformance/conformance_util.h"
#include "tools/gentrace/test_process.h"

namespace gentrace {
namespace {

using tools::JsonInt;
using tools::ProcessResult;
using tools::RunGentrace;

std::string GoBinary() {
  const std::string root = conformance::GoRoot();
  return root.empty() ? "" : root + "/bin/go";
}

// The sums of the two sample values `go tool pprof -raw` reads from the
// profile at `path` ({-1, -1} on failure).
std::vector<int64_t> RawSums(const std::string& go, const std::string& path) {
  absl::StatusOr<std::vector<int64_t>> sums = tools::PprofRawSums(go, path);
  if (!sums.ok()) {
    ADD_FAILURE() << sums.status();
    return {-1, -1};
  }
  EXPECT_LE(sums->size(), 2u) << path << ": more than two sample values";
  sums->resize(2);  // {0, 0} for a profile without samples
  return *sums;
}

TEST(PprofGoTest, AgreesWithGoToolTraceAndStats) {
  const std::string go = GoBinary();
  if (go.empty()) {
    GENTRACE_SKIP_GO_CHECK("no Go installation (GENTRACE_GOROOT)");
  }
  const std::string dir = conformance::TempDir("pprof-go");
  const std::vector<std::string> env = conformance::GoEnv();
  absl::StatusOr<conformance::ProcessOutput> b =
      conformance::RunProgram({go, "build", "-o", dir + "/stats",
                               "tests/data/go/programs/stats/main.go"},
                              env);
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(b->exit_code, 0) << b->output;
  const std::string trace = dir + "/go.trace";
  absl::StatusOr<conformance::ProcessOutput> p =
      conformance::RunProgram({dir + "/stats", trace, "10", "150"}, env);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->exit_code, 0) << p->output;

  ProcessResult stats = RunGentrace({"stats", "--json", trace});
  ASSERT_EQ(stats.exit_code, 0) << stats.stderr_data;
  const std::string& json = stats.stdout_data;
  int nonzero = 0;
  for (const auto& [ours, theirs] :
       std::vector<std::pair<std::string, std::string>>{
           {"block", "sync"}, {"syscall", "syscall"}, {"sched", "sched"}}) {
    SCOPED_TRACE(ours);
    const std::string out = absl::StrCat(dir, "/", ours, ".pb.gz");
    ProcessResult r = RunGentrace({"pprof", trace, out, "--type=" + ours});
    ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
    absl::StatusOr<ProcessResult> t = tools::RunProcess(
        go, {"tool", "trace", absl::StrCat("-pprof=", theirs), trace});
    ASSERT_TRUE(t.ok()) << t.status();
    ASSERT_EQ(t->exit_code, 0) << t->stderr_data;
    const std::string go_out = absl::StrCat(dir, "/go-", theirs, ".pprof");
    ASSERT_TRUE(tools::WriteFile(go_out, t->stdout_data));
    const std::vector<int64_t> mine = RawSums(go, out);
    const std::vector<int64_t> go_sums = RawSums(go, go_out);
    std::printf(
        "%s: gentrace pprof %lld intervals %lld ns, go tool trace "
        "%lld intervals %lld ns, stats %lld ns\n",
        ours.c_str(), static_cast<long long>(mine[0]),
        static_cast<long long>(mine[1]), static_cast<long long>(go_sums[0]),
        static_cast<long long>(go_sums[1]),
        static_cast<long long>(JsonInt(json, "\"go_pprof_ns\"", theirs)));
    EXPECT_EQ(mine[1], JsonInt(json, "\"go_pprof_ns\"", theirs));
    EXPECT_EQ(mine, go_sums);
    if (go_sums[1] > 0) ++nonzero;
  }
  EXPECT_GE(nonzero, 2);  // the comparison compared something

  // Regions: per round one "receive" and one "io" region, 4 "locked".
  const std::string out = dir + "/region.pb.gz";
  ProcessResult r = RunGentrace({"pprof", trace, out, "--type=region"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  int64_t count = 0, total = 0;
  for (const char* name : {"locked", "receive", "io"}) {
    const std::string anchor = absl::StrCat("{\"name\": \"", name, "\"");
    count += JsonInt(json, anchor, "count");
    total += JsonInt(json, anchor, "total_ns");
  }
  EXPECT_GE(count, 60);
  EXPECT_EQ(RawSums(go, out), (std::vector<int64_t>{count, total}));
}

}  // namespace
}  // namespace gentrace
