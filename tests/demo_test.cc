// The demo program's trace, checked the way a user would look at it:
// gentrace's reader and validator accept it, and, with Go, so do Go's parser
// and validator, Go's raw reader reads it to the end, `go tool trace -d=1`
// parses it, and `go tool trace -pprof=sync` reports the time the demo's
// threads spent blocked on the queue and the cache lock.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "reader/gentrace_info.h"
#include "reader/reader.h"
#include "tests/interop/go_tool.h"
#include "tests/tracer/trace_check.h"
#include "tools/gentrace/test_process.h"

namespace gentrace {
namespace {

using ::testing::HasSubstr;

std::string GoBinary() {
  const char* root = std::getenv("GENTRACE_GOROOT");
  return absl::StrCat(
      root != nullptr && *root != '\0' ? root : "/usr/lib/go-1.23", "/bin/go");
}

TEST(DemoTest, RunsAndGoToolTraceReadsItsTrace) {
  const std::string trace = testing::TempPath("demo.trace");
  absl::StatusOr<tools::ProcessResult> demo = tools::RunProcess(
      "tools/demo/demo",
      {absl::StrCat("--out=", trace), "--seconds=1", "--period_ms=100"});
  ASSERT_TRUE(demo.ok()) << demo.status();
  ASSERT_EQ(demo->exit_code, 0) << demo->stderr_data;
  EXPECT_THAT(demo->stdout_data, HasSubstr("demo: read back"));
  EXPECT_THAT(demo->stdout_data, HasSubstr("go tool trace"));

  absl::StatusOr<testing::GoView> v = testing::ViewWithGo(trace, false, false);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->valid) << v->validate_output;
  EXPECT_TRUE(v->ours_agree) << v->ours_difference;
  EXPECT_GE(v->count("Sync"), 5);
  EXPECT_GT(v->count("TaskBegin"), 100);
  EXPECT_GT(v->count("StackSample"), 0);  // CPU samples are on by default

  if (access(GoBinary().c_str(), X_OK) != 0) {
    interop::RecordGoCheckSkipped(
        absl::StrCat("go tool trace: no ", GoBinary(), " (GENTRACE_GOROOT)"));
    return;
  }

  // go tool trace -d=1: the strict event dump.
  absl::StatusOr<tools::ProcessResult> d1 =
      tools::RunProcess(GoBinary(), {"tool", "trace", "-d=1", trace});
  ASSERT_TRUE(d1.ok()) << d1.status();
  EXPECT_EQ(d1->exit_code, 0) << d1->stderr_data;
  EXPECT_THAT(d1->stdout_data, HasSubstr("RegionBegin"));

  // -pprof=sync: blocked time, attributed to the demo's waiting code.
  absl::StatusOr<tools::ProcessResult> sync =
      tools::RunProcess(GoBinary(), {"tool", "trace", "-pprof=sync", trace});
  ASSERT_TRUE(sync.ok()) << sync.status();
  ASSERT_EQ(sync->exit_code, 0) << sync->stderr_data;
  ASSERT_GT(sync->stdout_data.size(), 100u);
  const std::string profile = testing::TempPath("sync.pprof");
  ASSERT_TRUE(tools::WriteFile(profile, sync->stdout_data));
  absl::StatusOr<tools::ProcessResult> top =
      tools::RunProcess(GoBinary(), {"tool", "pprof", "-top", profile});
  ASSERT_TRUE(top.ok()) << top.status();
  ASSERT_EQ(top->exit_code, 0) << top->stderr_data;
  EXPECT_THAT(top->stdout_data, HasSubstr("Type: delay"));
  EXPECT_THAT(top->stdout_data, HasSubstr("RequestQueue::Pop"));
  EXPECT_FALSE(absl::StrContains(top->stdout_data, "of 0 total"))
      << top->stdout_data;
}

TEST(DemoTest, FlightRecorderSnapshotIsAValidTrace) {
  const std::string snapshot = testing::TempPath("demo-snapshot.trace");
  absl::StatusOr<tools::ProcessResult> demo = tools::RunProcess(
      "tools/demo/demo",
      {"--flight-recorder", absl::StrCat("--snapshot=", snapshot),
       "--seconds=1", "--period_ms=100"});
  ASSERT_TRUE(demo.ok()) << demo.status();
  ASSERT_EQ(demo->exit_code, 0) << demo->stderr_data;
  EXPECT_THAT(demo->stdout_data, HasSubstr("demo: snapshot in"));
  EXPECT_THAT(demo->stdout_data, HasSubstr("demo: read back"));
  absl::StatusOr<testing::GoView> v =
      testing::ViewWithGo(snapshot, false, false);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->valid) << v->validate_output;
  EXPECT_TRUE(v->ours_agree) << v->ours_difference;
  EXPECT_GE(v->count("Sync"), 1);
  EXPECT_GT(v->count("TaskBegin"), 0);
}

TEST(DemoTest, CrashLeavesADumpOfTheRing) {
  const std::string dump = testing::TempPath("demo-crash.trace");
  absl::StatusOr<tools::ProcessResult> demo = tools::RunProcess(
      "tools/demo/demo", {"--crash=abort", absl::StrCat("--crash-dump=", dump),
                          "--seconds=1", "--period_ms=50"});
  ASSERT_TRUE(demo.ok()) << demo.status();
  EXPECT_EQ(demo->exit_code, -1) << demo->stderr_data;  // killed by SIGABRT
  EXPECT_THAT(demo->stdout_data, HasSubstr("demo: crashing (abort)"));
  EXPECT_THAT(demo->stderr_data, HasSubstr("caught SIGABRT"));
  absl::StatusOr<testing::GoView> v = testing::ViewWithGo(dump);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->valid) << v->validate_output << demo->stderr_data;
  EXPECT_TRUE(v->ours_agree) << v->ours_difference;
  EXPECT_GE(v->count("Sync"), 1);
  EXPECT_GT(v->count("TaskBegin"), 0);
  // Logged just before the crash: in the generation the dump completes.
  EXPECT_EQ(v->count_matching(
                {"Log ", "category=\"crash\"", "message=\"about to crash\""}),
            1)
      << demo->stderr_data;
}

// Several perf events at once survive a crash: the dump's complete
// generations hold each event's EventSampler records and the secondary
// event's samples, which our reader resolves, and Go's parser still
// accepts the dump.
TEST(DemoTest, CrashDumpHoldsSeveralEvents) {
  const std::string dump = testing::TempPath("demo-crash-events.trace");
  absl::StatusOr<tools::ProcessResult> demo =
      tools::RunProcess("tools/demo/demo",
                        {"--crash=abort", absl::StrCat("--crash-dump=", dump),
                         "--seconds=1", "--period_ms=50", "--cpu_hz=1000",
                         "--cpu-ring", "--cpu-events=cpu-clock,page-faults@1"});
  ASSERT_TRUE(demo.ok()) << demo.status();
  EXPECT_EQ(demo->exit_code, -1) << demo->stderr_data;  // killed by SIGABRT
  absl::StatusOr<testing::GoView> v = testing::ViewWithGo(dump);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->valid) << v->validate_output << demo->stderr_data;
  EXPECT_TRUE(v->ours_agree) << v->ours_difference;

  absl::StatusOr<std::unique_ptr<reader::Reader>> r =
      reader::Reader::Open(dump);
  ASSERT_TRUE(r.ok()) << r.status();
  reader::Event ev;
  uint64_t gens_with_records = 0, cpu_samples = 0, cpu_taken = 0;
  uint64_t fault_records = 0, fault_taken = 0, resolved = 0, cpu_in_gen = 0;
  while ((*r)->ReadEvent(&ev)) {
    if (ev.kind() == reader::EventKind::kStackSample) ++cpu_in_gen;
    if (ev.kind() != reader::EventKind::kSync) continue;
    // A generation's events end with its Sync.
    const uint64_t cpu_of_gen = cpu_in_gen;
    cpu_in_gen = 0;
    reader::GentraceInfo info;
    ASSERT_TRUE(reader::DecodeGentraceInfo(*(*r)->generation(), &info).ok());
    // The crash's generation: completed by the crash handler, without the
    // sampler's figures (what its buffers held is in it or not).
    if (info.event_samplers.empty()) continue;
    cpu_samples += cpu_of_gen;
    ++gens_with_records;
    ASSERT_EQ(info.event_samplers.size(), 2u);
    EXPECT_EQ(info.event_samplers[0].name, "cpu-clock");
    EXPECT_EQ(info.event_samplers[1].name, "page-faults");
    cpu_taken += info.event_samplers[0].samples_taken;
    fault_taken += info.event_samplers[1].samples_taken;
    fault_records += info.event_samples.size();
    std::vector<reader::EventSample> samples;
    ASSERT_TRUE(
        reader::ResolveEventSamples(*(*r)->generation(), info, &samples).ok());
    for (const reader::EventSample& s : samples) {
      EXPECT_EQ(s.name, "page-faults");
      EXPECT_FALSE(s.stack.empty());
      ++resolved;
    }
  }
  EXPECT_TRUE((*r)->status().ok()) << (*r)->status();
  EXPECT_GE(gens_with_records, 1u);
  EXPECT_EQ(fault_records, fault_taken);
  EXPECT_EQ(resolved, fault_taken);
  EXPECT_GT(fault_taken, 0u) << "the demo's threads fault in fresh memory";
  // In the generations the sampler finished, the CPUSample events are the
  // primary's samples its records count.
  EXPECT_EQ(cpu_samples, cpu_taken);
  EXPECT_GT(cpu_taken, 0u);
}

}  // namespace
}  // namespace gentrace
