// The plumbing of `./dev bench` (tests/benchmark_suite.cc) on tiny inputs,
// so the command cannot rot: the real benchmark binaries (built here
// without -c opt) and Go's side run for a moment each, one round, reading
// a small trace; then out/bench.json must have every row, every key, and a
// ratio against Go for every operation Go has, `gentrace stats` against
// `go tool trace -d=1` included.
//
// Go's side (tests/go/tracer_benchmark and gotool) needs Go
// (GENTRACE_GOROOT or /usr/lib/go-1.23) and GENTRACE_GOTOOL; without them
// the Go column must be empty, and the skipped check is recorded.
#include <sys/stat.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/benchmark_json.h"
#include "tests/interop/go_tool.h"
#include "tests/reader_conformance/conformance_util.h"
#include "tracer/gentrace.h"
#include "tracer/internal/runtime.h"

namespace gentrace::bench {
namespace {

using conformance::ProcessOutput;
using conformance::RunProgram;

TEST(BenchmarkJsonTest, ReadsWhatGoogleBenchmarkAndGoWrite) {
  absl::StatusOr<Json> v = ParseJson(R"({"benchmarks": [
      {"name": "BM_X/mode:1", "real_time": 1.5e+01, "ns_per_event": 7.5e-09,
       "ok": true, "none": null, "s": "a\"\\\n\u00e9\ud83d\ude00"}],
      "n": -0.25})");
  ASSERT_TRUE(v.ok()) << v.status();
  const Json* list = v->Find("benchmarks");
  ASSERT_NE(list, nullptr);
  ASSERT_EQ(list->type, Json::kArray);
  ASSERT_EQ(list->array.size(), 1u);
  const Json& b = list->array[0];
  EXPECT_EQ(b.StringOr("name"), "BM_X/mode:1");
  EXPECT_DOUBLE_EQ(b.NumberOr("real_time", 0), 15);
  EXPECT_DOUBLE_EQ(b.NumberOr("ns_per_event", 0), 7.5e-9);
  EXPECT_TRUE(b.Find("ok")->boolean);
  EXPECT_EQ(b.Find("none")->type, Json::kNull);
  EXPECT_EQ(b.StringOr("s"), "a\"\\\n\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_DOUBLE_EQ(v->NumberOr("n", 0), -0.25);
  EXPECT_DOUBLE_EQ(v->NumberOr("missing", 3), 3);
}

TEST(BenchmarkJsonTest, RejectsWhatIsNotJson) {
  for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "01x", "\"\\ud800\"",
                          "[1] 2", "nul", "{\"a\":1,}", "\"\x01\""}) {
    EXPECT_FALSE(ParseJson(bad).ok()) << bad;
  }
}

TEST(BenchmarkJsonTest, QuotesAndNumbers) {
  EXPECT_EQ(JsonQuote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
  EXPECT_EQ(JsonNumber(1.5), "1.5");
  EXPECT_EQ(JsonNumber(std::nan("")), "null");
  EXPECT_EQ(JsonNumber(INFINITY), "null");
  absl::StatusOr<Json> round = ParseJson(JsonQuote("x\ty\"z"));
  ASSERT_TRUE(round.ok());
  EXPECT_EQ(round->string, "x\ty\"z");
}

// A small trace of several generations, written by gentrace.
std::string MakeTinyTrace(const std::string& dir) {
  std::string bytes;
  Options o;
  o.callback = [&bytes](absl::Span<const uint8_t> b) {
    bytes.append(reinterpret_cast<const char*>(b.data()), b.size());
    return absl::OkStatus();
  };
  if (!Start(o).ok()) return "";
  for (int gen = 0; gen < 3; ++gen) {
    for (int i = 0; i < 100; ++i) {
      ScopedRegion r("tiny");
      Log("tiny", "message");
    }
    if (!internal::AdvanceGenerationForTesting().ok()) return "";
  }
  if (!Stop().ok()) return "";
  const std::string path = dir + "/tiny.trace";
  return conformance::WriteFile(path, bytes) ? path : "";
}

// Go's side of the suite, built here; "" if Go is not installed.
std::string BuildGoBenchmark(const std::string& dir) {
  const std::string goroot = conformance::GoRoot();
  if (goroot.empty()) return "";
  const std::string bin = dir + "/go_tracer_benchmark";
  absl::StatusOr<ProcessOutput> b =
      RunProgram({goroot + "/bin/go", "build", "-o", bin,
                  "tests/go/tracer_benchmark/main.go"},
                 conformance::GoEnv({"HOME=" + dir}));
  EXPECT_TRUE(b.ok() && b->exit_code == 0)
      << (b.ok() ? b->output : b.status().ToString());
  return b.ok() && b->exit_code == 0 ? bin : "";
}

// The program `go tool trace` runs; "" if Go is not installed.
std::string GoTraceTool() {
  const std::string goroot = conformance::GoRoot();
  if (goroot.empty()) return "";
  absl::StatusOr<ProcessOutput> d = RunProgram(
      {goroot + "/bin/go", "env", "GOTOOLDIR"}, conformance::GoEnv());
  EXPECT_TRUE(d.ok() && d->exit_code == 0)
      << (d.ok() ? d->output : d.status().ToString());
  if (!d.ok() || d->exit_code != 0) return "";
  return std::string(absl::StripAsciiWhitespace(d->output)) + "/trace";
}

struct SuiteRun {
  ProcessOutput process;
  std::vector<Json> entries;
};

SuiteRun RunSuite(const std::string& dir, std::vector<std::string> extra_args) {
  SuiteRun run;
  std::vector<std::string> argv = {
      "tests/benchmark_suite",
      "--cpu=tests/cpu_sampling_benchmark",
      "--reader=tests/reader_benchmark",
      "--extra=tests/benchmark_suite_extra_benchmark",
      "--rounds=1",
      "--min_time=0.001",
      "--cpu_min_time=0.001",
      "--go_benchtime=1ms",
      "--out=" + dir + "/bench.json",
      "--raw_dir=" + dir + "/raw"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  absl::StatusOr<ProcessOutput> p = RunProgram(argv);
  EXPECT_TRUE(p.ok()) << p.status();
  if (!p.ok()) return run;
  run.process = *p;
  absl::StatusOr<Json> doc =
      ParseJson(conformance::ReadFile(dir + "/bench.json"));
  EXPECT_TRUE(doc.ok()) << doc.status();
  if (doc.ok()) {
    EXPECT_EQ(doc->type, Json::kArray);
    run.entries = doc->array;
  }
  return run;
}

const Json* Entry(const std::vector<Json>& entries, const std::string& name) {
  for (const Json& e : entries) {
    if (e.StringOr("name") == name) return &e;
  }
  return nullptr;
}

bool IsNumber(const Json* v) {
  return v != nullptr && v->type == Json::kNumber && std::isfinite(v->number);
}

// The rows of operations Go's tracer has too: each must compare with Go.
const char* const kGoRows[] = {
    "stack frames per event (stack rows)",
    "region begin+end, tracing off",
    "region begin+end, stack",
    "region begin+end, stack: bytes",
    "log, tracing off",
    "log, stack",
    "log, stack: bytes",
    "task begin+end, tracing off",
    "task begin+end, stack",
    "task begin+end, stack: bytes",
    "block + unblock, stack",
    "block + unblock, stack: bytes",
    "syscall enter + exit, stack",
    "syscall enter + exit, stack: bytes",
    "fiber switch (coroutine), stack",
    "fiber switch (coroutine), stack: bytes",
    "reader: events",
    "reader: bytes",
    "reader: peak RSS of the reading process",
    "gentrace stats vs go tool trace -d=1: events",
    "gentrace stats vs go tool trace -d=1: peak RSS",
    "gentrace stats --json vs go tool trace -d=1: events",
    "gentrace stats --json vs go tool trace -d=1: peak RSS",
};

// Rows with a floor.
const char* const kFloorRows[] = {
    "region begin+end, no stack",
    "region begin+end, stack",
    "log, no stack",
    "log, stack",
    "task begin+end, no stack",
    "block + unblock, no stack",
    "syscall enter + exit, no stack",
    "fiber switch (coroutine), no stack",
    "fiber resume + yield, stack",
    "CPU sample: SIGPROF handler (vs empty handler)",
    "CPU samples at 100 Hz: CPU-bound workload (vs no sampling)",
    "CPU samples at 1000 Hz: CPU-bound workload (vs no sampling)",
    "benchmark_suite_extra_benchmark: BM_ExtraEvent",
};

TEST(BenchmarkSuiteTest, WritesEveryRowWithGoAndFloor) {
  const std::string dir = conformance::TempDir("suite");
  const std::string trace = MakeTinyTrace(dir);
  ASSERT_FALSE(trace.empty());
  std::vector<std::string> args = {"--tracer=tests/tracer_benchmark",
                                   "--gentrace=tools/gentrace/gentrace",
                                   "--trace=" + trace};
  const bool go = interop::GoCheckEnabled("Go's side of the suite");
  if (go) {
    const std::string go_bench = BuildGoBenchmark(dir);
    ASSERT_FALSE(go_bench.empty());
    const std::string go_trace = GoTraceTool();
    ASSERT_FALSE(go_trace.empty());
    args.push_back("--go_bench=" + go_bench);
    args.push_back("--gotool=" + interop::GoToolPath());
    args.push_back("--go_trace=" + go_trace);
  }
  SuiteRun run = RunSuite(dir, args);
  ASSERT_EQ(run.process.exit_code, 0) << run.process.output;
  // The table on stdout names every row.
  for (const Json& e : run.entries) {
    EXPECT_THAT(run.process.output, testing::HasSubstr(e.StringOr("name")));
  }

  std::set<std::string> names;
  for (const Json& e : run.entries) {
    const std::string name = e.StringOr("name");
    EXPECT_FALSE(name.empty());
    EXPECT_TRUE(names.insert(name).second) << "duplicate row " << name;
    for (const char* key : {"name", "unit"}) {
      const Json* v = e.Find(key);
      ASSERT_TRUE(v != nullptr && v->type == Json::kString) << name << key;
    }
    for (const char* key :
         {"gentrace", "go", "floor", "ratio_vs_go", "ratio_vs_floor"}) {
      const Json* v = e.Find(key);
      ASSERT_NE(v, nullptr) << name << ": no " << key;
      EXPECT_TRUE(v->type == Json::kNull || IsNumber(v)) << name << " " << key;
    }
    // Every row has a figure of ours, except the floors' own rows.
    if (!absl::StartsWith(name, "floor: ")) {
      EXPECT_TRUE(IsNumber(e.Find("gentrace"))) << name;
    } else {
      EXPECT_TRUE(IsNumber(e.Find("floor"))) << name;
    }
    // A ratio exactly where both of its figures are.
    EXPECT_EQ(IsNumber(e.Find("ratio_vs_go")),
              IsNumber(e.Find("gentrace")) && IsNumber(e.Find("go")))
        << name;
    EXPECT_EQ(IsNumber(e.Find("ratio_vs_floor")),
              IsNumber(e.Find("gentrace")) && IsNumber(e.Find("floor")))
        << name;
    if (IsNumber(e.Find("ratio_vs_go"))) {
      EXPECT_NEAR(e.Find("ratio_vs_go")->number,
                  e.Find("gentrace")->number / e.Find("go")->number,
                  1e-4 * std::fabs(e.Find("ratio_vs_go")->number))
          << name;
    }
  }
  for (const char* row : kGoRows) {
    const Json* e = Entry(run.entries, row);
    ASSERT_NE(e, nullptr) << "missing row " << row;
    if (go) {
      EXPECT_TRUE(IsNumber(e->Find("ratio_vs_go"))) << row;
    } else {
      EXPECT_EQ(e->Find("go")->type, Json::kNull) << row;
    }
  }
  for (const char* row : kFloorRows) {
    const Json* e = Entry(run.entries, row);
    ASSERT_NE(e, nullptr) << "missing row " << row;
    EXPECT_TRUE(IsNumber(e->Find("ratio_vs_floor"))) << row;
  }
  // Event rows compare with the floor that reads the tracer's own clock.
  const Json* clock_floor =
      Entry(run.entries, "floor: tracer's clock + encode + Go-style seqlock");
  ASSERT_NE(clock_floor, nullptr);
  ASSERT_TRUE(IsNumber(clock_floor->Find("floor")));
  for (const char* row : {"region begin+end, no stack", "log, stack"}) {
    const Json* e = Entry(run.entries, row);
    ASSERT_NE(e, nullptr) << row;
    EXPECT_EQ(e->NumberOr("floor", -1), clock_floor->NumberOr("floor", -2))
        << row;
  }
  // Where the CPU's TSC is invariant, region and log again with the TSC
  // as the trace's clock, against the TSC floor (and Go, for the stack
  // rows).
  const std::string cpuinfo = conformance::ReadFile("/proc/cpuinfo");
  if (absl::StrContains(cpuinfo, " constant_tsc") &&
      absl::StrContains(cpuinfo, " nonstop_tsc")) {
    const Json* tsc_floor =
        Entry(run.entries, "floor: TSC + encode + Go-style seqlock");
    ASSERT_NE(tsc_floor, nullptr);
    for (const char* row :
         {"region begin+end, no stack, TSC clock",
          "region begin+end, stack, TSC clock", "log, no stack, TSC clock",
          "log, stack, TSC clock"}) {
      const Json* e = Entry(run.entries, row);
      ASSERT_NE(e, nullptr) << "missing row " << row;
      EXPECT_TRUE(IsNumber(e->Find("gentrace"))) << row;
      EXPECT_EQ(e->NumberOr("floor", -1), tsc_floor->NumberOr("floor", -2))
          << row;
      EXPECT_EQ(IsNumber(e->Find("ratio_vs_go")),
                go && absl::StrContains(row, ", stack,"))
          << row;
    }
  }
  // The extra binary: its benchmarks are rows, its floor is not one.
  EXPECT_NE(
      Entry(run.entries, "benchmark_suite_extra_benchmark: BM_ExtraIteration"),
      nullptr);
  EXPECT_EQ(Entry(run.entries,
                  "benchmark_suite_extra_benchmark: BM_ExtraEvent_Floor"),
            nullptr);
  // Stack rows record real stacks: more frames than the 10 the benchmark
  // adds, and Go's stacks as long as ours.
  const Json* frames =
      Entry(run.entries, "stack frames per event (stack rows)");
  ASSERT_NE(frames, nullptr);
  EXPECT_GE(frames->NumberOr("gentrace", 0), 10);
  if (go) {
    EXPECT_NEAR(frames->NumberOr("go", 0), frames->NumberOr("gentrace", 0), 1);
  }
}

// A `go tool trace` that fails, or that exits 0 having printed no event,
// fails the run and leaves Go's stats figures empty (not a tiny time);
// gentrace's stats figures are still written.
TEST(BenchmarkSuiteTest, AFailingGoTraceToolFailsTheRun) {
  struct Case {
    const char* tool;
    const char* why;
  };
  for (const Case& c : {Case{"/bin/false", "exit status 1"},
                        Case{"/bin/true", "printed no events"}}) {
    SCOPED_TRACE(c.tool);
    const std::string dir = conformance::TempDir("gotrace");
    const std::string trace = MakeTinyTrace(dir);
    ASSERT_FALSE(trace.empty());
    // No benchmark binaries run (/bin/true writes no results, which is
    // a failure of its own): only the stats rows matter here.
    SuiteRun run = RunSuite(
        dir, {"--tracer=/bin/true", "--cpu=/bin/true", "--reader=/bin/true",
              "--gentrace=tools/gentrace/gentrace",
              absl::StrCat("--go_trace=", c.tool), "--trace=" + trace});
    EXPECT_EQ(run.process.exit_code, 1) << run.process.output;
    EXPECT_THAT(run.process.output, testing::HasSubstr(absl::StrCat(
                                        "go tool trace -d=1: ", c.why)));
    for (const char* row : {"gentrace stats vs go tool trace -d=1: events",
                            "gentrace stats --json vs go tool trace -d=1: "
                            "peak RSS"}) {
      const Json* e = Entry(run.entries, row);
      ASSERT_NE(e, nullptr) << row;
      EXPECT_TRUE(IsNumber(e->Find("gentrace"))) << row;
      EXPECT_EQ(e->Find("go")->type, Json::kNull) << row;
      EXPECT_EQ(e->Find("ratio_vs_go")->type, Json::kNull) << row;
    }
  }
}

// A program that fails fails the run, and the rest is still written.
TEST(BenchmarkSuiteTest, AFailedProgramFailsTheRun) {
  const std::string dir = conformance::TempDir("failing");
  const std::string trace = MakeTinyTrace(dir);
  ASSERT_FALSE(trace.empty());
  SuiteRun run = RunSuite(dir, {"--tracer=/bin/false", "--trace=" + trace});
  EXPECT_EQ(run.process.exit_code, 1) << run.process.output;
  EXPECT_THAT(run.process.output, testing::HasSubstr("/bin/false"));
  const Json* log = Entry(run.entries, "log, stack");
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->Find("gentrace")->type, Json::kNull);
  const Json* reader = Entry(run.entries, "reader: events");
  ASSERT_NE(reader, nullptr);
  EXPECT_TRUE(IsNumber(reader->Find("gentrace")));
}

}  // namespace
}  // namespace gentrace::bench
