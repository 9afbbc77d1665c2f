// Tests of ViewWithGo, the check every test-made trace goes through: it
// rejects what gentrace's reader or validator rejects, and what derails Go's
// raw reader, with or without Go; with Go, Go's verdict and events are
// compared with ours; without Go, the skipped Go step is noted (in a test's
// result, for ./dev test to count: tools/dev/count_tests_test.sh checks
// that on a real test's XML).
#include "tests/tracer/trace_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "format/text.h"
#include "tests/interop/go_tool.h"

namespace gentrace::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kNoThread[] = "18446744073709551615";

// Generation `gen` of a trace: thread 1 runs goroutine 1 on P 0 and logs
// twice; `exp` >= 0 adds an experimental batch of that experiment.
std::string Generation(int gen, int exp = -1) {
  std::string text = absl::StrCat(
      "EventBatch gen=", gen, " m=1 time=", gen * 1000, " size=0\n",
      "ProcStatus dt=1 p=0 pstatus=1\n", "GoStatus dt=1 g=1 m=1 gstatus=2\n",
      "UserLog dt=10 task=0 key_string=1 value_string=2 stack=0\n",
      "UserLog dt=10 task=0 key_string=1 value_string=2 stack=0\n",
      "EventBatch gen=", gen, " m=", kNoThread, " time=0 size=0\n",
      "Frequency freq=1000000000\n", "EventBatch gen=", gen, " m=", kNoThread,
      " time=0 size=0\n", "Strings\n", "String id=1\n\tdata=\"key\"\n",
      "String id=2\n\tdata=\"value\"\n");
  if (exp >= 0) {
    absl::StrAppend(&text, "ExperimentalBatch exp=", exp, " gen=", gen,
                    " m=0 time=0\n\tdata=\"\\x10\\x02\\x03\"\n");
  }
  return text;
}

std::string WriteTrace(const std::string& name, const std::string& text,
                       size_t cut = 0) {
  absl::StatusOr<std::string> bin = format::TextToBinary(text);
  EXPECT_TRUE(bin.ok()) << bin.status();
  if (!bin.ok()) return "";
  bin->resize(bin->size() - cut);
  const std::string path = TempPath(name);
  std::ofstream(path, std::ios::binary) << *bin;
  return path;
}

// Runs `body` with Go's tools (if available) and again without them; the
// run without them must note each skipped Go step (and is not itself a
// skipped check of this test).
template <typename Body>
void WithAndWithoutGo(Body body) {
  if (interop::GoToolAvailable()) {
    SCOPED_TRACE("with Go");
    body(/*go=*/true);
  }
  SCOPED_TRACE("without Go");
  interop::ScopedNoGoTool no_go;
  body(/*go=*/false);
  EXPECT_FALSE(no_go.skipped().empty());
  for (const std::string& step : no_go.skipped()) {
    EXPECT_THAT(step, HasSubstr("Go's parser, validator and raw reader on "));
  }
}

TEST(TraceCheckTest, AcceptsAValidTraceAndListsItsEvents) {
  const std::string path = WriteTrace(
      "ok.trace",
      absl::StrCat("Trace Go1.23\n", Generation(1, 0x47), Generation(2)));
  WithAndWithoutGo([&](bool go) {
    absl::StatusOr<GoView> v = ViewWithGo(path);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(v->go_checked, go);
    EXPECT_TRUE(v->valid) << v->validate_output;
    EXPECT_TRUE(v->ours_agree) << v->ours_difference;
    EXPECT_EQ(v->end_line, "END ok");
    EXPECT_EQ(v->count("Log"), 4);
    EXPECT_EQ(v->count("Sync"), 2);
    EXPECT_EQ(v->count_matching({"Log ", "message=\"value\""}), 4);
    absl::StatusOr<GoView> counts = ViewWithGo(path, false, /*dump=*/false);
    ASSERT_TRUE(counts.ok()) << counts.status();
    EXPECT_TRUE(counts->events.empty());
    EXPECT_EQ(counts->kinds, v->kinds);
  });
}

TEST(TraceCheckTest, RejectsWhatGosRawReaderMisreads) {
  // Go's parser accepts experiment 199, Go's raw reader does not: gentrace's
  // own check sees it too, so a run without Go rejects it as well. (The
  // batch comes last, where the misread length runs off the end of the
  // file; further in, a misread can fall back into step by chance, which
  // only gentrace's check would catch.)
  const std::string path = WriteTrace(
      "exp199.trace",
      absl::StrCat("Trace Go1.23\n", Generation(1), Generation(2, 199)));
  WithAndWithoutGo([&](bool go) {
    absl::StatusOr<GoView> v = ViewWithGo(path);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_FALSE(v->valid);
    EXPECT_TRUE(v->ours_agree) << v->ours_difference;
    EXPECT_THAT(v->validate_output,
                HasSubstr("has experiment id 199, which Go's raw reader reads "
                          "as a varint"));
    if (go) {
      EXPECT_THAT(v->validate_output, HasSubstr("RESULT: OK"));
      EXPECT_THAT(v->result_line, HasSubstr("RAW: ERROR after"));
    }
  });
}

TEST(TraceCheckTest, RejectsWhatTheValidatorRejects) {
  // A running P introduced by a batch of no thread: fine for the reader,
  // not for the validator ("must have thread").
  const std::string path = WriteTrace(
      "invalid.trace",
      absl::StrCat("Trace Go1.23\n", Generation(1),
                   "EventBatch gen=1 m=", kNoThread, " time=1000 size=0\n",
                   "ProcStatus dt=5 p=5 pstatus=1\n"));
  WithAndWithoutGo([&](bool go) {
    absl::StatusOr<GoView> v = ViewWithGo(path);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_FALSE(v->valid);
    EXPECT_TRUE(v->ours_agree) << v->ours_difference;
    EXPECT_THAT(v->validate_output, HasSubstr("gentrace: ERROR validator: "));
    if (go) {
      EXPECT_THAT(v->result_line, HasSubstr("RESULT: ERROR validator"));
    }
  });
}

TEST(TraceCheckTest, BrokenTailOnlyWhereAllowed) {
  // Cut inside generation 2's last batch.
  const std::string path = WriteTrace(
      "cut.trace", absl::StrCat("Trace Go1.23\n", Generation(1), Generation(2)),
      3);
  WithAndWithoutGo([&](bool go) {
    absl::StatusOr<GoView> strict = ViewWithGo(path);
    ASSERT_TRUE(strict.ok()) << strict.status();
    EXPECT_FALSE(strict->valid);
    EXPECT_TRUE(strict->ours_agree) << strict->ours_difference;

    absl::StatusOr<GoView> v = ViewWithGo(path, /*allow_broken_tail=*/true);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_TRUE(v->valid) << v->validate_output;
    EXPECT_TRUE(v->ours_agree) << v->ours_difference;
    // Generation 1 only.
    EXPECT_EQ(v->count("Sync"), 1);
    EXPECT_EQ(v->count("Log"), 2);
    EXPECT_THAT(v->end_line, HasSubstr("END error: "));
  });
}

TEST(TraceCheckTest, CutGenerationsKeepsWholeGenerations) {
  const std::string path = WriteTrace(
      "three.trace", absl::StrCat("Trace Go1.23\n", Generation(1, 0x47),
                                  Generation(2, 0x47), Generation(3)));
  absl::StatusOr<std::string> window = CutGenerations(path, 2);
  ASSERT_TRUE(window.ok()) << window.status();
  EXPECT_EQ(ReadFile(*window),
            *format::TextToBinary(absl::StrCat(
                "Trace Go1.23\n", Generation(2, 0x47), Generation(3))));
  absl::StatusOr<GoView> v = ViewWithGo(*window);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->valid) << v->validate_output;
  EXPECT_TRUE(v->ours_agree) << v->ours_difference;
  EXPECT_EQ(v->count("Sync"), 2);
  EXPECT_EQ(CutGenerations(path, 4).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace gentrace::testing
