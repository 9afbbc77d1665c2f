// `gentrace pprof` on a hand-built trace whose samples, regions and tasks
// are known: the profile is decoded here, independently of the writer
// (zlib's inflate and a protobuf reader of its own), and every sample with
// its stack, labels and values is checked; the totals are compared with
// `gentrace stats --json` and, when Go is installed, with what
// `go tool pprof -raw` reads from the same file. Bad input and a bad
// --type give one line on stderr, a non-zero exit and no output file.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "format/gentrace_batch.h"
#include "tests/interop/go_tool.h"
#include "tools/gentrace/hand_trace.h"
#include "tools/gentrace/test_process.h"

namespace gentrace::tools {
namespace {

// Strings: 1 req, 2 parse, 3 step, 4 main.main, 5 main.work, 6 main.leaf,
// 7 f.go, 8 sync, 9 yield. Stack 1 is work, main; stack 2 leaf, work, main.
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
    "String id=9\n\tdata=\"yield\"\n";

// Thread 10 ("main") runs G1 in task req: parse 1200-2000 (begun at stack
// 1) with step 1300-1500 (stack 2) inside. Thread 11 (no name) runs G2, the
// fiber "fib": step 1100-1400 (stack 1), no task. A region begun before
// the trace (ended at 1600 on G2) and one never ended (G1 from 2600) have
// no known time. Then G1 blocks on sync at 2800 (stack 1), G2 unblocks
// it at 2900 (stack 2), it runs at 3000 (no stack), enters a syscall at
// 3100 (stack 2), leaves it at 3400 (no stack) and stops at 3500 (stack
// 1), runnable to the end. As Go's tool counts them: sync 2800-2900 at
// stack 1, sched 2900-3100 at the unblock's stack 2, syscall 3100-3500 at
// stack 2; the last runnable stretch never ends and does not count.
constexpr char kEvents[] =
    "EventBatch gen=1 m=10 time=1000 size=0\n"
    "@1010 ProcStatus p=0 pstatus=1\n"
    "@1020 GoStatus g=1 m=10 gstatus=2\n"
    "@1050 UserTaskBegin task=1 parent_task=0 name_string=1 stack=0\n"
    "@1200 UserRegionBegin task=1 name_string=2 stack=1\n"
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
    "CPUSample time=1700 m=10 p=0 g=1 stack=1\n"
    "CPUSample time=2500 m=10 p=0 g=1 stack=1\n"
    "CPUSample time=2700 m=10 p=0 g=1 stack=2\n";

std::string HandBuiltTrace() {
  format::InfoRecords info;
  info.threads.push_back({10, 0, 1, "main"});
  info.fibers.push_back({2, "fib"});
  // 500 Hz: each sample stands for 2 ms.
  info.samplers.push_back({format::kSamplerThreadTimer, 500, 0, 6, 0, ""});
  return HandBuiltBinary(kEvents, kTables, info);
}

std::string WriteTrace(const std::string& name) {
  return WriteCheckedTrace(name, HandBuiltTrace());
}

// ---- an independent reader of gzipped profile.proto

std::string Gunzip(const std::string& gz) {
  z_stream z = {};
  EXPECT_EQ(inflateInit2(&z, 15 + 32), Z_OK);  // +32: expect a gzip header
  std::string out;
  char buf[4096];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof(buf);
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof(buf) - z.avail_out);
  }
  EXPECT_EQ(rc, Z_STREAM_END);
  EXPECT_EQ(z.avail_in, 0u);  // nothing after the gzip member
  inflateEnd(&z);
  return out;
}

// One protobuf field: a varint or length-delimited bytes.
struct Field {
  int number = 0;
  uint64_t varint = 0;
  std::string bytes;
};

uint64_t ReadVarint(absl::string_view* s) {
  uint64_t v = 0;
  for (int shift = 0; !s->empty() && shift < 64; shift += 7) {
    const uint8_t b = static_cast<uint8_t>((*s)[0]);
    s->remove_prefix(1);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  ADD_FAILURE() << "bad varint";
  return v;
}

std::vector<Field> Fields(absl::string_view s) {
  std::vector<Field> out;
  while (!s.empty()) {
    const uint64_t key = ReadVarint(&s);
    Field f;
    f.number = static_cast<int>(key >> 3);
    if ((key & 7) == 0) {
      f.varint = ReadVarint(&s);
    } else if ((key & 7) == 2) {
      const uint64_t n = ReadVarint(&s);
      EXPECT_LE(n, s.size());
      f.bytes = std::string(s.substr(0, n));
      s.remove_prefix(std::min<size_t>(n, s.size()));
    } else {
      ADD_FAILURE() << "unexpected wire type " << (key & 7);
      break;
    }
    out.push_back(std::move(f));
  }
  return out;
}

// A repeated integer field, packed or not.
void AppendInts(const Field& f, std::vector<uint64_t>* out) {
  if (f.bytes.empty()) {
    out->push_back(f.varint);
    return;
  }
  absl::string_view s = f.bytes;
  while (!s.empty()) out->push_back(ReadVarint(&s));
}

// The profile as lines "STACK [k=v ...] V1 V2", STACK the functions
// innermost first as "func:line" joined by ";", sorted; the sample types
// and period as "types ..." and "period ...".
std::vector<std::string> DecodeProfile(const std::string& gz) {
  const std::vector<Field> top = Fields(Gunzip(gz));
  std::vector<std::string> strings;
  for (const Field& f : top)
    if (f.number == 6) strings.push_back(f.bytes);
  EXPECT_FALSE(strings.empty());
  if (strings.empty()) return {};
  EXPECT_EQ(strings[0], "");
  auto str = [&](uint64_t i) {
    EXPECT_LT(i, strings.size());
    return i < strings.size() ? strings[i] : std::string("?");
  };
  std::map<uint64_t, std::string> functions;  // id -> name
  for (const Field& f : top) {
    if (f.number != 5) continue;
    uint64_t id = 0, name = 0;
    for (const Field& g : Fields(f.bytes)) {
      if (g.number == 1) id = g.varint;
      if (g.number == 2) name = g.varint;
    }
    functions[id] = str(name);
  }
  std::map<uint64_t, std::string> locations;  // id -> "func:line"
  for (const Field& f : top) {
    if (f.number != 4) continue;
    uint64_t id = 0;
    std::string where;
    for (const Field& g : Fields(f.bytes)) {
      if (g.number == 1) id = g.varint;
      if (g.number != 4) continue;
      uint64_t fn = 0, line = 0;
      for (const Field& h : Fields(g.bytes)) {
        if (h.number == 1) fn = h.varint;
        if (h.number == 2) line = h.varint;
      }
      where = absl::StrCat(functions[fn], ":", line);
    }
    locations[id] = where;
  }
  std::vector<std::string> out;
  std::vector<std::string> types;
  for (const Field& f : top) {
    if (f.number == 1) {
      std::string t;
      for (const Field& g : Fields(f.bytes)) {
        absl::StrAppend(&t, g.number == 1 ? "" : "/", str(g.varint));
      }
      types.push_back(t);
    } else if (f.number == 12) {
      out.push_back(absl::StrCat("period ", f.varint));
    } else if (f.number == 2) {
      std::vector<uint64_t> locs, values;
      std::vector<std::string> labels;
      for (const Field& g : Fields(f.bytes)) {
        if (g.number == 1) AppendInts(g, &locs);
        if (g.number == 2) AppendInts(g, &values);
        if (g.number != 3) continue;
        uint64_t k = 0, v = 0;
        for (const Field& h : Fields(g.bytes)) {
          if (h.number == 1) k = h.varint;
          if (h.number == 2) v = h.varint;
        }
        labels.push_back(absl::StrCat(str(k), "=", str(v)));
      }
      std::sort(labels.begin(), labels.end());
      std::vector<std::string> stack;
      for (uint64_t l : locs) stack.push_back(locations[l]);
      out.push_back(absl::StrCat(absl::StrJoin(stack, ";"), " [",
                                 absl::StrJoin(labels, " "), "] ",
                                 absl::StrJoin(values, " ")));
    }
  }
  out.push_back(absl::StrCat("types ", absl::StrJoin(types, " ")));
  std::sort(out.begin(), out.end());
  return out;
}

// Go's root: $GENTRACE_GOROOT, else /usr/lib/go-1.23 if it has a go
// binary; "" without Go.
std::string GoRoot() {
  const char* env = std::getenv("GENTRACE_GOROOT");
  const std::string root =
      env != nullptr && *env != '\0' ? env : "/usr/lib/go-1.23";
  return access((root + "/bin/go").c_str(), X_OK) == 0 ? root : "";
}

// The sample values' sums `go tool pprof -raw` reads from `profile`, or
// an empty vector (the Go step recorded as skipped) without Go.
std::vector<int64_t> GoPprofSums(const std::string& profile) {
  const std::string root = GoRoot();
  if (root.empty()) {
    interop::RecordGoCheckSkipped("go tool pprof -raw: no Go installation");
    return {};
  }
  absl::StatusOr<std::vector<int64_t>> sums =
      PprofRawSums(root + "/bin/go", profile);
  EXPECT_TRUE(sums.ok()) << sums.status();
  if (!sums.ok()) return {};
  EXPECT_FALSE(sums->empty()) << profile << ": no samples";
  std::printf("go tool pprof -raw %s: sums %s\n", profile.c_str(),
              absl::StrJoin(*sums, " ").c_str());
  return *sums;
}

TEST(PprofCommandTest, CpuSamplesWithLabels) {
  const std::string trace = WriteTrace("cpu.trace");
  const std::string out = TestTempPath("cpu.pb.gz");
  ProcessResult r = RunGentrace({"pprof", trace, out, "--type=cpu"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(r.stdout_data, "");
  EXPECT_EQ(r.stderr_data, "");
  const std::string work = "main.work:10;main.main:20";
  const std::string leaf = "main.leaf:30;" + work;
  EXPECT_EQ(DecodeProfile(ReadFileOrEmpty(out)),
            (std::vector<std::string>{
                // The two samples in step, on G1 in task req, are one sample.
                leaf + " [region=step task=req thread=main] 2 4000000",
                // G1's step from 2600 has no task and never ends: still the
                // region the sample was in.
                leaf + " [region=step thread=main] 1 2000000",
                // The fiber on thread 11, which has no name.
                work + " [fiber=fib region=step thread=11] 1 2000000",
                work + " [region=parse task=req thread=main] 1 2000000",
                work + " [thread=main] 1 2000000",
                "period 2000000",
                "types samples/count cpu/nanoseconds",
            }));
  // The totals agree with stats and with Go's own pprof reader.
  r = RunGentrace({"stats", "--json", trace});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  const int64_t samples = JsonInt(r.stdout_data, "\"cpu\"", "samples");
  EXPECT_EQ(samples, 6);
  const std::vector<int64_t> go = GoPprofSums(out);
  if (!go.empty()) {
    EXPECT_EQ(go, (std::vector<int64_t>{samples, samples * 2'000'000}));
  }
}

TEST(PprofCommandTest, RegionTimeByBeginStack) {
  const std::string trace = WriteTrace("region.trace");
  const std::string out = TestTempPath("region.pb.gz");
  ProcessResult r = RunGentrace({"pprof", trace, out, "--type=region"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  const std::string work = "main.work:10;main.main:20";
  const std::string leaf = "main.leaf:30;" + work;
  EXPECT_EQ(DecodeProfile(ReadFileOrEmpty(out)),
            (std::vector<std::string>{
                leaf + " [region=step] 1 200",
                work + " [region=parse] 1 800",
                work + " [region=step] 1 300",
                "types regions/count time/nanoseconds",
            }));
  r = RunGentrace({"stats", "--json", trace});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  const std::string& j = r.stdout_data;
  const int64_t count = JsonInt(j, "{\"name\": \"parse\"", "count") +
                        JsonInt(j, "{\"name\": \"step\"", "count");
  const int64_t total = JsonInt(j, "{\"name\": \"parse\"", "total_ns") +
                        JsonInt(j, "{\"name\": \"step\"", "total_ns");
  EXPECT_EQ(count, 3);
  EXPECT_EQ(total, 1300);
  const std::vector<int64_t> go = GoPprofSums(out);
  if (!go.empty()) {
    EXPECT_EQ(go, (std::vector<int64_t>{count, total}));
  }
}

TEST(PprofCommandTest, BlockSyscallSchedAsGoToolTrace) {
  const std::string trace = WriteTrace("states.trace");
  ProcessResult stats = RunGentrace({"stats", "--json", trace});
  ASSERT_EQ(stats.exit_code, 0) << stats.stderr_data;
  const std::string work = "main.work:10;main.main:20";
  const std::string leaf = "main.leaf:30;" + work;
  struct Case {
    std::string type;
    std::string stats_key;
    std::string want;  // the one sample
    int64_t ns;
  };
  for (const Case& c : std::vector<Case>{
           {"block", "sync", work + " [] 1 100", 100},
           {"syscall", "syscall", leaf + " [] 1 400", 400},
           {"sched", "sched", leaf + " [] 1 200", 200},
       }) {
    SCOPED_TRACE(c.type);
    const std::string out = TestTempPath(c.type + ".pb.gz");
    ProcessResult r = RunGentrace({"pprof", trace, out, "--type=" + c.type});
    ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
    EXPECT_EQ(DecodeProfile(ReadFileOrEmpty(out)),
              (std::vector<std::string>{
                  c.want, "types contentions/count delay/nanoseconds"}));
    EXPECT_EQ(JsonInt(stats.stdout_data, "\"go_pprof_ns\"", c.stats_key), c.ns);
    const std::vector<int64_t> go = GoPprofSums(out);
    if (!go.empty()) {
      EXPECT_EQ(go, (std::vector<int64_t>{1, c.ns}));
    }
  }
}

// One line saying what is wrong (for usage errors followed by the usage
// line and a --help hint, as every command does), the exit code, and no
// output file.
void ExpectFailure(const std::vector<std::string>& args, int exit_code,
                   const std::string& want_stderr_start,
                   const std::string& out) {
  ProcessResult r = RunGentrace(args);
  EXPECT_EQ(r.exit_code, exit_code) << r.stderr_data;
  EXPECT_TRUE(absl::StartsWith(r.stderr_data, want_stderr_start))
      << r.stderr_data;
  EXPECT_EQ(
      std::count(r.stderr_data.begin(), r.stderr_data.end(), '\n'),
      exit_code == 2 ? 3 : 1)  // usage errors add the usage line and a hint
      << r.stderr_data;
  EXPECT_EQ(ReadFileOrEmpty(out), "");
}

TEST(PprofCommandTest, BadTypeAndBadInput) {
  const std::string trace = WriteTrace("bad.trace");
  const std::string out = TestTempPath("bad.pb.gz");
  ExpectFailure({"pprof", trace, out, "--type=heap"}, 2,
                "gentrace pprof: unknown --type=heap", out);
  ExpectFailure(
      {"pprof", trace, out}, 2,
      "gentrace pprof: --type=cpu|block|syscall|sched|region is required", out);
  const std::string garbage = TestTempPath("garbage.trace");
  ASSERT_TRUE(WriteFile(garbage, "not a trace at all\n"));
  ExpectFailure({"pprof", garbage, out, "--type=cpu"}, 1,
                "gentrace pprof: " + garbage + ": ", out);
  // A trace cut short: nothing is written, an existing file is kept.
  const std::string data = ReadFileOrEmpty(trace);
  const std::string cut = TestTempPath("cut.trace");
  ASSERT_TRUE(WriteFile(cut, data.substr(0, data.size() - 7)));
  ASSERT_TRUE(WriteFile(out, "old"));
  ProcessResult r = RunGentrace({"pprof", cut, out, "--type=region"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(std::count(r.stderr_data.begin(), r.stderr_data.end(), '\n'), 1)
      << r.stderr_data;
  EXPECT_EQ(ReadFileOrEmpty(out), "old");
}

}  // namespace
}  // namespace gentrace::tools
