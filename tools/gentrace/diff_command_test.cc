// `gentrace diff` on two hand-built traces whose contents are known: every
// number `diff --json` prints is checked against values worked out by hand
// from the event times below (absolute nanoseconds; 1 tick per ns).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "format/text.h"
#include "tests/interop/go_tool.h"
#include "tools/gentrace/hand_trace.h"
#include "tools/gentrace/test_process.h"

namespace gentrace::tools {
namespace {

// Strings: 1 parse, 2 step, 3 req, 4 cat, 5 hello, 6 main.main,
// 7 main.work, 8 main.leaf, 9 f.go, 10 sync, 11 old, 12 main.old, 13 dbg,
// 14 fresh. Stack 1 is work <- main, 2 leaf <- work <- main, 3 old <- main.
constexpr char kTables[] =
    "EventBatch gen=1 m=18446744073709551615 time=0 size=0\n"
    "Frequency freq=1000000000\n"
    "EventBatch gen=1 m=18446744073709551615 time=0 size=0\n"
    "Stacks\n"
    "Stack id=1 nframes=2\n"
    "\tpc=4096 func=7 file=9 line=10\n"
    "\tpc=8192 func=6 file=9 line=20\n"
    "Stack id=2 nframes=3\n"
    "\tpc=12288 func=8 file=9 line=30\n"
    "\tpc=4096 func=7 file=9 line=10\n"
    "\tpc=8192 func=6 file=9 line=20\n"
    "Stack id=3 nframes=2\n"
    "\tpc=16384 func=12 file=9 line=40\n"
    "\tpc=8192 func=6 file=9 line=20\n"
    "EventBatch gen=1 m=18446744073709551615 time=0 size=0\n"
    "Strings\n"
    "String id=1\n\tdata=\"parse\"\n"
    "String id=2\n\tdata=\"step\"\n"
    "String id=3\n\tdata=\"req\"\n"
    "String id=4\n\tdata=\"cat\"\n"
    "String id=5\n\tdata=\"hello\"\n"
    "String id=6\n\tdata=\"main.main\"\n"
    "String id=7\n\tdata=\"main.work\"\n"
    "String id=8\n\tdata=\"main.leaf\"\n"
    "String id=9\n\tdata=\"f.go\"\n"
    "String id=10\n\tdata=\"sync\"\n"
    "String id=11\n\tdata=\"old\"\n"
    "String id=12\n\tdata=\"main.old\"\n"
    "String id=13\n\tdata=\"dbg\"\n"
    "String id=14\n\tdata=\"fresh\"\n";

// A: G1 on thread 10 runs task req (1100-4000 = 2900) with regions parse
// (400), step (100) and old (1810-1910 = 100) and one log "cat"; blocks on sync
// 2100-3000 (G2 on thread 11 unblocks it), waits to run 3000-3100.
// Samples: leaf twice, old once. The trace ends at 4001 (one ns after the
// last event), so it is 3001 ns long.
//   G1: running 1010-2100, 3100-4001 = 1991; G2 running 1030-4001 = 2971.
constexpr char kTraceA[] =
    "EventBatch gen=1 m=10 time=1000 size=0\n"
    "@1000 ProcStatus p=0 pstatus=1\n"
    "@1010 GoStatus g=1 m=10 gstatus=2\n"
    "@1100 UserTaskBegin task=1 parent_task=0 name_string=3 stack=0\n"
    "@1200 UserRegionBegin task=1 name_string=1 stack=0\n"
    "@1600 UserRegionEnd task=1 name_string=1 stack=0\n"
    "@1700 UserRegionBegin task=0 name_string=2 stack=0\n"
    "@1800 UserRegionEnd task=0 name_string=2 stack=0\n"
    "@1810 UserRegionBegin task=0 name_string=11 stack=0\n"
    "@1910 UserRegionEnd task=0 name_string=11 stack=0\n"
    "@2000 UserLog task=1 key_string=4 value_string=5 stack=0\n"
    "@2100 GoBlock reason_string=10 stack=1\n"
    "@3100 GoStart g=1 g_seq=2\n"
    "@4000 UserTaskEnd task=1 stack=0\n"
    "EventBatch gen=1 m=11 time=1000 size=0\n"
    "@1020 ProcStatus p=1 pstatus=1\n"
    "@1030 GoStatus g=2 m=11 gstatus=2\n"
    "@3000 GoUnblock g=1 g_seq=1 stack=1\n"
    "EventBatch gen=1 m=18446744073709551615 time=0 size=0\n"
    "CPUSamples\n"
    "CPUSample time=1300 m=10 p=0 g=1 stack=2\n"
    "CPUSample time=1400 m=10 p=0 g=1 stack=2\n"
    "CPUSample time=1550 m=11 p=1 g=2 stack=3\n";

// B: req 1100-5000 = 3900; parse 399; step 100 and 200; fresh 50 and 30
// (new); old gone; logs "cat" and "dbg" (new); blocked on sync 2500-4000,
// waits to run 4000-4200, in a syscall 4300-4800. Samples: leaf three
// times, work once. Ends at 5001: 4001 ns long.
//   G1: running 1010-2500, 4200-4300, 4800-5001 = 1791; G2 1030-5001 =
//   3971.
constexpr char kTraceB[] =
    "EventBatch gen=1 m=10 time=1000 size=0\n"
    "@1000 ProcStatus p=0 pstatus=1\n"
    "@1010 GoStatus g=1 m=10 gstatus=2\n"
    "@1100 UserTaskBegin task=1 parent_task=0 name_string=3 stack=0\n"
    "@1200 UserRegionBegin task=1 name_string=1 stack=0\n"
    "@1599 UserRegionEnd task=1 name_string=1 stack=0\n"
    "@1700 UserRegionBegin task=0 name_string=2 stack=0\n"
    "@1800 UserRegionEnd task=0 name_string=2 stack=0\n"
    "@1900 UserRegionBegin task=0 name_string=2 stack=0\n"
    "@2100 UserRegionEnd task=0 name_string=2 stack=0\n"
    "@2200 UserRegionBegin task=0 name_string=14 stack=0\n"
    "@2250 UserRegionEnd task=0 name_string=14 stack=0\n"
    "@2260 UserRegionBegin task=0 name_string=14 stack=0\n"
    "@2290 UserRegionEnd task=0 name_string=14 stack=0\n"
    "@2300 UserLog task=1 key_string=4 value_string=5 stack=0\n"
    "@2400 UserLog task=0 key_string=13 value_string=5 stack=0\n"
    "@2500 GoBlock reason_string=10 stack=1\n"
    "@4200 GoStart g=1 g_seq=2\n"
    "@4300 GoSyscallBegin p_seq=1 stack=1\n"
    "@4800 GoSyscallEnd\n"
    "@5000 UserTaskEnd task=1 stack=0\n"
    "EventBatch gen=1 m=11 time=1000 size=0\n"
    "@1020 ProcStatus p=1 pstatus=1\n"
    "@1030 GoStatus g=2 m=11 gstatus=2\n"
    "@4000 GoUnblock g=1 g_seq=1 stack=1\n"
    "EventBatch gen=1 m=18446744073709551615 time=0 size=0\n"
    "CPUSamples\n"
    "CPUSample time=1300 m=10 p=0 g=1 stack=2\n"
    "CPUSample time=1400 m=10 p=0 g=1 stack=2\n"
    "CPUSample time=1500 m=10 p=0 g=1 stack=2\n"
    "CPUSample time=1650 m=11 p=1 g=2 stack=1\n";

std::string Binary(const char* events) {
  const std::string text =
      absl::StrCat("Trace Go1.23\n", ExpandEventTimes(events), kTables);
  absl::StatusOr<std::string> bin = format::TextToBinary(text);
  EXPECT_TRUE(bin.ok()) << bin.status() << "\n" << text;
  return bin.ok() ? *bin : "";
}

// Writes the trace and checks it with our reader (validate) and, when
// available, Go's parser.
std::string WriteTrace(const std::string& name, const std::string& data) {
  const std::string path = TestTempPath(name);
  EXPECT_TRUE(WriteFile(path, data));
  ProcessResult v = RunGentrace({"validate", path});
  EXPECT_EQ(v.exit_code, 0) << v.stdout_data << v.stderr_data;
  if (interop::GoCheckEnabled("Go's parser on " + name)) {
    absl::StatusOr<interop::GoValidateResult> g = interop::GoValidate(path);
    EXPECT_TRUE(g.ok()) << g.status();
    if (g.ok()) EXPECT_TRUE(g->ok) << g->output;
  }
  return path;
}

// Events as `gentrace dump` counts them (one line each, then END): a count
// independent of the stats pass diff makes.
std::string DumpedEvents(const std::string& path) {
  ProcessResult d = RunGentrace({"dump", path});
  EXPECT_EQ(d.exit_code, 0) << d.stderr_data;
  EXPECT_TRUE(absl::EndsWith(d.stdout_data, "END ok\n"));
  return absl::StrCat(
      std::count(d.stdout_data.begin(), d.stdout_data.end(), '\n') - 1);
}

// The JSON array under `key`.
std::string Array(const std::string& json, const std::string& key) {
  const size_t start = json.find(absl::StrCat("\"", key, "\": ["));
  if (start == std::string::npos) return "";
  const size_t end = json.find(']', start);
  return json.substr(start, end - start + 1);
}

// The values of `field` in order, e.g. the names of a section's rows.
std::vector<std::string> Values(const std::string& json,
                                const std::string& field) {
  std::vector<std::string> out;
  const std::string key = absl::StrCat("\"", field, "\": \"");
  for (size_t p = json.find(key); p != std::string::npos;
       p = json.find(key, p + 1)) {
    const size_t b = p + key.size();
    out.push_back(json.substr(b, json.find('"', b) - b));
  }
  return out;
}

class DiffCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = WriteTrace("a.trace", Binary(kTraceA));
    b_ = WriteTrace("b.trace", Binary(kTraceB));
  }
  std::string a_, b_;
};

// Every number, by hand. Percentages are of A, rounded to 0.1 half away
// from zero: req 1000/2900 = 34.48% -> 34.5; parse -1/400 = -0.25% ->
// -0.3; running 800/4962 = 16.12% -> 16.1. Rates are per second of each
// trace's own duration: 1/3001 ns = 333222.259/s, 2/4001 ns =
// 499875.031/s.
TEST_F(DiffCommandTest, Json) {
  ProcessResult r = RunGentrace({"diff", "--json", a_, b_});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(r.stderr_data, "");
  const std::string want = absl::StrCat(
      "{\"a\": {\"file\": \"", a_,
      "\", \"duration_ns\": 3001, \"events\": ", DumpedEvents(a_),
      ", \"generations_complete\": 1, \"cpu_samples\": 3, "
      "\"events_per_s\": EVA, \"cpu_samples_per_s\": 999666.778}, "
      "\"b\": {\"file\": \"",
      b_, "\", \"duration_ns\": 4001, \"events\": ", DumpedEvents(b_),
      ", \"generations_complete\": 1, \"cpu_samples\": 4, "
      "\"events_per_s\": EVB, \"cpu_samples_per_s\": 999750.062}, "
      "\"sort\": \"time\", \"top\": 20, "
      "\"tasks\": [{\"name\": \"req\", \"status\": \"both\", "
      "\"count_a\": 1, \"count_b\": 1, \"count_change\": 0, "
      "\"count_change_pct\": 0.0, \"count_per_s_a\": 333222.259, "
      "\"count_per_s_b\": 249937.516, \"total_ns_a\": 2900, "
      "\"total_ns_b\": 3900, \"total_change_ns\": 1000, "
      "\"total_change_pct\": 34.5, \"p50_ns_a\": 2900, \"p50_ns_b\": 3900, "
      "\"p99_ns_a\": 2900, \"p99_ns_b\": 3900}], "
      // By |time change|: step 200, old 100, fresh 80, parse 1.
      "\"regions\": [{\"name\": \"step\", \"status\": \"both\", "
      "\"count_a\": 1, \"count_b\": 2, \"count_change\": 1, "
      "\"count_change_pct\": 100.0, \"count_per_s_a\": 333222.259, "
      "\"count_per_s_b\": 499875.031, \"total_ns_a\": 100, "
      "\"total_ns_b\": 300, \"total_change_ns\": 200, "
      "\"total_change_pct\": 200.0, \"p50_ns_a\": 100, \"p50_ns_b\": 100, "
      "\"p99_ns_a\": 100, \"p99_ns_b\": 200}, "
      "{\"name\": \"old\", \"status\": \"gone\", "
      "\"count_a\": 1, \"count_b\": 0, \"count_change\": -1, "
      "\"count_change_pct\": null, \"count_per_s_a\": 333222.259, "
      "\"count_per_s_b\": 0.000, \"total_ns_a\": 100, "
      "\"total_ns_b\": 0, \"total_change_ns\": -100, "
      "\"total_change_pct\": null, \"p50_ns_a\": 100, \"p50_ns_b\": 0, "
      "\"p99_ns_a\": 100, \"p99_ns_b\": 0}, "
      "{\"name\": \"fresh\", \"status\": \"new\", "
      "\"count_a\": 0, \"count_b\": 2, \"count_change\": 2, "
      "\"count_change_pct\": null, \"count_per_s_a\": 0.000, "
      "\"count_per_s_b\": 499875.031, \"total_ns_a\": 0, "
      "\"total_ns_b\": 80, \"total_change_ns\": 80, "
      "\"total_change_pct\": null, \"p50_ns_a\": 0, \"p50_ns_b\": 30, "
      "\"p99_ns_a\": 0, \"p99_ns_b\": 50}, "
      "{\"name\": \"parse\", \"status\": \"both\", "
      "\"count_a\": 1, \"count_b\": 1, \"count_change\": 0, "
      "\"count_change_pct\": 0.0, \"count_per_s_a\": 333222.259, "
      "\"count_per_s_b\": 249937.516, \"total_ns_a\": 400, "
      "\"total_ns_b\": 399, \"total_change_ns\": -1, "
      "\"total_change_pct\": -0.3, \"p50_ns_a\": 400, \"p50_ns_b\": 399, "
      "\"p99_ns_a\": 400, \"p99_ns_b\": 399}], "
      // Logs have no time: by |count change|, then name.
      "\"logs\": [{\"category\": \"dbg\", \"status\": \"new\", "
      "\"count_a\": 0, \"count_b\": 1, \"count_change\": 1, "
      "\"count_change_pct\": null, \"count_per_s_a\": 0.000, "
      "\"count_per_s_b\": 249937.516}, "
      "{\"category\": \"cat\", \"status\": \"both\", "
      "\"count_a\": 1, \"count_b\": 1, \"count_change\": 0, "
      "\"count_change_pct\": 0.0, \"count_per_s_a\": 333222.259, "
      "\"count_per_s_b\": 249937.516}], "
      // Flat: leaf 2 -> 3, old 1 -> none, work none -> 1.
      "\"functions_flat\": [{\"function\": \"main.leaf\", "
      "\"status\": \"both\", \"samples_a\": 2, \"samples_b\": 3, "
      "\"samples_change\": 1, \"samples_change_pct\": 50.0, "
      "\"samples_per_s_a\": 666444.518, \"samples_per_s_b\": 749812.547}, "
      "{\"function\": \"main.old\", \"status\": \"gone\", "
      "\"samples_a\": 1, \"samples_b\": 0, \"samples_change\": -1, "
      "\"samples_change_pct\": null, \"samples_per_s_a\": 333222.259, "
      "\"samples_per_s_b\": 0.000}, "
      "{\"function\": \"main.work\", \"status\": \"new\", "
      "\"samples_a\": 0, \"samples_b\": 1, \"samples_change\": 1, "
      "\"samples_change_pct\": null, \"samples_per_s_a\": 0.000, "
      "\"samples_per_s_b\": 249937.516}], "
      // Cumulative: main 3 -> 4, work 2 -> 4, leaf 2 -> 3, old 1 -> none.
      "\"functions_cumulative\": [{\"function\": \"main.work\", "
      "\"status\": \"both\", \"samples_a\": 2, \"samples_b\": 4, "
      "\"samples_change\": 2, \"samples_change_pct\": 100.0, "
      "\"samples_per_s_a\": 666444.518, \"samples_per_s_b\": 999750.062}, "
      "{\"function\": \"main.leaf\", \"status\": \"both\", "
      "\"samples_a\": 2, \"samples_b\": 3, \"samples_change\": 1, "
      "\"samples_change_pct\": 50.0, \"samples_per_s_a\": 666444.518, "
      "\"samples_per_s_b\": 749812.547}, "
      "{\"function\": \"main.main\", \"status\": \"both\", "
      "\"samples_a\": 3, \"samples_b\": 4, \"samples_change\": 1, "
      "\"samples_change_pct\": 33.3, \"samples_per_s_a\": 999666.778, "
      "\"samples_per_s_b\": 999750.062}, "
      "{\"function\": \"main.old\", \"status\": \"gone\", "
      "\"samples_a\": 1, \"samples_b\": 0, \"samples_change\": -1, "
      "\"samples_change_pct\": null, \"samples_per_s_a\": 333222.259, "
      "\"samples_per_s_b\": 0.000}], "
      // running 4962 -> 5762; blocked (all sync) 900 -> 1500; syscall
      // 0 -> 500 (no percent of 0); waiting 100 -> 200. Ties by name.
      "\"states\": [{\"state\": \"running\", \"status\": \"both\", "
      "\"time_ns_a\": 4962, \"time_ns_b\": 5762, \"time_change_ns\": 800, "
      "\"time_change_pct\": 16.1}, "
      "{\"state\": \"blocked\", \"status\": \"both\", "
      "\"time_ns_a\": 900, \"time_ns_b\": 1500, \"time_change_ns\": 600, "
      "\"time_change_pct\": 66.7}, "
      "{\"state\": \"blocked: sync\", \"status\": \"both\", "
      "\"time_ns_a\": 900, \"time_ns_b\": 1500, \"time_change_ns\": 600, "
      "\"time_change_pct\": 66.7}, "
      "{\"state\": \"syscall\", \"status\": \"both\", "
      "\"time_ns_a\": 0, \"time_ns_b\": 500, \"time_change_ns\": 500, "
      "\"time_change_pct\": null}, "
      "{\"state\": \"waiting to run\", \"status\": \"both\", "
      "\"time_ns_a\": 100, \"time_ns_b\": 200, \"time_change_ns\": 100, "
      "\"time_change_pct\": 100.0}]}\n");
  std::string w = want;
  // Events per second from the dumped counts.
  auto rate = [](const std::string& events, double ns) {
    return absl::StrFormat("%.3f", std::stod(events) * 1e9 / ns);
  };
  w.replace(w.find("EVA"), 3, rate(DumpedEvents(a_), 3001));
  w.replace(w.find("EVB"), 3, rate(DumpedEvents(b_), 4001));
  EXPECT_EQ(r.stdout_data, w);
}

// The three orders: by |time change| (then |count change|, then name), by
// |count change| (then |time change|), by name; --top keeps the first N.
TEST_F(DiffCommandTest, SortAndTop) {
  using V = std::vector<std::string>;
  ProcessResult r = RunGentrace({"diff", "--json", a_, b_});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(Values(Array(r.stdout_data, "regions"), "name"),
            (V{"step", "old", "fresh", "parse"}));
  EXPECT_EQ(
      Values(Array(r.stdout_data, "states"), "state"),
      (V{"running", "blocked", "blocked: sync", "syscall", "waiting to run"}));

  r = RunGentrace({"diff", "--json", "--sort=count", a_, b_});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_TRUE(absl::StrContains(r.stdout_data, "\"sort\": \"count\""));
  // fresh +2; step, old +-1 (by time: 200, 100); parse 0.
  EXPECT_EQ(Values(Array(r.stdout_data, "regions"), "name"),
            (V{"fresh", "step", "old", "parse"}));
  // States have no count: by time.
  EXPECT_EQ(
      Values(Array(r.stdout_data, "states"), "state"),
      (V{"running", "blocked", "blocked: sync", "syscall", "waiting to run"}));

  r = RunGentrace({"diff", "--json", "--sort", "name", a_, b_});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(Values(Array(r.stdout_data, "regions"), "name"),
            (V{"fresh", "old", "parse", "step"}));
  EXPECT_EQ(Values(Array(r.stdout_data, "functions_cumulative"), "function"),
            (V{"main.leaf", "main.main", "main.old", "main.work"}));
  EXPECT_EQ(
      Values(Array(r.stdout_data, "states"), "state"),
      (V{"blocked", "blocked: sync", "running", "syscall", "waiting to run"}));

  r = RunGentrace({"diff", "--json", "--top=2", a_, b_});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_TRUE(absl::StrContains(r.stdout_data, "\"top\": 2"));
  EXPECT_EQ(Values(Array(r.stdout_data, "regions"), "name"),
            (V{"step", "old"}));
  EXPECT_EQ(Values(Array(r.stdout_data, "tasks"), "name"), (V{"req"}));
  // The rows kept are the first of all functions, not of each trace's top
  // functions: A's top one is main.main, B's main.main (4, ties by name).
  r = RunGentrace({"diff", "--json", "--top=1", a_, b_});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_TRUE(absl::StrContains(
      r.stdout_data,
      "\"functions_cumulative\": [{\"function\": \"main.work\", "
      "\"status\": \"both\", \"samples_a\": 2, \"samples_b\": 4, "))
      << r.stdout_data;
  r = RunGentrace({"diff", "--json", "--top=0", a_, b_});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(Values(Array(r.stdout_data, "regions"), "name").size(), 4u);

  r = RunGentrace({"diff", "--sort=size", a_, b_});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(absl::StartsWith(r.stderr_data,
                               "gentrace diff: --sort is time, count or name"))
      << r.stderr_data;
  r = RunGentrace({"diff", "--top=x", a_, b_});
  EXPECT_EQ(r.exit_code, 2);
  r = RunGentrace({"diff", a_});
  EXPECT_EQ(r.exit_code, 2);
  r = RunGentrace({"diff", "-", "-"});
  EXPECT_EQ(r.exit_code, 2);
}

// A against itself: every row in both, every change 0 and 0.0%.
TEST_F(DiffCommandTest, SameTrace) {
  ProcessResult r = RunGentrace({"diff", "--json", a_, a_});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  const std::string& j = r.stdout_data;
  auto count = [&](const std::string& s) {
    size_t n = 0;
    for (size_t p = j.find(s); p != std::string::npos; p = j.find(s, p + 1)) {
      ++n;
    }
    return n;
  };
  // Rows: 1 task, 3 regions, 1 log category, 2 + 4 functions, 5 states.
  EXPECT_EQ(count("\"status\": "), 16u);
  EXPECT_EQ(count("\"status\": \"both\""), 16u);
  // One change (and one percentage) per count and per time: tasks and
  // regions have both, the others one.
  EXPECT_EQ(count("_change\": "), 4u + 1 + 6);
  EXPECT_EQ(count("_change\": 0,"), 4u + 1 + 6);
  EXPECT_EQ(count("_change_ns\": "), 4u + 5);
  EXPECT_EQ(count("_change_ns\": 0,"), 4u + 5);
  EXPECT_EQ(count("_change_pct\": "), 2 * 4u + 1 + 6 + 5);
  EXPECT_EQ(count("_change_pct\": 0.0"), 2 * 4u + 1 + 6 + 5);
  // The two sides say the same.
  const std::string side_a =
      j.substr(j.find("{\"file\""), j.find("}, \"b\"") - j.find("{\"file"));
  const size_t b = j.find("\"b\": ") + 5;
  EXPECT_EQ(side_a, j.substr(b, side_a.size())) << j;
}

// zstd input reads as the plain file does.
TEST_F(DiffCommandTest, Zstd) {
  const std::string bin = ReadFileOrEmpty(b_);
  std::string z(ZSTD_compressBound(bin.size()), '\0');
  z.resize(ZSTD_compress(z.data(), z.size(), bin.data(), bin.size(), 3));
  const std::string bz = TestTempPath("b.trace.zst");
  ASSERT_TRUE(WriteFile(bz, z));
  ProcessResult plain = RunGentrace({"diff", "--json", a_, b_});
  ProcessResult zst = RunGentrace({"diff", "--json", a_, bz});
  ASSERT_EQ(zst.exit_code, 0) << zst.stderr_data;
  std::string want = plain.stdout_data;
  want.replace(want.find(b_), b_.size(), bz);
  EXPECT_EQ(zst.stdout_data, want);
}

// A file that does not read to its end: one line naming it, exit 1, no
// comparison printed.
TEST_F(DiffCommandTest, BadInput) {
  const std::string bin = ReadFileOrEmpty(b_);
  const std::string cut = TestTempPath("cut.trace");
  ASSERT_TRUE(WriteFile(cut, bin.substr(0, bin.size() - 5)));
  ProcessResult r = RunGentrace({"diff", a_, cut});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.stdout_data, "");
  EXPECT_TRUE(absl::StartsWith(r.stderr_data,
                               absl::StrCat("gentrace diff: ", cut, ": ")))
      << r.stderr_data;
  EXPECT_TRUE(absl::StrContains(r.stderr_data, "(input byte "))
      << r.stderr_data;
  EXPECT_EQ(std::count(r.stderr_data.begin(), r.stderr_data.end(), '\n'), 1)
      << r.stderr_data;

  const std::string missing = TestTempPath("no-such.trace");
  r = RunGentrace({"diff", "--json", missing, b_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.stdout_data, "");
  EXPECT_TRUE(absl::StartsWith(r.stderr_data,
                               absl::StrCat("gentrace diff: ", missing, ": ")))
      << r.stderr_data;
  EXPECT_EQ(std::count(r.stderr_data.begin(), r.stderr_data.end(), '\n'), 1)
      << r.stderr_data;
}

// The tables, 80 columns wide (stdout is not a terminal here).
TEST_F(DiffCommandTest, Text) {
  setenv("COLUMNS", "80", 1);
  ProcessResult r = RunGentrace({"diff", a_, b_});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  const std::string& t = r.stdout_data;
  EXPECT_TRUE(absl::StartsWith(
      t, absl::StrCat("A: ", a_,
                      "\n   duration 3.0us (3001 ns), 1 complete "
                      "generations\n   ",
                      DumpedEvents(a_), " events (")))
      << t;
  EXPECT_TRUE(absl::StrContains(t, "3 CPU samples (999.7k/s)\n")) << t;
  EXPECT_TRUE(absl::StrContains(t, "4 CPU samples (999.8k/s)\n")) << t;
  EXPECT_TRUE(absl::StrContains(
      t,
      "\nCounts and times are totals over each trace; only /s numbers\n"
      "are normalized (per second of each trace's duration).\n"
      "Change is B - A; sorted by time.\n"))
      << t;
  const std::vector<std::string> want = {
      "Regions",
      "  region         A count B count A total B total  change change%   "
      "A p99   B p99",
      "  step                 1       2   100ns   300ns  +200ns +200.0%   "
      "100ns   200ns",
      "  old                  1       0   100ns     0ns  -100ns    gone   "
      "100ns     0ns",
      "  fresh                0       2     0ns    80ns   +80ns     new     "
      "0ns    50ns",
      "  parse                1       1   400ns   399ns    -1ns   -0.3%   "
      "400ns   399ns",
      "  function                   A         B    change   change%      "
      "A /s      B /s",
      "  main.leaf                  2         3        +1    +50.0%    "
      "666.4k    749.8k",
      "  syscall                                      0ns     500ns    "
      "+500ns         -",
  };

  for (const std::string& line : want) {
    EXPECT_TRUE(absl::StrContains(t, line + "\n")) << line << "\n" << t;
  }
  for (absl::string_view line : absl::StrSplit(t, '\n')) {
    if (absl::StartsWith(line, "A: ") || absl::StartsWith(line, "B: ")) {
      continue;  // the paths
    }
    EXPECT_LE(line.size(), 80u) << line;
  }
}

// At the narrowest, 60 columns, the tables still fit: tasks and regions
// drop their p99 columns.
TEST_F(DiffCommandTest, Narrow) {
  setenv("COLUMNS", "60", 1);
  ProcessResult r = RunGentrace({"diff", a_, b_});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  const std::string& t = r.stdout_data;
  EXPECT_TRUE(absl::StrContains(
      t,
      "\nRegions\n"
      "  region     A count B count A total B total  change change%\n"
      "  step             1       2   100ns   300ns  +200ns +200.0%\n"))
      << t;
  // The lines after the header (whose first lines name the files).
  const std::string tables = t.substr(t.find("\n\n"));
  size_t lines = 0;
  for (absl::string_view line : absl::StrSplit(tables, '\n')) {
    EXPECT_LE(line.size(), 60u) << line;
    ++lines;
  }
  EXPECT_GT(lines, 20u) << t;
}

// kTraceB with every time 1000 times larger: changes of hundreds of us
// and of more than 1000% still fit a table's narrowest number column.
std::string SlowB() {
  std::string out;
  for (absl::string_view line : absl::StrSplit(kTraceB, '\n')) {
    if (line.empty()) continue;
    std::string l(line);
    for (const char* key : {"@", "time="}) {
      const size_t p = l.find(key);
      if (p == std::string::npos) continue;
      const size_t b = p + strlen(key);
      const size_t e = l.find(' ', b);
      l.insert(e == std::string::npos ? l.size() : e, "000");
    }
    absl::StrAppend(&out, l, "\n");
  }
  return out;
}

// req 2900 -> 3900000 ns is 1344.8 times as long (1345x); step 100 -> 300000 ns
// (+299.9us, 3000x); parse 400 -> 399000 ns (+398.6us, +99650%).
TEST_F(DiffCommandTest, CompactCells) {
  const std::string slow = WriteTrace("slow.trace", Binary(SlowB().c_str()));
  setenv("COLUMNS", "80", 1);
  ProcessResult r = RunGentrace({"diff", a_, slow});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  const std::vector<std::string> want = {
      "  req                  1       1   2.9us   3.9ms  +3.9ms   1345x   "
      "2.9us   3.9ms",
      "  step                 1       2   100ns 300.0us  +300us   3000x   "
      "100ns 200.0us",
      "  parse                1       1   400ns 399.0us  +399us +99650%   "
      "400ns 399.0us",
  };
  for (const std::string& line : want) {
    EXPECT_TRUE(absl::StrContains(r.stdout_data, line + "\n")) << line << "\n"
                                                               << r.stdout_data;
  }
}

// --help: the usage line, every JSON key, exit 0, nothing read.
TEST(DiffHelpTest, Help) {
  ProcessResult r = RunGentrace({"diff", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(absl::StartsWith(
      r.stdout_data,
      "usage: gentrace diff [--json] [--top=N] [--sort=time|count|name] A "
      "B\n"))
      << r.stdout_data;
  EXPECT_TRUE(absl::StrContains(
      r.stdout_data,
      "  a, b, sort, top, tasks, regions, logs, functions_flat,\n"
      "  functions_cumulative, states\n"))
      << r.stdout_data;
  EXPECT_EQ(r.stderr_data, "");
  EXPECT_EQ(RunGentrace({"help", "diff"}).stdout_data, r.stdout_data);
}

}  // namespace
}  // namespace gentrace::tools
