// Tests of the comparison of our reader's dump with Go's (CompareWithGo):
// it forgives exactly what Go's reader varies from run to run, the order of
// events of different threads with equal times and the times that order
// gives them, and reports every other difference: a time, the order of one
// thread's events, an argument, where and how reading stopped.
//
// The bugs are injected into our side of the comparison, with Go's side
// played by our own unaltered dump (so these run without Go) and, when the
// Go reference tool is available, by Go's dumps of the same trace.
#include "tests/reader_conformance/conformance_util.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "format/byte_sink.h"
#include "format/text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/interop/go_tool.h"

namespace gentrace::conformance {
namespace {

using ::testing::HasSubstr;

// Three threads whose events tie at times 101, 106 and 110 (1 tick = 1 ns),
// with one event at a time of its own on each thread, and a thread 1 that
// logs twice at 106: ties within one thread are no license to reorder.
std::string TiedTrace() {
  std::string text = "Trace Go1.23\n";
  for (int m = 1; m <= 3; ++m) {
    absl::StrAppend(&text, "EventBatch gen=1 m=", m, " time=100 size=0\n",
                    "ProcStatus dt=1 p=", m, " pstatus=1\n",
                    "GoStatus dt=0 g=", m, " m=", m, " gstatus=2\n",
                    "UserLog dt=5 task=0 key_string=1 value_string=", m + 1,
                    " stack=0\n");
    if (m == 1) {
      absl::StrAppend(&text,
                      "UserLog dt=0 task=0 key_string=1 value_string=5 "
                      "stack=0\n");
    }
    absl::StrAppend(
        &text, "UserLog dt=4 task=0 key_string=1 value_string=1 stack=0\n",
        "UserLog dt=", 10 * m, " task=0 key_string=1 value_string=1 stack=0\n");
  }
  absl::StrAppend(
      &text, "EventBatch gen=1 m=18446744073709551615 time=0 size=0\n",
      "Frequency freq=1000000000\n",
      "EventBatch gen=1 m=18446744073709551615 time=0 size=0\n", "Strings\n",
      "String id=1\n\tdata=\"k\"\n", "String id=2\n\tdata=\"one\"\n",
      "String id=3\n\tdata=\"two\"\n", "String id=4\n\tdata=\"three\"\n",
      "String id=5\n\tdata=\"one again\"\n");
  absl::StatusOr<std::string> bin = format::TextToBinary(text);
  EXPECT_TRUE(bin.ok()) << bin.status();
  return bin.ok() ? *bin : "";
}

// The t= and m= fields of a dump line.
int64_t TimeOf(const std::string& line) {
  const size_t p = line.find(" t=") + 3;
  int64_t t = 0;
  EXPECT_TRUE(absl::SimpleAtoi(line.substr(p, line.find(' ', p) - p), &t));
  return t;
}
std::string ThreadOf(const std::string& line) {
  const size_t p = line.find(" m=") + 3;
  return line.substr(p, line.find(' ', p) - p);
}
std::string WithTime(const std::string& line, int64_t t) {
  const size_t p = line.find(" t=") + 3;
  return absl::StrCat(line.substr(0, p), t, line.substr(line.find(' ', p)));
}

// Gives every event the time a reader gives it in the events' order.
void Retime(OurEvents* ev) {
  int64_t prev = 0;
  for (size_t i = 0; i < ev->lines.size(); ++i) {
    const int64_t t = ev->raw_times[i] <= prev ? prev + 1 : ev->raw_times[i];
    ev->lines[i] = WithTime(ev->lines[i], t);
    prev = t;
  }
}

void Swap(OurEvents* ev, size_t i, size_t j) {
  std::swap(ev->lines[i], ev->lines[j]);
  std::swap(ev->raw_times[i], ev->raw_times[j]);
}

// The first pair i < j of events that satisfies pred(i, j).
template <typename Pred>
std::pair<size_t, size_t> FindPair(const OurEvents& ev, Pred pred) {
  for (size_t i = 0; i < ev.lines.size(); ++i) {
    for (size_t j = i + 1; j < ev.lines.size(); ++j) {
      if (pred(i, j)) return {i, j};
    }
  }
  ADD_FAILURE() << "no such pair in\n" << ev.Text();
  return {0, 0};
}

class CompareWithGoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    trace_ = TiedTrace();
    ours_ = ReadOurEvents(trace_);
    ASSERT_EQ(ours_.end, "END ok");
    // ProcStatus, GoStatus and the logs of the three threads, and a Sync.
    ASSERT_EQ(ours_.lines.size(), 17u) << ours_.Text();
    reference_ = ours_.Text();
    ASSERT_EQ(CompareWithGo(ours_, reference_), "");
  }

  // The bug, injected into `bad`, must be reported against Go's side,
  // whichever way that side orders its ties.
  void ExpectReported(const OurEvents& bad, absl::string_view want) {
    EXPECT_THAT(CompareWithGo(bad, reference_), HasSubstr(std::string(want)));
    for (const std::string& go : go_dumps_) {
      EXPECT_THAT(CompareWithGo(bad, go), HasSubstr(std::string(want)));
    }
  }

  std::string trace_;
  OurEvents ours_;
  std::string reference_;
  std::vector<std::string> go_dumps_;
};

TEST_F(CompareWithGoTest, ForgivesTiesOfDifferentThreadsInAnyOrder) {
  // Every order of the first tie (the ProcStatus and GoStatus of the three
  // threads, all at 101) that keeps each thread's own order, with the times
  // that order gives.
  for (size_t k = 0; k < 6; ++k) ASSERT_EQ(ours_.raw_times[k], 101);
  ASSERT_NE(ours_.raw_times[6], 101);
  std::vector<size_t> order = {0, 1, 2, 3, 4, 5};
  int orders = 0;
  do {
    bool per_thread = true;
    for (size_t k = 0; k < 6; ++k) {
      for (size_t l = k + 1; l < 6; ++l) {
        per_thread = per_thread && !(order[k] > order[l] &&
                                     ThreadOf(ours_.lines[order[k]]) ==
                                         ThreadOf(ours_.lines[order[l]]));
      }
    }
    if (!per_thread) continue;
    OurEvents go = ours_;
    for (size_t k = 0; k < order.size(); ++k) {
      go.lines[k] = ours_.lines[order[k]];
      go.raw_times[k] = ours_.raw_times[order[k]];
    }
    Retime(&go);
    EXPECT_EQ(CompareWithGo(ours_, go.Text()), "") << go.Text();
    ++orders;
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(orders, 90);  // 6! / 2^3
}

TEST_F(CompareWithGoTest, ReportsATimeOffByOne) {
  // An event at a time of its own (not moved by the fix-up), one tick off:
  // once in our dump only, once as our reader would get it wrong (its time
  // from the trace as well, so our dump is consistent in itself).
  const size_t i = ours_.lines.size() - 2;  // thread 3's last log, at 140
  ASSERT_EQ(TimeOf(ours_.lines[i]), 140) << ours_.Text();
  ASSERT_EQ(ours_.raw_times[i], 140);
  OurEvents bad = ours_;
  bad.lines[i] = WithTime(bad.lines[i], 141);
  ExpectReported(bad, "ours, line 16: t=141, but the event's time is 140");
  bad = ours_;
  bad.raw_times[i] = 141;
  bad.raw_times[i + 1] = 141;  // the Sync's: the time before it
  Retime(&bad);
  ExpectReported(bad,
                 "times differ: Go's line 16 has t=140, but in Go's "
                 "order it comes at 141");
}

TEST_F(CompareWithGoTest, ReportsSameThreadEventsSwapped) {
  // Thread 1's two logs at 106: equal times, but one thread's order is
  // never Go's to choose.
  auto [i, j] = FindPair(ours_, [&](size_t a, size_t b) {
    return ThreadOf(ours_.lines[a]) == ThreadOf(ours_.lines[b]) &&
           ours_.raw_times[a] == ours_.raw_times[b] &&
           absl::StrContains(ours_.lines[a], "Log ");
  });
  OurEvents bad = ours_;
  Swap(&bad, i, j);
  Retime(&bad);
  ExpectReported(
      bad, absl::StrCat("of thread ", ThreadOf(ours_.lines[i]), " differs"));
}

TEST_F(CompareWithGoTest, ReportsThreadsSwappedAcrossDifferentTimes) {
  // Two events of different threads whose times differ, in the other
  // order: the times the order gives are self-consistent, so only the rule
  // that just ties may swap catches it.
  auto [i, j] = FindPair(ours_, [&](size_t a, size_t b) {
    return b == a + 1 && ThreadOf(ours_.lines[a]) != ThreadOf(ours_.lines[b]) &&
           ours_.raw_times[a] != ours_.raw_times[b] &&
           !absl::StartsWith(ours_.lines[b], "Sync");
  });
  OurEvents bad = ours_;
  Swap(&bad, i, j);
  Retime(&bad);
  ExpectReported(bad, "only events with equal times may come in either order");
}

TEST_F(CompareWithGoTest, ReportsAnArgument) {
  OurEvents bad = ours_;
  const size_t i = 8;
  ASSERT_THAT(bad.lines[i], HasSubstr("message=\"one again\""));
  bad.lines[i].replace(bad.lines[i].find("one again"), 9, "one AGAIN");
  ExpectReported(bad, "differs (our line 9,");
}

TEST_F(CompareWithGoTest, ReportsWhereAndHowReadingStops) {
  // Go fails after 10 events; ours must fail there too, with Go's message
  // (plus, perhaps, our context).
  std::vector<std::string> go_lines(ours_.lines.begin(),
                                    ours_.lines.begin() + 10);
  std::string go;
  for (const std::string& l : go_lines) absl::StrAppend(&go, l, "\n");
  absl::StrAppend(&go, "END error: broken trace: failed to advance\n");

  OurEvents ours = ours_;
  EXPECT_THAT(CompareWithGo(ours, go),
              HasSubstr("ours has 17 events, Go's 10; the first one Go lacks "
                        "is our line 11"));
  ours.lines.resize(10);
  ours.raw_times.resize(10);
  ours.end =
      "END error: broken trace: failed to advance (at GoStart on thread 2, "
      "generation 1)";
  EXPECT_EQ(CompareWithGo(ours, go), "");
  ours.end = "END error: inconsistent status for proc";
  EXPECT_THAT(CompareWithGo(ours, go), HasSubstr("END lines differ"));
  EXPECT_EQ(CompareWithGo(ours, go, /*any_error=*/true), "");
  ours.end = "END ok";
  EXPECT_THAT(CompareWithGo(ours, go, /*any_error=*/true),
              HasSubstr("END lines differ"));
  // One event short, stopping at the same error.
  ours.lines.resize(9);
  ours.raw_times.resize(9);
  ours.end = "END error: broken trace: failed to advance";
  EXPECT_THAT(CompareWithGo(ours, go), HasSubstr("which has only"));
}

// The same injected bugs against Go's own dumps of the trace, which order
// its ties as they come.
TEST_F(CompareWithGoTest, AgainstGosDumps) {
  if (!interop::GoCheckEnabled("Go's dumps of the tied trace")) return;
  const std::string path = TempDir("tied") + "/tied.trace";
  ASSERT_TRUE(WriteFile(path, trace_));
  std::set<std::string> distinct;
  for (int run = 0; run < 10; ++run) {
    absl::StatusOr<std::string> go = GoDump(path);
    ASSERT_TRUE(go.ok()) << go.status();
    EXPECT_EQ(CompareWithGo(ours_, *go), "") << *go;
    go_dumps_.push_back(*go);
    distinct.insert(*go);
  }
  std::printf("Go's dumps: %zu different in 10 runs\n", distinct.size());
  OurEvents bad = ours_;
  bad.lines[8].replace(bad.lines[8].find("one again"), 9, "one AGAIN");
  ExpectReported(bad, "differs (our line 9,");
  bad = ours_;
  const size_t i = ours_.lines.size() - 2;
  bad.raw_times[i] = 141;
  bad.raw_times[i + 1] = 141;
  Retime(&bad);
  ExpectReported(bad, "times differ");
}

// Go's own reader test trace with the most ties: Go's dump of it differs
// from run to run, and every one of them must match ours.
TEST(GoStressTraceTest, EveryGoRunMatchesOurs) {
  const std::string goroot = GoRoot();
  if (goroot.empty()) {
    GENTRACE_SKIP_GO_CHECK("no Go installation (GENTRACE_GOROOT)");
  }
  if (!interop::GoCheckEnabled("Go's dumps of go122-gc-stress")) return;
  absl::StatusOr<GoTestCase> c = ParseGoTest(ReadFile(
      goroot + "/src/internal/trace/testdata/tests/go122-gc-stress.test"));
  ASSERT_TRUE(c.ok()) << c.status();
  std::string bin;
  format::StringSink sink(&bin);
  ASSERT_TRUE(
      format::TextToBinary(c->trace_text, &sink, c->trace_first_line).ok());
  const OurEvents ours = ReadOurEvents(bin);
  ASSERT_EQ(ours.end, "END ok");
  const std::string path = TempDir("stress") + "/stress.trace";
  ASSERT_TRUE(WriteFile(path, bin));
  std::set<std::string> distinct;
  constexpr int kRuns = 20;
  for (int run = 0; run < kRuns; ++run) {
    absl::StatusOr<std::string> go = GoDump(path);
    ASSERT_TRUE(go.ok()) << go.status();
    EXPECT_EQ(CompareWithGo(ours, *go), "") << "run " << run;
    distinct.insert(*go);
  }
  // Otherwise this test would not show what it is meant to.
  EXPECT_GT(distinct.size(), 1u);
  std::printf("Go's dumps: %zu different in %d runs, ours: %s\n",
              distinct.size(), kRuns,
              distinct.count(ours.Text()) ? "one of them" : "none of them");
}

}  // namespace
}  // namespace gentrace::conformance
