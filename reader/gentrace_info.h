// gentrace's own facts about a generation, decoded from its info batches
// (format/gentrace_batch.h): thread names, how CPU samples were taken,
// fiber names, the generation's time span, the loaded modules (where the
// process had each executable and library). Go's parser keeps these batches
// and ignores them.
//
// This is the typed accessor for gentrace's experiment ids; other
// experiments are reached generically through
// Generation::ExperimentalBatchesOf(id).
#ifndef GENTRACE_READER_GENTRACE_INFO_H_
#define GENTRACE_READER_GENTRACE_INFO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "format/gentrace_batch.h"
#include "reader/generation.h"

namespace gentrace::reader {

// The records, as format's codec decodes them.
using ThreadInfo = format::ThreadRecord;
using SamplerInfo = format::SamplerRecord;
using FiberInfo = format::FiberRecord;
using GenerationSpan = format::GenerationRecord;
using EventSamplerInfo = format::EventSamplerRecord;
using EventSampleInfo = format::EventSampleRecord;
using ModuleInfo = format::ModuleRecord;
using GentraceInfo = format::InfoRecords;

// Decodes every gentrace info batch of `gen` (either experiment id) into
// *info, appending. A batch that does not decode (format::DecodeInfoBatch)
// stops at its bad record and the first such error is returned; the other
// batches are still decoded. A generation without such batches (any Go
// program's) decodes to nothing.
absl::Status DecodeGentraceInfo(const Generation& gen, GentraceInfo* info);

// A sample of a secondary perf event (several events at once, signal-free
// mode; format::EventSampleRecord), resolved: the event's name from the
// generation's EventSampler records, the time in nanoseconds like
// CpuSample's, the stack from the generation's stack table. Valid as long
// as the generation's views are.
struct EventSample {
  uint64_t event = 0;  // index; 0 is the primary (a CpuSample instead)
  std::string name;
  int64_t time = 0;
  uint64_t thread = 0;
  uint64_t proc = 0;       // kNoProc if none
  uint64_t goroutine = 0;  // 0 if none
  StackView stack;
};

// Resolves info's event samples (decoded from `gen` by DecodeGentraceInfo)
// into *out, appending, sorted by time. An event index without an
// EventSampler record, or a stack id not in the generation, is an error
// naming the generation and the record; the samples before it stay.
absl::Status ResolveEventSamples(const Generation& gen,
                                 const GentraceInfo& info,
                                 std::vector<EventSample>* out);

}  // namespace gentrace::reader

#endif  // GENTRACE_READER_GENTRACE_INFO_H_
