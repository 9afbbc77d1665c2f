// gentrace's info batches of a generation; see gentrace_info.h.
#include "reader/gentrace_info.h"

namespace gentrace::reader {

absl::Status DecodeGentraceInfo(const Generation& gen, GentraceInfo* info) {
  absl::Status first;
  for (const ExperimentalBatch& b : gen.experimental_batches()) {
    if (!format::IsGentraceInfoExperiment(b.experiment)) continue;
    absl::Status s = format::DecodeInfoBatch(b.data, info);
    if (first.ok()) first = s;
  }
  return first;
}

}  // namespace gentrace::reader
