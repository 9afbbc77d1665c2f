// A stand-in for a binary tagged "benchmark_suite" (an extra of ./dev
// bench), for benchmark_suite_test: one benchmark with a per-event counter
// and its floor (X and X_Floor), and one timed per iteration.
#include <benchmark/benchmark.h>

#include <atomic>

namespace {

std::atomic<uint64_t> sink{0};

void BM_ExtraEvent(benchmark::State& state) {
  for (auto _ : state) sink.fetch_add(1, std::memory_order_seq_cst);
  state.counters["ns_per_event"] = benchmark::Counter(
      static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ExtraEvent);

void BM_ExtraEvent_Floor(benchmark::State& state) {
  for (auto _ : state) sink.fetch_add(1, std::memory_order_relaxed);
  state.counters["ns_per_event"] = benchmark::Counter(
      static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ExtraEvent_Floor);

void BM_ExtraIteration(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(sink.load());
}
BENCHMARK(BM_ExtraIteration);

}  // namespace

BENCHMARK_MAIN();
