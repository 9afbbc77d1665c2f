// Costs of the flight recorder's ring (./dev bench
// tracer/internal:generation_ring_benchmark):
//
//  * Append throughput (records framed, checksummed, committed) next to a
//    plain memcpy of the same chunks into a buffer of the same size: the
//    floor any ring pays.
//  * Writing a 64 MiB snapshot (WriteTo and the crash path's
//    WriteCrashSnapshot) of a memory ring and of a file-backed ring into a
//    file, next to one write(2) of 64 MiB from memory into such a file.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "format/crc32c.h"
#include "format/header.h"
#include "tracer/internal/generation_ring.h"
#include "tracer/internal/sink.h"

namespace gentrace::internal {
namespace {

std::string TmpPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/gtring-bench-", getpid(),
                      "-", name);
}

const std::string& Chunk(size_t n) {
  static std::string* c = [] {
    auto* s = new std::string(1 << 20, 0);
    for (size_t i = 0; i < s->size(); ++i) (*s)[i] = static_cast<char>(i * 13);
    return s;
  }();
  static std::string view;
  view.assign(c->data(), n);
  return view;
}

absl::Span<const uint8_t> Bytes(const std::string& s) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()),
                             s.size());
}

constexpr uint64_t kRingBytes = 16 << 20;
constexpr int kAppendsPerGeneration = 16;

// The floor: the same chunks copied into a buffer of the ring's size.
void BM_MemcpyFloor(benchmark::State& state) {
  const size_t n = state.range(0);
  std::vector<uint8_t> buf(kRingBytes);
  const std::string& chunk = Chunk(n);
  size_t off = 0;
  for (auto _ : state) {
    if (off + n > buf.size()) off = 0;
    std::memcpy(buf.data() + off, chunk.data(), n);
    benchmark::DoNotOptimize(buf.data());
    off += n;
  }
  state.SetBytesProcessed(state.iterations() * n);
}
BENCHMARK(BM_MemcpyFloor)->Arg(4 << 10)->Arg(64 << 10);

void RingAppend(benchmark::State& state, const std::string& path) {
  const size_t n = state.range(0);
  GenerationRingOptions o;
  o.max_bytes = kRingBytes;
  o.min_age = absl::Hours(1);
  o.file_path = path;
  std::unique_ptr<GenerationRing> ring = *GenerationRing::Create(o);
  const std::string header = format::EncodeHeader(format::Version::kGo123);
  (void)ring->SetHeader(Bytes(header));
  const std::string& chunk = Chunk(n);
  uint64_t gen = 1;
  int k = 0;
  for (auto _ : state) {
    (void)ring->Append(Bytes(chunk));
    if (++k == kAppendsPerGeneration) {
      (void)ring->EndGeneration(gen, gen, gen + 1);
      ++gen;
      k = 0;
    }
  }
  state.SetBytesProcessed(state.iterations() * n);
  state.counters["crc32c_hw"] = format::Crc32cIsHardware();
  if (!path.empty()) unlink(path.c_str());
}

void BM_RingAppendMemory(benchmark::State& state) { RingAppend(state, ""); }
BENCHMARK(BM_RingAppendMemory)->Arg(4 << 10)->Arg(64 << 10);

void BM_RingAppendFile(benchmark::State& state) {
  RingAppend(state, TmpPath("append.gtring"));
}
BENCHMARK(BM_RingAppendFile)->Arg(4 << 10)->Arg(64 << 10);

// ---- 64 MiB snapshots

constexpr uint64_t kSnapshotBytes = 64 << 20;
constexpr size_t kGenerationBytes = 1 << 20;

std::unique_ptr<GenerationRing> FullRing(const std::string& path) {
  GenerationRingOptions o;
  o.max_bytes = kSnapshotBytes + (2 << 20);  // 64 MiB and the framing
  o.min_age = absl::Hours(1);
  o.file_path = path;
  std::unique_ptr<GenerationRing> ring = *GenerationRing::Create(o);
  const std::string header = format::EncodeHeader(format::Version::kGo123);
  (void)ring->SetHeader(Bytes(header));
  const std::string& chunk = Chunk(64 << 10);
  for (uint64_t gen = 1; gen <= kSnapshotBytes / kGenerationBytes; ++gen) {
    for (size_t b = 0; b < kGenerationBytes; b += chunk.size()) {
      (void)ring->Append(Bytes(chunk));
    }
    (void)ring->EndGeneration(gen, gen, gen + 1);
  }
  return ring;
}

int OpenOut(const std::string& path) {
  return open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

void Snapshot(benchmark::State& state, bool file_ring, bool crash_path) {
  const std::string ring_path = file_ring ? TmpPath("snap.gtring") : "";
  std::unique_ptr<GenerationRing> ring = FullRing(ring_path);
  if (ring->stats().bytes_held != kSnapshotBytes) {
    state.SkipWithError("the ring does not hold 64 MiB");
    return;
  }
  const std::string out = TmpPath("snap.trace");
  for (auto _ : state) {
    const int fd = OpenOut(out);
    if (crash_path) {
      CrashSnapshotOptions co;
      const CrashSnapshotResult r = ring->WriteCrashSnapshot(fd, co);
      if (r.bytes < kSnapshotBytes) state.SkipWithError("short snapshot");
    } else {
      std::unique_ptr<Sink> sink = MakeFdSink(fd);
      absl::StatusOr<SnapshotInfo> info = ring->WriteTo(sink.get());
      if (!info.ok() || info->bytes < kSnapshotBytes) {
        state.SkipWithError("short snapshot");
      }
    }
    close(fd);
  }
  state.SetBytesProcessed(state.iterations() * kSnapshotBytes);
  unlink(out.c_str());
  if (!ring_path.empty()) unlink(ring_path.c_str());
}

void BM_Snapshot64MiB_WriteFloor(benchmark::State& state) {
  std::vector<uint8_t> buf(kSnapshotBytes, 1);
  const std::string out = TmpPath("floor.trace");
  for (auto _ : state) {
    const int fd = OpenOut(out);
    size_t off = 0;
    while (off < buf.size()) {
      const ssize_t w = write(fd, buf.data() + off, buf.size() - off);
      if (w <= 0) break;
      off += static_cast<size_t>(w);
    }
    close(fd);
  }
  state.SetBytesProcessed(state.iterations() * kSnapshotBytes);
  unlink(out.c_str());
}
BENCHMARK(BM_Snapshot64MiB_WriteFloor)->Unit(benchmark::kMillisecond);

void BM_Snapshot64MiB_WriteTo_Memory(benchmark::State& state) {
  Snapshot(state, false, false);
}
BENCHMARK(BM_Snapshot64MiB_WriteTo_Memory)->Unit(benchmark::kMillisecond);

void BM_Snapshot64MiB_WriteTo_File(benchmark::State& state) {
  Snapshot(state, true, false);
}
BENCHMARK(BM_Snapshot64MiB_WriteTo_File)->Unit(benchmark::kMillisecond);

void BM_Snapshot64MiB_Crash_Memory(benchmark::State& state) {
  Snapshot(state, false, true);
}
BENCHMARK(BM_Snapshot64MiB_Crash_Memory)->Unit(benchmark::kMillisecond);

void BM_Snapshot64MiB_Crash_File(benchmark::State& state) {
  Snapshot(state, true, true);
}
BENCHMARK(BM_Snapshot64MiB_Crash_File)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace gentrace::internal

BENCHMARK_MAIN();
