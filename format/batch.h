// Batch framing: the units a trace file is made of after its header.
//
//   EventBatch:        0x01 gen m time size payload[size]
//   ExperimentalBatch: 0x31 exp(raw byte) gen m time size payload[size]
//
// gen, m, time and size are uvarints; size <= kMaxBatchPayload. What an
// EventBatch holds is told by its first payload byte (Strings, Stacks,
// CPUSamples, Frequency, or else thread m's events).
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

enum class BatchKind : uint8_t {
  kEvents,        // a thread's (or NoThread's) timed events
  kStrings,       // string table
  kStacks,        // stack table
  kCPUSamples,    // CPU profile samples
  kFrequency,     // the generation's clock frequency
  kExperimental,  // ExperimentalBatch: opaque data of an experiment
  kEmpty,         // an EventBatch with no payload (Go skips these)
};

struct Batch {
  uint64_t offset = 0;  // input offset of the batch's first byte
  bool experimental = false;
  uint8_t experiment = kNoExperiment;
  uint64_t gen = 0;
  uint64_t m = 0;
  uint64_t time = 0;
  absl::Span<const uint8_t> payload;  // valid until the next Next()

  BatchKind kind() const;
};

// The most bytes a batch header takes: type, experiment, three varints and
// the length.
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

// Reads a trace as a sequence of batches. Malformed or truncated input gives
// an error naming the byte offset and what was expected; no allocation ever
// depends on an unchecked length.
class BatchReader {
 public:
  // Zero-copy over a buffer that outlives the reader.
  explicit BatchReader(absl::Span<const uint8_t> data) : in_(data) {}
  // Buffered over a source (not owned).
  explicit BatchReader(ByteSource* source) : in_(source) {}

  // Reads and checks the 16-byte header. Call once, first.
  absl::StatusOr<Version> ReadHeader();

  // Reads the next batch into *batch. Returns false at a clean end of input
  // (between batches).
  absl::StatusOr<bool> Next(Batch* batch);

  // Bytes consumed so far.
  uint64_t offset() const { return in_.offset(); }

 private:
  Input in_;
};

}  // namespace gentrace::format

#endif  // GENTRACE_FORMAT_BATCH_H_
