// What CPU samples in the trace cost, measured in one binary:
//  * the SIGPROF path: an empty SA_SIGINFO handler against gentrace's
//    handler (unwind, seqlock, clock, ring write), both driven by sending
//    SIGPROF to the calling thread, from a 10-deep stack;
//  * the overhead of sampling on a fixed CPU-bound workload: tracing with
//    sampling at 100 Hz and 1000 Hz against tracing without sampling;
//  * the same with perf cpu-clock counters at 1 kHz and 10 kHz, signal
//    mode (one SIGPROF a sample) against the signal-free mode (perf mmap
//    rings drained by gentrace's reader thread), next to no sampling
//    (hz:0) in the same family, with the samples and the lost ones.
//
// Run alone: ./dev bench //tests:cpu_sampling_benchmark; `./dev bench`
// runs it as part of the suite (tests/benchmark_suite.cc).
#include <benchmark/benchmark.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cpusample/sampler.h"
#include "tracer/gentrace.h"

namespace {

std::atomic<uint64_t> empty_hits{0};

void EmptyHandler(int, siginfo_t*, void*) {
  empty_hits.fetch_add(1, std::memory_order_relaxed);
}

// Sends SIGPROF to the calling thread the way Sampler::TriggerSample does
// (one rt_tgsigqueueinfo with SI_QUEUE; pid and tid looked up once), so the
// two handlers are driven alike.
void RaiseSelf() {
  static const pid_t pid = getpid();
  static const uid_t uid = getuid();
  static thread_local const pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  siginfo_t si;
  memset(&si, 0, sizeof(si));
  si.si_signo = SIGPROF;
  si.si_code = SI_QUEUE;
  si.si_pid = pid;
  si.si_uid = uid;
  syscall(SYS_rt_tgsigqueueinfo, pid, tid, SIGPROF, &si);
}

template <typename F>
__attribute__((noinline)) void AtDepth(int depth, F& f) {
  if (depth <= 1) {
    f();
  } else {
    AtDepth(depth - 1, f);
  }
  benchmark::ClobberMemory();
}

void BM_Signal_EmptyHandler(benchmark::State& state) {
  struct sigaction sa = {}, old = {};
  sa.sa_sigaction = EmptyHandler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGPROF, &sa, &old);
  auto body = [] { RaiseSelf(); };
  for (auto _ : state) AtDepth(10, body);
  sigaction(SIGPROF, &old, nullptr);
}
BENCHMARK(BM_Signal_EmptyHandler);

void BM_Signal_GentraceHandler(benchmark::State& state) {
  gentrace::Options o;
  o.callback = [](absl::Span<const uint8_t>) { return absl::OkStatus(); };
  o.cpu.enabled = true;
  o.cpu.source = gentrace::CpuProfileOptions::Source::kProcessTimer;
  o.cpu.hz = 1;  // the timer stays out of the way; we send the signals
  if (!gentrace::Start(o).ok()) std::abort();
  gentrace::Log("bench", "register this thread");
  auto body = [] { gentrace::cpusample::Sampler::TriggerSample(); };
  for (auto _ : state) AtDepth(10, body);
  (void)gentrace::Stop();
  state.counters["samples_in_trace"] =
      static_cast<double>(gentrace::GetStats().cpu_samples);
}
BENCHMARK(BM_Signal_GentraceHandler);

// A fixed amount of CPU work.
__attribute__((noinline)) double Work() {
  double acc = 0;
  for (int i = 1; i < 200000; ++i) acc += std::sqrt(static_cast<double>(i));
  return acc;
}

void BM_Workload(benchmark::State& state) {
  const int hz = static_cast<int>(state.range(0));
  gentrace::Options o;
  o.callback = [](absl::Span<const uint8_t>) { return absl::OkStatus(); };
  o.cpu.enabled = hz > 0;
  o.cpu.hz = hz > 0 ? hz : 100;
  if (!gentrace::Start(o).ok()) std::abort();
  gentrace::Log("bench", "register this thread");
  for (auto _ : state) benchmark::DoNotOptimize(Work());
  (void)gentrace::Stop();
  state.counters["samples"] =
      static_cast<double>(gentrace::GetStats().cpu_samples);
}
// Run it long enough for a few hundred samples at 100 Hz, e.g.
// --benchmark_min_time=2 --benchmark_repetitions=3; ./dev bench runs it
// repeatedly, interleaved with the rest, and takes medians.
// CPU time of the whole process (the sampler's reader thread included).
BENCHMARK(BM_Workload)
    ->ArgName("hz")
    ->Arg(0)
    ->Arg(100)
    ->Arg(1000)
    ->MeasureProcessCPUTime();

void BM_WorkloadPerf(benchmark::State& state) {
  gentrace::Options o;
  o.callback = [](absl::Span<const uint8_t>) { return absl::OkStatus(); };
  o.cpu.enabled = state.range(0) > 0;  // hz:0: tracing, no sampling
  o.cpu.source = gentrace::CpuProfileOptions::Source::kPerfEvent;
  o.cpu.hz = std::max<int>(static_cast<int>(state.range(0)), 1);
  o.cpu.signal_free = state.range(1) != 0;
  if (absl::Status s = gentrace::Start(o); !s.ok()) {
    state.SkipWithError(std::string(s.message()).c_str());
    return;
  }
  gentrace::Log("bench", "register this thread");
  for (auto _ : state) benchmark::DoNotOptimize(Work());
  (void)gentrace::Stop();
  const gentrace::Stats st = gentrace::GetStats();
  state.counters["samples"] = static_cast<double>(st.cpu_samples);
  state.counters["lost"] = static_cast<double>(st.cpu_samples_lost);
}
// Process CPU time: the kernel's work for each sample (signal delivery, or
// writing the ring) and gentrace's reader thread are all in it.
BENCHMARK(BM_WorkloadPerf)
    ->ArgNames({"hz", "ring"})
    ->Args({0, 0})
    ->Args({1000, 0})
    ->Args({1000, 1})
    ->Args({10000, 0})
    ->Args({10000, 1})
    ->MeasureProcessCPUTime();

}  // namespace

BENCHMARK_MAIN();
