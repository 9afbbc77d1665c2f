// `gentrace run [flags] [--] PROGRAM [ARGS...]`: runs an unmodified
// program with gentrace's shim preloaded (tools/run/, libgentrace_run.so)
// and reports the trace it wrote. See the help text below and docs/CLI.md.
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "reader/event.h"
#include "reader/reader.h"
#include "tools/gentrace/command.h"

namespace gentrace::tools {
namespace {

constexpr char kHelp[] =
    R"(usage: gentrace run [flags] [--] PROGRAM [ARGS...]

Runs PROGRAM, unmodified, with gentrace's shim (libgentrace_run.so)
preloaded through LD_PRELOAD, and writes its execution trace: its threads,
the calls in which they waited (contended mutexes, condition variables,
joins, semaphores, sleeps, slow I/O and socket calls) and CPU samples of
every thread, with stacks symbolized from the program and its shared
libraries. No root and no change to the program are needed.

At exit, prints where the trace is and a summary (threads, events, CPU
samples) on standard error. A statically linked PROGRAM cannot have the
shim preloaded: it is then run untraced, with a message saying so.

Flags:
  --out=PATH                 the trace (default gentrace-run.trace)
  --cpu_hz=N                 CPU samples per CPU-second, 0 for none
                             (default 100)
  --cpu_source=S             auto, thread-timer, itimer or perf (default
                             auto)
  --period_ms=N              generation period in ms (default 1000)
  --clock=C                  the trace's clock: auto, tsc or monotonic
                             (default auto: the TSC where the kernel uses
                             it, else CLOCK_MONOTONIC); sets GENTRACE_CLOCK
  --syscall_threshold_us=N   record I/O and socket calls that took at
                             least N us (default 10; 0 records all)
  --flight_recorder          keep only the last seconds in memory; PATH
                             gets them at exit, or at a crash (fatal
                             signal, std::terminate)
  --fr_max_bytes=N           the flight recorder's memory bound (default
                             10 MiB)
  --fr_min_age_ms=N          history it keeps at least (default 10000)
  --follow_exec              trace the programs PROGRAM execs too, each
                             into PATH.PID (listed at exit)
  -h, --help                 show this help

Exit status: PROGRAM's (128+N if it died of signal N); 1 if it could not
be run or no trace was written, 2 usage error.
)";

const Command& Self();

// The program file: PROGRAM itself if it holds a slash, else the first
// executable of that name on PATH.
std::string FindProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = getenv("PATH");
  for (absl::string_view dir :
       absl::StrSplit(path != nullptr ? path : "/usr/bin:/bin", ':')) {
    const std::string candidate =
        absl::StrCat(dir.empty() ? "." : dir, "/", name);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// Whether an ELF file has a program interpreter (PT_INTERP): without one
// it is statically linked and the dynamic linker, which does LD_PRELOAD,
// never runs. Files that are not 64-bit ELF (scripts) count as dynamic:
// their interpreter decides.
bool IsStaticElf(const std::string& file) {
  const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  Elf64_Ehdr eh;
  bool is_static = false;
  if (pread(fd, &eh, sizeof(eh), 0) == sizeof(eh) &&
      memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 &&
      eh.e_ident[EI_CLASS] == ELFCLASS64 &&
      eh.e_phentsize == sizeof(Elf64_Phdr)) {
    bool interp = false;
    bool dynamic = false;
    for (int i = 0; i < eh.e_phnum; ++i) {
      Elf64_Phdr ph;
      if (pread(fd, &ph, sizeof(ph), eh.e_phoff + i * sizeof(ph)) !=
          sizeof(ph)) {
        break;
      }
      interp |= ph.p_type == PT_INTERP;
      dynamic |= ph.p_type == PT_DYNAMIC;
    }
    is_static = !interp || !dynamic;
  }
  close(fd);
  return is_static;
}

// The shim: $GENTRACE_RUN_SHIM, else next to this binary, in ../lib, or in
// ../run (Bazel's output tree), else where the CMake install put it.
std::string FindShim() {
  if (const char* s = getenv("GENTRACE_RUN_SHIM"); s != nullptr && *s) {
    return s;
  }
  char self[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return "";
  self[n] = '\0';
  std::string dir(self);
  dir.resize(dir.rfind('/'));
  for (const char* rel : {"/libgentrace_run.so", "/../lib/libgentrace_run.so",
                          "/../run/libgentrace_run.so"}) {
    const std::string candidate = dir + rel;
    if (access(candidate.c_str(), R_OK) == 0) return candidate;
  }
#ifdef GENTRACE_INSTALLED_RUN_SHIM
  if (access(GENTRACE_INSTALLED_RUN_SHIM, R_OK) == 0) {
    return GENTRACE_INSTALLED_RUN_SHIM;
  }
#endif
  return "";
}

// What the summary says about a trace.
struct Summary {
  uint64_t events = 0;
  uint64_t samples = 0;
  uint64_t blocks = 0;
  uint64_t syscalls = 0;
  std::set<int64_t> threads;
};

absl::Status Summarize(const std::string& path, Summary* s) {
  absl::StatusOr<std::unique_ptr<reader::Reader>> r =
      reader::Reader::Open(path);
  if (!r.ok()) return r.status();
  reader::Event ev;
  while ((*r)->ReadEvent(&ev)) {
    ++s->events;
    if (ev.thread() >= 0) s->threads.insert(ev.thread());
    if (ev.kind() == reader::EventKind::kStackSample) ++s->samples;
    if (ev.kind() == reader::EventKind::kStateTransition) {
      const reader::StateTransition st = ev.state_transition();
      if (st.resource.kind == reader::ResourceKind::kGoroutine &&
          st.go_from() == reader::GoState::kRunning) {
        if (st.go_to() == reader::GoState::kWaiting) ++s->blocks;
        if (st.go_to() == reader::GoState::kSyscall) ++s->syscalls;
      }
    }
  }
  return (*r)->status();
}

// Runs the program with `env` added; returns its wait status, or -1.
int RunChild(const std::vector<std::string>& argv,
             const std::vector<std::pair<std::string, std::string>>& env) {
  // Build everything before fork: the child only sets and execs.
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // Ctrl-C and Ctrl-\ go to the program; gentrace waits and reports.
  struct sigaction ignore, old_int, old_quit;
  memset(&ignore, 0, sizeof(ignore));
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGINT, &ignore, &old_int);
  sigaction(SIGQUIT, &ignore, &old_quit);
  const pid_t pid = fork();
  if (pid == 0) {
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGQUIT, &old_quit, nullptr);
    // gentrace is single-threaded: setenv after fork is safe here.
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    execvp(args[0], args.data());
    std::fprintf(stderr, "gentrace run: cannot run %s: %s\n", args[0],
                 strerror(errno));
    _exit(127);
  }
  int status = -1;
  if (pid > 0) {
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGQUIT, &old_quit, nullptr);
  return pid > 0 ? status : -1;
}

// The traces programs exec'd under --follow_exec wrote: OUT.PID, modified
// since `since`.
std::vector<std::string> ChildTraces(const std::string& out, time_t since) {
  std::vector<std::string> found;
  const size_t slash = out.rfind('/');
  const std::string dir = out.substr(0, slash);
  const std::string prefix = out.substr(slash + 1) + ".";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return found;
  while (const struct dirent* e = readdir(d)) {
    const absl::string_view name(e->d_name);
    if (!absl::StartsWith(name, prefix) || name.size() == prefix.size()) {
      continue;
    }
    const absl::string_view pid = name.substr(prefix.size());
    if (pid.find_first_not_of("0123456789") != absl::string_view::npos) {
      continue;
    }
    const std::string path = absl::StrCat(dir, "/", name);
    struct stat st;
    if (stat(path.c_str(), &st) == 0 && st.st_mtime >= since) {
      found.push_back(path);
    }
  }
  closedir(d);
  std::sort(found.begin(), found.end());
  return found;
}

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return kExitFailure;
}

bool FlagInt(const ParsedArgs& args, const std::string& name, int64_t max,
             std::string* out, std::string* error) {
  if (!args.has(name)) return true;
  int64_t v = 0;
  if (!absl::SimpleAtoi(args.flags.at(name), &v) || v < 0 || v > max) {
    *error = absl::StrCat("--", name, " wants a number in [0, ", max,
                          "], got '", args.flags.at(name), "'");
    return false;
  }
  *out = absl::StrCat(v);
  return true;
}

int RunRun(const ParsedArgs& args) {
  const Command& self = Self();
  const std::vector<std::string>& argv = args.positional;
  const std::string out =
      args.has("out") ? args.flags.at("out") : "gentrace-run.trace";
  if (out.empty()) return UsageError(self, "--out wants a path");

  std::vector<std::pair<std::string, std::string>> env;
  std::string error;
  const struct {
    const char* flag;
    const char* var;
    int64_t max;
  } ints[] = {
      {"cpu_hz", "GENTRACE_RUN_CPU_HZ", 10000},
      {"period_ms", "GENTRACE_RUN_PERIOD_MS", 3600 * 1000},
      {"syscall_threshold_us", "GENTRACE_RUN_SYSCALL_THRESHOLD_US",
       3600 * 1000000LL},
      {"fr_max_bytes", "GENTRACE_RUN_FR_MAX_BYTES", int64_t{1} << 40},
      {"fr_min_age_ms", "GENTRACE_RUN_FR_MIN_AGE_MS", 3600 * 1000},
  };
  for (const auto& f : ints) {
    std::string v;
    if (!FlagInt(args, f.flag, f.max, &v, &error)) {
      return UsageError(self, error);
    }
    if (!v.empty()) env.emplace_back(f.var, v);
  }
  if (args.has("period_ms") && args.flags.at("period_ms") == "0") {
    return UsageError(self, "--period_ms must be at least 1");
  }
  if (args.has("cpu_source")) {
    const std::string& s = args.flags.at("cpu_source");
    if (s != "auto" && s != "thread-timer" && s != "itimer" && s != "perf") {
      return UsageError(
          self, absl::StrCat("--cpu_source wants auto, thread-timer, itimer "
                             "or perf, got '",
                             s, "'"));
    }
    env.emplace_back("GENTRACE_RUN_CPU_SOURCE", s);
  }
  if (args.has("clock")) {
    const std::string& c = args.flags.at("clock");
    if (c != "auto" && c != "tsc" && c != "monotonic") {
      return UsageError(
          self,
          absl::StrCat("--clock wants auto, tsc or monotonic, got '", c, "'"));
    }
    env.emplace_back("GENTRACE_CLOCK", c);
  }
  if (args.has("flight_recorder")) {
    env.emplace_back("GENTRACE_RUN_FLIGHT_RECORDER", "1");
  }
  if (args.has("follow_exec"))
    env.emplace_back("GENTRACE_RUN_FOLLOW_EXEC", "1");

  const std::string program = FindProgram(argv[0]);
  if (program.empty() || access(program.c_str(), X_OK) != 0) {
    return Failure(self, absl::StrCat(argv[0], ": no such program"));
  }
  if (IsStaticElf(program)) {
    std::fprintf(stderr,
                 "gentrace run: %s is statically linked (no program "
                 "interpreter): the dynamic linker never runs, so the shim "
                 "cannot be preloaded; running it without tracing\n",
                 program.c_str());
    const int status = RunChild(argv, {});
    return status < 0 ? Failure(self, "cannot start the program")
                      : ExitCodeOf(status);
  }
  const std::string shim = FindShim();
  if (shim.empty()) {
    return Failure(self,
                   "cannot find libgentrace_run.so (next to gentrace, in "
                   "../lib, or $GENTRACE_RUN_SHIM)");
  }
  // An absolute trace path: the program may change directory.
  std::string abs_out = out;
  if (out[0] != '/') {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) != nullptr)
      abs_out = absl::StrCat(cwd, "/", out);
  }
  env.emplace_back("GENTRACE_RUN_OUT", abs_out);
  const char* pre = getenv("LD_PRELOAD");
  env.emplace_back("LD_PRELOAD", pre != nullptr && *pre
                                     ? absl::StrCat(shim, ":", pre)
                                     : shim);
  unlink(abs_out.c_str());  // what is there afterwards is this run's
  const time_t started = time(nullptr);

  const int status = RunChild(argv, env);
  if (status < 0) return Failure(self, "cannot start the program");
  const int code = ExitCodeOf(status);

  struct stat st;
  if (stat(abs_out.c_str(), &st) != 0) {
    std::fprintf(stderr,
                 "gentrace run: no trace was written to %s (the program "
                 "exited without running exit handlers, or tracing could not "
                 "start: see above)\n",
                 out.c_str());
    return code != 0 ? code : kExitFailure;
  }
  Summary s;
  const absl::Status read = Summarize(abs_out, &s);
  std::fprintf(stderr, "gentrace run: trace in %s (%lld bytes)%s\n",
               out.c_str(), static_cast<long long>(st.st_size),
               read.ok() ? "" : absl::StrCat(": ", read.message()).c_str());
  std::fprintf(stderr, "gentrace run:   threads: %zu\n", s.threads.size());
  std::fprintf(stderr,
               "gentrace run:   events: %llu (%llu blocked, %llu in "
               "syscalls)\n",
               static_cast<unsigned long long>(s.events),
               static_cast<unsigned long long>(s.blocks),
               static_cast<unsigned long long>(s.syscalls));
  std::fprintf(stderr, "gentrace run:   CPU samples: %llu\n",
               static_cast<unsigned long long>(s.samples));
  if (s.threads.empty() && !args.has("follow_exec")) {
    std::fprintf(stderr,
                 "gentrace run: no thread did anything traced: if %s is a "
                 "wrapper that execs the real program (a shell script, a "
                 "version manager's shim), --follow_exec traces that one "
                 "into %s.PID\n",
                 argv[0].c_str(), out.c_str());
  }
  if (args.has("follow_exec")) {
    for (const std::string& child : ChildTraces(abs_out, started)) {
      std::fprintf(stderr, "gentrace run: trace of an exec'd program in %s\n",
                   child.c_str());
    }
  }
  return code;
}

const Command& Self() {
  static const Command* const c = new Command{
      "run",
      "run an unmodified program with the tracer preloaded",
      kHelp,
      {{"out"},
       {"cpu_hz"},
       {"cpu_source"},
       {"period_ms"},
       {"clock"},
       {"syscall_threshold_us"},
       {"flight_recorder", false},
       {"fr_max_bytes"},
       {"fr_min_age_ms"},
       {"follow_exec", false}},
      {"PROGRAM"},
      &RunRun,
      /*takes_program=*/true,
  };
  return *c;
}

}  // namespace

const Command& RunProgramCommand() { return Self(); }

}  // namespace gentrace::tools
