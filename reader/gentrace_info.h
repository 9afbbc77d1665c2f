// gentrace's own facts about a generation, decoded from its experimental
// batches (format/gentrace_batch.h): thread names, how CPU samples were
// taken, fiber names. Go's parser keeps these batches and ignores them.
//
// This is the typed accessor for one experiment id; other experiments are
// reached generically through Generation::ExperimentalBatchesOf(id).
#ifndef GENTRACE_READER_GENTRACE_INFO_H_
#define GENTRACE_READER_GENTRACE_INFO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "reader/generation.h"

namespace gentrace::reader {

struct ThreadInfo {
  uint64_t thread = 0;     // M: the OS thread id
  uint64_t proc = 0;       // the thread's P
  uint64_t goroutine = 0;  // the thread's own G
  std::string name;
};

struct SamplerInfo {
  uint8_t source = 0;   // format::SamplerSource
  uint64_t hz = 0;      // samples per CPU-second asked (0: by period)
  uint64_t period = 0;  // CPU ns (timers) or events (hardware counters)
  uint64_t samples_taken = 0;
  uint64_t samples_lost = 0;
  std::string event;  // e.g. "cpu-clock"; empty for timers
};

struct FiberInfo {
  uint64_t goroutine = 0;
  std::string name;
};

// The generation's time span, in ticks (format::kRecordGeneration).
struct GenerationSpan {
  uint64_t start = 0;
  uint64_t end = 0;
};

struct GentraceInfo {
  std::vector<ThreadInfo> threads;
  std::vector<SamplerInfo> samplers;
  std::vector<FiberInfo> fibers;
  std::vector<GenerationSpan> spans;
};

// Decodes every gentrace info batch of `gen` into *info (appending). A
// malformed or unknown record stops the decoding of its batch with an
// error; what was decoded before stays in *info. A generation without such
// batches (any Go program's) decodes to nothing.
absl::Status DecodeGentraceInfo(const Generation& gen, GentraceInfo* info);

// The same for one batch payload.
absl::Status DecodeGentraceInfoBatch(absl::Span<const uint8_t> payload,
                                     GentraceInfo* info);

}  // namespace gentrace::reader

#endif  // GENTRACE_READER_GENTRACE_INFO_H_
