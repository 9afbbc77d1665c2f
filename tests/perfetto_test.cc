// `gentrace perfetto` on real traces the test makes: the demo program's
// (gentrace's tracer: threads, a condition variable, tasks, regions, logs,
// CPU samples, several generations) and a Go program's (Go's runtime,
// tests/data/go/programs/stats). Each export is decoded by the tests' own
// decoder, which checks the format's rules (every slice ends on its track,
// nesting, times in order, flows, interning across generations), and by
// protoc with the test schema; its regions, tasks, logs, samples, state
// slices, wakeup flows and threads are compared with `gentrace dump` and
// `gentrace stats --json` of the same trace (tools/gentrace/
// perfetto_test_decoder.h), and with what the demo says it did.
//
// The traces themselves are checked by our reader (dump and stats read
// them to their end) and by Go's parser when the Go reference tool is
// available (GENTRACE_GOTOOL); the Go program needs Go
// (GENTRACE_GOROOT or /usr/lib/go-1.23).
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/interop/go_tool.h"
#include "tests/reader_conformance/conformance_util.h"
#include "tools/gentrace/perfetto_test_decoder.h"
#include "tools/gentrace/test_process.h"

namespace gentrace {
namespace {

using tools::DecodedPerfetto;
using tools::ProcessResult;

// The integer that ends just before `after` in `text`; -1 if none.
int64_t IntBefore(const std::string& text, const std::string& after) {
  const size_t e = text.find(after);
  if (e == std::string::npos) return -1;
  size_t p = e;
  while (p > 0 && isdigit(static_cast<unsigned char>(text[p - 1]))) --p;
  int64_t v = -1;
  if (!absl::SimpleAtoi(text.substr(p, e - p), &v)) return -1;
  return v;
}

void ValidateWithGo(const std::string& path) {
  if (!interop::GoCheckEnabled("Go's parser on the trace")) return;
  absl::StatusOr<interop::GoValidateResult> v = interop::GoValidate(path);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->ok) << v->output;
}

int64_t Count(const DecodedPerfetto& d, const std::string& slice) {
  int64_t n = 0;
  for (const tools::PerfettoSlice& s : d.slices) n += s.name == slice;
  return n;
}

TEST(PerfettoTest, DemoTrace) {
  const std::string trace = tools::TestTempPath("perfetto_demo.trace");
  absl::StatusOr<ProcessResult> demo = tools::RunProcess(
      "tools/demo/demo",
      {absl::StrCat("--out=", trace), "--seconds=1", "--period_ms=150"});
  ASSERT_TRUE(demo.ok()) << demo.status();
  ASSERT_EQ(demo->exit_code, 0) << demo->stderr_data;
  ValidateWithGo(trace);
  const DecodedPerfetto d =
      tools::ExportAndDecode(trace, tools::TestTempPath("perfetto_demo.pb"));
  tools::ExpectMatchesTrace(d, trace);

  // What the demo says it did: "demo: recorded N requests ...", "demo: S
  // CPU samples (L lost)"; four named workers.
  const std::string& out = demo->stdout_data;
  const int64_t requests = IntBefore(out, " requests (");
  ASSERT_GT(requests, 0) << out;
  EXPECT_EQ(Count(d, "request"), requests);
  for (const char* region : {"accept", "parse", "cache", "compute", "io"}) {
    EXPECT_EQ(Count(d, region), requests) << region;
  }
  EXPECT_EQ(static_cast<int64_t>(d.samples.size()),
            IntBefore(out, " CPU samples ("));
  for (int w = 0; w < 4; ++w) {
    EXPECT_GT(d.Tid(absl::StrCat("worker-", w)), 0) << w;
  }
  // Workers wait on the queue's condition variable. Each wakes its own
  // goroutine once notified (GoUnblock with no goroutine running), so
  // there is no waker to draw an arrow from: ExpectMatchesTrace has
  // counted the flows (none) from the dump.
  EXPECT_GT(Count(d, "blocked: sync.(*Cond).Wait"), 0);
}

TEST(PerfettoTest, GoProgramTrace) {
  const std::string root = conformance::GoRoot();
  if (root.empty()) {
    GENTRACE_SKIP_GO_CHECK("no Go installation (GENTRACE_GOROOT)");
  }
  const std::string dir = conformance::TempDir("perfetto-go");
  const std::vector<std::string> env =
      conformance::GoEnv({"GODEBUG=traceadvanceperiod=25000000"});
  absl::StatusOr<conformance::ProcessOutput> b =
      conformance::RunProgram({root + "/bin/go", "build", "-o", dir + "/stats",
                               "tests/data/go/programs/stats/main.go"},
                              env);
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(b->exit_code, 0) << b->output;
  const std::string trace = dir + "/go.trace";
  absl::StatusOr<conformance::ProcessOutput> r =
      conformance::RunProgram({dir + "/stats", trace, "10", "150"}, env);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit_code, 0) << r->output;
  ValidateWithGo(trace);
  const DecodedPerfetto d =
      tools::ExportAndDecode(trace, tools::TestTempPath("perfetto_go.pb"));
  tools::ExpectMatchesTrace(d, trace);

  // Per round the program has one task "round" and four "locked", one
  // "receive" and one "io" region (tests/data/go/programs/stats).
  const size_t p = r->output.find("rounds=");
  ASSERT_NE(p, std::string::npos) << r->output;
  int64_t rounds = 0;
  ASSERT_TRUE(absl::SimpleAtoi(
      r->output.substr(
          p + 7, r->output.find_first_not_of("0123456789", p + 7) - (p + 7)),
      &rounds))
      << r->output;
  ASSERT_GE(rounds, 10);
  EXPECT_EQ(Count(d, "round"), rounds);
  EXPECT_EQ(Count(d, "locked"), 4 * rounds);
  EXPECT_EQ(Count(d, "receive"), rounds);
  EXPECT_EQ(Count(d, "io"), rounds);
  // Goroutines are threads with synthetic ids, named G<id> ...
  int goroutine_tracks = 0;
  for (const auto& [uuid, t] : d.tracks) {
    if (t.thread && t.tid > (int64_t{1} << 22)) {
      ++goroutine_tracks;
      EXPECT_EQ(t.thread_name.substr(0, 1), "G") << t.thread_name;
    }
  }
  EXPECT_GE(goroutine_tracks, 5);
  EXPECT_GT(d.flows_ended, 0u);
}

}  // namespace
}  // namespace gentrace
