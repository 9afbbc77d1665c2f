// `gentrace run` on programs built without gentrace: the test workload
// (tests/run_workload.cc, a plain cc_binary), a system tool (gzip), a
// statically linked program. Every trace is read by gentrace's reader and
// validator first, then by Go's parser (when available, ViewWithGo); the
// blocking, system calls and CPU samples found in it are compared with
// what the program itself counted.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "format/batch.h"
#include "format/leb128.h"
#include "reader/event.h"
#include "reader/reader.h"
#include "tests/tracer/trace_check.h"
#include "tools/gentrace/test_process.h"

namespace gentrace {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kWorkload[] = "tests/run_workload";
constexpr char kStaticProgram[] = "tests/run_static_program";

std::string Abs(const std::string& rel) {
  char buf[PATH_MAX];
  return realpath(rel.c_str(), buf) != nullptr ? buf : rel;
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// The integer after "key=" in a program's output; -1 if missing.
int64_t Count(const std::string& out, const std::string& key) {
  const size_t at = out.find(key + "=");
  if (at == std::string::npos) return -1;
  int64_t v = -1;
  const size_t start = at + key.size() + 1;
  const size_t end = out.find_first_not_of("0123456789", start);
  if (!absl::SimpleAtoi(out.substr(start, end - start), &v)) return -1;
  return v;
}

// What a trace holds, by gentrace's reader.
struct Facts {
  struct Wait {
    std::string reason;  // "" for a syscall
    std::vector<std::string> funcs;
  };
  std::vector<Wait> blocks;
  std::vector<Wait> syscalls;
  std::vector<std::vector<std::string>> samples;
  std::vector<std::vector<std::string>> creations;  // goroutines' start
  std::set<int64_t> threads;
  std::set<int64_t> threads_with_g;  // events of a goroutine (not samples
                                     // of gentrace's own threads)
  uint64_t events = 0;

  static bool Has(const std::vector<std::string>& funcs,
                  const std::string& func) {
    for (const std::string& f : funcs) {
      if (absl::StrContains(f, func)) return true;
    }
    return false;
  }
  // Blocks for `reason` whose stack has a frame naming `func` (and one
  // naming `also`, if given).
  int Blocks(const std::string& reason, const std::string& func,
             const std::string& also = "") const {
    int n = 0;
    for (const Wait& w : blocks) {
      n += w.reason == reason && Has(w.funcs, func) &&
           (also.empty() || Has(w.funcs, also));
    }
    return n;
  }
  int Syscalls(const std::string& func) const {
    int n = 0;
    for (const Wait& w : syscalls) n += Has(w.funcs, func);
    return n;
  }
  int Samples(const std::string& func) const {
    int n = 0;
    for (const auto& s : samples) n += Has(s, func);
    return n;
  }
};

std::vector<std::string> Funcs(const reader::StackView& stack) {
  std::vector<std::string> out;
  for (size_t i = 0; i < stack.size(); ++i) {
    out.emplace_back(stack[i].func);
  }
  return out;
}

absl::StatusOr<Facts> ReadFacts(const std::string& path) {
  absl::StatusOr<std::unique_ptr<reader::Reader>> r =
      reader::Reader::Open(path);
  if (!r.ok()) return r.status();
  Facts f;
  reader::Event ev;
  while ((*r)->ReadEvent(&ev)) {
    ++f.events;
    if (ev.thread() >= 0) f.threads.insert(ev.thread());
    if (ev.thread() >= 0 && ev.goroutine() >= 0) {
      f.threads_with_g.insert(ev.thread());
    }
    if (ev.kind() == reader::EventKind::kStackSample) {
      f.samples.push_back(Funcs(ev.stack()));
    }
    if (ev.kind() != reader::EventKind::kStateTransition) continue;
    const reader::StateTransition st = ev.state_transition();
    if (st.resource.kind == reader::ResourceKind::kGoroutine &&
        st.go_from() == reader::GoState::kNotExist) {
      f.creations.push_back(Funcs(st.stack));
    }
    if (st.resource.kind != reader::ResourceKind::kGoroutine ||
        st.go_from() != reader::GoState::kRunning) {
      continue;
    }
    if (st.go_to() == reader::GoState::kWaiting) {
      f.blocks.push_back({std::string(st.reason), Funcs(ev.stack())});
    } else if (st.go_to() == reader::GoState::kSyscall) {
      f.syscalls.push_back({"", Funcs(ev.stack())});
    }
  }
  if (!(*r)->status().ok()) return (*r)->status();
  return f;
}

// Checks the trace with our reader and validator, then Go's parser.
void ExpectValid(const std::string& trace) {
  absl::StatusOr<testing::GoView> v =
      testing::ViewWithGo(trace, /*allow_broken_tail=*/false, /*dump=*/false);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->valid) << v->validate_output;
  EXPECT_TRUE(v->ours_agree) << v->ours_difference;
}

TEST(RunTest, UnmodifiedProgramWaitsAndSamplesAreInTheTrace) {
  const std::string trace = tools::TestTempPath("workload.trace");
  tools::ProcessResult r =
      tools::RunGentrace({"run", absl::StrCat("--out=", trace),
                          "--period_ms=200", "--", kWorkload, "all"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_THAT(r.stderr_data, HasSubstr("gentrace run: trace in " + trace));
  EXPECT_THAT(r.stderr_data, HasSubstr("threads: "));
  EXPECT_THAT(r.stderr_data, HasSubstr("CPU samples: "));
  const int64_t contended = Count(r.stdout_data, "contended");
  const int64_t condwaits = Count(r.stdout_data, "condwaits");
  const int64_t pipereads = Count(r.stdout_data, "pipereads");
  ASSERT_GT(contended, 0) << r.stdout_data;
  ASSERT_GT(condwaits, 0) << r.stdout_data;
  ASSERT_GT(pipereads, 0) << r.stdout_data;

  ExpectValid(trace);
  absl::StatusOr<Facts> f = ReadFacts(trace);
  ASSERT_TRUE(f.ok()) << f.status();
  // Every wait the program counted, and no other, at its call site.
  EXPECT_EQ(f->Blocks("sync", "ContendLock"), contended);
  EXPECT_EQ(f->Blocks("sync.(*Cond).Wait", "Consume"), condwaits);
  EXPECT_EQ(f->Syscalls("PipeReader"), pipereads);
  // The holder's lock() calls never waited: none recorded.
  EXPECT_EQ(f->Blocks("sync", "HoldLock"), 0);
  // Sleeps in the holder and the writer (at least one block each).
  EXPECT_GE(f->Blocks("sleep", "HoldLock"), 6);
  EXPECT_GE(f->Blocks("sleep", "PipeWriter"), 6);
  // The main thread and the eight it started, each created with its start
  // routine at the root of its creation stack: the function a raw
  // pthread_create ran, and for a std::thread the callable (a lambda of
  // RunAll here).
  EXPECT_GE(f->threads.size(), 9u);
  int raw = 0, lambda = 0;
  for (const std::vector<std::string>& c : f->creations) {
    raw += !c.empty() && absl::StrContains(c.back(), "RawThreadMain");
    lambda += !c.empty() && absl::StrContains(c.back(), "RunAll");
  }
  EXPECT_EQ(raw, 1);
  EXPECT_EQ(lambda, 1);
  // CPU samples, symbolized from the program's binary.
  EXPECT_GT(f->Samples("BurnCpu"), 0);
  // The summary counts what the reader counts.
  EXPECT_THAT(r.stderr_data,
              HasSubstr(absl::StrCat("events: ", f->events, " (")));
}

TEST(RunTest, SystemToolGzip) {
  // A few MB of text, compressed by gzip (a Debian binary) under
  // gentrace run and plainly: the same bytes, and a trace of its I/O.
  const std::string input = tools::TestTempPath("gzip.in");
  {
    std::string text;
    uint64_t x = 1;
    for (int i = 0; i < 400000; ++i) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      absl::StrAppend(&text, x >> 33, "\n");
    }
    ASSERT_TRUE(tools::WriteFile(input, text));
  }
  const std::string trace = tools::TestTempPath("gzip.trace");
  const std::string traced_out = tools::TestTempPath("traced.gz");
  const std::string plain_out = tools::TestTempPath("plain.gz");
  // gzip -k writes INPUT.gz next to INPUT.
  tools::ProcessResult r = tools::RunGentrace(
      {"run", absl::StrCat("--out=", trace), "--syscall_threshold_us=0",
       "--cpu_hz=500", "--", "gzip", "-k", "-f", input});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  ASSERT_EQ(rename((input + ".gz").c_str(), traced_out.c_str()), 0);
  absl::StatusOr<tools::ProcessResult> plain = tools::RunProcess(
      "/bin/sh", {"-c", absl::StrCat("gzip -c ", input, " > ", plain_out)});
  ASSERT_TRUE(plain.ok());
  ASSERT_EQ(plain->exit_code, 0);
  EXPECT_EQ(tools::ReadFileOrEmpty(traced_out),
            tools::ReadFileOrEmpty(plain_out));

  ExpectValid(trace);
  absl::StatusOr<Facts> f = ReadFacts(trace);
  ASSERT_TRUE(f.ok()) << f.status();
  // gzip reads its input and writes its output with read() and write():
  // with a threshold of 0 every one is a syscall in the trace, at least
  // one per 64 KiB read.
  const int64_t size = tools::ReadFileOrEmpty(input).size();
  EXPECT_GE(static_cast<int64_t>(f->syscalls.size()), size / 65536);
  EXPECT_GT(f->samples.size(), 0u);
}

// A traced shell that execs a tool (not traced without --follow_exec):
// the shell's trace ends, whole, at the exec, and the tool is not killed
// by the shell's CPU-sampling timer (an ITIMER_PROF survives exec).
TEST(RunTest, ShellExecingAToolEndsItsTraceAtTheExec) {
  const std::string input = tools::TestTempPath("exec.in");
  ASSERT_TRUE(tools::WriteFile(input, std::string(1 << 20, 'a')));
  const std::string trace = tools::TestTempPath("shell.trace");
  const std::string traced_out = tools::TestTempPath("shell.gz");
  tools::ProcessResult r = tools::RunGentrace(
      {"run", absl::StrCat("--out=", trace), "--cpu_source=itimer",
       "--cpu_hz=1000", "--", "/bin/sh", "-c",
       absl::StrCat("i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; ",
                    "exec gzip -c ", input, " > ", traced_out)});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  absl::StatusOr<tools::ProcessResult> plain =
      tools::RunProcess("/bin/sh", {"-c", absl::StrCat("gzip -c ", input)});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(tools::ReadFileOrEmpty(traced_out), plain->stdout_data);
  ExpectValid(trace);
  absl::StatusOr<Facts> f = ReadFacts(trace);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_GT(f->events, 0u);
  EXPECT_EQ(f->threads_with_g.size(), 1u);  // the shell's
}

TEST(RunTest, ErrnoIsKeptAcrossInterposedCalls) {
  const std::string trace = tools::TestTempPath("errno.trace");
  tools::ProcessResult r = tools::RunGentrace(
      {"run", absl::StrCat("--out=", trace), "--syscall_threshold_us=0", "--",
       kWorkload, "errno"});
  EXPECT_EQ(r.exit_code, 0) << r.stdout_data << r.stderr_data;
  EXPECT_THAT(r.stdout_data, HasSubstr("errno failures=0"));
  ExpectValid(trace);
  absl::StatusOr<Facts> f = ReadFacts(trace);
  ASSERT_TRUE(f.ok()) << f.status();
  // The contended lock and the semaphore that waited are in the trace;
  // the uncontended ones are not (the interposed function is on the stack).
  EXPECT_EQ(f->Blocks("sync", "RunErrno", "pthread_mutex_lock"), 1);
  EXPECT_EQ(f->Blocks("sync", "RunErrno", "sem_wait"), 1);
}

TEST(RunTest, ProgramsOwnSignalHandlersStillRun) {
  const std::string trace = tools::TestTempPath("signals.trace");
  tools::ProcessResult r =
      tools::RunGentrace({"run", absl::StrCat("--out=", trace), "--cpu_hz=1000",
                          "--", kWorkload, "signals"});
  EXPECT_EQ(r.exit_code, 0) << r.stdout_data << r.stderr_data;
  EXPECT_THAT(r.stdout_data, HasSubstr("sigprof=25 of 25 segv=1"));
  ExpectValid(trace);
  absl::StatusOr<Facts> f = ReadFacts(trace);
  ASSERT_TRUE(f.ok()) << f.status();
  // gentrace's sampling went on behind the program's SIGPROF handler.
  EXPECT_GT(f->Samples("BurnCpu"), 0);
}

TEST(RunTest, ForkWithoutExecLeavesTheParentsTraceWhole) {
  const std::string trace = tools::TestTempPath("fork.trace");
  tools::ProcessResult r =
      tools::RunGentrace({"run", absl::StrCat("--out=", trace),
                          "--period_ms=20", "--", kWorkload, "fork"});
  EXPECT_EQ(r.exit_code, 0) << r.stdout_data << r.stderr_data;
  EXPECT_THAT(r.stdout_data, HasSubstr("child done"));
  EXPECT_THAT(r.stdout_data, HasSubstr("child exit=7"));
  // The child says nothing on stderr (it writes no trace).
  EXPECT_THAT(r.stderr_data, Not(HasSubstr("shim")));
  ExpectValid(trace);
}

TEST(RunTest, StaticProgramRunsUntracedWithAMessage) {
  const std::string trace = tools::TestTempPath("static.trace");
  tools::ProcessResult r = tools::RunGentrace(
      {"run", absl::StrCat("--out=", trace), "--", kStaticProgram, "a", "b"});
  EXPECT_EQ(r.exit_code, 3) << r.stderr_data;  // the program's own
  EXPECT_THAT(r.stdout_data, HasSubstr("static program ran with 2 args"));
  EXPECT_THAT(r.stderr_data, HasSubstr("is statically linked"));
  EXPECT_THAT(r.stderr_data, HasSubstr("running it without tracing"));
  EXPECT_FALSE(Exists(trace));
}

TEST(RunTest, ExecedChildrenAreTracedOnlyWithFollowExec) {
  const std::string workload = Abs(kWorkload);
  for (const bool follow : {false, true}) {
    SCOPED_TRACE(follow);
    const std::string trace =
        tools::TestTempPath(absl::StrCat("exec", follow, ".trace"));
    std::vector<std::string> args = {"run", absl::StrCat("--out=", trace)};
    if (follow) args.push_back("--follow_exec");
    for (const char* a : {"--", kWorkload, "exec"}) args.push_back(a);
    args.push_back(workload);
    args.push_back("all");
    tools::ProcessResult r = tools::RunGentrace(args);
    ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
    EXPECT_THAT(r.stdout_data, HasSubstr("contended="));
    ExpectValid(trace);
    // The child's trace: TRACE.PID, found by listing the directory.
    std::vector<std::string> children;
    const std::string dir = trace.substr(0, trace.rfind('/'));
    const std::string prefix = trace.substr(trace.rfind('/') + 1) + ".";
    std::unique_ptr<FILE, int (*)(FILE*)> ls(
        popen(absl::StrCat("ls ", dir).c_str(), "r"), pclose);
    char line[4096];
    while (ls != nullptr && fgets(line, sizeof(line), ls.get()) != nullptr) {
      std::string name(line);
      if (!name.empty() && name.back() == '\n') name.pop_back();
      if (absl::StartsWith(name, prefix)) children.push_back(dir + "/" + name);
    }
    if (!follow) {
      EXPECT_TRUE(children.empty());
      continue;
    }
    ASSERT_EQ(children.size(), 1u);
    EXPECT_THAT(r.stderr_data,
                HasSubstr("trace of an exec'd program in " + children[0]));
    ExpectValid(children[0]);
    absl::StatusOr<Facts> f = ReadFacts(children[0]);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_EQ(f->Blocks("sync", "ContendLock"),
              Count(r.stdout_data, "contended"));
  }
}

TEST(RunTest, FlightRecorderWritesTheLastGenerationsAtExit) {
  const std::string trace = tools::TestTempPath("fr.trace");
  tools::ProcessResult r = tools::RunGentrace(
      {"run", absl::StrCat("--out=", trace), "--flight_recorder",
       "--period_ms=50", "--", kWorkload, "all"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  ExpectValid(trace);
  absl::StatusOr<Facts> f = ReadFacts(trace);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_GT(f->events, 0u);
}

// A program that dies of SIGSEGV: the flight recorder's crash dump is the
// trace, with the waits of the work before the crash.
TEST(RunTest, FlightRecorderDumpsAtACrash) {
  const std::string trace = tools::TestTempPath("crash.trace");
  tools::ProcessResult r = tools::RunGentrace(
      {"run", absl::StrCat("--out=", trace), "--flight_recorder",
       "--period_ms=50", "--", kWorkload, "crash"});
  EXPECT_EQ(r.exit_code, 128 + SIGSEGV) << r.stderr_data;
  ASSERT_TRUE(Exists(trace)) << r.stderr_data;
  ExpectValid(trace);
  absl::StatusOr<Facts> f = ReadFacts(trace);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_GT(f->Blocks("sync.(*Cond).Wait", "Consume"), 0);
  EXPECT_THAT(r.stderr_data, HasSubstr("gentrace run: trace in " + trace));
}

// The trace's clock frequency (its first Frequency batch), or 0.
uint64_t TraceFrequency(const std::string& path) {
  const std::string bytes = tools::ReadFileOrEmpty(path);
  format::BatchReader r(absl::MakeConstSpan(
      reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  if (!r.ReadHeader().ok()) return 0;
  format::Batch b;
  for (;;) {
    absl::StatusOr<bool> more = r.Next(&b);
    if (!more.ok() || !*more) return 0;
    if (b.kind() != format::BatchKind::kFrequency) continue;
    // The Frequency byte, then the ticks per second.
    uint64_t f = 0;
    size_t used = 0;
    if (b.payload.size() < 2 ||
        format::GetUvarint(b.payload.data() + 1,
                           b.payload.data() + b.payload.size(), &f,
                           &used) != format::VarintStatus::kOk) {
      return 0;
    }
    return f;
  }
}

// --clock chooses the trace's clock: CLOCK_MONOTONIC's ticks are 8 ns
// (125 MHz); the TSC's, where the CPU's is invariant, something else.
TEST(RunTest, ClockFlagChoosesTheTraceClock) {
  const std::string mono = tools::TestTempPath("mono.trace");
  tools::ProcessResult r =
      tools::RunGentrace({"run", absl::StrCat("--out=", mono),
                          "--clock=monotonic", "--", kWorkload, "errno"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  ExpectValid(mono);
  EXPECT_EQ(TraceFrequency(mono), 125000000u);
  const std::string cpuinfo = tools::ReadFileOrEmpty("/proc/cpuinfo");
  if (absl::StrContains(cpuinfo, " constant_tsc") &&
      absl::StrContains(cpuinfo, " nonstop_tsc")) {
    const std::string tsc = tools::TestTempPath("tsc.trace");
    r = tools::RunGentrace({"run", absl::StrCat("--out=", tsc), "--clock=tsc",
                            "--", kWorkload, "errno"});
    ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
    ExpectValid(tsc);
    const uint64_t f = TraceFrequency(tsc);
    EXPECT_NE(f, 125000000u);
    EXPECT_GE(f, 50000000u);
    EXPECT_LE(f, 200000000u);
  }
}

TEST(RunTest, UsageErrors) {
  EXPECT_EQ(tools::RunGentrace({"run"}).exit_code, 2);
  EXPECT_EQ(tools::RunGentrace({"run", "--cpu_hz=x", "--", "true"}).exit_code,
            2);
  EXPECT_EQ(
      tools::RunGentrace({"run", "--cpu_source=nope", "--", "true"}).exit_code,
      2);
  tools::ProcessResult clock =
      tools::RunGentrace({"run", "--clock=hpet", "--", "true"});
  EXPECT_EQ(clock.exit_code, 2);
  EXPECT_THAT(clock.stderr_data,
              HasSubstr("--clock wants auto, tsc or monotonic, got 'hpet'"));
  tools::ProcessResult r =
      tools::RunGentrace({"run", "--", "/nonexistent/program"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.stderr_data, HasSubstr("no such program"));
}

}  // namespace
}  // namespace gentrace
