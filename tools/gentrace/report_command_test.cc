// `gentrace report`: the data extraction (ReportData) on a hand-built
// trace whose times are known, compared with the exact JSON it must give,
// also with every bound reached; the coarsening of a full row of items;
// and the command: the page holds the data, the tables and the renderer
// and names nothing outside it, a log category with "</script>" in it is
// escaped, --help, usage errors and bad input (one line naming the file
// and the reason, exit 1, no output file).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "format/gentrace_batch.h"
#include "reader/reader.h"
#include "tools/gentrace/hand_trace.h"
#include "tools/gentrace/report_data.h"
#include "tools/gentrace/test_process.h"

namespace gentrace::tools {
namespace {

// The trace: tools/gentrace/hand_trace.h's TwoThreadTrace, with the log
// category "cache</script><b>" (a log category the page must escape).
std::string HandBuiltTrace() { return TwoThreadTrace("cache</script><b>"); }

std::string WriteTrace(const std::string& name) {
  return WriteCheckedTrace(name, HandBuiltTrace());
}

// ReportData's JSON for the trace at `path`, read by our reader to its
// end.
std::string Extract(const std::string& path, ReportLimits limits) {
  absl::StatusOr<std::unique_ptr<reader::Reader>> r =
      reader::Reader::Open(path);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return "";
  ReportData data(limits);
  reader::Event ev;
  while ((*r)->ReadEvent(&ev)) data.Add(ev, (*r)->generation());
  EXPECT_TRUE((*r)->status().ok()) << (*r)->status();
  return data.FinishJson();
}

// The strings every JSON of the hand-built trace starts with, in the
// order they are first met.
constexpr char kStrings[] =
    R"({"start_ns": 1010, "end_ns": 3501, "strings": ["merged","all samples",)"
    R"("running","step","main.main","main.work","parse","cache</script><b>",)"
    R"("main.leaf","blocked: sync","syscall"], )";

// Times are from the first event, 1010 (see TwoThreadTrace): G1 runs 1020-2800,
// is blocked on sync 2800-2900, runnable (not drawn), runs 3000-3100, in a
// syscall 3100-3400, runs 3400-3500; parse 1200-2000 holds step 1300-1500
// (depth 1); step from 2600 ends at the trace's end, 3501; the log at
// 1250. G2, the fiber, runs 1040-3501 with step 1100-1400; the parse that
// ends on it at 1600 began before the trace and is left out. The samples:
// five of stack 1 (main.main > main.work) and three of stack 2 (> main.leaf).
TEST(ReportDataTest, HandBuiltTraceExactly) {
  const std::string json = Extract(WriteTrace("report_hand.trace"), {});
  EXPECT_EQ(
      json,
      absl::StrCat(
          kStrings,
          R"("limits": {"tracks": 100, "items": 2000, "depth": 6, )"
          R"("frames": 20000}, "tracks": [)"
          "\n"
          R"({"name": "main", "goroutine": 1, "states": [[10,1780,2,1],)"
          R"([1790,100,9,1],[1990,100,2,1],[2090,300,10,1],[2390,100,2,1]], )"
          R"("regions": [[[190,800,6,1],[1590,901,3,1]],[[290,200,3,1]]], )"
          R"("logs": [[240,0,7,1]]},)"
          "\n"
          R"({"name": "fib", "goroutine": 2, "states": [[30,2461,2,1]], )"
          R"("regions": [[[90,300,3,1]]], "logs": []}], "tracks_dropped": 0, )"
          R"("regions_dropped": 0, "items_merged": 0, "samples": 8, )"
          R"("flame": [[-1,1,8],[0,4,8],[1,5,8],[2,8,3]], )"
          R"("frames_dropped": 0})"));
}

// Every bound reached: one track (G2 is counted, not drawn), one region
// depth (step inside parse is counted), three flame frames (the three
// samples of stack 2 end at main.work).
TEST(ReportDataTest, HandBuiltTraceBounded) {
  ReportLimits limits;
  limits.max_tracks = 1;
  limits.max_items = 8;
  limits.max_depth = 1;
  limits.max_frames = 3;
  const std::string json = Extract(WriteTrace("report_bounded.trace"), limits);
  EXPECT_EQ(
      json,
      absl::StrCat(
          kStrings,
          R"("limits": {"tracks": 1, "items": 8, "depth": 1, "frames": 3}, )"
          R"("tracks": [)"
          "\n"
          R"({"name": "main", "goroutine": 1, "states": [[10,1780,2,1],)"
          R"([1790,100,9,1],[1990,100,2,1],[2090,300,10,1],[2390,100,2,1]], )"
          R"("regions": [[[190,800,6,1],[1590,901,3,1]]], )"
          R"("logs": [[240,0,7,1]]}], "tracks_dropped": 1, )"
          R"("regions_dropped": 1, "items_merged": 0, "samples": 8, )"
          R"("flame": [[-1,1,8],[0,4,8],[1,5,8]], "frames_dropped": 3})"));
}

// A row that fills up: nine items 1 ns long, 10 ns apart, overflow 8, so
// w = 4 * 81 / 8 + 1 = 41 and they become one aggregate [0, 81] of 9. A
// long item after a long gap stays; a short one after it stays (the long
// one is not merged into), and the next short one within w joins it,
// under "merged" as their names differ.
TEST(ReportDataTest, FullRowIsCoarsened) {
  ReportItemList list;
  constexpr uint32_t kMerged = 0;
  for (int i = 0; i < 9; ++i) list.Add(10 * i, 10 * i + 1, 1, kMerged, 8);
  EXPECT_EQ(list.width(), 41);
  list.Add(200, 300, 1, kMerged, 8);
  list.Add(305, 306, 1, kMerged, 8);
  list.Add(320, 321, 2, kMerged, 8);
  std::vector<std::string> got;
  for (const ReportItemList::Item& it : list.items()) {
    got.push_back(
        absl::StrCat(it.start, "-", it.end, " ", it.name, " x", it.count));
  }
  EXPECT_EQ(got, (std::vector<std::string>{"0-81 1 x9", "200-300 1 x1",
                                           "305-321 0 x2"}));
}

// Rows of any length stay within max_items, and the counts add up to the
// items given.
TEST(ReportDataTest, RowsStayBounded) {
  for (size_t cap : {8, 100, 1000}) {
    ReportItemList list;
    uint64_t added = 0;
    int64_t t = 0;
    for (int i = 0; i < 200000; ++i) {
      // Mostly short items, every 97th a long one, gaps of 0 to 6.
      const int64_t len = i % 97 == 0 ? 5000 : i % 5;
      list.Add(t, t + len, static_cast<uint32_t>(i % 3), 7, cap);
      ++added;
      t += len + i % 7;
      ASSERT_LE(list.items().size(), cap) << i;
    }
    uint64_t counted = 0;
    int64_t last_end = 0;
    for (const ReportItemList::Item& it : list.items()) {
      counted += it.count;
      EXPECT_GE(it.start, last_end);
      last_end = it.end;
    }
    EXPECT_EQ(counted, added) << cap;
  }
}

// The page: self-contained, with the data (its "</" escaped), the tables
// and the renderer.
TEST(ReportCommandTest, PageHoldsDataTablesAndRenderer) {
  const std::string trace = WriteTrace("report_page.trace");
  const std::string out = TestTempPath("report_page.html");
  ProcessResult r = RunGentrace({"report", trace, out});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(r.stdout_data, "");
  const std::string page = ReadFileOrEmpty(out);
  EXPECT_TRUE(absl::StartsWith(page, "<!DOCTYPE html>")) << page;
  // Nothing from outside: no URL, no external script, style or font.
  for (const char* s : {"http:", "https:", "//cdn", "<link", "src=", "url("}) {
    EXPECT_FALSE(absl::StrContains(page, s)) << s;
  }
  // The log category only as escaped text: in the data "<\/script>", in
  // the logs table "&lt;/script&gt;".
  EXPECT_FALSE(absl::StrContains(page, "cache</script>"));
  // "<b>" only inside the JSON string, where it is text.
  EXPECT_EQ(page.find("<b>"), page.rfind("<b>"));
  EXPECT_TRUE(absl::StrContains(page, R"("cache<\/script><b>")"));
  EXPECT_TRUE(absl::StrContains(
      page, "<td>cache&lt;/script&gt;&lt;b&gt;</td><td>1</td>"));
  // The data is ReportData's, the tables are the stats tables.
  EXPECT_TRUE(absl::StrContains(
      page, R"("flame": [[-1,1,8],[0,4,8],[1,5,8],[2,8,3]])"));
  EXPECT_TRUE(
      absl::StrContains(page, "<table id=\"regions\" data-rows=\"2\">"));
  EXPECT_TRUE(absl::StrContains(page, "<table id=\"tasks\" data-rows=\"1\">"));
  EXPECT_TRUE(absl::StrContains(page, "<table id=\"logs\" data-rows=\"1\">"));
  EXPECT_TRUE(absl::StrContains(page, "<table id=\"threads\""));
  EXPECT_TRUE(absl::StrContains(page, "<table id=\"cpu-flat\""));
  EXPECT_TRUE(absl::StrContains(page, "id=\"timeline-canvas\""));
  EXPECT_TRUE(absl::StrContains(page, "id=\"flame-canvas\""));
  EXPECT_TRUE(absl::StrContains(page, "function drawTimeline()"));
  // Two scripts: the data and the renderer.
  size_t scripts = 0;
  for (size_t p = page.find("<script"); p != std::string::npos;
       p = page.find("<script", p + 1)) {
    ++scripts;
  }
  EXPECT_EQ(scripts, 2u);

  // Standard input and output give the same page, but for its name.
  ProcessResult piped =
      RunGentrace({"report", "-", "-"}, ReadFileOrEmpty(trace));
  ASSERT_EQ(piped.exit_code, 0) << piped.stderr_data;
  EXPECT_TRUE(absl::StrContains(
      piped.stdout_data, "<title>gentrace report: standard input</title>"));
  EXPECT_EQ(piped.stdout_data,
            absl::StrReplaceAll(page, {{trace, "standard input"}}));
}

TEST(ReportCommandTest, NeedsTwoFiles) {
  ProcessResult r = RunGentrace({"report", "only-one"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(absl::StartsWith(r.stderr_data, "gentrace report: "))
      << r.stderr_data;
}

void ExpectBadInput(const std::string& path, const std::string& reason) {
  const std::string out = TestTempPath("report_bad.html");
  ExpectOneLineInputError("report", {path, out}, path, reason, out);
}

TEST(ReportCommandTest, BadInput) {
  ExpectBadInput(TestTempPath("report_missing.trace"),
                 "No such file or directory");
  const std::string not_trace = TestTempPath("report_not_a.trace");
  ASSERT_TRUE(WriteFile(not_trace, "this is not a trace\n"));
  ExpectBadInput(not_trace, "not a Go execution trace");
  // Cut in the middle of its last batch: no page for part of a trace.
  const std::string whole = HandBuiltTrace();
  const std::string cut = TestTempPath("report_cut.trace");
  ASSERT_TRUE(WriteFile(cut, whole.substr(0, whole.size() - 20)));
  ExpectBadInput(cut, "");
}

}  // namespace
}  // namespace gentrace::tools
