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

using tools::ProcessResult;
using tools::RunGentrace;

std::string GoBinary() {
  const std::string root = conformance::GoRoot();
  return root.empty() ? "" : root + "/bin/go";
}

// The integer after `"key": ` at the first occurrence after `anchor`; -1
// if absent.
int64_t JsonInt(const std::string& json, const std::string& anchor,
                const std::string& key) {
  size_t p = json.find(anchor);
  if (p == std::string::npos) return -1;
  const std::string k = absl::StrCat("\"", key, "\": ");
  p = json.find(k, p);
  if (p == std::string::npos) return -1;
  p += k.size();
  size_t e = p;
  while (e < json.size() && (isdigit(json[e]) || json[e] == '-')) ++e;
  int64_t v = -1;
  if (!absl::SimpleAtoi(json.substr(p, e - p), &v)) return -1;
  return v;
}

// The sums of the two sample values `go tool pprof -raw` reads from the
// profile at `path` ({-1, -1} on failure).
std::vector<int64_t> RawSums(const std::string& go, const std::string& path) {
  absl::StatusOr<ProcessResult> raw =
      tools::RunProcess(go, {"tool", "pprof", "-raw", path});
  if (!raw.ok() || raw->exit_code != 0) {
    ADD_FAILURE() << "go tool pprof -raw " << path << ": "
                  << (raw.ok() ? raw->stderr_data : raw.status().ToString());
    return {-1, -1};
  }
  // "Samples:", a header line, then "  V1  V2: LOCATIONS" lines (label
  // lines have brackets), then "Locations".
  std::vector<int64_t> sums = {0, 0};
  bool in_samples = false;
  for (absl::string_view line : absl::StrSplit(raw->stdout_data, '\n')) {
    if (absl::StartsWith(line, "Samples:")) {
      in_samples = true;
      continue;
    }
    if (absl::StartsWith(line, "Locations")) break;
    if (!in_samples || !absl::StrContains(line, ":") ||
        absl::StrContains(line, "[")) {
      continue;
    }
    std::vector<absl::string_view> f =
        absl::StrSplit(line.substr(0, line.find(':')), ' ', absl::SkipEmpty());
    if (f.size() != 2) continue;
    for (int i = 0; i < 2; ++i) {
      int64_t v = 0;
      EXPECT_TRUE(absl::SimpleAtoi(f[i], &v)) << line;
      sums[i] += v;
    }
  }
  return sums;
}

TEST(PprofGoTest, AgreesWithGoToolTraceAndStats) {
  const std::string go = GoBinary();
  if (go.empty()) {
    GENTRACE_SKIP_GO_CHECK("no Go installation (GENTRACE_GOROOT)");
  }
  const std::string dir = conformance::TempDir("pprof-go");
  const std::vector<std::string> env = {
      absl::StrCat("GOCACHE=", conformance::GoCacheDir()),
      "GOFLAGS=", "GOENV=off", "GOTOOLCHAIN=local", "CGO_ENABLED=0"};
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
