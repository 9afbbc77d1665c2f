// Tests of the bridge to Go's trace parser (go_tool.h) and, through it, of
// tests/go/gotool itself: a valid trace is OK, a trace without a Frequency
// batch is an ERROR, and a trace with a broken last generation is PARTIAL;
// Go's raw reader reads to the end of a trace unless an experiment id of
// 128 or more derails it.

#include "tests/interop/go_tool.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "format/text.h"
#include "tools/gentrace/test_process.h"

namespace gentrace {
namespace interop {
namespace {

// The smallest trace Go's parser and validator accept: one thread (M 101)
// with P 0 and goroutine 1 running, one log, the clock frequency and the
// strings the log refers to. In Go's raw text format; size=0 is filled in by
// text2bin -auto-sizes.
constexpr char kMinimalTrace[] = R"(Trace Go1.22
EventBatch gen=1 m=101 time=1000 size=0
ProcStatus dt=1 p=0 pstatus=1
GoStatus dt=1 g=1 m=101 gstatus=2
UserLog dt=10 task=0 key_string=1 value_string=2 stack=0
EventBatch gen=1 m=18446744073709551615 time=0 size=0
Frequency freq=1000000000
EventBatch gen=1 m=18446744073709551615 time=0 size=0
Strings
String id=1
	data="key"
String id=2
	data="value"
)";

constexpr char kFrequencyBatch[] =
    "EventBatch gen=1 m=18446744073709551615 time=0 size=0\n"
    "Frequency freq=1000000000\n";

// kMinimalTrace followed by a second generation of the same shape. Its last
// batch is the Strings batch of generation 2.
std::string TwoGenerationTrace() {
  std::string gen2 = absl::StrReplaceAll(
      absl::string_view(kMinimalTrace).substr(sizeof("Trace Go1.22\n") - 1),
      {{"gen=1", "gen=2"}, {"time=1000", "time=2000"}});
  return absl::StrCat(kMinimalTrace, gen2);
}

std::string TempPath(absl::string_view name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/go_tool_test_", name);
}

// Converts a text trace to a binary one at `path` with gotool text2bin.
void TextToTrace(const std::string& text, const std::string& path) {
  absl::StatusOr<GoRunResult> run =
      RunGoTool({"text2bin", "-auto-sizes", "-", path}, text);
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_EQ(run->exit_code, 0) << run->stderr_data;
}

TEST(GoToolTest, MinimalTraceIsOk) {
  GENTRACE_REQUIRE_GO_TOOL();
  const std::string path = TempPath("minimal.trace");
  ASSERT_NO_FATAL_FAILURE(TextToTrace(kMinimalTrace, path));

  absl::StatusOr<GoValidateResult> v = GoValidate(path);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->ok) << v->output;
  EXPECT_EQ(v->result_line, "RESULT: OK");
  EXPECT_TRUE(absl::StrContains(v->output, "generations complete: 1\n"))
      << v->output;
  EXPECT_TRUE(absl::StrContains(v->output, "Log=1")) << v->output;
  std::remove(path.c_str());
}

TEST(GoToolTest, MissingFrequencyIsError) {
  GENTRACE_REQUIRE_GO_TOOL();
  std::string text = kMinimalTrace;
  ASSERT_TRUE(absl::StrContains(text, kFrequencyBatch));
  text = absl::StrReplaceAll(text, {{kFrequencyBatch, ""}});
  const std::string path = TempPath("no_frequency.trace");
  ASSERT_NO_FATAL_FAILURE(TextToTrace(text, path));

  absl::StatusOr<GoValidateResult> v = GoValidate(path);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->ok);
  EXPECT_TRUE(absl::StartsWith(v->result_line, "RESULT: ERROR"))
      << v->result_line;
  EXPECT_TRUE(absl::StrContains(v->result_line, "no frequency event found"))
      << v->result_line;

  // A broken tail is no excuse for a trace without a single generation.
  v = GoValidate(path, /*allow_broken_tail=*/true);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->ok);
  std::remove(path.c_str());
}

TEST(GoToolTest, TruncatedLastGenerationIsPartial) {
  GENTRACE_REQUIRE_GO_TOOL();
  const std::string full_path = TempPath("two_gens.trace");
  ASSERT_NO_FATAL_FAILURE(TextToTrace(TwoGenerationTrace(), full_path));
  absl::StatusOr<GoValidateResult> full = GoValidate(full_path);
  ASSERT_TRUE(full.ok()) << full.status();
  ASSERT_EQ(full->result_line, "RESULT: OK") << full->output;
  EXPECT_TRUE(absl::StrContains(full->output, "generations complete: 2\n"))
      << full->output;

  // Cutting 3 bytes breaks generation 2's Strings batch; generation 1 stays
  // readable, which is what go tool trace needs to open the file.
  std::string bytes = tools::ReadFileOrEmpty(full_path);
  ASSERT_GT(bytes.size(), 3u);
  bytes.resize(bytes.size() - 3);
  const std::string cut_path = TempPath("two_gens_truncated.trace");
  ASSERT_TRUE(tools::WriteFile(cut_path, bytes));

  absl::StatusOr<GoValidateResult> strict = GoValidate(cut_path);
  ASSERT_TRUE(strict.ok()) << strict.status();
  EXPECT_FALSE(strict->ok);
  EXPECT_TRUE(absl::StartsWith(strict->result_line, "RESULT: PARTIAL"))
      << strict->output;
  EXPECT_TRUE(absl::StrContains(strict->output, "generations complete: 1\n"))
      << strict->output;

  absl::StatusOr<GoValidateResult> tolerant =
      GoValidate(cut_path, /*allow_broken_tail=*/true);
  ASSERT_TRUE(tolerant.ok()) << tolerant.status();
  EXPECT_TRUE(tolerant->ok) << tolerant->output;
  EXPECT_EQ(tolerant->result_line, strict->result_line);
  std::remove(full_path.c_str());
  std::remove(cut_path.c_str());
}

TEST(GoToolTest, LargeDataThroughPipes) {
  GENTRACE_REQUIRE_GO_TOOL();
  // About 4.6 MB of text in and 0.5 MB of binary out, then back: more than
  // any pipe buffer, in both directions.
  std::string text = "Trace Go1.22\n";
  constexpr int kBatches = 40;
  constexpr int kLogsPerBatch = 2000;
  for (int b = 0; b < kBatches; ++b) {
    absl::StrAppend(&text, "EventBatch gen=1 m=101 time=", 1000 + b * 100000,
                    " size=0\n");
    if (b == 0) {
      absl::StrAppend(&text, "ProcStatus dt=1 p=0 pstatus=1\n",
                      "GoStatus dt=1 g=1 m=101 gstatus=2\n");
    }
    for (int i = 0; i < kLogsPerBatch; ++i) {
      absl::StrAppend(
          &text, "UserLog dt=10 task=0 key_string=1 value_string=2 stack=0\n");
    }
  }
  absl::StrAppend(
      &text,
      absl::string_view(kMinimalTrace)
          .substr(absl::string_view(kMinimalTrace).find(kFrequencyBatch)));

  absl::StatusOr<GoRunResult> bin =
      RunGoTool({"text2bin", "-auto-sizes", "-", "-"}, text);
  ASSERT_TRUE(bin.ok()) << bin.status();
  ASSERT_EQ(bin->exit_code, 0) << bin->stderr_data;
  EXPECT_TRUE(absl::StartsWith(bin->stdout_data, "go 1.22 trace"));

  absl::StatusOr<GoRunResult> back =
      RunGoTool({"bin2text", "-", "-"}, bin->stdout_data);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->exit_code, 0) << back->stderr_data;
  EXPECT_TRUE(absl::StartsWith(back->stdout_data, "Trace Go1.22\n"));
  EXPECT_FALSE(absl::StrContains(back->stdout_data, " size=0\n"));

  absl::StatusOr<GoRunResult> v =
      RunGoTool({"validate", "-"}, bin->stdout_data);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->exit_code, 0) << v->stdout_data << v->stderr_data;
  EXPECT_TRUE(absl::StrContains(
      v->stdout_data, absl::StrCat("Log=", kBatches * kLogsPerBatch, " ")))
      << v->stdout_data;
}

// gotool raw on the same trace with an experimental batch of experiment
// `exp` (written by gentrace's text converter, which writes the id as the
// one byte Go's parser reads), cut by `cut` bytes at the end.
absl::StatusOr<GoRawResult> RawReadWithExperiment(int exp, size_t cut,
                                                  const std::string& name) {
  absl::StatusOr<std::string> bin = format::TextToBinary(absl::StrCat(
      kMinimalTrace, "ExperimentalBatch exp=", exp,
      " gen=1 m=101 time=0\n\tdata=\"\\x10\\x02\\x03\"\n",
      "EventBatch gen=1 m=101 time=2000 size=0\n",
      "UserLog dt=10 task=0 key_string=1 value_string=2 stack=0\n"));
  if (!bin.ok()) return bin.status();
  bin->resize(bin->size() - cut);
  const std::string path = TempPath(name);
  if (!tools::WriteFile(path, *bin)) {
    return absl::InternalError(absl::StrCat("cannot write ", path));
  }
  return GoRawRead(path);
}

TEST(GoToolTest, RawReaderMustReachTheEnd) {
  GENTRACE_REQUIRE_GO_TOOL();
  absl::StatusOr<GoRawResult> r = RawReadWithExperiment(0x47, 0, "exp71");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->reached_end) << r->result_line;
  EXPECT_FALSE(r->cut_tail);
  EXPECT_EQ(r->result_line, "RAW: OK 13 events, 107 bytes");
  EXPECT_EQ(r->end_offset, 107u);

  // Go's parser reads the id as a byte and accepts this trace; Go's raw
  // reader reads a varint: 199 = 0xc7 swallows the generation number, each
  // field after it takes the next one's value, the first payload byte
  // becomes a length of 16, and what follows is misread.
  r = RawReadWithExperiment(199, 0, "exp199");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->reached_end);
  // It even looks like a cut tail; only where it ended tells.
  EXPECT_TRUE(r->cut_tail);
  EXPECT_EQ(r->end_offset, 86u);
  EXPECT_TRUE(absl::StartsWith(r->result_line,
                               "RAW: ERROR after 10 events "
                               "at byte 86: "))
      << r->result_line;
  absl::StatusOr<GoValidateResult> v = GoValidate(TempPath("exp199"));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->ok) << v->output;

  // A file that ends inside an event: every event before it was read.
  r = RawReadWithExperiment(0x47, 1, "cut");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->reached_end);
  EXPECT_TRUE(r->cut_tail) << r->result_line;
  EXPECT_EQ(r->end_offset, 101u);  // after the last batch's header
}

TEST(GoToolTest, ReportsUsageErrorsAsExitCodes) {
  GENTRACE_REQUIRE_GO_TOOL();
  absl::StatusOr<GoRunResult> run = RunGoTool({"no-such-subcommand"});
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 2);
  EXPECT_EQ(run->term_signal, 0);
  EXPECT_TRUE(absl::StrContains(run->stderr_data, "unknown subcommand"))
      << run->stderr_data;
}

// Runs whether or not the tool is available: without GENTRACE_GOTOOL the
// helpers report that instead of failing obscurely.
TEST(GoToolTest, WithoutEnvVarNothingRuns) {
  const std::string saved = GoToolPath();
  const bool was_set = std::getenv(kGoToolEnvVar) != nullptr;
  unsetenv(kGoToolEnvVar);
  EXPECT_FALSE(GoToolAvailable());
  absl::StatusOr<GoRunResult> run = RunGoTool({"validate", "x.trace"});
  EXPECT_EQ(run.status().code(), absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<GoValidateResult> v = GoValidate("x.trace");
  EXPECT_EQ(v.status().code(), absl::StatusCode::kFailedPrecondition);

  setenv(kGoToolEnvVar, "/nonexistent/gotool", 1);
  EXPECT_FALSE(GoToolAvailable());

  if (was_set) {
    setenv(kGoToolEnvVar, saved.c_str(), 1);
  } else {
    unsetenv(kGoToolEnvVar);
  }
}

}  // namespace
}  // namespace interop
}  // namespace gentrace
