// `gentrace perfetto` on a hand-built trace whose times are known: the
// output is decoded by the tests' own decoder (perfetto_test_decoder.h)
// and by protoc, and every track, slice (with its nesting and arguments),
// instant, flow arrow and CPU sample is compared with what the trace
// holds; the counts are compared with `gentrace dump` and `gentrace stats
// --json`. Then --help, usage errors and bad input: one line naming the
// file and the reason, exit 1, and no output file.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "format/gentrace_batch.h"
#include "format/go_quote.h"
#include "format/text.h"
#include "tests/interop/go_tool.h"
#include "tools/gentrace/hand_trace.h"
#include "tools/gentrace/perfetto_test_decoder.h"
#include "tools/gentrace/test_process.h"

namespace gentrace::tools {
namespace {

// Strings: 1 req, 2 parse, 3 step, 4 main.main, 5 main.work, 6 main.leaf,
// 7 f.go, 8 sync, 9 yield, 10 cache, 11 hit. Stack 1 is work, main; stack
// 2 leaf, work, main.
constexpr char kTables[] =
    "EventBatch gen=1 m=18446744073709551615 time=0 size=0\n"
    "Frequency freq=1000000000\n"
    "EventBatch gen=1 m=18446744073709551615 time=0 size=0\n"
    "Stacks\n"
    "Stack id=1 nframes=2\n"
    "\tpc=4096 func=5 file=7 line=10\n"
    "\tpc=8192 func=4 file=7 line=20\n"
    "Stack id=2 nframes=3\n"
    "\tpc=12288 func=6 file=7 line=30\n"
    "\tpc=4096 func=5 file=7 line=10\n"
    "\tpc=8192 func=4 file=7 line=20\n"
    "EventBatch gen=1 m=18446744073709551615 time=0 size=0\n"
    "Strings\n"
    "String id=1\n\tdata=\"req\"\n"
    "String id=2\n\tdata=\"parse\"\n"
    "String id=3\n\tdata=\"step\"\n"
    "String id=4\n\tdata=\"main.main\"\n"
    "String id=5\n\tdata=\"main.work\"\n"
    "String id=6\n\tdata=\"main.leaf\"\n"
    "String id=7\n\tdata=\"f.go\"\n"
    "String id=8\n\tdata=\"sync\"\n"
    "String id=9\n\tdata=\"yield\"\n"
    "String id=10\n\tdata=\"cache\"\n"
    "String id=11\n\tdata=\"hit\"\n";

// Thread 10 ("main") runs G1 from 1020 in task req (1050-3050): region
// parse 1200-2000 with step 1300-1500 inside and a log "cache"/"hit" at
// 1250. Thread 11 (no name) runs G2, the fiber "fib", from 1040: step
// 1100-1400, no task. A region begun before the trace (ended at 1600 on
// G2) has no begin and is left out; one never ended (G1 from 2600) ends
// at the trace's end: its last event, the Sync the reader gives at 3501
// (as Go's reader does). G1 blocks on sync at 2800, G2 unblocks it at
// 2900, it runs at 3000, is in a syscall 3100-3400, runs again and stops
// at 3500 (runnable: no slice). Eight CPU samples: one on G2, five on
// G1, one on thread 10 with no goroutine (its thread's track) and one on
// thread 12, which has no events: a track "thread 12" of its own, with no
// state track.
constexpr char kEvents[] =
    "EventBatch gen=1 m=10 time=1000 size=0\n"
    "@1010 ProcStatus p=0 pstatus=1\n"
    "@1020 GoStatus g=1 m=10 gstatus=2\n"
    "@1050 UserTaskBegin task=1 parent_task=0 name_string=1 stack=0\n"
    "@1200 UserRegionBegin task=1 name_string=2 stack=1\n"
    "@1250 UserLog task=1 key_string=10 value_string=11 stack=1\n"
    "@1300 UserRegionBegin task=1 name_string=3 stack=2\n"
    "@1500 UserRegionEnd task=1 name_string=3 stack=0\n"
    "@2000 UserRegionEnd task=1 name_string=2 stack=0\n"
    "@2600 UserRegionBegin task=0 name_string=3 stack=1\n"
    "@2800 GoBlock reason_string=8 stack=1\n"
    "@3000 GoStart g=1 g_seq=2\n"
    "@3050 UserTaskEnd task=1 stack=0\n"
    "@3100 GoSyscallBegin p_seq=1 stack=2\n"
    "@3400 GoSyscallEnd\n"
    "@3500 GoStop reason_string=9 stack=1\n"
    "EventBatch gen=1 m=11 time=1000 size=0\n"
    "@1030 ProcStatus p=1 pstatus=1\n"
    "@1040 GoStatus g=2 m=11 gstatus=2\n"
    "@1100 UserRegionBegin task=0 name_string=3 stack=1\n"
    "@1400 UserRegionEnd task=0 name_string=3 stack=0\n"
    "@1600 UserRegionEnd task=0 name_string=2 stack=0\n"
    "@2900 GoUnblock g=1 g_seq=1 stack=2\n"
    "EventBatch gen=1 m=18446744073709551615 time=0 size=0\n"
    "CPUSamples\n"
    "CPUSample time=1150 m=11 p=1 g=2 stack=1\n"
    "CPUSample time=1350 m=10 p=0 g=1 stack=2\n"
    "CPUSample time=1360 m=10 p=0 g=1 stack=2\n"
    "CPUSample time=1450 m=12 p=18446744073709551615 g=0 stack=1\n"
    "CPUSample time=1460 m=10 p=0 g=0 stack=1\n"
    "CPUSample time=1700 m=10 p=0 g=1 stack=1\n"
    "CPUSample time=2500 m=10 p=0 g=1 stack=1\n"
    "CPUSample time=2700 m=10 p=0 g=1 stack=2\n";

std::string HandBuiltTrace() {
  format::InfoRecords info;
  info.threads.push_back({10, 0, 1, "main"});
  info.fibers.push_back({2, "fib"});
  std::string payload;
  for (const auto& r : info.threads) format::AppendInfoRecord(r, &payload);
  for (const auto& r : info.fibers) format::AppendInfoRecord(r, &payload);
  const std::string text = absl::StrCat(
      "Trace Go1.23\n", ExpandEventTimes(kEvents), kTables,
      "ExperimentalBatch exp=", int{format::kExperimentGentraceInfo},
      " gen=1 m=18446744073709551615 time=0\n\tdata=", format::GoQuote(payload),
      "\n");
  absl::StatusOr<std::string> bin = format::TextToBinary(text);
  EXPECT_TRUE(bin.ok()) << bin.status() << "\n" << text;
  return bin.ok() ? *bin : "";
}

std::string WriteTrace(const std::string& name) {
  const std::string path = TestTempPath(name);
  EXPECT_TRUE(WriteFile(path, HandBuiltTrace()));
  if (interop::GoCheckEnabled("Go's parser on the hand-built trace")) {
    absl::StatusOr<interop::GoValidateResult> v = interop::GoValidate(path);
    EXPECT_TRUE(v.ok()) << v.status();
    if (v.ok()) {
      EXPECT_TRUE(v->ok) << v->output;
    }
  }
  return path;
}

// A track as the lines below name it: a thread by its name, a child track
// as "parent/child", any other by its name.
std::string TrackName(const DecodedPerfetto& d, uint64_t uuid) {
  const PerfettoTrack& t = d.tracks.at(uuid);
  if (t.thread) return t.thread_name;
  if (t.parent != 0 && d.tracks.at(t.parent).thread) {
    return absl::StrCat(TrackName(d, t.parent), "/", t.name);
  }
  return t.name;
}

std::string Args(const std::map<std::string, std::string>& args) {
  std::string out;
  for (const auto& [k, v] : args) absl::StrAppend(&out, " ", k, "=", v);
  return out;
}

// Everything in the export, one line each, sorted.
std::vector<std::string> Lines(const DecodedPerfetto& d) {
  std::vector<std::string> lines;
  for (const auto& [uuid, t] : d.tracks) {
    if (t.process) {
      lines.push_back(absl::StrCat("process pid=", t.pid, " ", t.thread_name,
                                   " (track ", t.name, ")"));
    } else if (t.thread) {
      lines.push_back(absl::StrCat("thread pid=", t.pid, " tid=", t.tid, " ",
                                   t.thread_name, " (track ", t.name, ")"));
    } else {
      lines.push_back(absl::StrCat("track ", TrackName(d, uuid)));
    }
  }
  for (const PerfettoSlice& s : d.slices) {
    lines.push_back(absl::StrCat(
        TrackName(d, s.track), ": ", s.name, " ", s.begin, "-", s.end,
        " depth=", s.depth, Args(s.args), s.flows_in.empty() ? "" : " <-flow"));
  }
  for (const PerfettoInstant& in : d.instants) {
    lines.push_back(absl::StrCat(TrackName(d, in.track), ": instant ", in.name,
                                 " @", in.time, Args(in.args),
                                 in.flows_out.empty() ? "" : " flow->"));
  }
  for (const PerfettoSample& s : d.samples) {
    lines.push_back(absl::StrCat("sample @", s.time, " pid=", s.pid, " tid=",
                                 s.tid, " ", absl::StrJoin(s.frames, " < ")));
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

TEST(PerfettoCommandTest, HandBuiltTraceExactly) {
  const std::string trace = WriteTrace("perfetto_hand.trace");
  const DecodedPerfetto d =
      ExportAndDecode(trace, TestTempPath("perfetto_hand.pb"));
  const std::vector<std::string> want = {
      "fib/state: instant wake G1 @2900 flow->",
      "fib/state: running 1040-3501 depth=0",
      "fib: step 1100-1400 depth=0",
      "main/state: blocked: sync 2800-2900 depth=0",
      "main/state: running 1020-2800 depth=0",
      "main/state: running 3000-3100 depth=0 <-flow",
      "main/state: running 3400-3500 depth=0",
      "main/state: syscall 3100-3400 depth=0",
      "main: instant cache @1250 category=cache message=hit task=1",
      "main: parse 1200-2000 depth=0 task=1",
      "main: step 1300-1500 depth=1 task=1",
      "main: step 2600-3501 depth=0",
      "process pid=1 gentrace: perfetto_hand.trace (track gentrace: "
      "perfetto_hand.trace)",
      "sample @1150 pid=1 tid=4194306 main.work f.go:10 < main.main f.go:20",
      "sample @1350 pid=1 tid=10 main.leaf f.go:30 < main.work f.go:10 < "
      "main.main f.go:20",
      "sample @1360 pid=1 tid=10 main.leaf f.go:30 < main.work f.go:10 < "
      "main.main f.go:20",
      "sample @1450 pid=1 tid=12 main.work f.go:10 < main.main f.go:20",
      "sample @1460 pid=1 tid=10 main.work f.go:10 < main.main f.go:20",
      "sample @1700 pid=1 tid=10 main.work f.go:10 < main.main f.go:20",
      "sample @2500 pid=1 tid=10 main.work f.go:10 < main.main f.go:20",
      "sample @2700 pid=1 tid=10 main.leaf f.go:30 < main.work f.go:10 < "
      "main.main f.go:20",
      "tasks 1: req 1050-3050 depth=0 task id=1",
      "thread pid=1 tid=10 main (track main)",
      "thread pid=1 tid=12 thread 12 (track thread 12)",
      "thread pid=1 tid=4194306 fib (track fib)",
      "track fib/state",
      "track main/state",
      "track tasks 1",
  };
  EXPECT_EQ(Lines(d), want) << absl::StrJoin(Lines(d), "\n");
  EXPECT_EQ(d.flows_begun, 1u);
  EXPECT_EQ(d.flows_ended, 1u);
  ExpectMatchesTrace(d, trace);
}

TEST(PerfettoCommandTest, StandardOutputIsTheSameBytes) {
  const std::string trace = WriteTrace("perfetto_stdout.trace");
  const std::string file = TestTempPath("perfetto_stdout.pb");
  ProcessResult r = RunGentrace({"perfetto", trace, file});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  // From standard input the process is named so; otherwise the same.
  ProcessResult piped =
      RunGentrace({"perfetto", "-", "-"}, ReadFileOrEmpty(trace));
  ASSERT_EQ(piped.exit_code, 0) << piped.stderr_data;
  const DecodedPerfetto a = DecodePerfetto(ReadFileOrEmpty(file));
  const DecodedPerfetto b = DecodePerfetto(piped.stdout_data);
  EXPECT_TRUE(b.problems.empty()) << absl::StrJoin(b.problems, "\n");
  EXPECT_EQ(b.tracks.at(1).thread_name, "gentrace: standard input");
  EXPECT_EQ(a.packets, b.packets);
  EXPECT_EQ(a.slices.size(), b.slices.size());
  EXPECT_EQ(a.samples.size(), b.samples.size());
}

TEST(PerfettoCommandTest, HelpAndUsage) {
  ProcessResult r = RunGentrace({"perfetto", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(
      absl::StartsWith(r.stdout_data, "usage: gentrace perfetto FILE OUT\n"))
      << r.stdout_data;
  EXPECT_EQ(RunGentrace({"help", "perfetto"}).stdout_data, r.stdout_data);

  r = RunGentrace({"perfetto", "only-one"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(absl::StartsWith(r.stderr_data, "gentrace perfetto: "))
      << r.stderr_data;
  r = RunGentrace({"perfetto", "a", "b", "--type=cpu"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(
      absl::StartsWith(r.stderr_data, "gentrace perfetto: unknown flag --type"))
      << r.stderr_data;
}

// One line, "gentrace perfetto: PATH: REASON", exit 1, no output file.
void ExpectBadInput(const std::string& path, const std::string& reason) {
  const std::string out = TestTempPath("perfetto_bad.pb");
  ProcessResult r = RunGentrace({"perfetto", path, out});
  EXPECT_EQ(r.exit_code, 1) << path;
  EXPECT_TRUE(absl::StartsWith(r.stderr_data,
                               absl::StrCat("gentrace perfetto: ", path, ": ")))
      << r.stderr_data;
  EXPECT_TRUE(absl::StrContains(r.stderr_data, reason)) << r.stderr_data;
  EXPECT_EQ(std::count(r.stderr_data.begin(), r.stderr_data.end(), '\n'), 1)
      << r.stderr_data;
  EXPECT_EQ(r.stdout_data, "");
  EXPECT_NE(access(out.c_str(), F_OK), 0) << "output written for " << path;
}

TEST(PerfettoCommandTest, BadInput) {
  ExpectBadInput(TestTempPath("perfetto_missing.trace"),
                 "No such file or directory");

  const std::string not_trace = TestTempPath("perfetto_not_a.trace");
  ASSERT_TRUE(WriteFile(not_trace, "this is not a trace\n"));
  ExpectBadInput(not_trace, "not a Go execution trace");

  // Cut in the middle of its last batch: what was read must not be
  // written.
  const std::string whole = HandBuiltTrace();
  const std::string cut = TestTempPath("perfetto_cut.trace");
  ASSERT_TRUE(WriteFile(cut, whole.substr(0, whole.size() - 20)));
  ExpectBadInput(cut, "");
}

}  // namespace
}  // namespace gentrace::tools
