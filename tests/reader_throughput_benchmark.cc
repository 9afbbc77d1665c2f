// How fast gentrace's reader reads a trace file, streaming, as a program
// that does nothing else, so that the process's peak RSS is the reader's
// (the suite compares it with Go's parser in `gotool bench`, a process that
// does the same: tests/benchmark_suite.cc).
//
//   reader_throughput_benchmark --trace=FILE [Google Benchmark flags]
//
// BM_ReadFile reads FILE from start to end once an iteration. Counters:
//   events_per_sec   events delivered per second
//   bytes_per_second the file's bytes per second (Google Benchmark's)
//   events           events in the trace
//   peak_rss_bytes   the process's peak resident set size at the end
//                    (getrusage); includes the program itself
//
// (reader/reader_benchmark.cc has more of the reader's figures.)
#include <sys/resource.h>
#include <sys/stat.h>

#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "benchmark/benchmark.h"
#include "reader/reader.h"

namespace {

std::string g_trace;

void BM_ReadFile(benchmark::State& state) {
  struct stat st;
  if (stat(g_trace.c_str(), &st) != 0) {
    state.SkipWithError("cannot stat --trace");
    return;
  }
  uint64_t events = 0, per_read = 0;
  for (auto _ : state) {
    absl::StatusOr<std::unique_ptr<gentrace::reader::Reader>> r =
        gentrace::reader::Reader::Open(g_trace);
    if (!r.ok()) {
      state.SkipWithError(std::string(r.status().message()).c_str());
      return;
    }
    gentrace::reader::Event ev;
    per_read = 0;
    while ((*r)->ReadEvent(&ev)) ++per_read;
    if (!(*r)->status().ok()) {
      state.SkipWithError(std::string((*r)->status().message()).c_str());
      return;
    }
    events += per_read;
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  state.counters["events_per_sec"] = benchmark::Counter(
      static_cast<double>(events), benchmark::Counter::kIsRate);
  state.counters["events"] = static_cast<double>(per_read);
  state.counters["peak_rss_bytes"] = static_cast<double>(ru.ru_maxrss) * 1024;
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          st.st_size);
}
BENCHMARK(BM_ReadFile)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (absl::ConsumePrefix(&a, "--trace=")) g_trace = std::string(a);
  }
  if (g_trace.empty()) {
    std::fprintf(stderr, "usage: %s --trace=FILE [benchmark flags]\n", argv[0]);
    return 2;
  }
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
