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

#include "absl/status/status.h"
#include "format/gentrace_batch.h"
#include "reader/generation.h"

namespace gentrace::reader {

// The records, as format's codec decodes them.
using ThreadInfo = format::ThreadRecord;
using SamplerInfo = format::SamplerRecord;
using FiberInfo = format::FiberRecord;
using GenerationSpan = format::GenerationRecord;
using ModuleInfo = format::ModuleRecord;
using GentraceInfo = format::InfoRecords;

// Decodes every gentrace info batch of `gen` (either experiment id) into
// *info, appending. A batch that does not decode (format::DecodeInfoBatch)
// stops at its bad record and the first such error is returned; the other
// batches are still decoded. A generation without such batches (any Go
// program's) decodes to nothing.
absl::Status DecodeGentraceInfo(const Generation& gen, GentraceInfo* info);

}  // namespace gentrace::reader

#endif  // GENTRACE_READER_GENTRACE_INFO_H_
