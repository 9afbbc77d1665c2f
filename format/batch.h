// Batch framing: the units a trace file is made of after its header.
//
//   EventBatch:        0x01 gen m time size payload[size]
//   ExperimentalBatch: 0x31 exp(raw byte) gen m time size payload[size]
//
// gen, m, time and size are uvarints; size <= kMaxBatchPayload. What an
// EventBatch holds is told by its first payload byte (Strings, Stacks,
// CPUSamples, Frequency, or else thread m's events).
//
// BatchReader is the one reader of this framing: the trace reader, the
// flight recorder and the tools all use it. It reads the way Go's parser
// reads (internal/trace/batch.go readBatch), with Go's error texts.
#ifndef GENTRACE_FORMAT_BATCH_H_
#define GENTRACE_FORMAT_BATCH_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "format/byte_source.h"
#include "format/input.h"
#include "format/spec.h"

namespace gentrace::format {

// What a batch holds. As in Go, only a non-zero experiment id makes a batch
// experimental: an ExperimentalBatch header with id 0 is read as an
// ordinary batch, and an empty batch is an (empty) event batch.
enum class BatchKind : uint8_t {
  kEvents,        // a thread's (or NoThread's) timed events
  kStrings,       // string table
  kStacks,        // stack table
  kCPUSamples,    // CPU profile samples
  kFrequency,     // the generation's clock frequency
  kExperimental,  // opaque data of an experiment
};

struct Batch {
  uint64_t offset = 0;  // input offset of the batch's first byte
  // The batch started with the ExperimentalBatch byte (see kind()).
  bool experimental = false;
  uint8_t experiment = kNoExperiment;
  uint64_t gen = 0;
  uint64_t m = 0;     // thread (M) id; kNoThread for tables
  uint64_t time = 0;  // ticks
  // Valid until the next Next() (over a buffer: as long as the buffer).
  absl::Span<const uint8_t> raw;      // header and payload, as in the input
  absl::Span<const uint8_t> payload;  // the `size` bytes after the header

  BatchKind kind() const;
};

// The most bytes a batch header takes: type, experiment, four varints.
inline constexpr size_t kMaxBatchHeaderSize = 2 + 4 * kMaxVarintLen;

// Writes an EventBatch header with the length field padded to
// kMaxVarintLen bytes, so the length can be patched when the batch is
// complete. Returns the header size; the length field is its last
// kMaxVarintLen bytes. dst must have kMaxBatchHeaderSize bytes.
// Async-signal-safe.
size_t WriteBatchHeader(uint8_t* dst, uint64_t gen, uint64_t m, uint64_t time);
// The same for an ExperimentalBatch of experiment `exp`.
size_t WriteExperimentalBatchHeader(uint8_t* dst, uint8_t exp, uint64_t gen,
                                    uint64_t m, uint64_t time);
// Patches the padded length at the end of a header written above.
// Async-signal-safe.
void PatchBatchSize(uint8_t* header, size_t header_size, uint64_t size);

// Reads a trace as a sequence of batches. No allocation ever depends on an
// unchecked length. Errors are Go's: "expected batch event, got X",
// "error reading batch gen: EOF" (and M ID, timestamp, size; "unexpected
// EOF" inside a varint, "binary: varint overflows a 64-bit integer"),
// "invalid batch size N, maximum is 65536", "failed to read full batch:
// read N but wanted M"; a failed read of the source is passed on.
class BatchReader {
 public:
  // Zero-copy over a buffer that outlives the reader.
  explicit BatchReader(absl::Span<const uint8_t> data) : in_(data) {}
  // Buffered over a source (not owned).
  explicit BatchReader(ByteSource* source) : in_(source) {}

  // Reads and checks the header (format/header.h). Call once, first.
  absl::StatusOr<Version> ReadHeader();

  // Reads the next batch into *batch. Returns false at a clean end of input:
  // between batches, or, as in Go, right after an ExperimentalBatch byte.
  absl::StatusOr<bool> Next(Batch* batch);

  // Bytes consumed so far.
  uint64_t offset() const { return in_.offset(); }

 private:
  Input in_;
};

}  // namespace gentrace::format

#endif  // GENTRACE_FORMAT_BATCH_H_
