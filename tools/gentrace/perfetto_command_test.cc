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
#include "tools/gentrace/hand_trace.h"
#include "tools/gentrace/perfetto_test_decoder.h"
#include "tools/gentrace/test_process.h"

namespace gentrace::tools {
namespace {

// The trace: tools/gentrace/hand_trace.h's TwoThreadTrace, with the log
// category "cache".
std::string HandBuiltTrace() { return TwoThreadTrace("cache"); }

std::string WriteTrace(const std::string& name) {
  return WriteCheckedTrace(name, HandBuiltTrace());
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

TEST(PerfettoCommandTest, NeedsTwoFiles) {
  ProcessResult r = RunGentrace({"perfetto", "only-one"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(absl::StartsWith(r.stderr_data, "gentrace perfetto: "))
      << r.stderr_data;
}

void ExpectBadInput(const std::string& path, const std::string& reason) {
  const std::string out = TestTempPath("perfetto_bad.pb");
  ExpectOneLineInputError("perfetto", {path, out}, path, reason, out);
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
