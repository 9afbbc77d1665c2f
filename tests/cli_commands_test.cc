// `gentrace stats` and `gentrace cut` on real traces the test makes: the
// demo program's (gentrace's tracer) and a Go program's (Go's runtime,
// tests/data/go/programs/stats).
//
// stats: its counts agree with what the programs themselves say they did,
// and its go_pprof totals with `go tool trace -pprof=net|sync|syscall|
// sched` on the same trace (read back with `go tool pprof -raw`), within
// 1%. cut: every window of whole generations of each trace reads with our
// reader, holds exactly the events those generations hold in the whole
// trace, and parses with Go's parser; windows outside the trace are
// errors.
//
// The Go program needs Go (GENTRACE_GOROOT or /usr/lib/go-1.23), Go's
// parser the Go reference tool (GENTRACE_GOTOOL); what is left out without
// them is recorded as a skipped Go check.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/interop/go_tool.h"
#include "tests/reader_conformance/conformance_util.h"
#include "tools/gentrace/test_process.h"

namespace gentrace {
namespace {

using tools::JsonInt;
using tools::ProcessResult;
using tools::RunGentrace;

// The first integer in `text` after `before`.
int64_t IntAfter(const std::string& text, absl::string_view before) {
  size_t p = text.find(std::string(before));
  if (p == std::string::npos) return -1;
  p += before.size();
  size_t e = p;
  while (e < text.size() && isdigit(text[e])) ++e;
  int64_t v = -1;
  if (!absl::SimpleAtoi(text.substr(p, e - p), &v)) return -1;
  return v;
}

// The integer that ends just before `after` in `text`.
int64_t IntBefore(const std::string& text, absl::string_view after) {
  const size_t e = text.find(std::string(after));
  if (e == std::string::npos) return -1;
  size_t p = e;
  while (p > 0 && isdigit(text[p - 1])) --p;
  int64_t v = -1;
  if (!absl::SimpleAtoi(text.substr(p, e - p), &v)) return -1;
  return v;
}

// Events of each generation of a trace, from `gentrace dump`, and the
// first and last event's time of each.
struct GenEvents {
  std::vector<int64_t> count, start, end;
};
GenEvents EventsByGeneration(const std::string& path) {
  GenEvents g;
  ProcessResult d = RunGentrace({"dump", path});
  EXPECT_EQ(d.exit_code, 0) << d.stderr_data;
  bool fresh = true;
  for (absl::string_view line : absl::StrSplit(d.stdout_data, '\n')) {
    if (line.empty() || absl::StartsWith(line, "END")) continue;
    const int64_t t = IntAfter(std::string(line), " t=");
    if (fresh) {
      g.count.push_back(0);
      g.start.push_back(t);
      g.end.push_back(t);
      fresh = false;
    }
    ++g.count.back();
    g.end.back() = t;
    if (absl::StartsWith(line, "Sync ")) fresh = true;
  }
  return g;
}

// The total delay of `go tool trace -pprof=MODE path`, summed from
// `go tool pprof -raw`; -1 if Go's tools failed.
int64_t GoPprofTotal(const std::string& go, const std::string& path,
                     const std::string& mode) {
  absl::StatusOr<ProcessResult> p = tools::RunProcess(
      go, {"tool", "trace", absl::StrCat("-pprof=", mode), path});
  if (!p.ok() || p->exit_code != 0) {
    ADD_FAILURE() << "go tool trace -pprof=" << mode << ": "
                  << (p.ok() ? p->stderr_data : p.status().ToString());
    return -1;
  }
  const std::string prof = tools::TestTempPath(absl::StrCat(mode, ".pprof"));
  EXPECT_TRUE(tools::WriteFile(prof, p->stdout_data));
  // The sample values are contentions/count and delay/nanoseconds.
  absl::StatusOr<std::vector<int64_t>> sums = tools::PprofRawSums(go, prof);
  if (!sums.ok()) {
    ADD_FAILURE() << sums.status();
    return -1;
  }
  return sums->size() >= 2 ? (*sums)[1] : 0;
}

std::string GoBinary() {
  const std::string root = conformance::GoRoot();
  return root.empty() ? "" : root + "/bin/go";
}

// stats' go_pprof_ns against go tool trace -pprof, within 1%.
void CompareWithGoPprof(const std::string& path, const std::string& json) {
  const std::string go = GoBinary();
  if (go.empty()) {
    interop::RecordGoCheckSkipped("go tool trace -pprof: no Go installation");
    return;
  }
  int64_t nonzero = 0;
  for (const char* mode : {"net", "sync", "syscall", "sched"}) {
    const int64_t ours = JsonInt(json, "\"go_pprof_ns\"", mode);
    const int64_t theirs = GoPprofTotal(go, path, mode);
    ASSERT_GE(theirs, 0);
    EXPECT_LE(std::abs(ours - theirs), theirs / 100)
        << mode << ": stats " << ours << " ns, go tool trace " << theirs
        << " ns";
    if (theirs > 0) ++nonzero;
    std::printf("-pprof=%s: stats %lld ns, go tool trace %lld ns\n", mode,
                static_cast<long long>(ours), static_cast<long long>(theirs));
  }
  EXPECT_GE(nonzero, 2);  // the comparison compared something
}

// Every window of whole generations, and windows outside the trace.
void CheckEveryWindow(const std::string& path, const std::string& name) {
  const GenEvents all = EventsByGeneration(path);
  const int n = static_cast<int>(all.count.size());
  ASSERT_GE(n, 3) << "want a multi-generation trace";
  std::printf("%s: %d generations, %d windows\n", name.c_str(), n,
              n * (n + 1) / 2);
  const bool go = interop::GoCheckEnabled(
      absl::StrCat("Go's parser on the windows cut from ", name));
  for (int from = 1; from <= n; ++from) {
    for (int to = from; to <= n; ++to) {
      SCOPED_TRACE(absl::StrCat(name, " generations ", from, " to ", to));
      const std::string out =
          tools::TestTempPath(absl::StrCat(name, "-", from, "-", to));
      ProcessResult r =
          RunGentrace({"cut", path, out, absl::StrCat("--from-gen=", from),
                       absl::StrCat("--to-gen=", to)});
      ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
      int64_t want = 0;
      for (int g = from; g <= to; ++g) want += all.count[g - 1];
      r = RunGentrace({"validate", out});
      EXPECT_EQ(r.stdout_data, absl::StrCat("OK: ", want, " events, ",
                                            to - from + 1, " generations\n"));
      if (go) {
        absl::StatusOr<interop::GoValidateResult> v = interop::GoValidate(out);
        ASSERT_TRUE(v.ok()) << v.status();
        EXPECT_TRUE(v->ok) << v->output;
      }
    }
  }
  // By time: the inside of generation k's span is generation k alone.
  const int k = n / 2 + 1;
  const std::string out = tools::TestTempPath(name + "-time");
  ProcessResult r = RunGentrace(
      {"cut", path, out,
       absl::StrCat("--from=", all.start[k - 1] + 1 - all.start[0], "ns"),
       absl::StrCat("--to=", all.end[k - 1] - 1 - all.start[0], "ns")});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  r = RunGentrace({"validate", out});
  EXPECT_EQ(r.stdout_data,
            absl::StrCat("OK: ", all.count[k - 1], " events, 1 generations\n"));
  // From the start to 0: the first generation.
  r = RunGentrace({"cut", path, out, "--to=0s"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(RunGentrace({"validate", out}).stdout_data,
            absl::StrCat("OK: ", all.count[0], " events, 1 generations\n"));

  // Outside the trace.
  r = RunGentrace({"cut", path, out, absl::StrCat("--from-gen=", n + 1)});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.stderr_data,
            absl::StrCat("gentrace cut: generations ", n + 1,
                         " to the end are not in ", path, ", which has ", n,
                         " (1 to ", n, ")\n"));
  r = RunGentrace({"cut", path, out, "--from=1h"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StartsWith(
      r.stderr_data, absl::StrCat("gentrace cut: no generation of ", path,
                                  " lies between 1h and the end; it lasts ")))
      << r.stderr_data;
  EXPECT_EQ(
      RunGentrace({"cut", path, out, "--from-gen=3", "--to-gen=2"}).exit_code,
      2);
  EXPECT_EQ(
      RunGentrace({"cut", path, out, "--from-gen=1", "--to=1s"}).exit_code, 2);
  EXPECT_EQ(RunGentrace({"cut", path, out}).exit_code, 2);
}

// The demo program, traced by gentrace.
class DemoTraceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    trace_ = new std::string(tools::TestTempPath("demo.trace"));
    absl::StatusOr<ProcessResult> demo = tools::RunProcess(
        "tools/demo/demo",
        {absl::StrCat("--out=", *trace_), "--seconds=1", "--period_ms=150"});
    ASSERT_TRUE(demo.ok()) << demo.status();
    ASSERT_EQ(demo->exit_code, 0) << demo->stderr_data;
    out_ = new std::string(demo->stdout_data);
  }
  static std::string* trace_;
  static std::string* out_;  // what the demo printed
};
std::string* DemoTraceTest::trace_ = nullptr;
std::string* DemoTraceTest::out_ = nullptr;

TEST_F(DemoTraceTest, StatsAgreesWithTheProgram) {
  ProcessResult r = RunGentrace({"stats", "--json", *trace_});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  const std::string& j = r.stdout_data;
  // "demo: recorded N requests (H cache hits, M misses) on T threads",
  // "demo: G generations, ...", "demo: S CPU samples (L lost)".
  const std::string& out = *out_;
  const int64_t requests = IntAfter(out, "demo: recorded ");
  ASSERT_GT(requests, 0) << out;
  EXPECT_EQ(JsonInt(j, "{\"name\": \"request\"", "count"), requests);
  EXPECT_EQ(JsonInt(j, "{\"name\": \"request\"", "unfinished"), 0);
  for (const char* region : {"accept", "parse", "cache", "compute", "io"}) {
    EXPECT_EQ(JsonInt(j, absl::StrCat("{\"name\": \"", region, "\""), "count"),
              requests)
        << region;
  }
  EXPECT_EQ(JsonInt(j, "{\"category\": \"cache hit\"", "count"),
            IntAfter(out, "requests ("));
  EXPECT_EQ(JsonInt(j, "{\"category\": \"cache miss\"", "count"),
            IntAfter(out, "cache hits, "));
  EXPECT_EQ(JsonInt(j, "", "generations_complete"),
            IntBefore(out, " generations, "));
  const int64_t cpu = IntBefore(out, " CPU samples (");
  ASSERT_GE(cpu, 0) << out;
  EXPECT_EQ(JsonInt(j, "\"cpu\"", "samples"), cpu);
  EXPECT_EQ(JsonInt(j, "\"cpu\"", "samples_recorded"), cpu);
  EXPECT_EQ(JsonInt(j, "\"cpu\"", "samples_lost"),
            IntAfter(out, " CPU samples ("));
  EXPECT_TRUE(absl::StrContains(j, "\"sources\": [\"thread-timer\"")) << j;
  for (int w = 0; w < 4; ++w) {
    EXPECT_TRUE(absl::StrContains(
        j, absl::StrCat("\"name\": \"worker-", w, "\", \"goroutine\": ")))
        << w;
  }
  // The workers block on the queue's condition variable.
  EXPECT_GT(JsonInt(j, "\"totals\"", "sync.(*Cond).Wait"), 0) << j;
  CompareWithGoPprof(*trace_, j);
}

TEST_F(DemoTraceTest, CutEveryWindow) { CheckEveryWindow(*trace_, "demo"); }

// The demo with two perf events at once in the signal-free mode (cpu-clock
// the primary, every page fault the secondary): per event, stats --json,
// dump --event-samples (our reader), pprof --type=cpu (read back by Go's
// pprof) and the demo's own Stats give the same counts.
TEST(DemoEventsTest, StatsDumpAndPprofAgreePerEvent) {
  const std::string trace = tools::TestTempPath("demo_events.trace");
  absl::StatusOr<ProcessResult> demo = tools::RunProcess(
      "tools/demo/demo",
      {absl::StrCat("--out=", trace), "--seconds=1", "--period_ms=150",
       "--cpu_hz=1000", "--cpu-ring", "--cpu-events=cpu-clock,page-faults@1"});
  ASSERT_TRUE(demo.ok()) << demo.status();
  ASSERT_EQ(demo->exit_code, 0) << demo->stderr_data;
  // "demo: S CPU samples (L lost)", then per event
  // "demo: event NAME: N samples (L lost)".
  const std::string& out = demo->stdout_data;
  const int64_t cpu = IntBefore(out, " CPU samples (");
  const size_t at = out.find("demo: event page-faults: ");
  ASSERT_NE(at, std::string::npos) << out;
  const std::string faults_line = out.substr(at, out.find('\n', at) - at);
  const int64_t faults = IntAfter(faults_line, "page-faults: ");
  const int64_t faults_lost = IntAfter(faults_line, "samples (");
  ASSERT_GT(cpu, 0) << out;
  ASSERT_GT(faults, 0) << out;
  EXPECT_EQ(IntAfter(out, "demo: event cpu-clock: "), cpu) << out;

  ProcessResult r = RunGentrace({"stats", "--json", trace});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  const std::string& j = r.stdout_data;
  EXPECT_EQ(JsonInt(j, "\"cpu_samples_by_event\"", "cpu-clock"), cpu) << j;
  EXPECT_EQ(JsonInt(j, "\"cpu_samples_by_event\"", "page-faults"), faults) << j;
  EXPECT_EQ(JsonInt(j, "\"cpu_events\": [{\"name\": \"cpu-clock\"", "samples"),
            cpu);
  EXPECT_EQ(JsonInt(j, "{\"name\": \"page-faults\"", "samples"), faults);
  EXPECT_EQ(JsonInt(j, "{\"name\": \"page-faults\"", "lost"), faults_lost);
  EXPECT_EQ(JsonInt(j, "\"cpu\"", "samples"), cpu);

  // Our reader's event samples, one line each.
  r = RunGentrace({"dump", "--event-samples", trace});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  int64_t lines = 0;
  for (absl::string_view line : absl::StrSplit(r.stdout_data, '\n')) {
    if (!absl::StartsWith(line, "EventSample ")) continue;
    ++lines;
    EXPECT_TRUE(absl::StrContains(line, " p=-1 g=-1 event=\"page-faults\" "))
        << line;
  }
  EXPECT_EQ(lines, faults);
  // Without the flag, the dump is Go's: no such lines.
  r = RunGentrace({"dump", trace});
  EXPECT_FALSE(absl::StrContains(r.stdout_data, "EventSample ")) << "plain";

  // pprof: samples, cpu, then page-faults/events (a fault per sample).
  const std::string prof = tools::TestTempPath("demo_events.pb.gz");
  r = RunGentrace({"pprof", trace, prof, "--type=cpu"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  const std::string go = GoBinary();
  if (go.empty()) {
    interop::RecordGoCheckSkipped("go tool pprof -raw: no Go installation");
    return;
  }
  absl::StatusOr<std::vector<int64_t>> sums = tools::PprofRawSums(go, prof);
  ASSERT_TRUE(sums.ok()) << sums.status();
  ASSERT_EQ(sums->size(), 3u);
  EXPECT_EQ((*sums)[0], cpu);
  EXPECT_EQ((*sums)[1], cpu * 1'000'000);  // 1 ms of CPU time each
  EXPECT_EQ((*sums)[2], faults);
  absl::StatusOr<ProcessResult> types =
      tools::RunProcess(go, {"tool", "pprof", "-raw", prof});
  ASSERT_TRUE(types.ok()) << types.status();
  EXPECT_TRUE(absl::StrContains(
      types->stdout_data, "samples/count cpu/nanoseconds page-faults/events"))
      << types->stdout_data.substr(0, 300);
}

// The Go program, traced by Go's runtime.
class GoTraceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string go = GoBinary();
    if (go.empty()) return;
    const std::string dir = conformance::TempDir("stats-go");
    const std::vector<std::string> env =
        conformance::GoEnv({"GODEBUG=traceadvanceperiod=25000000"});
    absl::StatusOr<conformance::ProcessOutput> b =
        conformance::RunProgram({go, "build", "-o", dir + "/stats",
                                 "tests/data/go/programs/stats/main.go"},
                                env);
    ASSERT_TRUE(b.ok()) << b.status();
    ASSERT_EQ(b->exit_code, 0) << b->output;
    trace_ = new std::string(dir + "/go.trace");
    // The runtime starts a generation every 25 ms (GODEBUG above); the
    // program runs until enough time has passed for several, and again
    // for longer should the machine have starved the runtime's advancer.
    for (int min_ms = 150; min_ms <= 1200; min_ms *= 2) {
      absl::StatusOr<conformance::ProcessOutput> r = conformance::RunProgram(
          {dir + "/stats", *trace_, "10", absl::StrCat(min_ms)}, env);
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_EQ(r->exit_code, 0) << r->output;
      rounds_ = IntAfter(r->output, "rounds=");
      ASSERT_GE(rounds_, 10) << r->output;
      if (IntBefore(RunGentrace({"validate", *trace_}).stdout_data,
                    " generations") >= 3) {
        break;
      }
    }
  }
  void SetUp() override {
    if (GoBinary().empty()) {
      GENTRACE_SKIP_GO_CHECK("no Go installation (GENTRACE_GOROOT)");
    }
    ASSERT_NE(trace_, nullptr);
  }
  static std::string* trace_;
  static int64_t rounds_;  // the program's rounds
};
std::string* GoTraceTest::trace_ = nullptr;
int64_t GoTraceTest::rounds_ = 0;

TEST_F(GoTraceTest, StatsAgreesWithTheProgramAndGoToolTrace) {
  ProcessResult r = RunGentrace({"stats", "--json", *trace_});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  const std::string& j = r.stdout_data;
  // Per round: one task, 4 "locked", one "receive", one "io" region, a
  // "round" and a "select" log.
  const int64_t rounds = rounds_;
  EXPECT_EQ(JsonInt(j, "{\"name\": \"round\"", "count"), rounds);
  EXPECT_EQ(JsonInt(j, "{\"name\": \"locked\"", "count"), 4 * rounds);
  EXPECT_EQ(JsonInt(j, "{\"name\": \"receive\"", "count"), rounds);
  EXPECT_EQ(JsonInt(j, "{\"name\": \"io\"", "count"), rounds);
  EXPECT_EQ(JsonInt(j, "{\"category\": \"round\"", "count"), rounds);
  EXPECT_EQ(JsonInt(j, "{\"category\": \"select\"", "count"), rounds);
  EXPECT_GE(JsonInt(j, "", "generations_complete"), 3);
  // Each round sleeps 1 ms holding the lock the 4 goroutines wait for.
  EXPECT_GE(JsonInt(j, "\"totals\"", "sync"), 4 * rounds * 900'000);
  EXPECT_GT(JsonInt(j, "\"totals\"", "syscall_ns"), 0);
  CompareWithGoPprof(*trace_, j);
}

TEST_F(GoTraceTest, CutEveryWindow) { CheckEveryWindow(*trace_, "go"); }

}  // namespace
}  // namespace gentrace
