// How fast the reader reads, and how much memory it holds, compared with Go's
// own parser on the same trace in the same run.
//
// The trace: --trace=FILE, else $GENTRACE_BENCH_TRACE, else a real Go trace
// made once by tests/data/go/programs/bench (about 3M events over several
// generations; needs Go, see below) and cached in $TMPDIR, else a synthetic
// trace of the same size (reader/synthetic_trace.h).
//
// Benchmarks:
//   BM_ReadBuffer   events from memory (zero-copy); events/s
//   BM_ReadFile     events from the file (streaming); events/s, peak reader
//                   memory and RSS growth against the largest generation,
//                   events in the trace, and the process's peak RSS
//                   (getrusage; ./dev bench runs BM_ReadFile alone and
//                   compares it with Go's parser in `gotool bench`, a
//                   process that reads the same way)
//   BM_ReaderVsGo   best full reads by us and by Go's parser (gotool
//                   bench, a subprocess), alternating, as counters:
//                   ours_events_per_sec, go_events_per_sec, speedup
//
// Go: GENTRACE_GOROOT (or /usr/lib/go-1.23) for making the trace, and the
// Go reference tool (GENTRACE_GOTOOL, or built with tests/go/build.sh when
// run from the repository root, as ./dev bench does).
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "benchmark/benchmark.h"
#include "reader/reader.h"
#include "reader/synthetic_trace.h"
#include "tests/reader_conformance/conformance_util.h"

namespace gentrace::reader {
namespace {

std::string g_trace;   // the trace file
std::string g_data;    // its bytes
std::string g_gotool;  // Go's reference tool, if any
std::string g_origin;  // where the trace came from

long RssBytes() {
  std::ifstream f("/proc/self/statm");
  long pages_total = 0, pages_resident = 0;
  f >> pages_total >> pages_resident;
  return pages_resident * sysconf(_SC_PAGESIZE);
}

// Makes (or reuses) a real Go trace with the bench program.
std::string MakeGoTrace() {
  const std::string goroot = conformance::GoRoot();
  const std::string src = "tests/data/go/programs/bench/main.go";
  if (goroot.empty() || access(src.c_str(), R_OK) != 0) return "";
  const char* tmp = std::getenv("TMPDIR");
  const std::string dir = absl::StrCat(tmp ? tmp : "/tmp", "/gentrace-bench");
  const std::string trace = dir + "/go-bench-1000000.trace";
  if (access(trace.c_str(), R_OK) == 0) return trace;
  std::system(absl::StrCat("mkdir -p ", dir).c_str());
  const std::vector<std::string> env =
      conformance::GoEnv({"GODEBUG=traceadvanceperiod=100000000"});
  absl::StatusOr<conformance::ProcessOutput> b = conformance::RunProgram(
      {goroot + "/bin/go", "build", "-o", dir + "/bench", src}, env);
  if (!b.ok() || b->exit_code != 0) return "";
  absl::StatusOr<conformance::ProcessOutput> r =
      conformance::RunProgram({dir + "/bench", trace + ".tmp", "1000000"}, env);
  if (!r.ok() || r->exit_code != 0) return "";
  if (rename((trace + ".tmp").c_str(), trace.c_str()) != 0) return "";
  return trace;
}

std::string FindGoTool() {
  if (const char* t = std::getenv("GENTRACE_GOTOOL")) return t;
  if (access("tests/go/build.sh", R_OK) != 0) return "";
  absl::StatusOr<conformance::ProcessOutput> r =
      conformance::RunProgram({"/bin/bash", "tests/go/build.sh"});
  if (!r.ok() || r->exit_code != 0) return "";
  // The path is the last line of the output.
  std::string out(absl::StripTrailingAsciiWhitespace(r->output));
  return out.substr(out.rfind('\n') + 1);
}

// The trace's bytes, read on first use (BM_ReadBuffer), so that a run of
// BM_ReadFile alone holds no copy and its peak RSS is the reader's.
absl::Span<const uint8_t> Data() {
  if (g_data.empty()) g_data = gentrace::conformance::ReadFile(g_trace);
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(g_data.data()),
                             g_data.size());
}

// One full read; returns the number of events.
uint64_t ReadAll(Reader* r) {
  Event ev;
  uint64_t n = 0;
  while (r->ReadEvent(&ev)) ++n;
  if (!r->status().ok()) {
    std::fprintf(stderr, "read error: %s\n",
                 std::string(r->status().message()).c_str());
  }
  return n;
}

void BM_ReadBuffer(benchmark::State& state) {
  uint64_t events = 0;
  for (auto _ : state) {
    std::unique_ptr<Reader> r = *Reader::FromBuffer(Data());
    events += ReadAll(r.get());
  }
  state.counters["events_per_sec"] = benchmark::Counter(
      static_cast<double>(events), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          Data().size());
}
BENCHMARK(BM_ReadBuffer)->Unit(benchmark::kMillisecond);

void BM_ReadFile(benchmark::State& state) {
  struct stat st;
  if (stat(g_trace.c_str(), &st) != 0) {
    state.SkipWithError("cannot stat the trace");
    return;
  }
  uint64_t events = 0, per_read = 0;
  size_t peak = 0, largest = 0;
  long rss_growth = 0;
  for (auto _ : state) {
    const long rss0 = RssBytes();
    absl::StatusOr<std::unique_ptr<Reader>> opened = Reader::Open(g_trace);
    if (!opened.ok()) {
      state.SkipWithError(std::string(opened.status().message()).c_str());
      return;
    }
    Reader* r = opened->get();
    Event ev;
    per_read = 0;
    while (r->ReadEvent(&ev)) {
      ++per_read;
      if (ev.kind() == EventKind::kSync) {
        // The generation is complete and still held: its peak.
        peak = std::max(peak, r->MemoryUsage());
        largest = std::max<size_t>(largest, r->generation()->size_bytes());
        rss_growth = std::max(rss_growth, RssBytes() - rss0);
      }
    }
    if (!r->status().ok()) {
      state.SkipWithError(std::string(r->status().message()).c_str());
      return;
    }
    events += per_read;
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  state.counters["events"] = static_cast<double>(per_read);
  state.counters["peak_rss_bytes"] = static_cast<double>(ru.ru_maxrss) * 1024;
  state.counters["events_per_sec"] = benchmark::Counter(
      static_cast<double>(events), benchmark::Counter::kIsRate);
  state.counters["peak_reader_bytes"] = static_cast<double>(peak);
  state.counters["largest_generation_bytes"] = static_cast<double>(largest);
  state.counters["peak_over_largest_gen"] =
      largest ? static_cast<double>(peak) / largest : 0;
  state.counters["rss_growth_bytes"] = static_cast<double>(rss_growth);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          st.st_size);
}
BENCHMARK(BM_ReadFile)->Unit(benchmark::kMillisecond);

// Best full read of the file by us, in seconds, over `runs` reads.
double BestOursSeconds(int runs, uint64_t* events) {
  double best = 1e100;
  for (int i = 0; i < runs; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    std::unique_ptr<Reader> r = *Reader::Open(g_trace);
    *events = ReadAll(r.get());
    best = std::min(best, std::chrono::duration<double>(
                              std::chrono::steady_clock::now() - t0)
                              .count());
  }
  return best;
}

// A field of gotool bench's JSON line, or 0.
double JsonField(const std::string& json, absl::string_view name) {
  const std::string key = absl::StrCat("\"", name, "\":");
  size_t p = json.find(key);
  double v = 0;
  if (p != std::string::npos) {
    p += key.size();
    size_t q = json.find_first_of(",}", p);
    (void)absl::SimpleAtod(json.substr(p, q - p), &v);
  }
  return v;
}

void BM_ReaderVsGo(benchmark::State& state) {
  if (g_gotool.empty()) g_gotool = FindGoTool();
  for (auto _ : state) {
    // The machine may be shared: alternate the two readers for a few rounds
    // and keep the best of each (both read the file the same way, best of
    // several full reads, wall time).
    uint64_t events = 0;
    double ours = 0, go = 0, go_heap = 0;
    for (int round = 0; round < 3; ++round) {
      ours = std::max(ours, events / BestOursSeconds(3, &events));
      ours = std::max(ours, events / BestOursSeconds(1, &events));
      if (g_gotool.empty()) continue;
      absl::StatusOr<conformance::ProcessOutput> r =
          conformance::RunProgram({g_gotool, "bench", "-n", "3", g_trace});
      if (!r.ok() || r->exit_code != 0) {
        state.SkipWithError("gotool bench failed");
        return;
      }
      go = std::max(go, JsonField(r->output, "events_per_sec"));
      go_heap =
          std::max(go_heap, JsonField(r->output, "heap_inuse_peak_bytes"));
    }
    state.counters["ours_events_per_sec"] = ours;
    if (g_gotool.empty()) {
      state.SetLabel("Go tool not found: no comparison");
      continue;
    }
    state.counters["go_events_per_sec"] = go;
    state.counters["speedup"] = go > 0 ? ours / go : 0;
    state.counters["go_heap_inuse_peak_bytes"] = go_heap;
  }
}
BENCHMARK(BM_ReaderVsGo)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace gentrace::reader

int main(int argc, char** argv) {
  using namespace gentrace::reader;
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (absl::ConsumePrefix(&a, "--trace=")) g_trace = std::string(a);
  }
  if (g_trace.empty()) {
    if (const char* t = std::getenv("GENTRACE_BENCH_TRACE")) g_trace = t;
  }
  if (!g_trace.empty()) {
    g_origin = "given";
  } else if (!(g_trace = MakeGoTrace()).empty()) {
    g_origin = "Go program tests/data/go/programs/bench";
  } else {
    SyntheticTraceOptions o;
    o.threads = 8;
    o.generations = 6;
    o.rounds_per_generation = 7000;  // about 3M events
    const char* tmp = std::getenv("TMPDIR");
    g_trace = absl::StrCat(tmp ? tmp : "/tmp", "/gentrace-synthetic-", getpid(),
                           ".trace");
    gentrace::conformance::WriteFile(g_trace, SyntheticTrace(o));
    g_origin = "synthetic";
  }
  std::fprintf(stderr, "trace: %s (%s)\n", g_trace.c_str(), g_origin.c_str());
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  if (g_origin == "synthetic") unlink(g_trace.c_str());
  return 0;
}
