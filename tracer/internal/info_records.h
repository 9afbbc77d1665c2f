// Writing gentrace's info records (format/gentrace_batch.h) into the
// tracer's table batches: the codec encodes, the table writer supplies the
// room. The advancer (generation span, threads, fibers) and the CPU-sample
// bridge (sampler, gentrace's own threads) write through it, so the wire
// layout has one encoder.
#ifndef GENTRACE_TRACER_INTERNAL_INFO_RECORDS_H_
#define GENTRACE_TRACER_INTERNAL_INFO_RECORDS_H_

#include <cstdint>
#include <cstring>

#include "absl/types/span.h"
#include "format/gentrace_batch.h"
#include "tracer/internal/trace_buf.h"

namespace gentrace::internal {

// Appends the encoding of `r` to the table w writes (an info batch).
template <typename R>
void WriteInfoRecord(const R& r, TableWriter* w) {
  TraceBuf* b = w->Ensure(format::InfoRecordSize(r));
  uint8_t* end = format::EncodeInfoRecord(r, b->cursor());
  b->pos = static_cast<uint32_t>(end - b->data);
}

// Appends a record encoded earlier (kind and length included) to the table
// w writes: the advancer's and the crash path's way to write the module
// list's pre-encoded records. W is TableWriter or the crash path's batches
// (anything with Ensure(n) giving a buffer with room for n bytes). Allocates
// nothing of its own.
template <typename W>
void WriteEncodedInfoRecord(absl::Span<const uint8_t> record, W* w) {
  TraceBuf* b = w->Ensure(record.size());
  std::memcpy(b->cursor(), record.data(), record.size());
  b->pos += static_cast<uint32_t>(record.size());
}

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_INTERNAL_INFO_RECORDS_H_
