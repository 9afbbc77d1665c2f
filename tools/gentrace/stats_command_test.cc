// `gentrace stats` on a hand-built trace whose durations are known: every
// number `stats --json` prints is checked against values worked out by hand
// from the event times below (written as absolute nanoseconds; the
// frequency is 1 tick per ns).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <zstd.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "format/batch.h"
#include "format/gentrace_batch.h"
#include "format/go_quote.h"
#include "format/header.h"
#include "format/text.h"
#include "tests/interop/go_tool.h"
#include "tools/gentrace/hand_trace.h"
#include "tools/gentrace/test_process.h"

namespace gentrace::tools {
namespace {

// Event lines start with "@T", T the absolute time (ExpandEventTimes).
// String arguments name strings by id as the text format wants (ids listed
// in kStrings).
std::string Expand(absl::string_view text) { return ExpandEventTimes(text); }

// Strings: 1 sync, 2 chan receive, 3 yield, 4 req, 5 parse, 6 step, 7 cat,
// 8 hello, 9 x, 10 main.main, 11 main.work, 12 main.leaf, 13 f.go.
constexpr char kTables[] =
    "EventBatch gen=G m=18446744073709551615 time=0 size=0\n"
    "Frequency freq=1000000000\n"
    "EventBatch gen=G m=18446744073709551615 time=0 size=0\n"
    "Stacks\n"
    "Stack id=1 nframes=2\n"
    "\tpc=4096 func=11 file=13 line=10\n"
    "\tpc=8192 func=10 file=13 line=20\n"
    "Stack id=2 nframes=3\n"
    "\tpc=12288 func=12 file=13 line=30\n"
    "\tpc=4096 func=11 file=13 line=10\n"
    "\tpc=8192 func=10 file=13 line=20\n"
    "EventBatch gen=G m=18446744073709551615 time=0 size=0\n"
    "Strings\n"
    "String id=1\n\tdata=\"sync\"\n"
    "String id=2\n\tdata=\"chan receive\"\n"
    "String id=3\n\tdata=\"yield\"\n"
    "String id=4\n\tdata=\"req\"\n"
    "String id=5\n\tdata=\"parse\"\n"
    "String id=6\n\tdata=\"step\"\n"
    "String id=7\n\tdata=\"cat\"\n"
    "String id=8\n\tdata=\"hello\"\n"
    "String id=9\n\tdata=\"x\"\n"
    "String id=10\n\tdata=\"main.main\"\n"
    "String id=11\n\tdata=\"main.work\"\n"
    "String id=12\n\tdata=\"main.leaf\"\n"
    "String id=13\n\tdata=\"f.go\"\n";

// Thread 10 runs G1 ("main"), thread 11 G2 ("worker"); G3 is a fiber
// ("fib") created by G2.
constexpr char kGen1[] =
    "EventBatch gen=1 m=10 time=1000 size=0\n"
    "@1010 ProcStatus p=0 pstatus=1\n"
    "@1020 GoStatus g=1 m=10 gstatus=2\n"
    "@1100 UserTaskBegin task=1 parent_task=0 name_string=4 stack=0\n"
    "@1200 UserRegionBegin task=1 name_string=5 stack=0\n"
    "@1300 UserLog task=1 key_string=7 value_string=8 stack=0\n"
    "@1500 UserRegionEnd task=1 name_string=5 stack=0\n"
    "@2000 GoBlock reason_string=1 stack=1\n"
    "@3500 GoStart g=1 g_seq=2\n"
    "@3600 GoSyscallBegin p_seq=1 stack=1\n"
    "@4600 GoSyscallEnd\n"
    "@4800 GoStop reason_string=3 stack=1\n"
    "@4900 GoStart g=1 g_seq=3\n"
    "@5000 UserTaskEnd task=1 stack=0\n"
    "EventBatch gen=1 m=11 time=1000 size=0\n"
    "@1030 ProcStatus p=1 pstatus=1\n"
    "@1040 GoStatus g=2 m=11 gstatus=2\n"
    "@1050 GoCreate new_g=3 new_stack=2 stack=1\n"
    "@1105 UserRegionBegin task=0 name_string=6 stack=0\n"
    "@1115 UserRegionEnd task=0 name_string=6 stack=0\n"
    "@1125 UserRegionBegin task=0 name_string=6 stack=0\n"
    "@1145 UserRegionEnd task=0 name_string=6 stack=0\n"
    "@1155 UserRegionBegin task=0 name_string=6 stack=0\n"
    "@1195 UserRegionEnd task=0 name_string=6 stack=0\n"
    "@2500 GoStop reason_string=3 stack=1\n"
    "@2600 GoStart g=3 g_seq=1\n"
    "@3000 GoUnblock g=1 g_seq=1 stack=1\n"
    "@3200 GoBlock reason_string=2 stack=1\n"
    "@3300 GoStart g=2 g_seq=1\n";

constexpr char kGen2[] =
    "EventBatch gen=2 m=10 time=5990 size=0\n"
    "@6000 ProcStatus p=0 pstatus=1\n"
    "@6010 GoStatus g=1 m=10 gstatus=2\n"
    "@6100 UserRegionBegin task=0 name_string=5 stack=0\n"
    "@6150 UserTaskBegin task=2 parent_task=0 name_string=4 stack=0\n"
    "@6250 UserTaskEnd task=9 stack=0\n"
    "@6400 UserRegionEnd task=0 name_string=5 stack=0\n"
    "@7000 UserLog task=0 key_string=7 value_string=9 stack=0\n"
    "EventBatch gen=2 m=11 time=5990 size=0\n"
    "@6020 ProcStatus p=1 pstatus=1\n"
    "@6030 GoStatus g=2 m=11 gstatus=2\n"
    "@6040 GoStatus g=3 m=18446744073709551615 gstatus=4\n"
    "@6500 GoUnblock g=3 g_seq=1 stack=1\n"
    "EventBatch gen=2 m=18446744073709551615 time=0 size=0\n"
    "CPUSamples\n"
    "CPUSample time=6200 m=10 p=0 g=1 stack=2\n"
    "CPUSample time=6300 m=10 p=0 g=1 stack=2\n"
    "CPUSample time=6600 m=11 p=1 g=2 stack=1\n";

std::string InfoBatch(int gen, const format::InfoRecords& rec) {
  std::string payload;
  for (const auto& r : rec.threads) format::AppendInfoRecord(r, &payload);
  for (const auto& r : rec.fibers) format::AppendInfoRecord(r, &payload);
  for (const auto& r : rec.samplers) format::AppendInfoRecord(r, &payload);
  return absl::StrCat(
      "ExperimentalBatch exp=", int{format::kExperimentGentraceInfo},
      " gen=", gen,
      " m=18446744073709551615 time=0\n\tdata=", format::GoQuote(payload),
      "\n");
}

std::string Tables(int gen) {
  std::string t = kTables;
  absl::StrReplaceAll({{"gen=G", absl::StrCat("gen=", gen)}}, &t);
  return t;
}

std::string HandBuiltTrace() {
  format::InfoRecords info1;
  info1.threads.push_back({10, 0, 1, "main"});
  info1.threads.push_back({11, 1, 2, "worker"});
  info1.fibers.push_back({3, "fib"});
  format::InfoRecords info2;
  info2.samplers.push_back({format::kSamplerThreadTimer, 1000, 0, 3, 2, ""});
  const std::string text = absl::StrCat(
      "Trace Go1.23\n", Expand(kGen1), Tables(1), InfoBatch(1, info1),
      Expand(kGen2), Tables(2), InfoBatch(2, info2));
  absl::StatusOr<std::string> bin = format::TextToBinary(text);
  EXPECT_TRUE(bin.ok()) << bin.status() << "\n" << text;
  return bin.ok() ? *bin : "";
}

std::string WriteTrace(const std::string& name, const std::string& data) {
  const std::string path = TestTempPath(name);
  EXPECT_TRUE(WriteFile(path, data));
  return path;
}

// The bytes of the largest generation, counted from its batches.
uint64_t LargestGeneration(const std::string& path) {
  const std::string data = ReadFileOrEmpty(path);
  format::BatchReader in(absl::MakeConstSpan(
      reinterpret_cast<const uint8_t*>(data.data()), data.size()));
  EXPECT_TRUE(in.ReadHeader().ok());
  std::map<uint64_t, uint64_t> bytes;
  format::Batch b;
  while (true) {
    absl::StatusOr<bool> more = in.Next(&b);
    EXPECT_TRUE(more.ok()) << more.status();
    if (!more.ok() || !*more) break;
    bytes[b.gen] += b.raw.size();
  }
  uint64_t largest = 0;
  for (const auto& [gen, n] : bytes) largest = std::max(largest, n);
  return largest;
}

// The times, worked out by hand (the trace ends at its last Sync, one ns
// after the last event at 7000):
//   G1: running 1020-2000, 3500-3600, 4600-4800, 4900-7001 = 3381;
//       blocked on sync 2000-3000 = 1000; waiting 3000-3500, 4800-4900 =
//       600; syscall 3600-4600 = 1000.
//   G2: running 1040-2500, 3300-7001 = 5161; waiting 2500-3300 = 800.
//   G3: waiting 1050-2600, 6500-7001 = 2051; running 2600-3200 = 600;
//       blocked on chan receive 3200-6500 = 3300.
//   Thread 10 ran G1 (3381, syscall 1000); thread 11 ran G2 and G3 (5761).
// Go's -pprof view (stacked transitions only): sync = G1's 1000 + G3's
// 3300; syscall = G1's 3600 to its next stacked transition (GoStop at
// 4800) = 1200; sched = G1 3000-3600 (GoStart has no stack) = 600, plus
// G3 from its creation to its block at 3200, clipped to its first start
// at 2600 = 600; G1 and G2's last waits stay open and do not count.
TEST(StatsCommandTest, HandBuiltTraceJson) {
  const std::string path = WriteTrace("hand.trace", HandBuiltTrace());
  // The trace is one Go's parser takes.
  if (interop::GoCheckEnabled("Go's parser on the hand-built trace")) {
    absl::StatusOr<interop::GoValidateResult> v = interop::GoValidate(path);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_TRUE(v->ok) << v->output;
  }
  ProcessResult r = RunGentrace({"stats", "--json", path});
  // Our reader read all of it.
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  std::string want =
      "{\"events_by_kind\": {\"Sync\": 2, \"Metric\": 0, \"Label\": 0, "
      "\"StackSample\": 3, \"RangeBegin\": 0, \"RangeActive\": 0, "
      "\"RangeEnd\": 0, \"TaskBegin\": 2, \"TaskEnd\": 2, "
      "\"RegionBegin\": 5, \"RegionEnd\": 5, \"Log\": 2, "
      "\"StateTransition\": 22, \"Experimental\": 0}, \"events\": 43, "
      "\"generations_complete\": 2, \"error\": null, "
      "\"duration_ns\": 5991, \"start_ns\": 1010, \"end_ns\": 7001, "
      "\"largest_generation_bytes\": LARGEST, "
      "\"gentrace_info\": true, \"info_error\": null, "
      "\"threads\": ["
      "{\"thread\": 10, \"name\": \"main\", \"goroutine\": 1, "
      "\"running_ns\": 3381, \"syscall_ns\": 1000, \"cpu_samples\": 2, "
      "\"runnable_ns\": 600, \"blocked_ns\": 1000, "
      "\"blocked_by_reason\": {\"sync\": 1000}}, "
      "{\"thread\": 11, \"name\": \"worker\", \"goroutine\": 2, "
      "\"running_ns\": 5761, \"syscall_ns\": 0, \"cpu_samples\": 1, "
      "\"runnable_ns\": 800, \"blocked_ns\": 0, "
      "\"blocked_by_reason\": {}}], "
      "\"goroutines\": ["
      "{\"goroutine\": 1, \"kind\": \"thread\", \"name\": \"main\", "
      "\"thread\": 10, \"running_ns\": 3381, \"runnable_ns\": 600, "
      "\"syscall_ns\": 1000, \"blocked_ns\": 1000, "
      "\"blocked_by_reason\": {\"sync\": 1000}}, "
      "{\"goroutine\": 2, \"kind\": \"thread\", \"name\": \"worker\", "
      "\"thread\": 11, \"running_ns\": 5161, \"runnable_ns\": 800, "
      "\"syscall_ns\": 0, \"blocked_ns\": 0, \"blocked_by_reason\": {}}, "
      "{\"goroutine\": 3, \"kind\": \"fiber\", \"name\": \"fib\", "
      "\"thread\": -1, \"running_ns\": 600, \"runnable_ns\": 2051, "
      "\"syscall_ns\": 0, \"blocked_ns\": 3300, "
      "\"blocked_by_reason\": {\"chan receive\": 3300}}], "
      "\"totals\": {\"running_ns\": 9142, \"runnable_ns\": 3451, "
      "\"syscall_ns\": 1000, \"blocked_ns\": 4300, "
      "\"blocked_by_reason\": {\"chan receive\": 3300, \"sync\": 1000}}, "
      "\"fibers\": 1, "
      "\"go_pprof_ns\": {\"net\": 0, \"sync\": 4300, \"syscall\": 1200, "
      "\"sched\": 1200}, "
      // req: 1100-5000 = 3900; task 2 never ends; task 9 ends only.
      "\"tasks\": ["
      "{\"name\": \"(unknown)\", \"count\": 0, \"total_ns\": 0, "
      "\"p50_ns\": 0, \"p99_ns\": 0, \"max_ns\": 0, \"unfinished\": 0, "
      "\"ended_only\": 1}, "
      "{\"name\": \"req\", \"count\": 1, \"total_ns\": 3900, "
      "\"p50_ns\": 3900, \"p99_ns\": 3900, \"max_ns\": 3900, "
      "\"unfinished\": 1, \"ended_only\": 0}], "
      // parse: 1200-1500, 6100-6400; step: 10, 20, 40.
      "\"regions\": ["
      "{\"name\": \"parse\", \"count\": 2, \"total_ns\": 600, "
      "\"p50_ns\": 300, \"p99_ns\": 300, \"max_ns\": 300, "
      "\"unfinished\": 0, \"ended_only\": 0}, "
      "{\"name\": \"step\", \"count\": 3, \"total_ns\": 70, "
      "\"p50_ns\": 20, \"p99_ns\": 40, \"max_ns\": 40, "
      "\"unfinished\": 0, \"ended_only\": 0}], "
      "\"logs\": [{\"category\": \"cat\", \"count\": 2}], "
      // Stack 2 is leaf, work, main; stack 1 work, main.
      "\"cpu\": {\"samples\": 3, \"samples_recorded\": 3, "
      "\"samples_lost\": 2, \"sources\": [\"thread-timer\"], "
      "\"hz\": 1000, \"period\": 0, \"event\": \"\", "
      "\"top_flat\": [{\"function\": \"main.leaf\", \"samples\": 2}, "
      "{\"function\": \"main.work\", \"samples\": 1}], "
      "\"top_cumulative\": [{\"function\": \"main.main\", \"samples\": 3}, "
      "{\"function\": \"main.work\", \"samples\": 3}, "
      "{\"function\": \"main.leaf\", \"samples\": 2}]}, "
      "\"cpu_samples_by_event\": {\"thread-timer\": 3}, "
      "\"cpu_samples_lost\": 2, \"cpu_events\": []}\n";
  absl::StrReplaceAll({{"LARGEST", absl::StrCat(LargestGeneration(path))}},
                      &want);
  EXPECT_EQ(r.stdout_data, want);
}

// The same numbers as tables, 80 columns wide (stdout is not a terminal
// here, and COLUMNS is set to 80).
TEST(StatsCommandTest, HandBuiltTraceText) {
  const std::string path = WriteTrace("hand-text.trace", HandBuiltTrace());
  setenv("COLUMNS", "80", 1);
  ProcessResult r = RunGentrace({"stats", path});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  const std::string& out = r.stdout_data;
  for (const char* want : {
           "duration: 6.0us (5991 ns), 2 complete generations (largest 376 "
           "B), 43 events\n",
           "\nThreads (2)\n"
           "  thread                         running   syscall   blocked   "
           "waiting   samples\n"
           "  main [10]                        3.4us     1.0us     1.0us     "
           "600ns         2\n"
           "  worker [11]                      5.8us       0ns       0ns     "
           "800ns         1\n"
           "  thread: blocked on                          "
           "                              time\n"
           "  main: sync                                  "
           "                             1.0us\n",
           "\nGoroutines (1, 1 fibers)\n"
           "  goroutine                                running   waiting   "
           "syscall   blocked\n"
           "  fiber 3 fib                                600ns     2.1us       "
           "0ns     3.3us\n",
           "\nAll goroutines: running 9.1us, waiting to run 3.5us, in "
           "syscalls 1.0us, blocked 4.3us\n",
           "go tool trace -pprof: net 0ns, sync 4.3us, syscall 1.2us, sched "
           "1.2us\n",
           "  step                       3      70ns      20ns      40ns      "
           "40ns         0\n",
           "\nCPU samples: 3 (source thread-timer, 1000 Hz; recorded 3, lost "
           "2)\n",
           "  main.leaf                                                        "
           "  "
           "2     66.7%\n",
       }) {
    EXPECT_TRUE(absl::StrContains(out, want)) << want << "\nin:\n" << out;
  }
}

// Tables take the width $COLUMNS gives (stdout is not a terminal here):
// their header lines are exactly that wide, and no line is wider.
TEST(StatsCommandTest, TablesFitTheWidth) {
  const std::string path = WriteTrace("hand-width.trace", HandBuiltTrace());
  for (int width : {60, 80, 132}) {
    setenv("COLUMNS", absl::StrCat(width).c_str(), 1);
    ProcessResult r = RunGentrace({"stats", path});
    ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
    int headers = 0;
    for (absl::string_view line : absl::StrSplit(r.stdout_data, '\n')) {
      if (absl::StartsWith(line, "trace: ") ||
          absl::StartsWith(line, "duration: ") ||
          absl::StartsWith(line, "All goroutines: ") ||
          absl::StartsWith(line, "go tool trace -pprof: ") ||
          absl::StartsWith(line, "CPU samples: ") ||
          absl::StartsWith(line, "Events by kind:")) {
        continue;  // sentences, not table rows
      }
      EXPECT_LE(static_cast<int>(line.size()), width) << line;
      if (absl::StartsWith(line, "  thread ") ||
          absl::StartsWith(line, "  goroutine ") ||
          absl::StartsWith(line, "  region ")) {
        EXPECT_EQ(static_cast<int>(line.size()), width) << line;
        ++headers;
      }
    }
    EXPECT_EQ(headers, 3) << r.stdout_data;
  }
  setenv("COLUMNS", "80", 1);
}

// --top limits the function lists; a bad value is a usage error.
TEST(StatsCommandTest, Top) {
  const std::string path = WriteTrace("hand-top.trace", HandBuiltTrace());
  ProcessResult r = RunGentrace({"stats", "--json", "--top=1", path});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_TRUE(absl::StrContains(
      r.stdout_data,
      "\"top_flat\": [{\"function\": \"main.leaf\", \"samples\": 2}], "
      "\"top_cumulative\": [{\"function\": \"main.main\", \"samples\": "
      "3}]}, "))
      << r.stdout_data;
  r = RunGentrace({"stats", "--top=many", path});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(
      absl::StartsWith(r.stderr_data, "gentrace stats: --top needs a number\n"))
      << r.stderr_data;
}

// The header and the batches of generation `gen`, byte for byte.
std::string GenerationBytes(const std::string& bin, uint64_t gen) {
  format::BatchReader in(absl::MakeConstSpan(
      reinterpret_cast<const uint8_t*>(bin.data()), bin.size()));
  absl::StatusOr<format::Version> v = in.ReadHeader();
  EXPECT_TRUE(v.ok());
  std::string out = format::EncodeHeader(*v);
  format::Batch b;
  while (true) {
    absl::StatusOr<bool> more = in.Next(&b);
    EXPECT_TRUE(more.ok()) << more.status();
    if (!more.ok() || !*more) break;
    if (b.gen == gen) {
      out.append(reinterpret_cast<const char*>(b.raw.data()), b.raw.size());
    }
  }
  return out;
}

// cut on the hand-built trace, compressed, writing to stdout: each
// generation alone is the header plus exactly its batches, and reads as a
// trace of its own (gen 1: 28 events, gen 2: 15, the 43 of the whole).
TEST(CutCommandTest, HandBuiltTraceGenerations) {
  const std::string bin = HandBuiltTrace();
  std::string z(ZSTD_compressBound(bin.size()), '\0');
  z.resize(ZSTD_compress(z.data(), z.size(), bin.data(), bin.size(), 3));
  const std::string path = WriteTrace("hand.trace.zst", z);
  const int64_t events[] = {28, 15};
  for (int gen = 1; gen <= 2; ++gen) {
    SCOPED_TRACE(gen);
    ProcessResult r =
        RunGentrace({"cut", path, "-", absl::StrCat("--from-gen=", gen),
                     absl::StrCat("--to-gen=", gen)});
    ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
    EXPECT_EQ(r.stdout_data, GenerationBytes(bin, gen));
    const std::string out =
        WriteTrace(absl::StrCat("hand-gen", gen, ".trace"), r.stdout_data);
    EXPECT_EQ(
        RunGentrace({"validate", out}).stdout_data,
        absl::StrCat("OK: ", events[gen - 1], " events, 1 generations\n"));
    if (interop::GoCheckEnabled("Go's parser on a generation cut alone")) {
      absl::StatusOr<interop::GoValidateResult> v = interop::GoValidate(out);
      ASSERT_TRUE(v.ok()) << v.status();
      EXPECT_TRUE(v->ok) << v->output;
    }
  }
  // The whole window is the whole trace.
  ProcessResult r = RunGentrace({"cut", path, "-", "--from=0s"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(r.stdout_data, bin);
  // Standard input cannot be read twice.
  r = RunGentrace({"cut", "-", TestTempPath("x.trace"), "--from-gen=1"}, bin);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(
      absl::StartsWith(r.stderr_data,
                       "gentrace cut: FILE must be a file, not -: cut reads it "
                       "twice\n"))
      << r.stderr_data;
}

// Bad input: one line on stderr naming the file and where reading
// stopped, a non-zero exit, and the statistics of what was read.
TEST(StatsCommandTest, BrokenInput) {
  const std::string bin = HandBuiltTrace();
  const std::string path =
      WriteTrace("cut-short.trace", bin.substr(0, bin.size() - 5));
  ProcessResult r = RunGentrace({"stats", "--json", path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StartsWith(r.stderr_data,
                               absl::StrCat("gentrace stats: ", path, ": ")))
      << r.stderr_data;
  EXPECT_EQ(std::count(r.stderr_data.begin(), r.stderr_data.end(), '\n'), 1)
      << r.stderr_data;
  EXPECT_TRUE(absl::StrContains(r.stderr_data, "(input byte "))
      << r.stderr_data;
  // As in Go, a generation whose last batch is cut still comes out whole
  // but for that batch (here gentrace's info batch with the sampler
  // record), then the error.
  EXPECT_TRUE(absl::StrContains(r.stdout_data,
                                "\"generations_complete\": 2, \"error\": "
                                "\"failed to read full batch: read 3 but "
                                "wanted 8\""))
      << r.stdout_data;
  EXPECT_TRUE(absl::StrContains(r.stdout_data, "\"samples_recorded\": 0"))
      << r.stdout_data;

  r = RunGentrace({"stats", TestTempPath("no-such.trace")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StartsWith(
      r.stderr_data,
      absl::StrCat("gentrace stats: ", TestTempPath("no-such.trace"), ": ")))
      << r.stderr_data;
}

}  // namespace
}  // namespace gentrace::tools
