// `gentrace symbolize`: a program traced with its stacks written as bare
// PCs (tests/symbolize_program.cc, "bare"), symbolized from its binaries,
// names every frame of its log and region stacks as the same program
// traced with symbols does, frame by frame (function, file, line, inlined
// frames included), and changes nothing else; zstd input gives the same
// result; a flight-recorder crash dump symbolized names the crashing
// function; and the error lines: a missing file, a binary that is not
// ELF, a binary that matches no module, a trace without module records.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "format/byte_sink.h"
#include "format/zstd.h"
#include "reader/gentrace_info.h"
#include "reader/reader.h"
#include "tests/tracer/trace_check.h"
#include "tools/gentrace/hand_trace.h"
#include "tools/gentrace/test_process.h"
#include "tracer/crash_child.h"

namespace gentrace {
namespace {

using ::gentrace::testing::CrashChild;
using ::gentrace::testing::CrashDumpOf;
using ::gentrace::testing::GoView;
using ::gentrace::testing::ViewWithGo;
using ::gentrace::tools::ProcessResult;
using ::gentrace::tools::ReadFileOrEmpty;
using ::gentrace::tools::RunGentrace;
using ::gentrace::tools::RunProcess;
using ::gentrace::tools::TestTempPath;
using ::gentrace::tools::WriteFile;
using ::testing::HasSubstr;

const char kProgram[] = "tests/symbolize_program";
const char kCrashProgram[] = "tests/flight_recorder_crash_program";

std::string Runfile(const std::string& path) {
  return std::string(getenv("TEST_SRCDIR")) + "/gentrace/" + path;
}

// A frame as a reader shows it.
struct Frame {
  std::string func, file;
  uint64_t line = 0;
  bool operator==(const Frame& o) const {
    return func == o.func && file == o.file && line == o.line;
  }
};
std::ostream& operator<<(std::ostream& os, const Frame& f) {
  return os << f.func << "@" << f.file << ":" << f.line;
}

// The stacks of a trace's logs (by message) and regions (by type and
// occurrence), and the module records of its generations.
struct TraceStacks {
  std::map<std::string, std::vector<Frame>> by_event;
  std::vector<reader::ModuleInfo> modules;
  int bare_frames = 0;  // frames with no function, in those stacks
};

TraceStacks ReadStacks(const std::string& path) {
  TraceStacks out;
  absl::StatusOr<std::unique_ptr<reader::Reader>> r =
      reader::Reader::Open(path);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return out;
  reader::Event ev;
  std::map<std::string, int> regions;
  uint64_t last_gen = 0;
  while ((*r)->ReadEvent(&ev)) {
    const reader::Generation* gen = (*r)->generation();
    if (gen != nullptr && gen->number() != last_gen) {
      last_gen = gen->number();
      reader::GentraceInfo info;
      EXPECT_TRUE(reader::DecodeGentraceInfo(*gen, &info).ok());
      for (auto& m : info.modules) out.modules.push_back(m);
    }
    std::string key;
    if (ev.kind() == reader::EventKind::kLog) {
      key = absl::StrCat("log ", ev.log().message);
    } else if (ev.kind() == reader::EventKind::kRegionBegin) {
      const std::string type(ev.region().type);
      key = absl::StrCat("region ", type, " #", regions[type]++);
    } else {
      continue;
    }
    std::vector<Frame>& frames = out.by_event[key];
    const reader::StackView stack = ev.stack();
    for (size_t i = 0; i < stack.size(); ++i) {
      const reader::StackFrame f = stack[i];
      frames.push_back({std::string(f.func), std::string(f.file), f.line});
      if (f.func.empty()) ++out.bare_frames;
    }
  }
  EXPECT_TRUE((*r)->status().ok()) << (*r)->status();
  return out;
}

std::string TraceOf(bool bare) {
  const std::string out = TestTempPath(bare ? "bare.trace" : "named.trace");
  std::vector<std::string> args = {out};
  if (bare) args.push_back("bare");
  absl::StatusOr<ProcessResult> p = RunProcess(Runfile(kProgram), args);
  EXPECT_TRUE(p.ok()) << p.status();
  if (p.ok()) {
    EXPECT_EQ(p->exit_code, 0) << p->stderr_data;
  }
  return out;
}

// The module records' files that exist here (the executable, the C
// library, ...), as --binary's value.
std::string BinariesOf(const TraceStacks& t) {
  std::vector<std::string> paths;
  for (const reader::ModuleInfo& m : t.modules) {
    if (access(m.path.c_str(), R_OK) == 0 &&
        std::find(paths.begin(), paths.end(), m.path) == paths.end()) {
      paths.push_back(m.path);
    }
  }
  return absl::StrJoin(paths, ",");
}

// The dump lines of a trace with every stack taken out.
std::vector<std::string> WithoutStacks(const GoView& v) {
  static const std::regex kStack(" stack=\\[[^\\]]*\\]");
  std::vector<std::string> out;
  for (const std::string& e : v.events) {
    out.push_back(std::regex_replace(e, kStack, ""));
  }
  return out;
}

std::string Zstd(const std::string& data) {
  std::string out;
  absl::StatusOr<std::unique_ptr<format::ZstdSink>> z =
      format::ZstdSink::Create(std::make_unique<format::StringSink>(&out), 3);
  EXPECT_TRUE(z.ok()) << z.status();
  EXPECT_TRUE((*z)->WriteString(data).ok());
  EXPECT_TRUE((*z)->Close().ok());
  return out;
}

TEST(SymbolizeTest, BarePcsGetTheFramesTheTracerWouldHaveWritten) {
  const std::string named_path = TraceOf(false);
  const std::string bare_path = TraceOf(true);
  const TraceStacks named = ReadStacks(named_path);
  const TraceStacks bare = ReadStacks(bare_path);
  // 3 direct, 3 inlined, 3 compare logs; 3 work regions.
  ASSERT_EQ(named.by_event.size(), 12u);
  ASSERT_EQ(bare.by_event.size(), 12u);
  EXPECT_EQ(named.bare_frames, 0);
  ASSERT_GT(bare.bare_frames, 12);  // the test's precondition
  ASSERT_FALSE(bare.modules.empty());
  // The executable is among the modules, with its build-id.
  bool exe = false;
  for (const reader::ModuleInfo& m : bare.modules) {
    if (absl::EndsWith(m.path, "/symbolize_program")) {
      exe = true;
      EXPECT_EQ(m.build_id.size(), 20u);  // GNU build-id, SHA-1
      EXPECT_LT(m.lo, m.hi);
    }
  }
  EXPECT_TRUE(exe);

  const std::string out = TestTempPath("symbolized.trace");
  const ProcessResult p = RunGentrace(
      {"symbolize", bare_path, out, "--binary=" + BinariesOf(bare)});
  ASSERT_EQ(p.exit_code, 0) << p.stderr_data;
  EXPECT_EQ(p.stdout_data, "");
  EXPECT_THAT(p.stderr_data,
              ::testing::ContainsRegex(
                  "^gentrace symbolize: [0-9]+ bare frames: [1-9][0-9]* named"))
      << p.stderr_data;

  const TraceStacks fixed = ReadStacks(out);
  EXPECT_EQ(fixed.bare_frames, 0);
  ASSERT_EQ(fixed.by_event.size(), named.by_event.size());
  for (const auto& [key, frames] : named.by_event) {
    auto it = fixed.by_event.find(key);
    ASSERT_NE(it, fixed.by_event.end()) << key;
    EXPECT_EQ(it->second, frames) << key;
  }
  // The stacks say what the test expects of the live tracer's names: the
  // caller of the public API first, inlined frames expanded.
  const std::vector<Frame>& inlined = named.by_event.at("log inlined 1");
  ASSERT_GE(inlined.size(), 3u);
  EXPECT_THAT(inlined[0].func, HasSubstr("InlinedLog"));
  EXPECT_THAT(inlined[0].file, HasSubstr("tests/symbolize_program.cc"));
  EXPECT_THAT(inlined[1].func, HasSubstr("Work"));
  EXPECT_EQ(inlined[2].func, "main");
  // Compare, then qsort's frame (in the C library, "libc.so.6+0x...", or
  // a sanitizer's interceptor).
  const std::vector<Frame>& compare = named.by_event.at("log compare 1");
  ASSERT_GE(compare.size(), 2u);
  EXPECT_THAT(compare[0].func, HasSubstr("Compare"));
  EXPECT_NE(compare[1].func, "");

  // Nothing else changed: the same events, both readers accept it.
  absl::StatusOr<GoView> before = ViewWithGo(bare_path);
  absl::StatusOr<GoView> after = ViewWithGo(out);
  ASSERT_TRUE(before.ok() && after.ok());
  ASSERT_TRUE(after->valid) << after->result_line << after->validate_output;
  EXPECT_TRUE(after->ours_agree) << after->ours_difference;
  EXPECT_EQ(WithoutStacks(*before), WithoutStacks(*after));
  EXPECT_EQ(before->kinds, after->kinds);

  // zstd input: the same output.
  const std::string zstd_in = TestTempPath("bare.trace.zst");
  ASSERT_TRUE(WriteFile(zstd_in, Zstd(ReadFileOrEmpty(bare_path))));
  const std::string out2 = TestTempPath("symbolized2.trace");
  const ProcessResult z =
      RunGentrace({"symbolize", zstd_in, out2, "--binary=" + BinariesOf(bare)});
  ASSERT_EQ(z.exit_code, 0) << z.stderr_data;
  EXPECT_EQ(ReadFileOrEmpty(out2), ReadFileOrEmpty(out));

  // A trace with no bare frame comes out byte for byte.
  const std::string out3 = TestTempPath("unchanged.trace");
  const ProcessResult u = RunGentrace(
      {"symbolize", named_path, out3, "--binary=" + BinariesOf(bare)});
  ASSERT_EQ(u.exit_code, 0) << u.stderr_data;
  EXPECT_EQ(ReadFileOrEmpty(out3), ReadFileOrEmpty(named_path));
  EXPECT_EQ(u.stderr_data,
            "gentrace symbolize: 0 bare frames: 0 named, 0 left bare, 0 "
            "dropped\n");
}

TEST(SymbolizeTest, FramesOfModulesWithoutABinaryStayBare) {
  // Only the executable: the C library's frames (under qsort) stay bare
  // and are counted under its name; the program's own are named.
  const std::string bare_path = TraceOf(true);
  const std::string out = TestTempPath("exe-only.trace");
  const ProcessResult p = RunGentrace(
      {"symbolize", bare_path, out, "--binary=" + Runfile(kProgram)});
  ASSERT_EQ(p.exit_code, 0) << p.stderr_data;
  EXPECT_THAT(p.stderr_data,
              ::testing::ContainsRegex("left bare: no --binary for .*libc"))
      << p.stderr_data;
  const TraceStacks fixed = ReadStacks(out);
  const std::vector<Frame>& compare = fixed.by_event.at("log compare 1");
  ASSERT_GE(compare.size(), 2u);
  EXPECT_THAT(compare[0].func, HasSubstr("Compare"));
  EXPECT_EQ(compare[1].func, "");  // qsort's, in the C library
  const std::vector<Frame>& direct = fixed.by_event.at("log direct 1");
  ASSERT_GE(direct.size(), 3u);
  EXPECT_THAT(direct[0].func, HasSubstr("Work"));
  EXPECT_EQ(direct[1].func, "main");
  EXPECT_EQ(direct[2].func, "");  // __libc_start_call_main's
  absl::StatusOr<GoView> v = ViewWithGo(out);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->valid) << v->result_line << v->validate_output;
}

TEST(SymbolizeTest, CrashDumpNamesTheCrashingFunction) {
  CrashChild r =
      testing::StartCrashChild(kCrashProgram, "symbolize", "segv", false);
  testing::WaitCrashChild(&r);
  testing::ExpectKilledBy(r, SIGSEGV, false);
  const std::string dump = CrashDumpOf(r);
  ASSERT_FALSE(dump.empty());
  ASSERT_THAT(r.err, HasSubstr(" completed: ")) << r.err;
  const TraceStacks before = ReadStacks(dump);
  const std::vector<Frame>& at_crash = before.by_event.at("log about to crash");
  ASSERT_FALSE(at_crash.empty());
  EXPECT_EQ(at_crash[0].func, "");  // bare in the dump

  const std::string out = TestTempPath("crash-symbolized.trace");
  const ProcessResult p = RunGentrace(
      {"symbolize", dump, out, "--binary=" + Runfile(kCrashProgram)});
  ASSERT_EQ(p.exit_code, 0) << p.stderr_data;
  const TraceStacks after = ReadStacks(out);
  const std::vector<Frame>& named = after.by_event.at("log about to crash");
  ASSERT_FALSE(named.empty());
  // main logs "about to crash", then faults (flight_recorder_crash_program).
  EXPECT_EQ(named[0].func, "main");
  EXPECT_THAT(named[0].file,
              HasSubstr("tests/tracer/flight_recorder_crash_program.cc"));
  EXPECT_GT(named[0].line, 0u);
  absl::StatusOr<GoView> v = ViewWithGo(out);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->valid) << v->result_line << v->validate_output;
  EXPECT_TRUE(v->ours_agree) << v->ours_difference;
}

// One line on stderr, exit 1, no output file.
void ExpectError(const std::vector<std::string>& args, const std::string& out,
                 const std::string& line) {
  std::vector<std::string> full = {"symbolize"};
  full.insert(full.end(), args.begin(), args.end());
  const ProcessResult p = RunGentrace(full);
  EXPECT_EQ(p.exit_code, 1) << p.stderr_data;
  EXPECT_EQ(p.stdout_data, "");
  EXPECT_EQ(p.stderr_data, line + "\n");
  EXPECT_NE(access(out.c_str(), F_OK), 0) << out;
}

TEST(SymbolizeTest, ErrorLines) {
  const std::string bare_path = TraceOf(true);
  const std::string out = TestTempPath("error-out.trace");
  const std::string exe = Runfile(kProgram);
  const std::string missing = TestTempPath("no-such.trace");
  tools::ExpectOneLineInputError("symbolize", {missing, out, "--binary=" + exe},
                                 missing, "No such file or directory", out);
  const std::string text = TestTempPath("not-elf.txt");
  ASSERT_TRUE(WriteFile(text, "hello\n"));
  ExpectError({bare_path, out, "--binary=" + text}, out,
              absl::StrCat("gentrace symbolize: ", text, ": not an ELF file"));
  ExpectError({bare_path, out, "--binary=" + missing}, out,
              absl::StrCat("gentrace symbolize: ", missing,
                           ": No such file or directory"));
  // The gentrace binary is ELF, but not the traced program.
  ExpectError(
      {bare_path, out, "--binary=" + Runfile("tools/gentrace/gentrace")}, out,
      absl::StrCat("gentrace symbolize: no --binary matches a module "
                   "of ",
                   bare_path, " with bare frames (by build-id or file name)"));
  // A hand-built trace with a bare frame and no module records.
  const std::string hand = TestTempPath("no-modules.trace");
  format::InfoRecords info;
  info.threads.push_back({10, 0, 1, "main"});
  ASSERT_TRUE(WriteFile(
      hand, tools::HandBuiltBinary(
                "EventBatch gen=1 m=10 time=1000 size=0\n"
                "@1010 ProcStatus p=0 pstatus=1\n"
                "@1020 GoStatus g=1 m=10 gstatus=2\n"
                "@1250 UserLog task=0 key_string=1 value_string=2 stack=1\n",
                "EventBatch gen=1 m=18446744073709551615 time=0 size=0\n"
                "Frequency freq=1000000000\n"
                "EventBatch gen=1 m=18446744073709551615 time=0 size=0\n"
                "Stacks\n"
                "Stack id=1 nframes=1\n"
                "\tpc=4096 func=0 file=0 line=0\n"
                "EventBatch gen=1 m=18446744073709551615 time=0 size=0\n"
                "Strings\n"
                "String id=1\n\tdata=\"cat\"\n"
                "String id=2\n\tdata=\"msg\"\n",
                info)));
  const ProcessResult p =
      RunGentrace({"symbolize", hand, out, "--binary=" + exe});
  EXPECT_EQ(p.exit_code, 1);
  EXPECT_THAT(p.stderr_data,
              ::testing::MatchesRegex(
                  "gentrace symbolize: .*no-modules.trace: generation 1 has "
                  "bare stack frames but the trace has no module records.*\n"));
  EXPECT_NE(access(out.c_str(), F_OK), 0);
}

}  // namespace
}  // namespace gentrace
