// See hand_trace.h.
#include "tools/gentrace/hand_trace.h"

#include <gtest/gtest.h>

#include <cstdint>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "format/go_quote.h"
#include "format/text.h"
#include "tests/interop/go_tool.h"
#include "tools/gentrace/test_process.h"

namespace gentrace::tools {

std::string ExpandEventTimes(absl::string_view text) {
  std::string out;
  int64_t last = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, "EventBatch ")) {
      const size_t p = line.find("time=");
      absl::string_view t = line.substr(p + 5);
      t = t.substr(0, t.find(' '));
      EXPECT_TRUE(absl::SimpleAtoi(t, &last)) << line;
    }
    if (absl::ConsumePrefix(&line, "@")) {
      const size_t sp = line.find(' ');
      int64_t t = 0;
      EXPECT_TRUE(absl::SimpleAtoi(line.substr(0, sp), &t)) << line;
      line.remove_prefix(sp + 1);
      const size_t name_end = line.find(' ');
      absl::StrAppend(&out, line.substr(0, name_end), " dt=", t - last);
      if (name_end != absl::string_view::npos) {
        absl::StrAppend(&out, line.substr(name_end));
      }
      out += "\n";
      last = t;
      continue;
    }
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string HandBuiltBinary(absl::string_view events, absl::string_view tables,
                            const format::InfoRecords& info) {
  std::string payload;
  for (const auto& r : info.threads) format::AppendInfoRecord(r, &payload);
  for (const auto& r : info.fibers) format::AppendInfoRecord(r, &payload);
  for (const auto& r : info.samplers) format::AppendInfoRecord(r, &payload);
  const std::string text = absl::StrCat(
      "Trace Go1.23\n", ExpandEventTimes(events), tables,
      "ExperimentalBatch exp=", int{format::kExperimentGentraceInfo},
      " gen=1 m=18446744073709551615 time=0\n\tdata=", format::GoQuote(payload),
      "\n");
  absl::StatusOr<std::string> bin = format::TextToBinary(text);
  EXPECT_TRUE(bin.ok()) << bin.status() << "\n" << text;
  return bin.ok() ? *bin : "";
}

std::string WriteCheckedTrace(const std::string& name,
                              const std::string& bytes) {
  const std::string path = TestTempPath(name);
  EXPECT_TRUE(WriteFile(path, bytes));
  if (interop::GoCheckEnabled("Go's parser on the hand-built trace")) {
    absl::StatusOr<interop::GoValidateResult> v = interop::GoValidate(path);
    EXPECT_TRUE(v.ok()) << v.status();
    if (v.ok()) {
      EXPECT_TRUE(v->ok) << v->output;
    }
  }
  return path;
}

namespace {

// See TwoThreadTrace (hand_trace.h); LOG_CATEGORY is replaced.
constexpr char kTwoThreadTables[] =
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
    "String id=10\n\tdata=LOG_CATEGORY\n"
    "String id=11\n\tdata=\"hit\"\n";

constexpr char kTwoThreadEvents[] =
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

}  // namespace

std::string TwoThreadTrace(absl::string_view log_category) {
  format::InfoRecords info;
  info.threads.push_back({10, 0, 1, "main"});
  info.fibers.push_back({2, "fib"});
  const std::string tables = absl::StrReplaceAll(
      kTwoThreadTables, {{"LOG_CATEGORY", format::GoQuote(log_category)}});
  return HandBuiltBinary(kTwoThreadEvents, tables, info);
}

}  // namespace gentrace::tools
