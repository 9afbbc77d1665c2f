// Cost of CPU sampling, as ratios taken in the same run:
//  * handler cost: SIGPROF sent to oneself in a loop, with an empty
//    SA_SIGINFO handler versus the Sampler's handler (unwind + a callback
//    that stamps the sample and writes it into a SampleRing), at a 10- and
//    a 30-frame stack. BM_HandlerRatio interleaves the two in one loop and
//    reports empty_ns, ours_ns and their ratio.
//  * sampling overhead: the thread CPU time of a fixed CPU-bound workload
//    with sampling on (100 Hz, 1000 Hz; thread timers, perf cpu-clock, the
//    itimer) versus off, interleaved run by run; reported as overhead_pct.
//
//   ./dev bench //cpusample:sampler_benchmark
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "benchmark/benchmark.h"
#include "cpusample/benchmark_depth.h"
#include "cpusample/fp_unwind.h"
#include "cpusample/sample_ring.h"
#include "cpusample/sampler.h"

namespace gentrace::cpusample {
namespace {

using testing::RunAtTotalDepth;

std::atomic<uint64_t> g_empty_calls{0};
std::atomic<int> g_last_depth{0};

pid_t Tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

uint64_t NowNs(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<uint64_t>(ts.tv_nsec);
}

// The baseline handler. Async-signal-safe.
void EmptyHandler(int, siginfo_t*, void*) {
  g_empty_calls.fetch_add(1, std::memory_order_relaxed);
}

// The callback a tracer would install: stamp, then write into a ring.
// Async-signal-safe.
SampleRing* g_ring = nullptr;
void WriteToRing(const Sample& s, void*) {
  SampleRecord r;
#if defined(__x86_64__)
  r.timestamp = __rdtsc();
#else
  r.timestamp = NowNs(CLOCK_MONOTONIC);
#endif
  r.tid = static_cast<uint64_t>(s.tid);
  r.p = 1;
  r.g = 1;
  r.weight = s.weight;
  r.nframes = static_cast<uint32_t>(s.depth);
  r.tag = static_cast<uint32_t>(s.source);
  g_ring->TryWrite(r, s.pcs);
  g_last_depth.store(s.depth, std::memory_order_relaxed);
}

void Drain() {
  g_ring->Drain([](const SampleRecord&, const uintptr_t*) {});
}

// SIGPROF to oneself the way TriggerSample sends it (SI_QUEUE).
void QueueSigprof(pid_t pid, pid_t tid, uid_t uid) {
  siginfo_t si;
  memset(&si, 0, sizeof(si));
  si.si_signo = SIGPROF;
  si.si_code = SI_QUEUE;
  si.si_pid = pid;
  si.si_uid = uid;
  syscall(SYS_rt_tgsigqueueinfo, pid, tid, SIGPROF, &si);
}

struct sigaction InstallEmpty() {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = EmptyHandler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
  sigaction(SIGPROF, &sa, &old);
  return old;
}

void StartManualSampler(benchmark::State& state) {
  static SampleRing ring(64 << 20);
  g_ring = &ring;
  ring.Reset();
  SamplerOptions o;
  o.source = Source::kManual;
  const absl::Status st = Sampler::Start(o, WriteToRing, nullptr);
  if (!st.ok()) state.SkipWithError(std::string(st.message()).c_str());
  (void)Sampler::AttachCurrentThread();
}

void StopManualSampler() {
  Sampler::DetachCurrentThread();
  Sampler::Stop();
  Drain();
}

// ---- Handler cost -----------------------------------------------------------

void BM_EmptyHandlerTgkill(benchmark::State& state) {
  const struct sigaction old = InstallEmpty();
  const pid_t pid = getpid(), tid = Tid();
  for (auto _ : state) syscall(SYS_tgkill, pid, tid, SIGPROF);
  sigaction(SIGPROF, &old, nullptr);
}
BENCHMARK(BM_EmptyHandlerTgkill);

void BM_EmptyHandlerQueued(benchmark::State& state) {
  const struct sigaction old = InstallEmpty();
  const pid_t pid = getpid(), tid = Tid();
  const uid_t uid = getuid();
  for (auto _ : state) QueueSigprof(pid, tid, uid);
  sigaction(SIGPROF, &old, nullptr);
}
BENCHMARK(BM_EmptyHandlerQueued);

void BM_SamplerHandler(benchmark::State& state) {
  StartManualSampler(state);
  RunAtTotalDepth(static_cast<int>(state.range(0)), [&] {
    int n = 0;
    for (auto _ : state) {
      Sampler::TriggerSample();
      if (++n % 8192 == 0) {
        state.PauseTiming();
        Drain();
        state.ResumeTiming();
      }
    }
  });
  state.counters["frames"] = g_last_depth.load();
  StopManualSampler();
}
BENCHMARK(BM_SamplerHandler)->Arg(10)->Arg(30);

// Both handlers in one loop, alternating batches, so that the machine's
// drift hits both alike: empty_ns and ours_ns per signal, and the ratio.
void BM_HandlerRatio(benchmark::State& state) {
  StartManualSampler(state);
  struct sigaction ours;
  sigaction(SIGPROF, nullptr, &ours);
  const pid_t pid = getpid(), tid = Tid();
  const uid_t uid = getuid();
  constexpr int kBatch = 256;
  uint64_t empty_ns = 0, ours_ns = 0, batches = 0;
  RunAtTotalDepth(static_cast<int>(state.range(0)), [&] {
    for (auto _ : state) {
      // Thread CPU time: signal delivery and the handler run on this
      // thread, and time other processes take from it does not count.
      struct sigaction saved = InstallEmpty();
      uint64_t t0 = NowNs(CLOCK_THREAD_CPUTIME_ID);
      for (int i = 0; i < kBatch; ++i) QueueSigprof(pid, tid, uid);
      uint64_t t1 = NowNs(CLOCK_THREAD_CPUTIME_ID);
      empty_ns += t1 - t0;
      sigaction(SIGPROF, &saved, nullptr);
      t0 = NowNs(CLOCK_THREAD_CPUTIME_ID);
      for (int i = 0; i < kBatch; ++i) Sampler::TriggerSample();
      t1 = NowNs(CLOCK_THREAD_CPUTIME_ID);
      ours_ns += t1 - t0;
      ++batches;
      Drain();
    }
  });
  state.counters["frames"] = g_last_depth.load();
  const double n = static_cast<double>(batches) * kBatch;
  state.counters["empty_ns"] = static_cast<double>(empty_ns) / n;
  state.counters["ours_ns"] = static_cast<double>(ours_ns) / n;
  state.counters["ratio"] =
      static_cast<double>(ours_ns) / static_cast<double>(empty_ns);
  StopManualSampler();
}
BENCHMARK(BM_HandlerRatio)->Arg(10)->Arg(30)->Iterations(2000);

// ---- Sampling overhead ------------------------------------------------------

// A fixed amount of CPU-bound work (about 50 ms here). noipa: the compiler
// must not see that two calls compute the same value.
__attribute__((noipa)) uint64_t Workload() {
  uint64_t x = 1;
  for (int i = 0; i < 20000000; ++i) {
    x = x * 6364136223846793005u + static_cast<uint64_t>(i);
    x ^= x >> 29;
  }
  return x;
}

void BM_SamplingOverhead(benchmark::State& state) {
  static SampleRing ring(64 << 20);
  g_ring = &ring;
  SamplerOptions o;
  o.source = static_cast<Source>(state.range(0));
  o.hz = static_cast<int>(state.range(1));
  o.sample_unattached_threads = o.source == Source::kProcessTimer;
  (void)Sampler::AttachCurrentThread();
  uint64_t off_ns = 0, on_ns = 0, samples = 0;
  for (auto _ : state) {
    uint64_t t0 = NowNs(CLOCK_THREAD_CPUTIME_ID);
    benchmark::DoNotOptimize(Workload());
    off_ns += NowNs(CLOCK_THREAD_CPUTIME_ID) - t0;
    const absl::Status st = Sampler::Start(o, WriteToRing, nullptr);
    if (!st.ok()) {
      state.SkipWithError(std::string(st.message()).c_str());
      break;
    }
    t0 = NowNs(CLOCK_THREAD_CPUTIME_ID);
    benchmark::DoNotOptimize(Workload());
    on_ns += NowNs(CLOCK_THREAD_CPUTIME_ID) - t0;
    Sampler::Stop();
    const SamplerStats s = Sampler::stats();
    for (uint64_t n : s.samples) samples += n;
    Drain();
  }
  Sampler::DetachCurrentThread();
  state.counters["off_ms"] = static_cast<double>(off_ns) / 1e6 /
                             static_cast<double>(state.iterations());
  state.counters["on_ms"] = static_cast<double>(on_ns) / 1e6 /
                            static_cast<double>(state.iterations());
  state.counters["overhead_pct"] =
      (static_cast<double>(on_ns) / static_cast<double>(off_ns) - 1) * 100;
  state.counters["samples_per_s"] =
      static_cast<double>(samples) / (static_cast<double>(on_ns) / 1e9);
}
BENCHMARK(BM_SamplingOverhead)
    ->ArgNames({"source", "hz"})
    ->Args({static_cast<int>(Source::kThreadTimer), 100})
    ->Args({static_cast<int>(Source::kThreadTimer), 1000})
    ->Args({static_cast<int>(Source::kPerfEvent), 100})
    ->Args({static_cast<int>(Source::kPerfEvent), 1000})
    ->Args({static_cast<int>(Source::kProcessTimer), 100})
    ->Iterations(40)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace gentrace::cpusample
