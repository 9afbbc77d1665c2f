// What `gentrace run` costs a program that does not know about it: the
// same work loop (tests/run_workload.cc, a plain program), run plainly and
// under `gentrace run` (CPU samples at 100 Hz, the default), in the same
// run. The time per iteration is the program's own measure of its loop
// (work_ns), so process start-up, the trace's writing at exit and
// gentrace run's summary are left out.
//
//   BM_Locks/traced:0|1       4 threads, 500000 lock/unlock each of one
//                             std::mutex (contended; the shim tries
//                             trylock first and records a wait when it
//                             fails)
//   BM_Syscalls/traced:0|1    100000 pairs of a 1-byte pipe write and
//                             read (each timed, none over the threshold)
//
// Counter: events, what the traced run's trace holds (gentrace's summary).
// Run: ./dev bench (it joins the suite), or ./dev bench //tests:run_benchmark
#include <benchmark/benchmark.h>
#include <limits.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace {

// bazel-bin/tests/run_benchmark -> bazel-bin/.
std::string BinRoot() {
  char self[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return "";
  std::string s(self, n);
  s.resize(s.rfind('/'));  // .../tests
  s.resize(s.rfind('/'));
  return s;
}

// Runs `cmd` with popen and returns everything it printed (stdout and
// stderr), or "" if it failed.
std::string Run(const std::string& cmd) {
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  if (f == nullptr) return "";
  std::string out;
  char buf[4096];
  size_t got;
  while ((got = fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, got);
  return pclose(f) == 0 ? out : "";
}

int64_t Value(const std::string& out, const std::string& key) {
  const size_t at = out.find(key);
  if (at == std::string::npos) return -1;
  const size_t start = at + key.size();
  const size_t end = out.find_first_not_of("0123456789", start);
  int64_t v = -1;
  if (!absl::SimpleAtoi(out.substr(start, end - start), &v)) return -1;
  return v;
}

void RunWorkload(benchmark::State& state, const char* mode, int n) {
  const bool traced = state.range(0) == 1;
  const std::string root = BinRoot();
  const std::string workload =
      absl::StrCat(root, "/tests/run_workload ", mode, " ", n);
  const std::string trace =
      absl::StrCat(getenv("TMPDIR") != nullptr ? getenv("TMPDIR") : "/tmp",
                   "/gentrace-run-bench-", getpid(), ".trace");
  const std::string cmd =
      traced ? absl::StrCat(root, "/tools/gentrace/gentrace run --out=", trace,
                            " -- ", workload)
             : workload;
  int64_t events = 0;
  for (auto _ : state) {
    const std::string out = Run(cmd);
    const int64_t ns = Value(out, "work_ns=");
    if (ns < 0) {
      state.SkipWithError(("failed: " + cmd + "\n" + out).c_str());
      return;
    }
    if (traced) events = Value(out, "events: ");
    state.SetIterationTime(static_cast<double>(ns) * 1e-9);
  }
  unlink(trace.c_str());
  state.counters["events"] = static_cast<double>(events);
}

void BM_Locks(benchmark::State& state) {
  RunWorkload(state, "bench-locks", 500000);
}
void BM_Syscalls(benchmark::State& state) {
  RunWorkload(state, "bench-syscalls", 100000);
}

void Args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"traced"})
      ->Arg(0)
      ->Arg(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}
BENCHMARK(BM_Locks)->Apply(Args);
BENCHMARK(BM_Syscalls)->Apply(Args);

}  // namespace

BENCHMARK_MAIN();
