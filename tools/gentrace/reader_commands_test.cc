// The reader's subcommands as a user runs them: `gentrace dump`, `gentrace
// stats [--json]`, `gentrace validate`, on valid, broken and zstd traces.
#include <gtest/gtest.h>
#include <zstd.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "format/text.h"
#include "tools/gentrace/test_process.h"

namespace gentrace::tools {
namespace {

// Two generations; a goroutine logs in a task, then blocks.
constexpr char kText[] =
    "Trace Go1.23\n"
    "EventBatch gen=1 m=5 time=100 size=0\n"
    "ProcStatus dt=1 p=0 pstatus=1\n"
    "GoStatus dt=1 g=1 m=5 gstatus=2\n"
    "UserTaskBegin dt=1 task=3 parent_task=0 name_string=1 stack=0\n"
    "UserLog dt=1 task=3 key_string=1 value_string=2 stack=0\n"
    "EventBatch gen=1 m=18446744073709551615 time=0 size=0\n"
    "Frequency freq=1000000000\n"
    "EventBatch gen=1 m=18446744073709551615 time=0 size=0\n"
    "Strings\nString id=1\n\tdata=\"t\"\nString id=2\n\tdata=\"hello\"\n"
    "EventBatch gen=2 m=5 time=200 size=0\n"
    "ProcStatus dt=1 p=0 pstatus=1\n"
    "GoStatus dt=1 g=1 m=5 gstatus=2\n"
    "GoBlock dt=1 reason_string=1 stack=0\n"
    "EventBatch gen=2 m=18446744073709551615 time=0 size=0\n"
    "Frequency freq=1000000000\n"
    "EventBatch gen=2 m=18446744073709551615 time=0 size=0\n"
    "Strings\nString id=1\n\tdata=\"sync\"\n";

std::string WriteTrace(const std::string& name, const std::string& bin) {
  const std::string path = TestTempPath(name);
  EXPECT_TRUE(WriteFile(path, bin));
  return path;
}

std::string Binary() {
  absl::StatusOr<std::string> b = format::TextToBinary(kText);
  EXPECT_TRUE(b.ok()) << b.status();
  return *b;
}

TEST(ReaderCommandsTest, Dump) {
  const std::string path = WriteTrace("ok.trace", Binary());
  ProcessResult r = RunGentrace({"dump", path});
  EXPECT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(r.stdout_data,
            "StateTransition t=101 m=5 p=-1 g=-1 resource=Proc:0 "
            "from=Undetermined to=Running reason=\"\" tstack=[] stack=[]\n"
            "StateTransition t=102 m=5 p=0 g=-1 resource=Goroutine:1 "
            "from=Undetermined to=Running reason=\"\" tstack=[] stack=[]\n"
            "TaskBegin t=103 m=5 p=0 g=1 id=3 parent=18446744073709551615 "
            "type=\"t\" stack=[]\n"
            "Log t=104 m=5 p=0 g=1 task=3 category=\"t\" message=\"hello\" "
            "stack=[]\n"
            "Sync t=105 m=-1 p=-1 g=-1 stack=[]\n"
            "StateTransition t=201 m=5 p=0 g=1 resource=Proc:0 from=Running "
            "to=Running reason=\"\" tstack=[] stack=[]\n"
            "StateTransition t=202 m=5 p=0 g=1 resource=Goroutine:1 "
            "from=Running to=Running reason=\"\" tstack=[] stack=[]\n"
            "StateTransition t=203 m=5 p=0 g=1 resource=Goroutine:1 "
            "from=Running to=Waiting reason=\"sync\" tstack=[] stack=[]\n"
            "Sync t=204 m=-1 p=-1 g=-1 stack=[]\n"
            "END ok\n");
}

TEST(ReaderCommandsTest, BrokenTail) {
  const std::string bin = Binary();
  const std::string path =
      WriteTrace("cut.trace", bin.substr(0, bin.size() - 3));
  ProcessResult r = RunGentrace({"dump", path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(r.stdout_data, "Sync t=105"));
  EXPECT_TRUE(absl::StrContains(r.stdout_data, "\nEND error: "));
  // With --allow-broken-tail, only complete generations, and success.
  r = RunGentrace({"dump", "--allow-broken-tail", path});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(r.stdout_data,
                                "Sync t=105 m=-1 p=-1 g=-1 "
                                "stack=[]\nEND error: "))
      << r.stdout_data;

  r = RunGentrace({"validate", path});
  EXPECT_EQ(r.exit_code, 1);
  r = RunGentrace({"validate", "--allow-broken-tail", path});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(absl::StartsWith(r.stdout_data, "PARTIAL: 1 complete"))
      << r.stdout_data;

  r = RunGentrace({"stats", "--json", path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(r.stdout_data, "\"generations_complete\": 1"))
      << r.stdout_data;
  EXPECT_FALSE(absl::StrContains(r.stdout_data, "\"error\": null"));
}

TEST(ReaderCommandsTest, StatsJson) {
  const std::string path = WriteTrace("stats.trace", Binary());
  ProcessResult r = RunGentrace({"stats", "--json", path});
  EXPECT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(r.stdout_data,
            "{\"events_by_kind\": {\"Sync\": 2, \"Metric\": 0, \"Label\": 0, "
            "\"StackSample\": 0, \"RangeBegin\": 0, \"RangeActive\": 0, "
            "\"RangeEnd\": 0, \"TaskBegin\": 1, \"TaskEnd\": 0, "
            "\"RegionBegin\": 0, \"RegionEnd\": 0, \"Log\": 1, "
            "\"StateTransition\": 5, \"Experimental\": 0}, \"events\": 9, "
            "\"generations_complete\": 2, \"error\": null}\n");
}

TEST(ReaderCommandsTest, ValidateAndZstd) {
  const std::string bin = Binary();
  std::string z(ZSTD_compressBound(bin.size()), '\0');
  z.resize(ZSTD_compress(z.data(), z.size(), bin.data(), bin.size(), 3));
  const std::string path = WriteTrace("z.trace.zst", z);
  ProcessResult r = RunGentrace({"validate", path});
  EXPECT_EQ(r.exit_code, 0) << r.stdout_data;
  EXPECT_EQ(r.stdout_data, "OK: 9 events, 2 generations\n");
  EXPECT_EQ(RunGentrace({"dump", path}).stdout_data,
            RunGentrace({"dump", WriteTrace("plain.trace", bin)}).stdout_data);

  // Go's parser accepts a running P announced by a batch without a thread;
  // its validator (and so `validate`) does not.
  absl::StatusOr<std::string> bad = format::TextToBinary(
      "Trace Go1.22\n"
      "EventBatch gen=1 m=18446744073709551615 time=1 size=0\n"
      "ProcStatus dt=1 p=0 pstatus=1\n"
      "EventBatch gen=1 m=18446744073709551615 time=0 size=0\n"
      "Frequency freq=1000000000\n");
  ASSERT_TRUE(bad.ok());
  r = RunGentrace({"validate", WriteTrace("bad.trace", *bad)});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StartsWith(r.stdout_data, "validator: event #1 ("))
      << r.stdout_data;
  EXPECT_TRUE(absl::StrContains(r.stdout_data,
                                "must have thread, but thread ID is none"));

  r = RunGentrace({"validate", TestTempPath("does-not-exist")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(RunGentrace({"stats"}).exit_code, 2);
}

}  // namespace
}  // namespace gentrace::tools
