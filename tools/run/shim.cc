// The shim's start and end: reads the GENTRACE_RUN_* environment that
// `gentrace run` sets, starts tracing (or a flight recorder) before the
// program's main, and stops it at exit. See shim.h and docs/CLI.md
// ("gentrace run").
//
// Tracing starts in a wrapper around main, installed through an
// interposed __libc_start_main: by then every shared library (the tracer's
// own static state included) is initialized, which a constructor of this
// library cannot rely on. The program's own static constructors run before
// main and are not traced.
#include "tools/run/shim.h"

#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tracer/crash_handler.h"
#include "tracer/flight_recorder.h"
#include "tracer/gentrace.h"
#include "tracer/internal/clock.h"
#include "tracer/internal/runtime.h"

namespace gentrace::run {

thread_local ShimThread t_shim __attribute__((tls_model("initial-exec")));
std::atomic<bool> g_ready{false};
uint64_t g_threshold_ticks = 0;

uint64_t ClockNow() { return internal::Now(); }

__attribute__((noinline)) void RecordPastBlock(BlockReason reason,
                                               uint64_t begin) {
  internal::Runtime& rt = internal::Runtime::Get();
  internal::ThreadState* ts = rt.threads().CurrentThread();
  if (ts == nullptr) return;
  internal::TraceLocker tl(ts);
  if (!tl.ok()) return;
  void* fp = __builtin_frame_address(0);
  if (rt.goroutines().Block(tl, BlockReasonName(reason), fp, begin)) {
    rt.goroutines().Unblock(tl, fp);
  }
}

__attribute__((noinline)) void RecordPastSyscall(uint64_t begin) {
  internal::Runtime& rt = internal::Runtime::Get();
  internal::ThreadState* ts = rt.threads().CurrentThread();
  if (ts == nullptr) return;
  internal::TraceLocker tl(ts);
  if (!tl.ok()) return;
  if (rt.goroutines().EnterSyscall(tl, __builtin_frame_address(0), begin)) {
    rt.goroutines().ExitSyscall(tl);
  }
}

namespace {

// The configuration, from the environment.
struct Config {
  std::string out;
  bool flight_recorder = false;
  int64_t fr_max_bytes = 0;
  int64_t fr_min_age_ms = 0;
  int cpu_hz = 100;
  CpuProfileOptions::Source cpu_source = CpuProfileOptions::Source::kAuto;
  int64_t period_ms = 1000;
  int64_t threshold_us = 10;
  bool follow_exec = false;
};

void Warn(const std::string& message) {
  const std::string line = absl::StrCat("gentrace run (shim): ", message, "\n");
  // write(2): nothing here may depend on stdio's state.
  ssize_t n = ::write(2, line.data(), line.size());
  (void)n;
}

bool IntEnv(const char* name, int64_t* v) {
  const char* s = getenv(name);
  if (s == nullptr || *s == '\0') return true;
  if (absl::SimpleAtoi(s, v) && *v >= 0) return true;
  Warn(absl::StrCat(name, "=", s, ": not a number; using the default"));
  return false;
}

Config ReadConfig() {
  Config c;
  const char* out = getenv("GENTRACE_RUN_OUT");
  if (out != nullptr) c.out = out;
  const char* fr = getenv("GENTRACE_RUN_FLIGHT_RECORDER");
  c.flight_recorder = fr != nullptr && strcmp(fr, "1") == 0;
  const char* fe = getenv("GENTRACE_RUN_FOLLOW_EXEC");
  c.follow_exec = fe != nullptr && strcmp(fe, "1") == 0;
  int64_t v = c.cpu_hz;
  if (IntEnv("GENTRACE_RUN_CPU_HZ", &v)) c.cpu_hz = static_cast<int>(v);
  IntEnv("GENTRACE_RUN_PERIOD_MS", &c.period_ms);
  IntEnv("GENTRACE_RUN_SYSCALL_THRESHOLD_US", &c.threshold_us);
  IntEnv("GENTRACE_RUN_FR_MAX_BYTES", &c.fr_max_bytes);
  IntEnv("GENTRACE_RUN_FR_MIN_AGE_MS", &c.fr_min_age_ms);
  if (const char* s = getenv("GENTRACE_RUN_CPU_SOURCE"); s != nullptr) {
    const std::string src(s);
    if (src == "thread-timer") {
      c.cpu_source = CpuProfileOptions::Source::kThreadTimer;
    } else if (src == "itimer") {
      c.cpu_source = CpuProfileOptions::Source::kProcessTimer;
    } else if (src == "perf") {
      c.cpu_source = CpuProfileOptions::Source::kPerfEvent;
    } else if (src != "auto" && !src.empty()) {
      Warn(absl::StrCat("GENTRACE_RUN_CPU_SOURCE=", src,
                        ": unknown; using auto"));
    }
  }
  return c;
}

// This library's own file name, as the dynamic linker loaded it.
std::string OwnPath() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&OwnPath), &info) != 0 &&
      info.dli_fname != nullptr) {
    return info.dli_fname;
  }
  return "";
}

// Takes this library out of LD_PRELOAD, so that programs this one execs
// are not traced (without --follow-exec). Other preloaded libraries stay.
void StripFromPreload() {
  const char* pre = getenv("LD_PRELOAD");
  if (pre == nullptr) return;
  const std::string self = OwnPath();
  std::vector<std::string> kept;
  for (absl::string_view e :
       absl::StrSplit(pre, absl::ByAnyChar(": "), absl::SkipEmpty())) {
    const size_t slash = e.rfind('/');
    const absl::string_view base =
        slash == absl::string_view::npos ? e : e.substr(slash + 1);
    if (e == self || base == "libgentrace_run.so") continue;
    kept.emplace_back(e);
  }
  if (kept.empty()) {
    unsetenv("LD_PRELOAD");
  } else {
    setenv("LD_PRELOAD", absl::StrJoin(kept, ":").c_str(), 1);
  }
}

struct State {
  Config config;
  std::string out;  // this process's trace
  std::unique_ptr<FlightRecorder> recorder;
  pid_t pid = 0;  // a forked child (tracing off there) writes nothing
  std::atomic<bool> ended{false};
};
State* g_state = nullptr;

}  // namespace

// Stops tracing and writes the trace: at exit (an atexit handler registered
// after Start, so it runs before the tracer's own), or before an exec.
// Once per process, and never in a forked child (or a vfork child, which
// shares the parent's memory).
void EndTrace() {
  State* st = g_state;
  if (st == nullptr || getpid() != st->pid ||
      st->ended.exchange(true, std::memory_order_acq_rel)) {
    return;
  }
  g_ready.store(false, std::memory_order_relaxed);
  InTracer in;
  if (st->recorder != nullptr) {
    absl::StatusOr<uint64_t> n = st->recorder->WriteTo(st->out);
    if (!n.ok()) {
      Warn(absl::StrCat("flight recorder snapshot to ", st->out,
                        " failed: ", n.status().message()));
    }
    if (absl::Status s = st->recorder->Stop(); !s.ok()) {
      Warn(absl::StrCat("flight recorder failed: ", s.message()));
    }
  } else if (absl::Status s = gentrace::Stop(); !s.ok()) {
    Warn(absl::StrCat("tracing into ", st->out, " failed: ", s.message()));
  }
}

namespace {

void Init() {
  Config config = ReadConfig();
  if (config.out.empty()) return;
  InTracer in;
  auto* st = new State;
  st->config = config;
  st->pid = getpid();
  // The first process of a `gentrace run` writes OUT; the processes it
  // execs (with --follow-exec) write OUT.PID.
  const char* child = getenv("GENTRACE_RUN_CHILD");
  st->out = child != nullptr && strcmp(child, "1") == 0
                ? absl::StrCat(config.out, ".", getpid())
                : config.out;
  if (config.follow_exec) {
    setenv("GENTRACE_RUN_CHILD", "1", 1);
  } else {
    StripFromPreload();
  }

  CpuProfileOptions cpu;
  cpu.enabled = config.cpu_hz > 0;
  cpu.hz = config.cpu_hz > 0 ? config.cpu_hz : 100;
  cpu.source = config.cpu_source;
  cpu.sample_unknown_threads = true;
  const absl::Duration period =
      absl::Milliseconds(config.period_ms > 0 ? config.period_ms : 1000);
  absl::Status started;
  if (config.flight_recorder) {
    FlightRecorderOptions fro;
    fro.generation_period = period;
    fro.cpu = cpu;
    if (config.fr_max_bytes > 0) {
      fro.max_bytes = static_cast<uint64_t>(config.fr_max_bytes);
    }
    if (config.fr_min_age_ms > 0) {
      fro.min_age = absl::Milliseconds(config.fr_min_age_ms);
    }
    st->recorder = std::make_unique<FlightRecorder>(fro);
    // At a crash, before the recorder's dump (callbacks run in the order
    // of their ids, and this one is registered first): interposed calls
    // stop being recorded, so the dump's own writes (and whatever other
    // threads do meanwhile) go straight to libc, without entering the
    // tracer from a signal handler.
    RegisterCrashDumpCallback(
        [](const CrashContext&, void*) {
          g_ready.store(false, std::memory_order_relaxed);
        },
        nullptr);
    CrashHandlerOptions cho;
    // A crash dump goes where the trace would have gone.
    cho.path_template.clear();
    for (char ch : st->out) {
      cho.path_template += ch;
      if (ch == '%') cho.path_template += '%';
    }
    if (absl::Status s = st->recorder->InstallCrashHandler(cho); !s.ok()) {
      Warn(absl::StrCat("no crash handler: ", s.message()));
    }
    started = st->recorder->Start();
  } else {
    Options opts;
    opts.path = st->out;
    opts.generation_period = period;
    opts.cpu = cpu;
    started = gentrace::Start(opts);
  }
  if (!started.ok()) {
    Warn(absl::StrCat("not tracing: ", started.message()));
    delete st;
    return;
  }
  g_state = st;
  // The main thread registers now, so that its CPU timer is armed, and
  // appears in the trace (its G created) from the start.
  if (internal::ThreadState* ts =
          internal::Runtime::Get().threads().CurrentThread()) {
    internal::TraceLocker tl(ts);
    if (tl.ok()) (void)tl.Reserve(internal::kMaxEventBytes);
  }
  const uint64_t tps = internal::g_clock.ticks_per_second;
  g_threshold_ticks =
      static_cast<uint64_t>(config.threshold_us) * tps / 1000000;
  std::atexit(EndTrace);
  g_ready.store(true, std::memory_order_release);
}

using MainFn = int (*)(int, char**, char**);
MainFn g_main = nullptr;

int WrappedMain(int argc, char** argv, char** envp) {
  Init();
  return g_main(argc, argv, envp);
}

}  // namespace
}  // namespace gentrace::run

// glibc's entry point from the program's _start: main is wrapped so that
// tracing starts once every library is initialized.
extern "C" __attribute__((visibility("default"))) int __libc_start_main(
    int (*main)(int, char**, char**), int argc, char** argv, void (*init)(void),
    void (*fini)(void), void (*rtld_fini)(void), void* stack_end) {
  using Real = int (*)(int (*)(int, char**, char**), int, char**, void (*)(),
                       void (*)(), void (*)(), void*);
  auto real = reinterpret_cast<Real>(dlsym(RTLD_NEXT, "__libc_start_main"));
  gentrace::run::g_main = main;
  return real(&gentrace::run::WrappedMain, argc, argv, init, fini, rtld_fini,
              stack_end);
}
