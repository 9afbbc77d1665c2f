// What the flight recorder costs (Google Benchmark; docs/FLIGHT_RECORDER.md
// lists the results), compared in one run:
//   BM_Event/<destination>  steady-state cost of one traced event (a Log)
//                           into a callback that only counts bytes, a file,
//                           or the flight recorder's ring
//   BM_Snapshot64MiB        FlightRecorder::WriteTo of a ring holding about
//                           64 MiB, into a file
//
// Run: ./dev bench //tracer:flight_recorder_benchmark
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tracer/gentrace.h"

namespace {

enum Destination { kCallback, kFile, kRecorder };

std::string TempFile(const char* name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/gentrace-bench-" +
         std::to_string(getpid()) + "-" + name;
}

void BM_Event(benchmark::State& state) {
  const auto where = static_cast<Destination>(state.range(0));
  std::atomic<uint64_t> bytes{0};
  gentrace::FlightRecorderOptions fo;
  fo.max_bytes = 64 << 20;
  gentrace::FlightRecorder recorder(fo);
  const std::string path = TempFile("event.trace");
  absl::Status s;
  if (where == kRecorder) {
    s = recorder.Start();
  } else {
    gentrace::Options o;
    if (where == kFile) {
      o.path = path;
    } else {
      o.callback = [&bytes](absl::Span<const uint8_t> b) {
        bytes.fetch_add(b.size(), std::memory_order_relaxed);
        return absl::OkStatus();
      };
    }
    s = gentrace::Start(o);
  }
  if (!s.ok()) {
    state.SkipWithError(s.ToString().c_str());
    return;
  }
  for (auto _ : state) {
    gentrace::Log("bench", "event");
  }
  state.counters["ns_per_event"] = benchmark::Counter(
      static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  if (where == kRecorder) {
    (void)recorder.Stop();
  } else {
    (void)gentrace::Stop();
  }
  unlink(path.c_str());
}
BENCHMARK(BM_Event)
    ->Arg(kCallback)
    ->Arg(kFile)
    ->Arg(kRecorder)
    ->ArgName("callback0_file1_recorder2")
    ->UseRealTime();

void BM_Snapshot64MiB(benchmark::State& state) {
  gentrace::FlightRecorderOptions fo;
  fo.max_bytes = 96 << 20;
  fo.min_age = absl::Hours(1);
  fo.generation_period = absl::Seconds(100);
  gentrace::FlightRecorder recorder(fo);
  if (absl::Status s = recorder.Start(); !s.ok()) {
    state.SkipWithError(s.ToString().c_str());
    return;
  }
  // About 64 MiB of logs, in generations of about 8 MiB.
  const std::string text(1000, 'x');
  const std::string path = TempFile("snapshot.trace");
  for (int g = 0; g < 8; ++g) {
    for (int i = 0; i < 8 * 1024; ++i) gentrace::Log("fill", text);
    if (absl::StatusOr<uint64_t> n = recorder.WriteTo(path); !n.ok()) {
      state.SkipWithError(n.status().ToString().c_str());
      return;
    }
  }
  uint64_t bytes = 0;
  for (auto _ : state) {
    absl::StatusOr<uint64_t> n = recorder.WriteTo(path);
    if (!n.ok()) {
      state.SkipWithError(n.status().ToString().c_str());
      break;
    }
    bytes = *n;
  }
  state.counters["snapshot_MiB"] = static_cast<double>(bytes) / (1 << 20);
  state.SetBytesProcessed(static_cast<int64_t>(bytes) *
                          static_cast<int64_t>(state.iterations()));
  (void)recorder.Stop();
  unlink(path.c_str());
}
BENCHMARK(BM_Snapshot64MiB)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
